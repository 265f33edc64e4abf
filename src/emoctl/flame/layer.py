"""The FLAME layer: LAM-style parameter dict -> posed vertices, joints and landmarks (``smplx.lbs``)."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any, Mapping

import torch
from torch import Tensor, nn

from emoctl.flame.data import FlameModelData, validate_model_data
from emoctl.flame_schema import FIXED_SIZES, FLAME_SCHEMA, POSE_KEYS, FlameSchema

#: Parameter names (as LAM's ``flame_params``) and their per-frame sizes; ``None`` = model's S / E.
PARAM_SIZES: dict[str, int | None] = {k: FIXED_SIZES.get(k) for k in FLAME_SCHEMA.sizes()}


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
        #: The keys and sizes this model takes (``expr``: E values, ``betas``: S).
        self.schema = FlameSchema(expression_dim=data.num_expression, shape_dim=data.num_shape)
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
        checked = self.schema.validate_batch(
            params, padded=("betas", "expr"), dtype=self.dtype, device=self.v_template.device
        )
        return checked.tensors, (1 if checked.batch is None else checked.batch), checked.frames

    def lbs_inputs(self, params: Mapping[str, Any]) -> tuple[Tensor, Tensor, Tensor, tuple[int, ...]]:
        """``params`` checked and flattened over batch and frames for LBS: ``(coefficients [n, S + E]``
        (shape then expression, zero-padded), ``pose [n, 3 * 5 + 3]`` (``POSE_KEYS`` in order),
        ``translation [n, 3]``, ``lead)`` with ``n = prod(lead)`` and ``lead = (B,)`` or ``(B, T)``."""
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
        pose = torch.cat([per_frame(k, FIXED_SIZES[k]) for k in POSE_KEYS], dim=1)
        lead = (batch,) if frames is None else (batch, frames)
        return coeffs, pose, per_frame("translation", FIXED_SIZES["translation"]), lead

    def forward(self, params: Mapping[str, Any]) -> FlameOutput:
        from smplx.lbs import lbs

        coeffs, pose, translation, lead = self.lbs_inputs(params)
        vertices, joints = lbs(
            coeffs, pose, self.v_template, self.shapedirs, self.posedirs, self.J_regressor, self.parents, self.lbs_weights
        )
        translation = translation.unsqueeze(1)
        vertices = vertices + translation
        joints = joints + translation
        landmarks = None
        if self.lmk_vertex_idx is not None:
            corners = vertices[:, self.lmk_vertex_idx]  # [N, L, 3, 3]
            landmarks = torch.einsum("nlkc,lk->nlc", corners, self.lmk_bary_coords)

        def shaped(t: Tensor | None) -> Tensor | None:
            return None if t is None else t.reshape(*lead, *t.shape[1:])

        return FlameOutput(vertices=shaped(vertices), joints=shaped(joints), landmarks=shaped(landmarks))
