"""Reading the files of one clip, identity or anchor, given its manifest entry (used by the dataset and ``verify``)."""

from __future__ import annotations

from pathlib import Path
from typing import Any, Sequence

import numpy as np
import torch

from emoctl.data.cameras import CameraRig
from emoctl.data.flame_params import FlameSequence
from emoctl.data.io import load_tensors, read_json
from emoctl.data.layout import (
    ANCHOR_JSON,
    BETAS_FILE,
    CLIP_JSON,
    GROUND_TRUTH_FLAME,
    REFERENCE_IMAGE,
    TRACKED_FLAME,
    TRANSFORMS,
    anchor_emotion_file,
    mp4_view_file,
    png_frame_file,
)
from emoctl.media import read_mp4, read_png
from emoctl.data.transforms import cameras_from_transforms
from emoctl.errors import DataError


def clip_record(root: Path, clip: dict[str, Any]) -> dict[str, Any]:
    """The clip's ``clip.json``."""
    record = read_json(root / clip["dir"] / CLIP_JSON, f"clip {clip['key']}")
    if not isinstance(record, dict):
        raise DataError(f"clip {clip['key']}: {CLIP_JSON} is not a JSON object")
    return record


def clip_timestamps(root: Path, clip: dict[str, Any]) -> torch.Tensor:
    """``[T]`` float64 seconds of a clip (from its ``clip.json``)."""
    return torch.tensor(clip_record(root, clip)["timestamps"], dtype=torch.float64)


def clip_flame(root: Path, clip: dict[str, Any], *, ground_truth: bool = False) -> FlameSequence:
    """The clip's tracked FLAME sequence (or the reenactor's ground truth when ``ground_truth``)."""
    name = GROUND_TRUTH_FLAME if ground_truth else TRACKED_FLAME
    return load_tensors(root / clip["dir"] / name, f"clip {clip['key']}")


def clip_cameras(root: Path, clip: dict[str, Any]) -> CameraRig:
    """The clip's rig (OpenCV c2w) from its ``transforms.json``."""
    data = read_json(root / clip["dir"] / TRANSFORMS, f"clip {clip['key']}")
    return cameras_from_transforms(data, f"clip {clip['key']}: {TRANSFORMS}")


def clip_frames(root: Path, clip: dict[str, Any], frame_indices: Sequence[int] | None = None) -> np.ndarray:
    """uint8 ``[T, V, H, W, 3]`` frames of a clip (all, or ``frame_indices`` in that order)."""
    directory = root / clip["dir"]
    indices = list(range(clip["num_frames"])) if frame_indices is None else [int(i) for i in frame_indices]
    views = range(clip["num_views"])
    if clip["frame_format"] == "mp4":
        per_view = [read_mp4(directory / mp4_view_file(v), indices) for v in views]
        return np.stack(per_view, axis=1)
    return np.stack([np.stack([read_png(directory / png_frame_file(t, v)) for v in views]) for t in indices])


def identity_reference_image(root: Path, identity: dict[str, Any]) -> np.ndarray:
    """uint8 ``[H, W, 3]`` reference image of an identity."""
    return read_png(root / identity["dir"] / REFERENCE_IMAGE)


def identity_betas(root: Path, identity: dict[str, Any]) -> torch.Tensor | None:
    """``[300]`` betas of an identity, or None when it has none."""
    if not identity["has_betas"]:
        return None
    return load_tensors(root / identity["dir"] / BETAS_FILE, f"identity {identity['id']}")["betas"]


def anchor_record(root: Path, anchor: dict[str, Any]) -> dict[str, Any]:
    record = read_json(root / anchor["dir"] / ANCHOR_JSON, f"anchor {anchor['id']}")
    if not isinstance(record, dict):
        raise DataError(f"anchor {anchor['id']}: {ANCHOR_JSON} is not a JSON object")
    return record


def anchor_flame(root: Path, anchor: dict[str, Any], emotion: str) -> FlameSequence:
    """The anchor's ground-truth FLAME sequence in ``emotion`` (at the dataset's frame rate)."""
    return load_tensors(root / anchor["dir"] / anchor_emotion_file(emotion), f"anchor {anchor['id']}")
