"""Figures of a backbone on held-out identities: identity detail, and the emotion baked into references.

- :func:`identity_figure`: several held-out identities driven by the same anchor, emotion, frames
  and camera: reference images, the backbone's renders, the ground truth. Renders of the same
  driving must differ by identity (skin tone, freckles, brows, hair, wrinkle layout).
- :func:`baked_emotion_figure`: identities whose reference image shows an emotion (30 % of the
  synthetic world's), driven by their *neutral* clip: reference, render, ground truth. A backbone
  that is never told the emotion keeps the reference's cues (e.g. a flush, wrinkles) in its avatar
  — the failure emoctl's appearance branch exists to fix.
"""

from __future__ import annotations

import itertools
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import torch

from emoctl.eval.backbone_quality import avatar_inputs, driving_inputs, item_indices, open_folder, select
from emoctl.media import image_grid, save_png


def _items(data, emotion: str, identities: int | None = None) -> Iterator[dict[str, Any]]:
    """The items of ``data`` whose target clip is ``emotion``, one per identity, read lazily."""
    for i in item_indices(data, clips=(emotion,), per_identity=1, identities=identities):
        yield data[i]


@torch.no_grad()
def _render(model, item, frame: int, view: int):
    image, kwargs = avatar_inputs(item)
    avatar = model.build_avatar(image, **kwargs)
    flame, c2w, k, bg, targets = driving_inputs(select(item, [frame], [view]), 1)
    render = model.render_avatar(avatar, flame, c2w, k, bg, size=targets.shape[1])["comp_rgb"][0, 0].clamp(0, 1)
    return item["reference_image"].permute(1, 2, 0), render, targets[0]


def identity_figure(model, folder: str | Path, out: str | Path, *, identities: int = 4, emotion: str = "neutral",
                    frame: int = 8, view: int = 0) -> Path:
    """PNG grid: one column per identity; rows reference, render, ground truth (module docstring)."""
    items = list(_items(open_folder(folder), emotion, identities))
    rows = [_render(model, item, frame, view) for item in items]
    cells = [r[0] for r in rows] + [r[1] for r in rows] + [r[2] for r in rows]
    labels = ([f"{it['identity']} ref" for it in items] + ["render"] * len(items) + ["ground truth"] * len(items))
    out = Path(out)
    save_png(image_grid([c.float() for c in cells], ncols=len(items), labels=labels), out)
    return out


def baked_emotion_figure(model, folder: str | Path, out: str | Path, *, rows: int = 4, frame: int = 8,
                         view: int = 0) -> Path | None:
    """PNG grid: one row per identity whose reference shows an emotion: reference, render of its neutral
    clip, ground truth. ``None`` when the folder has no such identity."""
    data = open_folder(folder)
    items = list(itertools.islice((it for it in _items(data, "neutral") if it["reference_emotion"] > 0), rows))
    if not items:
        return None
    cells, labels = [], []
    for item in items:
        ref, render, truth = _render(model, item, frame, view)
        cells += [ref, render, truth]
        labels += [f"ref: {data.vocabulary[item['reference_emotion']]}", "render (neutral)", "ground truth"]
    out = Path(out)
    save_png(image_grid([c.float() for c in cells], ncols=3, labels=labels), out)
    return out
