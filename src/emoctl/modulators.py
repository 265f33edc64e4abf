"""EmotionModulators: the modules emoctl adds to a backbone, as one saveable unit.

``embedding`` (the shared emotion vector, paper eq. 3-4), ``geometry`` (FLAME expression + jaw
sequence modulation, eq. 5) and ``appearance`` (emotion tokens for the backbone, eq. 6). Usable
without any backbone, e.g. to retarget a FLAME sequence::

    mods = EmotionModulators.from_pretrained("org/emoctl-lam-20k")
    happy = mods.retarget(flame_params, "happy")

:class:`emoctl.EmotionController` is this plus the hooks that attach it to a backbone.
"""

from __future__ import annotations

import dataclasses
import json
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field

import torch
from torch import nn

from emoctl._version import __version__
from emoctl.appearance import APPEARANCE_MODES, AppearanceModulator
from emoctl.emotions import EmotionEmbedding, EmotionLabel, Vocabulary, parse_emotion
from emoctl.errors import CheckpointError, ShapeError
from emoctl.geometry import GeometryModulator, pack_expression_jaw, unpack_expression_jaw

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


class EmotionModulators(nn.Module):
    """The emotion embedding, geometry modulator and (optional) appearance modulator.

    Build from a :class:`ModulatorConfig` or keyword arguments:
    ``EmotionModulators(emotions=7, token_dim=1024)``.
    """

    def __init__(self, config: ModulatorConfig | None = None, **kwargs):
        super().__init__()
        if config is None:
            kwargs.setdefault("emotions", 7)
            config = ModulatorConfig(**kwargs)
        elif kwargs:
            config = dataclasses.replace(config, **kwargs)
        self.config = config
        self.vocabulary = config.vocabulary
        self.embedding = EmotionEmbedding(len(self.vocabulary), config.emotion_dim)
        self.geometry = GeometryModulator(
            emotion_dim=config.emotion_dim,
            dim=config.geometry_dim,
            layers=config.geometry_layers,
            heads=config.geometry_heads,
            num_tokens=config.geometry_tokens,
            expression_dim=config.expression_dim,
        )
        self.appearance = (
            AppearanceModulator(
                config.emotion_dim, config.token_dim, config.appearance_tokens, config.appearance_mode, config.gate_layers
            )
            if config.token_dim is not None
            else None
        )

    # ----------------------------------------------------------------- emotion → tensors
    def parse(self, label) -> EmotionLabel:
        """``label`` (any accepted form, see :mod:`emoctl.emotions.labels`) for this vocabulary."""
        return parse_emotion(label, self.vocabulary)

    def emotion_vector(self, label, batch_size: int, frames: int | None = None) -> torch.Tensor:
        """The emotion vector ``z``: ``[B, emotion_dim]``, or ``[B, T, emotion_dim]`` with ``frames``."""
        coefficients = self.parse(label).resolve(batch_size, frames)
        return self.embedding(coefficients.to(self.embedding.table.device))

    def appearance_tokens_for(self, label, batch_size: int) -> torch.Tensor:
        """Emotion tokens ``[B, k, token_dim]`` for the backbone's appearance stream."""
        if self.appearance is None:
            raise RuntimeError("these modulators have no appearance path (token_dim=None)")
        return self.appearance(self.emotion_vector(label, batch_size))

    def modulate_sequence(self, params: torch.Tensor, label, mask: torch.Tensor | None = None) -> torch.Tensor:
        """``params [B, T, E+3]`` (expression + jaw) modulated towards ``label``; same shape."""
        if params.dim() != 3:
            raise ShapeError(f"expected a FLAME sequence [B, T, {self.geometry.param_dim}], got {tuple(params.shape)}")
        z = self.emotion_vector(label, params.shape[0], params.shape[1])
        return self.geometry(params, z, mask)

    def retarget(self, flame_params, emotion, mask: torch.Tensor | None = None):
        """Retarget a FLAME sequence to ``emotion`` with the geometry path alone.

        ``flame_params`` is either LAM's dict (``expr [B, (T,) E]``, ``jaw_pose [B, (T,) 3]``,
        other entries passed through untouched; a new dict is returned) or a tensor
        ``[B, T, E+3]``.
        """
        if isinstance(flame_params, torch.Tensor):
            return self.modulate_sequence(flame_params, emotion, mask)
        params, added = pack_expression_jaw(flame_params, self.config.expression_dim)
        return unpack_expression_jaw(self.modulate_sequence(params, emotion, mask), flame_params, added)

    # ----------------------------------------------------------------- parameters
    def part_modules(self, parts=None) -> dict[str, nn.Module]:
        parts = _check_parts(parts)
        mods = {"embedding": self.embedding, "geometry": self.geometry, "appearance": self.appearance}
        return {p: mods[p] for p in parts if mods[p] is not None}

    def trainable_parameters(self, parts=None) -> Iterator[nn.Parameter]:
        """The parameters to optimise (all of them by default; ``parts`` picks some of
        ``"embedding"``, ``"geometry"``, ``"appearance"``)."""
        for module in self.part_modules(parts).values():
            yield from (p for p in module.parameters() if p.requires_grad)

    # ----------------------------------------------------------------- Hub format
    def save_pretrained(self, save_directory, *, model_card: str | None = None) -> None:
        """Write ``model.safetensors``, ``config.json`` and a ``README.md`` model card.

        Only the added modules are saved. Files are staged and moved into place with
        ``os.replace``, so an interrupted save leaves the previous checkpoint intact.
        """
        from emoctl.hub import save_checkpoint

        save_checkpoint(self, save_directory, model_card=model_card)

    def load_pretrained(self, pretrained, *, parts="all", revision=None, cache_dir=None, local_files_only=None, token=None):
        """Load weights from a local folder or a Hub repo id (``revision`` = branch, tag or commit).

        Strict: the checkpoint's vocabulary and dimensions must match (the error names every
        mismatch) and every tensor must be present. ``parts="geometry"`` loads only the embedding
        and geometry branch — e.g. to reuse a geometry branch trained with another backbone
        (paper 4.4.2). Nothing changes unless everything checks out. Works offline from the Hub
        cache when the revision is cached (``HF_HUB_OFFLINE=1``).
        """
        from emoctl.hub import load_checkpoint_into

        load_checkpoint_into(
            self, pretrained, parts=parts, revision=revision, cache_dir=cache_dir,
            local_files_only=local_files_only, token=token,
        )
        return self

    @classmethod
    def from_pretrained(cls, pretrained, *, revision=None, cache_dir=None, local_files_only=None, token=None):
        """Build modulators from a checkpoint's ``config.json`` and load its weights."""
        from emoctl.hub import read_checkpoint

        config, tensors, _ = read_checkpoint(
            pretrained, revision=revision, cache_dir=cache_dir, local_files_only=local_files_only, token=token
        )
        mods = cls(config)
        from emoctl.hub import assign_state

        assign_state(mods, tensors, parts=PARTS, source=str(pretrained))
        return mods

    def push_to_hub(self, repo_id: str, *, private: bool | None = None, token=None, revision=None,
                    commit_message: str = "Upload emoctl modulators", create_pr: bool = False):
        """Save to a temporary folder and upload it to ``repo_id`` in one commit."""
        from emoctl.hub import push_checkpoint

        return push_checkpoint(
            self, repo_id, private=private, token=token, revision=revision,
            commit_message=commit_message, create_pr=create_pr,
        )


def _check_parts(parts) -> tuple[str, ...]:
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
