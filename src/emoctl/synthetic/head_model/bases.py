"""Blendshape bases of the synthetic head: 300 shape components and the pose correctives, and
the per-vertex context (:class:`FieldContext`) every field is written with (the 100 expression
components are in :mod:`~emoctl.synthetic.head_model.expressions`).

All fields are displacements in metres per unit coefficient, ``[V, 3]``, left/right symmetric
(or antisymmetric for some random tail components). Shape fields move the eyeballs and the pouch
rigidly with the skin around them, so eyes stay in their fissures.
"""

from __future__ import annotations

import numpy as np

from emoctl.synthetic.head_model.fields import Anchors, Frames, blob, fissure_window, lip_distance
from emoctl.synthetic.head_model.mesh import PART_EYE_LEFT, PART_EYE_RIGHT, PART_MOUTH, PART_SKIN, HeadMesh, abs_azimuth
from emoctl.synthetic.head_model.surface import gauss, smoothstep

#: The named (interpretable) shape components, in order (indices 0..19).
SHAPE_COMPONENTS: tuple[str, ...] = (
    "head_width", "head_length", "skull_height", "face_length", "jaw_width", "nose_size", "nose_length",
    "cheek_fullness", "brow_ridge", "chin_protrusion", "eye_spacing", "mouth_width", "lip_fullness",
    "forehead_slope", "ear_size", "neck_thickness", "cheekbone_width", "eye_depth", "nose_width", "overall_scale",
)  # fmt: skip


class FieldContext:
    """Per-vertex quantities the blendshape fields (shape, expression, pose) are written with."""

    def __init__(self, mesh: HeadMesh, frames: Frames, anchors: Anchors):
        self.mesh, self.f, self.A, self.L = mesh, frames, anchors, mesh.layout
        self.P = mesh.points
        self.x, self.y, self.z = self.P[:, 0], self.P[:, 1], self.P[:, 2]
        self.skin = (mesh.part == PART_SKIN).astype(float)
        self.front = smoothstep(0.0, 0.03, self.z) * self.skin
        r = np.linalg.norm(self.P - mesh.layout.origin, axis=1)
        self.below_mouth = r * (np.nan_to_num(mesh.grid_row_theta) - mesh.frame.theta_mouth)
        self.below_eye = r * (np.nan_to_num(mesh.grid_row_theta) - mesh.frame.theta_eye)
        self.abs_phi = abs_azimuth(mesh.phi)
        self.in_mouth = np.clip(1.0 - (self.abs_phi / mesh.frame.phi_mouth_corner) ** 2, 0.0, 1.0)
        self.corner = self.P[anchors.mouth_corner]
        self.eye = anchors.eye_center
        self.inner = self.P[anchors.inner_canthus]
        self.outer = self.P[anchors.outer_canthus]
        self.lip_q = lip_distance(self.P, anchors)
        self.above_eye = self.skin * (mesh.eye_side < 0)
        self.below_eye_side = self.skin * (mesh.eye_side > 0)
        self.fissure = fissure_window(mesh)

    def tangent(self, up: float | np.ndarray = 0.0, lateral: float | np.ndarray = 0.0, normal: float | np.ndarray = 0.0) -> np.ndarray:
        def col(v: float | np.ndarray) -> np.ndarray:
            return np.asarray(v, dtype=float).reshape(-1, 1) if np.ndim(v) else np.asarray(v, dtype=float)

        return col(up) * self.f.up + col(lateral) * self.f.lateral + col(normal) * self.f.normal

    def blob(self, cx: float, cy: float, sx: float, sy: float) -> np.ndarray:
        return blob(self.P, cx, cy, sx, sy) * self.front

    def mouth_line_continuity(self) -> np.ndarray:
        """1 away from the mouth line; on the line, 1 only inside the slit (so one-sided fields
        stay continuous beyond the corners)."""
        return np.maximum(self.in_mouth, 1.0 - np.exp(-((self.below_mouth / 0.003) ** 2)))


