"""``ModulatorConfig``: every number needed to rebuild the emotion modulators, apart from the modules.

As PEFT keeps a tuner's config apart from its model, the config lives here so that both the
modules (:mod:`emoctl.modulators`) and the checkpoint format (:mod:`emoctl.hub`) can import it
without importing each other. Also the names of the modulators' parts and their parser.
"""

from __future__ import annotations

import dataclasses
import json
from collections.abc import Mapping
from dataclasses import dataclass, field

from emoctl._version import __version__
from emoctl.appearance import APPEARANCE_MODES
from emoctl.emotions import Vocabulary
from emoctl.errors import CheckpointError

#: The modulators' parts, in state-dict order.
PARTS = ("embedding", "geometry", "appearance")
CONFIG_FORMAT = "emoctl-modulators"
CONFIG_FORMAT_VERSION = 1


@dataclass(frozen=True)
class ModulatorConfig:
    """Every number needed to rebuild the modulators; written to ``config.json``.

    ``token_dim`` is the backbone's appearance-token width (``None``: no appearance path).
    """

    emotions: tuple[str, ...]
    token_dim: int | None = None
    emotion_dim: int = 256
    expression_dim: int = 100
    geometry_dim: int = 256
    geometry_layers: int = 4
    geometry_heads: int = 4
    geometry_tokens: int = 4
    appearance_tokens: int = 4
    appearance_mode: str = "concat"
    gate_layers: int = 0
    adapter: str | None = None
    extra: dict = field(default_factory=dict, compare=False)

    def __post_init__(self):
        object.__setattr__(self, "emotions", tuple(Vocabulary.from_spec(self.emotions)))
        for name in ("emotion_dim", "expression_dim", "geometry_dim", "geometry_layers", "geometry_heads",
                     "geometry_tokens", "appearance_tokens", "gate_layers", "token_dim"):
            value = getattr(self, name)
            if value is None and name == "token_dim":
                continue
            if not isinstance(value, int) or isinstance(value, bool) or value < (0 if name == "gate_layers" else 1):
                raise ValueError(f"ModulatorConfig.{name} must be a positive int, got {value!r}")
        if self.appearance_mode not in APPEARANCE_MODES:
            raise ValueError(f"appearance_mode must be one of {APPEARANCE_MODES}, got {self.appearance_mode!r}")

    @property
    def vocabulary(self) -> Vocabulary:
        return Vocabulary(self.emotions)

    def to_dict(self) -> dict:
        d = dataclasses.asdict(self)
        d["emotions"] = list(self.emotions)
        extra = d.pop("extra")
        return {"format": CONFIG_FORMAT, "format_version": CONFIG_FORMAT_VERSION, "emoctl_version": __version__, **d, **extra}

    @classmethod
    def from_dict(cls, d: Mapping) -> "ModulatorConfig":
        if d.get("format") != CONFIG_FORMAT:
            raise CheckpointError(
                f"config.json is not an emoctl modulator config (format={d.get('format')!r}, expected {CONFIG_FORMAT!r})"
            )
        if int(d.get("format_version", 0)) > CONFIG_FORMAT_VERSION:
            raise CheckpointError(
                f"config.json has format_version {d.get('format_version')}, newer than this emoctl "
                f"({__version__}) reads ({CONFIG_FORMAT_VERSION}); upgrade emoctl"
            )
        names = {f.name for f in dataclasses.fields(cls)} - {"extra"}
        known = {k: v for k, v in d.items() if k in names}
        extra = {k: v for k, v in d.items() if k not in names and k not in ("format", "format_version", "emoctl_version")}
        try:
            return cls(**known, extra=extra)
        except (TypeError, ValueError) as e:
            raise CheckpointError(f"config.json is invalid: {e}") from None

    def mismatches(self, other: "ModulatorConfig", parts: tuple[str, ...]) -> list[str]:
        """Human-readable differences between a checkpoint's config (``other``) and this one that
        matter when loading ``parts``."""
        fields = ["emotions", "emotion_dim"]
        if "geometry" in parts:
            fields += ["expression_dim", "geometry_dim", "geometry_layers", "geometry_heads", "geometry_tokens"]
        if "appearance" in parts:
            fields += ["token_dim", "appearance_tokens", "appearance_mode", "gate_layers", "adapter"]
        out = []
        for name in fields:
            mine, theirs = getattr(self, name), getattr(other, name)
            if mine != theirs:
                what = {"emotions": "emotion vocabulary", "token_dim": "backbone token width", "adapter": "backbone adapter"}
                out.append(f"{what.get(name, name)}: checkpoint has {_fmt(theirs)}, this model has {_fmt(mine)}")
        return out


def _fmt(v) -> str:
    return json.dumps(list(v)) if isinstance(v, tuple) else repr(v)


def parse_parts(parts) -> tuple[str, ...]:
    """``parts`` (``None``/``"all"``, ``"geometry"`` = embedding + geometry, a name or names) as a
    tuple in :data:`PARTS` order; unknown names are a ``ValueError``."""
    if parts is None or parts == "all":
        return PARTS
    if parts == "geometry":
        return ("embedding", "geometry")
    if isinstance(parts, str):
        parts = (parts,)
    unknown = [p for p in parts if p not in PARTS]
    if unknown:
        raise ValueError(f"unknown part(s) {unknown}; parts are {list(PARTS)}, 'all' or 'geometry'")
    return tuple(p for p in PARTS if p in parts)
