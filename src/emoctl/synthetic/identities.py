"""Synthetic identities: random shape, traits, procedural albedo and one reference image each.

:func:`make_identity` draws (each from its own seeded stream, so changing one never shifts
another):

- ``betas [300]``: the first 20 (interpretable) shape components with standard deviation
  ``shape_std``, the rest with ``0.35 * shape_std``;
- :class:`~emoctl.synthetic.traits.IdentityTraits` (age, elasticity, skin tone, lips, brows,
  hair and hairline, iris, freckles, blemishes);
- the reference image: the identity with neutral articulation (mouth closed, eyes open, still)
  from a near-frontal camera (yaw within +-``max_yaw_deg``, pitch within +-``max_pitch_deg``);
  with probability ``baked_fraction`` the image shows a *baked-in* emotion (paper 3.3.2: source
  images are not required to be neutral) at a random intensity in ``baked_intensity``, with
  its geometry (the emotion model's offset) and its appearance cues. ``reference_emotion``
  records it (``"neutral"`` otherwise); the intensity is in ``traits["reference_intensity"]``.

The reference is never what the reenactor renders as ground truth: reenacted frames show the
*target* emotion only, so a model must remove the baked-in emotion (paper S2.3.2).
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import torch

from emoctl.data import Identity
from emoctl.emotions import EMOTIONS
from emoctl.errors import DataError, ShapeError
from emoctl.flame import NUM_SHAPE, FlameModelData
from emoctl.synthetic.avatar import GaussianHead, RenderSettings
from emoctl.synthetic.cameras import DEFAULT_DISTANCE, DEFAULT_FOV_DEG, camera_rig
from emoctl.synthetic.emotion_model import EmotionModel
from emoctl.synthetic.head_parts import check_shared_parts
from emoctl.synthetic.speech import still_articulation
from emoctl.synthetic.traits import IdentityTraits

#: Named shape components with the larger variance.
NUM_MAIN_SHAPE = 20


def sample_betas(seed: int, shape_std: float = 1.0) -> torch.Tensor:
    """The identity's shape ``[300]`` (float32) for ``seed`` (the stream :func:`make_identity` uses)."""
    rng = np.random.default_rng([int(seed), 1])
    betas = rng.normal(0.0, 1.0, NUM_SHAPE) * shape_std
    betas[NUM_MAIN_SHAPE:] *= 0.35
    return torch.from_numpy(betas.astype(np.float32))


def sample_traits(seed: int) -> IdentityTraits:
    """The identity's traits for ``seed`` (the stream :func:`make_identity` uses)."""
    return IdentityTraits.sample(np.random.default_rng([int(seed), 2]), seed=int(seed))


