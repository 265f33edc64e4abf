"""Adapter for the Dual-UV layout (:class:`emoctl.backbones.uv_style.UVStyleBackbone` and
look-alikes; "Bringing Your Portrait to 3D Presence", Zhang et al.). See ``docs/uv-adapter.md``.

Matched by layout, not by class name:

- ``model.decoder`` — an ``nn.Module`` called with the Core+Shell token sequence ``[B, L, D]`` as
  its first argument, returning ``[B, L, D]`` (a tensor, or a tuple whose first item is it);
- ``model.decoder.layers[i].attn`` — self-attention (diffusers' ``Attention``: ``to_q`` / ``to_k``
  / ``to_v`` / ``to_out``, no context projections ``add_k_proj``, which mark LAM's joint
  attention). ``D`` (the emotion tokens' width) is ``layers[0].attn.to_q.in_features``;
- ``model.forward`` / ``model.infer_single_view`` taking ``flame_params`` — ``expr`` and
  ``jaw_pose`` are rewritten by the geometry modulator on the way in (shared with the ``lam``
  adapter, :mod:`emoctl.adapters.flame_entry`); the Gaussians follow through the UV binding.

Appearance, "concat": a forward pre-hook on ``model.decoder`` appends the ``k`` emotion tokens to
the sequence, so plain self-attention mixes them in at every layer, and a forward hook drops the
last ``k`` tokens of its output before unpatchifying. "gated": each layer's processor is wrapped
by :class:`~emoctl.adapters.self_attention.GatedEmotionSelfAttention` (zero gate: bit-exact).
"""

from __future__ import annotations

import inspect
from contextvars import ContextVar

import torch
from torch import nn

from emoctl.adapters.base import Adapter, EmotionInjector, HookHandle, rollback_on_error
from emoctl.adapters.flame_entry import flame_entry_points, install_flame_entries
from emoctl.adapters.processors import once_per_call, wrap_processors
from emoctl.adapters.self_attention import GatedEmotionSelfAttention
from emoctl.errors import ShapeError

_PROJECTIONS = ("to_q", "to_k", "to_v")


def _first_parameter(fn) -> str | None:
    """Name of ``fn``'s first positional parameter (the token sequence), or None."""
    try:
        params = list(inspect.signature(fn).parameters.values())
    except (TypeError, ValueError):
        return None
    for p in params:
        if p.kind in (p.POSITIONAL_ONLY, p.POSITIONAL_OR_KEYWORD):
            return p.name
    return None


class UVAdapter(Adapter):
    """Dual-UV layout: model.decoder (nn.Module called with the token sequence [B, L, D]),
    model.decoder.layers[i].attn self-attention (to_q/to_k/to_v, no add_k_proj), and forward or
    infer_single_view taking flame_params."""

    name = "uv"
    priority = 0
    appearance_modes = ("concat", "gated")

    @classmethod
    def missing_features(cls, model) -> list[str]:
        if not isinstance(model, nn.Module):
            return [f"an nn.Module (got {type(model).__name__})"]
        missing = []
        decoder = getattr(model, "decoder", None)
        if not isinstance(decoder, nn.Module):
            missing.append("model.decoder (an nn.Module over the token sequence [B, L, D])")
        else:
            layers = getattr(decoder, "layers", None)
            if not isinstance(layers, (nn.ModuleList, nn.Sequential)) or len(layers) == 0:
                missing.append("model.decoder.layers (a non-empty ModuleList of blocks)")
            else:
                attns = [getattr(block, "attn", None) for block in layers]
                if not all(all(isinstance(getattr(a, p, None), nn.Linear) for p in _PROJECTIONS)
                           and hasattr(a, "to_out") for a in attns):
                    missing.append("model.decoder.layers[i].attn with to_q/to_k/to_v (nn.Linear) and to_out (self-attention)")
                elif any(getattr(a, "add_k_proj", None) is not None for a in attns):
                    missing.append("model.decoder.layers[i].attn without add_k_proj (self-attention, not joint attention)")
            if _first_parameter(decoder.forward) is None:
                missing.append("model.decoder.forward(tokens, ...) taking the token sequence first")
        if not flame_entry_points(model):
            missing.append("model.forward or model.infer_single_view with a `flame_params` argument")
        return missing

    @property
    def decoder(self) -> nn.Module:
        return self.model.decoder

    @property
    def token_dim(self) -> int:
        """The decoder's token width ``D``: ``layers[0].attn.to_q.in_features``."""
        return self.decoder.layers[0].attn.to_q.in_features

    @property
    def num_attention_layers(self) -> int:
        return len(self.decoder.layers)

    def install(self, injector: EmotionInjector) -> list[HookHandle]:
        with rollback_on_error([]) as handles:
            if injector.appearance_mode == "gated":
                handles += self._install_gated_attention(injector)
            else:
                handles += self._install_sequence_tokens(injector)
            handles += install_flame_entries(self.model, injector)
        return handles

    # -------------------------------------------------------------- appearance: concat
    def _install_sequence_tokens(self, injector: EmotionInjector) -> list[HookHandle]:
        decoder, token_dim = self.decoder, self.token_dim
        first = _first_parameter(decoder.forward)
        appended: ContextVar[int] = ContextVar(f"emoctl-uv-appended-{id(self)}", default=0)

        def append_emotion_tokens(module, args, kwargs):
            appended.set(0)
            by_name = not args
            tokens = kwargs.get(first) if by_name else args[0]
            if not isinstance(tokens, torch.Tensor):
                return None
            if tokens.dim() != 3 or tokens.shape[-1] != token_dim:
                raise ShapeError(f"model.decoder tokens must be [B, L, {token_dim}], got {tuple(tokens.shape)}")
            extra = injector.appearance_tokens(tokens.shape[0], like=tokens)
            if extra is None:
                return None
            appended.set(extra.shape[1])
            tokens = torch.cat([tokens, extra], dim=1)
            return (args, {**kwargs, first: tokens}) if by_name else ((tokens, *args[1:]), kwargs)

        def drop_emotion_tokens(module, args, kwargs, output):
            k = appended.get()
            appended.set(0)
            if k == 0:
                return None
            if isinstance(output, tuple):
                return (output[0][:, :-k], *output[1:])
            return output[:, :-k]

        with rollback_on_error([]) as handles:
            pre = decoder.register_forward_pre_hook(append_emotion_tokens, with_kwargs=True)
            handles.append(HookHandle(pre.remove, "emotion tokens appended to model.decoder's sequence"))
            post = decoder.register_forward_hook(drop_emotion_tokens, with_kwargs=True, always_call=True)
            handles.append(HookHandle(post.remove, "emotion tokens dropped from model.decoder's output"))
        return handles

    # -------------------------------------------------------------- appearance: gated
    def _install_gated_attention(self, injector: EmotionInjector) -> list[HookHandle]:
        decoder = self.decoder

        def fresh_tokens(hidden_states):
            return injector.appearance_tokens(hidden_states.shape[0], like=hidden_states)

        with rollback_on_error([]) as handles:
            first = _first_parameter(decoder.forward)
            emotion_tokens, shared = once_per_call(decoder, first, fresh_tokens, "uv-gated-emotion-tokens")
            handles += shared
            handles += wrap_processors(decoder.layers, "model.decoder.layers",
                                       lambda original, i: GatedEmotionSelfAttention(original, i, injector, emotion_tokens))
        return handles
