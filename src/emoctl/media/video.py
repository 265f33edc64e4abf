"""Videos: the one deterministic H.264 encoder, MP4/GIF files, and the MP4 reader.

Needs imageio and imageio-ffmpeg (``pip install "emoctl[video]"``), imported only when a video is
written or read, through one shim (:func:`_import`). :func:`write_video` and :func:`write_h264`
raise :class:`~emoctl.errors.MissingDependencyError` when they are missing; the dataset's
:func:`write_mp4` and :func:`read_mp4` raise :class:`~emoctl.errors.DataError`.

MP4 is lossy: reading gives the frames approximately. The encoder asks ffmpeg for bit-exact
output (no encoder version or metadata), so the same frames with the same ffmpeg give the same
bytes and an interrupted dataset build resumes byte-identically.
"""

from __future__ import annotations

import importlib
import os
from pathlib import Path
from types import ModuleType

import numpy as np
import torch

from emoctl._files import atomic_path, fsync_file
from emoctl.errors import DataError, EmoctlError, MissingDependencyError, RenderArgumentError, ShapeError
from emoctl.media.images import to_uint8

VIDEO_SUFFIXES = (".mp4", ".gif")

#: Constant rate factor of the H.264 encoder (0 lossless .. 51 worst; 18 is visually lossless).
MP4_CRF = 18

_VIDEO_NEEDS = 'writing videos needs imageio and imageio-ffmpeg: pip install "emoctl[video]"'
_MP4_NEEDS = 'writing MP4 videos needs imageio-ffmpeg: pip install "emoctl[video]"'
_DATASET_MP4_NEEDS = "MP4 frames need imageio-ffmpeg: pip install 'emoctl[video]' (or use frame_format='png')"


def _import(module: str, message: str, error: type[EmoctlError] = MissingDependencyError) -> ModuleType:
    """The optional-import shim: ``module`` (``"imageio.v2"`` or ``"imageio_ffmpeg"``), or
    ``error(message)`` when it is not installed."""
    try:
        return importlib.import_module(module)
    except ImportError as exc:
        raise error(message) from exc


def _dataset_ffmpeg() -> ModuleType:
    return _import("imageio_ffmpeg", _DATASET_MP4_NEEDS, DataError)


def write_h264(path: str | os.PathLike[str], frames: np.ndarray, fps: float,
               crf: int = MP4_CRF) -> None:
    """The one MP4 encoder: uint8 ``[T, H, W, 3]`` -> H.264 (yuv420p) MP4 at ``fps``.

    Deterministic: ffmpeg is asked for bit-exact output without encoder version or metadata, so
    the same frames with the same ffmpeg give the same bytes. The file is written in place (not
    atomically) and ``fsync``-ed. ``H`` and ``W`` must be even (yuv420p); see
    :func:`write_video` for padding.
    """
    if frames.ndim != 4 or frames.shape[-1] != 3 or frames.dtype != np.uint8:
        raise ShapeError(f"frames must be uint8 [T, H, W, 3], got {frames.dtype} {list(frames.shape)}")
    height, width = int(frames.shape[1]), int(frames.shape[2])
    if height % 2 or width % 2:
        raise ShapeError(f"H.264 (yuv420p) needs an even frame size, got {height} x {width}")
    writer = _import("imageio_ffmpeg", _MP4_NEEDS).write_frames(
        os.fspath(path),
        (width, height),
        fps=float(fps),
        codec="libx264",
        pix_fmt_in="rgb24",
        pix_fmt_out="yuv420p",
        quality=None,
        macro_block_size=1,
        ffmpeg_log_level="error",
        output_params=["-crf", str(int(crf)), "-fflags", "+bitexact", "-flags:v", "+bitexact",
                       "-map_metadata", "-1"],
    )
    writer.send(None)
    try:
        for frame in frames:
            writer.send(np.ascontiguousarray(frame))
    finally:
        writer.close()
    fsync_file(path)


