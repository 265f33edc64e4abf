"""Still images: 8-bit conversion, the one PNG encoder, atomic PNG files, and the PNG reader.

PNG is lossless and byte-deterministic: the same pixels give the same bytes. Pillow is imported
only when an image is encoded or read.
"""

from __future__ import annotations

import io
import os
from collections.abc import Sequence
from pathlib import Path

import numpy as np
import torch

from emoctl._files import atomic_path, fsync_file
from emoctl.errors import DataError, NonFiniteError, ShapeError

#: zlib level of the PNG encoder (Pillow's default).
PNG_COMPRESS_LEVEL = 6


def to_uint8(image: torch.Tensor | np.ndarray, name: str = "image") -> np.ndarray:
    """Convert an image (or a stack) to ``uint8``.

    Floating input is read as ``[0, 1]`` (values outside are clipped, then ``round(255 x)``);
    ``uint8`` input is returned as is. Any leading shape is kept.
    """
    if isinstance(image, torch.Tensor):
        image = image.detach().cpu().numpy()
    array = np.asarray(image)
    if array.dtype == np.uint8:
        return array
    if array.dtype == np.bool_ or not (np.issubdtype(array.dtype, np.floating)):
        raise ShapeError(f"{name} must be float in [0, 1] or uint8, got dtype {array.dtype}")
    if not np.isfinite(array).all():
        raise NonFiniteError(f"{name} contains NaN or infinite values")
    return np.round(np.clip(array, 0.0, 1.0) * 255.0).astype(np.uint8)


def _check_image(array: np.ndarray, name: str, channels: Sequence[int]) -> np.ndarray:
    if array.ndim == 2 and 1 in channels:
        array = array[..., None]
    if array.ndim != 3 or array.shape[-1] not in channels or 0 in array.shape:
        raise ShapeError(
            f"{name} must have shape [H, W, C] with C in {tuple(channels)}, got {array.shape}"
        )
    return array


def _write_png(array: np.ndarray, fp: str | os.PathLike[str] | io.BytesIO,
               compress_level: int) -> None:
    """The one PNG encoder: checked uint8 ``[H, W, C]`` (C = 1, 3, 4: L, RGB, RGBA) into ``fp``."""
    from PIL import Image

    pixels = np.ascontiguousarray(array[..., 0] if array.shape[-1] == 1 else array)
    Image.fromarray(pixels).save(fp, format="PNG", compress_level=compress_level)


def encode_png(image: torch.Tensor | np.ndarray,
               compress_level: int = PNG_COMPRESS_LEVEL) -> bytes:
    """Encode one image as PNG bytes (lossless; the same pixels give the same bytes).

    Args:
        image: ``[H, W, 3]`` (RGB), ``[H, W, 4]`` (RGBA), ``[H, W, 1]`` or ``[H, W]`` (grey),
            float in ``[0, 1]`` or ``uint8``.
        compress_level: zlib level 0..9.
    """
    buf = io.BytesIO()
    _write_png(_check_image(to_uint8(image), "image", (1, 3, 4)), buf, compress_level)
    return buf.getvalue()


def save_png(image: torch.Tensor | np.ndarray, path: str | os.PathLike[str]) -> Path:
    """Write one image as PNG (atomically; the bytes of :func:`encode_png`).

    Args:
        image: ``[H, W, 3]`` or ``[H, W, 4]`` (also ``[H, W, 1]`` / ``[H, W]`` grey), float in
            ``[0, 1]`` or ``uint8``.
        path: destination file.

    Returns:
        The path written.
    """
    array = _check_image(to_uint8(image), "image", (1, 3, 4))
    with atomic_path(path) as tmp:
        _write_png(array, tmp, PNG_COMPRESS_LEVEL)
        fsync_file(tmp)
    return Path(path)


def read_png(path: str | os.PathLike[str]) -> np.ndarray:
    """PNG file -> uint8 ``[H, W, 3]``; :class:`~emoctl.errors.DataError` when it is missing or
    not a readable image."""
    from PIL import Image, UnidentifiedImageError

    try:
        with Image.open(path) as img:
            return np.array(img.convert("RGB"))
    except FileNotFoundError:
        raise DataError(f"image {os.fspath(path)} does not exist") from None
    except (UnidentifiedImageError, OSError, SyntaxError) as exc:
        raise DataError(f"image {os.fspath(path)} is not a readable PNG ({exc})") from None