@dataclass(frozen=True, eq=False)
class IdentitySampler:
    """Makes synthetic identities on one head: ``IdentitySampler(head).sample("id-00001", seed=1)``.

    ``image_size``: reference image ``(H, W)`` (an int means square); ``avatar`` /
    ``emotion_model``: a :class:`~emoctl.synthetic.avatar.GaussianHead` (with settings ``render``)
    and an :class:`~emoctl.synthetic.emotion_model.EmotionModel` on ``head`` to share with other
    users of the head (:class:`~emoctl.synthetic.world.SyntheticWorld` passes its own; built here
    when not given); the other fields are documented in the module docstring.
    """

    head: FlameModelData
    image_size: int | tuple[int, int] = 256
    baked_fraction: float = 0.3
    baked_intensity: tuple[float, float] = (0.35, 1.0)
    shape_std: float = 1.0
    max_yaw_deg: float = 8.0
    max_pitch_deg: float = 5.0
    render: RenderSettings = RenderSettings()
    avatar: GaussianHead | None = field(default=None, repr=False, kw_only=True)
    emotion_model: EmotionModel | None = field(default=None, repr=False, kw_only=True)

    def __post_init__(self) -> None:
        if not 0.0 <= float(self.baked_fraction) <= 1.0:
            raise ShapeError(f"baked_fraction must lie in [0, 1], got {self.baked_fraction!r}")
        lo, hi = self.baked_intensity
        if not 0.0 < lo <= hi:
            raise ShapeError(f"baked_intensity must be (low, high) with 0 < low <= high, got {self.baked_intensity!r}")
        if not self.shape_std >= 0:
            raise ShapeError(f"shape_std must be >= 0, got {self.shape_std!r}")
        check_shared_parts("IdentitySampler", "sampler", self.head, self.render, self.avatar, self.emotion_model)
        if self.avatar is None:
            object.__setattr__(self, "avatar", GaussianHead(self.head, self.render))
        if self.emotion_model is None:
            object.__setattr__(self, "emotion_model", EmotionModel(self.head))

    def reference_choice(self, seed: int) -> tuple[str, float]:
        """``(reference_emotion, intensity)`` of the identity's reference image (``("neutral", 0.0)`` when
        nothing is baked in)."""
        rng = np.random.default_rng([int(seed), 3])
        if rng.random() >= self.baked_fraction:
            return "neutral", 0.0
        emotion = EMOTIONS[1 + int(rng.integers(0, len(EMOTIONS) - 1))]
        return emotion, round(float(rng.uniform(*self.baked_intensity)), 4)

    def sample(self, identity_id: str, seed: int) -> Identity:
        """One identity (deterministic from ``seed``)."""
        if isinstance(seed, bool) or not isinstance(seed, (int, np.integer)) or seed < 0:
            raise DataError(f"identity seed must be a non-negative int, got {seed!r}")
        seed = int(seed)
        betas = sample_betas(seed, self.shape_std)
        traits = sample_traits(seed)
        emotion, intensity = self.reference_choice(seed)
        rng = np.random.default_rng([seed, 4])
        yaw = float(rng.uniform(-self.max_yaw_deg, self.max_yaw_deg))
        pitch = float(rng.uniform(-self.max_pitch_deg, self.max_pitch_deg))
        camera = camera_rig([yaw], [pitch], self.image_size, distance=DEFAULT_DISTANCE * float(rng.uniform(0.95, 1.05)),
                            fov_deg=DEFAULT_FOV_DEG)
        image = self.render_reference(traits, betas, emotion, intensity, camera)
        record = traits.to_json()
        record["reference_intensity"] = intensity
        record["reference_yaw_deg"] = round(yaw, 4)
        record["reference_pitch_deg"] = round(pitch, 4)
        return Identity(
            identity_id=identity_id,
            reference_image=image,
            betas=betas,
            reference_emotion=emotion,
            traits=record,
            reference_camera=camera,
        )

    def render_reference(self, traits: IdentityTraits, betas: torch.Tensor, emotion: str, intensity: float,
                         camera) -> np.ndarray:
        """uint8 ``[H, W, 3]``: the identity, still and silent, showing ``emotion`` at ``intensity``."""
        model = self.emotion_model
        flame = model.apply(still_articulation(1), emotion, intensity)
        albedo = model.albedo(traits)
        if intensity > 0:
            albedo = albedo + model.appearance(traits, emotion, intensity, base_albedo=albedo)
        return self.avatar.render(flame, betas, albedo, camera)[0, 0]


def make_identity(identity_id: str, seed: int, head: FlameModelData, *, image_size: int | tuple[int, int] = 256,
                  baked_fraction: float = 0.3, **kwargs) -> Identity:
    """``IdentitySampler(head, image_size, baked_fraction, **kwargs).sample(identity_id, seed)``."""
    return IdentitySampler(head, image_size=image_size, baked_fraction=baked_fraction, **kwargs).sample(identity_id, seed)


def identity_seed(world_seed: int, index: int) -> int:
    """The seed of identity ``index`` of a world (a 31-bit hash of both)."""
    return int(np.random.SeedSequence([int(world_seed), 0x1D, int(index)]).generate_state(1)[0] >> 1)


def identity_id(index: int) -> str:
    return f"id-{index:05d}"

