"""``BackboneTrainingConfig``: everything one backbone training run is a function of (``training.json``)."""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass, field, fields, replace
from typing import Any, Mapping

from emoctl.errors import ConfigError

#: Fields that may change when a run is resumed (they do not change what a step computes).
RESUMABLE_CHANGES = ("steps", "max_minutes", "threads", "val_every", "ckpt_every", "out_dir")


@dataclass(frozen=True)
class BackboneTrainingConfig:
    """One backbone training run (self-reenactment on a synthetic dataset).

    - ``arch``: ``"lam"`` or ``"uv"`` (:data:`emoctl.backbones.ARCHS`); ``model``: overrides of the
      arch's config (e.g. ``{"num_points": 1024}``); the arch's defaults otherwise;
    - ``data_dir``, ``val_dir``: dataset folders (a recipe's ``appearance/train`` and
      ``appearance/val``, each read whole); ``out_dir``: where the run writes;
    - ``steps`` optimiser steps of ``batch_size`` items; each item is a window of ``frames_per_sample``
      frames x the clip's views, of which ``rendered_per_sample`` (frame, view) pairs are rendered;
    - AdamW (``lr``, ``weight_decay``), linear warm-up over ``warmup_steps`` then cosine decay to
      ``min_lr_ratio`` x ``lr`` at ``steps``; gradients clipped to norm ``grad_clip`` (0: off);
    - ``loss_weights``: :class:`emoctl.losses.LossWeights` fields;
    - validation every ``val_every`` steps on ``val_items_per_identity`` fixed items per validation
      identity (all of their (frame, view) pairs); a checkpoint every ``ckpt_every`` steps;
    - ``seed`` (data order, per-step randomness), torch ``threads``, ``max_minutes`` of wall time for
      this process (then it validates, checkpoints and saves the model as if it had finished).
    """

    arch: str = "lam"
    model: dict = field(default_factory=dict)
    data_dir: str = ""
    val_dir: str = ""
    out_dir: str = ""
    steps: int = 2000
    batch_size: int = 4
    frames_per_sample: int = 2
    rendered_per_sample: int = 4
    lr: float = 3e-4
    weight_decay: float = 0.01
    warmup_steps: int = 50
    min_lr_ratio: float = 0.1
    grad_clip: float = 1.0
    loss_weights: dict = field(default_factory=dict)
    val_every: int = 200
    val_items_per_identity: int = 2
    ckpt_every: int = 100
    seed: int = 0
    threads: int = 1
    max_minutes: float | None = None

    def __post_init__(self) -> None:
        from emoctl.backbones import ARCHS
        from emoctl.losses import LossWeights

        if self.arch not in ARCHS:
            raise ConfigError(f"unknown backbone arch {self.arch!r}; choose one of {sorted(ARCHS)}")
        for name in ("steps", "batch_size", "frames_per_sample", "rendered_per_sample", "val_every",
                     "val_items_per_identity", "ckpt_every", "threads"):
            _int(getattr(self, name), name, 1)
        _int(self.warmup_steps, "warmup_steps", 0)
        _int(self.seed, "seed", 0)
        for name in ("lr", "weight_decay", "grad_clip", "min_lr_ratio"):
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value) or value < 0:
                raise ConfigError(f"{name} must be a finite number >= 0, got {value!r}")
        if not self.lr > 0:
            raise ConfigError(f"lr must be > 0, got {self.lr!r}")
        if self.max_minutes is not None and (isinstance(self.max_minutes, bool) or not isinstance(self.max_minutes, (int, float))
                                             or not self.max_minutes > 0):
            raise ConfigError(f"max_minutes must be a number > 0 or null, got {self.max_minutes!r}")
        if not isinstance(self.model, dict):
            raise ConfigError(f"model must be a JSON object of {self.arch} config overrides, got {self.model!r}")
        if not isinstance(self.loss_weights, dict):
            raise ConfigError(f"loss_weights must be a JSON object, got {self.loss_weights!r}")
        LossWeights.from_json(self.loss_weights)
        for name in ("data_dir", "val_dir", "out_dir"):
            if not isinstance(getattr(self, name), str):
                raise ConfigError(f"{name} must be a path string, got {getattr(self, name)!r}")

    def model_config(self):
        """The arch's config object with :attr:`model` applied (``ConfigError`` for unknown fields)."""
        from emoctl.backbones import arch_classes

        config_cls, _ = arch_classes(self.arch)
        return config_cls.from_json({**self.model, "arch": self.arch})

    def to_json(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> "BackboneTrainingConfig":
        if not isinstance(data, Mapping):
            raise ConfigError(f"a training config must be a JSON object, got {type(data).__name__}")
        known = {f.name for f in fields(cls)}
        unknown = sorted(set(data) - known)
        if unknown:
            raise ConfigError(f"unknown training config field(s) {unknown}; known: {sorted(known)}")
        return cls(**dict(data))

    def replace(self, **changes: Any) -> "BackboneTrainingConfig":
        return replace(self, **changes)

    def resume_conflicts(self, saved: Mapping[str, Any]) -> list[str]:
        """Fields that differ from a checkpoint's config and may not change on resume."""
        mine = self.to_json()
        return sorted(k for k in mine if k not in RESUMABLE_CHANGES and saved.get(k) != mine[k])


def _int(value: Any, name: str, minimum: int) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or value < minimum:
        raise ConfigError(f"{name} must be an int >= {minimum}, got {value!r}")
    return value
