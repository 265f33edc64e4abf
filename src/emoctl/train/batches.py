"""Training and validation batches for a backbone: reference image + camera, target FLAME, target frames.

A recipe's split folder is read whole (``split="train"``, no held-out fractions) in ``self`` mode:
the driving sequence is the target's own FLAME, so the backbone reconstructs the identity's frames
in other frames, views and emotions from its reference image, never told the emotion.

:meth:`BackboneData.batch` is a pure function of ``(seed, step)`` (the items, their windows and the
rendered (frame, view) pairs), so a resumed run sees the same batches as an uninterrupted one.

A batch (a dict of tensors, ``B`` items, ``N`` rendered pairs each, images at the render size ``S``):

- ``image [B, 3, H, W]``: reference images in [0, 1]; ``source_c2ws [B, 1, 4, 4]`` (OpenCV),
  ``source_intrs [B, 1, 3, 3]`` (pixels of the reference image): its camera;
- ``render_c2ws [B, N, 4, 4]``, ``render_intrs [B, N, 3, 3]`` (scaled to ``S``), ``render_bg_colors
  [B, N, 3]`` (white, the synthetic background);
- ``flame_params``: ``expr [B, N, 100]``, ``jaw_pose``, ... ``[B, N, D]``, ``betas [B, 300]``;
- ``target [B, N, S, S, 3]`` channels last; ``identities``: ``B`` ids.
"""

from __future__ import annotations

import random
from pathlib import Path
from typing import Any

import torch
import torch.nn.functional as F

from emoctl.data import load_manifest, stable_seed
from emoctl.data.flame_params import FLAME_IDENTITY_KEYS
from emoctl.errors import DataError

#: The background colour of the synthetic frames.
WHITE = (1.0, 1.0, 1.0)


def open_split(root: str | Path, frames_per_sample: int, seed: int = 0):
    """A whole dataset folder as a ``self``-mode :class:`~emoctl.data.SyncedEmotionDataset`, checked for
    reference cameras (``DataError`` naming the identities without one)."""
    from emoctl.data import SyncedEmotionDataset

    root = Path(root)
    if not (root / "manifest.json").is_file():
        raise DataError(f"{root} is not a built dataset (no manifest.json); build one with `emoctl data build-synthetic`")
    dataset = SyncedEmotionDataset(root, mode="self", frames_per_sample=frames_per_sample, split="train", seed=seed,
                                   heldout_identity_fraction=0.0, heldout_anchor_fraction=0.0)
    missing = sorted(i for i in identities_of(dataset) if dataset.reference_camera(i) is None)
    if missing:
        raise DataError(f"{root}: identities {missing[:5]}{' ...' if len(missing) > 5 else ''} have no reference_camera "
                        "in identity.json; the backbone trainer needs the reference image's camera (rebuild the "
                        "dataset with `emoctl data build-synthetic`)")
    return dataset


def identities_of(dataset) -> list[str]:
    """The identity of each item of ``dataset`` (in item order)."""
    return [dataset.sample_plan(i)["identity"] for i in range(len(dataset))]


def collate(items: list[dict[str, Any]], pairs: list[list[tuple[int, int]]], render_size: int) -> dict[str, Any]:
    """The batch of ``items`` (dataset items) rendering ``pairs[b]`` ((frame, view) of item ``b``)."""
    image = torch.stack([it["reference_image"] for it in items])
    c2w, intr, target, flame = [], [], [], {}
    for it, chosen in zip(items, pairs):
        t_idx = torch.tensor([t for t, _ in chosen])
        v_idx = torch.tensor([v for _, v in chosen])
        cams = it["cameras"]
        scale = torch.tensor([render_size / cams["width"], render_size / cams["height"], 1.0])[:, None]
        c2w.append(cams["c2w"][v_idx])
        intr.append(cams["K"][v_idx] * scale)
        frames = it["target_frames"][t_idx, v_idx]  # [N, 3, H, W]
        if frames.shape[-2:] != (render_size, render_size):
            frames = F.interpolate(frames, size=(render_size, render_size), mode="area")
        target.append(frames.permute(0, 2, 3, 1))
        for key, value in it["target"].items():
            flame.setdefault(key, []).append(value if key in FLAME_IDENTITY_KEYS else value[t_idx])
    n = len(pairs[0])
    return {
        "image": image,
        "source_c2ws": torch.stack([it["reference_c2w"] for it in items])[:, None],
        "source_intrs": torch.stack([it["reference_K"] for it in items])[:, None],
        "render_c2ws": torch.stack(c2w),
        "render_intrs": torch.stack(intr),
        "render_bg_colors": torch.tensor(WHITE).expand(len(items), n, 3).clone(),
        "flame_params": {k: torch.stack(v) for k, v in flame.items()},
        "target": torch.stack(target).contiguous(),
        "identities": [it["identity"] for it in items],
    }


class BackboneData:
    """Training batches of one dataset folder (see the module docstring)."""

    def __init__(self, root: str | Path, frames_per_sample: int, rendered_per_sample: int, batch_size: int,
                 render_size: int, seed: int = 0):
        self.dataset = open_split(root, frames_per_sample, seed)
        self.seed = seed
        self.batch_size = batch_size
        self.render_size = render_size
        views = min(c["num_views"] for c in load_manifest(self.dataset.root)["clips"])
        self.pairs_per_item = min(rendered_per_sample, frames_per_sample * views)
        self.views = views

    def __len__(self) -> int:
        return len(self.dataset)

    def batch(self, step: int) -> dict[str, Any]:
        """The batch of optimiser step ``step`` (a pure function of ``(seed, step)``)."""
        rng = random.Random(stable_seed("backbone-batch", self.seed, step))
        n = len(self.dataset)
        if self.batch_size <= n:
            indices = rng.sample(range(n), self.batch_size)
        else:  # fewer items than a batch: draw with replacement
            indices = [rng.randrange(n) for _ in range(self.batch_size)]
        self.dataset.set_epoch(step)
        items = [self.dataset[i] for i in indices]
        grid = [(t, v) for t in range(self.dataset.frames_per_sample) for v in range(self.views)]
        pairs = [rng.sample(grid, self.pairs_per_item) for _ in items]
        return collate(items, pairs, self.render_size)


class ValidationData:
    """Fixed validation items: ``items_per_identity`` per identity (spread over its clips), every
    (frame, view) pair of each rendered. Iterating gives one-item batches in a fixed order."""

    def __init__(self, root: str | Path, frames_per_sample: int, items_per_identity: int, render_size: int):
        self.dataset = open_split(root, frames_per_sample, seed=0)
        self.render_size = render_size
        by_identity: dict[str, list[int]] = {}
        for index, identity in enumerate(identities_of(self.dataset)):
            by_identity.setdefault(identity, []).append(index)
        self.indices = []
        for identity in sorted(by_identity):
            own = by_identity[identity]
            k = min(items_per_identity, len(own))
            self.indices += [own[(j * len(own)) // k] for j in range(k)]
        self.identities = sorted(by_identity)

    def __len__(self) -> int:
        return len(self.indices)

    def __iter__(self):
        self.dataset.set_epoch(0)
        for index in self.indices:
            item = self.dataset[index]
            t, v = item["target_frames"].shape[:2]
            yield collate([item], [[(i, j) for i in range(t) for j in range(v)]], self.render_size)
