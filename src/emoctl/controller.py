"""The controller that attaches emotion modulators to a backbone: ``wrap``, ``unwrap``,
``EmotionController``.

The active emotion lives in a :class:`contextvars.ContextVar`, so each thread and each asyncio
task sees only the emotion it set (``with ctl.emotion(...)``). Outside any ``emotion()`` block the
controller applies its default emotion (neutral unless changed): a wrapped backbone is an
emotion-controlled backbone. ``with ctl.disabled():`` gives back exactly the original model.

The rule for other threads: a context variable follows the *context*, not the code. An asyncio
task and ``asyncio.to_thread`` copy the caller's context, so they keep the emotion. A plain
``threading.Thread``, ``ThreadPoolExecutor.submit`` and ``loop.run_in_executor`` do not (a pool
thread keeps the context it started with, whatever block the work was submitted from): work sent
there runs with the default emotion. Carry it with one call, :meth:`EmotionController.bind`::

    with ctl.emotion("happy"):
        future = pool.submit(ctl.bind(render), frame)   # runs happy in the pool thread
"""

from __future__ import annotations

import contextlib
import functools
from collections.abc import Iterator, Mapping
from contextvars import ContextVar, copy_context

import torch
from torch import nn

from emoctl.adapters import Adapter, HookHandle, find_adapter, get_adapter
from emoctl.emotions import EmotionLabel
from emoctl.errors import AlreadyWrappedError, ArgumentTypeError, ConfigError, NotWrappedError
from emoctl.config import ModulatorConfig
from emoctl.modulators import EmotionModulators

_ATTR = "_emoctl_controller"
_DISABLED = object()


class EmotionController(EmotionModulators):
    """Emotion modulators attached to a backbone through an adapter's hooks.

    Made by :func:`wrap`. It is an ``nn.Module`` whose parameters and ``state_dict`` are the added
    modules only; the backbone is referenced, not owned.
    """

    def __init__(self, model: nn.Module, adapter: Adapter, config: ModulatorConfig):
        super().__init__(config)
        self.__dict__["_model"] = model  # a reference, not a submodule: keeps state_dicts apart
        self.__dict__["_adapter"] = adapter
        self._state: ContextVar = ContextVar(f"emoctl-emotion-{id(self)}", default=None)
        self._default: EmotionLabel = self.parse(self.vocabulary.neutral)
        self._handles: list[HookHandle] = []

    # ------------------------------------------------------------------ public API
    @property
    def model(self) -> nn.Module:
        """The wrapped backbone."""
        return self.__dict__["_model"]

    @property
    def adapter(self) -> Adapter:
        return self.__dict__["_adapter"]

    @property
    def appearance_mode(self) -> str:
        return self.config.appearance_mode

    @property
    def attached(self) -> bool:
        return bool(self._handles)

    @contextlib.contextmanager
    def emotion(self, label) -> Iterator[EmotionLabel]:
        """Use ``label`` for every backbone call inside the block (this thread / task only).

        ``label``: a name, an id, a ``{name: weight}`` mixture, ``emoctl.Emotion``,
        ``emoctl.interpolate(...)``, one label per sample (list or int tensor ``[B]``), weights
        ``[B, K]`` or a per-frame curve ``[B, T, K]`` (per frame on the geometry path; averaged
        over time on the appearance path, which builds one avatar per sample; for per-frame
        appearance on a backbone that exposes ``build_avatar``, see
        :func:`emoctl.backbones.emotion_avatar.build_emotion_avatar`). Parsed on entry, so
        a bad label fails here.

        The emotion is seen by code running in this context: nested calls, asyncio tasks created
        inside the block and ``asyncio.to_thread``. Work handed to a thread pool
        (``ThreadPoolExecutor.submit``, ``loop.run_in_executor``) or a new ``threading.Thread``
        runs with the default emotion instead; wrap it with :meth:`bind`:
        ``pool.submit(ctl.bind(render), x)``.
        """
        parsed = self.parse(label)
        token = self._state.set(parsed)
        try:
            yield parsed
        finally:
            self._state.reset(token)

    @contextlib.contextmanager
    def disabled(self) -> Iterator[None]:
        """Inside the block the backbone runs exactly as if it were not wrapped."""
        token = self._state.set(_DISABLED)
        try:
            yield
        finally:
            self._state.reset(token)

    def bind(self, fn):
        """``fn`` bound to the emotion state active now, for work that runs in another thread.

        ``pool.submit(ctl.bind(render), x)`` and ``loop.run_in_executor(None, ctl.bind(render), x)``
        render with the emotion of the surrounding ``with ctl.emotion(...)`` block (and inside a
        ``disabled()`` block, disabled), even though pool threads do not inherit context
        variables. The state is captured when ``bind`` is called, so a bound function keeps it
        after the block has ended; an ``emotion()`` block inside ``fn`` does not leak out.

        The whole context is captured (:func:`contextvars.copy_context`), not only this
        controller's variable: every wrapped model's emotion, and any other library's context
        variables, travel the way ``asyncio.to_thread`` carries them, so two wrapped models used in
        one pool job both keep their emotions. Each call runs in a fresh copy of that context, so
        one bound function can run in several pool threads at once (``pool.map``).
        """
        if not callable(fn):
            raise ArgumentTypeError(f"bind() takes a callable, got {type(fn).__name__}")
        context = copy_context()

        @functools.wraps(fn)
        def bound(*args, **kwargs):
            return context.copy().run(fn, *args, **kwargs)

        return bound

    @property
    def default_emotion(self) -> EmotionLabel:
        """The emotion applied outside any ``emotion()`` block (initially neutral)."""
        return self._default

    @default_emotion.setter
    def default_emotion(self, label) -> None:
        self._default = self.parse(label)

    @property
    def active_emotion(self) -> EmotionLabel | None:
        """The emotion hooks would apply now in this context; ``None`` when disabled."""
        state = self._state.get()
        if state is _DISABLED:
            return None
        return self._default if state is None else state

    def freeze_backbone(self) -> None:
        """Set ``requires_grad=False`` on every backbone parameter (modulators stay trainable)."""
        self.model.requires_grad_(False)

    # ------------------------------------------------------------------ injector protocol
    def appearance_tokens(self, batch_size: int, like: torch.Tensor) -> torch.Tensor | None:
        label = self.active_emotion
        if label is None or self.appearance is None:
            return None
        self._check_device(like)
        return self.appearance_tokens_for(label, batch_size).to(dtype=like.dtype)

    def modulate_flame(self, flame_params: Mapping[str, torch.Tensor]) -> Mapping[str, torch.Tensor]:
        label = self.active_emotion
        if label is None:
            return flame_params
        if not isinstance(flame_params, Mapping):
            raise ArgumentTypeError(f"flame_params must be a dict of tensors, got {type(flame_params).__name__}")
        return self.retarget(flame_params, label)

    def attention_gate(self, layer: int, like: torch.Tensor) -> torch.Tensor:
        return self.appearance.gate(layer).to(dtype=like.dtype)

    # ------------------------------------------------------------------ attach / detach
    def _attach(self) -> None:
        if self.attached:
            return
        self._handles = self.adapter.install(self)
        self.model.__dict__[_ATTR] = self

    def _detach(self) -> None:
        for handle in reversed(self._handles):
            handle.remove()
        self._handles = []
        if self.model.__dict__.get(_ATTR) is self:
            del self.model.__dict__[_ATTR]

    def extra_repr(self) -> str:
        return (
            f"adapter={self.adapter.name!r}, emotions={list(self.vocabulary)}, token_dim={self.config.token_dim}, "
            f"appearance_mode={self.appearance_mode!r}, attached={self.attached}"
        )


