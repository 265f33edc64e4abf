"""Overhead of emoctl on a LAM-layout model, and the parameters it adds at LAM-20K's size.

Times ``model(...)`` (encoder + 10-layer joint transformer + animation + splat) of a scaled
LAM-layout model unwrapped, wrapped-and-disabled, and wrapped with an emotion, interleaved in
the same run, and prints the medians as ratios against the unwrapped model. The hooks' own cost
is a fixed amount per call, smaller than the drift of a multi-second forward on shared cores, so
it is also timed on a tiny model and expressed as a fraction of the scaled forward. Then counts
the modulator parameters for LAM-20K's real dimensions (token width 1024, 10 layers, 558M
parameters).

    python benchmarks/overhead.py [--rounds 9] [--threads 2] [--mode concat|gated]

Targets (issue 2): disabled <= 1.005x, with emotion <= 1.02x, added parameters <= 2% of LAM-20K.
"""

from __future__ import annotations

import argparse
import statistics
import time

import torch

import emoctl
from emoctl.testing.lam_layout import LAMLayoutConfig, LAMLayoutModel, make_inputs

LAM20K_PARAMETERS = 558e6


def time_call(fn, repeats: int) -> float:
    start = time.perf_counter()
    for _ in range(repeats):
        fn()
    return (time.perf_counter() - start) / repeats


def interleaved_medians(model, ctl, run, rounds: int, repeats: int) -> dict[str, float]:
    """Median seconds per call of ``run`` unwrapped / wrapped-disabled / wrapped-with-emotion,
    interleaved round by round (rotating the order) so drift hits all three alike."""

    def unwrapped():
        emoctl.unwrap(model)
        try:
            return time_call(run, repeats)
        finally:
            ctl._attach()

    def disabled():
        with ctl.disabled():
            return time_call(run, repeats)

    def happy():
        with ctl.emotion("happy"):
            return time_call(run, repeats)

    samples = {"unwrapped": [], "wrapped, disabled": [], "wrapped, emotion": []}
    variants = list(zip(samples, (unwrapped, disabled, happy)))
    for r in range(rounds):
        for name, fn in variants[r % 3:] + variants[: r % 3]:
            samples[name].append(fn())
    return {name: statistics.median(values) for name, values in samples.items()}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--rounds", type=int, default=9)
    ap.add_argument("--repeats", type=int, default=2, help="calls per timing sample")
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--frames", type=int, default=4)
    ap.add_argument("--mode", choices=["concat", "gated"], default="concat")
    args = ap.parse_args()
    torch.set_num_threads(args.threads)

    cfg = LAMLayoutConfig(width=256, cond_dim=256, layers=10, heads=8, num_points=4096, image_size=192, patch=8, render_size=16)
    model = LAMLayoutModel(cfg).eval()
    inputs = make_inputs(cfg, batch=1, frames=args.frames)
    print(f"LAM-layout model: {cfg.layers} layers, width {cfg.width}, {cfg.num_points} query tokens, "
          f"{(cfg.image_size // cfg.patch) ** 2} image tokens, {sum(p.numel() for p in model.parameters()) / 1e6:.1f}M "
          f"parameters; {args.frames} frames; {args.threads} threads; appearance mode {args.mode}")

    def run():
        with torch.no_grad():
            model(*inputs)

    ctl = emoctl.wrap(model, emotions=7, appearance_mode=args.mode)
    for _ in range(2):
        run()  # warm-up
    medians = interleaved_medians(model, ctl, run, args.rounds, args.repeats)
    base = medians["unwrapped"]
    print(f"\n{'variant':<20} {'median ms':>10} {'ratio':>8}   (target)")
    targets = {"unwrapped": "", "wrapped, disabled": "<= 1.005", "wrapped, emotion": "<= 1.02"}
    for name, med in medians.items():
        print(f"{name:<20} {med * 1e3:>10.2f} {med / base:>8.4f}   {targets[name]}")

    tiny_cfg = LAMLayoutConfig(width=32, cond_dim=32, layers=2, heads=2, num_points=64, image_size=16, patch=8, render_size=4)
    tiny = LAMLayoutModel(tiny_cfg).eval()
    tiny_inputs = make_inputs(tiny_cfg, batch=1, frames=args.frames)
    tiny_ctl = emoctl.wrap(tiny, emotions=7, appearance_mode=args.mode, geometry_layers=1, geometry_dim=32, emotion_dim=16)

    def tiny_run():
        with torch.no_grad():
            tiny(*tiny_inputs)

    for _ in range(20):
        tiny_run()
    t = interleaved_medians(tiny, tiny_ctl, tiny_run, rounds=15, repeats=100)
    hook_off = t["wrapped, disabled"] - t["unwrapped"]
    print(f"\nhook cost per call, timed on a tiny LAM-layout model ({t['unwrapped'] * 1e6:.0f} us per forward):")
    print(f"  disabled: {hook_off * 1e6:+.1f} us per call = {hook_off / base:.2e} of the scaled forward above "
          f"-> disabled ratio {1 + hook_off / base:.5f} (target <= 1.005)")
    print(f"  with an emotion (tiny modulators running): {(t['wrapped, emotion'] - t['unwrapped']) * 1e6:+.0f} us per call")

    print("\nAdded parameters at LAM-20K's dimensions (token width 1024, 10 layers, 558M parameters):")
    for mode in ("concat", "gated"):
        mods = emoctl.EmotionModulators(emotions=7, token_dim=1024, appearance_mode=mode, gate_layers=10 if mode == "gated" else 0)
        parts = {name: sum(p.numel() for p in m.parameters()) for name, m in mods.part_modules().items()}
        total = sum(parts.values())
        detail = ", ".join(f"{k} {v:,}" for k, v in parts.items())
        print(f"  {mode:<7} {total:,} = {100 * total / LAM20K_PARAMETERS:.3f}% of LAM-20K   ({detail})   target <= 2%")


if __name__ == "__main__":
    main()
