"""Emotion vocabulary and label parsing."""

import numpy as np
import pytest
import torch
from hypothesis import example, given, settings
from hypothesis import strategies as st

from emoctl import EMOTIONS, Emotion, EmotionLabelError, ShapeError, UnknownEmotionError, Vocabulary, emotion_curve, interpolate
from emoctl.emotions import MAX_INTENSITY, EmotionLabel, parse_emotion

V = Vocabulary(EMOTIONS)


def test_default_vocabulary_is_the_papers():
    assert EMOTIONS == ("neutral", "happy", "sad", "surprised", "angry", "disgusted", "fearful")
    assert Vocabulary.from_spec(7) == EMOTIONS
    assert V.neutral == "neutral"


def test_custom_vocabularies():
    assert list(Vocabulary.from_spec(3)) == ["neutral", "emotion_1", "emotion_2"]
    v = Vocabulary.from_spec(["calm", "excited", "bored"])  # first name is the zero label
    assert v.neutral == "calm" and v.index("Excited") == 1
    with pytest.raises(EmotionLabelError, match="first"):
        Vocabulary(["happy", "neutral"])
    with pytest.raises(EmotionLabelError, match="unique"):
        Vocabulary(["neutral", "happy", "Happy"])
    with pytest.raises(EmotionLabelError, match="at least 2"):
        Vocabulary.from_spec(1)
    with pytest.raises(EmotionLabelError):
        Vocabulary.from_spec("happy")


def test_names_ids_and_neutral():
    assert parse_emotion("neutral", V).coefficients.abs().sum() == 0
    happy = parse_emotion("happy", V)
    assert happy.kind == "global" and happy.coefficients.tolist() == [1, 0, 0, 0, 0, 0]
    assert torch.equal(parse_emotion(1, V).coefficients, happy.coefficients)
    assert torch.equal(parse_emotion(torch.tensor(1), V).coefficients, happy.coefficients)


def test_unknown_names_and_ids_are_clear_errors():
    with pytest.raises(UnknownEmotionError, match="'joy'.*neutral"):
        parse_emotion("joy", V)
    with pytest.raises(UnknownEmotionError, match="out of range"):
        parse_emotion(7, V)
    with pytest.raises(UnknownEmotionError, match=r"\[9\]"):
        parse_emotion(torch.tensor([1, 9]), V)
    with pytest.raises(EmotionLabelError):
        parse_emotion(1.5, V)
    with pytest.raises(EmotionLabelError):
        parse_emotion(True, V)


def test_mixtures_are_normalised_and_checked():
    mix = parse_emotion({"happy": 0.7, "sad": 0.3}, V).coefficients
    assert torch.allclose(mix, torch.tensor([0.7, 0.3, 0, 0, 0, 0]))
    assert torch.allclose(parse_emotion({"happy": 2, "neutral": 2}, V).coefficients[0], torch.tensor(0.5))
    with pytest.raises(EmotionLabelError, match="negative"):
        parse_emotion({"happy": -0.1, "sad": 1.1}, V)
    with pytest.raises(EmotionLabelError, match="sum to zero"):
        parse_emotion({"happy": 0.0, "sad": 0.0}, V)
    with pytest.raises(EmotionLabelError, match="finite"):
        parse_emotion({"happy": float("nan")}, V)


def test_intensity_scales_the_non_neutral_part():
    assert torch.allclose(parse_emotion(Emotion("angry", 0.25), V).coefficients[3], torch.tensor(0.25))
    assert torch.allclose(parse_emotion(Emotion("angry", 1.5), V).coefficients[3], torch.tensor(1.5))
    with pytest.raises(EmotionLabelError):
        Emotion("angry", -1)


def test_interpolation_endpoints_are_the_pure_emotions():
    for a, b in [("happy", "sad"), ("neutral", "fearful"), ({"happy": 0.5, "angry": 0.5}, "surprised")]:
        assert torch.equal(parse_emotion(interpolate(a, b, 0), V).coefficients, parse_emotion(a, V).coefficients)
        assert torch.equal(parse_emotion(interpolate(a, b, 1), V).coefficients, parse_emotion(b, V).coefficients)
    quarter = parse_emotion(interpolate("happy", "sad", 0.25), V).coefficients
    assert torch.allclose(quarter[:2], torch.tensor([0.75, 0.25]))


@settings(max_examples=60, deadline=None)
@given(st.sampled_from(EMOTIONS), st.floats(0, 2), st.dictionaries(st.sampled_from(EMOTIONS), st.floats(0.01, 10), min_size=1),
       st.floats(0, 2), st.floats(0, 1))
def test_interpolation_is_linear_in_coefficients_with_unequal_intensities(a, ia, b, ib, t):
    lhs = parse_emotion(interpolate(Emotion(a, ia), Emotion(b, ib), t), V).coefficients
    rhs = (1 - t) * parse_emotion(Emotion(a, ia), V).coefficients + t * parse_emotion(Emotion(b, ib), V).coefficients
    assert torch.allclose(lhs, rhs, atol=1e-6)


