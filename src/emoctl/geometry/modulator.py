"""GeometryModulator: emotion-conditioned normalisation of FLAME expression + jaw sequences
(paper eq. 5, S1.3.2).

A small pre-norm transformer over time. Each block attends over the frames of the sequence
(self-attention with a padding mask), then from every frame to that frame's emotion tokens
(cross-attention), then applies a feed-forward layer. The output is a residual in the same FLAME
space, and the last projection starts at zero, so a fresh modulator is exactly the identity map.
"""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F
from torch import nn

from emoctl.emotions.embedding import EmotionTokens
from emoctl.errors import ConfigError, NonFiniteError, ShapeError
from emoctl.flame_schema import FLAME_SCHEMA, JAW_DIM


def sinusoidal_positions(num_frames: int, dim: int, device=None, dtype=None) -> torch.Tensor:
    """Sinusoidal frame-index encoding ``[T, dim]`` (works for any sequence length)."""
    half = dim // 2
    freqs = torch.exp(-math.log(10000.0) * torch.arange(half, device=device, dtype=torch.float32) / half)
    angles = torch.arange(num_frames, device=device, dtype=torch.float32)[:, None] * freqs[None]
    enc = torch.cat([angles.sin(), angles.cos()], dim=-1)
    if dim % 2:
        enc = F.pad(enc, (0, 1))
    return enc.to(dtype or torch.float32)


