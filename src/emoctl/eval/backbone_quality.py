"""Held-out self-reenactment quality of a backbone, against a "mean avatar" baseline.

Protocol (every number on identities the backbone never saw, e.g. a recipe's ``test`` folder):
for each identity, the avatar is built once from its reference image (and camera), then driven by
the FLAME parameters of each of its clips (every ``frame_stride``-th frame, every view) and
compared with the ground-truth frames: PSNR and SSIM per image (:mod:`emoctl.metrics`), averaged per
identity; the report gives the mean over identities and their spread (std, min, max).

The **mean avatar** baseline keeps the identity's own avatar geometry (offsets, scales, rotations,
opacities from the backbone) and replaces its colours with the average colours of the avatars of
``mean_identities`` *training* identities: what a model that ignores who is in the image would
render. The gap to it is what the backbone reads from the reference image.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch
from torch import Tensor

from emoctl.data import SyncedEmotionDataset
from emoctl.errors import DataError


def open_folder(folder: str | Path, frames: int | None = None) -> SyncedEmotionDataset:
    """Every identity, anchor and clip of a dataset folder as self-reenactment items of ``frames``
    frames (default: whole clips), checked for reference cameras (the trainer's
    :func:`~emoctl.train.batches.open_split`)."""
    from emoctl.train.batches import open_split

    if frames is None:
        from emoctl.data.manifest import load_manifest

        anchors = load_manifest(Path(folder))["anchors"]
        if not anchors:
            raise DataError(f"{folder} has no anchors")
        frames = min(int(a["num_frames"]) for a in anchors)
    return open_split(folder, frames)


def item_indices(data: SyncedEmotionDataset, *, clips: tuple[str, ...] | None = None,
                 per_identity: int | None = None, identities: int | None = None) -> list[int]:
    """Indices of ``data``'s items chosen from their plans alone (no file is read): target clips named
    in ``clips`` (default: all), at most ``per_identity`` items per identity, of the first ``identities``
    identities."""
    chosen: list[int] = []
    counts: dict[str, int] = {}
    for i in range(len(data)):
        plan = data.sample_plan(i)
        ident = plan["identity"]
        if clips is not None and plan["target_clip"] not in clips:
            continue
        if ident not in counts and identities is not None and len(counts) >= identities:
            continue
        if per_identity is not None and counts.get(ident, 0) >= per_identity:
            continue
        counts[ident] = counts.get(ident, 0) + 1
        chosen.append(i)
    return chosen


def avatar_inputs(item: dict[str, Any], device: torch.device | str = "cpu") -> tuple[Tensor, dict[str, Tensor]]:
    """``(image [1, 1, 3, H, W], build_avatar kwargs)`` of a dataset item (betas, reference camera)."""
    if "reference_c2w" not in item or not bool(item.get("has_reference_camera", True)):
        raise DataError(f"identity {item.get('identity')} has no reference camera; the backbones need one")
    image = item["reference_image"][None, None].to(device)
    kwargs = {
        "betas": item["target"]["betas"][None].float().to(device),
        "source_c2ws": item["reference_c2w"][None, None].float().to(device),
        "source_intrs": item["reference_K"][None, None].float().to(device),
    }
    return image, kwargs


def select(item: dict[str, Any], frames: list[int], views: list[int] | None = None) -> dict[str, Any]:
    """``item`` restricted to some of its frames (indices clamped to the clip) and views."""
    t, v = item["target_frames"].shape[:2]
    f = torch.tensor([min(i, t - 1) for i in frames])
    w = torch.arange(v) if views is None else torch.tensor([min(i, v - 1) for i in views])
    cams = item["cameras"]
    return {**item, "target_frames": item["target_frames"][f][:, w],
            "target": {k: (x if k == "betas" else x[f]) for k, x in item["target"].items()},
            "cameras": {**cams, "c2w": cams["c2w"][w], "K": cams["K"][w]}}


def driving_inputs(item: dict[str, Any], frame_stride: int, device="cpu") -> tuple[dict[str, Tensor], Tensor, Tensor, Tensor, Tensor]:
    """LAM-layout driving of an item's chosen frames x views: ``(flame_params [1, N, D], c2ws [1, N, 4, 4],
    intrs [1, N, 3, 3], backgrounds [1, N, 3], targets [N, H, W, 3])`` with ``N = frames x views``."""
    frames = item["target_frames"][::frame_stride]  # [T, V, 3, H, W]
    t, v = frames.shape[:2]
    keep = torch.arange(0, item["target_frames"].shape[0], frame_stride)
    flame = {}
    for key, value in item["target"].items():
        if key == "betas":
            flame[key] = value[None].float().to(device)
        else:
            flame[key] = value[keep].float().repeat_interleave(v, dim=0)[None].to(device)
    cams = item["cameras"]
    c2w = cams["c2w"].float().repeat(t, 1, 1)[None].to(device)
    k = cams["K"].float().repeat(t, 1, 1)[None].to(device)
    bg = torch.ones(1, t * v, 3, device=device)
    targets = frames.permute(0, 1, 3, 4, 2).reshape(t * v, *frames.shape[-2:], 3).to(device)
    return flame, c2w, k, bg, targets


@torch.no_grad()
def mean_avatar_colors(model, train_folder: str | Path, mean_identities: int = 32) -> Tensor:
    """``[N, 3]`` average colours of the avatars of the first ``mean_identities`` training identities."""
    data = open_folder(train_folder, frames=1)
    chosen = item_indices(data, per_identity=1, identities=mean_identities)
    total = None
    for i in chosen:
        image, kwargs = avatar_inputs(data[i])
        colors = model.build_avatar(image, **kwargs).colors[0]
        total = colors if total is None else total + colors
    return total / len(chosen)


@dataclass
class IdentityScores:
    psnr: list[float]
    ssim: list[float]
    mean_psnr: list[float]
    mean_ssim: list[float]


def _summary(values: dict[str, float]) -> dict[str, float]:
    v = torch.tensor(list(values.values()), dtype=torch.float64)
    return {"mean": float(v.mean()), "std": float(v.std()) if len(v) > 1 else 0.0, "min": float(v.min()),
            "max": float(v.max())}


@torch.no_grad()
def evaluate_backbone(model, heldout_folder: str | Path, *, mean_colors: Tensor | None = None, frame_stride: int = 4,
                      max_identities: int | None = None, progress: bool = True) -> dict[str, Any]:
    """Self-reenactment PSNR/SSIM per held-out identity (module docstring); with ``mean_colors [N, 3]``
    the mean-avatar baseline too. Returns ``{"psnr": {mean, std, min, max}, "ssim": ..., "per_identity": {...},
    "images": n, "mean_avatar": {...}, "gain_db": ..., "baked_references" / "neutral_references":
    {identities, psnr}}`` (identities whose reference image shows an emotion, and the others)."""
    from emoctl.metrics import psnr, ssim

    model.eval()
    data = open_folder(heldout_folder)
    scores: dict[str, IdentityScores] = {}
    baked: dict[str, bool] = {}
    avatar_of, avatar = None, None  # one identity's avatar at a time (items come grouped by identity)
    images = 0
    order = item_indices(data, identities=max_identities)
    if progress:
        from tqdm import tqdm

        order = tqdm(order, desc="evaluate", unit="clip")
    for i in order:
        item = data[i]
        ident = item["identity"]
        if ident != avatar_of:
            image, kwargs = avatar_inputs(item)
            avatar_of, avatar = ident, model.build_avatar(image, **kwargs)
            scores.setdefault(ident, IdentityScores([], [], [], []))
            baked[ident] = int(item["reference_emotion"]) > 0
        flame, c2w, k, bg, targets = driving_inputs(item, frame_stride)
        size = targets.shape[1]
        renders = model.render_avatar(avatar, flame, c2w, k, bg, size=size)["comp_rgb"][0].clamp(0, 1)
        s = scores[ident]
        s.psnr += psnr(renders, targets).tolist()
        s.ssim += ssim(renders, targets).tolist()
        if mean_colors is not None:
            baseline = avatar.replace(colors=mean_colors[None].to(avatar.colors))
            base = model.render_avatar(baseline, flame, c2w, k, bg, size=size)["comp_rgb"][0].clamp(0, 1)
            s.mean_psnr += psnr(base, targets).tolist()
            s.mean_ssim += ssim(base, targets).tolist()
        images += targets.shape[0]
    if not scores:
        raise DataError(f"{heldout_folder} has no clips to evaluate")
    per_identity = {i: {"psnr": sum(s.psnr) / len(s.psnr), "ssim": sum(s.ssim) / len(s.ssim),
                        "baked_reference": baked[i]} for i, s in scores.items()}
    report: dict[str, Any] = {
        "identities": len(scores),
        "images": images,
        "frame_stride": frame_stride,
        "psnr": _summary({i: v["psnr"] for i, v in per_identity.items()}),
        "ssim": _summary({i: v["ssim"] for i, v in per_identity.items()}),
        "per_identity": per_identity,
    }
    for flag, name in ((True, "baked_references"), (False, "neutral_references")):
        chosen = {i: v["psnr"] for i, v in per_identity.items() if v["baked_reference"] == flag}
        if chosen:
            report[name] = {"identities": len(chosen), "psnr": _summary(chosen)["mean"]}
    if mean_colors is not None:
        mean_psnr = {i: sum(s.mean_psnr) / len(s.mean_psnr) for i, s in scores.items()}
        mean_ssim = {i: sum(s.mean_ssim) / len(s.mean_ssim) for i, s in scores.items()}
        report["mean_avatar"] = {"psnr": _summary(mean_psnr), "ssim": _summary(mean_ssim)}
        report["gain_db"] = report["psnr"]["mean"] - report["mean_avatar"]["psnr"]["mean"]
    return report
