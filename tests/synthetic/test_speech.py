"""The viseme timing generator: shapes, ranges, timing statistics, extras, determinism."""

import numpy as np
import pytest
import torch

from emoctl.errors import DataError
from emoctl.synthetic import VISEMES, generate_speech, still_articulation


def test_shapes_and_ranges(speech):
    T = speech.num_frames
    assert T == 180 and speech.fps == 30.0
    torch.testing.assert_close(speech.timestamps, torch.arange(T, dtype=torch.float64) / 30.0)
    for name in ("jaw_open", "rounding", "spreading", "closure", "blink"):
        curve = getattr(speech, name)
        assert curve.shape == (T,) and curve.dtype == torch.float32, name
        assert float(curve.min()) >= 0.0 and float(curve.max()) <= 1.0, name
    assert speech.curves().shape == (T, 4)
    assert speech.head_rotation.shape == (T, 3) and speech.neck_pose.shape == (T, 3) and speech.gaze.shape == (T, 2)
    # it is speech: the jaw opens and closes many times, lips round, spread and close
    jaw = speech.jaw_open.numpy()
    crossings = np.count_nonzero(np.diff((jaw > 0.3).astype(int)) == 1)
    assert crossings >= 6
    assert float(speech.rounding.max()) > 0.4 and float(speech.spreading.max()) > 0.4 and float(speech.closure.max()) > 0.6
    # small, smooth head motion (a few degrees, no jumps between frames)
    assert 0.005 < float(speech.head_rotation.abs().max()) < 0.25
    assert float(speech.head_rotation.diff(dim=0).abs().max()) < 0.02


def test_viseme_timing_statistics():
    lengths, pauses = [], []
    for seed in range(5):
        art = generate_speech(seed, 8.0)
        for viseme, start, end in art.segments:
            assert viseme in VISEMES
            (pauses if viseme == "rest" else lengths).append(end - start)
        assert art.segments[0][0] == "rest"  # silence before the sentence
        starts = [s for _, s, _ in art.segments]
        assert starts == sorted(starts)
    lengths = np.array(lengths)
    assert lengths.min() >= 0.06 - 1e-9 and lengths.max() <= 0.22 + 1e-9  # 60-220 ms
    assert 0.08 < float(np.median(lengths)) < 0.17
    assert any(p >= 0.15 for p in pauses[1:])  # pauses between phrases


def test_blinks_close_the_eyes_at_listed_times():
    art = generate_speech(3, 10.0)
    assert len(art.blinks) >= 2  # every ~2-6 s
    times = art.timestamps.numpy()
    blink = art.blink.numpy()
    for start, length in art.blinks:
        inside = (times >= start) & (times <= start + length)
        if inside.any():
            assert blink[inside].max() > 0.5
    outside = np.ones_like(blink, dtype=bool)
    for start, length in art.blinks:
        outside &= ~((times >= start - 1e-9) & (times <= start + length + 1e-9))
    assert float(np.abs(blink[outside]).max()) == 0.0


def test_co_articulation_is_smooth():
    """Visemes blend into their neighbours: no frame-to-frame jump of a full target."""
    art = generate_speech(5, 6.0, fps=60.0)
    steps = art.curves().diff(dim=0).abs().max(dim=0).values
    assert float(steps.max()) < 0.35
    sharp = generate_speech(5, 6.0, fps=60.0, coarticulation_s=0.005).curves().diff(dim=0).abs().max()
    assert float(sharp) > float(steps.max())  # the kernel width is what smooths


def test_deterministic_from_seed():
    a, b, c = generate_speech(11, 3.0), generate_speech(11, 3.0), generate_speech(12, 3.0)
    for name in ("jaw_open", "rounding", "spreading", "closure", "blink", "head_rotation", "neck_pose", "gaze"):
        assert torch.equal(getattr(a, name), getattr(b, name)), name
    assert a.segments == b.segments and a.meta() == b.meta()
    assert not torch.equal(a.jaw_open, c.jaw_open)


def test_num_frames_and_duration_agree():
    assert generate_speech(1, num_frames=37, fps=25.0).num_frames == 37
    assert generate_speech(1, 2.0, fps=25.0).num_frames == 50
    assert generate_speech(1, 2.0, head_motion=0.0).head_rotation.abs().max() == 0


def test_still_articulation():
    art = still_articulation(3)
    assert art.num_frames == 3 and float(art.curves().abs().max()) == 0.0 and float(art.blink.max()) == 0.0


@pytest.mark.parametrize(
    "kwargs",
    [
        {"seed": -1, "duration_s": 1.0},
        {"seed": 1},
        {"seed": 1, "duration_s": 1.0, "num_frames": 30},
        {"seed": 1, "duration_s": 0.0},
        {"seed": 1, "num_frames": 0},
        {"seed": 1, "duration_s": 1.0, "fps": 0},
    ],
)
def test_bad_arguments(kwargs):
    with pytest.raises(DataError):
        generate_speech(**kwargs)
