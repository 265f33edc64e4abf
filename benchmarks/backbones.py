"""Reference backbones on CPU: avatar build time, animate+render speed, emoctl's overhead on them,
the overhead at LAM-20K's real dimensions, per-frame appearance error, and training throughput.

    python benchmarks/backbones.py [--threads 2] [--rounds 7] [--skip-full-scale] [--full-scale-layers 1]

Backbones: the shipped ``lam-ref`` / ``uv-ref`` when they are built (else freshly initialised
default configs, said so in the output). Sections:

1. build time (one reference image) and animate+render frames/s at 128^2 and 256^2;
2. wrapped vs unwrapped ``infer_single_view`` (4 frames, 128^2), interleaved in one run, for the
   ``concat`` and ``gated`` appearance modes: disabled <= 1.005x, with an emotion <= 1.02x;
3. LAM-20K's dimensions (width 1024, 16 heads, 19,687 points = the synthetic head subdivided
   once, 1,296 image tokens = 504^2 / 14^2; random weights): encoder + transformer wrapped vs
   unwrapped. A 10-layer forward is ~20 TFLOP (minutes per call on 2 cores), so
   ``--full-scale-layers`` layers are timed (the emotion tokens add the same fraction of tokens
   to every layer, so the ratio per layer is the ratio of the whole transformer);
4. per-frame appearance: a neutral -> happy -> sad curve over 16 frames, keyframe avatars blended
   per frame (:func:`emoctl.backbones.emotion_avatar.build_emotion_avatar`) vs the transformer at
   every frame's own emotion: attribute and render error, and the time of both;
5. training throughput (samples/s) and peak memory, a few steps of each backbone's training step
   (batch 4, 4 rendered frames per sample, 128^2).
"""

from __future__ import annotations

import argparse
import copy
import platform
import resource
import statistics
import time

import torch

import emoctl
from emoctl.backbones import build
from emoctl.synthetic.cameras import default_rig
from overhead import interleaved_medians, time_call


def load_backbone(arch: str):
    name = f"{arch}-ref"
    try:
        from emoctl.backbones.hub import load

        return load(name), f"shipped {name}"
    except Exception as exc:  # not built yet: a fresh default model
        return build({"arch": arch}), f"fresh default {arch} (shipped weights unavailable: {type(exc).__name__})"


def inputs(model, batch: int, frames: int, size: int, seed: int = 0):
    g = torch.Generator().manual_seed(seed)
    rig = default_rig(3, size)
    views = torch.arange(frames) % 3
    c2w = rig.c2w.float()[views].expand(batch, frames, 4, 4).contiguous()
    k = rig.K.float()[views].expand(batch, frames, 3, 3).contiguous()
    ref = default_rig(1, size)
    flame = {"expr": torch.randn(batch, frames, 100, generator=g) * 0.3, "jaw_pose": torch.zeros(batch, frames, 3),
             "betas": torch.randn(batch, 300, generator=g) * 0.3}
    image = torch.rand(batch, 1, 3, model.config.image_size, model.config.image_size, generator=g)
    sc = ref.c2w.float()[:1].expand(batch, 1, 4, 4).contiguous()
    si = ref.K.float()[:1].expand(batch, 1, 3, 3).contiguous()
    return image, sc, si, c2w, k, torch.ones(batch, frames, 3), flame


def build_kwargs(model, args):
    """``build_avatar``'s keyword arguments (both backbones take the reference camera; LAM ignores it)."""
    image, sc, si, c2w, k, bg, flame = args
    return {"betas": flame["betas"], "source_c2ws": sc, "source_intrs": si}


def section_speed(models, threads):
    print("\n## 1. Avatar build and animate+render on CPU "
          f"({threads} threads; batch 1)\n")
    print("| backbone | Gaussians | parameters | build (ms) | 128^2 frames/s | 256^2 frames/s |")
    print("|---|---|---|---|---|---|")
    for arch, (model, origin) in models.items():
        args = inputs(model, 1, 8, 128)
        with torch.no_grad():
            build_s = min(time_call(lambda: model.build_avatar(args[0], **build_kwargs(model, args)), 1) for _ in range(3))
            avatar = model.build_avatar(args[0], **build_kwargs(model, args))
            fps = {}
            for size in (128, 256):
                a = inputs(model, 1, 8, size)
                run = lambda: model.render_avatar(avatar, a[6], a[3], a[4], a[5], size=size)  # noqa: E731
                run()
                fps[size] = 8 / min(time_call(run, 1) for _ in range(3))
        params = sum(p.numel() for p in model.parameters())
        print(f"| {arch} ({origin}) | {model.num_gaussians:,} | {params / 1e6:.2f}M | {build_s * 1e3:.0f} | "
              f"{fps[128]:.1f} | {fps[256]:.1f} |")


