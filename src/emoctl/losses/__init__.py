"""Training losses of the reference backbones (layer 15): :mod:`emoctl.losses.appearance`."""

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

__all__ = [
    "FOREGROUND_THRESHOLD",
    "LossWeights",
    "alpha_loss",
    "dssim",
    "foreground_mask",
    "masked_mse",
    "offset_regulariser",
    "reconstruction_loss",
]
