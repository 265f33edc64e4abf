"""The synthetic head's inner parts: eyeballs, and the mouth interior (a dark cavity, two rows of
teeth and a tongue).

Every part is a small triangle mesh (numpy, metres) that :mod:`~emoctl.synthetic.head_model.mesh`
appends to the skin; the skinning (:func:`~emoctl.synthetic.head_model.fields.skinning_weights`)
carries the upper teeth with the head (neck joint) and the lower teeth and tongue with the jaw,
like the lower lip, so parted lips show teeth and a closed mouth hides them. Triangles face
outward (towards a viewer looking into the mouth for the teeth and the tongue; away from the
cavity's centre for the cavity, so its inside, which is what shows, is unlit and dark).

- eyeballs: latitude rings around the front pole, dense over the iris (its edge falls on a ring)
  and sparse at the back;
- cavity: the back of an ellipsoid, open towards the lips (a cup), as wide as the widest smile;
- teeth: each row a strip along an elliptic dental arch, with a column at every tooth's centre
  and at every gap between neighbouring teeth (central and lateral incisors, canines, first
  premolars), three rows from the biting edge to the gums; the lower row sits behind the upper
  one (overjet) and its edge above the upper edge (overbite);
- tongue: a domed fan on the floor of the mouth, its tip behind the lower incisors.

The cavity and the tongue keep several millimetres clear of the skin: Gaussians are composited in
the order of their centres' depth, so a large one close behind the skin would tint it.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from emoctl.synthetic.head_model.surface import HeadLayout

PIECE_NONE, PIECE_CAVITY, PIECE_UPPER_TEETH, PIECE_LOWER_TEETH, PIECE_TONGUE = 0, 1, 2, 3, 4

#: Polar angles (from the front pole) of the eyeball's rings: dense over the iris, sparse behind.
EYEBALL_RINGS: tuple[float, ...] = (0.10, 0.20, 0.31, 0.42, 0.50, 0.58, 0.70, 0.88, 1.15, 1.7)
#: Arc positions (metres from the midline along the arch) of the upper teeth's columns on one side:
#: gap, central incisor, gap, lateral incisor, gap, canine, gap, first premolar, gap.
UPPER_TEETH_ARC: tuple[float, ...] = (0.0, 0.00425, 0.0085, 0.01175, 0.0150, 0.01875, 0.0225, 0.0260, 0.0295)
#: Which of those columns lie between two teeth (shaded darker).
TEETH_GAP: tuple[bool, ...] = (True, False, True, False, True, False, True, False, True)
OVERJET, OVERBITE = 0.0025, 0.0025


@dataclass
class Piece:
    """One inner part: ``points [n, 3]``, outward ``faces [f, 3]`` (local indices), ``uv [n, 2]`` in
    ``[0, 1]^2`` (local; the caller places it in the atlas), ``kind`` (``PIECE_*``) and ``shade [n]``
    (teeth: 1 on a tooth, lower between teeth and towards the gums; 1 elsewhere)."""

    points: np.ndarray
    faces: np.ndarray
    uv: np.ndarray
    kind: int
    shade: np.ndarray


def ring_sphere(polar: np.ndarray, n_lon: int, front_pole: bool = True) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Unit sphere around +z from latitude rings at the given ``polar`` angles (increasing, in
    (0, pi)): vertices (front pole first when ``front_pole``, then the rings of ``n_lon`` vertices,
    the back pole last), outward triangles (int64) and each vertex's angle from the front pole.
    Without the front pole the sphere is open around it (a cup)."""
    polar = np.asarray(polar, dtype=np.float64)
    az = np.linspace(0, 2 * np.pi, n_lon, endpoint=False)
    pp, aa = np.meshgrid(polar, az, indexing="ij")
    ring = np.stack([np.sin(pp) * np.cos(aa), np.sin(pp) * np.sin(aa), np.cos(pp)], axis=-1).reshape(-1, 3)
    head = [[0.0, 0.0, 1.0]] if front_pole else np.zeros((0, 3))
    verts = np.concatenate([head, ring, [[0.0, 0.0, -1.0]]])
    angle = np.concatenate([[0.0] if front_pole else [], pp.reshape(-1), [np.pi]])
    first = 1 if front_pole else 0
    idx = first + np.arange(len(polar) * n_lon).reshape(len(polar), n_lon)
    back = len(verts) - 1
    faces = []
    for k in range(n_lon):
        k1 = (k + 1) % n_lon
        if front_pole:
            faces.append([0, idx[0, k], idx[0, k1]])
        for i in range(len(polar) - 1):
            faces.append([idx[i, k], idx[i + 1, k], idx[i + 1, k1]])
            faces.append([idx[i, k], idx[i + 1, k1], idx[i, k1]])
        faces.append([idx[-1, k], back, idx[-1, k1]])
    return verts, np.array(faces, dtype=np.int64), angle


