"""AppearanceModulator: emotion tokens for the backbone's appearance stream (paper eq. 6, S1.3.1)."""

from __future__ import annotations

import torch
from torch import nn

from emoctl.emotions.embedding import EmotionTokens
from emoctl.errors import ConfigError, NonFiniteError, ShapeError, UnsupportedOperationError

APPEARANCE_MODES = ("concat", "gated")


class AppearanceModulator(nn.Module):
    """Emotion vector → ``k`` tokens of the backbone's token width, appended to its image tokens.

    ``forward(z [B, emotion_dim]) -> tokens [B, k, token_dim]``; non-finite tokens (or gates)
    raise :class:`~emoctl.errors.NonFiniteError` (one check, one device sync).

    Modes:
        ``"concat"`` (the paper): the tokens are concatenated with the image tokens and take part
        in the backbone's joint attention like any other context token.
        ``"gated"`` (beyond the paper; IP-Adapter / LLaMA-Adapter style): every joint-attention
        layer adds attention to the tokens scaled by ``tanh(gate[l])``, with the gates starting at
        zero, so a freshly wrapped backbone reproduces the original output exactly while the
        appearance path can still be trained. ``gates`` has one entry per attention layer.
    """

    def __init__(self, emotion_dim: int, token_dim: int, num_tokens: int = 4, mode: str = "concat", gate_layers: int = 0):
        super().__init__()
        if mode not in APPEARANCE_MODES:
            raise ConfigError(f"appearance mode must be one of {APPEARANCE_MODES}, got {mode!r}")
        if mode == "gated" and gate_layers < 1:
            raise ConfigError("gated appearance modulation needs gate_layers >= 1 (one gate per attention layer)")
        self.emotion_dim = emotion_dim
        self.token_dim = token_dim
        self.mode = mode
        self.tokens = EmotionTokens(emotion_dim, num_tokens, token_dim)
        self.gates = nn.Parameter(torch.zeros(gate_layers)) if mode == "gated" else None

    @property
    def num_tokens(self) -> int:
        return self.tokens.num_tokens

    def forward(self, z: torch.Tensor) -> torch.Tensor:
        if z.dim() != 2 or z.shape[-1] != self.emotion_dim:
            raise ShapeError(f"appearance modulator input must be [B, {self.emotion_dim}], got {tuple(z.shape)}")
        tokens = self.tokens(z)
        finite = torch.isfinite(tokens).all()
        if self.gates is not None:  # the gates feed every attention layer; checked in the same sync
            finite = finite & torch.isfinite(self.gates).all()
        if not finite:
            raise self._non_finite(z)
        return tokens

    def _non_finite(self, z: torch.Tensor) -> NonFiniteError:
        """The error for non-finite tokens or gates, naming the cause (looked for once it failed)."""
        if not torch.isfinite(z).all():
            return NonFiniteError(
                "the emotion vector given to the appearance modulator contains NaN or infinite values: "
                "the emotion embedding's weights have diverged (check the checkpoint or the training loss)"
            )
        if self.gates is not None and not torch.isfinite(self.gates).all():
            return NonFiniteError(
                "the appearance modulator's attention gates contain NaN or infinite values: its weights have "
                "diverged (check the checkpoint or the training loss)"
            )
        return NonFiniteError(
            "the appearance modulator produced NaN or infinite emotion tokens from finite inputs: the emotion "
            "vector is far outside the trained range (an extreme intensity, or diverged embedding weights) or "
            "the modulator's own weights have diverged (check the checkpoint or the training loss)"
        )

    def gate(self, layer: int) -> torch.Tensor:
        """``tanh(gates[layer])`` (a 0-d tensor); only in ``"gated"`` mode."""
        if self.gates is None:
            raise UnsupportedOperationError("gate() is only defined in 'gated' appearance mode")
        return torch.tanh(self.gates[layer])
