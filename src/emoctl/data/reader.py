"""Reading the files of one clip, identity or anchor, given its manifest entry (used by the dataset and ``verify``).

The entry must be well-formed (:func:`~emoctl.data.manifest.manifest_problems` passed, as
:func:`~emoctl.data.manifest.load_manifest` and ``verify`` ensure). Every reader checks what it
read against the entry - shapes and counts against the manifest, finite values - at a cost that is
small next to reading the file, and raises :class:`DataError` whose message starts with the owner
(``clip <key>: ``, ``identity <id>: ``, ``anchor <id>: ``) and names the file. So a damaged file is
reported where it is read (in a DataLoader worker: before the collate) instead of as a tensor of
the wrong size. ``verify`` stays the thorough check (checksums, byte counts, records, synchronisation).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, Sequence

import numpy as np
import torch

from emoctl.data.cameras import CameraRig
from emoctl.data.flame_params import FLAME_IDENTITY_KEYS, FlameSequence, validate_flame_sequence
from emoctl.data.io import load_tensors, read_json
from emoctl.data.layout import (
    ANCHOR_JSON,
    BETAS_FILE,
    CLIP_JSON,
    GROUND_TRUTH_FLAME,
    IDENTITY_JSON,
    REFERENCE_IMAGE,
    TRACKED_FLAME,
    TRANSFORMS,
    anchor_emotion_file,
    mp4_view_file,
    png_frame_file,
)
from emoctl.media import read_mp4, read_png
from emoctl.data.transforms import cameras_from_transforms
from emoctl.data.types import as_emotion_curve, as_timestamps
from emoctl.errors import DataError, EmoctlError


def owner_message(who: str, exc: BaseException | str) -> str:
    """The message of ``exc``, starting with ``who: `` (added unless the message already starts so)."""
    text = str(exc)
    return text if text.startswith(f"{who}: ") else f"{who}: {text}"


def _owned(who: str, rel: str, exc: EmoctlError) -> DataError:
    """``exc`` as a :class:`DataError` naming the owner and the file ``rel`` (unless its message does)."""
    return DataError(owner_message(who, exc if rel in str(exc) else f"{rel}: {exc}"))


def _json_object(root: Path, entry: dict[str, Any], name: str, who: str) -> dict[str, Any]:
    path = root / entry["dir"] / name
    try:
        data = read_json(path, who)
    except OSError as exc:  # a directory where the file should be, no permission, ...
        raise DataError(f"{who}: {path} cannot be read ({exc.strerror or exc})") from None
    if not isinstance(data, dict):
        raise DataError(f"{who}: {entry['dir']}/{name} is not a JSON object")
    return data


def identity_record(root: Path, identity: dict[str, Any]) -> dict[str, Any]:
    """The identity's ``identity.json``."""
    return _json_object(root, identity, IDENTITY_JSON, f"identity {identity['id']}")


def anchor_record(root: Path, anchor: dict[str, Any]) -> dict[str, Any]:
    """The anchor's ``anchor.json``."""
    return _json_object(root, anchor, ANCHOR_JSON, f"anchor {anchor['id']}")


def clip_record(root: Path, clip: dict[str, Any]) -> dict[str, Any]:
    """The clip's ``clip.json``."""
    return _json_object(root, clip, CLIP_JSON, f"clip {clip['key']}")


def _timestamps(record: dict[str, Any], entry: dict[str, Any], name: str, who: str) -> torch.Tensor:
    rel = f"{entry['dir']}/{name}"
    try:
        return as_timestamps(record.get("timestamps"), entry["num_frames"], f"{who}: {rel} timestamps")
    except EmoctlError as exc:
        raise _owned(who, rel, exc) from None


def clip_timestamps(root: Path, clip: dict[str, Any], record: dict[str, Any] | None = None) -> torch.Tensor:
    """``[T]`` float64 seconds of a clip (finite, increasing, ``T`` the clip's frame count) from its
    ``clip.json`` (or from ``record``, that file already read)."""
    record = clip_record(root, clip) if record is None else record
    return _timestamps(record, clip, CLIP_JSON, f"clip {clip['key']}")


def anchor_timestamps(root: Path, anchor: dict[str, Any], record: dict[str, Any] | None = None) -> torch.Tensor:
    """``[T]`` float64 seconds of an anchor from its ``anchor.json`` (or from ``record``)."""
    record = anchor_record(root, anchor) if record is None else record
    return _timestamps(record, anchor, ANCHOR_JSON, f"anchor {anchor['id']}")


