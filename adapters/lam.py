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

import functools
import inspect
from contextvars import ContextVar

import torch
from torch import nn

from emoctl.adapters.base import Adapter, EmotionInjector, HookHandle, rollback_on_error
from emoctl.adapters.joint_attention import GatedEmotionJointAttention
from emoctl.errors import NoMatchingAdapterError, ShapeError

_MISSING = object()
FLAME_ENTRY_POINTS = ("forward", "infer_single_view")


def _flame_params_position(fn) -> int | None:
    """Index of ``flame_params`` among ``fn``'s positional parameters, or None if it has none."""
    try:
        params = list(inspect.signature(fn).parameters.values())
    except (TypeError, ValueError):
        return None
    positional = [p for p in params if p.kind in (p.POSITIONAL_ONLY, p.POSITIONAL_OR_KEYWORD)]
    for i, p in enumerate(positional):
        if p.name == "flame_params":
            return i
    if any(p.name == "flame_params" and p.kind == p.KEYWORD_ONLY for p in params):
        return -1
    return None


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
        if not any(_flame_params_position(getattr(model, n, None)) is not None for n in FLAME_ENTRY_POINTS if callable(getattr(model, n, None))):
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
            inside = ContextVar(f"emoctl-lam-geometry-{id(self)}", default=False)
            for name in FLAME_ENTRY_POINTS:
                fn = getattr(self.model, name, None)
                if callable(fn) and _flame_params_position(fn) is not None:
                    handles.append(self._patch_flame_entry(name, injector, inside))
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
        # The projected emotion tokens are the same for every layer of one transformer call:
        # computed once in a pre-hook and cleared after the call (also when it raises). A layer
        # run outside a transformer call (activation-checkpoint recomputation) computes its own.
        shared: ContextVar = ContextVar(f"emoctl-lam-gated-tokens-{id(self)}", default=_MISSING)

        def fresh_tokens(hidden_states):
            tokens = injector.appearance_tokens(hidden_states.shape[0], like=hidden_states)
            return None if tokens is None else project(tokens)

        def compute_once(module, args, kwargs):
            x = kwargs["x"] if "x" in kwargs else (args[0] if args else None)
            shared.set(fresh_tokens(x) if isinstance(x, torch.Tensor) and x.dim() == 3 else _MISSING)

        def clear(module, args, kwargs, output=None):
            shared.set(_MISSING)

        def context_tokens(hidden_states):
            tokens = shared.get()
            if tokens is _MISSING or (tokens is not None and tokens.shape[0] != hidden_states.shape[0]):
                return fresh_tokens(hidden_states)
            return tokens

        with rollback_on_error([]) as handles:
            pre = transformer.register_forward_pre_hook(compute_once, with_kwargs=True)
            handles.append(HookHandle(pre.remove, "emotion tokens computed once per model.transformer call"))
            post = transformer.register_forward_hook(clear, with_kwargs=True, always_call=True)
            handles.append(HookHandle(post.remove, "shared emotion tokens cleared after model.transformer"))
            for i, block in enumerate(transformer.layers):
                attn = block.attn
                original = getattr(attn, "processor", None)
                if original is None:
                    raise NoMatchingAdapterError(f"gated mode needs model.transformer.layers[{i}].attn.processor (diffusers' Attention)")
                wrapper = GatedEmotionJointAttention(original, i, injector, context_tokens)
                _set_processor(attn, wrapper)
                handles.append(HookHandle(functools.partial(_restore_processor, attn, wrapper, original),
                                          f"gated emotion attention in layers[{i}]"))
        return handles

    # -------------------------------------------------------------- geometry
    def _patch_flame_entry(self, name: str, injector: EmotionInjector, inside: ContextVar) -> HookHandle:
        model = self.model
        previous = model.__dict__.get(name, _MISSING)
        bound = getattr(model, name)
        position = _flame_params_position(bound)

        @functools.wraps(bound)
        def entry(*args, **kwargs):
            if inside.get():  # an outer entry point already modulated these parameters
                return bound(*args, **kwargs)
            if position >= 0 and len(args) > position:
                if args[position] is not None:
                    args = (*args[:position], injector.modulate_flame(args[position]), *args[position + 1:])
            elif kwargs.get("flame_params") is not None:
                kwargs = {**kwargs, "flame_params": injector.modulate_flame(kwargs["flame_params"])}
            token = inside.set(True)
            try:
                return bound(*args, **kwargs)
            finally:
                inside.reset(token)

        model.__dict__[name] = entry

        def remove():
            if model.__dict__.get(name) is entry:
                if previous is _MISSING:
                    del model.__dict__[name]
                else:
                    model.__dict__[name] = previous

        return HookHandle(remove, f"{type(model).__name__}.{name}: flame_params expr/jaw_pose modulated")


def _set_processor(attn, processor) -> None:
    if hasattr(attn, "set_processor"):
        attn.set_processor(processor)
    else:
        attn.processor = processor


def _restore_processor(attn, wrapper, original) -> None:
    if getattr(attn, "processor", None) is wrapper:
        _set_processor(attn, original)
