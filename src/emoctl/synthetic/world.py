"""`SyntheticWorld`: the head, emotion model, identities, anchors and reenactor of one seed, and the
two dataset builders of the paper's configurations (S1.2.2 appearance, S1.2.3 geometry).

    world = SyntheticWorld(seed=0)
    identities = world.identities(64, image_size=128)     # id-00000 ... (reference images rendered)
    anchors = world.anchors(2, num_frames=91)              # anchor-000 ... (30 fps, 3 views)
    build_synthetic_dataset("data/demo", identities=64, anchors=2, frames=16, image_size=128, views=3)
    geo = geometry_sequences(identities=8, anchors=4, duration_s=10.0)   # FLAME only, no pixels

Everything is deterministic from ``seed``: identity ``i`` and anchor ``j`` get seeds hashed from
``(seed, i)`` / ``(seed, j)``, so a shard process, a resumed build and :func:`geometry_sequences`
all see the same identities (same ids, same betas) and anchors.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Iterator

import torch

from emoctl.data import AnchorClip, BuildSummary, DatasetConfig, Identity, PassThroughTracker, build_dataset, stable_seed
from emoctl.data.flame_params import FlameSequence
from emoctl.emotions import EMOTIONS
from emoctl.errors import DataError
from emoctl.synthetic.anchors import anchor_articulation, anchor_id, anchor_seed, anchor_sequences, make_anchor
from emoctl.synthetic.avatar import RenderSettings
from emoctl.synthetic.cameras import as_image_size, default_rig
from emoctl.synthetic.emotion_model import EmotionModel
from emoctl.synthetic.head import check_head_args
from emoctl.synthetic.head_parts import SharedHeadParts
from emoctl.synthetic.identities import IdentitySampler, identity_id, identity_seed, sample_betas
from emoctl.synthetic.reenactor import SyntheticReenactor

#: Frame rate of the synthetic anchors (EmoTalk3D-like capture).
ANCHOR_FPS = 30.0


def _positive_int(value: object, name: str) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or value < 1:
        raise DataError(f"{name} must be a positive int, got {value!r}")
    return int(value)


def _start(value: object, name: str = "start") -> int:
    if isinstance(value, bool) or not isinstance(value, int) or value < 0:
        raise DataError(f"{name} must be a non-negative int, got {value!r}")
    return int(value)


class SyntheticWorld(SharedHeadParts):
    """One synthetic world: ``SyntheticWorld(seed, head_seed=0, subdivide=1, baked_fraction=0.3)``.

    The world owns one :attr:`avatar` (the Gaussian renderer of :attr:`head`) and one
    :attr:`emotion_model`, built on first use and shared by its identity samplers, anchors and
    reenactors.
    """

    def __init__(self, seed: int = 0, *, head_seed: int = 0, subdivide: int = 1, baked_fraction: float = 0.3,
                 render: RenderSettings | None = None):
        if isinstance(seed, bool) or not isinstance(seed, int) or seed < 0:
            raise DataError(f"SyntheticWorld: seed must be a non-negative int, got {seed!r}")
        self.seed = seed
        self.head_seed, self.subdivide = check_head_args(head_seed, subdivide)
        self.baked_fraction = float(baked_fraction)
        self.render_settings = render or RenderSettings()
        self._share_parts()
        self._samplers: dict[tuple[int, int], IdentitySampler] = {}

    def identity_sampler(self, image_size: int | tuple[int, int] = 256) -> IdentitySampler:
        """The world's identity sampler for reference images of ``image_size`` (cached per size)."""
        size = as_image_size(image_size)
        if size not in self._samplers:
            self._samplers[size] = IdentitySampler(self.head, image_size=size, baked_fraction=self.baked_fraction,
                                                   render=self.render_settings, avatar=self.avatar,
                                                   emotion_model=self.emotion_model)
        return self._samplers[size]

    def identities(self, n: int, *, image_size: int | tuple[int, int] = 256, start: int = 0) -> list[Identity]:
        """Identities ``start .. start + n - 1`` (ids ``id-00000`` ...), reference images rendered."""
        sampler = self.identity_sampler(image_size)
        return [sampler.sample(identity_id(i), identity_seed(self.seed, i))
                for i in range(_start(start), start + _positive_int(n, "n"))]

    def anchors(self, n: int, *, duration_s: float | None = None, num_frames: int | None = None, fps: float = ANCHOR_FPS,
                views: int = 3, image_size: int | tuple[int, int] = 512, curves: int = 0,
                start: int = 0) -> list[AnchorClip]:
        """Anchors ``start .. start + n - 1`` (ids ``anchor-000`` ...) with every emotion and ``curves``
        emotion curves, ``views`` cameras (frontal and +-30 degrees)."""
        rig = default_rig(views, image_size)
        return [
            make_anchor(anchor_id(j), anchor_seed(self.seed, j), duration_s, num_frames, fps, rig, emotion_model=self.emotion_model,
                        curves=curves)
            for j in range(_start(start), start + _positive_int(n, "n"))
        ]

    def reenactor(self, image_size: int | tuple[int, int] = 256, chunk_frames: int = 8) -> SyntheticReenactor:
        """A reenactor rendering with the world's avatar and emotion model."""
        return SyntheticReenactor(self.head_seed, self.subdivide, image_size, render=self.render_settings, chunk_frames=chunk_frames,
                                  avatar=self.avatar, emotion_model=self.emotion_model)


