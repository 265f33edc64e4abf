"""Helpers the attention adapters share: swapping an attention layer's processor (diffusers'
``Attention.processor`` convention) and computing the emotion tokens once per transformer call."""

from __future__ import annotations

import functools
from collections.abc import Callable
from contextvars import ContextVar

import torch
from torch import nn

from emoctl.adapters.base import HookHandle, rollback_on_error
from emoctl.errors import NoMatchingAdapterError

_MISSING = object()


def _set_processor(attn, processor) -> None:
    if hasattr(attn, "set_processor"):
        attn.set_processor(processor)
    else:
        attn.processor = processor


def _restore_processor(attn, wrapper, original) -> None:
    if getattr(attn, "processor", None) is wrapper:
        _set_processor(attn, original)


def swap_processor(attn, wrapper, original, description: str) -> HookHandle:
    """Install ``wrapper`` as ``attn``'s processor; the handle puts ``original`` back (only if the
    wrapper is still the installed one)."""
    _set_processor(attn, wrapper)
    return HookHandle(functools.partial(_restore_processor, attn, wrapper, original), description)


def wrap_processors(layers, where: str, make_wrapper: Callable[[object, int], object]) -> list[HookHandle]:
    """Replace ``layers[i].attn.processor`` by ``make_wrapper(original, i)`` for every layer;
    ``where`` names the layers in messages (``"model.decoder.layers"``). A layer without a processor
    raises :class:`NoMatchingAdapterError` and leaves every processor as it was."""
    with rollback_on_error([]) as handles:
        for i, block in enumerate(layers):
            attn = block.attn
            original = getattr(attn, "processor", None)
            if original is None:
                raise NoMatchingAdapterError(f"gated mode needs {where}[{i}].attn.processor (diffusers' Attention)")
            handles.append(swap_processor(attn, make_wrapper(original, i), original, f"gated emotion attention in {where}[{i}]"))
    return handles


def once_per_call(module: nn.Module, first_arg: str, fresh: Callable[[torch.Tensor], torch.Tensor | None],
                  what: str) -> tuple[Callable[[torch.Tensor], torch.Tensor | None], list[HookHandle]]:
    """Share ``fresh(x)`` across the layers of one ``module`` call.

    ``x`` is the call's first argument (positional, or keyword ``first_arg``). A forward pre-hook
    computes ``fresh(x)`` once, a forward hook clears it after the call (also when it raises).
    Returns ``(tokens, handles)``: ``tokens(hidden_states)`` gives the shared value, or a fresh one
    when a layer runs outside a ``module`` call (activation-checkpoint recomputation) or for
    another batch size.
    """
    shared: ContextVar = ContextVar(f"emoctl-{what}-{id(module)}", default=_MISSING)

    def compute_once(mod, args, kwargs):
        x = kwargs[first_arg] if first_arg in kwargs else (args[0] if args else None)
        shared.set(fresh(x) if isinstance(x, torch.Tensor) and x.dim() == 3 else _MISSING)

    def clear(mod, args, kwargs, output=None):
        shared.set(_MISSING)

    def tokens(hidden_states: torch.Tensor) -> torch.Tensor | None:
        value = shared.get()
        if value is _MISSING or (value is not None and value.shape[0] != hidden_states.shape[0]):
            return fresh(hidden_states)
        return value

    with rollback_on_error([]) as handles:
        pre = module.register_forward_pre_hook(compute_once, with_kwargs=True)
        handles.append(HookHandle(pre.remove, f"{what} computed once per call"))
        post = module.register_forward_hook(clear, with_kwargs=True, always_call=True)
        handles.append(HookHandle(post.remove, f"{what} cleared after the call"))
    return tokens, handles
