"""The emotion model's geometry: emotion entangled with articulation (the prototypes themselves, in
millimetres on the head, are in test_emfacs_prototypes.py)."""

import numpy as np
import pytest
import torch

from emoctl.emotions import EMOTIONS
from emoctl.errors import ShapeError, UnknownEmotionError
from emoctl.flame import FLAME
from emoctl.synthetic import SEMANTIC_EXPRESSIONS, SpeakerStyle

IDX = {n: i for i, n in enumerate(SEMANTIC_EXPRESSIONS)}


@pytest.fixture(scope="module")
def flame(head):
    return FLAME(head)


@pytest.fixture(scope="module")
def sequences(model, speech):
    return {e: model.apply(speech, e) for e in EMOTIONS}


@pytest.fixture(scope="module")
def vertices(flame, sequences):
    with torch.no_grad():
        return {e: flame({k: v[None] for k, v in s.items()}).vertices[0] for e, s in sequences.items()}


def test_output_format(sequences, speech):
    T = speech.num_frames
    for e, seq in sequences.items():
        assert sorted(seq) == sorted(["expr", "jaw_pose", "rotation", "neck_pose", "eyes_pose", "translation"])
        assert seq["expr"].shape == (T, 100) and seq["jaw_pose"].shape == (T, 3) and seq["eyes_pose"].shape == (T, 6)
        assert all(v.dtype == torch.float32 and torch.isfinite(v).all() for v in seq.values()), e


def test_head_motion_and_gaze_are_shared(sequences):
    for e in EMOTIONS[1:]:
        for key in ("rotation", "neck_pose", "eyes_pose", "translation"):
            assert torch.equal(sequences[e][key], sequences["neutral"][key]), (e, key)


def test_intensity_zero_is_neutral_and_intensity_scales(model, speech, sequences):
    for e in EMOTIONS[1:]:
        zero = model.apply(speech, e, 0.0)
        torch.testing.assert_close(zero["expr"], sequences["neutral"]["expr"], atol=1e-6, rtol=0)
        torch.testing.assert_close(zero["jaw_pose"], sequences["neutral"]["jaw_pose"], atol=1e-6, rtol=0)
        half = (model.apply(speech, e, 0.5)["expr"] - sequences["neutral"]["expr"]).norm()
        full = (sequences[e]["expr"] - sequences["neutral"]["expr"]).norm()
        assert 0.3 * full < half < 0.7 * full, e


def test_difference_to_neutral_varies_with_jaw_opening(sequences, speech):
    """Happy widens the lip corners more as the mouth opens: the per-frame difference of the
    lip-corner coefficient tracks the jaw opening."""
    jaw = speech.jaw_open.numpy()
    diff = (sequences["happy"]["expr"] - sequences["neutral"]["expr"]).numpy()
    corr = np.corrcoef(diff[:, IDX["lip_corner_pull"]], jaw)[0, 1]
    assert corr > 0.9
    assert np.ptp(diff[:, IDX["lip_corner_pull"]]) > 0.5  # not a small wiggle around a constant
    # the others are coupled too (in their own ways)
    for e, name, sign in (("fearful", "lip_stretch", 1), ("disgusted", "upper_lip_raise", 1), ("angry", "lip_press", -1)):
        d = (sequences[e]["expr"] - sequences["neutral"]["expr"]).numpy()[:, IDX[name]]
        assert sign * np.corrcoef(d, jaw)[0, 1] > 0.5, e


@pytest.mark.parametrize("emotion", EMOTIONS[1:])
def test_no_constant_offset_reproduces_an_emotion(vertices, emotion):
    """Fit the best constant vertex offset from neutral to the emotion over the whole sentence: it
    leaves errors of millimetres, a large part of the emotion's own displacement."""
    diff = vertices[emotion] - vertices["neutral"]  # [T, V, 3]
    best = diff.mean(dim=0, keepdim=True)  # least-squares optimal constant displacement
    residual = (diff - best).norm(dim=-1)  # [T, V] metres
    worst_frame = float(residual.max())
    effect = float(diff.norm(dim=-1).max())
    assert worst_frame > 0.002, f"{emotion}: {worst_frame * 1000:.2f} mm"
    assert worst_frame > 0.25 * effect, f"{emotion}: {worst_frame * 1000:.2f} mm of {effect * 1000:.2f} mm"
    assert float(residual.max(dim=1).values.mean()) > 0.0007  # on average, too, not one odd frame


