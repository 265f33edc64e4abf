"""Labelled image grids: equally sized images tiled into one picture, a text label under each."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import torch

from emoctl._checks import int_at_least
from emoctl.errors import ShapeError
from emoctl.media.images import to_uint8


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
