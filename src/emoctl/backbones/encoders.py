"""Image encoders trained from scratch (no pretrained weights are reachable here).

:class:`PatchViTEncoder` is a plain ViT: a strided-convolution patch embedding, a learned position
embedding and ``torch.nn.TransformerEncoder`` (PyTorch's own pre-norm encoder layers, a kept
library's block, not written again). It stands in for LAM's DINOv2 and Dual-UV's Sapiens.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from emoctl.errors import ShapeError


def as_image_batch(image: Tensor, size: int) -> Tensor:
    """LAM's ``image [B, 1, 3, H, W]`` (or ``[B, 3, H, W]``) in [0, 1] → ``[B, 3, size, size]``
    (resized with antialiasing when it is another size)."""
    if image.dim() == 5:
        if image.shape[1] != 1:
            raise ShapeError(f"image must be [B, 1, 3, H, W] (one reference view), got {tuple(image.shape)}")
        image = image[:, 0]
    if image.dim() != 4 or image.shape[1] != 3:
        raise ShapeError(f"image must be [B, 1, 3, H, W] or [B, 3, H, W], got {tuple(image.shape)}")
    if not image.is_floating_point():
        raise ShapeError(f"image must be a float tensor in [0, 1], got {image.dtype}")
    if image.shape[-2:] != (size, size):
        image = F.interpolate(image, size=(size, size), mode="bilinear", antialias=True, align_corners=False)
    return image


class PatchViTEncoder(nn.Module):
    """``[B, 3, S, S]`` → tokens ``[B, (S/p)^2, dim]`` (row-major patches)."""

    def __init__(self, image_size: int, patch: int, dim: int, depth: int, heads: int):
        super().__init__()
        if image_size % patch:
            raise ShapeError(f"image_size {image_size} is not a multiple of patch {patch}")
        self.image_size = image_size
        self.grid = image_size // patch
        self.patch_embed = nn.Conv2d(3, dim, kernel_size=patch, stride=patch)
        self.pos_embed = nn.Parameter(torch.randn(1, self.grid * self.grid, dim) * 0.02)
        layer = nn.TransformerEncoderLayer(dim, heads, dim_feedforward=4 * dim, dropout=0.0, activation="gelu",
                                           batch_first=True, norm_first=True)
        self.blocks = nn.TransformerEncoder(layer, depth, enable_nested_tensor=False)
        self.norm = nn.LayerNorm(dim)

    def forward(self, image: Tensor) -> Tensor:
        x = self.patch_embed(image * 2.0 - 1.0).flatten(2).transpose(1, 2) + self.pos_embed
        return self.norm(self.blocks(x))

    def feature_map(self, tokens: Tensor) -> Tensor:
        """``[B, P, dim]`` tokens → ``[B, dim, g, g]`` map."""
        return tokens.transpose(1, 2).reshape(tokens.shape[0], -1, self.grid, self.grid)


def fourier_features(x: Tensor, bands: int) -> Tensor:
    """``[..., 3]`` → ``[..., 3 + 6 * bands]`` (x, sin and cos of ``2^k pi x``)."""
    freqs = (2.0 ** torch.arange(bands, dtype=x.dtype, device=x.device)) * torch.pi
    angles = x[..., None] * freqs  # [..., 3, bands]
    return torch.cat([x, angles.sin().flatten(-2), angles.cos().flatten(-2)], dim=-1)