def _config(config: DatasetConfig | str, frames: int | None, image_size: int | tuple[int, int] | None,
            curve_clips: int | None = None) -> DatasetConfig:
    if isinstance(config, str):
        presets = {"appearance": DatasetConfig.appearance, "geometry": DatasetConfig.geometry}
        if config not in presets:
            raise DataError(f"config must be a DatasetConfig or one of {sorted(presets)}, got {config!r}")
        config = presets[config]()
    if not isinstance(config, DatasetConfig):
        raise DataError(f"config must be a DatasetConfig or a preset name, got {type(config).__name__}")
    changes = {}
    if frames is not None:
        changes["max_frames"] = _positive_int(frames, "frames")
    if image_size is not None:
        changes["image_size"] = image_size
    if curve_clips is not None:
        changes["curve_clips"] = curve_clips
    return replace(config, **changes) if changes else config


def anchor_frames_for(frames: int, dataset_fps: float, anchor_fps: float = ANCHOR_FPS) -> int:
    """Anchor frames at ``anchor_fps`` that give at least ``frames`` frames once resampled to ``dataset_fps``."""
    return int(math.ceil((frames - 1) * anchor_fps / dataset_fps - 1e-9)) + 1


def build_synthetic_dataset(
    out_dir: str | Path,
    *,
    identities: int = 64,
    anchors: int = 2,
    frames: int | None = 16,
    image_size: int | tuple[int, int] = 128,
    views: int = 3,
    config: DatasetConfig | str = "appearance",
    shard: tuple[int, int] = (0, 1),
    progress: bool = True,
    seed: int = 0,
    tracker_noise: float = 0.0,
    head_seed: int = 0,
    subdivide: int = 1,
    baked_fraction: float = 0.3,
    chunk_frames: int = 8,
    curve_clips: int | None = None,
    identity_start: int = 0,
    anchor_start: int = 0,
    world: SyntheticWorld | None = None,
) -> BuildSummary:
    """Build a synthetic emotion-synchronised dataset with :func:`emoctl.data.build_dataset`.

    ``identities`` x ``anchors`` x 7 emotions clips of ``frames`` frames (at the config's fps; the
    anchors are made just long enough) in ``views`` views at ``image_size``; ``config`` is a
    :class:`~emoctl.data.DatasetConfig` or ``"appearance"`` / ``"geometry"`` (``frames`` and
    ``image_size`` override its ``max_frames`` and ``image_size``; ``frames=None`` keeps the config's
    ``max_frames``, or makes 16-frame anchors when that is None). The identities are the world's
    ``identity_start ..`` and the anchors its ``anchor_start ..`` (disjoint ranges give disjoint
    splits, as the recipes of :mod:`emoctl.synthetic.recipes` do). The tracker is a
    :class:`~emoctl.data.PassThroughTracker` (ground truth plus ``tracker_noise``). ``shard=(i, n)``
    builds part ``i`` of ``n``; every shard process regenerates the same world from ``seed``.
    ``curve_clips`` (overrides the config's): clips per (identity, anchor) whose emotion changes over
    the clip, from the anchors' emotion curves.
    ``world``: a :class:`SyntheticWorld` to reuse between builds (its seed, head and settings then
    replace ``seed``, ``head_seed``, ``subdivide`` and ``baked_fraction``).
    """
    cfg = _config(config, frames, image_size, curve_clips)
    _positive_int(identities, "identities")
    _positive_int(anchors, "anchors")
    _positive_int(views, "views")
    _start(identity_start, "identity_start")
    _start(anchor_start, "anchor_start")
    if world is None:
        world = SyntheticWorld(seed, head_seed=head_seed, subdivide=subdivide, baked_fraction=baked_fraction)
    elif not isinstance(world, SyntheticWorld):
        raise DataError(f"world must be a SyntheticWorld, got {type(world).__name__}")
    clip_frames = cfg.max_frames if cfg.max_frames is not None else 16
    anchor_list = world.anchors(anchors, num_frames=anchor_frames_for(clip_frames, cfg.fps), views=views,
                                image_size=cfg.image_size, curves=cfg.curve_clips, start=anchor_start)
    identity_list = world.identities(identities, image_size=cfg.image_size, start=identity_start)
    return build_dataset(
        anchor_list,
        identity_list,
        world.reenactor(cfg.image_size, chunk_frames=chunk_frames),
        PassThroughTracker(noise_std=tracker_noise, seed=world.seed),
        out_dir,
        shard,
        config=cfg,
        emotions=EMOTIONS,
        progress=progress,
    )


