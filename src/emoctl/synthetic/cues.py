"""Identity-aware emotion appearance cues: wrinkle, fold and shading fields on a synthetic head.

:func:`cue_fields` returns, for one identity, per-vertex fields ``[V]`` that the emotion model
(:mod:`emoctl.synthetic.emotion_model`) combines into an albedo change:

===================  ========================================================================
field                what it is
===================  ========================================================================
``forehead_lines``   horizontal grooves (positive: darker) with ridges between them (negative)
``glabella``         vertical furrows between the brows
``nasolabial``       the fold from the nose wing to the mouth corner, highlight on the cheek side
``crows_feet``       rays fanning out from the outer eye corners
``bunny_lines``      oblique lines on the sides of the nose bridge
``flush``            blotchy reddening weight (cheeks, nose, forehead, ears, neck)
``pallor``           face-wide weight of a loss of colour (lips included)
``eye_redness``      weight around the eyes and the nose tip
``cheek_glow``       weight on the cheek apples
===================  ========================================================================

Groove fields are scaled by the identity's depth (:func:`groove_depth`: deeper with age, lower
elasticity) and their count grows with age; every identity has its own line spacing, phase,
curvature, length and left/right asymmetry (from ``traits.seed``), so the same emotion looks
different on different people (paper 3.2.3, 5.1.1).
"""

from __future__ import annotations

import numpy as np

from emoctl.synthetic.face_frame import FaceFrame, distance_to_polyline, gauss, smooth_noise, smoothstep
from emoctl.synthetic.traits import IdentityTraits

GROOVE_CUES: tuple[str, ...] = ("forehead_lines", "glabella", "nasolabial", "crows_feet", "bunny_lines")
SHADING_CUES: tuple[str, ...] = ("flush", "pallor", "eye_redness", "cheek_glow")
CUES: tuple[str, ...] = GROOVE_CUES + SHADING_CUES


def groove_depth(traits: IdentityTraits) -> float:
    """How deep the identity's wrinkles are: grows with age and with lost elasticity (~0.1 to ~1)."""
    return float((0.12 + 0.88 * traits.age_factor ** 1.2) * (1.45 - 0.75 * traits.elasticity))


def _line_profile(d: np.ndarray, width: float) -> np.ndarray:
    """A groove of ``width`` at ``d = 0`` with faint ridges beside it (mean about zero)."""
    return gauss(d, width) - 0.35 * gauss(np.abs(d) - 1.8 * width, 0.9 * width)


def _side_gain(x: np.ndarray, asymmetry: float) -> np.ndarray:
    """Left/right depth ratio: ``1 + asymmetry`` on the subject's left, ``1 - asymmetry`` on the right."""
    return 1.0 + asymmetry * np.tanh(x / 0.004)


def _forehead(frame: FaceFrame, rng: np.random.Generator, age_factor: float) -> np.ndarray:
    lm = frame.landmarks
    brow_y = 0.5 * (lm["brow_inner_l"][1] + lm["brow_outer_l"][1])
    count = 2 + int(round(3 * age_factor + rng.uniform(-0.5, 0.5)))
    spacing = rng.uniform(0.0065, 0.0095)
    start = brow_y + rng.uniform(0.009, 0.013)
    curvature = rng.uniform(-6.0, 8.0)  # metres^-1: lines bow up (positive) or down at the sides
    tilt = rng.uniform(-0.06, 0.06)
    width = rng.uniform(0.0007, 0.0011) * (1.0 + 0.3 * age_factor)
    x, y = frame.x, frame.y
    out = np.zeros_like(x)
    for k in range(count):
        centre = start + k * spacing * rng.uniform(0.85, 1.15)
        wave = rng.uniform(0.0, 0.0012) * np.sin(rng.uniform(60, 160) * x + rng.uniform(0, 2 * np.pi))
        line_y = centre + curvature * x * x + tilt * x + wave
        half = rng.uniform(0.022, 0.045)  # lines of different lengths, some off-centre or broken
        shift = rng.uniform(-0.008, 0.008)
        extent = smoothstep(half, half - 0.008, np.abs(x - shift))
        if rng.random() < 0.35:
            gap = rng.uniform(-0.015, 0.015)
            extent *= 1.0 - gauss(x - gap, 0.003)
        out += rng.uniform(0.6, 1.0) * _line_profile(y - line_y, width) * extent
    support = smoothstep(0.2, 0.6, frame.regions["forehead"] + 0.5 * frame.regions["brows"] * (y > brow_y))
    return out * support


