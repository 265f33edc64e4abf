"""Generic triangle-mesh helpers: a latitude-longitude sphere, vertex normals, edge lengths.

The sphere (numpy) is the eyeballs and mouth pouch of the synthetic head
(:mod:`emoctl.synthetic.head_model.mesh`); the normals and edge lengths (torch, batched) shade and
size the Gaussians of :mod:`emoctl.synthetic.avatar` on posed vertices.
"""

from __future__ import annotations

import numpy as np
import torch
from torch import Tensor


def uv_sphere(n_lat: int, n_lon: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Unit latitude-longitude sphere around +z: vertices ``[2 + n_lat * n_lon, 3]`` (front pole
    ``(0, 0, 1)`` first, then ``n_lat`` rings of ``n_lon`` vertices, back pole last), outward
    triangles ``[F, 3]`` (int64, ``F = 2 * n_lat * n_lon``), and each vertex's angle from the front
    pole ``[2 + n_lat * n_lon]``."""
    polar = np.linspace(0, np.pi, n_lat + 2)[1:-1]
    az = np.linspace(0, 2 * np.pi, n_lon, endpoint=False)
    pp, aa = np.meshgrid(polar, az, indexing="ij")
    ring = np.stack([np.sin(pp) * np.cos(aa), np.sin(pp) * np.sin(aa), np.cos(pp)], axis=-1).reshape(-1, 3)
    verts = np.concatenate([[[0, 0, 1.0]], ring, [[0, 0, -1.0]]])
    angle = np.concatenate([[0.0], pp.reshape(-1), [np.pi]])
    idx = 1 + np.arange(n_lat * n_lon).reshape(n_lat, n_lon)
    back = 1 + n_lat * n_lon
    faces = []
    for k in range(n_lon):
        k1 = (k + 1) % n_lon
        faces.append([0, idx[0, k], idx[0, k1]])
        for i in range(n_lat - 1):
            faces.append([idx[i, k], idx[i + 1, k], idx[i + 1, k1]])
            faces.append([idx[i, k], idx[i + 1, k1], idx[i, k1]])
        faces.append([idx[-1, k], back, idx[-1, k1]])
    return verts, np.array(faces, dtype=np.int64), angle


def vertex_normals(vertices: Tensor, faces: Tensor) -> Tensor:
    """Area-weighted unit vertex normals ``[..., V, 3]`` of ``vertices [..., V, 3]`` (outward for
    counter-clockwise ``faces [F, 3]``)."""
    a, b, c = (vertices[..., faces[:, k], :] for k in range(3))
    face_normals = torch.linalg.cross(b - a, c - a)  # [..., F, 3], length = 2 * area
    normals = torch.zeros_like(vertices)
    for k in range(3):
        normals.index_add_(-2, faces[:, k], face_normals)
    return normals / normals.norm(dim=-1, keepdim=True).clamp_min(1e-12)


def mean_edge_length(vertices: Tensor, faces: Tensor) -> Tensor:
    """Mean length ``[..., V]`` of the edges around each vertex of ``vertices [..., V, 3]``
    (each face corner contributes its two incident edges)."""
    a, b, c = (vertices[..., faces[:, k], :] for k in range(3))
    ab, bc, ca = (b - a).norm(dim=-1), (c - b).norm(dim=-1), (a - c).norm(dim=-1)  # [..., F]
    total = torch.zeros(vertices.shape[:-1], dtype=vertices.dtype, device=vertices.device)
    count = torch.zeros(vertices.shape[-2], dtype=vertices.dtype, device=vertices.device)
    ones = torch.ones(faces.shape[0], dtype=vertices.dtype, device=vertices.device)
    for idx, incident in ((faces[:, 0], ab + ca), (faces[:, 1], ab + bc), (faces[:, 2], bc + ca)):
        total.index_add_(-1, idx, incident)
        count.index_add_(0, idx, 2.0 * ones)
    return total / count.clamp_min(1.0)
