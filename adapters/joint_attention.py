"""Gated emotion attention for joint (MM-DiT) attention layers, the "gated" appearance mode.

A wrapper around an attention layer's processor (diffusers' ``Attention.processor`` convention,
e.g. ``JointAttnProcessor2_0`` as in LAM): the original processor runs unchanged, then every
query (geometry and image tokens) also attends to the emotion tokens, through the layer's own
context projections (``add_k_proj``/``add_v_proj``, no new weights), and the result, passed
through the output projections without bias, is added scaled by ``tanh(gate)``. With the gate at
zero the output equals the original bit for bit (LLaMA-Adapter's zero-initialised attention;
IP-Adapter's decoupled attention with scale 0).

The wrapper is a plain object, not an ``nn.Module``, so the backbone's state_dict is unchanged.
"""

from __future__ import annotations

from collections.abc import Callable

import torch
import torch.nn.functional as F

from emoctl.adapters.base import EmotionInjector


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
        out = self.inner(attn, hidden_states, encoder_hidden_states, attention_mask, *args, **kwargs)
        if encoder_hidden_states is None:
            return out
        tokens = self.context_tokens(hidden_states)
        if tokens is None:
            return out
        gate = self.injector.attention_gate(self.layer, like=hidden_states)
        extra_x, extra_c = self.emotion_attention(attn, hidden_states, encoder_hidden_states, tokens)
        if isinstance(out, tuple):
            x, c = out
            x = x + gate * extra_x
            if c is not None and extra_c is not None:
                c = c + gate * extra_c
            return x, c
        return out + gate * extra_x

    @staticmethod
    def emotion_attention(attn, x: torch.Tensor, ctx: torch.Tensor, tokens: torch.Tensor):
        """Attention of the ``[x; ctx]`` queries to ``tokens``, through ``attn``'s projections.

        ``x [B, Nx, D]``, ``ctx [B, Nc, D]``, ``tokens [B, k, D]`` → ``([B, Nx, D_out], [B, Nc, D_ctx] | None)``.
        """
        h = attn.heads
        q = _heads(attn.to_q(x), h)
        cq = _heads(attn.add_q_proj(ctx), h)
        if getattr(attn, "norm_q", None) is not None:
            q = attn.norm_q(q)
        if getattr(attn, "norm_added_q", None) is not None:
            cq = attn.norm_added_q(cq)
        k = _heads(attn.add_k_proj(tokens), h)
        v = _heads(attn.add_v_proj(tokens), h)
        if getattr(attn, "norm_added_k", None) is not None:
            k = attn.norm_added_k(k)
        o = F.scaled_dot_product_attention(torch.cat([q, cq], dim=2), k, v)
        o = o.transpose(1, 2).reshape(x.shape[0], -1, h * o.shape[-1]).to(x.dtype)
        ox, oc = o[:, : x.shape[1]], o[:, x.shape[1]:]
        extra_x = F.linear(ox, attn.to_out[0].weight)
        to_add_out = getattr(attn, "to_add_out", None)
        extra_c = F.linear(oc, to_add_out.weight) if (to_add_out is not None and not getattr(attn, "context_pre_only", False)) else None
        return extra_x, extra_c
