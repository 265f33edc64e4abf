"""CSIM, AED and APD over toy judges; the protocols; shape errors of every judge metric."""

import re

import pytest
import torch

from emoctl.errors import NonFiniteError, ShapeError
from emoctl.metrics import (
    EmotionClassifier,
    ExpressionRegressor,
    IdentityEncoder,
    LandmarkDetector,
    aed,
    aed_apd,
    akd,
    apd,
    csim,
    recognisability,
)


def test_protocols_accept_the_toys(toys):
    assert isinstance(toys["encoder"], IdentityEncoder)
    assert isinstance(toys["regressor"], ExpressionRegressor)
    assert isinstance(toys["detector"], LandmarkDetector)
    assert isinstance(toys["classifier"](torch.zeros(1, 3)), EmotionClassifier)
    assert not isinstance(toys["encoder"], EmotionClassifier)  # no vocabulary
    assert not isinstance(3, IdentityEncoder)


def test_csim_identical_is_one_and_matches_cosine(toys, images):
    pred, target = images
    enc = toys["encoder"]
    assert torch.allclose(csim(enc, pred, pred), torch.ones(3), atol=1e-6)
    a, b = pred.flatten(1) @ enc.proj, target.flatten(1) @ enc.proj
    expected = (a * b).sum(1) / (a.norm(dim=1) * b.norm(dim=1))
    got = csim(enc, pred, target)
    assert got.shape == (3,) and torch.allclose(got, expected, atol=1e-6)
    assert csim(enc, pred, -pred).max() < -0.999  # opposite embeddings (linear encoder)


def test_aed_apd_zero_for_identical_and_hand_computed(toys, images):
    pred, target = images
    reg = toys["regressor"]
    assert torch.equal(aed(reg, pred, pred), torch.zeros(3)) and torch.equal(apd(reg, pred, pred), torch.zeros(3))
    # hand computation for image 0: 4 quadrant red means + 3 mean colours, 3 top-half mean colours
    p, t = pred[0], target[0]
    quads = lambda x: [x[:4, :4, 0].mean(), x[:4, 4:, 0].mean(), x[4:, :4, 0].mean(), x[4:, 4:, 0].mean()]  # noqa: E731
    diffs = [abs(float(u - v)) for u, v in zip(quads(p), quads(t))]
    diffs += [abs(float(u - v)) for u, v in zip(p.mean((0, 1)), t.mean((0, 1)))]
    assert float(aed(reg, pred, target)[0]) == pytest.approx(sum(diffs) / 7, abs=1e-6)
    pose = sum(abs(float(u - v)) for u, v in zip(p[:4].mean((0, 1)), t[:4].mean((0, 1)))) / 3
    assert float(apd(reg, pred, target)[0]) == pytest.approx(pose, abs=1e-6)
    both = aed_apd(reg, pred, target)
    assert torch.equal(both[0], aed(reg, pred, target)) and torch.equal(both[1], apd(reg, pred, target))


@pytest.mark.parametrize("metric", ["csim", "aed", "apd", "akd"])
@pytest.mark.parametrize(
    "shapes, words",
    [
        (((3, 8, 8, 3), (2, 8, 8, 3)), "image count N"),
        (((3, 8, 8, 3), (3, 8, 6, 3)), "image size"),
        (((3, 8, 8, 3), (3, 8, 8, 4)), "[N, H, W, 3]"),
        (((8, 8, 3), (8, 8, 3)), "[N, H, W, 3]"),
        (((0, 8, 8, 3), (0, 8, 8, 3)), "empty"),
    ],
)
def test_pair_metrics_reject_mismatched_shapes(toys, metric, shapes, words):
    fn, judge = {"csim": (csim, "encoder"), "aed": (aed, "regressor"), "apd": (apd, "regressor"), "akd": (akd, "detector")}[metric]
    with pytest.raises(ShapeError, match=re.escape(words)):
        fn(toys[judge], torch.rand(shapes[0]), torch.rand(shapes[1]))


def test_integer_images_are_refused(toys):
    with pytest.raises(ShapeError, match="floating"):
        csim(toys["encoder"], torch.zeros(1, 8, 8, 3, dtype=torch.uint8), torch.zeros(1, 8, 8, 3))


def test_bad_judge_outputs_name_the_judge(images):
    pred, target = images
    with pytest.raises(ShapeError, match=r"identity encoder returned \(3,\)"):
        csim(lambda x: x.flatten(1).sum(1), pred, target)
    with pytest.raises(NonFiniteError, match="identity encoder"):
        csim(lambda x: torch.full((x.shape[0], 4), float("nan")), pred, target)
    with pytest.raises(ShapeError, match="lacks \\['pose'\\]"):
        apd(lambda x: {"expr": torch.zeros(x.shape[0], 5)}, pred, target)
    with pytest.raises(ShapeError, match="must return a mapping"):
        aed(lambda x: torch.zeros(x.shape[0], 5), pred, target)
    with pytest.raises(ShapeError, match="'jaw_pose'"):
        aed(lambda x: {"expr": torch.zeros(x.shape[0], 5), "jaw_pose": torch.zeros(x.shape[0], 6)}, pred, target)
    with pytest.raises(ShapeError, match="landmark detector returned"):
        akd(lambda x: torch.zeros(x.shape[0], 5, 3), pred, target)
    calls = iter([torch.zeros(3, 4), torch.zeros(3, 5)])
    with pytest.raises(ShapeError, match="must not depend on the input"):
        csim(lambda x: next(calls), pred, target)


def test_recognisability_rejects_bad_images(toys):
    clf = toys["classifier"](torch.zeros(2, 3))
    with pytest.raises(ShapeError, match=r"\[N, H, W, 3\]"):
        recognisability(clf, torch.rand(2, 3, 8, 8), [0, 1])
