"""Image metrics and judge-based metrics of evaluation (layer 15); see ``docs/metrics.md``.

- :mod:`~emoctl.metrics.image`: per-image ``psnr`` / ``ssim`` of ``[..., H, W, 3]`` images;
- :mod:`~emoctl.metrics.lpips`: :class:`LPIPS` from weight files on disk (``LPIPS.from_files``);
- :mod:`~emoctl.metrics.protocols`: the judges (:class:`IdentityEncoder`,
  :class:`ExpressionRegressor`, :class:`LandmarkDetector`, :class:`EmotionClassifier`) any model
  can follow, and the metrics over them: :func:`csim` (identity), :func:`aed` / :func:`apd`
  (expression / head pose), :func:`akd` (landmarks; :class:`MediapipeFaceMesh` with the optional
  mediapipe), :func:`recognisability` and :func:`confusion_table` (emotion classifier).

All work on any renders ``[N, H, W, 3]`` in [0, 1], not only emoctl's.
"""

from emoctl.metrics.emotion import Recognisability, confusion_table, recognisability
from emoctl.metrics.expression import aed, aed_apd, apd
from emoctl.metrics.identity import csim
from emoctl.metrics.image import PSNR_CAP_DB, psnr, ssim
from emoctl.metrics.keypoints import AKDResult, MediapipeFaceMesh, akd
from emoctl.metrics.lpips import LPIPS
from emoctl.metrics.protocols import EmotionClassifier, ExpressionRegressor, IdentityEncoder, LandmarkDetector

__all__ = [
    "AKDResult",
    "EmotionClassifier",
    "ExpressionRegressor",
    "IdentityEncoder",
    "LPIPS",
    "LandmarkDetector",
    "MediapipeFaceMesh",
    "PSNR_CAP_DB",
    "Recognisability",
    "aed",
    "aed_apd",
    "akd",
    "apd",
    "confusion_table",
    "csim",
    "psnr",
    "recognisability",
    "ssim",
]
