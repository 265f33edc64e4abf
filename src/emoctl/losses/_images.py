"""Shape checks and layout changes shared by the losses and the metrics (channels-last images)."""

from __future__ import annotations

import torch
from torch import Tensor

from emoctl.errors import ShapeError


def check_images(pred: Tensor, target: Tensor, what: str = "images") -> None:
    """``pred`` and ``target`` are float ``[..., H, W, 3]`` of one shape (channels last, as rendered)."""
    for name, x in (("prediction", pred), ("target", target)):
        if not isinstance(x, Tensor) or not x.is_floating_point():
            raise ShapeError(f"{what}: the {name} must be a floating tensor [..., H, W, 3]")
        if x.dim() < 3 or x.shape[-1] != 3:
            raise ShapeError(f"{what}: the {name} must be [..., H, W, 3] (channels last), got {tuple(x.shape)}")
    if pred.shape != target.shape:
        raise ShapeError(f"{what}: prediction {tuple(pred.shape)} and target {tuple(target.shape)} differ in shape")


def check_mask(mask: Tensor, images: Tensor, what: str) -> None:
    """``mask`` is ``[..., H, W, 1]`` matching ``images [..., H, W, C]`` except for the channel count."""
    if not isinstance(mask, Tensor) or mask.shape[:-1] != images.shape[:-1] or mask.shape[-1] != 1:
        got = tuple(mask.shape) if isinstance(mask, Tensor) else type(mask).__name__
        raise ShapeError(f"{what} must be {[*images.shape[:-1], 1]}, got {got}")


def as_nchw(images: Tensor) -> Tensor:
    """``[..., H, W, C]`` → ``[N, C, H, W]`` (leading axes flattened into ``N``)."""
    h, w, c = images.shape[-3:]
    return images.reshape(-1, h, w, c).permute(0, 3, 1, 2)


def ssim_per_image(pred: Tensor, target: Tensor, data_range: float = 1.0, win_size: int = 11) -> Tensor:
    """SSIM of each image pair, ``[...]`` for ``[..., H, W, 3]`` inputs (see :func:`emoctl.losses.dssim`)."""
    from pytorch_msssim import ssim

    lead = pred.shape[:-3]
    # the Gaussian window may not be larger than the image (an odd size, at least 3)
    win = max(3, min(win_size, min(pred.shape[-3:-1]) - (1 - min(pred.shape[-3:-1]) % 2)))
    values = ssim(as_nchw(pred), as_nchw(target), data_range=data_range, size_average=False, win_size=win)
    return values.reshape(lead) if lead else values.reshape(())


def mse_per_image(pred: Tensor, target: Tensor) -> Tensor:
    """Mean squared error of each image, ``[...]`` for ``[..., H, W, C]`` inputs."""
    return (pred - target).pow(2).flatten(-3).mean(-1)


def zero_like(x: Tensor) -> Tensor:
    return torch.zeros((), dtype=x.dtype, device=x.device)
