"""Writing one identity, one anchor or one clip of a dataset (called by :mod:`emoctl.data.builder`).

Identity and anchor files are written one by one with :func:`~emoctl._files.atomic_write_bytes`
(idempotent: shards that need the same identity write identical bytes). A clip is written into a
temporary sibling directory, every file ``fsync``-ed, and renamed into place in one step, so a
clip directory that exists is complete.
"""

from __future__ import annotations

import os
import shutil
from pathlib import Path
from typing import Any

import numpy as np
import torch

from emoctl._files import atomic_write_bytes
from emoctl.data.cameras import CameraRig
from emoctl.data.config import DatasetConfig
from emoctl.data.flame_params import FlameSequence
from emoctl.data.io import (
    TMP_PREFIX,
    canonical_json,
    file_record,
    flame_to_bytes,
    fsync_dir,
    sha256_bytes,
    temporary_prefix,
    temporary_sibling,
    write_durable,
)
from emoctl.data.layout import (
    ANCHOR_JSON,
    BETAS_FILE,
    CLIP_JSON,
    FORMAT_NAME,
    GROUND_TRUTH_FLAME,
    IDENTITY_JSON,
    REFERENCE_IMAGE,
    SCHEMA_VERSION,
    TRACKED_FLAME,
    TRANSFORMS,
    anchor_dir,
    anchor_emotion_file,
    identity_dir,
    mp4_view_file,
    png_frame_file,
)
from emoctl.data.records import timestamps_digest
from emoctl.data.transforms import transforms_for_clip
from emoctl.data.types import AnchorClip, Identity
from emoctl.emotions import Vocabulary
from emoctl.media import encode_png, write_mp4


def _write_files(root: Path, directory: str, files: dict[str, bytes], tag: str) -> tuple[dict[str, Any], int]:
    """Write ``files`` (name -> bytes) under ``root/directory``; their records (by name) and the bytes written."""
    records: dict[str, Any] = {}
    written = 0
    for name, data in files.items():
        if atomic_write_bytes(root / directory / name, data, skip_identical=True, tmp_prefix=temporary_prefix(tag)):
            written += len(data)
        records[name] = {"sha256": sha256_bytes(data), "bytes": len(data)}
    return dict(sorted(records.items())), written


def _write_entry(
    root: Path, directory: str, files: dict[str, bytes], record_name: str, record: dict[str, Any], tag: str,
    entry: dict[str, Any],
) -> tuple[dict[str, Any], int]:
    """Write ``files`` and the JSON ``record`` (as ``record_name``, with the format and schema version)
    under ``root/directory``; the manifest entry (``entry`` with ``dir`` and ``files``) and bytes written."""
    files[record_name] = canonical_json({"format": FORMAT_NAME, "schema_version": SCHEMA_VERSION, **record})
    records, written = _write_files(root, directory, files, tag)
    return {**entry, "dir": directory, "files": records}, written


def write_identity(
    root: Path, identity: Identity, vocabulary: Vocabulary, config: DatasetConfig, tag: str
) -> tuple[dict[str, Any], int]:
    """Write ``identities/<id>/``; returns its manifest entry and the number of bytes written."""
    height, width = identity.reference_image.shape[:2]
    files: dict[str, bytes] = {REFERENCE_IMAGE: encode_png(identity.reference_image, config.png_compress_level)}
    if identity.betas is not None:
        files[BETAS_FILE] = flame_to_bytes({"betas": identity.betas})
    reference_emotion = identity.reference_emotion
    info = {
        "identity_id": identity.identity_id,
        "reference_image": REFERENCE_IMAGE,
        "height": int(height),
        "width": int(width),
        "betas": BETAS_FILE if identity.betas is not None else None,
        "reference_emotion": vocabulary[vocabulary.index(reference_emotion)] if reference_emotion else None,
        "reference_camera": identity.reference_camera.to_json() if identity.reference_camera is not None else None,
        "traits": identity.traits,
    }
    entry = {
        "id": identity.identity_id,
        "reference_emotion": info["reference_emotion"],
        "height": int(height),
        "width": int(width),
        "has_betas": identity.betas is not None,
        "traits": identity.traits,
    }
    return _write_entry(root, identity_dir(identity.identity_id), files, IDENTITY_JSON, info, tag, entry)


