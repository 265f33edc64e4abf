"""``HeadTemplate``: the FLAME model a reference backbone animates its Gaussians with.

A backbone's Gaussians are bound to a FLAME-format head (the official FLAME where a user has it, the
synthetic world's head here). The template is data plus pure functions, as smplx's models are:

- :meth:`HeadTemplate.shaped` — the identity's canonical mesh ``[B, V, 3]`` (template + shape
  blendshapes, no expression, no pose);
- :meth:`HeadTemplate.vertex_transforms` — per-vertex skinning for a driven sequence: the posed
  mesh ``[B, T, V, 3]`` and each vertex's rigid transform ``[B, T, V, 4, 4]`` (linear blend of the
  joint transforms, as FLAME's LBS). A point bound to vertex ``i`` with a canonical offset ``o``
  goes to ``posed_i + R_i o``, so an offset moves with its vertex, and Gaussian rotations follow
  ``R_i``;
- :meth:`HeadTemplate.posed_vertices` — the posed mesh alone ``[B, T, V, 3]`` (for triangle-bound
  Gaussians, see :mod:`emoctl.backbones.binding`).

``flame_params`` is LAM's dict (the one schema, :mod:`emoctl.flame_schema`): per-frame ``expr``,
``jaw_pose``, ``rotation``, ``neck_pose``, ``eyes_pose``, ``translation`` ``[B, T, D]`` (or
``[B, D]`` for one frame), ``betas [B, S]``.
"""

from __future__ import annotations

from collections.abc import Mapping

import torch
from torch import Tensor, nn

from emoctl.errors import ShapeError
from emoctl.flame import FLAME, FlameModelData


def farthest_point_indices(points: Tensor, count: int, start: int = 0) -> Tensor:
    """``[count]`` indices of ``points [N, 3]`` chosen by farthest-point sampling (deterministic)."""
    n = points.shape[0]
    if not 1 <= count <= n:
        raise ShapeError(f"farthest_point_indices: count must be in [1, {n}], got {count}")
    chosen = torch.empty(count, dtype=torch.long)
    chosen[0] = start
    dist = ((points - points[start]) ** 2).sum(-1)
    for i in range(1, count):
        nxt = int(torch.argmax(dist))
        chosen[i] = nxt
        dist = torch.minimum(dist, ((points - points[nxt]) ** 2).sum(-1))
    return chosen.sort().values


class HeadTemplate(nn.Module):
    """A FLAME-format head (``FlameModelData``) as the animation rig of a backbone's Gaussians.

    All tensors are buffers: ``faces [F, 3]``, ``v_template [V, 3]``, and the ``regions`` the head
    defines (``region_<name> [V]`` weights in [0, 1]), if any. ``uvs``/``faces_uv`` are kept when the
    head has them (the UV backbone needs them).
    """

    def __init__(self, data: FlameModelData):
        super().__init__()
        self.flame = FLAME(data)
        self.num_vertices = data.num_vertices
        self.region_names = tuple(sorted(data.regions))
        for name in self.region_names:
            self.register_buffer(f"region_{name}", data.regions[name].detach().clone().float())
        self.has_uv = data.uvs is not None and data.faces_uv is not None
        if self.has_uv:
            self.register_buffer("uvs", data.uvs.detach().clone().float())
            self.register_buffer("faces_uv", data.faces_uv.detach().clone())

    @property
    def faces(self) -> Tensor:
        return self.flame.faces

    @property
    def v_template(self) -> Tensor:
        return self.flame.v_template

    def region(self, name: str) -> Tensor:
        """``[V]`` weights of a named region (``ShapeError`` naming the known ones if absent)."""
        if name not in self.region_names:
            raise ShapeError(f"the head template has no region {name!r}; it has {list(self.region_names)}")
        return getattr(self, f"region_{name}")

    def _betas(self, betas: Tensor | None, batch: int) -> Tensor:
        flame = self.flame
        dev, dt = self.v_template.device, self.v_template.dtype
        if betas is None:
            return torch.zeros(batch, flame.num_shape, device=dev, dtype=dt)
        if betas.dim() != 2:
            raise ShapeError(f"betas must be [B, S], got {tuple(betas.shape)}")
        if betas.shape[1] > flame.num_shape:
            raise ShapeError(f"betas has {betas.shape[1]} coefficients; the template takes at most {flame.num_shape}")
        return nn.functional.pad(betas.to(dev, dt), (0, flame.num_shape - betas.shape[1]))

    def shaped(self, betas: Tensor | None, batch: int = 1) -> Tensor:
        """``[B, V, 3]`` canonical mesh of identities ``betas [B, S]`` (zeros: the template)."""
        betas = self._betas(betas, batch)
        num_shape = self.flame.num_shape
        dirs = self.flame.shapedirs[..., :num_shape]
        return self.v_template + torch.einsum("bs,vcs->bvc", betas, dirs)

    def posed_vertices(self, flame_params: Mapping[str, Tensor]) -> Tensor:
        """``[B, T, V, 3]`` (``[B, V, 3]`` for one-frame ``[B, D]`` params): FLAME's own LBS."""
        return self.flame(flame_params).vertices

    def vertex_transforms(self, flame_params: Mapping[str, Tensor]) -> tuple[Tensor, Tensor]:
        """``(posed [B, T, V, 3], transforms [B, T, V, 3, 3])``: the posed mesh and each vertex's
        skinning rotation (the blend of its joints' rotations). Per-frame params may be ``[B, D]``
        (one frame: ``T = 1`` in the outputs)."""
        from smplx.lbs import batch_rigid_transform, batch_rodrigues, blend_shapes, vertices2joints

        flame = self.flame
        coeffs, pose, translation, lead = flame.lbs_inputs(flame_params)
        n = coeffs.shape[0]
        dt = coeffs.dtype
        v_shaped = flame.v_template + blend_shapes(coeffs[:, : flame.num_shape], flame.shapedirs[..., : flame.num_shape])
        joints = vertices2joints(flame.J_regressor, v_shaped)
        v_expr = v_shaped + blend_shapes(coeffs[:, flame.num_shape:], flame.shapedirs[..., flame.num_shape:])
        rot = batch_rodrigues(pose.reshape(-1, 3)).reshape(n, -1, 3, 3)
        eye = torch.eye(3, dtype=dt, device=coeffs.device)
        pose_feature = (rot[:, 1:] - eye).reshape(n, -1)
        v_posed = v_expr + torch.matmul(pose_feature, flame.posedirs).reshape(n, -1, 3)
        _, rel = batch_rigid_transform(rot, joints, flame.parents, dtype=dt)
        per_vertex = torch.einsum("vj,njab->nvab", flame.lbs_weights, rel)  # [n, V, 4, 4]
        homo = nn.functional.pad(v_posed, (0, 1), value=1.0)
        posed = torch.einsum("nvab,nvb->nva", per_vertex, homo)[..., :3]
        posed = posed + translation.unsqueeze(1)
        rotations = per_vertex[..., :3, :3]
        lead = lead if len(lead) == 2 else (lead[0], 1)
        return posed.reshape(*lead, -1, 3), rotations.reshape(*lead, -1, 3, 3)
