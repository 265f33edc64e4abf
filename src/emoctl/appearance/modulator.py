"""AppearanceModulator: emotion tokens for the backbone's appearance stream (paper eq. 6, S1.3.1)."""

from __future__ import annotations

import torch
from torch import nn

from emoctl.emotions.embedding import EmotionTokens
from emoctl.errors import ShapeError

APPEARANCE_MODES = ("concat", "gated")


class AppearanceModulator(nn.Module):
    """Emotion vector → ``k`` tokens of the backbone's token width, appended to its image tokens.

    ``forward(z [B, emotion_dim]) -> tokens [B, k, token_dim]``.

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
            raise ValueError(f"appearance mode must be one of {APPEARANCE_MODES}, got {mode!r}")
        if mode == "gated" and gate_layers < 1:
            raise ValueError("gated appearance modulation needs gate_layers >= 1 (one gate per attention layer)")
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
        return self.tokens(z)

    def gate(self, layer: int) -> torch.Tensor:
        """``tanh(gates[layer])`` (a 0-d tensor); only in ``"gated"`` mode."""
        if self.gates is None:
            raise RuntimeError("gate() is only defined in 'gated' appearance mode")
        return torch.tanh(self.gates[layer])
