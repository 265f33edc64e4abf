"""Appearance cues: identity-aware patterns, scaling with age and elasticity, placement, determinism."""

import dataclasses

import numpy as np
import pytest
import torch

from emoctl.emotions import EMOTIONS
from emoctl.errors import DataError, ShapeError
from emoctl.synthetic import EmotionModel, IdentityTraits, cue_fields, groove_depth, sample_traits, synthetic_head
from emoctl.synthetic.face_frame import FaceFrame

#: Four identities with the same age, elasticity and skin colour: only their own patterns differ.
MATCHED = [
    dataclasses.replace(sample_traits(s), age=60.0, elasticity=0.5, skin_tone=0.3, skin_rgb=(0.8, 0.6, 0.5))
    for s in (101, 202, 303, 404)
]


def pattern_correlation(a: torch.Tensor, b: torch.Tensor) -> float:
    """Mean over colour channels of the spatial (over vertices) correlation of two changes [V, 3]."""
    a, b = a.double().numpy(), b.double().numpy()
    return float(np.mean([np.corrcoef(a[:, c], b[:, c])[0, 1] for c in range(3)]))


def test_neutral_changes_nothing_and_results_stay_in_range(model):
    for traits in MATCHED[:2]:
        base = model.albedo(traits)
        assert base.shape == (model.head.num_vertices, 3) and float(base.min()) >= 0 and float(base.max()) <= 1
        assert float(model.appearance(traits, "neutral").abs().max()) == 0.0
        assert float(model.appearance(traits, "happy", 0.0).abs().max()) == 0.0
        for e in EMOTIONS[1:]:
            out = base + model.appearance(traits, e, 1.5)
            assert float(out.min()) >= -1e-6 and float(out.max()) <= 1 + 1e-6, e


@pytest.mark.parametrize("emotion", EMOTIONS[1:])
def test_same_emotion_differs_in_pattern_between_identities(model, emotion):
    changes = [model.appearance(t, emotion) for t in MATCHED]
    corrs = [pattern_correlation(changes[i], changes[j]) for i in range(4) for j in range(i + 1, 4)]
    assert max(corrs) < 0.9, corrs  # never one template at another scale (that would be 1.0)
    assert float(np.mean(corrs)) < 0.75, corrs
    if emotion in ("happy", "surprised", "disgusted"):  # wrinkle-dominated: mostly the identity's own lines
        assert float(np.mean(corrs)) < 0.6, corrs
    for i in range(3):  # no rescaling of one identity's change gives another's
        a, b = changes[i].double(), changes[i + 1].double()
        scale = float((a * b).sum() / (b * b).sum())
        assert float((a - scale * b).norm() / a.norm()) > 0.4


@pytest.mark.parametrize("emotion", ["happy", "surprised", "angry", "fearful"])
def test_cues_deepen_with_age_and_lost_elasticity(model, emotion):
    base = MATCHED[0]
    norms = []
    for age, elasticity in ((20.0, 1.0), (40.0, 0.8), (60.0, 0.5), (78.0, 0.2)):
        traits = dataclasses.replace(base, age=age, elasticity=elasticity)
        norms.append(float(model.appearance(traits, emotion).norm()))
    assert all(b > a for a, b in zip(norms, norms[1:])), norms
    if emotion in ("happy", "surprised"):
        assert norms[-1] > 2.0 * norms[0], norms
    same_age = [dataclasses.replace(base, elasticity=e) for e in (0.9, 0.3)]
    assert groove_depth(same_age[1]) > groove_depth(same_age[0])
    assert float(model.appearance(same_age[1], emotion).norm()) > float(model.appearance(same_age[0], emotion).norm())


def test_older_faces_have_more_lines():
    """Count the grooves along the forehead's midline (on the subdivided head: 2 mm sampling)."""
    young = dataclasses.replace(MATCHED[1], age=20.0, elasticity=1.0)
    old = dataclasses.replace(MATCHED[1], age=78.0, elasticity=0.2)
    frame = FaceFrame.of(synthetic_head(0, 1))
    forehead = frame.regions["forehead"] > 0.5
    x_mid = forehead & (np.abs(frame.x) < 0.0025)
    order = np.argsort(frame.y[x_mid])

    def grooves(traits):
        profile = cue_fields(frame, traits)["forehead_lines"][x_mid][order]
        profile = profile / max(np.abs(profile).max(), 1e-12)
        return int(np.count_nonzero((profile[1:-1] > profile[:-2]) & (profile[1:-1] >= profile[2:]) & (profile[1:-1] > 0.3)))

    assert grooves(old) > grooves(young) >= 1


def test_skin_tone_changes_contrast(model):
    light = dataclasses.replace(MATCHED[2], skin_tone=0.05, skin_rgb=(0.95, 0.8, 0.7))
    dark = dataclasses.replace(MATCHED[2], skin_tone=0.95, skin_rgb=(0.3, 0.2, 0.14))
    for emotion in ("angry", "surprised", "fearful"):
        assert float(model.appearance(dark, emotion).norm()) < 0.7 * float(model.appearance(light, emotion).norm()), emotion


@pytest.mark.parametrize(
    "emotion, regions",
    [
        ("surprised", ("forehead",)),
        ("happy", ("eye_corners", "nasolabial", "cheeks", "mouth_corners")),
        ("angry", ("glabella", "cheeks", "nose", "forehead", "brows", "ears", "neck")),
        ("disgusted", ("glabella", "nose", "nasolabial", "brows")),
        ("sad", ("eyelids", "eye_corners", "glabella", "nose", "forehead", "cheeks")),
    ],
)
def test_cues_sit_where_the_emotion_acts(model, emotion, regions):
    change = model.appearance(MATCHED[3], emotion).norm(dim=1).double().numpy() ** 2
    mask = np.max([model.frame.regions[r] for r in regions], axis=0)
    near = np.clip(mask * 3.0, 0.0, 1.0)  # the region and its soft border
    assert float((change * near).sum() / change.sum()) > 0.7


def test_deterministic_and_json_round_trip(model):
    traits = sample_traits(77)
    again = IdentityTraits.from_json(traits.to_json())
    assert again == traits
    torch.testing.assert_close(model.appearance(traits, "happy"), model.appearance(again.to_json(), "happy"), rtol=0, atol=0)
    assert not torch.equal(model.appearance(traits, "happy"), model.appearance(sample_traits(78), "happy"))


def test_bad_inputs(model):
    with pytest.raises(DataError):
        IdentityTraits.from_json({"age": 30})
    with pytest.raises(DataError):
        IdentityTraits.from_json({**sample_traits(1).to_json(), "skin_rgb": [1, 2]})
    with pytest.raises(ShapeError):
        EmotionModel().appearance(sample_traits(1), "happy")  # no head
    with pytest.raises(ShapeError):
        model.appearance(sample_traits(1), "happy", float("nan"))
