"""Per-image PSNR and SSIM of channels-last images ``[..., H, W, 3]`` in [0, 1].

Both return one float32 value per image (shape ``[...]``, the leading axes); call them under
``torch.no_grad()`` in evaluation.

- :func:`psnr`: ``10 log10(1 / MSE)`` dB; identical images (MSE 0) give :data:`PSNR_CAP_DB` = 100 dB
  rather than inf, so means over a set stay finite (100 dB is an MSE of 1e-10, far below 8-bit
  quantisation, so no real pair reaches the cap);
- :func:`ssim`: structural similarity (Gaussian window 11, sigma 1.5, K = (0.01, 0.03); the window
  shrinks for images smaller than it) by ``pytorch-msssim`` (see :func:`emoctl.losses.dssim`).
"""

from __future__ import annotations

import torch
from torch import Tensor

from emoctl.losses._images import check_images, mse_per_image, ssim_per_image

#: PSNR of identical images (dB).
PSNR_CAP_DB = 100.0


def psnr(pred: Tensor, target: Tensor, data_range: float = 1.0) -> Tensor:
    """``[...]`` PSNR (dB) of each image pair ``[..., H, W, 3]``, capped at :data:`PSNR_CAP_DB`."""
    check_images(pred, target, "psnr")
    mse = mse_per_image(pred.float(), target.float())
    floor = data_range ** 2 * 10.0 ** (-PSNR_CAP_DB / 10.0)
    return 10.0 * torch.log10(data_range ** 2 / mse.clamp_min(floor))


def ssim(pred: Tensor, target: Tensor, data_range: float = 1.0) -> Tensor:
    """``[...]`` SSIM of each image pair ``[..., H, W, 3]`` (1 for identical images)."""
    check_images(pred, target, "ssim")
    return ssim_per_image(pred.float(), target.float(), data_range)
