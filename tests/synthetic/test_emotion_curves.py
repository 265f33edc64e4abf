"""Emotion curves: the definition (smooth onsets), the sampler, and the ground truth of an emotion that
changes inside a clip (geometry through apply_curve, appearance through appearance_curve)."""

import numpy as np
import pytest
import torch

from emoctl.emotions import EMOTIONS
from emoctl.errors import DataError, EmotionLabelError, ShapeError, UnknownEmotionError
from emoctl.synthetic import SpeakerStyle, sample_traits
from emoctl.synthetic.emotion_curves import EmotionCurve, Transition, sample_curve, smoothstep

HAPPY = EMOTIONS.index("happy")
LIP_CORNER = "lip_corner_pull"


def neutral_to_happy(onset_s: float = 0.3, at_s: float = 1.2) -> EmotionCurve:
    return EmotionCurve("neutral", (Transition(at_s, "happy", onset_s),))


def one_hot(emotion: str, frames: int) -> torch.Tensor:
    weights = torch.zeros(frames, len(EMOTIONS))
    weights[:, EMOTIONS.index(emotion)] = 1.0
    return weights


def test_smoothstep_onset():
    t = torch.arange(0, 91, dtype=torch.float64) / 30  # 3 s at 30 fps
    w = neutral_to_happy().weights(t)
    assert w.shape == (91, 7) and w.dtype == torch.float32
    torch.testing.assert_close(w.sum(1), torch.ones(91))
    before, during, after = t < 1.2 - 1e-9, (t > 1.2 + 1e-9) & (t < 1.5 - 1e-9), t > 1.5 - 1e-9
    assert torch.equal(w[before], one_hot("neutral", int(before.sum())))  # exactly neutral up to the onset
    assert torch.equal(w[after], one_hot("happy", int(after.sum())))  # exactly happy once it has finished
    rising = w[during, HAPPY]
    assert bool((rising > 0).all() and (rising < 1).all() and (rising[1:] > rising[:-1]).all())
    mid = neutral_to_happy().weights(torch.tensor([1.35]))[0]
    assert float(mid[HAPPY]) == pytest.approx(0.5, abs=1e-6) and float(mid[0]) == pytest.approx(0.5, abs=1e-6)
    # slow at both ends, fastest in the middle (not a linear ramp)
    assert smoothstep(np.array([0.1]))[0] < 0.1 and smoothstep(np.array([0.9]))[0] > 0.9


def test_two_changes_mixtures_and_steps():
    t = torch.arange(0, 120, dtype=torch.float64) / 30
    curve = EmotionCurve({"happy": 0.5, "neutral": 0.5}, (Transition(1.0, "happy", 0.0), Transition(2.0, "surprised", 0.5)))
    w = curve.weights(t)
    assert float(w[0, HAPPY]) == 0.5 and float(w[0, 0]) == 0.5  # a weaker happy: the rest is neutral
    assert float(w[30, HAPPY]) == 1.0 and float(w[29, HAPPY]) == 0.5  # a step at 1 s
    assert torch.equal(w[-1], one_hot("surprised", 1)[0])
    assert bool((w >= 0).all()) and torch.allclose(w.sum(1), torch.ones(120))
    # the weights are emoctl's curve convention: the same label as emotion_curve's rows
    from emoctl.emotions import emotion_curve

    torch.testing.assert_close(w[0], emotion_curve({0: {"happy": 0.5, "neutral": 0.5}}, 1)[0, 0])


def test_curve_definition_errors():
    with pytest.raises(DataError, match="must not overlap"):
        EmotionCurve("neutral", (Transition(1.0, "happy", 0.5), Transition(1.2, "sad")))
    with pytest.raises(DataError, match="onset_s"):
        Transition(1.0, "happy", -0.1)
    with pytest.raises(DataError, match="time_s"):
        Transition(float("nan"), "happy")
    with pytest.raises(DataError, match="emotion name"):
        EmotionCurve(3)
    with pytest.raises(UnknownEmotionError):
        EmotionCurve("bored").weights(torch.zeros(2))
    with pytest.raises(DataError, match="weight of 'happy'"):
        EmotionCurve({"happy": -1.0, "sad": 2.0})
    with pytest.raises(EmotionLabelError):  # emotion_curve's own check: weights that sum to zero
        EmotionCurve({"happy": 0.0}).weights(torch.zeros(1))
    with pytest.raises(ShapeError):
        neutral_to_happy().weights(torch.zeros(2, 2))


def test_json_round_trip():
    curve = EmotionCurve("sad", (Transition(0.5, {"happy": 0.7, "neutral": 0.3}, 0.25), Transition(2.0, "angry")))
    assert EmotionCurve.from_json(curve.to_json()) == curve
    with pytest.raises(DataError):
        EmotionCurve.from_json({"transitions": []})


