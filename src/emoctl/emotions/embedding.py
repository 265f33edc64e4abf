"""The learnable emotion embedding (paper eq. 3-4, S1.3.1) and emotion-token construction."""

from __future__ import annotations

import torch
from torch import nn

from emoctl.errors import ConfigError, ShapeError


class EmotionEmbedding(nn.Module):
    """Learnable table over the ``K - 1`` non-neutral emotions; neutral is exactly zero.

    ``forward(coefficients [..., K-1]) -> z [..., dim]`` computes ``coefficients @ table``: a
    one-hot row selects an emotion's vector, a mixture blends vectors (interpolation happens in
    this space), and neutral (all-zero coefficients) maps to the zero vector *before* any
    positional embedding or projection, as in the paper.
    """

    def __init__(self, num_emotions: int, dim: int = 256):
        super().__init__()
        if num_emotions < 2:
            raise ConfigError(f"num_emotions must be >= 2 (neutral plus one emotion), got {num_emotions}")
        self.num_emotions = num_emotions
        self.dim = dim
        self.table = nn.Parameter(torch.randn(num_emotions - 1, dim))

    def forward(self, coefficients: torch.Tensor) -> torch.Tensor:
        if coefficients.shape[-1] != self.num_emotions - 1:
            raise ShapeError(
                f"emotion coefficients must have {self.num_emotions - 1} entries in the last axis "
                f"(the non-neutral emotions), got shape {tuple(coefficients.shape)}"
            )
        return coefficients.to(self.table.dtype) @ self.table

    def extra_repr(self) -> str:
        return f"num_emotions={self.num_emotions}, dim={self.dim}"


class EmotionTokens(nn.Module):
    """Emotion vector → ``k`` tokens of width ``out_dim``: add a learned positional embedding per
    token, then a two-layer MLP projection (paper S1.3.1: "positional embeddings are applied, and
    the resulting representation is projected ...").

    ``forward(z [..., in_dim]) -> tokens [..., k, out_dim]``.
    """

    def __init__(self, in_dim: int, num_tokens: int, out_dim: int):
        super().__init__()
        if num_tokens < 1:
            raise ConfigError(f"num_tokens must be >= 1, got {num_tokens}")
        self.num_tokens = num_tokens
        self.position = nn.Parameter(torch.randn(num_tokens, in_dim) * 0.02)
        self.proj = nn.Sequential(nn.Linear(in_dim, out_dim), nn.GELU(), nn.Linear(out_dim, out_dim))

    def forward(self, z: torch.Tensor) -> torch.Tensor:
        return self.proj(z.unsqueeze(-2) + self.position)