def eyeball(n_lon: int = 16) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Unit eyeball around +z (:data:`EYEBALL_RINGS`): ``(vertices, faces, polar angle)``."""
    return ring_sphere(np.array(EYEBALL_RINGS), n_lon)


def disc_uv(unit: np.ndarray, angle: np.ndarray) -> np.ndarray:
    """Azimuthal-equidistant UVs in ``[0, 1]^2`` around the pole that ``angle`` is measured from."""
    rho = angle / np.pi * 0.5
    psi = np.arctan2(unit[:, 1], unit[:, 0])
    return np.stack([0.5 + rho * np.cos(psi), 0.5 + rho * np.sin(psi)], -1)


def cavity(lip: np.ndarray, L: HeadLayout) -> Piece:
    """The mouth cavity behind the lip line's centre ``lip [3]``: the back of an ellipsoid (open
    over its front 70 degrees) as wide as the widest smile, its lower half drawn in and back so
    that it keeps clear of the skin of the chin and jaw (its Gaussians are large)."""
    radii = np.array([1.15 * L.mouth_half_width, 0.012, 0.018])
    center = lip + np.array([0.0, -0.002, -L.teeth_depth - 0.020])
    unit, faces, angle = ring_sphere(np.array([1.22, 1.6, 2.05, 2.6]), 16, front_pole=False)
    low = np.clip(-unit[:, 1], 0.0, 1.0)
    points = center + radii * unit * np.stack([1.0 - 0.3 * low, np.ones_like(low), np.ones_like(low)], -1)
    points[:, 2] -= 0.006 * low
    return Piece(points, faces, disc_uv(unit, np.pi - angle), PIECE_CAVITY, np.ones(len(unit)))


def _arch(arc: np.ndarray, half_width: float, depth: float) -> tuple[np.ndarray, np.ndarray]:
    """``(x, z back from the front)`` of points at arc lengths ``arc`` (signed) along the ellipse
    ``x = half_width sin t, z = -depth (1 - cos t)``."""
    t = np.linspace(0.0, 0.5 * np.pi, 2001)
    dx, dz = half_width * np.cos(t), depth * np.sin(t)
    s = np.concatenate([[0.0], np.cumsum(0.5 * (np.hypot(dx[1:], dz[1:]) + np.hypot(dx[:-1], dz[:-1])) * np.diff(t))])
    ta = np.interp(np.abs(arc), s, t)
    return np.sign(arc) * half_width * np.sin(ta), -depth * (1.0 - np.cos(ta))


def teeth_row(lip: np.ndarray, L: HeadLayout, upper: bool) -> Piece:
    """A row of teeth behind the lip line's centre ``lip [3]``: columns along the arch at
    :data:`UPPER_TEETH_ARC` (mirrored; the lower teeth are narrower), rows from the biting edge
    (upper: ``teeth_show`` below the lip line, rising slightly towards the canines like a smile
    line; lower: ``OVERBITE`` above the upper edge) to the gums; the crowns bulge forward a little."""
    half = np.array(UPPER_TEETH_ARC)
    arc = np.concatenate([-half[:0:-1], half]) * (1.0 if upper else 0.82)
    gap = np.array(TEETH_GAP[:0:-1] + TEETH_GAP)
    front_z = lip[2] - L.teeth_depth - (0.0 if upper else OVERJET)
    x, back = _arch(arc, L.arch_half_width - (0.0 if upper else OVERJET), L.arch_depth)
    edge = -L.teeth_show + 0.0015 * (arc / half[-1]) ** 2
    if upper:
        rows, shade_rows, bulge = (edge, edge + 0.0040, edge + 0.0085), (0.97, 1.0, 0.8), (0.0, 0.0006, 0.0)
    else:
        rows, shade_rows, bulge = (edge + OVERBITE, edge + OVERBITE - 0.0040, edge + OVERBITE - 0.0080), (0.9, 0.85, 0.65), (0.0, 0.0005, 0.0)
    pts, uv, shade = [], [], []
    for r, (dy, s_row, b) in enumerate(zip(rows, shade_rows, bulge)):
        tilt = -0.15 * (dy - rows[0]) if upper else 0.1 * (dy - rows[0])  # crowns lean back towards the gums
        pts.append(np.stack([x, lip[1] + dy, front_z + back + b + tilt], -1))
        uv.append(np.stack([np.linspace(0, 1, len(arc)), np.full(len(arc), r / (len(rows) - 1))], -1))
        shade.append(s_row * np.where(gap, 0.75, 1.0))
    n = len(arc)
    faces = []
    for r in range(len(rows) - 1):
        for j in range(n - 1):
            a, b, c, d = r * n + j, r * n + j + 1, (r + 1) * n + j + 1, (r + 1) * n + j
            faces += [[a, b, c], [a, c, d]] if upper else [[a, c, b], [a, d, c]]  # normals towards +z
    return Piece(np.concatenate(pts), np.array(faces, dtype=np.int64), np.concatenate(uv), PIECE_UPPER_TEETH if upper else PIECE_LOWER_TEETH,
                 np.concatenate(shade))  # fmt: skip


def tongue(lip: np.ndarray, L: HeadLayout) -> Piece:
    """A domed fan on the floor of the mouth: tip behind the lower incisors, 5 mm below the lip
    line, 32 mm wide (dense enough for small Gaussians: it lies close behind the lower lip)."""
    rx, rz, n_rings, n_fan = 0.016, 0.022, 4, 9
    tip_z = lip[2] - L.teeth_depth - OVERJET - 0.003
    center = np.array([0.0, lip[1] - 0.005, tip_z - rz])
    rho = np.repeat(np.arange(1, n_rings + 1) / n_rings, n_fan)
    psi = np.tile(np.linspace(-0.6 * np.pi, 0.6 * np.pi, n_fan), n_rings)
    local = np.concatenate([[[0.0, 0.0]], np.stack([rho * np.sin(psi), rho * np.cos(psi)], -1)])
    r2 = np.sum(local**2, axis=-1)
    pts = np.stack([center[0] + rx * local[:, 0], center[1] + 0.002 * (1.0 - 2.0 * r2), center[2] + rz * local[:, 1]], -1)
    faces = [[0, 1 + k, 2 + k] for k in range(n_fan - 1)]  # normals up
    for ring in range(n_rings - 1):
        for k in range(n_fan - 1):
            a, b = 1 + n_fan * ring + k, 2 + n_fan * ring + k
            faces += [[a, b + n_fan, b], [a, a + n_fan, b + n_fan]]
    return Piece(pts, np.array(faces, dtype=np.int64), 0.5 + 0.5 * local, PIECE_TONGUE, np.ones(len(pts)))


def mouth_pieces(lip: np.ndarray, L: HeadLayout) -> list[Piece]:
    """The cavity, the upper and lower teeth and the tongue behind the lip line's centre ``lip [3]``."""
    return [cavity(lip, L), teeth_row(lip, L, upper=True), teeth_row(lip, L, upper=False), tongue(lip, L)]