def test_interpolation_factor_outside_unit_interval_is_a_clear_error():
    for t in (-0.1, 1.5, float("nan")):
        with pytest.raises(EmotionLabelError, match=r"in \[0, 1\]"):
            interpolate("happy", "sad", t)


@settings(max_examples=60, deadline=None)
@given(st.dictionaries(st.sampled_from(EMOTIONS), st.floats(0.01, 10), min_size=1), st.floats(0, 1))
def test_mixture_coefficients_are_convex(weights, t):
    c = parse_emotion(interpolate(weights, "happy", t), V).coefficients
    assert (c >= -1e-6).all() and c.sum() <= 1 + 1e-5


def test_per_sample_labels():
    lab = parse_emotion(["happy", "neutral", {"sad": 1}], V)
    assert lab.kind == "per_sample" and lab.coefficients.shape == (3, 6)
    assert lab.resolve(3).shape == (3, 6) and lab.resolve(3, frames=5).shape == (3, 5, 6)
    with pytest.raises(ShapeError, match="3 per-sample entries but the batch has 2"):
        lab.resolve(2)
    with pytest.raises(EmotionLabelError):
        parse_emotion([], V)


def test_weight_tensors_and_curves():
    w = torch.zeros(2, 7)
    w[0, 1] = 1
    w[1, 0] = 1
    lab = parse_emotion(w, V)
    assert lab.kind == "per_sample" and lab.coefficients[1].abs().sum() == 0
    curve = emotion_curve({0: "neutral", 4: "happy"}, 5)
    assert curve.shape == (1, 5, 7)
    lab = parse_emotion(curve, V)
    assert lab.kind == "per_frame"
    assert torch.allclose(lab.coefficients[0, :, 0], torch.tensor([0, 0.25, 0.5, 0.75, 1.0]))
    assert lab.resolve(1, frames=5).shape == (1, 5, 6)
    assert torch.allclose(lab.resolve(1)[0, 0], torch.tensor(0.5))  # averaged for per-avatar paths
    with pytest.raises(ShapeError, match="5 frames but the FLAME sequence has 4"):
        lab.resolve(1, frames=4)
    with pytest.raises(ShapeError):
        parse_emotion(torch.rand(2, 5), V)
    with pytest.raises(EmotionLabelError, match="NaN"):
        parse_emotion(torch.full((7,), float("nan")), V)
    with pytest.raises(EmotionLabelError, match=">= 0"):
        parse_emotion(-torch.ones(7), V)
    with pytest.raises(EmotionLabelError, match="sum to zero"):
        parse_emotion(torch.zeros(2, 7), V)
    with pytest.raises(EmotionLabelError):
        emotion_curve({9: "happy"}, 5)


# ---------------------------------------------------------------- hardening (issue #9, finding 8)
def test_intensity_is_bounded_with_a_clear_error():
    assert parse_emotion(Emotion("happy", MAX_INTENSITY), V).coefficients[0] == MAX_INTENSITY
    for bad in (1e30, 10.5, 10**400, float("inf"), float("nan"), -0.1):
        with pytest.raises(EmotionLabelError, match="intensity"):
            Emotion("happy", bad)
    with pytest.raises(EmotionLabelError, match="MAX_INTENSITY = 10"):
        Emotion("happy", 50)  # a percentage typed as a number


def test_mixture_weights_normalise_without_overflow():
    half = torch.tensor([0.5, 0.5, 0, 0, 0, 0])
    for scale in (1e308, 1.7e308, 5e-324, 1e-300):
        assert torch.allclose(parse_emotion({"happy": scale, "sad": scale}, V).coefficients, half)
    assert torch.allclose(parse_emotion(interpolate({"happy": 1e308, "sad": 1e308}, "happy", 0.5), V).coefficients,
                          torch.tensor([0.75, 0.25, 0, 0, 0, 0]))
    with pytest.raises(EmotionLabelError, match="finite"):
        parse_emotion({"happy": 10**400}, V)  # an int beyond the float range: refused, not OverflowError


@settings(max_examples=60, deadline=None)
@given(st.dictionaries(st.sampled_from(EMOTIONS), st.floats(0.01, 10), min_size=1), st.integers(-1015, 1020))
@example({"happy": 10.0, "sad": 10.0}, 1020)  # the sum of the scaled weights overflows to inf
def test_mixture_coefficients_do_not_depend_on_the_weights_scale(weights, exponent):
    scaled = {k: v * 2.0**exponent for k, v in weights.items()}  # exact scaling, up to ~1e308 and down to ~1e-308
    assert torch.allclose(parse_emotion(scaled, V).coefficients, parse_emotion(weights, V).coefficients, atol=1e-6)


def test_weight_tensors_normalise_without_overflow():
    uniform = torch.full((6,), 1 / 7)
    assert torch.allclose(parse_emotion(torch.full((7,), 3e38), V).coefficients, uniform)  # float32 sum overflows
    assert torch.allclose(parse_emotion(torch.full((7,), 1e308, dtype=torch.float64), V).coefficients, uniform)
    curve = torch.zeros(1, 2, 7, dtype=torch.float64)
    curve[0, 0, 1] = curve[0, 0, 2] = 1e308
    curve[0, 1, 0] = 1e-310
    lab = parse_emotion(curve, V)
    assert lab.kind == "per_frame" and torch.allclose(lab.coefficients[0, 0, :2], torch.tensor([0.5, 0.5]))
    assert lab.coefficients[0, 1].abs().sum() == 0


