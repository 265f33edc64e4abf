"""The emotions are the EMFACS prototypes: measured on the posed synthetic head, in millimetres.

A still, silent face (``still_articulation``) in each emotion, posed by ``emoctl.flame.FLAME`` on
the seed-0 head: every prototype's action units move the landmarks by real-face amounts at
intensity 1, nothing at intensity 0, and more as the intensity grows to 1.5 (exaggerated).
The measured values are in docs/synthetic-world.md ("The ground truth").
"""

from __future__ import annotations

import pytest
import torch

from emoctl.emotions import EMOTIONS
from emoctl.flame import FLAME
from emoctl.synthetic import still_articulation

INTENSITIES = (0.0, 0.25, 0.5, 1.0, 1.5)

#: (emotion, feature, threshold in mm at intensity 1; negative: at most this, i.e. a fall).
PROTOTYPES: tuple[tuple[str, str, float], ...] = (
    ("happy", "corner_rise", 4.0),  # AU12
    ("happy", "mouth_widening", 5.0),  # AU12 draws the corners back and out
    ("happy", "lower_lid_rise", 1.5),  # AU6 (+ AU7)
    ("happy", "cheek_rise", 2.0),  # AU6
    ("happy", "lip_parting", 2.0),  # AU25
    ("sad", "inner_brow_rise", 3.0),  # AU1
    ("sad", "brow_obliqueness", 3.0),  # AU1 + AU4: inner ends up, the rest held down
    ("sad", "inner_brow_gap", -2.0),  # AU4 draws the brows together
    ("sad", "corner_rise", -3.5),  # AU15
    ("sad", "chin_boss_push", 2.0),  # AU17: the chin boss up and forward
    ("surprised", "inner_brow_rise", 5.0),  # AU1
    ("surprised", "outer_brow_rise", 5.0),  # AU2
    ("surprised", "upper_lid_rise", 3.0),  # AU5
    ("surprised", "lid_aperture", 3.0),
    ("surprised", "chin_drop", 10.0),  # AU26
    ("fearful", "inner_brow_rise", 4.0),  # AU1
    ("fearful", "outer_brow_rise", 3.0),  # AU2
    ("fearful", "inner_brow_gap", -1.5),  # AU4
    ("fearful", "upper_lid_rise", 3.0),  # AU5
    ("fearful", "lid_aperture", 1.5),  # AU5 against AU7
    ("fearful", "lower_lid_rise", 0.5),  # AU7
    ("fearful", "mouth_widening", 6.0),  # AU20
    ("fearful", "chin_drop", 10.0),  # AU26
    ("angry", "inner_brow_rise", -4.0),  # AU4
    ("angry", "inner_brow_gap", -4.0),  # AU4
    ("angry", "brow_obliqueness", -3.0),  # AU4: inner ends lowest, a V
    ("angry", "lower_lid_rise", 1.5),  # AU7
    ("angry", "upper_lid_rise", 0.5),  # AU5 (against AU4's hooding)
    ("angry", "lip_height", -4.0),  # AU23 + AU24: thinned, pressed lips
    ("disgusted", "nose_wrinkle", 3.0),  # AU9
    ("disgusted", "upper_lip_rise", 3.5),  # AU10
    ("disgusted", "upper_lip_arch", 3.0),  # AU10's inverted U: the middle rises, the corners do not
    ("disgusted", "lower_lip_drop", 2.0),  # AU16
    ("disgusted", "corner_rise", -1.0),  # AU15
)


@pytest.fixture(scope="module")
def flame(head):
    return FLAME(head)


@pytest.fixture(scope="module")
def probes(head):
    return probe_vertices(head)


def probe_vertices(head):
    """Vertex indices of points the landmarks do not cover: the lips' red 6 mm above and below the
    mouth line on the midline, the chin boss, the nose (region mask > 0.5)."""
    v = head.v_template
    lm = {n: v[head.faces[head.lmk_faces_idx[i]]].mul(head.lmk_bary_coords[i, :, None]).sum(0) for i, n in enumerate(head.landmark_names)}
    skin = head.regions["skin"] > 0.5
    midline = skin & (v[:, 0].abs() < 1e-4) & (v[:, 2] > 0.05)
    mouth_y, chin_y = float(lm["upper_lip_center"][1]), float(lm["chin"][1])

    def on_midline(y: float) -> int:
        idx = torch.where(midline)[0]
        return int(idx[(v[idx, 1] - y).abs().argmin()])

    return {
        "upper_red": on_midline(mouth_y + 0.006),
        "lower_red": on_midline(mouth_y - 0.006),
        "chin_boss": on_midline(0.55 * mouth_y + 0.45 * chin_y),
        "nose": torch.where(head.regions["nose"] > 0.5)[0],
    }