def wrap(model: nn.Module, emotions=7, *, adapter: str | None = None, appearance_mode: str = "concat", **config) -> EmotionController:
    """Attach emotion control to ``model`` and return the :class:`EmotionController`.

    Args:
        model: the backbone (e.g. LAM's ``ModelLAM``); its call sites stay unchanged.
        emotions: 7 (the paper's vocabulary, :data:`emoctl.EMOTIONS`), another count, or a list
            of names whose first is the neutral (all-zero) label.
        adapter: an adapter name; by default the one whose layout fits ``model``.
        appearance_mode: ``"concat"`` (the paper) or ``"gated"`` (zero-initialised gates; the
            freshly wrapped model reproduces the original exactly).
        **config: other :class:`~emoctl.modulators.ModulatorConfig` fields (``emotion_dim``,
            ``geometry_layers``, ``appearance_tokens``, ...).

    The modulators are created on the device of the model's first parameter, in float32.
    Wrap before ``torch.compile``.
    """
    if not isinstance(model, nn.Module):
        raise ArgumentTypeError(f"wrap() takes an nn.Module, got {type(model).__name__}")
    if hasattr(model, "_orig_mod") and isinstance(getattr(model, "_orig_mod"), nn.Module):
        raise ArgumentTypeError(
            "wrap() got a torch.compile'd module: wrap the original module first, then compile it "
            "(emoctl.wrap(model); model = torch.compile(model))"
        )
    if isinstance(model.__dict__.get(_ATTR), EmotionController):
        raise AlreadyWrappedError(
            f"{type(model).__name__} is already wrapped by emoctl; call emoctl.unwrap(model) first"
        )
    adapter_cls = get_adapter(adapter) if adapter is not None else find_adapter(model)
    if appearance_mode not in adapter_cls.appearance_modes:
        raise ConfigError(
            f"adapter {adapter_cls.name!r} supports appearance modes {list(adapter_cls.appearance_modes)}, "
            f"not {appearance_mode!r}"
        )
    instance = adapter_cls(model)
    cfg = ModulatorConfig(
        emotions=emotions,
        token_dim=instance.token_dim,
        appearance_mode=appearance_mode,
        gate_layers=instance.num_attention_layers if appearance_mode == "gated" else 0,
        adapter=adapter_cls.name,
        **config,
    )
    controller = EmotionController(model, instance, cfg)
    first = next(model.parameters(), None)
    if first is not None:
        controller.to(first.device)
    controller._attach()
    return controller


def unwrap(model: nn.Module) -> EmotionController:
    """Remove every hook emoctl installed on ``model``; returns the detached controller.

    Afterwards the model is exactly as before :func:`wrap` (same outputs, same state_dict).
    """
    controller = model.__dict__.get(_ATTR) if isinstance(model, nn.Module) else None
    if not isinstance(controller, EmotionController):
        raise NotWrappedError(f"{type(model).__name__} is not wrapped by emoctl")
    controller._detach()
    return controller


def controller_of(model: nn.Module) -> EmotionController | None:
    """The controller attached to ``model``, or None."""
    controller = model.__dict__.get(_ATTR) if isinstance(model, nn.Module) else None
    return controller if isinstance(controller, EmotionController) else None
