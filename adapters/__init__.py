"""emoctl.adapters: one module per backbone family, plus the registry that picks one for a model.

Built-in: ``lam`` (:class:`LAMAdapter`) and ``uv`` (:class:`UVAdapter`, the Dual-UV layout). Third-party
adapters register through :func:`register_adapter` or the ``emoctl.adapters`` entry-point group.
"""

from emoctl.adapters.base import Adapter, EmotionInjector, HookHandle, rollback_on_error
from emoctl.adapters.lam import LAMAdapter
from emoctl.adapters.registry import (
    ENTRY_POINT_GROUP,
    available_adapters,
    find_adapter,
    get_adapter,
    register_adapter,
    unregister_adapter,
)
from emoctl.adapters.uv import UVAdapter

register_adapter(LAMAdapter)
register_adapter(UVAdapter)

__all__ = [
    "ENTRY_POINT_GROUP",
    "Adapter",
    "EmotionInjector",
    "HookHandle",
    "LAMAdapter",
    "UVAdapter",
    "available_adapters",
    "find_adapter",
    "get_adapter",
    "register_adapter",
    "rollback_on_error",
    "unregister_adapter",
]
