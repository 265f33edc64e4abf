"""Layer 1: the FLAME parameter schema, the one definition of LAM's ``flame_params`` keys and sizes.

A FLAME parameter dict (LAM's ``flame_params``; a *FLAME sequence* in the dataset) holds, per frame
(rotations are axis-angle, ``E`` = :attr:`FlameSchema.expression_dim`, ``S`` = :attr:`FlameSchema.shape_dim`):

==============  ============  ==========================================
key             shape         meaning
==============  ============  ==========================================
``expr``        ``[T, E]``    expression coefficients (FLAME: E = 100)
``jaw_pose``    ``[T, 3]``    jaw rotation
``rotation``    ``[T, 3]``    global head rotation
``neck_pose``   ``[T, 3]``    neck rotation
``eyes_pose``   ``[T, 6]``    left and right eyeball rotations
``translation`` ``[T, 3]``    global translation
``betas``       ``[S]``       identity shape (FLAME: S = 300; no frame axis)
==============  ============  ==========================================

The dataset stores sequences without a batch axis (``[T, D]``, checked by
:meth:`FlameSchema.validate_sequence`); backbones and the FLAME layer take a batch axis and an
optional frame axis (``[B, (T,) D]``, ``betas [B, S]``; :meth:`FlameSchema.validate_batch`). The
geometry modulator works on expression and jaw pose packed into one vector per frame,
``[B, T, E + 3]`` (:func:`pack_expression_jaw` / :func:`unpack_expression_jaw`).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any, NamedTuple

import numpy as np
import torch

from emoctl.errors import NonFiniteError, ShapeError

#: Per-frame sizes that do not depend on the model (axis-angle poses and the translation).
FIXED_SIZES: Mapping[str, int] = {"jaw_pose": 3, "rotation": 3, "neck_pose": 3, "eyes_pose": 6, "translation": 3}
#: Per-frame keys in LAM's order (``expr`` has the schema's ``expression_dim`` values).
FRAME_KEYS: tuple[str, ...] = ("expr", *FIXED_SIZES)
#: Per-identity keys (no frame axis; ``betas`` has the schema's ``shape_dim`` values).
IDENTITY_KEYS: tuple[str, ...] = ("betas",)
#: The pose entries in the order of FLAME's joints: global, neck, jaw, then left eye
#: (``eyes_pose[..., :3]``) and right eye (``eyes_pose[..., 3:]``).
POSE_KEYS: tuple[str, ...] = ("rotation", "neck_pose", "jaw_pose", "eyes_pose")
#: Values per frame of the jaw pose, the last part of a packed expression + jaw vector.
JAW_DIM = FIXED_SIZES["jaw_pose"]


class FlameBatch(NamedTuple):
    """What :meth:`FlameSchema.validate_batch` found: the checked tensors, ``B`` and ``T`` (None when
    no entry had a frame axis, or when the dict was empty)."""

    tensors: dict[str, torch.Tensor]
    batch: int | None
    frames: int | None


@dataclass(frozen=True)
class FlameSchema:
    """The keys and sizes of a FLAME parameter dict, for ``expression_dim`` expression and
    ``shape_dim`` shape coefficients (FLAME 2020/2023: 100 and 300, :data:`FLAME_SCHEMA`)."""

    expression_dim: int = 100
    shape_dim: int = 300

    def __post_init__(self) -> None:
        for field in ("expression_dim", "shape_dim"):
            value = getattr(self, field)
            if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or value < 0:
                raise ShapeError(f"FlameSchema.{field} must be an int >= 0, got {value!r}")
            object.__setattr__(self, field, int(value))

    def frame_sizes(self) -> dict[str, int]:
        """Per-frame keys in LAM's order -> values per frame (a new dict)."""
        return {"expr": self.expression_dim, **FIXED_SIZES}

    def identity_sizes(self) -> dict[str, int]:
        """Per-identity keys -> sizes (a new dict)."""
        return {"betas": self.shape_dim}

    def sizes(self) -> dict[str, int]:
        """Every key -> its trailing size: the per-frame keys, then the per-identity ones."""
        return {**self.frame_sizes(), **self.identity_sizes()}

    @property
    def packed_dim(self) -> int:
        """Values per frame of the packed expression + jaw vector (``E + 3``)."""
        return self.expression_dim + JAW_DIM

    # ------------------------------------------------------------------ [T, D] sequences
    def validate_sequence(
        self,
        seq: Mapping[str, torch.Tensor],
        *,
        num_frames: int | None = None,
        name: str = "FLAME sequence",
        require_finite: bool = True,
    ) -> int:
        """Check a FLAME sequence without a batch axis and return its frame count ``T``.

        Every per-frame key must be a floating tensor ``[T, D]`` with one common ``T`` (equal to
        ``num_frames`` when given); ``betas`` is optional and ``[S]``; other keys are refused (a
        typo such as ``exp`` for ``expr`` would otherwise pass unnoticed). ``name`` is put in every
        message so the caller can say where the sequence came from.
        """
        frame_sizes, identity_sizes = self.frame_sizes(), self.identity_sizes()
        _check_keys(seq, name, {**frame_sizes, **identity_sizes}, frame_sizes)
        frames = num_frames
        for key, dim in frame_sizes.items():
            value = _floating(seq[key], f"{name}[{key!r}]")
            if value.dim() != 2 or value.shape[1] != dim:
                expected = f"[{frames if frames is not None else 'T'}, {dim}]"
                raise ShapeError(f"{name}[{key!r}]: expected shape {expected}, got {list(value.shape)}")
            if frames is None:
                frames = value.shape[0]
            elif value.shape[0] != frames:
                raise ShapeError(
                    f"{name}[{key!r}]: expected {frames} frames (shape [{frames}, {dim}]), got {list(value.shape)}"
                )
        for key, dim in identity_sizes.items():
            value = seq.get(key)
            if key in seq and (not _is_floating(value) or tuple(value.shape) != (dim,)):
                raise ShapeError(f"{name}[{key!r}]: expected a floating tensor of shape [{dim}], got {_describe(value)}")
        if require_finite:
            for key, value in seq.items():
                _check_finite(value, f"{name}[{key!r}]")
        assert frames is not None
        return int(frames)

    # ------------------------------------------------------------------ [B, (T,) D] dicts
    def validate_batch(
        self,
        params: Mapping[str, Any],
        *,
        name: str = "FLAME parameters",
        keys: Iterable[str] | None = None,
        required: Iterable[str] = (),
        padded: Iterable[str] = (),
        finite: bool = True,
        dtype: torch.dtype | None = None,
        device: torch.device | str | None = None,
    ) -> FlameBatch:
        """Check a FLAME parameter dict with a batch axis: ``betas [B, S]``, per-frame entries
        ``[B, D]`` or ``[B, T, D]``, one ``B`` and one ``T`` throughout.

        ``keys``: the entries to check (others are passed over, not returned); by default every
        entry, and keys outside the schema are refused. Entries that are ``None`` count as absent;
        ``required`` ones must be present. ``padded`` keys may have fewer values than their size
        (the caller zero-pads them). Every entry must be a floating ``torch.Tensor`` and is returned
        as is; with ``dtype``, array-likes and integer tensors are accepted too and every entry is
        converted to ``dtype`` on ``device`` before the size and finiteness checks.
        """
        sizes = self.sizes()
        _check_keys(params, name, sizes if keys is None else None, required)
        padded = frozenset(padded)
        tensors: dict[str, torch.Tensor] = {}
        batch: int | None = None
        frames: int | None = None
        for key in params if keys is None else [k for k in keys if k in params]:
            value, label, size = params[key], f"{name}[{key!r}]", sizes[key]
            if value is None:
                continue
            if dtype is None:
                t = _floating(value, label)
            else:
                t = torch.as_tensor(value)
                if not (t.dtype.is_floating_point or t.dtype in (torch.int32, torch.int64)):
                    raise ShapeError(f"{label}: expected a float tensor, got {t.dtype}")
                t = t.to(device=device, dtype=dtype)
            identity = key in IDENTITY_KEYS
            if t.dim() not in ((2,) if identity else (2, 3)):
                expected = f"[B, {size}]" if identity else f"[B, {size}] or [B, T, {size}]"
                raise ShapeError(f"{label}: expected shape {expected}, got {list(t.shape)}")
            width = t.shape[-1]
            if key in padded:
                if width > size:
                    raise ShapeError(f"{label}: {width} coefficients, expected at most {size}")
            elif width != size:
                raise ShapeError(f"{label}: expected {size} values per frame, got shape {list(t.shape)}")
            if finite:
                _check_finite(t, label)
            if batch is None:
                batch = t.shape[0]
            elif t.shape[0] != batch:
                raise ShapeError(f"{label}: batch size {t.shape[0]}, the other entries have {batch}")
            if t.dim() == 3:
                if frames is None:
                    frames = t.shape[1]
                elif t.shape[1] != frames:
                    raise ShapeError(f"{label}: {t.shape[1]} frames, the other entries have {frames}")
            tensors[key] = t
        return FlameBatch(tensors, batch, frames)

    # ------------------------------------------------------------------ expression + jaw packing
    def pack_expression_jaw(self, flame_params: Mapping[str, torch.Tensor]) -> tuple[torch.Tensor, bool]:
        """``flame_params["expr"]`` and ``["jaw_pose"]`` as one ``[B, T, E + 3]`` tensor.

        Both may carry a frame axis (``[B, T, E]``, ``[B, T, 3]``) or not (``[B, E]``, ``[B, 3]``);
        the second return value says whether the frame axis was added here. Shapes and dtypes are
        checked here (floating tensors only: an integer ``expr`` would truncate the modulation);
        finiteness is left to the consumer (the geometry modulator checks it once).
        """
        keys = ("expr", "jaw_pose")
        checked = self.validate_batch(flame_params, name="flame_params", keys=keys, required=keys, finite=False)
        expr, jaw = checked.tensors["expr"], checked.tensors["jaw_pose"]
        if jaw.dim() != expr.dim():
            raise ShapeError(
                f"flame_params['jaw_pose']: expected shape {[*expr.shape[:-1], JAW_DIM]} matching expr "
                f"{list(expr.shape)}, got {list(jaw.shape)}"
            )
        added = expr.dim() == 2
        if added:
            expr, jaw = expr.unsqueeze(1), jaw.unsqueeze(1)
        return join_expression_jaw(expr, jaw), added