class _FrameCrossAttention(nn.Module):
    """Every frame attends to its own set of ``k`` emotion tokens.

    ``forward(x [B, T, D], tokens [B, T, k, D]) -> [B, T, D]``.
    """

    def __init__(self, dim: int, heads: int):
        super().__init__()
        self.heads = heads
        self.q = nn.Linear(dim, dim)
        self.kv = nn.Linear(dim, 2 * dim)
        self.out = nn.Linear(dim, dim)

    def forward(self, x: torch.Tensor, tokens: torch.Tensor) -> torch.Tensor:
        b, t, d = x.shape
        h = self.heads
        q = self.q(x).reshape(b * t, 1, h, d // h).transpose(1, 2)  # [BT, h, 1, d/h]
        k, v = self.kv(tokens).reshape(b * t, -1, 2, h, d // h).permute(2, 0, 3, 1, 4)  # 2 x [BT, h, k, d/h]
        out = F.scaled_dot_product_attention(q, k, v)  # [BT, h, 1, d/h]
        return self.out(out.transpose(1, 2).reshape(b, t, d))


class _GeometryBlock(nn.Module):
    def __init__(self, dim: int, heads: int, ff_mult: int):
        super().__init__()
        self.norm_self = nn.LayerNorm(dim)
        self.self_attn = nn.MultiheadAttention(dim, heads, batch_first=True)
        self.norm_cross = nn.LayerNorm(dim)
        self.cross_attn = _FrameCrossAttention(dim, heads)
        self.norm_ff = nn.LayerNorm(dim)
        self.ff = nn.Sequential(nn.Linear(dim, ff_mult * dim), nn.GELU(), nn.Linear(ff_mult * dim, dim))

    def forward(self, x, tokens, key_padding_mask):
        y = self.norm_self(x)
        x = x + self.self_attn(y, y, y, key_padding_mask=key_padding_mask, need_weights=False)[0]
        x = x + self.cross_attn(self.norm_cross(x), tokens)
        return x + self.ff(self.norm_ff(x))


class GeometryModulator(nn.Module):
    """Emotion-conditioned map from a FLAME expression + jaw sequence to one in the same space.

    Args:
        emotion_dim: width of the emotion vector ``z`` from :class:`~emoctl.EmotionEmbedding`.
        dim: transformer width.
        layers, heads, ff_mult: transformer depth, attention heads, feed-forward expansion.
        num_tokens: emotion tokens per frame the sequence attends to.
        expression_dim: FLAME expression coefficients per frame (100 for FLAME 2020/2023); the
            parameter vector per frame is ``expression_dim + 3`` (jaw pose, axis-angle).

    ``forward(params [B, T, E+3], emotion [B, emotion_dim] or [B, T, emotion_dim],
    mask [B, T] bool (True = real frame) = None) -> [B, T, E+3]``. Padded frames are returned
    unchanged and do not influence the real ones. A non-finite input or output raises
    :class:`~emoctl.errors.NonFiniteError` (checked once, on the output, with one device sync).
    """

    def __init__(
        self,
        emotion_dim: int = 256,
        dim: int = 256,
        layers: int = 4,
        heads: int = 4,
        ff_mult: int = 4,
        num_tokens: int = 4,
        expression_dim: int = FLAME_SCHEMA.expression_dim,
    ):
        super().__init__()
        if dim % heads:
            raise ConfigError(f"dim ({dim}) must be divisible by heads ({heads})")
        self.emotion_dim = emotion_dim
        self.param_dim = expression_dim + JAW_DIM
        self.dim = dim
        self.tokens = EmotionTokens(emotion_dim, num_tokens, dim)
        self.in_proj = nn.Linear(self.param_dim, dim)
        self.blocks = nn.ModuleList(_GeometryBlock(dim, heads, ff_mult) for _ in range(layers))
        self.norm = nn.LayerNorm(dim)
        self.out_proj = nn.Linear(dim, self.param_dim)
        nn.init.zeros_(self.out_proj.weight)
        nn.init.zeros_(self.out_proj.bias)
        # Per-coordinate scale of the FLAME parameters (see set_statistics); saved with the weights.
        self.register_buffer("param_mean", torch.zeros(self.param_dim))
        self.register_buffer("param_std", torch.ones(self.param_dim))

    @torch.no_grad()
    def set_statistics(self, params: torch.Tensor, min_std: float = 1e-3) -> None:
        """Standardise inputs and outputs with the per-coordinate mean and std of ``params [..., E+3]``.

        FLAME coordinates differ in scale by orders of magnitude (jaw pose in radians, a long tail of
        small expression coefficients); the network sees ``(x - mean) / std`` and its residual is
        scaled back by ``std``. Call once on training data, before training. The identity at
        initialisation is unchanged (the residual still starts at zero).
        """
        flat = params.reshape(-1, self.param_dim).to(self.param_mean)
        if flat.shape[0] < 2 or not torch.isfinite(flat).all():
            raise ShapeError(f"set_statistics needs at least 2 finite frames of [..., {self.param_dim}], got {tuple(params.shape)}")
        self.param_mean.copy_(flat.mean(0))
        self.param_std.copy_(flat.std(0).clamp(min=min_std))

    def forward(self, params: torch.Tensor, emotion: torch.Tensor, mask: torch.Tensor | None = None) -> torch.Tensor:
        _, t = self._check(params, emotion, mask)
        x = self.in_proj(((params.to(self.param_std.dtype) - self.param_mean) / self.param_std).to(self.in_proj.weight.dtype))
        x = x + sinusoidal_positions(t, self.dim, device=x.device, dtype=x.dtype)
        if emotion.dim() == 2:
            emotion = emotion.unsqueeze(1).expand(-1, t, -1)
        tokens = self.tokens(emotion.to(x.dtype))  # [B, T, k, dim]
        key_padding_mask = None if mask is None else ~mask
        for block in self.blocks:
            x = block(x, tokens, key_padding_mask)
        delta = (self.out_proj(self.norm(x)) * self.param_std).to(params.dtype)
        if mask is not None:
            delta = delta * mask.unsqueeze(-1).to(delta.dtype)
        out = params + delta
        if not torch.isfinite(out).all():  # the one check (a non-finite input also lands here)
            raise _non_finite(params, emotion)
        return out

    def _check(self, params, emotion, mask) -> tuple[int, int]:
        if params.dim() != 3 or params.shape[-1] != self.param_dim:
            raise ShapeError(
                f"geometry modulator input must be [B, T, {self.param_dim}] (expression + jaw pose), "
                f"got {tuple(params.shape)}"
            )
        if not params.is_floating_point():  # an integer sequence would truncate the modulation
            raise ShapeError(f"geometry modulator input must be a floating tensor, got {params.dtype}")
        b, t = params.shape[:2]
        if t == 0:
            raise ShapeError("geometry modulator input has no frames (T = 0)")
        if emotion.shape[-1] != self.emotion_dim or emotion.dim() not in (2, 3) or emotion.shape[0] != b or (
            emotion.dim() == 3 and emotion.shape[1] != t
        ):
            raise ShapeError(
                f"emotion must be [B, {self.emotion_dim}] or [B, T, {self.emotion_dim}] with B={b}, T={t}; "
                f"got {tuple(emotion.shape)}"
            )
        if mask is not None:
            if mask.shape != (b, t) or mask.dtype != torch.bool:
                raise ShapeError(f"mask must be a bool tensor [B, T] = [{b}, {t}], got {tuple(mask.shape)} {mask.dtype}")
            if not mask.any(dim=1).all():
                raise ShapeError("every sequence needs at least one real (unmasked) frame")
        return b, t


def _non_finite(params: torch.Tensor, emotion: torch.Tensor) -> NonFiniteError:
    """The error for a non-finite output, naming its cause (looked for only once it failed)."""
    if not torch.isfinite(params).all():
        return NonFiniteError(
            "the FLAME expression/jaw sequence given to the geometry modulator contains NaN or infinite values"
        )
    if not torch.isfinite(emotion).all():
        return NonFiniteError(
            "the emotion vector given to the geometry modulator contains NaN or infinite values: "
            "the emotion embedding's weights have diverged (check the checkpoint or the training loss)"
        )
    return NonFiniteError(
        "the geometry modulator produced NaN or infinite FLAME parameters from finite inputs: the emotion "
        "vector is far outside the trained range (an extreme intensity, or diverged embedding weights) or "
        "the modulator's own weights have diverged (check the checkpoint or the training loss)"
    )
