"""Midpoint subdivision of a FLAME-format model (dense Gaussian anchors, as LAM does).

Each triangle ``(a, b, c)`` becomes four: ``(a, ab, ca)``, ``(ab, b, bc)``, ``(ca, bc, c)``,
``(ab, bc, ca)``, where ``ab`` is the new vertex on edge ``a-b``. Children of face ``f`` are faces
``4f .. 4f + 3``, in that order. New vertex ``V + e`` sits on edge ``e`` and gets the average of
the edge's endpoints for every per-vertex attribute. One subdivision of FLAME (5,023 vertices,
9,976 faces) gives 20,018 vertices.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass

import torch
from torch import Tensor

from emoctl.errors import ShapeError
from emoctl.flame.data import FlameModelData, validate_model_data


@dataclass(frozen=True)
class MidpointSubdivision:
    """Topology of one midpoint subdivision step.

    ``edges [E, 2]``: the endpoints (``edges[:, 0] < edges[:, 1]``) of the edge new vertex
    ``num_vertices + e`` came from; ``faces [4F, 3]``: the subdivided faces;
    ``face_edges [F, 3]``: edge ids of each original face's edges ``(a-b, b-c, c-a)``.
    """

    num_vertices: int
    edges: Tensor
    faces: Tensor
    face_edges: Tensor

    @property
    def num_new_vertices(self) -> int:
        return self.num_vertices + int(self.edges.shape[0])

    def upsample(self, values: Tensor) -> Tensor:
        """Per-vertex values ``[V, ...]`` -> ``[V + E, ...]`` (new vertices: edge averages)."""
        if values.shape[0] != self.num_vertices:
            raise ShapeError(f"upsample expects {self.num_vertices} rows, got shape {list(values.shape)}")
        out = values.new_empty((self.num_new_vertices, *values.shape[1:]))
        out[: self.num_vertices] = values
        mid = out[self.num_vertices :]
        torch.index_select(values, 0, self.edges[:, 0], out=mid)
        mid.add_(values.index_select(0, self.edges[:, 1])).mul_(0.5)
        return out


def midpoint_subdivision(faces: Tensor, num_vertices: int) -> MidpointSubdivision:
    """Subdivide a triangle mesh's topology: unique edges, and the 4 children of every face."""
    if faces.dim() != 2 or faces.shape[1] != 3:
        raise ShapeError(f"faces must have shape [F, 3], got {list(faces.shape)}")
    faces = faces.to(torch.int64)
    f = faces.shape[0]
    corner_pairs = torch.stack([faces, faces.roll(-1, dims=1)], dim=-1).reshape(-1, 2)  # a-b, b-c, c-a
    lo = corner_pairs.min(dim=1).values
    hi = corner_pairs.max(dim=1).values
    keys = lo * num_vertices + hi
    unique_keys, inverse = torch.unique(keys, sorted=True, return_inverse=True)
    edges = torch.stack([unique_keys // num_vertices, unique_keys % num_vertices], dim=1)
    face_edges = inverse.reshape(f, 3)
    ab, bc, ca = (face_edges + num_vertices).unbind(dim=1)
    a, b, c = faces.unbind(dim=1)
    children = torch.stack(
        [
            torch.stack([a, ab, ca], dim=1),
            torch.stack([ab, b, bc], dim=1),
            torch.stack([ca, bc, c], dim=1),
            torch.stack([ab, bc, ca], dim=1),
        ],
        dim=1,
    ).reshape(4 * f, 3)
    return MidpointSubdivision(num_vertices=num_vertices, edges=edges, faces=children, face_edges=face_edges)


def remap_barycentric(face_idx: Tensor, bary: Tensor) -> tuple[Tensor, Tensor]:
    """Points ``(face, (w_a, w_b, w_c))`` on the coarse mesh -> the same points on the children.

    Corner child ``k`` (``k`` = 0, 1, 2) contains the point when ``w_k >= 1/2``; otherwise the
    centre child does. The new barycentric coordinates reproduce the same point exactly.
    """
    w = bary
    wa, wb, wc = w.unbind(dim=1)
    one = torch.ones_like(wa)
    candidates = torch.stack(
        [
            torch.stack([2 * wa - one, 2 * wb, 2 * wc], dim=1),  # (a, ab, ca)
            torch.stack([2 * wa, 2 * wb - one, 2 * wc], dim=1),  # (ab, b, bc)
            torch.stack([2 * wa, 2 * wb, 2 * wc - one], dim=1),  # (ca, bc, c)
            torch.stack([one - 2 * wc, one - 2 * wa, one - 2 * wb], dim=1),  # (ab, bc, ca)
        ],
        dim=1,
    )  # [L, 4, 3]
    child = torch.full_like(face_idx, 3)
    for k, wk in ((2, wc), (1, wb), (0, wa)):  # first corner with w_k >= 1/2 wins
        child = torch.where(wk >= 0.5, torch.full_like(child, k), child)
    new_bary = candidates[torch.arange(w.shape[0]), child]
    return face_idx * 4 + child, new_bary


def _subdivide_once(data: FlameModelData) -> tuple[FlameModelData, Tensor]:
    topo = midpoint_subdivision(data.faces, data.num_vertices)
    up = topo.upsample
    v, e = data.num_vertices, topo.edges.shape[0]
    j_reg = torch.cat([data.J_regressor, data.J_regressor.new_zeros(data.J_regressor.shape[0], e)], dim=1)
    uvs, faces_uv = data.uvs, data.faces_uv
    if uvs is not None and faces_uv is not None:  # on the UV mesh: seams keep their separate UV vertices
        uv_topo = midpoint_subdivision(faces_uv, uvs.shape[0])
        uvs, faces_uv = uv_topo.upsample(uvs), uv_topo.faces
    lmk_idx, lmk_bary = data.lmk_faces_idx, data.lmk_bary_coords
    if lmk_idx is not None and lmk_bary is not None:
        lmk_idx, lmk_bary = remap_barycentric(lmk_idx, lmk_bary)
    out = dataclasses.replace(
        data,
        v_template=up(data.v_template),
        shapedirs=up(data.shapedirs),
        exprdirs=up(data.exprdirs),
        posedirs=up(data.posedirs),
        J_regressor=j_reg,
        parents=data.parents.clone(),
        lbs_weights=up(data.lbs_weights),
        faces=topo.faces,
        uvs=uvs,
        faces_uv=faces_uv,
        lmk_faces_idx=lmk_idx,
        lmk_bary_coords=lmk_bary,
        regions={name: up(mask) for name, mask in data.regions.items()},
        landmark_names=list(data.landmark_names),
        expression_components=list(data.expression_components),
    )
    assert out.num_vertices == v + e
    return out, topo.edges


def subdivide(data: FlameModelData, times: int = 1, *, return_edges: bool = False):
    """Midpoint-subdivide a model ``times`` times (each triangle -> 4, V -> V + E per step).

    Every per-vertex attribute (template, shape/expression blendshapes, posedirs, skinning
    weights, regions) of a new vertex is the average of its edge's endpoints; ``J_regressor``
    gets zero columns (joints unchanged); UVs are subdivided on the UV mesh (``faces_uv``), so
    seams stay seams; landmarks move to the child face containing them, with recomputed
    barycentric coordinates (same rest-pose point). With ``return_edges=True`` also returns a
    list with one ``[E_k, 2]`` tensor per step: new vertex ``V_k + i`` of step ``k`` came from
    edge ``edges[k][i]`` (indices into step ``k``'s input vertices).
    """
    if isinstance(times, bool) or not isinstance(times, int) or times < 0:
        raise ShapeError(f"subdivide: times must be a non-negative int, got {times!r}")
    validate_model_data(data)
    all_edges: list[Tensor] = []
    out = data
    for _ in range(times):
        out, edges = _subdivide_once(out)
        all_edges.append(edges)
    if out is data:
        out = data.to()
    return (out, all_edges) if return_edges else out