def _glabella(frame: FaceFrame, rng: np.random.Generator, age_factor: float) -> np.ndarray:
    lm = frame.landmarks
    brow_y = lm["brow_inner_l"][1]
    x, y = frame.x, frame.y
    out = np.zeros_like(x)
    pairs = 1 + int(rng.random() < 0.3 + 0.5 * age_factor)
    for _ in range(pairs):
        offset = rng.uniform(0.0022, 0.0065)
        lean = rng.uniform(-0.25, 0.35)  # the top leans outward (positive) or inward
        width = rng.uniform(0.0006, 0.0009)
        top, bottom = brow_y + rng.uniform(0.006, 0.014), brow_y - rng.uniform(0.004, 0.009)
        length = smoothstep(bottom - 0.002, bottom + 0.002, y) * smoothstep(top + 0.002, top - 0.002, y)
        for side, gain in ((1.0, 1.0 + rng.uniform(-0.3, 0.3)), (-1.0, 1.0 + rng.uniform(-0.3, 0.3))):
            line_x = side * (offset + lean * (y - brow_y))
            out += gain * _line_profile(x - line_x, width) * length
    if rng.random() < 0.4:  # a horizontal crease over the nasion
        nasion_y = brow_y - rng.uniform(0.004, 0.008)
        out += 0.6 * _line_profile(y - nasion_y, 0.0008) * gauss(x, 0.005)
    return out * frame.front


def _nasolabial(frame: FaceFrame, rng: np.random.Generator, age_factor: float) -> np.ndarray:
    lm = frame.landmarks
    corner, nose = lm["mouth_corner_l"], lm["nose_tip"]
    start = np.array([rng.uniform(0.014, 0.019), nose[1] - rng.uniform(0.004, 0.009)])
    end = np.array([corner[0] + rng.uniform(0.002, 0.007), corner[1] - rng.uniform(0.0, 0.01)])
    bow = rng.uniform(0.001, 0.005)  # outward bulge of the fold's middle
    t = np.linspace(0.0, 1.0, 16)[:, None]
    mid = 0.5 * (start + end) + np.array([bow, 0.0])
    curve = (1 - t) ** 2 * start + 2 * (1 - t) * t * mid + t**2 * end
    width = rng.uniform(0.0009, 0.0014) * (1.0 + 0.4 * age_factor)
    dist, param = distance_to_polyline(np.abs(frame.x), frame.y, curve)
    # signed: the cheek side (outside the fold) gets the highlight, the fold the shadow
    outside = np.sign(np.abs(frame.x) - np.interp(frame.y, curve[::-1, 1], curve[::-1, 0]))
    groove = gauss(dist, width) - 0.45 * gauss(dist - 2.0 * width, 1.2 * width) * (outside > 0)
    fade = smoothstep(0.0, 0.12, param) * smoothstep(1.0, 0.8 + 0.15 * age_factor, param)
    return groove * fade * _side_gain(frame.x, rng.uniform(-0.3, 0.3)) * frame.front


def _crows_feet(frame: FaceFrame, rng: np.random.Generator, age_factor: float) -> np.ndarray:
    centre = frame.outer_canthus
    dx, dy = np.abs(frame.x) - centre[0], frame.y - centre[1]
    r = np.hypot(dx, dy)
    angle = np.arctan2(dy, dx)  # 0 points away from the eye
    out = np.zeros_like(r)
    rays = 2 + int(round(3 * age_factor + rng.uniform(0.0, 1.0)))
    spread = rng.uniform(0.5, 0.9)
    tilt = rng.uniform(-0.2, 0.2)
    for k in range(rays):
        a = tilt + spread * (2 * (k + 0.5) / rays - 1) + rng.uniform(-0.08, 0.08)
        curl = rng.uniform(-8.0, 8.0)  # rays bend a little
        offset = r * np.sin(angle - a) + curl * r * r
        reach = rng.uniform(0.009, 0.016)
        along = smoothstep(0.003, 0.005, r) * smoothstep(reach, reach - 0.004, r)
        out += rng.uniform(0.6, 1.0) * _line_profile(offset, 0.0007) * along * (np.cos(angle - a) > 0)
    return out * frame.front * (1 - frame.regions["eyelids"]) * _side_gain(frame.x, rng.uniform(-0.3, 0.3))


