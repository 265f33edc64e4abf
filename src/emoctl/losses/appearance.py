"""Appearance losses of a rendered avatar against target frames (self-reenactment training).

All images are channels last, as the backbones render them: ``pred``, ``target`` float
``[B, N, H, W, 3]`` in [0, 1] (``N`` rendered (frame, view) pairs; any leading axes work), render
alpha and masks ``[B, N, H, W, 1]``. Every shape is checked (:class:`~emoctl.errors.ShapeError`).

- :func:`masked_mse`: mean squared error, over the whole image or over a mask;
- :func:`dssim`: ``1 - SSIM`` (structural dissimilarity), computed by ``pytorch-msssim``: a small
  pure-torch package (no compiled code, no dependency beyond torch) whose Gaussian-window SSIM
  matches the reference implementation (Wang et al. 2004) and is differentiable; torchmetrics
  would pull in a far larger package for the same number;
- :func:`alpha_loss`: L1 between the rendered alpha and the foreground mask of the target;
- :func:`offset_regulariser`: keeps the Gaussians near their anchors;
- :func:`reconstruction_loss`: the weighted sum (:class:`LossWeights`) and its terms.

Foreground masks of the synthetic frames (:func:`foreground_mask`): the synthetic world renders
heads on a white (1, 1, 1) background, so a pixel is foreground when any channel is below
:data:`FOREGROUND_THRESHOLD` (0.995, i.e. darker than 253.7 / 255: PNG rounding of a white pixel
stays white, antialiased head borders count as head).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Mapping

from torch import Tensor

from emoctl.errors import ShapeError
from emoctl.losses._images import check_images, check_mask, ssim_per_image, zero_like
from emoctl.losses._weights import WeightsConfig

#: A pixel whose channels are all at or above this is background (the synthetic world's white).
FOREGROUND_THRESHOLD = 0.995


def foreground_mask(images: Tensor, threshold: float = FOREGROUND_THRESHOLD) -> Tensor:
    """float ``[..., H, W, 1]`` mask (1 = head) of white-background images ``[..., H, W, 3]``."""
    if not isinstance(images, Tensor) or images.dim() < 3 or images.shape[-1] != 3:
        raise ShapeError(f"foreground_mask needs images [..., H, W, 3], got {getattr(images, 'shape', images)!r}")
    return (images < threshold).any(-1, keepdim=True).to(images.dtype)


def masked_mse(pred: Tensor, target: Tensor, mask: Tensor | None = None) -> Tensor:
    """Mean squared error of ``[..., H, W, 3]`` images; with ``mask [..., H, W, 1]`` the mean over the
    masked pixels only (0 when the mask is empty)."""
    check_images(pred, target, "masked_mse")
    sq = (pred - target).pow(2)
    if mask is None:
        return sq.mean()
    check_mask(mask, pred, "masked_mse: mask")
    weight = mask.to(sq.dtype)
    return (sq * weight).sum() / (3.0 * weight.sum()).clamp_min(1.0)


def dssim(pred: Tensor, target: Tensor, win_size: int = 11) -> Tensor:
    """Mean ``1 - SSIM`` of ``[..., H, W, 3]`` images in [0, 1] (Gaussian window ``win_size``, sigma 1.5;
    the window shrinks to the largest odd size that fits smaller images)."""
    check_images(pred, target, "dssim")
    return 1.0 - ssim_per_image(pred, target, 1.0, win_size).mean()


def alpha_loss(alpha: Tensor, mask: Tensor) -> Tensor:
    """Mean absolute difference of the render alpha ``[..., H, W, 1]`` and a mask of the same shape."""
    if not isinstance(alpha, Tensor) or alpha.dim() < 3 or alpha.shape[-1] != 1:
        raise ShapeError(f"alpha_loss: alpha must be [..., H, W, 1], got {getattr(alpha, 'shape', alpha)!r}")
    check_mask(mask, alpha, "alpha_loss: mask")
    return (alpha - mask.to(alpha.dtype)).abs().mean()


def offset_regulariser(offsets: Tensor, scale: float = 0.01) -> Tensor:
    """Mean squared length of the Gaussians' offsets ``[B, (T,) G, 3]`` from their anchors, in units of
    ``scale`` metres (LAM's offsets are a few millimetres; 0.01 makes the term about 1 at 1 cm)."""
    if not isinstance(offsets, Tensor) or offsets.dim() < 2 or offsets.shape[-1] != 3:
        raise ShapeError(f"offset_regulariser: offsets must be [B, (T,) G, 3], got {getattr(offsets, 'shape', offsets)!r}")
    return (offsets / scale).pow(2).sum(-1).mean()


@dataclass(frozen=True)
class LossWeights(WeightsConfig):
    """Weights of the reconstruction terms (0 turns a term off; it is then not computed)."""

    mse: float = 1.0
    dssim: float = 0.2
    alpha: float = 0.1
    offset: float = 0.01


def reconstruction_loss(pred: Tensor, target: Tensor, alpha: Tensor, mask: Tensor, offsets: Tensor,
                        weights: LossWeights | Mapping[str, float] = LossWeights()) -> tuple[Tensor, dict[str, Tensor]]:
    """``(total, terms)`` for rendered ``pred [B, N, H, W, 3]`` against ``target`` (same shape), render
    ``alpha [B, N, H, W, 1]`` against the target's foreground ``mask`` (same shape) and the avatar's
    ``offsets [B, (T,) G, 3]``. ``terms``: ``mse`` (whole image: the background is supervised too),
    ``dssim``, ``alpha``, ``offset``, each unweighted and detached; the total is differentiable."""
    if not isinstance(weights, LossWeights):
        weights = LossWeights.from_json(weights)
    check_images(pred, target, "reconstruction_loss")
    check_mask(alpha, pred, "reconstruction_loss: alpha")
    check_mask(mask, pred, "reconstruction_loss: mask")
    if offsets.dim() < 3 or offsets.shape[0] != pred.shape[0]:
        raise ShapeError(f"reconstruction_loss: offsets must be [{pred.shape[0]}, (T,) G, 3], got {tuple(offsets.shape)}")
    terms = {
        "mse": masked_mse(pred, target),
        "dssim": dssim(pred, target) if weights.dssim else zero_like(pred),
        "alpha": alpha_loss(alpha, mask) if weights.alpha else zero_like(pred),
        "offset": offset_regulariser(offsets) if weights.offset else zero_like(pred),
    }
    total = sum(getattr(weights, name) * value for name, value in terms.items())
    return total, {name: value.detach() for name, value in terms.items()}
