"""Shape checks shared by the judge metrics (image batches in, judge outputs back).

Image batches are float ``[N, H, W, 3]`` in [0, 1], channels last (as emoctl renders them); a judge
is any callable following a protocol of :mod:`emoctl.metrics.protocols`, and what it returns is
checked here so that a misbehaving adapter fails with a :class:`~emoctl.errors.ShapeError` naming
the judge, not deep inside a reduction.
"""

from __future__ import annotations

from torch import Tensor

from emoctl.errors import NonFiniteError, ShapeError


def check_batch(images: Tensor, what: str, name: str = "images") -> None:
    """``images`` is a float tensor ``[N, H, W, 3]`` with ``N >= 1``."""
    if not isinstance(images, Tensor) or not images.is_floating_point():
        got = f"a {images.dtype} tensor" if isinstance(images, Tensor) else type(images).__name__
        raise ShapeError(f"{what}: the {name} must be a floating tensor [N, H, W, 3] in [0, 1], got {got}")
    if images.dim() != 4 or images.shape[-1] != 3:
        raise ShapeError(f"{what}: the {name} must be [N, H, W, 3] (channels last, RGB), got {tuple(images.shape)}")
    if images.shape[0] == 0:
        raise ShapeError(f"{what}: the {name} batch is empty (N = 0)")


def check_pair(pred: Tensor, target: Tensor, what: str) -> None:
    """``pred`` and ``target`` are float ``[N, H, W, 3]`` batches of one shape."""
    check_batch(pred, what, "prediction")
    check_batch(target, what, "target")
    if pred.shape != target.shape:
        part = "image count N" if pred.shape[0] != target.shape[0] else "image size (H, W)"
        raise ShapeError(
            f"{what}: prediction {tuple(pred.shape)} and target {tuple(target.shape)} differ in {part}"
        )


def judge_tensor(out: object, what: str, judge: str, n: int, tail: tuple[int | None, ...], finite: bool = True) -> Tensor:
    """The float tensor a judge returned, checked to be ``[n, *tail]`` (``None``: any size >= 1)."""
    shape = "[" + ", ".join(["N", *("?" if t is None else str(t) for t in tail)]) + "]"
    if not isinstance(out, Tensor):
        raise ShapeError(f"{what}: the {judge} must return a tensor {shape}, got {type(out).__name__}")
    ok = out.dim() == 1 + len(tail) and out.shape[0] == n
    ok = ok and all(t is None and s >= 1 or s == t for s, t in zip(out.shape[1:], tail))
    if not ok:
        raise ShapeError(f"{what}: the {judge} returned {tuple(out.shape)}, expected {shape} with N = {n}")
    out = out.detach().float()
    if finite and not bool(out.isfinite().all()):
        raise NonFiniteError(f"{what}: the {judge} returned NaN or infinite values")
    return out