#: Modulators sized like the reference backbones (the default config has a 4-layer, 256-wide geometry
#: transformer: 4.4M parameters, more than lam-ref itself).
SMALL_MODULATORS = {"geometry_dim": 64, "geometry_layers": 1, "geometry_heads": 2, "emotion_dim": 64}


def section_overhead(models, rounds):
    print("\n## 2. Wrapped vs unwrapped `infer_single_view` (4 frames, 128^2), interleaved\n")
    print("| backbone | modulators | parameters | mode | unwrapped ms | disabled | with emotion | modulators' own ms per call | targets |")
    print("|---|---|---|---|---|---|---|---|---|")
    for arch, (model, origin) in models.items():
        for label, sizes in (("default", {}), ("small", SMALL_MODULATORS)):
            for mode in ("concat", "gated"):
                m = copy.deepcopy(model).eval()
                args = inputs(m, 1, 4, 128)

                def run():
                    m.infer_single_view(*args)

                ctl = emoctl.wrap(m, emotions=7, appearance_mode=mode, **sizes)
                params = sum(p.numel() for p in ctl.parameters())
                run()
                med = interleaved_medians(m, ctl, run, rounds, 2)
                base = med["unwrapped"]
                with torch.no_grad(), ctl.emotion("happy"):  # the modulators' work per call, timed alone
                    own = statistics.median(time_call(lambda: (ctl.modulate_flame(args[6]), ctl.appearance_tokens(1, args[0])), 10)
                                            for _ in range(5))
                print(f"| {arch} | {label} | {params:,} | {mode} | {base * 1e3:.0f} | {med['wrapped, disabled'] / base:.4f} | "
                      f"{med['wrapped, emotion'] / base:.4f} | {own * 1e3:.2f} ({own / base:.1%}) | <= 1.005 / <= 1.02 |")


def section_full_scale(layers, rounds):
    from emoctl.backbones.lam_style import LAMStyleBackbone, LAMStyleConfig

    cfg = LAMStyleConfig(image_size=504, patch=14, cond_dim=1024, encoder_depth=1, encoder_heads=16, width=1024,
                         layers=layers, heads=16, num_points=19687, head_subdivide=1)
    model = LAMStyleBackbone(cfg).eval()
    image = torch.rand(1, 1, 3, 504, 504)
    points = model.query_points(None, 1)
    print(f"\n## 3. LAM-20K dimensions: width 1024, 16 heads, {points.shape[1]:,} points, 1,296 image tokens, "
          f"{layers} of 10 layers timed (random weights)\n")

    def run():
        with torch.no_grad():
            model.forward_latent_points(image, None, points)

    print("| mode | unwrapped s | disabled | with emotion |")
    print("|---|---|---|---|")
    for mode in ("concat", "gated"):
        ctl = emoctl.wrap(model, emotions=7, appearance_mode=mode)
        med = interleaved_medians(model, ctl, run, rounds, 1)
        emoctl.unwrap(model)
        base = med["unwrapped"]
        print(f"| {mode} | {base:.1f} | {med['wrapped, disabled'] / base:.4f} | {med['wrapped, emotion'] / base:.4f} |")