@dataclass
class GeometrySequences:
    """FLAME ground truth of the geometry configuration (S1.2.3), without pixels.

    ``anchors``: anchor id -> emotion -> FLAME sequence ``[T, ...]`` (no betas; identical timing
    for every emotion); ``timestamps``: anchor id -> ``[T]`` seconds; ``betas``: identity id ->
    ``[300]``. Iterating yields ``(identity_id, anchor_id, emotion, sequence)`` with the identity's
    ``betas`` in the sequence, one item per clip of the configuration.
    """

    fps: float
    anchors: dict[str, dict[str, FlameSequence]]
    timestamps: dict[str, torch.Tensor]
    betas: dict[str, torch.Tensor]
    noise_std: float = 0.0
    seed: int = 0

    def __len__(self) -> int:
        return len(self.betas) * len(self.anchors) * len(EMOTIONS)

    def __iter__(self) -> Iterator[tuple[str, str, str, FlameSequence]]:
        for ident, betas in self.betas.items():
            for anchor, emotions in self.anchors.items():
                for emotion in EMOTIONS:
                    seq = {k: v.clone() for k, v in emotions[emotion].items()}
                    if self.noise_std > 0:  # the same noise a PassThroughTracker would add to this clip
                        gen = torch.Generator().manual_seed(stable_seed(self.seed, f"{ident}/{anchor}/{emotion}"))
                        for key in ("expr", "jaw_pose"):
                            seq[key] = seq[key] + self.noise_std * torch.randn(seq[key].shape, generator=gen)
                    seq["betas"] = betas.clone()
                    yield ident, anchor, emotion, seq


def geometry_sequences(*, identities: int = 8, anchors: int = 4, duration_s: float = 10.0, fps: float = ANCHOR_FPS,
                       seed: int = 0, noise_std: float = 0.0) -> GeometrySequences:
    """The geometry configuration's FLAME sequences (fewer identities, long 30 fps clips), no rendering.

    Identity ``i`` has the betas it has in :func:`build_synthetic_dataset` with the same ``seed``;
    anchor ``j`` the same sentence (``duration_s`` long) and emotions.
    """
    model = EmotionModel()
    out: dict[str, dict[str, FlameSequence]] = {}
    stamps: dict[str, torch.Tensor] = {}
    for j in range(_positive_int(anchors, "anchors")):
        s = anchor_seed(seed, j)
        articulation = anchor_articulation(s, duration_s, None, fps)
        out[anchor_id(j)] = {e: {k: v for k, v in seq.items() if k != "betas"}
                             for e, seq in anchor_sequences(s, articulation, model).items()}
        stamps[anchor_id(j)] = articulation.timestamps.clone()
    betas = {identity_id(i): sample_betas(identity_seed(seed, i)) for i in range(_positive_int(identities, "identities"))}
    return GeometrySequences(fps=float(fps), anchors=out, timestamps=stamps, betas=betas, noise_std=float(noise_std), seed=seed)
