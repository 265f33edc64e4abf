"""Wrap a LAM-layout backbone and choose its emotion: one, per sample, a mixture, a curve.

    python examples/wrap_and_control.py --out out/wrap-example

With a real LAM checkpoint, replace the small stand-in model by ``ModelLAM.from_pretrained(...)``;
the calls below do not change.
"""

import argparse
from pathlib import Path

import torch

import emoctl
from emoctl.testing.lam_layout import LAMLayoutConfig, LAMLayoutModel, make_inputs


def main(out: Path) -> None:
    cfg = LAMLayoutConfig()
    model = LAMLayoutModel(cfg)  # stand-in for LAM (same module layout, same call signatures)
    args = make_inputs(cfg, batch=2, frames=4)

    ctl = emoctl.wrap(model, emotions=7)  # adapter chosen from the model's layout: "lam"
    print(ctl.adapter.name, "adapter;", sum(p.numel() for p in ctl.parameters()), "added parameters")

    with ctl.emotion("happy"):  # every sample happy
        happy = model.infer_single_view(*args)
    with ctl.emotion(["neutral", "sad"]):  # one emotion per sample
        per_sample = model.infer_single_view(*args)
    with ctl.emotion({"happy": 0.7, "surprised": 0.3}):  # a mixture in embedding space
        mixture = model.infer_single_view(*args)
    with ctl.emotion(emoctl.interpolate("happy", "sad", 0.25)):
        between = model.infer_single_view(*args)
    curve = emoctl.emotion_curve({0: "neutral", 3: "angry"}, num_frames=4).expand(2, -1, -1)
    with ctl.emotion(curve):  # per-frame weights [B, T, K] on the geometry path
        ramp = model.infer_single_view(*args)
    with ctl.disabled():  # exactly the original model
        original = model.infer_single_view(*args)
    for name, o in [("happy", happy), ("per-sample", per_sample), ("mixture", mixture), ("interpolated", between), ("curve", ramp)]:
        print(f"{name:>12}: images {tuple(o['comp_rgb'].shape)}, mean |diff| to original {(o['comp_rgb'] - original['comp_rgb']).abs().mean():.2e}")

    ctl.save_pretrained(out)  # model.safetensors + config.json + README.md (only the added modules)
    emoctl.unwrap(model)  # the model is as before
    again = emoctl.wrap(model, emotions=7)
    again.load_pretrained(out)  # or a Hub repo id: again.load_pretrained("org/name", revision="<commit>")
    print("saved and reloaded from", out)


if __name__ == "__main__":
    ap = argparse.ArgumentParser()
    ap.add_argument("--out", type=Path, default=Path("out/wrap-example"))
    main(ap.parse_args().out)
