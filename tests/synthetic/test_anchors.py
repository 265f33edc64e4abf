"""Anchors: every emotion frame-synchronised, shared extras, cameras, styles, determinism."""

import json

import numpy as np
import pytest
import torch
from scipy.signal import find_peaks

from emoctl.data import AnchorClip
from emoctl.emotions import EMOTIONS
from emoctl.errors import DataError
from emoctl.synthetic import SEMANTIC_EXPRESSIONS, anchor_intensities, default_rig, make_anchor, make_anchors


@pytest.fixture(scope="module")
def anchor():
    return make_anchor("anchor-a", seed=21, duration_s=5.0)


def test_anchor_is_an_anchor_clip_with_every_emotion(anchor):
    assert isinstance(anchor, AnchorClip)
    assert list(anchor.emotions) == list(EMOTIONS)
    assert anchor.fps == 30.0 and anchor.num_frames == 150
    json.dumps(anchor.meta)  # JSON-able
    assert anchor.meta["sentence"] and anchor.meta["segments"] and set(anchor.meta["intensity"]) == set(EMOTIONS)
    betas = {e: s["betas"] for e, s in anchor.emotions.items()}
    assert all(torch.equal(b, betas["neutral"]) for b in betas.values())  # one anchor subject


def test_emotions_are_frame_synchronised(anchor):
    """Identical frame counts and timestamps, and identical articulation timing: the jaw opens
    at the same frames (peaks) in every emotion, and the blinks close the eyes in the same frames."""
    counts = {e: s["expr"].shape[0] for e, s in anchor.emotions.items()}
    assert len(set(counts.values())) == 1
    assert bool((anchor.timestamps.diff() > 0).all())
    blink = SEMANTIC_EXPRESSIONS.index("eye_close")
    reference = None
    # prominence relative to the range, at most the articulation's own (neutral) range: surprise and
    # fear add a silent opening (AU26) that is released for m/b/p, which widens their range, not their peaks
    neutral_range = float(np.ptp(anchor.emotions["neutral"]["jaw_pose"][:, 0].numpy()))
    for emotion, seq in anchor.emotions.items():
        jaw = seq["jaw_pose"][:, 0].numpy()
        peaks, _ = find_peaks(jaw, prominence=0.3 * min(float(np.ptp(jaw)), neutral_range))
        lids = seq["expr"][:, blink].double().numpy()  # 1 - (1 - blink) (1 - the emotion's own closing)
        closed = np.round((lids - lids.min()) / (1.0 - lids.min()), 5)  # the blink curve itself
        if reference is None:
            reference = (peaks, closed)
            assert len(peaks) >= 4 and closed.max() > 0.5
            continue
        tolerance = 1 if emotion == "fearful" else 0  # the tremor may move a flat peak by one frame
        matched = [np.min(np.abs(reference[0] - p)) <= tolerance for p in peaks]
        assert len(peaks) >= len(reference[0]) - 1 and np.mean(matched) >= 0.85, (emotion, peaks, reference[0])
        np.testing.assert_allclose(closed, reference[1], atol=2e-5, err_msg=emotion)
        correlation = np.corrcoef(jaw, anchor.emotions["neutral"]["jaw_pose"][:, 0].numpy())[0, 1]
        assert correlation > 0.9, emotion


def test_emotions_differ(anchor):
    neutral = anchor.emotions["neutral"]["expr"]
    for emotion in EMOTIONS[1:]:
        assert float((anchor.emotions[emotion]["expr"] - neutral).abs().max()) > 0.3, emotion


def test_default_cameras_frame_the_head(anchor):
    rig = anchor.cameras
    assert rig.num_views == 3 and (rig.width, rig.height) == (512, 512)
    centres = rig.c2w[:, :3, 3]
    yaws = torch.rad2deg(torch.atan2(centres[:, 0], centres[:, 2] - 0.01))
    torch.testing.assert_close(yaws, torch.tensor([0.0, 30.0, -30.0]), atol=1e-3, rtol=0)
    distance = (centres - torch.tensor([0.0, 0.0, 0.01])).norm(dim=1)
    assert 0.4 < float(distance.min()) and float(distance.max()) < 1.0
    # the head's extent projects inside the image in every view
    points = torch.tensor([[0.0, 0.12, 0.0], [0.0, -0.09, 0.08], [0.085, 0.0, 0.0], [-0.085, 0.0, 0.0], [0.0, 0.0, 0.11]])
    w2c = torch.linalg.inv(rig.c2w)
    cam = torch.einsum("vij,pj->vpi", w2c[:, :3, :3], points) + w2c[:, None, :3, 3]
    pix = torch.einsum("vij,vpj->vpi", rig.K, cam)
    uv = pix[..., :2] / pix[..., 2:]
    assert float(uv.min()) > 0.05 * 512 and float(uv.max()) < 0.95 * 512
    assert default_rig(1).num_views == 1 and default_rig(5).num_views == 5


def test_deterministic_and_seed_dependent():
    a, b = make_anchor("x", 3, num_frames=20), make_anchor("x", 3, num_frames=20)
    c = make_anchor("x", 4, num_frames=20)
    for e in EMOTIONS:
        for k in a.emotions[e]:
            assert torch.equal(a.emotions[e][k], b.emotions[e][k])
    assert a.meta == b.meta and not torch.equal(a.emotions["happy"]["expr"], c.emotions["happy"]["expr"])


def test_intensity_style(anchor):
    intensities = anchor_intensities(21)
    assert intensities["neutral"] == 0.0 and all(0.75 <= intensities[e] <= 1.25 for e in EMOTIONS[1:])
    assert anchor.meta["intensity"] == intensities
    strong = anchor_intensities(5, (2.0, 2.0))
    assert all(strong[e] == 2.0 for e in EMOTIONS[1:])
    with pytest.raises(DataError):
        anchor_intensities(1, (1.0, 0.5))


def test_make_anchors():
    anchors = make_anchors(2, seed=9, num_frames=10)
    assert [a.anchor_id for a in anchors] == ["anchor-000", "anchor-001"]
    assert anchors[0].meta["seed"] != anchors[1].meta["seed"]
    with pytest.raises(DataError):
        make_anchors(0)
    with pytest.raises(DataError):
        make_anchor("a", -1, num_frames=3)
