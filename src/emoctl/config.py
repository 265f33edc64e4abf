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
from emoctl.errors import CheckpointError, ConfigError

#: The modulators' parts, in state-dict order.
PARTS = ("embedding", "geometry", "appearance")
CONFIG_FORMAT = "emoctl-modulators"
CONFIG_FORMAT_VERSION = 1
#: Keys of ``config.json`` that are about the file, not the modules (never kept in ``extra``).
FILE_KEYS = ("format", "format_version", "emoctl_version", "weights_sha256")

#: Inclusive ``(min, max)`` of every size field. The maxima are far beyond any real model; they
#: exist so that a malformed or hostile ``config.json`` is refused before anything is built.
SIZE_LIMITS = {
    "emotions": (2, 1024),  # number of names, neutral included
    "token_dim": (1, 16384),
    "emotion_dim": (1, 16384),
    "expression_dim": (1, 1024),
    "geometry_dim": (1, 16384),
    "geometry_layers": (1, 64),
    "geometry_heads": (1, 256),
    "geometry_tokens": (1, 1024),
    "appearance_tokens": (1, 1024),
    "gate_layers": (0, 1024),
}


@dataclass(frozen=True)
class ModulatorConfig:
    """Every number needed to rebuild the modulators; written to ``config.json``.

    ``token_dim`` is the backbone's appearance-token width (``None``: no appearance path).
    Sizes must lie within :data:`SIZE_LIMITS`; ``geometry_dim`` must be divisible by
    ``geometry_heads``; the ``"gated"`` appearance mode needs ``gate_layers >= 1``.
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
        low, high = SIZE_LIMITS["emotions"]
        if isinstance(self.emotions, int) and not isinstance(self.emotions, bool) and self.emotions > high:
            raise ConfigError(f"ModulatorConfig.emotions must be at most {high} emotions, got {self.emotions}")
        object.__setattr__(self, "emotions", tuple(Vocabulary.from_spec(self.emotions)))
        problems = field_problems(dataclasses.asdict(self)) + _extra_problems(self.extra)
        if problems:
            raise ConfigError("; ".join(f"ModulatorConfig.{name} {problem}" for name, problem in problems))

    @property
    def vocabulary(self) -> Vocabulary:
        return Vocabulary(self.emotions)

    def to_dict(self) -> dict:
        d = dataclasses.asdict(self)
        d["emotions"] = list(self.emotions)
        extra = d.pop("extra")
        return {"format": CONFIG_FORMAT, "format_version": CONFIG_FORMAT_VERSION, "emoctl_version": __version__, **d, **extra}

    @classmethod
    def from_dict(cls, d: Mapping, *, source: str | None = None) -> "ModulatorConfig":
        """The config stored in a ``config.json`` (``d``, as parsed), checked field by field.

        Every problem — wrong format, a version newer than this emoctl, a field of the wrong type
        or out of :data:`SIZE_LIMITS`, an invalid vocabulary — is a :class:`CheckpointError`
        naming the file (``source``: the checkpoint folder or repo id) and the field. Unknown
        keys are kept in ``extra``.
        """
        where = f"{source}: config.json" if source else "config.json"
        if not isinstance(d, Mapping):
            raise CheckpointError(f"{where} must hold a JSON object, got {type(d).__name__}")
        if d.get("format") != CONFIG_FORMAT:
            raise CheckpointError(
                f"{where} is not an emoctl modulator config (format={_short(d.get('format'))}, expected {CONFIG_FORMAT!r})"
            )
        problems = _file_key_problems(d)
        names = {f.name for f in dataclasses.fields(cls)} - {"extra"}
        known = {k: v for k, v in d.items() if k in names}
        problems += _emotions_problems(known)
        problems += field_problems(known)
        if problems:
            raise CheckpointError("; ".join(f"{where} field {name!r} {problem}" for name, problem in problems))
        version = d["format_version"]
        if version > CONFIG_FORMAT_VERSION:
            raise CheckpointError(
                f"{where} has format_version {version}, newer than this emoctl "
                f"({__version__}) reads ({CONFIG_FORMAT_VERSION}); upgrade emoctl"
            )
        extra = {k: v for k, v in d.items() if k not in names and k not in FILE_KEYS}
        try:
            return cls(**known, extra=extra)
        except ValueError as e:  # the vocabulary's own rules (unique names, neutral first, ...)
            raise CheckpointError(f"{where} field 'emotions' is invalid: {e}") from None

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


def field_problems(values: Mapping) -> list[tuple[str, str]]:
    """``(field, problem)`` for every size, mode or adapter value in ``values`` (a subset of the
    config's fields) of the wrong type or out of range, and for broken cross-field rules."""
    problems = []
    for name, (low, high) in SIZE_LIMITS.items():
        if name == "emotions" or name not in values or (name == "token_dim" and values[name] is None):
            continue
        value = values[name]
        if not _is_int(value):
            problems.append((name, f"must be an integer, got {_short(value)}"))
        elif not low <= value <= high:
            problems.append((name, f"must be between {low} and {high}, got {value}"))
    mode = values.get("appearance_mode", "concat")
    if not isinstance(mode, str) or mode not in APPEARANCE_MODES:
        problems.append(("appearance_mode", f"must be one of {list(APPEARANCE_MODES)}, got {_short(mode)}"))
    adapter = values.get("adapter")
    if adapter is not None and not isinstance(adapter, str):
        problems.append(("adapter", f"must be a string or null, got {_short(adapter)}"))
    if problems:
        return problems
    dim, heads = values.get("geometry_dim", 256), values.get("geometry_heads", 4)
    if dim % heads:
        problems.append(("geometry_heads", f"must divide geometry_dim ({dim}), got {heads}"))
    if mode == "gated" and values.get("token_dim") is not None and values.get("gate_layers", 0) < 1:
        problems.append(("gate_layers", "must be at least 1 in the 'gated' appearance mode (one gate per attention layer)"))
    return problems


def _extra_problems(extra) -> list[tuple[str, str]]:
    """``extra`` is written into ``config.json`` next to the fields: JSON, and no key of its own
    may shadow a field or a file key."""
    if not isinstance(extra, dict):
        return [("extra", f"must be a dict, got {type(extra).__name__}")]
    names = {f.name for f in dataclasses.fields(ModulatorConfig)} | set(FILE_KEYS)
    clashes = [k for k in extra if not isinstance(k, str) or k in names]
    if clashes:
        return [("extra", f"keys must be strings other than the config's own keys, got {_short(clashes)}")]
    try:
        json.dumps(extra)
    except (TypeError, ValueError) as e:
        return [("extra", f"must be JSON-serialisable ({e})")]
    return []


def _emotions_problems(known: Mapping) -> list[tuple[str, str]]:
    """``config.json`` stores the vocabulary as a list of names (never a count)."""
    if "emotions" not in known:
        return [("emotions", "is missing")]
    names = known["emotions"]
    low, high = SIZE_LIMITS["emotions"]
    if not isinstance(names, list) or not all(isinstance(n, str) for n in names):
        return [("emotions", f"must be a list of names, got {_short(names)}")]
    if not low <= len(names) <= high:
        return [("emotions", f"must hold {low} to {high} names, got {len(names)}")]
    return []


def _file_key_problems(d: Mapping) -> list[tuple[str, str]]:
    problems = []
    version = d.get("format_version")
    if version is None:
        problems.append(("format_version", "is missing" if "format_version" not in d else "must be an integer, got None"))
    elif not _is_int(version) or version < 1:
        problems.append(("format_version", f"must be an integer >= 1, got {_short(version)}"))
    if "emoctl_version" in d and not isinstance(d["emoctl_version"], str):
        problems.append(("emoctl_version", f"must be a string, got {_short(d['emoctl_version'])}"))
    return problems


def _is_int(value) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def _short(value, limit: int = 60) -> str:
    """``repr(value)``, cut to ``limit`` characters (config values can be anything)."""
    text = repr(value)
    return text if len(text) <= limit else text[: limit - 3] + "..."


def _fmt(v) -> str:
    return json.dumps(list(v)) if isinstance(v, tuple) else repr(v)


def parse_parts(parts) -> tuple[str, ...]:
    """``parts`` (``None``/``"all"``, ``"geometry"`` = embedding + geometry, a name or names) as a
    tuple in :data:`PARTS` order; anything else (unknown names, not names at all) is a :class:`~emoctl.errors.ConfigError` (a ``ValueError``)."""
    if parts is None or parts == "all":
        return PARTS
    if parts == "geometry":
        return ("embedding", "geometry")
    if isinstance(parts, str):
        parts = (parts,)
    try:
        parts = tuple(parts)
    except TypeError:
        raise ConfigError(f"parts must be a part name or a list of them, got {_short(parts)}") from None
    unknown = [p for p in parts if not isinstance(p, str) or p not in PARTS]
    if unknown:
        raise ConfigError(f"unknown part(s) {_short(unknown)}; parts are {list(PARTS)}, 'all' or 'geometry'")
    return tuple(p for p in PARTS if p in parts)
