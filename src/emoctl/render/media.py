"""Writing rendered images: PNG frames, labelled grids, MP4/GIF videos.

Every writer is atomic: it writes a temporary file in the destination folder and moves it into
place with ``os.replace``, so a failure never leaves a half-written or clobbered file.
Videos need imageio and imageio-ffmpeg (``pip install "emoctl[video]"``), imported only when a
video is written; Pillow is imported only when an image is written.

The PNG encoder (:func:`encode_png`) and the H.264 encoder (:func:`write_h264`) here are also the
ones :mod:`emoctl.data` stores dataset frames with.
"""

from __future__ import annotations

import io
import os
from collections.abc import Sequence
from pathlib import Path

import numpy as np
import torch

from emoctl._files import atomic_path
from emoctl.errors import NonFiniteError, ShapeError
from emoctl.render.errors import MissingDependencyError, RenderArgumentError
from emoctl.render.validation import int_at_least

VIDEO_SUFFIXES = (".mp4", ".gif")

#: zlib level of the PNG encoder (Pillow's default).
PNG_COMPRESS_LEVEL = 6

#: Constant rate factor of the H.264 encoder (0 lossless .. 51 worst; 18 is visually lossless).
MP4_CRF = 18


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
        _fsync(tmp)
    return Path(path)


def _fsync(path: str | os.PathLike[str]) -> None:
    with open(path, "rb") as fh:
        os.fsync(fh.fileno())


def image_grid(images: torch.Tensor | np.ndarray | Sequence[torch.Tensor | np.ndarray],
               ncols: int, labels: Sequence[str] | None = None, pad: int = 2,
               background: int = 255) -> np.ndarray:
    """Tile equally sized images into a grid, optionally with a text label under each.

    Args:
        images: ``[N, H, W, 3]`` (or a list of ``[H, W, 3]``), float in ``[0, 1]`` or uint8.
        ncols: images per row (>= 1); rows are ``ceil(N / ncols)``.
        labels: ``N`` strings drawn (Pillow's default font, black) in a strip under each image.
        pad: pixels of ``background`` around and between the cells.
        background: grey level of the padding and the label strips.

    Returns:
        ``[H', W', 3]`` uint8.
    """
    from PIL import Image, ImageDraw, ImageFont

    if isinstance(images, (list, tuple)):
        if not images:
            raise ShapeError("images is empty; need at least one image")
        arrays = [to_uint8(im, f"images[{i}]") for i, im in enumerate(images)]
        shapes = {a.shape for a in arrays}
        if len(shapes) != 1:
            raise ShapeError(f"all images must have the same shape, got {sorted(shapes)}")
        stack = np.stack(arrays)
    else:
        stack = to_uint8(images, "images")
    if stack.ndim != 4 or stack.shape[-1] != 3 or stack.shape[0] == 0:
        raise ShapeError(f"images must have shape [N, H, W, 3] with N >= 1, got {stack.shape}")
    ncols = int_at_least(ncols, "ncols")
    pad = int_at_least(pad, "pad", minimum=0)
    n, h, w, _ = stack.shape
    if labels is not None:
        labels = [str(label) for label in labels]
        if len(labels) != n:
            raise ShapeError(f"got {len(labels)} labels for {n} images")
    font = ImageFont.load_default()
    label_h = 0
    if labels is not None:
        heights = [font.getbbox(label or " ")[3] for label in labels]
        label_h = max(heights) + 4
    ncols = min(ncols, n)
    nrows = -(-n // ncols)
    cell_h, cell_w = h + label_h, w
    canvas = Image.new(
        "RGB",
        (ncols * cell_w + (ncols + 1) * pad, nrows * cell_h + (nrows + 1) * pad),
        (background,) * 3,
    )
    draw = ImageDraw.Draw(canvas)
    for i in range(n):
        row, col = divmod(i, ncols)
        x = pad + col * (cell_w + pad)
        y = pad + row * (cell_h + pad)
        canvas.paste(Image.fromarray(stack[i]), (x, y))
        if labels is not None:
            draw.text((x + 2, y + h + 2), labels[i], fill=(0, 0, 0), font=font)
    return np.asarray(canvas)


def _import_imageio():  # noqa: ANN202 - the module
    try:
        import imageio.v2 as imageio_v2
    except ImportError as exc:
        raise MissingDependencyError(
            'writing videos needs imageio and imageio-ffmpeg: pip install "emoctl[video]"'
        ) from exc
    return imageio_v2


def _import_imageio_ffmpeg():  # noqa: ANN202 - the module
    try:
        import imageio_ffmpeg
    except ImportError as exc:
        raise MissingDependencyError(
            'writing MP4 videos needs imageio-ffmpeg: pip install "emoctl[video]"'
        ) from exc
    return imageio_ffmpeg


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
    writer = _import_imageio_ffmpeg().write_frames(
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
    _fsync(path)


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
    imageio_v2 = _import_imageio()
    if suffix == ".mp4":
        _import_imageio_ffmpeg()
    with atomic_path(path) as tmp:
        if suffix == ".gif":
            duration_ms = 1000.0 / float(fps)
            imageio_v2.mimsave(tmp, list(array), format="GIF", duration=duration_ms, loop=0)
        else:
            h, w = array.shape[1:3]
            array = np.pad(array, ((0, 0), (0, h % 2), (0, w % 2), (0, 0)), mode="edge")
            write_h264(tmp, array, fps)
    return Path(path)
