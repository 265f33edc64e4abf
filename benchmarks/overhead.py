"""Overhead of emoctl on a LAM-layout model, and the parameters it adds at LAM-20K's size.

Times ``model(...)`` (encoder + 10-layer joint transformer + animation + splat) of a scaled
LAM-layout model unwrapped, wrapped-and-disabled, and wrapped with an emotion, interleaved in
the same run, and prints the medians as ratios against the unwrapped model. Then counts the
modulator parameters for LAM-20K's real dimensions (token width 1024, 10 layers, 558M
parameters).

    python benchmarks/overhead.py [--rounds 15] [--threads 2] [--mode concat|gated]

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


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--rounds", type=int, default=15)
    ap.add_argument("--repeats", type=int, default=2, help="calls per timing sample")
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--frames", type=int, default=4)
    ap.add_argument("--mode", choices=["concat", "gated"], default="concat")
    args = ap.parse_args()
    torch.set_num_threads(args.threads)

    cfg = LAMLayoutConfig(width=256, cond_dim=256, layers=10, heads=8, num_points=4096, image_size=192, patch=8, render_size=16)
    model = LAMLayoutModel(cfg).eval()
    inputs = make_inputs(cfg, batch=1, frames=args.frames)
    n_backbone = sum(p.numel() for p in model.parameters())
    print(f"LAM-layout model: {cfg.layers} layers, width {cfg.width}, {cfg.num_points} query tokens, "
          f"{(cfg.image_size // cfg.patch) ** 2} image tokens, {n_backbone / 1e6:.1f}M parameters; "
          f"{args.frames} frames; {args.threads} threads; appearance mode {args.mode}")

    def run():
        with torch.no_grad():
            model(*inputs)

    for _ in range(2):
        run()  # warm-up
    ctl = emoctl.wrap(model, emotions=7, appearance_mode=args.mode)
    for _ in range(2):
        run()

    def unwrapped():
        emoctl.unwrap(model)
        try:
            return time_call(run, args.repeats)
        finally:
            ctl._attach()

    def disabled():
        with ctl.disabled():
            return time_call(run, args.repeats)

    def happy():
        with ctl.emotion("happy"):
            return time_call(run, args.repeats)

    samples = {"unwrapped": [], "wrapped, disabled": [], "wrapped, emotion": []}
    variants = list(zip(samples, (unwrapped, disabled, happy)))
    for r in range(args.rounds):
        order = variants[r % 3:] + variants[: r % 3]  # rotate to spread drift evenly
        for name, fn in order:
            samples[name].append(fn())
    base = statistics.median(samples["unwrapped"])
    print(f"\n{'variant':<20} {'median ms':>10} {'ratio':>8}   (target)")
    targets = {"unwrapped": "", "wrapped, disabled": "<= 1.005", "wrapped, emotion": "<= 1.02"}
    for name, values in samples.items():
        med = statistics.median(values)
        print(f"{name:<20} {med * 1e3:>10.2f} {med / base:>8.4f}   {targets[name]}")

    print("\nAdded parameters at LAM-20K's dimensions (token width 1024, 10 layers, 558M parameters):")
    for mode in ("concat", "gated"):
        mods = emoctl.EmotionModulators(
            emotions=7, token_dim=1024, appearance_mode=mode, gate_layers=10 if mode == "gated" else 0
        )
        parts = {name: sum(p.numel() for p in m.parameters()) for name, m in mods.part_modules().items()}
        total = sum(parts.values())
        detail = ", ".join(f"{k} {v / 1e6:.3f}M" for k, v in parts.items())
        print(f"  {mode:<7} {total / 1e6:.3f}M = {100 * total / LAM20K_PARAMETERS:.3f}% of LAM-20K   ({detail})   target <= 2%")


if __name__ == "__main__":
    main()