#: The FLAME 2020/2023 schema: 100 expression and 300 shape coefficients.
FLAME_SCHEMA = FlameSchema()


def pack_expression_jaw(
    flame_params: Mapping[str, torch.Tensor], expression_dim: int = FLAME_SCHEMA.expression_dim
) -> tuple[torch.Tensor, bool]:
    """:meth:`FlameSchema.pack_expression_jaw` for ``expression_dim`` expression coefficients."""
    schema = FLAME_SCHEMA if expression_dim == FLAME_SCHEMA.expression_dim else FlameSchema(expression_dim)
    return schema.pack_expression_jaw(flame_params)


def unpack_expression_jaw(
    params: torch.Tensor, flame_params: Mapping[str, torch.Tensor], frame_axis_added: bool
) -> dict[str, torch.Tensor]:
    """A shallow copy of ``flame_params`` with ``expr``/``jaw_pose`` taken from ``params [B, T, E + 3]``.

    The caller's dict is never modified; the other entries are shared, not copied.
    """
    expr, jaw = split_expression_jaw(params)
    if frame_axis_added:
        expr, jaw = expr.squeeze(1), jaw.squeeze(1)
    out = dict(flame_params)
    # contiguous, so the backbone's kernels see the same memory layout as with its own inputs
    out["expr"] = expr.to(flame_params["expr"].dtype).contiguous()
    out["jaw_pose"] = jaw.to(flame_params["jaw_pose"].dtype).contiguous()
    return out


