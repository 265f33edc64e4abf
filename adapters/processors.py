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


class Folded:
    """Run a processor while reusing its own query projections and output projection for the gated
    emotion attention (the "gated" mode's fast path).

    During ``inner(...)``: forward hooks on the ``queries`` modules (``{name: module}``, e.g.
    ``{"q": attn.to_q}``) keep their outputs, and forward pre-hooks on the ``outputs`` modules
    (``{name: module}``, e.g. ``{"x": attn.to_out[0]}``) add ``gate * extra[name]`` to their input,
    where ``extra = compute(captured_queries)`` is computed once, when the first output module runs.
    So the emotion attention costs one small attention per layer (the queries against ``k`` emotion
    tokens) and no projection of its own, and the processor itself runs unchanged. The hooks exist
    only during the call.
    """

    def __init__(self, queries: dict[str, nn.Module], outputs: dict[str, nn.Module],
                 compute: Callable[[dict[str, torch.Tensor]], dict[str, torch.Tensor]], gate: torch.Tensor):
        self.queries, self.outputs, self.compute, self.gate = queries, outputs, compute, gate
        self.captured: dict[str, torch.Tensor] = {}
        self.extra: dict[str, torch.Tensor] | None = None
        #: Whether the last :meth:`run` added the emotion attention (an output module ran).
        self.applied = False

    def _keep(self, name):
        def hook(module, args, output):
            self.captured[name] = output
        return hook

    def _add(self, name):
        def hook(module, args):
            if self.extra is None:
                self.extra = self.compute(self.captured)
            extra = self.extra.get(name)
            if extra is None:
                return None
            self.applied = True
            return (args[0] + self.gate * extra.to(args[0].dtype), *args[1:])
        return hook

    def run(self, fn, *args, **kwargs):
        self.applied = False
        handles = [m.register_forward_hook(self._keep(n)) for n, m in self.queries.items() if m is not None]
        handles += [m.register_forward_pre_hook(self._add(n)) for n, m in self.outputs.items() if m is not None]
        try:
            return fn(*args, **kwargs)
        finally:
            for h in handles:
                h.remove()
            self.captured, self.extra = {}, None
