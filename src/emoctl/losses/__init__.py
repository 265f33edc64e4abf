"""Training losses (layer 15): :mod:`emoctl.losses.appearance` (rendered avatars against target frames,
for the reference backbones) and :mod:`emoctl.losses.geometry` (the paper's geometry modulation loss:
expression + jaw parameters and FLAME vertices against the target sequence)."""

from emoctl.losses.appearance import (
    FOREGROUND_THRESHOLD,
    LossWeights,
    alpha_loss,
    dssim,
    foreground_mask,
    masked_mse,
    offset_regulariser,
    reconstruction_loss,
)
from emoctl.losses.geometry import (
    GeometryLossWeights,
    VertexLoss,
    geometry_loss,
)

__all__ = [
    "FOREGROUND_THRESHOLD",
    "GeometryLossWeights",
    "LossWeights",
    "VertexLoss",
    "alpha_loss",
    "dssim",
    "foreground_mask",
    "geometry_loss",
    "masked_mse",
    "offset_regulariser",
    "reconstruction_loss",
]
