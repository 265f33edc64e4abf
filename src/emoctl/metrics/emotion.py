"""Emotion recognisability: top-1 accuracy and confusion of an :class:`~emoctl.metrics.protocols.EmotionClassifier`.

The paper measures emotion recognisability with a user study (sections 4.2.3, 4.3.3); this is its
automatic stand-in: an emotion classifier judges rendered images whose intended emotion is known.

    accuracy = (1 / N) sum_i [argmax_k logits_ik == y_i]
    confusion[t, p] = #{i : y_i = t, argmax_k logits_ik = p}     (rows: true label, columns: predicted)
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import torch
from torch import Tensor

from emoctl.errors import ShapeError, UnknownEmotionError
from emoctl.metrics._judges import check_batch, judge_tensor
from emoctl.metrics.protocols import EmotionClassifier


@dataclass(frozen=True)
class Recognisability:
    """``accuracy`` (top-1, in [0, 1]), ``confusion`` ``[K, K]`` int64 counts (rows: true label), ``vocabulary``."""

    accuracy: float
    confusion: Tensor
    vocabulary: tuple[str, ...]

    def table(self) -> str:
        """The confusion matrix as a markdown table (:func:`confusion_table`)."""
        return confusion_table(self.confusion, self.vocabulary)


def _vocabulary(classifier: EmotionClassifier) -> tuple[str, ...]:
    vocab = getattr(classifier, "vocabulary", None)
    if isinstance(vocab, str) or not isinstance(vocab, Sequence) or not all(isinstance(v, str) for v in vocab):
        raise ShapeError("recognisability: the emotion classifier needs a `vocabulary` attribute: a sequence of K emotion names")
    if len(vocab) == 0 or len(set(vocab)) != len(vocab):
        raise ShapeError(f"recognisability: the classifier's vocabulary must be non-empty, without repeats: {list(vocab)}")
    return tuple(vocab)


def _label_ids(labels: Tensor | Sequence[str] | Sequence[int], vocab: tuple[str, ...], n: int) -> Tensor:
    if isinstance(labels, Tensor):
        if labels.dtype.is_floating_point or labels.dtype.is_complex or labels.dtype == torch.bool:
            raise ShapeError(f"recognisability: labels must be integer ids or emotion names, got a {labels.dtype} tensor")
        ids = labels.detach().cpu().long()
    else:
        items = list(labels)
        if any(isinstance(x, bool) or not isinstance(x, (int, str)) for x in items):
            raise ShapeError("recognisability: labels must be integer ids or emotion names")
        unknown = sorted({x for x in items if isinstance(x, str) and x not in vocab})
        if unknown:
            raise UnknownEmotionError(f"recognisability: labels {unknown} are not in the classifier's vocabulary {list(vocab)}")
        ids = torch.tensor([vocab.index(x) if isinstance(x, str) else x for x in items], dtype=torch.long)
    if ids.shape != (n,):
        raise ShapeError(f"recognisability: labels must be [N] = [{n}] (one per image), got {tuple(ids.shape)}")
    bad = ids[(ids < 0) | (ids >= len(vocab))]
    if bad.numel():
        raise UnknownEmotionError(f"recognisability: label ids {sorted(set(bad.tolist()))} are outside 0..{len(vocab) - 1}")
    return ids


def recognisability(
    classifier: EmotionClassifier, images: Tensor, labels: Tensor | Sequence[str] | Sequence[int]
) -> Recognisability:
    """Top-1 accuracy and ``[K, K]`` confusion of ``classifier`` on ``images [N, H, W, 3]``.

    ``labels``: the intended emotion of each image, ``[N]`` ids into ``classifier.vocabulary`` or
    emotion names from it.
    """
    check_batch(images, "recognisability")
    vocab = _vocabulary(classifier)
    n, k = images.shape[0], len(vocab)
    ids = _label_ids(labels, vocab, n)
    logits = judge_tensor(classifier(images), "recognisability", "emotion classifier", n, (k,))
    predicted = logits.argmax(-1).cpu()
    confusion = torch.bincount(ids * k + predicted, minlength=k * k).reshape(k, k)
    return Recognisability(float((predicted == ids).float().mean()), confusion, vocab)


def confusion_table(matrix: Tensor, vocabulary: Sequence[str]) -> str:
    """A markdown table of a ``[K, K]`` confusion matrix (rows: true label) with each row's recall.

    The first column names the true emotion, then one column per predicted emotion, then
    ``recall`` = diagonal / row total (``-`` for a row with no images).
    """
    names = list(vocabulary)
    k = len(names)
    if not isinstance(matrix, Tensor) or matrix.shape != (k, k):
        got = tuple(matrix.shape) if isinstance(matrix, Tensor) else type(matrix).__name__
        raise ShapeError(f"confusion_table: the matrix must be [K, K] = [{k}, {k}] for {k} names, got {got}")
    rows = ["| true \\ predicted | " + " | ".join(names) + " | recall |", "|---" * (k + 2) + "|"]
    for t, name in enumerate(names):
        counts = matrix[t].tolist()
        total = sum(counts)
        recall = f"{counts[t] / total:.3f}" if total else "-"
        rows.append(f"| {name} | " + " | ".join(f"{c:g}" for c in counts) + f" | {recall} |")
    return "\n".join(rows)
