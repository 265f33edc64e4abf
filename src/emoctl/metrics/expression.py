"""AED and APD: expression and head-pose distances under an :class:`~emoctl.metrics.protocols.ExpressionRegressor`.

The paper (sections 4.2.1 and 4.3.2) reports AED ("Average Expression Distance") and APD (average
pose distance) for geometric driving accuracy without spelling out a formula; emoctl follows the
reenactment literature it compares with (Portrait-4D, GAGAvatar, LAM): regress FLAME coefficients
from both images with one fixed regressor (EMOCA/DECA there) and take the mean absolute difference

    AED_i = mean_k | e(pred_i)_k - e(target_i)_k |,   e = [expr (E), jaw_pose (3)]    (E + 3 numbers)
    APD_i = mean_k | p(pred_i)_k - p(target_i)_k |,   p = head pose (3, axis-angle)

and average ``AED_i`` / ``APD_i`` over the test set. Values depend on the regressor and its
coefficient scale, so only numbers from the same regressor are comparable.
"""

from __future__ import annotations

from collections.abc import Mapping

from torch import Tensor

from emoctl.errors import ShapeError
from emoctl.metrics._judges import check_pair, judge_tensor
from emoctl.metrics.protocols import ExpressionRegressor

_JUDGE = "expression regressor"


def _regress(regressor: ExpressionRegressor, images: Tensor, what: str, keys: tuple[str, ...]) -> dict[str, Tensor]:
    out = regressor(images)
    if not isinstance(out, Mapping):
        raise ShapeError(f"{what}: the {_JUDGE} must return a mapping with {list(keys)}, got {type(out).__name__}")
    missing = [k for k in keys if k not in out]
    if missing:
        raise ShapeError(f"{what}: the {_JUDGE}'s output lacks {missing} (has {sorted(map(str, out))})")
    n = images.shape[0]
    tails = {"expr": (None,), "jaw_pose": (3,), "pose": (3,)}
    return {k: judge_tensor(out[k], what, f"{_JUDGE}'s {k!r}", n, tails[k]) for k in keys}


def _distances(regressor: ExpressionRegressor, pred: Tensor, target: Tensor, what: str, keys: tuple[str, ...]) -> dict[str, Tensor]:
    check_pair(pred, target, what)
    a = _regress(regressor, pred, what, keys)
    b = _regress(regressor, target, what, keys)
    if "expr" in keys and a["expr"].shape != b["expr"].shape:
        raise ShapeError(
            f"{what}: the {_JUDGE} returned 'expr' {tuple(a['expr'].shape)} for the prediction but "
            f"{tuple(b['expr'].shape)} for the target"
        )
    out = {}
    if "expr" in keys:
        diff = (a["expr"] - b["expr"]).abs(), (a["jaw_pose"] - b["jaw_pose"]).abs()
        out["aed"] = sum(d.sum(-1) for d in diff) / sum(d.shape[-1] for d in diff)
    if "pose" in keys:
        out["apd"] = (a["pose"] - b["pose"]).abs().mean(-1)
    return out


def aed(regressor: ExpressionRegressor, pred: Tensor, target: Tensor) -> Tensor:
    """``[N]`` mean absolute difference of the regressed ``[expr, jaw_pose]`` of ``pred`` and ``target``.

    ``pred``/``target``: ``[N, H, W, 3]``; ``.mean()`` gives the paper's AED.
    """
    return _distances(regressor, pred, target, "aed", ("expr", "jaw_pose"))["aed"]


def apd(regressor: ExpressionRegressor, pred: Tensor, target: Tensor) -> Tensor:
    """``[N]`` mean absolute difference of the regressed head ``pose`` (3 numbers) of ``pred`` and ``target``."""
    return _distances(regressor, pred, target, "apd", ("pose",))["apd"]


def aed_apd(regressor: ExpressionRegressor, pred: Tensor, target: Tensor) -> tuple[Tensor, Tensor]:
    """``(aed [N], apd [N])`` from one regression of each batch (half the regressor calls of both)."""
    out = _distances(regressor, pred, target, "aed_apd", ("expr", "jaw_pose", "pose"))
    return out["aed"], out["apd"]