def join_expression_jaw(expr: torch.Tensor, jaw: torch.Tensor) -> torch.Tensor:
    """``expr [..., E]`` and ``jaw [..., 3]`` as one ``[..., E + 3]`` tensor in ``expr``'s dtype (unchecked)."""
    return torch.cat([expr, jaw.to(expr.dtype)], dim=-1)


def split_expression_jaw(params: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """``params [..., E + 3]`` -> ``(expr [..., E], jaw [..., 3])`` (views)."""
    return params[..., :-JAW_DIM], params[..., -JAW_DIM:]


# ---------------------------------------------------------------------- shared checks
def _check_keys(params: object, name: str, known: Mapping[str, int] | None, required: Iterable[str]) -> None:
    """``params`` is a mapping with no key outside ``known`` (None: any key) and every ``required`` one
    (present and not None)."""
    if not isinstance(params, Mapping):
        raise ShapeError(f"{name}: expected a dict of tensors, got {type(params).__name__}")
    if known is not None:
        unknown = sorted(set(params) - set(known))
        if unknown:
            raise ShapeError(f"{name}: unknown keys {unknown}; a FLAME sequence has {sorted(known)}")
    missing = [k for k in required if params.get(k) is None]
    if missing:
        raise ShapeError(f"{name}: missing keys {missing} (present: {sorted(params)})")


def _is_floating(value: object) -> bool:
    return isinstance(value, torch.Tensor) and value.is_floating_point()


def _floating(value: object, label: str) -> torch.Tensor:
    if not _is_floating(value):
        raise ShapeError(f"{label}: expected a floating torch.Tensor, got {_describe(value)}")
    return value  # type: ignore[return-value]


def _check_finite(value: torch.Tensor, label: str) -> None:
    if not bool(torch.isfinite(value).all()):
        raise NonFiniteError(f"{label} contains NaN or infinite values")


def _describe(value: object) -> str:
    if isinstance(value, torch.Tensor):
        return f"tensor of shape {list(value.shape)} and dtype {value.dtype}"
    if isinstance(value, np.ndarray):
        return f"numpy array of shape {list(value.shape)} and dtype {value.dtype} (convert with torch.from_numpy)"
    return type(value).__name__