def _mirror_x(v: np.ndarray) -> np.ndarray:
    return v * np.array([-1.0, 1.0, 1.0])


def _rigid_followers(mesh: HeadMesh, field: np.ndarray) -> np.ndarray:
    """Move eyeballs and the mouth pouch rigidly with the mean displacement of their fissure/slit."""
    out = field.copy()
    for pid, row in ((PART_EYE_LEFT, mesh.eye_row), (PART_EYE_RIGHT, mesh.eye_row), (PART_MOUTH, mesh.mouth_row)):
        idx = np.where(mesh.part == pid)[0]
        center = mesh.points[idx].mean(axis=0)
        ring = np.where((mesh.row == row) & (mesh.part == PART_SKIN))[0]
        ring = ring[np.argsort(np.linalg.norm(mesh.points[ring] - center, axis=1))[:12]]
        out[..., idx, :] = field[..., ring, :].mean(axis=-2, keepdims=True)
    return out


def semantic_shapes(mesh: HeadMesh, frames: Frames, anchors: Anchors) -> np.ndarray:
    """``[20, V, 3]``: the interpretable shape components, in :data:`SHAPE_COMPONENTS` order."""
    c = FieldContext(mesh, frames, anchors)
    L, P, x, y, z = c.L, c.P, c.x, c.y, c.z
    skin = c.skin[:, None]
    zero = np.zeros_like(P)

    def vec(dx=0.0, dy=0.0, dz=0.0) -> np.ndarray:
        out = zero.copy()
        out[:, 0], out[:, 1], out[:, 2] = dx, dy, dz
        return out

    def soft_min(a: np.ndarray, eps: float = 0.01) -> np.ndarray:
        return 0.5 * (a - np.sqrt(a * a + eps * eps))

    def soft_max(a: np.ndarray, eps: float = 0.01) -> np.ndarray:
        return 0.5 * (a + np.sqrt(a * a + eps * eps))

    nose_mask = smoothstep(0.0, 0.004, mesh.nose_height)
    nose_center = np.array([0.0, 0.5 * (L.nasion_y + L.nose_base_y), P[anchors.nose_tip, 2] - 0.012])
    ear_mask = smoothstep(0.0, 0.004, mesh.ear_height)
    ear_center = np.array([np.sign(x) * (L.skull_rx + 0.005), np.full_like(x, L.ear_y), np.full_like(x, L.ear_z)]).T
    neck = smoothstep(-0.07, -0.11, y)
    fields = {
        "head_width": vec(dx=0.06 * x),
        "head_length": vec(dz=0.07 * soft_min(z + 0.02)),
        "skull_height": vec(dy=0.06 * soft_max(y - 0.03)),
        "face_length": vec(dy=0.07 * soft_min(np.maximum(y, L.chin_y - 0.02) - c.eye[1])),
        "jaw_width": vec(dx=0.08 * x * smoothstep(c.A.mouth_y + 0.02, c.A.mouth_y - 0.02, y) * (1 - neck)),
        "nose_size": 0.15 * (P - nose_center) * nose_mask[:, None],
        "nose_length": c.tangent(normal=0.003 * nose_mask * smoothstep(L.nasion_y, L.nose_tip_y, y)),
        "cheek_fullness": c.tangent(normal=0.003 * c.blob(L.cheek_x, L.cheek_y, 0.02, 0.018)),
        "brow_ridge": c.tangent(normal=0.002 * c.blob(0.025, L.brow_y, 0.02, 0.006)),
        "chin_protrusion": vec(dz=0.003 * c.blob(0.0, L.chin_y, 0.02, 0.015)),
        "eye_spacing": vec(dx=0.002 * np.sign(x) * c.blob(c.eye[0], c.eye[1], 0.012, 0.012)),
        "mouth_width": vec(dx=0.12 * x * c.blob(0.0, c.A.mouth_y, 0.03, 0.012)),
        "lip_fullness": c.tangent(normal=0.0015 * smoothstep(1.2, 0.7, c.lip_q) * c.front),
        "forehead_slope": vec(dz=0.004 * smoothstep(L.brow_y, L.brow_y + 0.05, y) * c.front),
        "ear_size": 0.2 * (P - ear_center) * ear_mask[:, None],
        "neck_thickness": vec(dx=0.08 * x * neck, dz=0.08 * (z - L.neck_center_z) * neck),
        "cheekbone_width": vec(dx=0.004 * np.sign(x) * c.blob(L.cheekbone_x, L.cheekbone_y, 0.014, 0.014)),
        "eye_depth": c.tangent(normal=-0.002 * c.blob(c.eye[0], c.eye[1], 0.012, 0.011)),
        "nose_width": vec(dx=0.15 * x * nose_mask * smoothstep(L.nose_tip_y + 0.01, L.nose_base_y, y)),
        "overall_scale": 0.04 * (P - L.origin),
    }
    stacked = _rigid_followers(mesh, np.stack([fields[name] * skin for name in SHAPE_COMPONENTS]))
    stacked[SHAPE_COMPONENTS.index("overall_scale")] = fields["overall_scale"]  # exact scaling for every part
    return stacked