def test_parameter_difference_is_not_constant(sequences):
    """The same in the 103-dim space the geometry branch sees (expression and jaw)."""
    for e in EMOTIONS[1:]:
        d = torch.cat([sequences[e]["expr"] - sequences["neutral"]["expr"],
                       sequences[e]["jaw_pose"] - sequences["neutral"]["jaw_pose"]], dim=1)
        residual = d - d.mean(dim=0, keepdim=True)
        assert float(residual.norm() / d.norm()) > 0.06, e
        assert float(residual.abs().max()) > 0.2, e


def test_coupling_directions(sequences, speech):
    jaw = {e: s["jaw_pose"][:, 0] for e, s in sequences.items()}
    opening = speech.jaw_open > 0.5
    assert float(jaw["sad"][opening].mean()) < 0.85 * float(jaw["neutral"][opening].mean())  # damped
    assert float(jaw["surprised"][opening].mean()) > 1.2 * float(jaw["neutral"][opening].mean())  # wider
    # AU26: a baseline opening on near-closed frames (measured: >= 0.12 rad; neutral <= 0.03), released
    # for bilabial closures so the lips can meet (measured: at most 0.028 rad above neutral there)
    quiet = (speech.jaw_open < 0.1) & (speech.closure < 0.3)
    assert float(jaw["surprised"][quiet].min()) > 0.1
    bilabial = speech.closure > 0.8
    assert float((jaw["surprised"][bilabial] - jaw["neutral"][bilabial]).max()) < 0.04
    assert float(jaw["angry"][opening].mean()) < float(jaw["neutral"][opening].mean())
    rounding = speech.rounding > 0.3
    pucker = {e: s["expr"][:, IDX["lip_pucker"]] for e, s in sequences.items()}
    assert float(pucker["sad"][rounding].mean()) < 0.8 * float(pucker["neutral"][rounding].mean())  # rounds less


def test_fearful_tremor(model):
    """A slight ~9 Hz tremor: above the speech band, the fearful-neutral difference peaks there."""
    from emoctl.synthetic import generate_speech

    art = generate_speech(2, 6.0, fps=100.0)
    d = (model.apply(art, "fearful")["expr"] - model.apply(art, "neutral")["expr"])[:, IDX["lip_stretch"]].numpy()
    spectrum = np.abs(np.fft.rfft(d - d.mean()))
    freqs = np.fft.rfftfreq(len(d), 1.0 / art.fps)
    high = freqs > 6.0  # co-articulated speech is slower than this
    assert 8.0 < freqs[high][np.argmax(spectrum[high])] < 10.0
    calm = (model.apply(art, "sad")["expr"] - model.apply(art, "neutral")["expr"]).numpy()
    calm_spectrum = np.abs(np.fft.rfft(calm - calm.mean(0), axis=0))[high].max()
    assert spectrum[high].max() > 5 * calm_spectrum  # only fear trembles


def test_speaker_style_changes_articulation_not_timing(model, speech):
    style = SpeakerStyle.sample(np.random.default_rng(4))
    plain, styled = model.apply(speech, "happy"), model.apply(speech, "happy", style=style)
    ratio = styled["jaw_pose"][:, 0] / plain["jaw_pose"][:, 0].clamp_min(1e-6)
    assert float((ratio[plain["jaw_pose"][:, 0] > 0.05] - style.jaw_gain).abs().max()) < 1e-4
    tail = len(SEMANTIC_EXPRESSIONS)
    assert not torch.equal(plain["expr"][:, tail:], styled["expr"][:, tail:])
    assert SpeakerStyle.from_json(style.to_json()) == style


def test_bad_arguments(model, speech):
    with pytest.raises(UnknownEmotionError):
        model.apply(speech, "bored")
    with pytest.raises(ShapeError):
        model.apply(speech, "happy", -0.5)
    with pytest.raises(ShapeError):
        model.apply({"jaw_open": torch.zeros(3)}, "happy")
