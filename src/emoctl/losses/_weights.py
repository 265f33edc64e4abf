"""The loss-weight configs' shared checks and JSON round trip."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import asdict
from typing import Any

from emoctl.errors import ConfigError


class WeightsConfig:
    """Mixin of a frozen dataclass of loss weights: every field a number ``>= 0`` (``ConfigError``
    naming the field), ``from_json`` refusing unknown names, ``to_json``. ``kind`` names the weights
    in messages."""

    kind = "loss"

    def __post_init__(self) -> None:
        for name, value in asdict(self).items():
            if isinstance(value, bool) or not isinstance(value, (int, float)) or not value >= 0:
                raise ConfigError(f"{type(self).__name__}.{name} must be a number >= 0, got {value!r}")

    @classmethod
    def from_json(cls, data: Mapping[str, Any] | None):
        data = dict(data or {})
        known = sorted(asdict(cls()))
        unknown = sorted(set(data) - set(known))
        if unknown:
            raise ConfigError(f"unknown {cls.kind} weight(s) {unknown}; known: {known}")
        return cls(**data)

    def to_json(self) -> dict[str, float]:
        return asdict(self)