def write_video(frames: torch.Tensor | np.ndarray, path: str | os.PathLike[str],
                fps: float = 25.0) -> Path:
    """Write frames as an MP4 (H.264 via :func:`write_h264`) or a looping GIF, chosen by the
    file suffix; atomic.

    Args:
        frames: ``[T, H, W, 3]``, float in ``[0, 1]`` or uint8, ``T >= 1``. MP4 frames of odd
            size are padded by one edge pixel (H.264 with yuv420p needs even sizes).
        path: ``*.mp4`` or ``*.gif``.
        fps: frames per second (> 0).

    Returns:
        The path written.
    """
    suffix = Path(path).suffix.lower()
    if suffix not in VIDEO_SUFFIXES:
        raise RenderArgumentError(f"video path must end in one of {VIDEO_SUFFIXES}, got {str(path)!r}")
    if not float(fps) > 0:
        raise RenderArgumentError(f"fps must be > 0, got {fps!r}")
    array = to_uint8(frames, "frames")
    if array.ndim != 4 or array.shape[-1] != 3 or 0 in array.shape:
        raise ShapeError(f"frames must have shape [T, H, W, 3] with T >= 1, got {array.shape}")
    # Both formats need the ``video`` extra: checked before any file is created. GIF is written
    # by imageio, MP4 by imageio-ffmpeg (write_h264).
    imageio_v2 = _import("imageio.v2", _VIDEO_NEEDS)
    if suffix == ".mp4":
        _import("imageio_ffmpeg", _MP4_NEEDS)
    with atomic_path(path) as tmp:
        if suffix == ".gif":
            duration_ms = 1000.0 / float(fps)
            imageio_v2.mimsave(tmp, list(array), format="GIF", duration=duration_ms, loop=0)
        else:
            h, w = array.shape[1:3]
            array = np.pad(array, ((0, 0), (0, h % 2), (0, w % 2), (0, 0)), mode="edge")
            write_h264(tmp, array, fps)
    return Path(path)


def write_mp4(path: str | os.PathLike[str], frames: np.ndarray, fps: float, crf: int = MP4_CRF) -> None:
    """:func:`write_h264` for the dataset: uint8 ``[T, H, W, 3]`` -> H.264 (yuv420p) MP4 at
    ``fps``, ``fsync``-ed; bad frames or a missing video extra raise
    :class:`~emoctl.errors.DataError`."""
    if frames.ndim != 4 or frames.shape[-1] != 3 or frames.dtype != np.uint8:
        raise DataError(f"write_mp4: expected uint8 [T, H, W, 3], got {frames.dtype} {list(frames.shape)}")
    _dataset_ffmpeg()  # the dataset's error when the video extra is missing
    write_h264(path, frames, fps, crf)


def read_mp4(path: str | os.PathLike[str], frame_indices: list[int] | None = None) -> np.ndarray:
    """MP4 file -> uint8 ``[T, H, W, 3]`` (all frames, or only ``frame_indices``, in that order)."""
    if not Path(path).is_file():
        raise DataError(f"video {os.fspath(path)} does not exist")
    wanted = None if frame_indices is None else set(int(i) for i in frame_indices)
    last = None if not wanted else max(wanted)
    try:
        reader = _dataset_ffmpeg().read_frames(os.fspath(path), pix_fmt="rgb24")
        meta = next(reader)
        width, height = meta["size"]
        kept: dict[int, np.ndarray] = {}
        all_frames: list[np.ndarray] = []
        try:
            for index, raw in enumerate(reader):
                frame = np.frombuffer(raw, dtype=np.uint8).reshape(height, width, 3)
                if wanted is None:
                    all_frames.append(frame)
                elif index in wanted:
                    kept[index] = frame
                if last is not None and index >= last:
                    break
        finally:
            reader.close()
    except (RuntimeError, OSError, StopIteration, KeyError, ValueError) as exc:
        raise DataError(f"video {os.fspath(path)} is not a readable MP4 ({exc})") from None
    if frame_indices is None:
        return np.stack(all_frames) if all_frames else np.zeros((0, height, width, 3), np.uint8)
    missing = sorted(set(wanted or ()) - set(kept))
    if missing:
        raise DataError(f"video {os.fspath(path)} has no frames {missing} (it ends earlier)")
    return np.stack([kept[int(i)] for i in frame_indices]) if frame_indices else np.zeros((0, height, width, 3), np.uint8)