def _pose(flame, head, seq):
    with torch.no_grad():
        out = flame({k: t[None] for k, t in seq.items()})
    lm = {n: out.landmarks[0, 0, i].double() * 1000 for i, n in enumerate(head.landmark_names)}
    return lm, out.vertices[0, 0].double() * 1000


@pytest.fixture(scope="module")
def poses(flame, head, model):
    return pose_table(flame, head, model)


def pose_table(flame, head, model):
    """``(emotion, intensity) -> (landmarks mm, vertices [V, 3] mm)`` of the still face."""
    still = still_articulation(1)
    out = {("neutral", 0.0): _pose(flame, head, model.apply(still, "neutral"))}
    for e in EMOTIONS[1:]:
        for k in INTENSITIES:
            out[(e, k)] = _pose(flame, head, model.apply(still, e, k))
    return out


def features(pose, neutral, probes) -> dict[str, float]:
    """Millimetre changes from the neutral still face (left/right averaged)."""
    (lm, v), (lm0, v0) = pose, neutral

    def dy(name: str) -> float:
        return 0.5 * float(lm[name + "_l"][1] - lm0[name + "_l"][1] + lm[name + "_r"][1] - lm0[name + "_r"][1])

    def width(p, name: str) -> float:
        return float(p[name + "_l"][0] - p[name + "_r"][0])

    def gap(p, upper: str, lower: str) -> float:
        return float(p[upper][1] - p[lower][1])

    up, lo = probes["upper_red"], probes["lower_red"]
    nose = (v[probes["nose"]] - v0[probes["nose"]]).norm(dim=1)
    return {
        "corner_rise": dy("mouth_corner"),
        "mouth_widening": width(lm, "mouth_corner") - width(lm0, "mouth_corner"),
        "inner_brow_rise": dy("brow_inner"),
        "outer_brow_rise": dy("brow_outer"),
        "brow_obliqueness": dy("brow_inner") - dy("brow_outer"),
        "inner_brow_gap": width(lm, "brow_inner") - width(lm0, "brow_inner"),
        "upper_lid_rise": dy("upper_lid"),
        "lower_lid_rise": dy("lower_lid"),
        "lid_aperture": gap(lm, "upper_lid_l", "lower_lid_l") - gap(lm0, "upper_lid_l", "lower_lid_l"),
        "cheek_rise": dy("cheek"),
        "chin_drop": -float(lm["chin"][1] - lm0["chin"][1]),
        "chin_boss_push": float((v[probes["chin_boss"], 1:] - v0[probes["chin_boss"], 1:]).sum()),  # up + forward
        "lip_parting": gap(lm, "upper_lip_center", "lower_lip_center") - gap(lm0, "upper_lip_center", "lower_lip_center"),
        "upper_lip_rise": float(lm["upper_lip_center"][1] - lm0["upper_lip_center"][1]),
        "upper_lip_arch": float(lm["upper_lip_center"][1] - lm0["upper_lip_center"][1]) - dy("mouth_corner"),
        "lower_lip_drop": -float(lm["lower_lip_center"][1] - lm0["lower_lip_center"][1]),
        "lip_height": float((v[up, 1] - v[lo, 1]) - (v0[up, 1] - v0[lo, 1])),
        "nose_wrinkle": float(nose.max()),
    }


@pytest.fixture(scope="module")
def measured(poses, probes):
    neutral = poses[("neutral", 0.0)]
    return {key: features(pose, neutral, probes) for key, pose in poses.items()}


