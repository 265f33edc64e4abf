"""The UV side of the Dual-UV backbone: texel layouts on the template's UV map, and lifting image
features into them.

- :func:`rasterize_uv` — the template's UV layout (``uvs [U, 2]``, ``faces_uv [F, 3]``) rasterised
  at ``R x R`` texel centres: for every covered texel the face it lies in and its barycentric
  coordinates (numpy-free torch, deterministic; a texel claimed by several faces keeps the lowest
  face index; texels no face covers are not Gaussians).
- :class:`UVLayer` — one such layout (Core: on the surface; Shell: ``lift`` metres along the normal)
  plus the texel spacing on the mesh (the base scale of its Gaussians).
- :func:`project_points`, :func:`coarse_zbuffer`, :func:`visible_points` — the reference camera's
  view of the texel points: in-image, facing the camera, and not behind the surface.

Visibility approximates the paper's rasterised z-buffer (posed mesh rasterised in the input camera
with back-face culling): instead of rasterising triangles, the projected depths of the Core texel
points that face the camera are scatter-min reduced into a coarse ``Z x Z`` grid over the image,
and a point is visible when its depth is within ``tolerance`` of its cell's minimum. With a few
texel points per cell this matches the triangle z-buffer except near silhouettes and where cells
hold no Core point (there the depth test passes).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import torch
import torch.nn.functional as F
from torch import Tensor

from emoctl.backbones.template import HeadTemplate
from emoctl.errors import ConfigError, ShapeError


def rasterize_uv(uvs: Tensor, faces_uv: Tensor, resolution: int, face_mask: Tensor | None = None,
                 priority: Tensor | None = None) -> tuple[Tensor, Tensor, Tensor]:
    """Texels of an ``R x R`` UV map covered by the faces ``faces_uv [F, 3]`` of ``uvs [U, 2]``.

    Texel ``(row, col)`` has its centre at ``u = (col + 0.5) / R``, ``v = 1 - (row + 0.5) / R``
    (row 0 at the top, ``v = 1``). ``face_mask [F]`` (bool) restricts the faces. A texel several
    faces cover keeps the one of highest ``priority [F]`` (ties, or no priority: the lowest index). Returns
    ``(texel [M], face [M], bary [M, 3])``: flat texel indices ``row * R + col`` (sorted), the
    covering face and the barycentric coordinates of the texel centre in it.
    """
    if resolution < 1:
        raise ConfigError(f"UV resolution must be >= 1, got {resolution}")
    if uvs.dim() != 2 or uvs.shape[1] != 2 or faces_uv.dim() != 2 or faces_uv.shape[1] != 3:
        raise ShapeError(f"uvs must be [U, 2] and faces_uv [F, 3], got {tuple(uvs.shape)} and {tuple(faces_uv.shape)}")
    r = int(resolution)
    corners = uvs.double()[faces_uv.long()]  # [F, 3, 2]
    pix = torch.stack([corners[..., 0] * r - 0.5, (1.0 - corners[..., 1]) * r - 0.5], -1)  # texel-centre units
    a, b, c = pix[:, 0], pix[:, 1], pix[:, 2]
    det = (b[:, 0] - a[:, 0]) * (c[:, 1] - a[:, 1]) - (b[:, 1] - a[:, 1]) * (c[:, 0] - a[:, 0])
    lo = pix.amin(1).ceil().clamp(0, r - 1).long()
    hi = pix.amax(1).floor().clamp(-1, r - 1).long()
    hi = torch.maximum(hi, lo - 1)  # empty boxes (between texel centres or off the map)
    keep = det.abs() > 1e-12
    if face_mask is not None:
        keep &= face_mask.bool()
    nx = torch.where(keep, hi[:, 0] - lo[:, 0] + 1, 0)
    ny = torch.where(keep, hi[:, 1] - lo[:, 1] + 1, 0)
    counts = nx * ny
    face = torch.repeat_interleave(torch.arange(len(counts)), counts)
    local = torch.arange(int(counts.sum())) - torch.repeat_interleave(counts.cumsum(0) - counts, counts)
    col = lo[face, 0] + local % nx[face]
    row = lo[face, 1] + local // nx[face]
    p = torch.stack([col, row], -1).double()
    a, b, c, d = a[face], b[face], c[face], det[face]
    s = ((p[:, 0] - a[:, 0]) * (c[:, 1] - a[:, 1]) - (p[:, 1] - a[:, 1]) * (c[:, 0] - a[:, 0])) / d
    t = ((b[:, 0] - a[:, 0]) * (p[:, 1] - a[:, 1]) - (b[:, 1] - a[:, 1]) * (p[:, 0] - a[:, 0])) / d
    bary = torch.stack([1.0 - s - t, s, t], -1)
    inside = (bary >= -1e-9).all(-1)
    texel, face, bary = row[inside] * r + col[inside], face[inside], bary[inside]
    if priority is not None:  # candidates are in face order; a stable sort keeps it within a priority
        ranked = torch.sort(-priority.double()[face], stable=True).indices
        texel, face, bary = texel[ranked], face[ranked], bary[ranked]
    unique, inverse = torch.unique(texel, return_inverse=True)
    order = torch.arange(len(texel))
    first = torch.full((len(unique),), len(texel), dtype=torch.long).scatter_reduce(0, inverse, order, "amin")
    bary = bary[first].clamp_min(0.0)
    return unique, face[first], (bary / bary.sum(-1, keepdim=True)).float()


def faces_touching(template: HeadTemplate, regions: Sequence[str], threshold: float = 0.5) -> Tensor:
    """``[F]`` bool: faces with a vertex whose weight in any of ``regions`` (those the template
    has) exceeds ``threshold``."""
    hit = torch.zeros(template.num_vertices, dtype=torch.bool, device=template.faces.device)
    for name in regions:
        if name in template.region_names:
            hit |= template.region(name) > threshold
    return hit[template.faces].any(-1)


@dataclass
class UVLayer:
    """Texels of one UV map: ``texel [M]`` flat indices in ``resolution^2``, ``face [M]``,
    ``bary [M, 3]``, ``spacing [M]`` (metres between neighbouring texels on the rest mesh)."""

    resolution: int
    texel: Tensor
    face: Tensor
    bary: Tensor
    spacing: Tensor

    @classmethod
    def build(cls, template: HeadTemplate, resolution: int, face_mask: Tensor | None = None) -> "UVLayer":
        if not template.has_uv:
            raise ConfigError("the UV backbone needs a template with uvs and faces_uv")
        verts = template.v_template.double()
        tri = verts[template.faces]
        # where UV charts overlap (the synthetic head's eyeballs map front and back halves onto one
        # disc), the outermost face (farthest from the mesh's centroid) keeps the texel
        outward = (tri.mean(1) - verts.mean(0)).norm(dim=-1)
        texel, face, bary = rasterize_uv(template.uvs, template.faces_uv, resolution, face_mask, outward)
        if texel.numel() == 0:
            raise ConfigError(f"no texel of the {resolution}x{resolution} UV map is covered by a face")
        area3d = 0.5 * torch.linalg.cross(tri[:, 1] - tri[:, 0], tri[:, 2] - tri[:, 0], dim=-1).norm(dim=-1)
        uv = template.uvs.double()[template.faces_uv] * resolution
        e1, e2 = uv[:, 1] - uv[:, 0], uv[:, 2] - uv[:, 0]
        area_uv = 0.5 * (e1[:, 0] * e2[:, 1] - e1[:, 1] * e2[:, 0]).abs()  # in texels
        spacing = (area3d[face] / area_uv[face].clamp_min(1e-12)).sqrt()
        spacing = spacing.clamp(max=4.0 * float(spacing.median()))
        return cls(int(resolution), texel, face, bary, spacing.float())

    @property
    def count(self) -> int:
        return int(self.texel.shape[0])


def project_points(points: Tensor, c2w: Tensor, K: Tensor) -> tuple[Tensor, Tensor]:
    """``points [B, N, 3]`` (world), ``c2w [B, 4, 4]`` (OpenCV axes), ``K [B, 3, 3]`` (pixels) →
    ``(pixels [B, N, 2], depth [B, N])``; pixel ``(0, 0)`` is the top-left corner of the image."""
    w2c = torch.linalg.inv(c2w)
    cam = torch.einsum("bij,bnj->bni", w2c[:, :3, :3], points) + w2c[:, None, :3, 3]
    depth = cam[..., 2]
    safe = torch.where(depth.abs() < 1e-8, torch.full_like(depth, 1e-8), depth)
    uv = torch.einsum("bij,bnj->bni", K[:, :2, :2], cam[..., :2] / safe[..., None]) + K[:, None, :2, 2]
    return uv, depth


def coarse_zbuffer(cells: Tensor, depth: Tensor, valid: Tensor, size: int) -> Tensor:
    """``[B, size * size]`` minimum ``depth [B, N]`` of the ``valid [B, N]`` points per cell
    (``cells [B, N]`` flat cell indices; ``inf`` where a cell has none)."""
    zbuf = torch.full((depth.shape[0], size * size), float("inf"), dtype=depth.dtype, device=depth.device)
    masked = torch.where(valid, depth, torch.full_like(depth, float("inf")))
    return zbuf.scatter_reduce(1, cells, masked, "amin")


def image_cells(pixels: Tensor, width: int, height: int, size: int) -> tuple[Tensor, Tensor]:
    """``(cells [B, N], inside [B, N])``: each pixel position's cell of a ``size x size`` grid over a
    ``width x height`` image, and whether it falls inside the image."""
    x, y = pixels[..., 0] / width, pixels[..., 1] / height
    inside = (x >= 0) & (x < 1) & (y >= 0) & (y < 1)
    cx = (x * size).floor().clamp(0, size - 1).long()
    cy = (y * size).floor().clamp(0, size - 1).long()
    return cy * size + cx, inside


@torch.no_grad()
def visible_points(points: Tensor, normals: Tensor, surface: Tensor, surface_normals: Tensor, c2w: Tensor, K: Tensor,
                   width: int, height: int, size: int, tolerance: float) -> tuple[Tensor, Tensor]:
    """Which ``points [B, N, 3]`` (with ``normals [B, N, 3]``) the camera sees, against the
    occluding ``surface [B, M, 3]`` points (with ``surface_normals``): in the image, facing the
    camera and within ``tolerance`` (m) of the coarse z-buffer of the surface points that face it.
    Returns ``(visible [B, N] bool, pixels [B, N, 2])``."""
    centre = c2w[:, None, :3, 3]
    sp, sd = project_points(surface, c2w, K)
    s_cells, s_inside = image_cells(sp, width, height, size)
    s_facing = ((centre - surface) * surface_normals).sum(-1) > 0
    zbuf = coarse_zbuffer(s_cells, sd, s_inside & s_facing & (sd > 0), size)
    pix, depth = project_points(points, c2w, K)
    cells, inside = image_cells(pix, width, height, size)
    facing = ((centre - points) * normals).sum(-1) > 0
    front = depth <= torch.gather(zbuf, 1, cells) + tolerance
    return inside & facing & (depth > 0) & front, pix


def sample_at(image: Tensor, pixels: Tensor, width: int, height: int) -> Tensor:
    """Bilinear samples ``[B, N, C]`` of ``image [B, C, h, w]`` at ``pixels [B, N, 2]`` given in a
    ``width x height`` pixel frame (the map may have another resolution; borders are clamped)."""
    grid = torch.stack([pixels[..., 0] / width, pixels[..., 1] / height], -1) * 2.0 - 1.0
    out = F.grid_sample(image, grid[:, None].to(image.dtype), mode="bilinear", padding_mode="border", align_corners=False)
    return out[:, :, 0].transpose(1, 2)


def scatter_to_map(values: Tensor, texel: Tensor, resolution: int) -> Tensor:
    """``values [B, M, C]`` at flat ``texel [M]`` → ``[B, C, R, R]`` map (zeros elsewhere)."""
    b, _, c = values.shape
    out = values.new_zeros(b, resolution * resolution, c)
    out = out.index_copy(1, texel, values)
    return out.transpose(1, 2).reshape(b, c, resolution, resolution)


def gather_from_map(maps: Tensor, texel: Tensor) -> Tensor:
    """``[B, C, R, R]`` map → ``[B, M, C]`` values at flat ``texel [M]``."""
    return maps.flatten(2).index_select(2, texel).transpose(1, 2)
