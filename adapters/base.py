"""The adapter contract: where a backbone family takes appearance tokens and FLAME parameters.

An adapter knows two places in a backbone: where extra appearance (context) tokens can join its
transformer, and where FLAME expression/jaw parameters enter its animation. It installs
removable hooks there that call back into an :class:`EmotionInjector` (the controller), and does
nothing else: no weights of its own, no changes to the backbone's modules or state_dict.
"""

from __future__ import annotations

import contextlib
from abc import ABC, abstractmethod
from collections.abc import Callable, Iterator, Mapping
from typing import Any, ClassVar, Protocol, runtime_checkable

import torch
from torch import nn

from emoctl.errors import NoMatchingAdapterError


@runtime_checkable
class EmotionInjector(Protocol):
    """What adapters call back into (implemented by :class:`emoctl.EmotionController`).

    Each method returns ``None`` / its input unchanged while the controller is disabled, so a
    disabled hook costs one check and changes nothing.
    """

    appearance_mode: str

    def appearance_tokens(self, batch_size: int, like: torch.Tensor) -> torch.Tensor | None:
        """Emotion tokens ``[B, k, token_dim]`` in ``like``'s dtype and device, or ``None``."""

    def modulate_flame(self, flame_params: Mapping[str, torch.Tensor]) -> Mapping[str, torch.Tensor]:
        """``flame_params`` with ``expr``/``jaw_pose`` modulated (a new dict), or the input itself."""

    def attention_gate(self, layer: int, like: torch.Tensor) -> torch.Tensor:
        """``tanh(gate[layer])`` as a 0-d tensor in ``like``'s dtype/device ("gated" mode)."""


class HookHandle:
    """A removable hook: ``remove()`` undoes it; removing twice is harmless."""

    def __init__(self, remove: Callable[[], None], description: str):
        self._remove = remove
        self.description = description

    def remove(self) -> None:
        if self._remove is not None:
            remove, self._remove = self._remove, None
            remove()

    def __repr__(self) -> str:
        return f"HookHandle({self.description!r}, active={self._remove is not None})"


@contextlib.contextmanager
def rollback_on_error(handles: list[HookHandle]) -> Iterator[list[HookHandle]]:
    """Collect handles while installing hooks; if the block raises, remove them (last first).

    ``with rollback_on_error([]) as handles: handles.append(...)`` — a failed install leaves the
    model as it was.
    """
    try:
        yield handles
    except BaseException:
        for handle in reversed(handles):
            handle.remove()
        raise


class Adapter(ABC):
    """Base class of backbone adapters. Subclasses set ``name`` and implement the three methods.

    Register a subclass with :func:`emoctl.adapters.register_adapter`, or from another package
    through the ``emoctl.adapters`` entry-point group.
    """

    name: ClassVar[str]
    #: higher wins when several adapters match one model
    priority: ClassVar[int] = 0
    #: the appearance modes this adapter can install
    appearance_modes: ClassVar[tuple[str, ...]] = ("concat",)

    def __init__(self, model: nn.Module):
        missing = self.missing_features(model)
        if missing:
            raise NoMatchingAdapterError(f"adapter {self.name!r} does not fit {type(model).__name__}: missing {'; '.join(missing)}")
        self.model = model

    @classmethod
    @abstractmethod
    def missing_features(cls, model: Any) -> list[str]:
        """What of the layout this adapter needs is absent from ``model`` (empty list: it fits)."""

    @classmethod
    def matches(cls, model: Any) -> bool:
        return not cls.missing_features(model)

    @classmethod
    def layout_description(cls) -> str:
        """One line on what the adapter looks for, for "no adapter matched" errors."""
        return (cls.__doc__ or cls.__name__).strip().splitlines()[0]

    @property
    @abstractmethod
    def token_dim(self) -> int:
        """Width of the appearance tokens the backbone accepts."""

    @property
    def num_attention_layers(self) -> int:
        """Number of joint-attention layers (one gate each in "gated" mode)."""
        return 0

    @abstractmethod
    def install(self, injector: EmotionInjector) -> list[HookHandle]:
        """Install the hooks; return handles that remove every one of them."""
