"""How a backbone's Gaussians are attached to the FLAME mesh (canonical ↔ posed).

A binding gives every Gaussian an *anchor* point and a *frame* (a rotation) on the mesh, at rest
(the identity's canonical mesh) and per driven frame. A Gaussian with local offset ``o`` and local
rotation ``q`` sits at ``anchor + frame @ o`` with rotation ``frame @ R(q)``.

- :class:`VertexBinding` (LAM): each Gaussian belongs to one template vertex; its frame is that
  vertex's skinning rotation (identity at rest), so its centre follows FLAME's LBS exactly as LAM
  animates its points (offsets are added in the canonical space and skinned with the vertex).
- :class:`TriangleBinding` (Dual-UV, GaussianAvatars' convention): each Gaussian sits on a
  triangle at barycentric coordinates; its frame is the triangle's (first edge, normal, their
  cross product), so it moves and turns with the posed triangle.
"""

from __future__ import annotations

from collections.abc import Mapping

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from emoctl.backbones.template import HeadTemplate
from emoctl.errors import ShapeError


class VertexBinding(nn.Module):
    """Gaussians on template vertices ``point_index [N]`` (buffer)."""

    def __init__(self, point_index: Tensor):
        super().__init__()
        if point_index.dim() != 1:
            raise ShapeError(f"point_index must be [N], got {tuple(point_index.shape)}")
        self.register_buffer("point_index", point_index.long().clone())

    @property
    def num_gaussians(self) -> int:
        return int(self.point_index.shape[0])

    def rest(self, template: HeadTemplate, betas: Tensor | None, batch: int = 1) -> tuple[Tensor, Tensor]:
        """``(anchors [B, N, 3], frames [B, N, 3, 3])`` on the canonical mesh (frames: identity)."""
        anchors = template.shaped(betas, batch)[:, self.point_index]
        frames = torch.eye(3, dtype=anchors.dtype, device=anchors.device).expand(*anchors.shape[:2], 3, 3)
        return anchors, frames

    def pose(self, template: HeadTemplate, flame_params: Mapping[str, Tensor]) -> tuple[Tensor, Tensor]:
        """``(anchors [B, T, N, 3], frames [B, T, N, 3, 3])`` for a driven sequence."""
        posed, rotations = template.vertex_transforms(flame_params)
        return posed[:, :, self.point_index], rotations[:, :, self.point_index]


def triangle_frames(vertices: Tensor, faces: Tensor) -> Tensor:
    """``[..., F, 3, 3]`` orthonormal frames (columns: first edge, normal, edge × normal) of the
    triangles ``faces [F, 3]`` of ``vertices [..., V, 3]``."""
    a, b, c = (vertices[..., faces[:, k], :] for k in range(3))
    e1 = F.normalize(b - a, dim=-1, eps=1e-12)
    normal = F.normalize(torch.cross(b - a, c - a, dim=-1), dim=-1, eps=1e-12)
    e3 = torch.cross(e1, normal, dim=-1)
    return torch.stack([e1, normal, e3], dim=-1)


class TriangleBinding(nn.Module):
    """Gaussians on triangles ``face_index [N]`` at barycentric ``bary [N, 3]`` (buffers), lifted
    ``lift [N]`` metres along the triangle normal (the Shell layer's constant offset; 0 on the Core)."""

    def __init__(self, faces: Tensor, face_index: Tensor, bary: Tensor, lift: Tensor | None = None):
        super().__init__()
        if face_index.dim() != 1 or bary.shape != (face_index.shape[0], 3):
            raise ShapeError(f"face_index must be [N] and bary [N, 3], got {tuple(face_index.shape)} and {tuple(bary.shape)}")
        self.register_buffer("faces", faces.long().clone())
        self.register_buffer("face_index", face_index.long().clone())
        self.register_buffer("bary", bary.float().clone())
        lift = torch.zeros(face_index.shape[0]) if lift is None else lift.float()
        self.register_buffer("lift", lift.clone())

    @property
    def num_gaussians(self) -> int:
        return int(self.face_index.shape[0])

    def _on_mesh(self, vertices: Tensor) -> tuple[Tensor, Tensor]:
        tri = self.faces[self.face_index]  # [N, 3]
        corners = vertices[..., tri, :]  # [..., N, 3, 3]
        points = torch.einsum("...nkc,nk->...nc", corners, self.bary.to(vertices.dtype))
        frames = triangle_frames(vertices, self.faces)[..., self.face_index, :, :]
        points = points + frames[..., :, 1] * self.lift.to(vertices.dtype)[:, None]
        return points, frames

    def rest(self, template: HeadTemplate, betas: Tensor | None, batch: int = 1) -> tuple[Tensor, Tensor]:
        return self._on_mesh(template.shaped(betas, batch))

    def pose(self, template: HeadTemplate, flame_params: Mapping[str, Tensor]) -> tuple[Tensor, Tensor]:
        posed = template.posed_vertices(flame_params)
        if posed.dim() == 3:
            posed = posed[:, None]
        return self._on_mesh(posed)