def _bunny_lines(frame: FaceFrame, rng: np.random.Generator) -> np.ndarray:
    lm = frame.landmarks
    brow_y, tip_y = lm["brow_inner_l"][1], lm["nose_tip"][1]
    y0 = brow_y - 0.35 * (brow_y - tip_y) + rng.uniform(-0.003, 0.003)
    ax, y = np.abs(frame.x), frame.y
    out = np.zeros_like(ax)
    for k in range(int(rng.integers(2, 4))):
        slope = rng.uniform(0.4, 1.0)
        cy = y0 - 0.004 * k
        offset = (y - cy) - slope * (ax - 0.006)
        out += _line_profile(offset, 0.0007) * smoothstep(0.002, 0.004, ax) * smoothstep(0.013, 0.009, ax)
    return out * smoothstep(0.1, 0.5, frame.regions["nose"] + frame.regions["glabella"]) * frame.front


def cue_fields(frame: FaceFrame, traits: IdentityTraits) -> dict[str, np.ndarray]:
    """Every cue field ``[V]`` (float64) of :data:`CUES` for one identity (see the module docstring).

    Groove fields carry the identity's depth (:func:`groove_depth`); shading fields are weights in
    [0, ~1.2] with an identity-specific blotch pattern.
    """
    age = traits.age_factor
    depth = groove_depth(traits)

    def rng(k: int) -> np.random.Generator:
        return np.random.default_rng([traits.seed, 0xC0E5, k])

    R = frame.regions
    x, y = frame.x, frame.y
    fields = {
        "forehead_lines": depth * _forehead(frame, rng(0), age),
        "glabella": depth * _glabella(frame, rng(1), age),
        "nasolabial": (0.35 + 0.65 * depth) * _nasolabial(frame, rng(2), age),  # young faces fold too when smiling
        "crows_feet": depth * _crows_feet(frame, rng(3), age),
        "bunny_lines": (0.3 + 0.7 * depth) * _bunny_lines(frame, rng(4)),
    }
    r = rng(5)
    blotch = smooth_noise(r, x, y, 14, (0.008, 0.025), (0.0, 0.06, -0.1, 0.07))
    areas = r.dirichlet(2.0 * np.ones(5)) * 3.0  # how the identity's flush distributes over its areas
    flush = (
        areas[0] * R["cheeks"]
        + areas[1] * R["nose"]
        + areas[2] * 0.7 * R["forehead"]
        + areas[3] * R["ears"]
        + areas[4] * 0.6 * R["neck"] * smoothstep(-0.14, -0.09, y)
    )
    fields["flush"] = np.clip(flush * (1.0 + 0.6 * blotch), 0.0, 1.0) * R["skin"]
    r = rng(6)
    pale = r.dirichlet(1.5 * np.ones(5)) * 3.0  # where the identity loses colour first
    pallor = (
        pale[0] * R["lips"]
        + pale[1] * R["cheeks"]
        + pale[2] * 0.8 * R["forehead"]
        + pale[3] * smoothstep(0.05, 0.5, R["eyelids"] + R["eye_corners"])
        + pale[4] * (R["chin"] + R["nasolabial"])
    )
    pallor_noise = smooth_noise(r, x, y, 12, (0.006, 0.02), (0.0, 0.06, -0.1, 0.07))
    fields["pallor"] = np.clip((0.25 * frame.front + pallor) * (1.0 + 0.6 * pallor_noise), 0.0, 1.0)
    r = rng(7)
    red = r.dirichlet(1.5 * np.ones(4)) * 2.5  # lids, outer corners, under the eyes, nose tip
    under_eye = gauss(np.hypot(frame.ax - frame.landmarks["lower_lid_l"][0], y - frame.landmarks["lower_lid_l"][1] + 0.007), 0.005)
    nose_tip = R["nose"] * smoothstep(0.0, 0.015, frame.z - frame.landmarks["nose_tip"][2] + 0.012)
    redness = red[0] * R["eyelids"] + red[1] * R["eye_corners"] + red[2] * under_eye * frame.front + red[3] * nose_tip
    blotch_red = smooth_noise(r, x, y, 10, (0.003, 0.01), (0.0, 0.05, -0.03, 0.05))
    fields["eye_redness"] = np.clip(redness * (1.0 + 0.6 * blotch_red), 0.0, 1.0)
    r = rng(8)
    apple = np.array([frame.landmarks["cheek_l"][0] + r.uniform(-0.006, 0.006), frame.landmarks["cheek_l"][1] + r.uniform(-0.004, 0.008)])
    fields["cheek_glow"] = gauss(np.hypot(np.abs(x) - apple[0], y - apple[1]), r.uniform(0.008, 0.014)) * frame.front
    return fields
