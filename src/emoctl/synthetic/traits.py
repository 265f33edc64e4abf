"""Per-identity traits of the synthetic world: age, skin elasticity, colours, hair, skin marks.

:class:`IdentityTraits` is what the procedural albedo (:mod:`emoctl.synthetic.albedo`) and the
identity-aware emotion cues (:mod:`emoctl.synthetic.cues`) are functions of. It travels inside
:class:`emoctl.data.Identity` as JSON (``Identity.traits``), so a reenactor in another process
(or a later build) recomputes exactly the same albedo and cues from it.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, fields
from typing import Any

import numpy as np

from emoctl.errors import DataError

#: Skin base colours (linear-ish RGB in [0, 1]) from light to dark; a tone in [0, 1] interpolates.
SKIN_PALETTE: tuple[tuple[float, float, float], ...] = (
    (0.96, 0.80, 0.70),
    (0.91, 0.72, 0.60),
    (0.82, 0.62, 0.48),
    (0.70, 0.50, 0.36),
    (0.55, 0.37, 0.26),
    (0.40, 0.26, 0.18),
    (0.28, 0.18, 0.13),
)
HAIR_PALETTE: tuple[tuple[float, float, float], ...] = (
    (0.06, 0.05, 0.05),  # black
    (0.20, 0.12, 0.07),  # dark brown
    (0.40, 0.26, 0.14),  # brown
    (0.70, 0.52, 0.30),  # blond
    (0.55, 0.22, 0.10),  # red
    (0.62, 0.62, 0.62),  # grey
)
IRIS_PALETTE: tuple[tuple[float, float, float], ...] = (
    (0.28, 0.16, 0.08),
    (0.40, 0.26, 0.12),
    (0.25, 0.40, 0.60),
    (0.30, 0.45, 0.30),
    (0.45, 0.40, 0.25),
)

TRAITS_KIND = "emoctl-synthetic-identity"


#: Brows are at most this fraction of the skin's luminance (grey brows on light skin, near-black ones
#: on dark skin), so they stay visible as dark bands that move (and read in a grey 64 x 64 crop).
BROW_CONTRAST = 0.3


def luminance(rgb: np.ndarray) -> float:
    """Luma (Rec. 601 weights) of an RGB ``[3]`` colour."""
    return float(np.dot(np.asarray(rgb, dtype=float), (0.299, 0.587, 0.114)))


def skin_colour(tone: float) -> np.ndarray:
    """RGB ``[3]`` of a skin tone in [0, 1] (0 lightest, 1 darkest) along :data:`SKIN_PALETTE`."""
    palette = np.asarray(SKIN_PALETTE)
    pos = float(np.clip(tone, 0.0, 1.0)) * (len(palette) - 1)
    lo = int(np.floor(pos))
    hi = min(lo + 1, len(palette) - 1)
    return palette[lo] + (pos - lo) * (palette[hi] - palette[lo])


@dataclass(frozen=True)
class IdentityTraits:
    """Everything that makes a synthetic identity look like itself (besides its shape ``betas``).

    ``seed`` fixes the random patterns (skin marks, wrinkle spacing/phase/asymmetry); ``age`` in
    years; ``elasticity`` in (0, 1] (young skin ~1; lower means deeper folds); ``skin_tone`` in
    [0, 1] with ``skin_rgb`` its colour; ``brow_thickness`` scales the brows; ``hairline`` moves the
    hairline up (positive, metres) or down; ``freckles`` in [0, 1]; ``blemishes`` a count.
    """

    seed: int
    age: float
    elasticity: float
    skin_tone: float
    skin_rgb: tuple[float, float, float]
    lip_rgb: tuple[float, float, float]
    brow_rgb: tuple[float, float, float]
    brow_thickness: float
    hair_rgb: tuple[float, float, float]
    hairline: float
    iris_rgb: tuple[float, float, float]
    freckles: float
    blemishes: int

    @property
    def age_factor(self) -> float:
        """Age mapped to [0, 1] (18 years -> 0, 73 and older -> 1)."""
        return float(np.clip((self.age - 18.0) / 55.0, 0.0, 1.0))

    def to_json(self) -> dict[str, Any]:
        out = {k: (list(v) if isinstance(v, tuple) else v) for k, v in asdict(self).items()}
        out["kind"] = TRAITS_KIND
        return out

    @classmethod
    def from_json(cls, data: Any) -> "IdentityTraits":
        """Traits from :meth:`to_json` output (an ``Identity.traits`` dict); ``DataError`` otherwise."""
        if isinstance(data, IdentityTraits):
            return data
        if not isinstance(data, dict) or data.get("kind") != TRAITS_KIND:
            raise DataError(
                "identity traits are not synthetic-world traits (expected a dict with "
                f"kind={TRAITS_KIND!r}, as made by emoctl.synthetic.IdentitySampler), got "
                + (f"keys {sorted(data)}" if isinstance(data, dict) else type(data).__name__)
            )
        names = [f.name for f in fields(cls)]
        missing = [n for n in names if n not in data]
        if missing:
            raise DataError(f"identity traits: missing fields {missing}")
        values: dict[str, Any] = {}
        for name in names:
            value = data[name]
            if name.endswith("_rgb"):
                if not isinstance(value, (list, tuple)) or len(value) != 3:
                    raise DataError(f"identity traits: {name} must be 3 numbers, got {value!r}")
                value = tuple(float(v) for v in value)
            elif name in ("seed", "blemishes"):
                value = int(value)
            else:
                value = float(value)
            values[name] = value
        return cls(**values)

    @classmethod
    def sample(cls, rng: np.random.Generator, seed: int) -> "IdentityTraits":
        """Random plausible traits (``seed`` is stored for the patterns derived from it)."""
        age = float(rng.uniform(18.0, 80.0))
        elasticity = float(np.clip(1.05 - 0.011 * (age - 18.0) + rng.normal(0.0, 0.08), 0.1, 1.0))
        tone = float(rng.uniform(0.0, 1.0))
        skin = np.clip(skin_colour(tone) * rng.uniform(0.95, 1.05, 3), 0.0, 1.0)
        lip = np.clip(skin * np.array([0.95, 0.62, 0.62]) + rng.normal(0.0, 0.03, 3) + np.array([0.05, 0.0, 0.0]), 0.0, 1.0)
        hair_index = int(rng.integers(0, len(HAIR_PALETTE)))
        if age > 58 and rng.random() < 0.6:
            hair_index = len(HAIR_PALETTE) - 1  # grey
        hair = np.clip(np.asarray(HAIR_PALETTE[hair_index]) * rng.uniform(0.85, 1.15), 0.0, 1.0)
        brow = np.clip(0.5 * hair + 0.5 * np.asarray(HAIR_PALETTE[1]) * rng.uniform(0.7, 1.2), 0.0, 1.0)
        brow = brow * min(1.0, BROW_CONTRAST * luminance(skin) / max(luminance(brow), 1e-6))  # darker than the skin
        iris = np.asarray(IRIS_PALETTE[int(rng.integers(0, len(IRIS_PALETTE)))]) * rng.uniform(0.85, 1.15)
        receding = 0.02 * max(age - 40.0, 0.0) / 40.0 * rng.random()
        return cls(
            seed=int(seed),
            age=round(age, 3),
            elasticity=round(elasticity, 4),
            skin_tone=round(tone, 4),
            skin_rgb=tuple(round(float(v), 4) for v in skin),
            lip_rgb=tuple(round(float(v), 4) for v in lip),
            brow_rgb=tuple(round(float(v), 4) for v in brow),
            brow_thickness=round(float(rng.uniform(0.7, 1.35)), 4),
            hair_rgb=tuple(round(float(v), 4) for v in hair),
            hairline=round(float(rng.uniform(-0.008, 0.012) + receding), 4),
            iris_rgb=tuple(round(float(np.clip(v, 0, 1)), 4) for v in iris),
            freckles=round(float(rng.uniform(0.0, 1.0) ** 3), 4),
            blemishes=int(rng.integers(0, 7)),
        )