@pytest.mark.parametrize("emotion,feature,threshold", PROTOTYPES, ids=[f"{e}-{f}" for e, f, _ in PROTOTYPES])
def test_prototype_at_intensity_one(measured, emotion, feature, threshold):
    value = measured[(emotion, 1.0)][feature]
    if threshold > 0:
        assert value > threshold, f"{emotion} {feature}: {value:.2f} mm (needs > {threshold})"
    else:
        assert value < threshold, f"{emotion} {feature}: {value:.2f} mm (needs < {threshold})"


@pytest.mark.parametrize("emotion,feature,threshold", PROTOTYPES, ids=[f"{e}-{f}" for e, f, _ in PROTOTYPES])
def test_prototype_grows_with_intensity(measured, emotion, feature, threshold):
    """Zero at intensity 0, strictly growing in the prototype's direction up to 1.5."""
    sign = 1.0 if threshold > 0 else -1.0
    values = [sign * measured[(emotion, k)][feature] for k in INTENSITIES]
    assert values[0] == 0.0
    assert all(b > a for a, b in zip(values, values[1:])), (emotion, feature, values)


@pytest.mark.parametrize("emotion", EMOTIONS[1:])
def test_intensity_zero_is_the_neutral_face(poses, emotion):
    torch.testing.assert_close(poses[(emotion, 0.0)][1], poses[("neutral", 0.0)][1], atol=0.0, rtol=0.0)


def test_brow_raise_magnitudes_are_real_face_sized(measured):
    """Brow raises of 5-10 mm at intensity 1 (the issue's figures), not more."""
    for e in ("surprised", "fearful", "sad"):
        assert measured[(e, 1.0)]["inner_brow_rise"] < 10.0, e
    assert 5.0 < measured[("surprised", 1.0)]["outer_brow_rise"] < 10.0


def test_lip_corner_pull_is_real_face_sized(measured):
    """Lip-corner pulls of 5-12 mm at intensity 1 (the corner's displacement)."""
    m = measured[("happy", 1.0)]
    pull = (m["corner_rise"] ** 2 + (0.5 * m["mouth_widening"]) ** 2) ** 0.5
    assert 5.0 < pull < 12.0, pull


@pytest.mark.parametrize("emotion", EMOTIONS[1:])
def test_no_triangle_flips_even_exaggerated(flame, head, model, emotion):
    """At intensity 1.5 no face triangle turns over (the fields stay smooth at real-face sizes)."""
    still = still_articulation(1)
    with torch.no_grad():
        rest = flame({k: t[None] for k, t in model.apply(still, "neutral").items()}).vertices[0, 0]
        posed = flame({k: t[None] for k, t in model.apply(still, emotion, 1.5).items()}).vertices[0, 0]
    face = head.faces[(head.regions["skin"][head.faces] > 0.5).all(dim=1)]

    def normals(v):
        a, b, c = v[face[:, 0]], v[face[:, 1]], v[face[:, 2]]
        return torch.linalg.cross(b - a, c - a)

    n0, n1 = normals(rest), normals(posed)
    cos = (n0 * n1).sum(1) / (n0.norm(dim=1) * n1.norm(dim=1)).clamp_min(1e-18)
    assert float(cos.min()) > 0.0, f"{emotion}: {int((cos <= 0).sum())} triangles flipped"


def test_no_triangle_flips_while_speaking(flame, head, model, speech):
    """A whole sentence in every emotion at intensity 1: the emotion on top of the articulation
    (and the jaw's widest openings) folds no triangle of the face either. (Under the jaw, the
    head's own skinning shears the neck at the widest openings, whatever the expression.)"""
    v = head.v_template
    face = head.faces[((head.regions["skin"][head.faces] > 0.5) & (v[head.faces, 2] > 0.03)).all(dim=1)]

    def normals(v):
        a, b, c = v[..., face[:, 0], :], v[..., face[:, 1], :], v[..., face[:, 2], :]
        return torch.linalg.cross(b - a, c - a)

    with torch.no_grad():
        n0 = normals(flame({}).vertices[0])
        for emotion in EMOTIONS:
            n1 = normals(flame(model.apply(speech, emotion)).vertices)
            cos = (n1 * n0).sum(-1) / (n1.norm(dim=-1) * n0.norm(dim=-1)).clamp_min(1e-18)
            assert float(cos.min()) > 0.0, f"{emotion}: {int((cos.min(dim=1).values <= 0).sum())} frames with flipped triangles"