def clip_emotion_curve(root: Path, clip: dict[str, Any], num_emotions: int,
                       record: dict[str, Any] | None = None) -> torch.Tensor:
    """float32 ``[T, K]`` per-frame emotion weights of a curve clip from its ``clip.json`` (or
    ``record``): ``T`` the clip's frames, ``K = num_emotions``, finite, non-negative, rows summing to one."""
    record = clip_record(root, clip) if record is None else record
    who, rel = f"clip {clip['key']}", f"{clip['dir']}/{CLIP_JSON}"
    if "emotion_curve" not in record:
        raise DataError(f"{who}: {rel} has no emotion_curve (a curve clip records its weights there)")
    try:
        return as_emotion_curve(record["emotion_curve"], clip["num_frames"], num_emotions, f"{rel} emotion_curve")
    except EmoctlError as exc:
        raise _owned(who, rel, exc) from None


def anchor_emotion_curve(root: Path, anchor: dict[str, Any], name: str, num_emotions: int,
                         record: dict[str, Any] | None = None) -> torch.Tensor:
    """float32 ``[T, K]`` weights of the anchor's curve ``name`` from its ``anchor.json`` (or ``record``),
    checked like :func:`clip_emotion_curve`."""
    record = anchor_record(root, anchor) if record is None else record
    who, rel = f"anchor {anchor['id']}", f"{anchor['dir']}/{ANCHOR_JSON}"
    entry = record.get("curves", {}).get(name) if isinstance(record.get("curves", {}), dict) else None
    if not isinstance(entry, dict) or "emotion_curve" not in entry:
        raise DataError(f"{who}: {rel} has no emotion curve {name!r} (curves.{name}.emotion_curve)")
    try:
        return as_emotion_curve(entry["emotion_curve"], anchor["num_frames"], num_emotions,
                                f"{rel} curves.{name}.emotion_curve")
    except EmoctlError as exc:
        raise _owned(who, rel, exc) from None


def _flame_file(root: Path, entry: dict[str, Any], name: str, who: str) -> FlameSequence:
    rel = f"{entry['dir']}/{name}"
    seq = load_tensors(root / rel, who)
    try:
        validate_flame_sequence(seq, num_frames=entry["num_frames"], name=rel, require_finite=False)
        # one finiteness test over all entries (a quarter of the cost of one per entry); when it fails,
        # the per-entry test names the entry
        if not bool(torch.isfinite(torch.cat([v.reshape(-1) for v in seq.values()])).all()):
            validate_flame_sequence(seq, num_frames=entry["num_frames"], name=rel)
    except EmoctlError as exc:
        raise _owned(who, rel, exc) from None
    return seq


def clip_flame(root: Path, clip: dict[str, Any], *, ground_truth: bool = False) -> FlameSequence:
    """The clip's tracked FLAME sequence (or the reenactor's ground truth when ``ground_truth``): every
    entry ``[T, D]`` with the clip's ``T``, optional ``betas [300]``, all finite."""
    return _flame_file(root, clip, GROUND_TRUTH_FLAME if ground_truth else TRACKED_FLAME, f"clip {clip['key']}")


def anchor_flame(root: Path, anchor: dict[str, Any], emotion: str) -> FlameSequence:
    """The anchor's ground-truth FLAME sequence in ``emotion`` (at the dataset's frame rate), checked like :func:`clip_flame`."""
    return _flame_file(root, anchor, anchor_emotion_file(emotion), f"anchor {anchor['id']}")


def clip_cameras(root: Path, clip: dict[str, Any]) -> CameraRig:
    """The clip's rig (OpenCV c2w) from its ``transforms.json``: static, with the clip's views and image
    size, and one frame entry per (frame, view)."""
    who, rel = f"clip {clip['key']}", f"{clip['dir']}/{TRANSFORMS}"
    data = _json_object(root, clip, TRANSFORMS, who)
    try:
        rig = cameras_from_transforms(data, rel)
    except EmoctlError as exc:
        raise _owned(who, rel, exc) from None
    T, V, W, H = clip["num_frames"], clip["num_views"], clip["width"], clip["height"]
    if (rig.num_views, rig.width, rig.height) != (V, W, H):
        raise DataError(f"{who}: {rel} has {rig.num_views} views of {rig.width}x{rig.height}, the manifest says "
                        f"{V} of {W}x{H}")
    if len(data["frames"]) != T * V:
        raise DataError(f"{who}: {rel} has {len(data['frames'])} frame entries, expected {T} x {V} = {T * V}")
    return rig


def clip_frame_files(clip: dict[str, Any]) -> list[str]:
    """The frame files of a clip (relative to its directory): one MP4 per view, or one PNG per (frame, view)."""
    views = range(clip["num_views"])
    if clip["frame_format"] == "mp4":
        return [mp4_view_file(v) for v in views]
    return [png_frame_file(t, v) for t in range(clip["num_frames"]) for v in views]


