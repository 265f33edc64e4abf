"""The FLAME layer: LAM-style parameter dict -> posed vertices, joints and landmarks (``smplx.lbs``)."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any, Mapping

import torch
from torch import Tensor, nn

from emoctl.errors import NonFiniteError, ShapeError
from emoctl.flame.data import FlameModelData, validate_model_data

#: Parameter names (as LAM's ``flame_params``) and their per-frame sizes; ``None`` = model's S / E.
PARAM_SIZES: dict[str, int | None] = {
    "betas": None,
    "expr": None,
    "rotation": 3,
    "neck_pose": 3,
    "jaw_pose": 3,
    "eyes_pose": 6,
    "translation": 3,
}
#: The joint each pose entry drives (``eyes_pose[..., :3]`` -> left eye, ``[..., 3:]`` -> right eye).
POSE_ORDER: tuple[str, ...] = ("rotation", "neck_pose", "jaw_pose", "eyes_pose")


@dataclass
class FlameOutput:
    """Result of :class:`FLAME`; a leading ``(B, T)`` when any input had a frame axis, else ``(B,)``.

    ``vertices [B, (T,) V, 3]``, ``joints [B, (T,) 5, 3]`` (posed, translated), ``landmarks
    [B, (T,) L, 3]`` or ``None`` when the model has no landmark embedding.
    """

    vertices: Tensor
    joints: Tensor
    landmarks: Tensor | None = None


class FLAME(nn.Module):
    """A FLAME head model as a module: ``FLAME(data)(params) -> FlameOutput``.

    ``params`` is LAM's ``flame_params`` dict: ``betas [B, S']`` (per identity, broadcast over
    frames), and ``expr [B, (T,) E']``, ``rotation``, ``neck_pose``, ``jaw_pose`` ``[B, (T,) 3]``,
    ``eyes_pose [B, (T,) 6]`` (left eye then right eye), ``translation [B, (T,) 3]``. Missing keys
    are zeros; ``S' <= S`` and ``E' <= E`` coefficient vectors are zero-padded. Rotations are
    axis-angle. ``translation`` is added after skinning. All model tensors are buffers.
    """

    def __init__(self, data: FlameModelData):
        super().__init__()
        validate_model_data(data)
        self.num_vertices = data.num_vertices
        self.num_shape = data.num_shape
        self.num_expression = data.num_expression
        self.source = data.source
        self.landmark_names = list(data.landmark_names)
        self.expression_components = list(data.expression_components)
        v = data.num_vertices
        self.register_buffer("v_template", data.v_template.clone())
        self.register_buffer("shapedirs", torch.cat([data.shapedirs, data.exprdirs], dim=-1).contiguous())
        # smplx.lbs wants posedirs as [P, V * 3]: row p holds component p of every vertex coordinate.
        self.register_buffer("posedirs", data.posedirs.reshape(v * 3, -1).t().contiguous())
        self.register_buffer("J_regressor", data.J_regressor.clone())
        self.register_buffer("parents", data.parents.clone())
        self.register_buffer("lbs_weights", data.lbs_weights.clone())
        self.register_buffer("faces", data.faces.clone())
        if data.lmk_faces_idx is not None and data.lmk_bary_coords is not None:
            self.register_buffer("lmk_vertex_idx", data.faces[data.lmk_faces_idx].clone())  # [L, 3]
            self.register_buffer("lmk_bary_coords", data.lmk_bary_coords.clone())
        else:
            self.lmk_vertex_idx = None
            self.lmk_bary_coords = None

    @classmethod
    def from_file(cls, path: str | Path, landmark_path: str | Path | None = None) -> "FLAME":
        """Build from a converted ``.safetensors`` file or an official pickle."""
        from emoctl.flame.io import load_flame_model

        return cls(load_flame_model(path, landmark_path))

    @property
    def dtype(self) -> torch.dtype:
        return self.v_template.dtype

    def extra_repr(self) -> str:
        return (
            f"source={self.source}, vertices={self.num_vertices}, shape={self.num_shape}, "
            f"expression={self.num_expression}, landmarks={len(self.landmark_names) if self.lmk_vertex_idx is not None else 0}"
        )

    def _prepare(self, params: Mapping[str, Any]) -> tuple[dict[str, Tensor], int, int | None]:
        if not isinstance(params, Mapping):
            raise ShapeError(f"FLAME expects a dict of parameters, got {type(params).__name__}")
        unknown = sorted(set(params) - set(PARAM_SIZES))
        if unknown:
            raise ShapeError(f"unknown FLAME parameter(s) {unknown}; known: {list(PARAM_SIZES)}")
        sizes = {**PARAM_SIZES, "betas": self.num_shape, "expr": self.num_expression}
        tensors: dict[str, Tensor] = {}
        batch: int | None = None
        frames: int | None = None
        for key, value in params.items():
            if value is None:
                continue
            t = torch.as_tensor(value)
            if not (t.dtype.is_floating_point or t.dtype in (torch.int32, torch.int64)):
                raise ShapeError(f"FLAME parameter {key!r} must be a float tensor, got {t.dtype}")
            t = t.to(device=self.v_template.device, dtype=self.dtype)
            allowed_dims = (2,) if key == "betas" else (2, 3)
            if t.dim() not in allowed_dims:
                expected = f"[B, {sizes[key]}]" if key == "betas" else f"[B, {sizes[key]}] or [B, T, {sizes[key]}]"
                raise ShapeError(f"FLAME parameter {key!r} must have shape {expected}, got {list(t.shape)}")
            width = t.shape[-1]
            if key in ("betas", "expr"):
                if width > sizes[key]:
                    raise ShapeError(f"FLAME parameter {key!r} has {width} coefficients, the model has {sizes[key]} (at most)")
            elif width != sizes[key]:
                raise ShapeError(f"FLAME parameter {key!r} must have {sizes[key]} values per frame, got shape {list(t.shape)}")
            if not bool(torch.isfinite(t).all()):
                raise NonFiniteError(f"FLAME parameter {key!r} contains NaN or infinite values")
            if batch is None:
                batch = t.shape[0]
            elif t.shape[0] != batch:
                raise ShapeError(f"FLAME parameter {key!r} has batch size {t.shape[0]}, others have {batch}")
            if t.dim() == 3:
                if frames is None:
                    frames = t.shape[1]
                elif t.shape[1] != frames:
                    raise ShapeError(f"FLAME parameter {key!r} has {t.shape[1]} frames, others have {frames}")
            tensors[key] = t
        return tensors, (1 if batch is None else batch), frames

    def forward(self, params: Mapping[str, Any]) -> FlameOutput:
        from smplx.lbs import lbs

        tensors, batch, frames = self._prepare(params)
        steps = 1 if frames is None else frames
        n = batch * steps
        dev, dt = self.v_template.device, self.dtype

        def per_frame(key: str, width: int) -> Tensor:
            t = tensors.get(key)
            if t is None:
                return torch.zeros(n, width, device=dev, dtype=dt)
            if t.shape[-1] < width:
                t = torch.nn.functional.pad(t, (0, width - t.shape[-1]))
            if t.dim() == 2:
                t = t.unsqueeze(1).expand(batch, steps, width)
            return t.reshape(n, width)

        coeffs = torch.cat([per_frame("betas", self.num_shape), per_frame("expr", self.num_expression)], dim=1)
        pose = torch.cat([per_frame(k, 6 if k == "eyes_pose" else 3) for k in POSE_ORDER], dim=1)
        vertices, joints = lbs(
            coeffs, pose, self.v_template, self.shapedirs, self.posedirs, self.J_regressor, self.parents, self.lbs_weights
        )
        translation = per_frame("translation", 3).unsqueeze(1)
        vertices = vertices + translation
        joints = joints + translation
        landmarks = None
        if self.lmk_vertex_idx is not None:
            corners = vertices[:, self.lmk_vertex_idx]  # [N, L, 3, 3]
            landmarks = torch.einsum("nlkc,lk->nlc", corners, self.lmk_bary_coords)
        lead = (batch,) if frames is None else (batch, frames)

        def shaped(t: Tensor | None) -> Tensor | None:
            return None if t is None else t.reshape(*lead, *t.shape[1:])

        return FlameOutput(vertices=shaped(vertices), joints=shaped(joints), landmarks=shaped(landmarks))
