"""The judges the image metrics call: small :class:`typing.Protocol` s any model can follow.

Every judge takes a float image batch ``[N, H, W, 3]`` in [0, 1] (RGB, channels last, as emoctl
renders them; an adapter converts to its model's own layout, size and normalisation) and returns
tensors whose first axis is ``N``. The metrics check what comes back and raise
:class:`~emoctl.errors.ShapeError` naming the judge when it does not fit.

All protocols are ``runtime_checkable``: ``isinstance(x, IdentityEncoder)`` is true for any
callable (an ``nn.Module`` or a plain function), and ``isinstance(x, EmotionClassifier)`` also needs
a ``vocabulary`` attribute. See ``docs/metrics.md`` for adapters of ArcFace, EMOCA/DECA, mediapipe
and an emotion classifier.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Protocol, runtime_checkable

from torch import Tensor


@runtime_checkable
class IdentityEncoder(Protocol):
    """Face-identity embedding (ArcFace and kin): ``images [N, H, W, 3]`` → ``[N, D]``.

    Used by :func:`emoctl.metrics.csim`; the embeddings need not be normalised.
    """

    def __call__(self, images: Tensor) -> Tensor: ...


@runtime_checkable
class ExpressionRegressor(Protocol):
    """FLAME-style coefficient regressor (EMOCA, DECA, ...): ``images [N, H, W, 3]`` → a mapping

    - ``"expr"``: ``[N, E]`` expression coefficients,
    - ``"jaw_pose"``: ``[N, 3]`` jaw rotation (axis-angle, radians),
    - ``"pose"``: ``[N, 3]`` head (global) rotation (axis-angle, radians).

    Used by :func:`emoctl.metrics.aed` and :func:`emoctl.metrics.apd`; other keys are ignored.
    """

    def __call__(self, images: Tensor) -> Mapping[str, Tensor]: ...


@runtime_checkable
class LandmarkDetector(Protocol):
    """Face landmarks: ``images [N, H, W, 3]`` → ``[N, L, 2]`` pixel coordinates ``(x, y)``.

    An image with no face detected gets a row of NaN (``[L, 2]`` all NaN). ``L`` is fixed per
    detector (68 for dlib/FAN, 468 for mediapipe's face mesh). Used by :func:`emoctl.metrics.akd`.
    """

    def __call__(self, images: Tensor) -> Tensor: ...


@runtime_checkable
class EmotionClassifier(Protocol):
    """Emotion recognition: ``images [N, H, W, 3]`` → logits ``[N, K]``.

    ``vocabulary`` lists the ``K`` emotion names in logit order. Used by
    :func:`emoctl.metrics.recognisability`.
    """

    vocabulary: Sequence[str]

    def __call__(self, images: Tensor) -> Tensor: ...
