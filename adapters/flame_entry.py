"""The geometry path shared by adapters: rewrite ``flame_params`` on the way into a model's
``forward`` / ``infer_single_view``.

:func:`install_flame_entries` replaces each entry point that takes ``flame_params`` (positional,
keyword or keyword-only) by a function that passes ``injector.modulate_flame(flame_params)``
instead (``expr`` / ``jaw_pose`` rewritten; the caller's dict is not modified), installed on the
instance (``model.__dict__``) so removing it restores the class's method. Nested entry points
(``forward`` calling ``infer_single_view``) modulate once.
"""

from __future__ import annotations

import functools
import inspect
from contextvars import ContextVar

from torch import nn

from emoctl.adapters.base import EmotionInjector, HookHandle, rollback_on_error

FLAME_ENTRY_POINTS = ("forward", "infer_single_view")
_MISSING = object()


def flame_params_position(fn) -> int | None:
    """Index of ``flame_params`` among ``fn``'s positional parameters, ``-1`` if it is keyword-only,
    ``None`` if ``fn`` has none."""
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


def flame_entry_points(model: nn.Module) -> list[str]:
    """The names in :data:`FLAME_ENTRY_POINTS` that ``model`` has and that take ``flame_params``."""
    return [name for name in FLAME_ENTRY_POINTS
            if callable(getattr(model, name, None)) and flame_params_position(getattr(model, name)) is not None]


def install_flame_entries(model: nn.Module, injector: EmotionInjector) -> list[HookHandle]:
    """Patch every entry point of :func:`flame_entry_points`; handles that undo each patch."""
    inside = ContextVar(f"emoctl-geometry-{id(model)}", default=False)
    with rollback_on_error([]) as handles:
        for name in flame_entry_points(model):
            handles.append(_patch_flame_entry(model, name, injector, inside))
    return handles


def _patch_flame_entry(model: nn.Module, name: str, injector: EmotionInjector, inside: ContextVar) -> HookHandle:
    previous = model.__dict__.get(name, _MISSING)
    bound = getattr(model, name)
    position = flame_params_position(bound)

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
