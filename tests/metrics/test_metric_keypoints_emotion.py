"""AKD (skipped and counted failed detections) and emotion recognisability / confusion tables."""

import math

import pytest
import torch

from emoctl.errors import NonFiniteError, ShapeError, UnknownEmotionError
from emoctl.metrics import AKDResult, akd, confusion_table, recognisability


def spots(red, green, size=10, dark=False):
    """One image with a bright red pixel at ``red`` (x, y) and a bright green one at ``green``."""
    img = torch.full((size, size, 3), 0.1)
    if not dark:
        img[red[1], red[0], 0] = 1.0
        img[green[1], green[0], 1] = 0.9
    return img


def test_akd_identical_is_zero(toys):
    batch = torch.stack([spots((1, 2), (3, 4)), spots((5, 5), (0, 9))])
    res = akd(toys["detector"], batch, batch)
    assert isinstance(res, AKDResult) and res.mean == 0.0 and (res.counted, res.failed) == (2, 0)


def test_akd_distances_skip_and_count_failed_detections(toys):
    pred = torch.stack([spots((0, 0), (0, 0)), spots((1, 1), (2, 2)), spots((0, 0), (0, 0), dark=True), spots((4, 4), (4, 4))])
    target = torch.stack([spots((3, 4), (0, 2)), spots((1, 1), (2, 2)), spots((5, 5), (5, 5)), spots((0, 0), (0, 0), dark=True)])
    res = akd(toys["detector"], pred, target)
    # image 0: red moved by (3, 4) -> 5 px, green by (0, 2) -> 2 px; image 1: 0; images 2, 3: no face on one side
    assert res.per_image[:2].tolist() == pytest.approx([3.5, 0.0])
    assert math.isnan(res.per_image[2]) and math.isnan(res.per_image[3])
    assert (res.counted, res.failed) == (2, 2) and res.mean == pytest.approx(1.75)


def test_akd_all_failed_gives_nan_mean(toys):
    dark = torch.stack([spots((0, 0), (0, 0), dark=True)] * 2)
    res = akd(toys["detector"], dark, dark)
    assert math.isnan(res.mean) and (res.counted, res.failed) == (0, 2)


def test_akd_refuses_infinite_landmarks():
    x = torch.rand(1, 8, 8, 3)
    with pytest.raises(NonFiniteError, match="infinite"):
        akd(lambda im: torch.full((im.shape[0], 3, 2), float("inf")), x, x)
    lengths = iter([3, 4])
    with pytest.raises(ShapeError, match="landmark count L"):
        akd(lambda im: torch.zeros(im.shape[0], next(lengths), 2), x, x)


def test_recognisability_accuracy_and_confusion(toys):
    # predicted (argmax): happy, happy, sad, neutral, sad
    logits = torch.tensor([[0, 5, 1], [0, 2, 1], [0, 0, 3], [9, 1, 1], [1, 0, 2]], dtype=torch.float)
    clf = toys["classifier"](logits)
    res = recognisability(clf, torch.rand(5, 4, 4, 3), ["happy", "sad", "sad", "neutral", "happy"])
    assert res.accuracy == pytest.approx(3 / 5)
    assert res.confusion.tolist() == [[1, 0, 0], [0, 1, 1], [0, 1, 1]]
    assert res.vocabulary == ("neutral", "happy", "sad")
    same = recognisability(clf, torch.rand(5, 4, 4, 3), torch.tensor([1, 2, 2, 0, 1]))
    assert torch.equal(same.confusion, res.confusion)


def test_confusion_table_contents(toys):
    table = confusion_table(torch.tensor([[1, 0, 0], [0, 1, 1], [0, 0, 0]]), ("neutral", "happy", "sad"))
    lines = table.splitlines()
    assert lines[0] == "| true \\ predicted | neutral | happy | sad | recall |"
    assert lines[1] == "|---|---|---|---|---|"
    assert lines[2] == "| neutral | 1 | 0 | 0 | 1.000 |"
    assert lines[3] == "| happy | 0 | 1 | 1 | 0.500 |"
    assert lines[4] == "| sad | 0 | 0 | 0 | - |"
    with pytest.raises(ShapeError, match=r"\[K, K\] = \[2, 2\]"):
        confusion_table(torch.zeros(3, 3), ("a", "b"))


def test_recognisability_label_and_classifier_errors(toys):
    clf = toys["classifier"](torch.zeros(2, 3))
    x = torch.rand(2, 4, 4, 3)
    with pytest.raises(UnknownEmotionError, match="angry"):
        recognisability(clf, x, ["angry", "sad"])
    with pytest.raises(UnknownEmotionError, match="outside 0..2"):
        recognisability(clf, x, torch.tensor([0, 3]))
    with pytest.raises(ShapeError, match=r"\[N\] = \[2\]"):
        recognisability(clf, x, [0, 1, 2])
    with pytest.raises(ShapeError, match="integer ids or emotion names"):
        recognisability(clf, x, torch.tensor([0.0, 1.0]))
    with pytest.raises(ShapeError, match=r"returned \(2, 4\)"):
        recognisability(toys["classifier"](torch.zeros(2, 4)), x, [0, 1])

    def no_vocab(images):
        return torch.zeros(images.shape[0], 3)

    with pytest.raises(ShapeError, match="vocabulary"):
        recognisability(no_vocab, x, [0, 1])