def shape_tail(mesh: HeadMesh, rng: np.random.Generator, count: int) -> np.ndarray:
    """``[count, V, 3]`` smooth random identity fields, mirror-symmetric, decaying amplitude.

    Component ``k`` is a sum of three Gaussian radial basis functions with random vector weights,
    plus its mirror image, scaled to a peak of ``3 mm * (20 / (20 + k))^0.8``; the widths shrink
    from about 6 cm to 1.5 cm along the tail (finer detail at higher index, as in a PCA).
    """
    P = mesh.points
    skin = mesh.part == PART_SKIN
    pool = P[skin]
    n_rbf = 3
    centers = pool[rng.choice(len(pool), count * n_rbf)]  # [K * 3, 3]
    width = 0.06 * (0.25 ** (np.arange(count) / max(count - 1, 1)))  # 6 cm -> 1.5 cm
    sigma = np.repeat(width, n_rbf) * rng.uniform(0.8, 1.25, count * n_rbf)
    coef = rng.standard_normal((count, n_rbf, 3))

    def basis(points: np.ndarray) -> np.ndarray:
        d2 = np.sum(points**2, axis=1)[:, None] - 2.0 * points @ centers.T + np.sum(centers**2, axis=1)[None]
        g = np.exp(-0.5 * np.maximum(d2, 0.0) / sigma[None] ** 2).reshape(len(points), count, n_rbf)
        return np.matmul(g.transpose(1, 0, 2), coef)  # [K, V, 3]

    field = basis(P) + _mirror_x(basis(_mirror_x(P)))
    peak = np.abs(field[:, skin]).max(axis=(1, 2))
    amp = 0.003 * (20.0 / (20.0 + np.arange(count))) ** 0.8
    field *= (amp / np.maximum(peak, 1e-9))[:, None, None]
    field[:, ~skin] = 0.0
    return _rigid_followers(mesh, field)


def pose_correctives(mesh: HeadMesh, frames: Frames, anchors: Anchors) -> np.ndarray:
    """``[V, 3, 36]``: small jaw correctives (mouth corners drawn in as the mouth opens)."""
    c = FieldContext(mesh, frames, anchors)
    posedirs = np.zeros((mesh.num_vertices, 3, 36))
    corners = c.blob(c.corner[0], c.corner[1], 0.008, 0.007)
    sin_feature = 9 * 1 + 3 * 2 + 1  # jaw joint (j = 2 -> block 1), (R - I)[2, 1] = sin(pitch)
    posedirs[:, :, sin_feature] = c.tangent(lateral=-0.004 * corners) * c.skin[:, None]
    return posedirs
