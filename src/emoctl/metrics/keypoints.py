"""AKD: average keypoint distance under a :class:`~emoctl.metrics.protocols.LandmarkDetector`.

The paper lists AKD among its geometry-level metrics (section 4.3.1) without a formula; emoctl uses
the usual one: detect ``L`` landmarks on both images with one detector and average the Euclidean
distances, in pixels,

    AKD_i = (1 / L) sum_l || k(pred_i)_l - k(target_i)_l ||_2,

then average over the images where both detections succeeded. An image whose landmarks hold any
NaN (no face found on the prediction or the target) is skipped and counted in
:attr:`AKDResult.failed`, so a method cannot improve its AKD by producing unrecognisable faces
without it showing. :class:`MediapipeFaceMesh` is a ready detector (optional ``mediapipe``).
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
from torch import Tensor

from emoctl.errors import NonFiniteError, ShapeError
from emoctl.metrics._judges import check_pair, judge_tensor
from emoctl.metrics.face_mesh import MediapipeFaceMesh
from emoctl.metrics.protocols import LandmarkDetector

__all__ = ["AKDResult", "MediapipeFaceMesh", "akd"]

_JUDGE = "landmark detector"


@dataclass(frozen=True)
class AKDResult:
    """What :func:`akd` measured.

    - ``per_image``: ``[N]`` AKD of each pair in pixels, NaN where a detection failed;
    - ``mean``: mean over the ``counted`` pairs (NaN when none was);
    - ``counted``/``failed``: pairs used / skipped (``counted + failed == N``).
    """

    per_image: Tensor
    mean: float
    counted: int
    failed: int


def akd(detector: LandmarkDetector, pred: Tensor, target: Tensor) -> AKDResult:
    """Average keypoint distance (pixels) of ``pred`` and ``target`` ``[N, H, W, 3]``; see the module doc."""
    check_pair(pred, target, "akd")
    n = pred.shape[0]
    a = judge_tensor(detector(pred), "akd", _JUDGE, n, (None, 2), finite=False)
    b = judge_tensor(detector(target), "akd", _JUDGE, n, (None, 2), finite=False)
    if a.shape != b.shape:
        raise ShapeError(
            f"akd: the {_JUDGE} returned {tuple(a.shape)} for the prediction but {tuple(b.shape)} for the "
            "target (the landmark count L must not depend on the input)"
        )
    if bool(a.isinf().any() or b.isinf().any()):
        raise NonFiniteError(f"akd: the {_JUDGE} returned infinite coordinates (use NaN rows for no face)")
    ok = ~(a.isnan().flatten(1).any(1) | b.isnan().flatten(1).any(1))
    per_image = torch.full((n,), float("nan"), dtype=a.dtype, device=a.device)
    per_image[ok] = (a[ok] - b[ok]).norm(dim=-1).mean(-1)
    counted = int(ok.sum())
    mean = float(per_image[ok].mean()) if counted else float("nan")
    return AKDResult(per_image=per_image, mean=mean, counted=counted, failed=n - counted)
