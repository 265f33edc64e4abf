"""One training step's forward and loss, and the validation pass, for any backbone with LAM's
``forward(image, source_c2ws, source_intrs, render_c2ws, render_intrs, render_bg_colors, flame_params)``
returning ``comp_rgb [B, N, H, W, 3]``, ``comp_mask [B, N, H, W, 1]`` and ``avatar`` (offsets)."""

from __future__ import annotations

from typing import Any

import torch
from torch import Tensor, nn

from emoctl.errors import ShapeError
from emoctl.losses import LossWeights, foreground_mask, reconstruction_loss
from emoctl.metrics import psnr, ssim


def render_batch(model: nn.Module, batch: dict[str, Any]) -> dict[str, Any]:
    """The model's outputs for a batch of :mod:`emoctl.train.batches` (``comp_rgb`` checked against the target)."""
    out = model(batch["image"], batch["source_c2ws"], batch["source_intrs"], batch["render_c2ws"],
                batch["render_intrs"], batch["render_bg_colors"], batch["flame_params"])
    if out["comp_rgb"].shape != batch["target"].shape:
        raise ShapeError(f"the backbone rendered {tuple(out['comp_rgb'].shape)}, the targets are "
                         f"{tuple(batch['target'].shape)} (its render_size must be the trainer's)")
    return out


def batch_loss(model: nn.Module, batch: dict[str, Any], weights: LossWeights) -> tuple[Tensor, dict[str, float]]:
    """``(loss, logs)``: the differentiable total and ``{loss, mse, dssim, alpha, offset, psnr}`` floats."""
    out = render_batch(model, batch)
    pred, target = out["comp_rgb"], batch["target"]
    total, terms = reconstruction_loss(pred, target, out["comp_mask"], foreground_mask(target),
                                       out["avatar"].offsets, weights)
    logs = {"loss": float(total.detach()), **{k: float(v) for k, v in terms.items()}}
    with torch.no_grad():
        logs["psnr"] = float(psnr(pred.detach().clamp(0, 1), target).mean())
    return total, logs


@torch.no_grad()
def validate(model: nn.Module, data) -> dict[str, Any]:
    """PSNR / SSIM of every rendered validation image: ``{psnr, ssim, images, per_identity: {id: {psnr,
    ssim, images}}}``; the overall figures are means over identities (each counts once)."""
    was_training = model.training
    model.eval()
    sums: dict[str, list[float]] = {}
    try:
        for batch in data:
            pred = render_batch(model, batch)["comp_rgb"].clamp(0, 1)
            p, s = psnr(pred, batch["target"]), ssim(pred, batch["target"])
            acc = sums.setdefault(batch["identities"][0], [0.0, 0.0, 0])
            acc[0] += float(p.sum())
            acc[1] += float(s.sum())
            acc[2] += p.numel()
    finally:
        model.train(was_training)
    per = {i: {"psnr": a[0] / a[2], "ssim": a[1] / a[2], "images": a[2]} for i, a in sorted(sums.items())}
    return {
        "psnr": sum(v["psnr"] for v in per.values()) / max(len(per), 1),
        "ssim": sum(v["ssim"] for v in per.values()) / max(len(per), 1),
        "images": sum(v["images"] for v in per.values()),
        "per_identity": per,
    }