def read_frame_file(
    root: Path, clip: dict[str, Any], name: str, frame_indices: Sequence[int] | None = None
) -> np.ndarray:
    """One frame file of a clip, checked against the clip's image size: a PNG as uint8 ``[H, W, 3]``; a
    view's MP4 as uint8 ``[T, H, W, 3]`` (all ``T`` frames, or ``frame_indices`` in that order)."""
    who, rel = f"clip {clip['key']}", f"{clip['dir']}/{name}"
    size = (clip["height"], clip["width"], 3)
    try:
        if clip["frame_format"] == "mp4":
            pixels = read_mp4(root / rel, None if frame_indices is None else list(frame_indices))
            expected: tuple[int, ...] = (clip["num_frames"] if frame_indices is None else len(frame_indices), *size)
        else:
            pixels, expected = read_png(root / rel), size
    except EmoctlError as exc:
        raise _owned(who, rel, exc) from None
    if pixels.shape != expected:
        raise DataError(f"{who}: {rel} holds {list(pixels.shape)}, expected {list(expected)}")
    return pixels


def clip_frames(root: Path, clip: dict[str, Any], frame_indices: Sequence[int] | None = None) -> np.ndarray:
    """uint8 ``[T, V, H, W, 3]`` frames of a clip (all, or ``frame_indices`` in that order)."""
    indices = list(range(clip["num_frames"])) if frame_indices is None else [int(i) for i in frame_indices]
    views = range(clip["num_views"])
    if not indices:
        return np.zeros((0, len(views), clip["height"], clip["width"], 3), np.uint8)
    if clip["frame_format"] == "mp4":
        return np.stack([read_frame_file(root, clip, mp4_view_file(v), indices) for v in views], axis=1)
    return np.stack([np.stack([read_frame_file(root, clip, png_frame_file(t, v)) for v in views]) for t in indices])


def identity_reference_image(root: Path, identity: dict[str, Any]) -> np.ndarray:
    """uint8 ``[H, W, 3]`` reference image of an identity (``H``, ``W`` as its manifest entry says)."""
    who, rel = f"identity {identity['id']}", f"{identity['dir']}/{REFERENCE_IMAGE}"
    try:
        image = read_png(root / rel)
    except EmoctlError as exc:
        raise _owned(who, rel, exc) from None
    expected = (identity["height"], identity["width"], 3)
    if image.shape != expected:
        raise DataError(f"{who}: {rel} holds {list(image.shape)}, the manifest says {list(expected)}")
    return image


def identity_reference_camera(root: Path, identity: dict[str, Any]) -> CameraRig | None:
    """The one-view camera of an identity's reference image (its ``identity.json`` ``reference_camera``,
    OpenCV c2w), or None when the identity has none (``null``)."""
    who, rel = f"identity {identity['id']}", f"{identity['dir']}/{IDENTITY_JSON}"
    data = identity_record(root, identity).get("reference_camera")
    if data is None:
        return None
    try:
        if not isinstance(data, dict):
            raise DataError("reference_camera is not a camera rig object")
        rig = CameraRig.from_json(data)
    except (EmoctlError, KeyError, TypeError, ValueError, RuntimeError) as exc:
        raise DataError(f"{who}: {rel} has a malformed reference_camera ({exc})") from None
    if rig.num_views != 1:
        raise DataError(f"{who}: {rel} reference_camera has {rig.num_views} views, expected 1")
    if not bool(torch.isfinite(rig.c2w).all() and torch.isfinite(rig.K).all()):
        raise DataError(f"{who}: {rel} reference_camera holds NaN or infinite values")
    return rig


def identity_betas(root: Path, identity: dict[str, Any]) -> torch.Tensor | None:
    """Finite ``[300]`` betas of an identity, or None when it has none."""
    if not identity["has_betas"]:
        return None
    who, rel = f"identity {identity['id']}", f"{identity['dir']}/{BETAS_FILE}"
    betas = load_tensors(root / rel, who).get("betas")
    size = FLAME_IDENTITY_KEYS["betas"]
    if not isinstance(betas, torch.Tensor):
        raise DataError(f"{who}: {rel} has no 'betas' entry")
    if not betas.is_floating_point() or tuple(betas.shape) != (size,):
        raise DataError(f"{who}: {rel} holds betas of shape {list(betas.shape)} and dtype {betas.dtype}, "
                        f"expected floating [{size}]")
    if not bool(torch.isfinite(betas).all()):
        raise DataError(f"{who}: {rel} holds NaN or infinite betas")
    return betas