def write_anchor(
    root: Path, anchor: AnchorClip, source_fps: float, vocabulary: Vocabulary, tag: str,
    curve_names: tuple[str, ...] = (),
) -> tuple[dict[str, Any], int]:
    """Write ``anchors/<id>/`` (the anchor at the dataset's frame rate, with its curves ``curve_names``);
    its manifest entry and bytes written."""
    files: dict[str, bytes] = {
        anchor_emotion_file(emotion): flame_to_bytes(anchor.emotions[emotion]) for emotion in vocabulary.names
    }
    for name in curve_names:
        files[anchor_emotion_file(name)] = flame_to_bytes(anchor.curves[name].flame)
    info = {
        "anchor_id": anchor.anchor_id,
        "fps": anchor.fps,
        "source_fps": float(source_fps),
        "num_frames": anchor.num_frames,
        "timestamps": anchor.timestamps.tolist(),
        "emotions": {emotion: anchor_emotion_file(emotion) for emotion in vocabulary.names},
        "cameras": anchor.cameras.to_json(),
        "meta": anchor.meta,
    }
    if curve_names:  # absent without curves: those anchors keep their bytes
        info["curves"] = {name: {"flame": anchor_emotion_file(name), "emotion_curve": anchor.curves[name].weights.tolist()}
                          for name in curve_names}
    entry = {
        "id": anchor.anchor_id,
        "fps": anchor.fps,
        "num_frames": anchor.num_frames,
        "num_views": anchor.cameras.num_views,
        "timestamps_sha256": timestamps_digest(anchor.timestamps),
    }
    return _write_entry(root, anchor_dir(anchor.anchor_id), files, ANCHOR_JSON, info, tag, entry)


def remove_leftovers(directory: Path, prefix: str = TMP_PREFIX) -> None:
    """Remove temporary files and directories (names starting with ``prefix``) an interrupted build left."""
    if not directory.is_dir():
        return
    for child in directory.iterdir():
        if child.name.startswith(prefix):
            if child.is_dir() and not child.is_symlink():
                shutil.rmtree(child, ignore_errors=True)
            else:
                child.unlink(missing_ok=True)


def write_clip(
    final_dir: Path,
    *,
    key: str,
    identity_id: str,
    anchor: AnchorClip,
    emotion: str,
    emotion_id: int,
    frames: np.ndarray,
    cameras: CameraRig,
    tracked: FlameSequence,
    ground_truth: FlameSequence | None,
    config: DatasetConfig,
    emotion_curve: torch.Tensor | None = None,
) -> tuple[dict[str, Any], bytes]:
    """Write one complete clip atomically; returns its ``clip.json`` record and bytes.

    ``frames`` uint8 ``[T, V, H, W, 3]``; ``emotion_curve`` the ``[T, K]`` weights of a curve clip
    (recorded in ``clip.json``). Everything goes into a temporary sibling of ``final_dir``
    first; the rename is the commit point.
    """
    num_frames, num_views, height, width = (int(s) for s in frames.shape[:4])
    final_dir.parent.mkdir(parents=True, exist_ok=True)
    tmp = temporary_sibling(final_dir, emotion)
    try:
        (tmp / "frames").mkdir(parents=True)
        files: dict[str, Any] = {}

        def put(name: str, data: bytes) -> None:
            write_durable(tmp / name, data)
            files[name] = {"sha256": sha256_bytes(data), "bytes": len(data)}

        if config.frame_format == "mp4":
            for v in range(num_views):
                name = mp4_view_file(v)
                write_mp4(tmp / name, frames[:, v], anchor.fps, config.video_crf)
                files[name] = file_record(tmp / name)
        else:
            for t in range(num_frames):
                for v in range(num_views):
                    put(png_frame_file(t, v), encode_png(frames[t, v], config.png_compress_level))
        fsync_dir(tmp / "frames")
        put(TRACKED_FLAME, flame_to_bytes(tracked))
        if ground_truth is not None:
            put(GROUND_TRUTH_FLAME, flame_to_bytes(ground_truth))
        put(TRANSFORMS, canonical_json(transforms_for_clip(cameras, num_frames, config.frame_format)))
        record = {
            "format": FORMAT_NAME,
            "schema_version": SCHEMA_VERSION,
            "key": key,
            "identity": identity_id,
            "anchor": anchor.anchor_id,
            "emotion": emotion,
            "emotion_id": emotion_id,
            "num_frames": num_frames,
            "num_views": num_views,
            "height": height,
            "width": width,
            "fps": anchor.fps,
            "frame_format": config.frame_format,
            "has_ground_truth": ground_truth is not None,
            "timestamps": anchor.timestamps.tolist(),
            "files": dict(sorted(files.items())),
        }
        if emotion_curve is not None:
            record["emotion_curve"] = emotion_curve.tolist()
        record_bytes = canonical_json(record)
        write_durable(tmp / CLIP_JSON, record_bytes)
        fsync_dir(tmp)
        os.rename(tmp, final_dir)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    fsync_dir(final_dir.parent)
    return record, record_bytes


def frames_as_numpy(frames: Any) -> Any:
    """Reenactor frames as a numpy array when they are a tensor (anything else is returned unchanged)."""
    if isinstance(frames, torch.Tensor):
        return frames.detach().cpu().numpy()
    return frames