def test_sampler_is_deterministic_and_varied():
    curves = [sample_curve(11, j, 0.5, 3.0) for j in range(12)]
    assert curves == [sample_curve(11, j, 0.5, 3.0) for j in range(12)]
    assert sample_curve(12, 0, 0.5, 3.0) != curves[0]
    assert len({(c.start, *(s.emotion for s in c.transitions)) for c in curves}) > 6
    for c in curves:
        first, second = c.transitions
        assert first.emotion != "neutral" and first.emotion != c.start and second.emotion != first.emotion
        assert 0.5 < first.time_s and first.time_s + first.onset_s <= second.time_s  # in order, no overlap
        assert second.time_s + second.onset_s <= 0.5 + 3.0  # finished inside the clip
        assert 0.2 <= first.onset_s <= 0.5 and 0.2 <= second.onset_s <= 0.5
    short = sample_curve(11, 0, 0.0, 0.6)  # a short clip: onsets shortened to a fifth of it
    assert all(s.onset_s <= 0.12 + 1e-9 for s in short.transitions)


# ---------------------------------------------------------------------- geometry
@pytest.fixture(scope="module")
def style():
    return SpeakerStyle.sample(np.random.default_rng(3))


INTENSITIES = {e: (0.0 if e == "neutral" else 0.8 + 0.05 * k) for k, e in enumerate(EMOTIONS)}


@pytest.mark.parametrize("emotion", EMOTIONS)
def test_constant_curve_is_the_constant_clip(model, speech, style, emotion):
    weights = EmotionCurve(emotion).weights(speech.timestamps)
    mixed = model.apply_curve(speech, weights, INTENSITIES, style=style)
    plain = model.apply(speech, emotion, INTENSITIES[emotion], style=style)
    assert mixed.keys() == plain.keys()
    for key in plain:
        assert torch.equal(mixed[key], plain[key]), key  # bit-identical


def test_neutral_to_happy_geometry(model, speech, style):
    t = speech.timestamps
    mixed = model.apply_curve(speech, neutral_to_happy().weights(t), INTENSITIES, style=style)
    neutral = model.apply(speech, "neutral", 0.0, style=style)
    happy = model.apply(speech, "happy", INTENSITIES["happy"], style=style)
    before, after = t < 1.2 - 1e-9, t > 1.5 - 1e-9
    for key in ("expr", "jaw_pose"):
        assert torch.equal(mixed[key][before], neutral[key][before]), key
        assert torch.equal(mixed[key][after], happy[key][after]), key
    during = (t > 1.25) & (t < 1.45)
    from emoctl.synthetic import SEMANTIC_EXPRESSIONS

    lip = SEMANTIC_EXPRESSIONS.index(LIP_CORNER)
    low = torch.minimum(neutral["expr"][during, lip], happy["expr"][during, lip])
    high = torch.maximum(neutral["expr"][during, lip], happy["expr"][during, lip])
    value = mixed["expr"][during, lip]
    assert bool(((value > low) & (value < high)).all())  # strictly on the way
    for key in ("rotation", "neck_pose", "eyes_pose"):
        assert torch.equal(mixed[key], neutral[key])  # head, neck and gaze are the sentence's


def test_apply_curve_checks_its_weights(model, speech):
    frames = speech.num_frames
    with pytest.raises(ShapeError, match=r"\[%d, 7\]" % frames):
        model.apply_curve(speech, torch.full((frames, 6), 1 / 6))
    with pytest.raises(ShapeError):
        model.apply_curve(speech, one_hot("happy", frames - 1))
    bad = one_hot("happy", frames)
    bad[4] = torch.tensor([0.5, 0.6, 0, 0, 0, 0, 0])
    with pytest.raises(DataError, match="frame 4 sums to 1.1"):
        model.apply_curve(speech, bad)
    bad[4] = torch.tensor([1.5, -0.5, 0, 0, 0, 0, 0])
    with pytest.raises(DataError, match=">= 0"):
        model.apply_curve(speech, bad)
    with pytest.raises(DataError, match="no entry for 'happy'"):
        model.apply_curve(speech, one_hot("happy", frames), {"sad": 1.0})


# ---------------------------------------------------------------------- appearance
def test_appearance_follows_the_curve_per_frame(model):
    traits = sample_traits(21)
    t = torch.arange(0, 60, dtype=torch.float64) / 30
    weights = neutral_to_happy(0.3, 0.8).weights(t)
    changes = model.appearance_curve(traits, weights, INTENSITIES)
    happy = model.appearance(traits, "happy", INTENSITIES["happy"])
    assert changes.shape == (60, model.head.num_vertices, 3)
    before, after = t < 0.8 - 1e-9, t > 1.1 - 1e-9
    assert float(changes[before].abs().max()) == 0.0  # wrinkles absent before the onset
    assert torch.equal(changes[after], happy.expand(int(after.sum()), -1, -1))  # and exactly happy's after
    norms = changes.flatten(1).norm(dim=1)
    during = (t > 0.8 + 1e-9) & (t < 1.1 - 1e-9)
    assert bool((norms[during] > 0).all() and (norms[during] < happy.norm()).all())
    assert bool((norms[during][1:] > norms[during][:-1]).all())  # they come in with the curve
    # constant curve == the constant clip's change; wrinkles go again when the emotion leaves
    for emotion in ("sad", "neutral"):
        constant = model.appearance_curve(traits, one_hot(emotion, 3), INTENSITIES)
        plain = model.appearance(traits, emotion, INTENSITIES[emotion])
        assert torch.equal(constant, plain.expand(3, -1, -1))
    back = EmotionCurve("happy", (Transition(0.5, "neutral", 0.2),)).weights(t)
    assert float(model.appearance_curve(traits, back, INTENSITIES)[-1].abs().max()) == 0.0
