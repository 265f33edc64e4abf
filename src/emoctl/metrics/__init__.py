"""Image metrics of the backbone trainer and evaluation (layer 15): :mod:`emoctl.metrics.image`."""

from emoctl.metrics.image import PSNR_CAP_DB, psnr, ssim

__all__ = ["PSNR_CAP_DB", "psnr", "ssim"]