@pytest.mark.parametrize("dtype", [torch.complex64, torch.complex128, torch.bool])
@pytest.mark.parametrize("shape", [(), (2,), (7,), (2, 7)])
def test_complex_and_bool_tensors_are_refused_naming_the_dtype(dtype, shape):
    with pytest.raises(EmotionLabelError, match=str(dtype)):
        parse_emotion(torch.ones(shape, dtype=dtype), V)


def test_non_real_numbers_are_refused_naming_the_type():
    for weight, kind in [(1 + 2j, "complex"), (np.complex64(1), "complex64"), (True, "bool"), ("0.5", "str"),
                         (torch.tensor(1 + 1j), "complex64"), (np.array([0.5]), "ndarray")]:
        with pytest.raises(EmotionLabelError, match=kind):
            parse_emotion({"happy": weight}, V)
    with pytest.raises(EmotionLabelError, match="float64"):
        Emotion(np.float64(1.0))  # a float is not an id
    with pytest.raises(UnknownEmotionError, match="float 1.5"):
        V.check_id(1.5)  # refused, not truncated to 1


def test_numpy_scalars_and_0d_arrays_read_like_python_numbers():
    happy = parse_emotion("happy", V).coefficients
    for emotion_id in (np.int64(1), np.uint8(1), np.array(1), torch.tensor(1)):
        assert torch.equal(parse_emotion(emotion_id, V).coefficients, happy)
        assert torch.equal(parse_emotion(Emotion(emotion_id), V).coefficients, happy)
        if not isinstance(emotion_id, np.ndarray):  # arrays are unhashable: no mapping keys
            assert torch.equal(parse_emotion({emotion_id: 1.0}, V).coefficients, happy)
        assert Emotion(emotion_id).label == 1 and type(Emotion(emotion_id).label) is int
    mix = torch.tensor([0.5, 0.5, 0, 0, 0, 0])
    for w in (np.float32(0.5), np.float16(0.5), np.array(0.5), torch.tensor(0.5), np.int64(1)):
        assert torch.allclose(parse_emotion({"happy": w, "sad": w}, V).coefficients, mix)
    assert torch.allclose(parse_emotion(Emotion("happy", np.float32(0.5)), V).coefficients[0], torch.tensor(0.5))
    assert type(Emotion("happy", np.float32(0.5)).intensity) is float
    per_sample = parse_emotion([np.int64(1), torch.tensor(2), np.array(0)], V)
    assert per_sample.coefficients[:, :2].tolist() == [[1, 0], [0, 1], [0, 0]]
    quarter = parse_emotion(interpolate(np.int64(1), "sad", np.float32(0.25)), V).coefficients
    assert torch.allclose(quarter[:2], torch.tensor([0.75, 0.25]))
    curve = emotion_curve({np.int64(0): "neutral", torch.tensor(4): "happy"}, np.array(5))
    assert torch.allclose(curve, emotion_curve({0: "neutral", 4: "happy"}, 5))
    assert list(Vocabulary.from_spec(np.int64(3))) == ["neutral", "emotion_1", "emotion_2"]
    for bad in (np.True_, np.array(True), np.float64(1.0)):
        with pytest.raises(EmotionLabelError):
            parse_emotion(bad, V)


def test_bad_mixtures_fail_when_the_emotion_is_built():
    with pytest.raises(EmotionLabelError, match="negative"):
        Emotion({"happy": -1})
    with pytest.raises(EmotionLabelError, match="sum to zero"):
        Emotion({"happy": 0})


def test_directly_built_labels_are_checked_like_parsed_ones():
    assert EmotionLabel(torch.full((6,), 1.5), "global", V).coefficients.sum() == 9  # within the bound
    with pytest.raises(EmotionLabelError, match="at most 10"):
        EmotionLabel(torch.full((6,), 1e30), "global", V)
    with pytest.raises(EmotionLabelError, match="nan"):
        EmotionLabel(torch.tensor([[0, 0, 0, 0, 0, float("nan")]]), "per_sample", V)
    with pytest.raises(ShapeError, match=r"\[B, T, K-1\]"):
        EmotionLabel(torch.zeros(2, 6), "per_frame", V)
    with pytest.raises(ShapeError):
        EmotionLabel(torch.zeros(0, 6), "per_sample", V)
    with pytest.raises(EmotionLabelError, match="float tensor"):
        EmotionLabel(torch.zeros(6, dtype=torch.long), "global", V)
    with pytest.raises(EmotionLabelError, match="kind"):
        EmotionLabel(torch.zeros(6), "per_avatar", V)
    with pytest.raises(ShapeError):
        parse_emotion(torch.zeros(0, 7), V)  # an empty batch of weights
