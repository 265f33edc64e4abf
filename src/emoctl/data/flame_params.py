"""FLAME parameter sequences as plain ``dict[str, torch.Tensor]`` in LAM's naming, and their validator.

A *FLAME sequence* of ``T`` frames holds, per frame (axis-angle rotations):

==============  ============  ==========================================
key             shape         meaning
==============  ============  ==========================================
``expr``        ``[T, 100]``  expression coefficients
``jaw_pose``    ``[T, 3]``    jaw rotation
``rotation``    ``[T, 3]``    global head rotation
``neck_pose``   ``[T, 3]``    neck rotation
``eyes_pose``   ``[T, 6]``    left and right eyeball rotations
``translation`` ``[T, 3]``    global translation
``betas``       ``[300]``     identity shape (optional, no frame axis)
==============  ============  ==========================================
"""

from __future__ import annotations

from collections.abc import Mapping

import numpy as np
import torch

from emoctl.errors import NonFiniteError, ShapeError

#: Per-frame entries of a FLAME sequence and their trailing sizes.
FLAME_FRAME_KEYS: dict[str, int] = {
    "expr": 100,
    "jaw_pose": 3,
    "rotation": 3,
    "neck_pose": 3,
    "eyes_pose": 6,
    "translation": 3,
}
#: Per-identity entries (no frame axis) and their sizes.
FLAME_IDENTITY_KEYS: dict[str, int] = {"betas": 300}

FlameSequence = dict[str, torch.Tensor]


def validate_flame_sequence(
    seq: Mapping[str, torch.Tensor],
    *,
    num_frames: int | None = None,
    name: str = "FLAME sequence",
    require_finite: bool = True,
) -> int:
    """Check a FLAME sequence and return its frame count ``T``.

    Every key of :data:`FLAME_FRAME_KEYS` must be a floating tensor ``[T, D]`` with one common ``T``
    (equal to ``num_frames`` when given); ``betas`` is optional and ``[300]``; other keys are
    refused (a typo such as ``exp`` for ``expr`` would otherwise pass unnoticed). ``name`` is put
    in every message so the caller can say which clip the sequence came from.
    """
    if not isinstance(seq, Mapping):
        raise ShapeError(f"{name}: expected a dict of tensors, got {type(seq).__name__}")
    known = set(FLAME_FRAME_KEYS) | set(FLAME_IDENTITY_KEYS)
    unknown = sorted(set(seq) - known)
    if unknown:
        raise ShapeError(f"{name}: unknown keys {unknown}; a FLAME sequence has {sorted(known)}")
    missing = [k for k in FLAME_FRAME_KEYS if k not in seq]
    if missing:
        raise ShapeError(f"{name}: missing keys {missing} (present: {sorted(seq)})")
    frames = num_frames
    for key, dim in FLAME_FRAME_KEYS.items():
        value = seq[key]
        if not isinstance(value, torch.Tensor) or not value.is_floating_point():
            raise ShapeError(f"{name}[{key!r}]: expected a floating torch.Tensor, got {_describe(value)}")
        if value.dim() != 2 or value.shape[1] != dim:
            expected = f"[{frames if frames is not None else 'T'}, {dim}]"
            raise ShapeError(f"{name}[{key!r}]: expected shape {expected}, got {list(value.shape)}")
        if frames is None:
            frames = value.shape[0]
        elif value.shape[0] != frames:
            raise ShapeError(
                f"{name}[{key!r}]: expected {frames} frames (shape [{frames}, {dim}]), got {list(value.shape)}"
            )
    for key, dim in FLAME_IDENTITY_KEYS.items():
        if key not in seq:
            continue
        value = seq[key]
        if not isinstance(value, torch.Tensor) or not value.is_floating_point() or tuple(value.shape) != (dim,):
            raise ShapeError(f"{name}[{key!r}]: expected a floating tensor of shape [{dim}], got {_describe(value)}")
    if require_finite:
        for key, value in seq.items():
            if not torch.isfinite(value).all():
                raise NonFiniteError(f"{name}[{key!r}] contains NaN or infinite values")
    assert frames is not None
    return int(frames)


def as_flame_sequence(seq: Mapping[str, object], *, name: str = "FLAME sequence") -> FlameSequence:
    """A validated copy of ``seq`` with every entry a contiguous ``float32`` CPU tensor (numpy accepted)."""
    out: FlameSequence = {}
    for key, value in seq.items():
        if isinstance(value, np.ndarray):
            value = torch.from_numpy(np.ascontiguousarray(value))
        if isinstance(value, torch.Tensor) and value.is_floating_point():
            value = value.detach().to(device="cpu", dtype=torch.float32).contiguous()
        out[key] = value  # type: ignore[assignment]
    validate_flame_sequence(out, name=name)
    return out


def slice_flame_sequence(seq: Mapping[str, torch.Tensor], index: slice | torch.Tensor) -> FlameSequence:
    """The frames ``index`` of every per-frame entry; per-identity entries (``betas``) are kept as they are."""
    return {k: (v if k in FLAME_IDENTITY_KEYS else v[index]) for k, v in seq.items()}


def _describe(value: object) -> str:
    if isinstance(value, torch.Tensor):
        return f"tensor of shape {list(value.shape)} and dtype {value.dtype}"
    if isinstance(value, np.ndarray):
        return f"numpy array of shape {list(value.shape)} and dtype {value.dtype} (convert with torch.from_numpy)"
    return type(value).__name__