def section_per_frame(models):
    from emoctl.backbones.emotion_avatar import build_avatar_per_frame, build_emotion_avatar

    print("\n## 4. Per-frame appearance: keyframe avatars blended vs the transformer at every frame\n")
    print("| backbone | frames | builds | time (s) | per-frame time (s) | colour MAE | change along curve | render PSNR vs per-frame (dB) |")
    print("|---|---|---|---|---|---|---|---|")
    frames = 16
    t = torch.linspace(0, 1, frames)[None, :, None]
    curve = torch.zeros(1, frames, 7)
    curve[..., 0:1] = (1 - 2 * t).clamp(min=0)
    curve[..., 1:2] = 1 - (2 * t - 1).abs()
    curve[..., 4:5] = (2 * t - 1).clamp(min=0)
    for arch, (model, origin) in models.items():
        m = copy.deepcopy(model).eval()
        ctl = emoctl.wrap(m, emotions=7)
        torch.manual_seed(0)
        for p in ctl.appearance.parameters():  # untrained modulators: random tokens that do change the avatar
            torch.nn.init.normal_(p, std=0.2)
        args = inputs(m, 1, frames, 128)
        kw = build_kwargs(m, args)
        with torch.no_grad():
            t0 = time.perf_counter()
            fast = build_emotion_avatar(m, ctl, args[0], emotion=curve, **kw)
            t1 = time.perf_counter()
            slow = build_avatar_per_frame(m, ctl, args[0], curve, **kw)
            t2 = time.perf_counter()
            with ctl.disabled():
                a = m.render_avatar(fast, args[6], args[3], args[4], args[5])["comp_rgb"]
                b = m.render_avatar(slow, args[6], args[3], args[4], args[5])["comp_rgb"]
        mae = (fast.colors - slow.colors).abs().mean().item()
        change = (slow.colors[:, frames // 2] - slow.colors[:, 0]).abs().mean().item()
        mse = (a - b).pow(2).mean().item()
        psnr = 10 * torch.log10(torch.tensor(1.0 / max(mse, 1e-12))).item()
        print(f"| {arch} | {frames} | 3 vs {frames} | {t1 - t0:.2f} | {t2 - t1:.2f} | {mae:.5f} | {change:.5f} | {psnr:.1f} |")


def section_training(models, steps):
    print(f"\n## 5. Training throughput ({steps} steps of batch 4 x 4 rendered 128^2 frames, after 1 warm-up)\n")
    print("| backbone | samples/s | step s | peak RSS of this process so far (MiB) |")
    print("|---|---|---|---|")
    for arch, (model, origin) in models.items():
        m = copy.deepcopy(model).train()
        opt = torch.optim.AdamW(m.parameters(), lr=1e-4)
        args = inputs(m, 4, 4, 128)
        target = torch.rand(4, 4, 128, 128, 3)

        def step():
            out = m(*args)
            loss = (out["comp_rgb"] - target).pow(2).mean()
            opt.zero_grad()
            loss.backward()
            opt.step()

        step()
        start = time.perf_counter()
        for _ in range(steps):
            step()
        per = (time.perf_counter() - start) / steps
        rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
        print(f"| {arch} | {4 / per:.2f} | {per:.2f} | {rss:.0f} |")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--rounds", type=int, default=7)
    ap.add_argument("--train-steps", type=int, default=3)
    ap.add_argument("--full-scale-layers", type=int, default=1)
    ap.add_argument("--full-scale-rounds", type=int, default=2)
    ap.add_argument("--skip-full-scale", action="store_true")
    ap.add_argument("--archs", default="lam,uv")
    ap.add_argument("--sections", default="1,2,3,4,5", help="which sections to run (comma-separated numbers)")
    args = ap.parse_args()
    torch.set_num_threads(args.threads)
    print(f"machine: {platform.machine()}, {torch.get_num_threads()} threads, torch {torch.__version__}; "
          f"load average {open('/proc/loadavg').read().split()[:3]}; {time.strftime('%Y-%m-%d %H:%M')}")
    models = {arch: load_backbone(arch) for arch in args.archs.split(",")}
    for arch, (model, origin) in models.items():
        model.eval()
        print(f"- {arch}: {origin}")
    sections = set(args.sections.split(","))
    if "1" in sections:
        section_speed(models, args.threads)
    if "2" in sections:
        section_overhead(models, args.rounds)
    if "4" in sections:
        section_per_frame(models)
    if "5" in sections:
        section_training(models, args.train_steps)
    if "3" in sections and not args.skip_full_scale:
        section_full_scale(args.full_scale_layers, args.full_scale_rounds)
    print(f"\nmedians over {args.rounds} interleaved rounds; ratios against the unwrapped model in the same run")


if __name__ == "__main__":
    main()
