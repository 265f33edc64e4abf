"""Gated emotion attention for joint (MM-DiT) attention layers, the "gated" appearance mode.

A wrapper around an attention layer's processor (diffusers' ``Attention.processor`` convention,
e.g. ``JointAttnProcessor2_0`` as in LAM): the original processor runs unchanged, then every
query (geometry and image tokens) also attends to the emotion tokens, through the layer's own
context projections (``add_k_proj``/``add_v_proj``, no new weights), and the result is added,
scaled by ``tanh(gate)``, to the input of the layer's output projections (``to_out[0]``,
``to_add_out``) — the same as adding it after them without their bias. The queries are the ones
the processor computes (captured from ``to_q``/``add_q_proj`` during its call, :class:`Folded`), so
the gated path adds one small attention per layer and no projection of its own. With the gate at
zero the output equals the original bit for bit (LLaMA-Adapter's zero-initialised attention;
IP-Adapter's decoupled attention with scale 0).

The wrapper is a plain object, not an ``nn.Module``, so the backbone's state_dict is unchanged.
"""

from __future__ import annotations

from collections.abc import Callable

import torch
import torch.nn.functional as F

from emoctl.adapters.base import EmotionInjector
from emoctl.adapters.processors import Folded


def _heads(x: torch.Tensor, heads: int) -> torch.Tensor:
    b, n, d = x.shape
    return x.view(b, n, heads, d // heads).transpose(1, 2)  # [B, h, N, d/h]


class GatedEmotionJointAttention:
    """Processor wrapper: ``original(...) + tanh(gate[layer]) * emotion_attention(...)``.

    Args:
        inner: the processor it wraps (called exactly as before).
        layer: index of this attention layer (selects its gate).
        injector: the controller (gates).
        context_tokens: ``hidden_states [B, N, D] -> [B, k, D_ctx] | None``: the active emotion's
            tokens at the attention's context width, or ``None`` when there is no emotion. The
            adapter computes them once per transformer call and shares them across layers.
    """

    def __init__(self, inner, layer: int, injector: EmotionInjector,
                 context_tokens: Callable[[torch.Tensor], torch.Tensor | None]):
        self.inner = inner
        self.layer = layer
        self.injector = injector
        self.context_tokens = context_tokens

    def __call__(self, attn, hidden_states, encoder_hidden_states=None, attention_mask=None, *args, **kwargs):
        if encoder_hidden_states is None:
            return self.inner(attn, hidden_states, encoder_hidden_states, attention_mask, *args, **kwargs)
        tokens = self.context_tokens(hidden_states)
        if tokens is None:
            return self.inner(attn, hidden_states, encoder_hidden_states, attention_mask, *args, **kwargs)
        gate = self.injector.attention_gate(self.layer, like=hidden_states)
        context_out = getattr(attn, "to_add_out", None)
        if getattr(attn, "context_pre_only", False):
            context_out = None

        def compute(captured):
            if "x" in captured and "c" in captured:
                ox, oc = self.emotion_attention(attn, captured["x"], captured["c"], tokens, projected=True)
            else:  # a processor that projects the queries some other way: project them here
                ox, oc = self.emotion_attention(attn, hidden_states, encoder_hidden_states, tokens)
            return {"x": ox, "c": oc}

        folded = Folded({"x": attn.to_q, "c": attn.add_q_proj}, {"x": attn.to_out[0], "c": context_out}, compute, gate)
        out = folded.run(self.inner, attn, hidden_states, encoder_hidden_states, attention_mask, *args, **kwargs)
        if folded.applied:
            return out
        # the processor did not call the output projections as modules: add after them (no bias)
        extra = compute({})
        x_extra = gate * F.linear(extra["x"], attn.to_out[0].weight)
        if isinstance(out, tuple):
            x, c = out
            if c is not None and context_out is not None:
                c = c + gate * F.linear(extra["c"], context_out.weight)
            return x + x_extra, c
        return out + x_extra

    @staticmethod
    def emotion_attention(attn, x: torch.Tensor, ctx: torch.Tensor, tokens: torch.Tensor, projected: bool = False):
        """Attention of the ``[x; ctx]`` queries to ``tokens`` through ``attn``'s projections, before the
        output projections: ``([B, Nx, D_inner], [B, Nc, D_inner])``. ``x [B, Nx, D]``, ``ctx [B, Nc, D]``
        are the token streams, or (``projected=True``) their query projections ``to_q(x)``,
        ``add_q_proj(ctx)`` as the processor computed them; ``tokens [B, k, D]``."""
        h = attn.heads
        q = _heads(x if projected else attn.to_q(x), h)
        cq = _heads(ctx if projected else attn.add_q_proj(ctx), h)
        if getattr(attn, "norm_q", None) is not None:
            q = attn.norm_q(q)
        if getattr(attn, "norm_added_q", None) is not None:
            cq = attn.norm_added_q(cq)
        k = _heads(attn.add_k_proj(tokens), h)
        v = _heads(attn.add_v_proj(tokens), h)
        if getattr(attn, "norm_added_k", None) is not None:
            k = attn.norm_added_k(k)
        o = F.scaled_dot_product_attention(torch.cat([q, cq], dim=2), k, v)
        o = o.transpose(1, 2).reshape(q.shape[0], -1, h * o.shape[-1])
        return o[:, : q.shape[2]], o[:, q.shape[2]:]
