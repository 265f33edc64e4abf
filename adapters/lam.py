"""Adapter for LAM's public layout (``lam.models.modeling_lam.ModelLAM`` and look-alikes).

Matched by layout, not by class name:

- ``model.transformer.linear_cond_proj`` — an ``nn.Linear`` projecting the image tokens that
  ``model.transformer(x, cond=image_feats, ...)`` receives; emotion tokens of its ``in_features``
  width are appended to ``cond`` (a forward pre-hook on ``model.transformer``), so they join the
  joint attention of every layer and are carried through the context stream (paper eq. 6).
- ``model.transformer.layers[i].attn`` — joint attention with context projections
  (``add_k_proj``); the "gated" mode wraps its processor instead of appending tokens.
- ``model.forward`` / ``model.infer_single_view`` taking ``flame_params`` — ``expr`` and
  ``jaw_pose`` are rewritten by the geometry modulator on the way in (paper eq. 5); the caller's
  dict is not modified.

LAM's ``forward_latent_points`` is ``torch.compile``-d; wrap before its first call (or reset
Dynamo), as Dynamo may not see hooks added later.
"""

from __future__ import annotations

import inspect

import torch
from torch import nn

from emoctl.adapters.base import Adapter, EmotionInjector, HookHandle, rollback_on_error
from emoctl.adapters.flame_entry import flame_entry_points, install_flame_entries
from emoctl.adapters.joint_attention import GatedEmotionJointAttention
from emoctl.adapters.processors import once_per_call, wrap_processors
from emoctl.errors import ShapeError


class LAMAdapter(Adapter):
    """LAM layout: model.transformer.linear_cond_proj (nn.Linear, the image tokens `cond`),
    model.transformer.layers[i].attn with add_k_proj (joint attention), and forward or
    infer_single_view taking flame_params."""

    name = "lam"
    priority = 0
    appearance_modes = ("concat", "gated")

    @classmethod
    def missing_features(cls, model) -> list[str]:
        if not isinstance(model, nn.Module):
            return [f"an nn.Module (got {type(model).__name__})"]
        missing = []
        transformer = getattr(model, "transformer", None)
        if not isinstance(transformer, nn.Module):
            missing.append("model.transformer (an nn.Module)")
        else:
            if not isinstance(getattr(transformer, "linear_cond_proj", None), nn.Linear):
                missing.append("model.transformer.linear_cond_proj (nn.Linear projecting the image tokens `cond`)")
            layers = getattr(transformer, "layers", None)
            if not isinstance(layers, (nn.ModuleList, nn.Sequential)) or len(layers) == 0:
                missing.append("model.transformer.layers (a non-empty ModuleList of blocks)")
            elif not all(hasattr(getattr(block, "attn", None), "add_k_proj") for block in layers):
                missing.append("model.transformer.layers[i].attn.add_k_proj (joint attention over geometry and image tokens)")
            try:
                takes_cond = "cond" in inspect.signature(transformer.forward).parameters
            except (TypeError, ValueError):
                takes_cond = False
            if not takes_cond:
                missing.append("model.transformer.forward(x, cond=...)")
        if not flame_entry_points(model):
            missing.append("model.forward or model.infer_single_view with a `flame_params` argument")
        return missing

    @property
    def transformer(self) -> nn.Module:
        return self.model.transformer

    @property
    def token_dim(self) -> int:
        return self.transformer.linear_cond_proj.in_features

    @property
    def num_attention_layers(self) -> int:
        return len(self.transformer.layers)

    def install(self, injector: EmotionInjector) -> list[HookHandle]:
        with rollback_on_error([]) as handles:
            if injector.appearance_mode == "gated":
                handles += self._install_gated_attention(injector)
            else:
                handles.append(self._install_cond_tokens(injector))
            handles += install_flame_entries(self.model, injector)
        return handles

    # -------------------------------------------------------------- appearance: concat
    def _install_cond_tokens(self, injector: EmotionInjector) -> HookHandle:
        token_dim = self.token_dim

        def append_emotion_tokens(module, args, kwargs):
            if "cond" in kwargs:
                cond = kwargs["cond"]
            elif len(args) > 1:
                cond = args[1]
            else:
                return None
            if cond is None:
                return None
            if cond.dim() != 3 or cond.shape[-1] != token_dim:
                raise ShapeError(f"transformer cond must be [B, N, {token_dim}], got {tuple(cond.shape)}")
            tokens = injector.appearance_tokens(cond.shape[0], like=cond)
            if tokens is None:
                return None
            cond = torch.cat([cond, tokens], dim=1)
            if "cond" in kwargs:
                kwargs = {**kwargs, "cond": cond}
            else:
                args = (args[0], cond, *args[2:])
            return args, kwargs

        handle = self.transformer.register_forward_pre_hook(append_emotion_tokens, with_kwargs=True)
        return HookHandle(handle.remove, "emotion tokens appended to model.transformer(cond=...)")

    # -------------------------------------------------------------- appearance: gated
    def _install_gated_attention(self, injector: EmotionInjector) -> list[HookHandle]:
        transformer = self.transformer
        project = transformer.linear_cond_proj

        # The projected emotion tokens are the same for every layer of one transformer call.
        def fresh_tokens(hidden_states):
            tokens = injector.appearance_tokens(hidden_states.shape[0], like=hidden_states)
            return None if tokens is None else project(tokens)

        with rollback_on_error([]) as handles:
            context_tokens, shared = once_per_call(transformer, "x", fresh_tokens, "lam-gated-emotion-tokens")
            handles += shared
            handles += wrap_processors(transformer.layers, "model.transformer.layers",
                                       lambda original, i: GatedEmotionJointAttention(original, i, injector, context_tokens))
        return handles
