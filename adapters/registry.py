"""The adapter registry: built-in adapters plus third-party ones from the ``emoctl.adapters``
entry-point group (``[project.entry-points."emoctl.adapters"] name = "pkg.module:AdapterClass"``)."""

from __future__ import annotations

import warnings
from importlib import metadata
from typing import Any

from emoctl.adapters.base import Adapter
from emoctl.errors import ArgumentTypeError, ConfigError, NoMatchingAdapterError

ENTRY_POINT_GROUP = "emoctl.adapters"

_REGISTRY: dict[str, type[Adapter]] = {}
_entry_points_loaded = False


def register_adapter(cls: type[Adapter], *, replace: bool = False) -> type[Adapter]:
    """Register an :class:`Adapter` subclass under ``cls.name`` (usable as a class decorator)."""
    if not (isinstance(cls, type) and issubclass(cls, Adapter)):
        raise ArgumentTypeError(f"register_adapter takes an Adapter subclass, got {cls!r}")
    name = getattr(cls, "name", None)
    if not isinstance(name, str) or not name:
        raise ArgumentTypeError(f"{cls.__name__} needs a non-empty string class attribute 'name'")
    if name in _REGISTRY and _REGISTRY[name] is not cls and not replace:
        raise ConfigError(f"an adapter named {name!r} is already registered ({_REGISTRY[name].__qualname__})")
    _REGISTRY[name] = cls
    return cls


def unregister_adapter(name: str) -> None:
    _REGISTRY.pop(name, None)


def _load_entry_points() -> None:
    global _entry_points_loaded
    if _entry_points_loaded:
        return
    _entry_points_loaded = True
    for ep in metadata.entry_points(group=ENTRY_POINT_GROUP):
        try:
            cls = ep.load()
            if ep.name not in _REGISTRY:
                register_adapter(cls)
        except Exception as e:  # a broken plug-in must not break emoctl
            warnings.warn(f"could not load emoctl adapter entry point {ep.name!r} ({ep.value}): {e}", stacklevel=2)


def available_adapters() -> dict[str, type[Adapter]]:
    """All registered adapters by name (built-ins and entry points)."""
    _load_entry_points()
    return dict(_REGISTRY)


def get_adapter(name: str) -> type[Adapter]:
    adapters = available_adapters()
    if name not in adapters:
        raise NoMatchingAdapterError(f"no adapter named {name!r}; available: {sorted(adapters)}")
    return adapters[name]


def find_adapter(model: Any) -> type[Adapter]:
    """The registered adapter that fits ``model``'s layout (the highest priority if several do)."""
    adapters = available_adapters()
    fitting = [cls for cls in adapters.values() if cls.matches(model)]
    if not fitting:
        lines = [
            f"  - {name!r}: {cls.layout_description()}\n      missing: {'; '.join(cls.missing_features(model))}"
            for name, cls in sorted(adapters.items())
        ]
        raise NoMatchingAdapterError(
            f"no emoctl adapter recognises {type(model).__module__}.{type(model).__qualname__}. "
            f"Looked for:\n" + "\n".join(lines) + "\nWrite an Adapter for this backbone family and register it "
            "(emoctl.adapters.register_adapter or the 'emoctl.adapters' entry-point group), or pass adapter=<name>."
        )
    return max(fitting, key=lambda cls: cls.priority)
