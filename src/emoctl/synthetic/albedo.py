"""Procedural per-vertex albedo of a synthetic identity (neutral: no emotion cues).

Layers, each a deterministic function of the head's rest geometry and the identity's
:class:`~emoctl.synthetic.traits.IdentityTraits` (random parts from ``traits.seed``):
skin tone with low-frequency variation and warmer cheeks, nose and ears; the red of the lips; brows
(colour, thickness); a hair cap with the identity's hairline; freckles
and blemishes; eyes (sclera, iris with a darker rim, pupil, dark lash lines on the lid margins); a
dark mouth cavity, teeth (ivory, darker between teeth and towards the gums, yellowing with age) and
a tongue.
"""

from __future__ import annotations

import numpy as np

from emoctl.synthetic.face_frame import FaceFrame, gauss, smooth_noise, smoothstep
from emoctl.synthetic.traits import IdentityTraits

_SCLERA = np.array([0.93, 0.91, 0.88])
_PUPIL = np.array([0.03, 0.03, 0.03])
_MOUTH = np.array([0.36, 0.09, 0.09])  # the cavity (unlit: its inside faces away from the lights)
_TEETH = np.array([0.92, 0.89, 0.80])
_TONGUE = np.array([0.72, 0.34, 0.36])
_LASHES = np.array([0.07, 0.05, 0.05])


def _mix(base: np.ndarray, mask: np.ndarray, colour: np.ndarray) -> np.ndarray:
    m = np.clip(mask, 0.0, 1.0)[:, None]
    return base * (1.0 - m) + m * colour


def hair_mask(frame: FaceFrame, hairline: float) -> np.ndarray:
    """``[V]`` hair cap: above a hairline that runs over the forehead (moved up by ``hairline``
    metres), above the ears, down to the nape."""
    lm = frame.landmarks
    brow_y = 0.5 * (lm["brow_inner_l"][1] + lm["brow_outer_l"][1])
    phi = np.arctan2(frame.x, frame.z + 0.02)
    front = np.clip(np.cos(phi), 0.0, 1.0) ** 0.7
    back = np.clip(-np.cos(phi), 0.0, 1.0) ** 0.8
    side_y, front_y, back_y = 0.036, brow_y + 0.05 + hairline, -0.05
    line = side_y + (front_y - side_y) * front + (back_y - side_y) * back
    skin = frame.regions["skin"]
    return smoothstep(line - 0.004, line + 0.004, frame.y) * (1.0 - frame.regions["ears"]) * skin


def identity_albedo_numpy(frame: FaceFrame, traits: IdentityTraits) -> np.ndarray:
    """Neutral albedo ``[V, 3]`` (float64, in [0, 1]) of an identity on the vertices of ``frame``'s head
    (:meth:`EmotionModel.albedo <emoctl.synthetic.emotion_model.EmotionModel.albedo>` is the float32
    tensor version)."""
    rng = np.random.default_rng([traits.seed, 0xA1BE])
    R = frame.regions
    x, y = frame.x, frame.y
    n = frame.num_vertices
    skin_rgb = np.asarray(traits.skin_rgb)
    tone_noise = smooth_noise(rng, x, y, 10, (0.015, 0.04), (0.0, 0.07, -0.12, 0.1))
    albedo = skin_rgb[None] * (1.0 + 0.035 * tone_noise[:, None])
    warm = np.clip(0.8 * R["cheeks"] + 0.5 * R["nose"] * smoothstep(0.0, 0.02, frame.z - 0.09) + 0.6 * R["ears"], 0.0, 1.0)
    albedo = albedo * (1.0 + warm[:, None] * np.array([0.04, -0.05, -0.04]) * rng.uniform(0.6, 1.4))
    albedo = albedo * (1.0 - 0.06 * R["neck"][:, None])  # the neck is in the jaw's shadow

    # freckles (cheeks and nose) and blemishes (anywhere on the face)
    spots = np.zeros(n)
    for _ in range(int(round(60 * traits.freckles))):
        cx, cy = rng.uniform(0.004, 0.05), rng.uniform(-0.03, 0.015)
        side = 1.0 if rng.random() < 0.5 else -1.0
        spots += rng.uniform(0.4, 1.0) * gauss(np.hypot(x - side * cx, y - cy), rng.uniform(0.0007, 0.0012))
    albedo = albedo * (1.0 - 0.18 * np.clip(spots, 0, 1)[:, None] * np.array([0.7, 1.0, 1.1]))
    marks = np.zeros(n)
    for _ in range(traits.blemishes):
        cx, cy = rng.uniform(-0.055, 0.055), rng.uniform(-0.08, 0.07)
        marks += rng.uniform(0.5, 1.0) * gauss(np.hypot(x - cx, y - cy), rng.uniform(0.001, 0.002))
    marks = np.clip(marks, 0, 1) * frame.front
    albedo = albedo * (1.0 - marks[:, None] * np.array([0.12, 0.3, 0.3]))

    # lips, brows, hair
    lips = R["vermilion"] if "vermilion" in R else smoothstep(0.25, 0.75, R["lips"])
    albedo = _mix(albedo, lips, np.asarray(traits.lip_rgb))
    brow_cut = 0.85 - 0.3 * traits.brow_thickness  # thicker brows: a lower threshold on the soft mask
    brows = smoothstep(brow_cut - 0.08, brow_cut + 0.08, R["brows"]) * (1.0 - 0.3 * np.clip(traits.age_factor - 0.6, 0, 1))
    brow_texture = 1.0 + 0.15 * np.sin(900.0 * x + 300.0 * y)
    albedo = _mix(albedo, 0.9 * brows, np.asarray(traits.brow_rgb)[None] * brow_texture[:, None])
    hair = hair_mask(frame, traits.hairline)
    strands = 1.0 + 0.12 * np.sin(700.0 * x + 40.0 * rng.uniform(0.5, 1.5) * y) + 0.06 * tone_noise
    albedo = _mix(albedo, hair, np.asarray(traits.hair_rgb)[None] * strands[:, None])

    # eyes (a darker ring at the iris's edge, dark lash lines on the lid margins) and mouth
    eyes = R["eyeballs"]
    albedo = _mix(albedo, eyes, _SCLERA)
    iris = R["iris"]
    albedo = _mix(albedo, iris, np.asarray(traits.iris_rgb) * (1.0 - 0.45 * (4.0 * iris * (1.0 - iris)))[:, None])
    albedo = _mix(albedo, R["pupil"], _PUPIL)
    if "lash_line" in R:
        albedo = _mix(albedo, 0.9 * R["lash_line"], _LASHES)
    albedo = _mix(albedo, R["mouth_interior"], _MOUTH)
    if "teeth" in R:
        ageing = 0.12 * traits.age_factor  # teeth yellow and darken with age
        teeth = _TEETH * np.array([1.0 - 0.5 * ageing, 1.0 - ageing, 1.0 - 2.0 * ageing])
        albedo = _mix(albedo, (R["teeth"] > 0) * 1.0, teeth[None] * R["teeth"][:, None] + _MOUTH[None] * (1.0 - R["teeth"][:, None]))
        albedo = _mix(albedo, R["tongue"], _TONGUE)
    return np.clip(albedo, 0.0, 1.0)

