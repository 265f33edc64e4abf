"""Frame storage: PNG images (Pillow) and H.264 MP4 videos (imageio-ffmpeg, imported lazily).

The encoders are :mod:`emoctl.render.media`'s (:func:`~emoctl.render.media.encode_png`,
:func:`~emoctl.render.media.write_h264`); this module adds the readers and the dataset's error
type. PNG is lossless and byte-deterministic. MP4 is lossy: reading gives the frames
approximately; the writer asks ffmpeg for bit-exact output (no encoder version or metadata), so
the same frames with the same ffmpeg give the same bytes and an interrupted build resumes
byte-identically.
"""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np

from emoctl.errors import DataError
from emoctl.render.media import MP4_CRF, encode_png, write_h264

__all__ = ["encode_png", "read_mp4", "read_png", "write_mp4"]


def read_png(path: str | os.PathLike[str]) -> np.ndarray:
    """PNG file -> uint8 ``[H, W, 3]``."""
    from PIL import Image, UnidentifiedImageError

    try:
        with Image.open(path) as img:
            return np.array(img.convert("RGB"))
    except FileNotFoundError:
        raise DataError(f"image {os.fspath(path)} does not exist") from None
    except (UnidentifiedImageError, OSError, SyntaxError) as exc:
        raise DataError(f"image {os.fspath(path)} is not a readable PNG ({exc})") from None


def _ffmpeg():
    try:
        import imageio_ffmpeg
    except ImportError:  # pragma: no cover - exercised only without the video extra
        raise DataError(
            "MP4 frames need imageio-ffmpeg: pip install 'emoctl[video]' (or use frame_format='png')"
        ) from None
    return imageio_ffmpeg


def write_mp4(path: str | os.PathLike[str], frames: np.ndarray, fps: float, crf: int = MP4_CRF) -> None:
    """uint8 ``[T, H, W, 3]`` -> H.264 (yuv420p) MP4 at ``fps``; ``fsync``-ed
    (:func:`emoctl.render.media.write_h264`)."""
    if frames.ndim != 4 or frames.shape[-1] != 3 or frames.dtype != np.uint8:
        raise DataError(f"write_mp4: expected uint8 [T, H, W, 3], got {frames.dtype} {list(frames.shape)}")
    _ffmpeg()  # the dataset's error (DataError) when the video extra is missing
    write_h264(path, frames, fps, crf)


def read_mp4(path: str | os.PathLike[str], frame_indices: list[int] | None = None) -> np.ndarray:
    """MP4 file -> uint8 ``[T, H, W, 3]`` (all frames, or only ``frame_indices``, in that order)."""
    if not Path(path).is_file():
        raise DataError(f"video {os.fspath(path)} does not exist")
    wanted = None if frame_indices is None else set(int(i) for i in frame_indices)
    last = None if not wanted else max(wanted)
    try:
        reader = _ffmpeg().read_frames(os.fspath(path), pix_fmt="rgb24")
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
