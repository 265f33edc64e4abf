"""`FlameModelData`: the tensors of a FLAME-format head model, and their validation.

The fields mirror the converted on-disk format documented in :mod:`emoctl.flame` (one
``.safetensors`` file). Every loader (converted file, official pickle, synthetic generator) returns
this one type, and :func:`validate_model_data` is the single place where shapes and consistency
are checked.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field

import torch
from torch import Tensor

from emoctl.errors import CheckpointError
from emoctl.flame_schema import FLAME_SCHEMA

#: FLAME's kinematic tree: joint names in order, and each joint's parent (-1 for the root).
JOINT_NAMES: tuple[str, ...] = ("global", "neck", "jaw", "eye_left", "eye_right")
FLAME_PARENTS: tuple[int, ...] = (-1, 0, 1, 1, 1)
NUM_JOINTS = len(JOINT_NAMES)
#: Pose-corrective features: (R_j - I) flattened row-major for every non-root joint j = 1..4.
NUM_POSE_FEATURES = 9 * (NUM_JOINTS - 1)
#: FLAME's coefficient counts (those of :data:`emoctl.flame_schema.FLAME_SCHEMA`).
NUM_SHAPE = FLAME_SCHEMA.shape_dim
NUM_EXPRESSION = FLAME_SCHEMA.expression_dim

#: Tensor fields of the format, in on-disk key order (regions are stored as ``region.<name>``).
REQUIRED_TENSORS: tuple[str, ...] = (
    "v_template",
    "shapedirs",
    "exprdirs",
    "posedirs",
    "J_regressor",
    "parents",
    "lbs_weights",
    "faces",
)
OPTIONAL_TENSORS: tuple[str, ...] = ("uvs", "faces_uv", "lmk_faces_idx", "lmk_bary_coords")
INDEX_TENSORS: frozenset[str] = frozenset({"parents", "faces", "faces_uv", "lmk_faces_idx"})

_WEIGHT_SUM_TOL = 1e-4
_BARY_SUM_TOL = 1e-4


@dataclass
class FlameModelData:
    """The tensors of a FLAME-format head model (V vertices, F faces, J = 5 joints).

    Float fields share one dtype; index fields are int64.

    - ``v_template [V, 3]``: rest mesh in metres (y up, the face looks along +z).
    - ``shapedirs [V, 3, S]`` (S = 300), ``exprdirs [V, 3, E]`` (E = 100): linear blendshapes.
    - ``posedirs [V, 3, 36]``: pose correctives; component ``9 * (j - 1) + 3 * r + c`` multiplies
      ``(R_j - I)[r, c]`` for joint ``j = 1..4`` (neck, jaw, left eye, right eye).
    - ``J_regressor [5, V]``: joints = ``J_regressor @ vertices`` (dense).
    - ``parents [5]``: ``[-1, 0, 1, 1, 1]`` for FLAME.
    - ``lbs_weights [V, 5]``: skinning weights, rows sum to 1.
    - ``faces [F, 3]``: triangle vertex indices, counter-clockwise seen from outside.
    - optional ``uvs [U, 2]`` with ``faces_uv [F, 3]``; ``lmk_faces_idx [L]`` with
      ``lmk_bary_coords [L, 3]``; ``regions``: name -> soft mask ``[V]`` in [0, 1].
    """

    v_template: Tensor
    shapedirs: Tensor
    exprdirs: Tensor
    posedirs: Tensor
    J_regressor: Tensor
    parents: Tensor
    lbs_weights: Tensor
    faces: Tensor
    uvs: Tensor | None = None
    faces_uv: Tensor | None = None
    lmk_faces_idx: Tensor | None = None
    lmk_bary_coords: Tensor | None = None
    regions: dict[str, Tensor] = field(default_factory=dict)
    landmark_names: list[str] = field(default_factory=list)
    expression_components: list[str] = field(default_factory=list)
    source: str = "FLAME2020"

    @property
    def num_vertices(self) -> int:
        return int(self.v_template.shape[0])

    @property
    def num_faces(self) -> int:
        return int(self.faces.shape[0])

    @property
    def num_shape(self) -> int:
        return int(self.shapedirs.shape[-1])

    @property
    def num_expression(self) -> int:
        return int(self.exprdirs.shape[-1])

    @property
    def num_landmarks(self) -> int:
        return 0 if self.lmk_faces_idx is None else int(self.lmk_faces_idx.shape[0])

    @property
    def dtype(self) -> torch.dtype:
        return self.v_template.dtype

    @property
    def device(self) -> torch.device:
        return self.v_template.device

    def tensors(self) -> dict[str, Tensor]:
        """All tensors under their on-disk key names (absent optional ones left out)."""
        out: dict[str, Tensor] = {}
        for name in REQUIRED_TENSORS + OPTIONAL_TENSORS:
            value = getattr(self, name)
            if value is not None:
                out[name] = value
        for name, mask in self.regions.items():
            out[f"region.{name}"] = mask
        return out

    def to(self, device: torch.device | str | None = None, dtype: torch.dtype | None = None) -> "FlameModelData":
        """A copy on ``device`` with float tensors cast to ``dtype`` (index tensors stay int64)."""

        def move(t: Tensor | None, is_index: bool) -> Tensor | None:
            if t is None:
                return None
            return t.to(device=device) if is_index or dtype is None else t.to(device=device, dtype=dtype)

        changes = {name: move(getattr(self, name), name in INDEX_TENSORS) for name in REQUIRED_TENSORS + OPTIONAL_TENSORS}
        changes["regions"] = {k: move(v, False) for k, v in self.regions.items()}
        changes["landmark_names"] = list(self.landmark_names)
        changes["expression_components"] = list(self.expression_components)
        return dataclasses.replace(self, **changes)


def _fail(key: str, problem: str) -> CheckpointError:
    return CheckpointError(f"FLAME model: {key!r} {problem}")


def _expect_shape(key: str, t: Tensor, expected: tuple[int | None, ...]) -> None:
    ok = t.dim() == len(expected) and all(e is None or s == e for s, e in zip(t.shape, expected))
    if not ok:
        shown = "[" + ", ".join("*" if e is None else str(e) for e in expected) + "]"
        raise _fail(key, f"has shape {list(t.shape)}, expected {shown}")


def validate_model_data(data: FlameModelData) -> None:
    """Check shapes, dtypes and consistency; raise :class:`CheckpointError` naming the bad key.

    Checked: every tensor's rank and sizes against V, F, J = 5, U, L; float fields finite and of one
    floating dtype; index fields int64 and in range; ``parents`` equal to FLAME's tree; skinning
    weight rows non-negative and summing to 1; barycentric rows summing to 1; region masks in
    [0, 1]; ``landmark_names`` / ``expression_components`` lengths matching L / E when given.
    """
    for key in REQUIRED_TENSORS:
        if not isinstance(getattr(data, key), Tensor):
            raise _fail(key, f"is missing or not a tensor (got {type(getattr(data, key)).__name__})")
    float_dtype = data.v_template.dtype
    if not float_dtype.is_floating_point:
        raise _fail("v_template", f"must be a floating-point tensor, got {float_dtype}")
    for key, t in data.tensors().items():
        if key in INDEX_TENSORS:
            if t.dtype != torch.int64:
                raise _fail(key, f"must be int64, got {t.dtype}")
        else:
            if t.dtype != float_dtype:
                raise _fail(key, f"has dtype {t.dtype}, expected {float_dtype} like 'v_template'")
            if not bool(torch.isfinite(t).all()):
                raise _fail(key, "contains NaN or infinite values")

    v = data.v_template.shape[0] if data.v_template.dim() == 2 else -1
    _expect_shape("v_template", data.v_template, (None, 3))
    if v < 3:
        raise _fail("v_template", f"has {v} vertices, expected at least 3")
    _expect_shape("shapedirs", data.shapedirs, (v, 3, None))
    _expect_shape("exprdirs", data.exprdirs, (v, 3, None))
    _expect_shape("posedirs", data.posedirs, (v, 3, NUM_POSE_FEATURES))
    _expect_shape("J_regressor", data.J_regressor, (NUM_JOINTS, v))
    _expect_shape("parents", data.parents, (NUM_JOINTS,))
    if data.parents.tolist() != list(FLAME_PARENTS):
        raise _fail("parents", f"is {data.parents.tolist()}, expected FLAME's tree {list(FLAME_PARENTS)}")
    _expect_shape("lbs_weights", data.lbs_weights, (v, NUM_JOINTS))
    if bool((data.lbs_weights < -1e-6).any()):
        raise _fail("lbs_weights", f"has negative weights (min {data.lbs_weights.min().item():.3g})")
    sums = data.lbs_weights.double().sum(dim=1)
    worst = (sums - 1).abs().max().item()
    if worst > _WEIGHT_SUM_TOL:
        raise _fail("lbs_weights", f"rows must sum to 1; worst row sums to {1 + worst:.6g} (off by {worst:.3g})")
    _expect_shape("faces", data.faces, (None, 3))
    f = data.faces.shape[0]
    if f < 1:
        raise _fail("faces", "is empty")
    _check_index_range("faces", data.faces, v)

    if (data.uvs is None) != (data.faces_uv is None):
        raise _fail("uvs" if data.uvs is None else "faces_uv", "is missing: 'uvs' and 'faces_uv' come together")
    if data.uvs is not None and data.faces_uv is not None:
        _expect_shape("uvs", data.uvs, (None, 2))
        _expect_shape("faces_uv", data.faces_uv, (f, 3))
        _check_index_range("faces_uv", data.faces_uv, data.uvs.shape[0])

    if (data.lmk_faces_idx is None) != (data.lmk_bary_coords is None):
        missing = "lmk_faces_idx" if data.lmk_faces_idx is None else "lmk_bary_coords"
        raise _fail(missing, "is missing: 'lmk_faces_idx' and 'lmk_bary_coords' come together")
    if data.lmk_faces_idx is not None and data.lmk_bary_coords is not None:
        _expect_shape("lmk_faces_idx", data.lmk_faces_idx, (None,))
        num_lmk = data.lmk_faces_idx.shape[0]
        _expect_shape("lmk_bary_coords", data.lmk_bary_coords, (num_lmk, 3))
        _check_index_range("lmk_faces_idx", data.lmk_faces_idx, f)
        bary_err = (data.lmk_bary_coords.double().sum(dim=1) - 1).abs().max().item() if num_lmk else 0.0
        if bary_err > _BARY_SUM_TOL:
            raise _fail("lmk_bary_coords", f"rows must sum to 1 (worst is off by {bary_err:.3g})")
        if data.landmark_names and len(data.landmark_names) != num_lmk:
            raise _fail("landmark_names", f"has {len(data.landmark_names)} names for {num_lmk} landmarks")
    elif data.landmark_names:
        raise _fail("landmark_names", "is given but the model has no landmarks")

    for name, mask in data.regions.items():
        key = f"region.{name}"
        if not name or not name.replace("_", "").isalnum():
            raise _fail(key, "has an invalid name (letters, digits and '_' only)")
        _expect_shape(key, mask, (v,))
        if bool((mask < 0).any()) or bool((mask > 1).any()):
            raise _fail(key, f"must lie in [0, 1], got range [{mask.min().item():.3g}, {mask.max().item():.3g}]")
    if data.expression_components and len(data.expression_components) != data.exprdirs.shape[-1]:
        raise _fail(
            "expression_components",
            f"has {len(data.expression_components)} names for {data.exprdirs.shape[-1]} expression components",
        )
    if not isinstance(data.source, str) or not data.source:
        raise _fail("source", f"must be a non-empty string, got {data.source!r}")


def _check_index_range(key: str, t: Tensor, upper: int) -> None:
    if t.numel() == 0:
        return
    lo, hi = int(t.min()), int(t.max())
    if lo < 0 or hi >= upper:
        raise _fail(key, f"indexes out of range: values in [{lo}, {hi}], valid range is [0, {upper - 1}]")
