"""LAM's transformer layout built from diffusers' ``Attention`` with ``JointAttnProcessor2_0``.

- :class:`JointTransformerBlock`: an MM-DiT block without AdaLN (LAM's ``SD3JointTransformerBlock``
  attribute names: ``norm1``, ``norm1_context``, ``attn``, ``norm2``, ``ff``, ``norm2_context``,
  ``ff_context``); the last block of a decoder is ``context_pre_only``.
- :class:`JointTransformerDecoder`: LAM's ``TransformerDecoder`` interface, ``forward(x, cond=None,
  mod=None)`` with ``linear_cond_proj`` (cond_dim → inner_dim), ``layers`` and ``norm``.

The attention itself is diffusers' (a kept library), not written again here. Needs ``diffusers``
(the ``backbones`` extra).
"""

from __future__ import annotations

from torch import nn

from emoctl.errors import MissingDependencyError

try:
    from diffusers.models.attention import FeedForward
    from diffusers.models.attention_processor import Attention, JointAttnProcessor2_0
except ImportError as e:  # pragma: no cover - depends on the environment
    raise MissingDependencyError(
        "emoctl's LAM-layout transformer needs diffusers: pip install 'emoctl[backbones]'"
    ) from e


class JointTransformerBlock(nn.Module):
    """An MM-DiT block without AdaLN: geometry tokens ``[B, L, D]`` and context tokens ``[B, P, D]``
    attend jointly (one attention over ``L + P``), then each stream has its own feed-forward."""

    def __init__(self, dim: int, heads: int, context_pre_only: bool):
        super().__init__()
        self.context_pre_only = context_pre_only
        self.norm1 = nn.LayerNorm(dim)
        self.norm1_context = nn.LayerNorm(dim)
        self.attn = Attention(
            query_dim=dim,
            cross_attention_dim=None,
            added_kv_proj_dim=dim,
            dim_head=dim // heads,
            heads=heads,
            out_dim=dim,
            context_pre_only=context_pre_only,
            bias=True,
            processor=JointAttnProcessor2_0(),
            qk_norm="rms_norm",
            eps=1e-6,
        )
        self.norm2 = nn.LayerNorm(dim)
        self.ff = FeedForward(dim=dim, dim_out=dim, activation_fn="gelu-approximate")
        if not context_pre_only:
            self.norm2_context = nn.LayerNorm(dim)
            self.ff_context = FeedForward(dim=dim, dim_out=dim, activation_fn="gelu-approximate")

    def forward(self, hidden_states, encoder_hidden_states, temb=None):
        attn_out, context_attn_out = self.attn(
            hidden_states=self.norm1(hidden_states), encoder_hidden_states=self.norm1_context(encoder_hidden_states)
        )
        hidden_states = hidden_states + attn_out
        hidden_states = hidden_states + self.ff(self.norm2(hidden_states))
        if self.context_pre_only:
            return hidden_states, None
        encoder_hidden_states = encoder_hidden_states + context_attn_out
        encoder_hidden_states = encoder_hidden_states + self.ff_context(self.norm2_context(encoder_hidden_states))
        return hidden_states, encoder_hidden_states


class JointTransformerDecoder(nn.Module):
    """LAM's ``TransformerDecoder`` interface: ``forward(x [B, L, D], cond [B, P, cond_dim], mod=None)``
    → ``[B, L, D]``."""

    def __init__(self, inner_dim: int, cond_dim: int, num_layers: int, num_heads: int):
        super().__init__()
        self.linear_cond_proj = nn.Linear(cond_dim, inner_dim)
        self.layers = nn.ModuleList(
            JointTransformerBlock(inner_dim, num_heads, context_pre_only=(i == num_layers - 1)) for i in range(num_layers)
        )
        self.norm = nn.LayerNorm(inner_dim)

    def forward(self, x, cond=None, mod=None):
        cond = self.linear_cond_proj(cond)
        for layer in self.layers:
            x, cond = layer(hidden_states=x, encoder_hidden_states=cond, temb=None)
        return self.norm(x)
