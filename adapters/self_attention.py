"""Gated emotion attention for self-attention layers (the Dual-UV decoder), the "gated" mode.

A wrapper around a self-attention layer's processor (diffusers' ``Attention.processor``
convention, e.g. ``AttnProcessor2_0``): the original processor runs unchanged, then the layer's
queries also attend to the emotion tokens through the layer's own ``to_q`` / ``to_k`` / ``to_v``
(and its ``norm_q`` / ``norm_k`` when it has qk-norms; no new weights), and the result, scaled by
``tanh(gate)``, is added to the input of ``to_out[0]`` — the same as adding it after ``to_out``
without its bias. The queries are the ones the processor computes (captured from ``to_q`` during
its call, :class:`~emoctl.adapters.processors.Folded`), so the gated path adds one small attention
per layer and no projection of its own. With the gate at zero the output equals the original bit
for bit. The emotion tokens have the layer's query width, so
``to_k`` / ``to_v`` apply to them as to the layer's own tokens.

The wrapper is a plain object, not an ``nn.Module``, so the backbone's state_dict is unchanged.
"""

from __future__ import annotations

from collections.abc import Callable

import torch
import torch.nn.functional as F

from emoctl.adapters.base import EmotionInjector
from emoctl.adapters.processors import Folded
from emoctl.errors import ShapeError


class GatedEmotionSelfAttention:
    """Processor wrapper: ``original(...) + tanh(gate[layer]) * emotion_attention(...)``.

    Args:
        inner: the processor it wraps (called exactly as before).
        layer: index of this attention layer (selects its gate).
        injector: the controller (gates).
        emotion_tokens: ``hidden_states [B, N, D] -> [B, k, D] | None``: the active emotion's tokens
            at the layer's width, or ``None`` when there is no emotion (shared across layers).
    """

    def __init__(self, inner, layer: int, injector: EmotionInjector,
                 emotion_tokens: Callable[[torch.Tensor], torch.Tensor | None]):
        self.inner = inner
        self.layer = layer
        self.injector = injector
        self.emotion_tokens = emotion_tokens

    def __call__(self, attn, hidden_states, encoder_hidden_states=None, attention_mask=None, *args, **kwargs):
        if encoder_hidden_states is not None:  # a cross-attention call: not the self-attention it wraps
            return self.inner(attn, hidden_states, encoder_hidden_states, attention_mask, *args, **kwargs)
        tokens = self.emotion_tokens(hidden_states)
        if tokens is None:
            return self.inner(attn, hidden_states, encoder_hidden_states, attention_mask, *args, **kwargs)
        if hidden_states.dim() != 3:
            raise ShapeError(f"gated self-attention expects tokens [B, N, D], got {tuple(hidden_states.shape)}")
        gate = self.injector.attention_gate(self.layer, like=hidden_states)

        def compute(captured):
            q = captured.get("x")
            return {"x": self.emotion_attention(attn, hidden_states if q is None else q, tokens, projected=q is not None)}

        folded = Folded({"x": attn.to_q}, {"x": attn.to_out[0]}, compute, gate)
        out = folded.run(self.inner, attn, hidden_states, encoder_hidden_states, attention_mask, *args, **kwargs)
        if folded.applied:
            return out
        # the processor did not call to_out[0] as a module: add after it (no bias)
        extra = F.linear(compute({})["x"], attn.to_out[0].weight)
        return out + gate * extra / getattr(attn, "rescale_output_factor", 1.0)

    @staticmethod
    def emotion_attention(attn, x: torch.Tensor, tokens: torch.Tensor, projected: bool = False) -> torch.Tensor:
        """Attention of the queries of ``x [B, N, D]`` (or, ``projected=True``, of its query projection
        ``to_q(x)`` as the processor computed it) to ``tokens [B, k, D]`` through ``attn``'s
        projections → ``[B, N, D_inner]``, before the output projection."""
        q = attn.head_to_batch_dim(x if projected else attn.to_q(x), out_dim=4)  # [B, h, N, d]
        k = attn.head_to_batch_dim(attn.to_k(tokens), out_dim=4)
        v = attn.head_to_batch_dim(attn.to_v(tokens), out_dim=4)
        if getattr(attn, "norm_q", None) is not None:
            q = attn.norm_q(q)
        if getattr(attn, "norm_k", None) is not None:
            k = attn.norm_k(k)
        o = F.scaled_dot_product_attention(q, k, v)
        return o.transpose(1, 2).reshape(q.shape[0], q.shape[2], -1)
