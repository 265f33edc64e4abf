"""The synthetic head's mesh: a warped latitude-longitude skin grid with a mouth slit and two eye
fissures, eyeballs, and the mouth's inner parts (cavity, teeth, tongue; see
:mod:`~emoctl.synthetic.head_model.interior`); faces, UVs and per-vertex bookkeeping.

Skin vertex ``(i, j)`` lies on row ``i`` (polar angle ``theta[i]``; the crown and the neck-bottom
poles are separate vertices) and column ``j`` (azimuth ``phi[j]``, ``phi = 0`` is the face's
midline, the columns are mirror-symmetric). Along the mouth slit and the eye fissures the row's
vertices are doubled: the original is the upper copy (used by faces above), the duplicate the
lower copy (used by faces below). The eye fissures are opened in the rest pose by moving upper
rows up and lower rows down in ``theta``; the mouth is closed at rest and opens when the jaw
rotates (the lower copies are skinned to the jaw).
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass

import numpy as np

from emoctl.synthetic.head_model.interior import PIECE_NONE, disc_uv, eyeball, mouth_pieces
from emoctl.synthetic.head_model.surface import FeatureFrame, HeadLayout, base_radius, directions, skin_points

PART_SKIN, PART_EYE_LEFT, PART_EYE_RIGHT, PART_MOUTH = 0, 1, 2, 3
UPPER_SKEW, LOWER_SKEW = -0.25, 0.2  # the upper lid's highest point lies nasal of centre, the lower's lowest temporal


@dataclass
class HeadMesh:
    """Geometry and bookkeeping of the synthetic head (numpy; positions float64, metres).

    Per-vertex arrays are ``[V]``; skin-only quantities are NaN / -1 / 0 on the spheres.
    """

    points: np.ndarray  # [V, 3]
    faces: np.ndarray  # [F, 3]
    uvs: np.ndarray  # [U, 2]
    faces_uv: np.ndarray  # [F, 3]
    part: np.ndarray  # PART_*
    theta: np.ndarray  # rest polar angle (eye fissures opened)
    phi: np.ndarray  # azimuth
    row: np.ndarray  # grid row (-1 top pole, R bottom pole)
    col: np.ndarray  # grid column
    mouth_side: np.ndarray  # -1 above the mouth line, +1 below, 0 on the line beyond the corners
    eye_side: np.ndarray  # the same for the eye line
    mirror: np.ndarray  # index of the mirror-image vertex (x -> -x)
    frame: FeatureFrame
    layout: HeadLayout
    grid_phi: np.ndarray  # [C] column angles
    mouth_row: int
    eye_row: int
    mouth_corner_col: int  # column of the left mouth corner (the right one is its mirror)
    eye_cols: tuple[int, int, int]  # left eye: columns of the inner canthus, centre, outer canthus
    grid_index: np.ndarray  # [R, C] vertex at each grid node (the upper copy on a slit)
    lower_copy: dict[int, int]  # upper-copy vertex -> lower-copy vertex along the slits
    sphere_front_pole: dict[int, int]  # eye part -> vertex
    sphere_back_pole: dict[int, int]
    sphere_polar: np.ndarray  # angle from the eyeball's front pole, NaN elsewhere
    grid_row_theta: np.ndarray  # polar angle of the vertex's row before the fissures opened
    nose_height: np.ndarray  # nose bump height on the skin
    ear_height: np.ndarray  # ear bump height on the skin
    piece: np.ndarray  # PIECE_* of the mouth's inner parts (cavity, teeth, tongue), PIECE_NONE elsewhere
    tooth_shade: np.ndarray  # teeth: 1 on a tooth, lower between teeth and towards the gums; 1 elsewhere

    @property
    def num_vertices(self) -> int:
        return int(self.points.shape[0])


def abs_azimuth(phi: np.ndarray) -> np.ndarray:
    """``|phi|`` of grid azimuths (in [-pi, pi], see :func:`grid_angles`); NaN, off the skin, becomes 0."""
    return np.abs(np.nan_to_num(phi))


def _warped_samples(n: int, lo: float, hi: float, density) -> np.ndarray:
    """``n + 1`` samples from ``lo`` to ``hi`` spaced inversely to ``density``."""
    fine = np.linspace(lo, hi, 4097)
    cum = np.concatenate([[0.0], np.cumsum(0.5 * (density(fine[1:]) + density(fine[:-1])) * np.diff(fine))])
    return np.interp(np.linspace(0.0, cum[-1], n + 1), cum, fine)


def grid_angles(n_rows: int, n_cols: int) -> tuple[np.ndarray, np.ndarray]:
    """Interior row angles ``[n_rows]`` (poles excluded) and mirror-symmetric columns ``[n_cols]``.

    Rows are densest over the face, and denser still across the lips and the eye fissures (at the
    reference proportions' mouth and eye heights), so the red of the lips and the lids have
    several rows each."""
    ref = HeadLayout()
    t_mouth, t_eye = _bisect_theta(ref, 0.0, ref.mouth_y), _bisect_theta(ref, 0.35, ref.eye_y)

    def row_density(t: np.ndarray) -> np.ndarray:
        face = 0.27 + 1.15 * np.exp(-(((t - 1.57) / 0.80) ** 6)) + 0.35 * np.exp(-(((t - 2.55) / 0.3) ** 2))
        forehead = 0.35 * np.exp(-(((t - 0.8) / 0.22) ** 2))
        return face + forehead + 1.1 * np.exp(-(((t - t_mouth) / 0.09) ** 2)) + 0.5 * np.exp(-(((t - t_eye) / 0.10) ** 2))

    theta = _warped_samples(n_rows + 1, 0.0, np.pi, row_density)[1:-1]
    half = _warped_samples(n_cols // 2, 0.0, np.pi, lambda p: 0.36 + 1.1 * np.exp(-((p / 0.8) ** 2)))
    phi = np.concatenate([half[:-1], [np.pi], -half[1:-1][::-1]])
    return theta, phi


def _bisect_theta(L: HeadLayout, phi: float, target_y: float) -> float:
    """Polar angle whose base-surface point at azimuth ``phi`` has height ``target_y``."""
    lo, hi = 0.2, np.pi - 0.2
    for _ in range(60):
        mid = 0.5 * (lo + hi)
        r = base_radius(np.array([mid]), np.array([phi]), L)[0]
        y = L.origin_y + r * np.cos(mid)
        lo, hi = (mid, hi) if y > target_y else (lo, mid)
    return 0.5 * (lo + hi)


def _azimuth_of_x(L: HeadLayout, theta: float, target_x: float) -> float:
    lo, hi = 0.0, 1.2
    for _ in range(60):
        mid = 0.5 * (lo + hi)
        p = L.origin + base_radius(np.array([theta]), np.array([mid]), L)[0] * directions(np.array([theta]), np.array([mid]))[0]
        lo, hi = (mid, hi) if p[0] < target_x else (lo, mid)
    return 0.5 * (lo + hi)


def fissure_profile(phi: np.ndarray, inner: float, outer: float, skew: float) -> np.ndarray:
    """Almond-shaped opening profile in [0, 1] over ``|phi|`` between the canthi, 0 outside."""
    t = (np.abs(phi) - 0.5 * (inner + outer)) / (0.5 * (outer - inner))
    base = np.clip(1.0 - t**2, 0.0, None) ** 2
    shaped = base * (1.0 + skew * t)
    peak = np.max(np.clip(1 - np.linspace(-1, 1, 401) ** 2, 0, None) ** 2 * (1 + skew * np.linspace(-1, 1, 401)))
    return np.clip(shaped / peak, 0.0, 1.0)


def open_theta(theta: np.ndarray, phi: np.ndarray, eye_side: np.ndarray, frame: FeatureFrame, r: float) -> np.ndarray:
    """Rest-pose polar angles with the eye fissures pulled open (upper rows up by up to
    ``frame.upper_opening``, lower rows down by up to ``frame.lower_opening``, metres along the skin)."""
    dist = r * np.abs(theta - frame.theta_eye)
    up = frame.upper_opening * fissure_profile(phi, frame.phi_eye_inner, frame.phi_eye_outer, UPPER_SKEW) * np.exp(-((dist / 0.0095) ** 2))
    down = frame.lower_opening * fissure_profile(phi, frame.phi_eye_inner, frame.phi_eye_outer, LOWER_SKEW) * np.exp(-((dist / 0.0065) ** 2))
    return theta - np.where(eye_side < 0, up, 0.0) / r + np.where(eye_side > 0, down, 0.0) / r


def _solve(f, target: float, lo: float, hi: float) -> float:
    """``x`` in ``[lo, hi]`` with ``f(x) = target`` for an increasing ``f`` (bisection)."""
    for _ in range(40):
        mid = 0.5 * (lo + hi)
        lo, hi = (mid, hi) if f(mid) < target else (lo, mid)
    return 0.5 * (lo + hi)


def _place_eyes(L: HeadLayout, frame: FeatureFrame, phi: np.ndarray) -> tuple[FeatureFrame, int]:
    """Eyeballs centred between the canthi with the pupil at ``eye_y``, the front pole
    ``eye_protrusion`` in front of the socket; then the lid openings that put the margins
    ``lid_above_pupil`` above and ``lid_below_pupil`` below the pupil at the pupil's column (returned
    with the frame)."""
    t_eye = frame.theta_eye
    canthi = skin_points(np.array([t_eye, t_eye]), np.array([frame.phi_eye_inner, frame.phi_eye_outer]), L, None).points
    cx = float(canthi[:, 0].mean())
    ph = _azimuth_of_x(L, t_eye, cx)
    th = _bisect_theta(L, ph, L.eye_y)
    ph = _azimuth_of_x(L, th, cx)
    socket = skin_points(np.array([th]), np.array([ph]), L, None).points[0]
    center = np.array([cx, L.eye_y, socket[2] + L.eye_protrusion - L.eyeball_radius])
    frame = dataclasses.replace(frame, eye_centers=np.stack([center, center * np.array([-1.0, 1.0, 1.0])]))
    r = float(np.linalg.norm(center - L.origin))
    slit = np.where((phi > frame.phi_eye_inner) & (phi < frame.phi_eye_outer))[0]
    j = int(slit[np.argmin(np.abs(phi[slit] - ph))])

    def margin_y(opening: float, skew: float, sign: float) -> float:
        t = t_eye + sign * opening * fissure_profile(phi[j : j + 1], frame.phi_eye_inner, frame.phi_eye_outer, skew) / r
        return float(skin_points(t, phi[j : j + 1], L, frame).points[0, 1])

    up = _solve(lambda o: margin_y(o, UPPER_SKEW, -1.0), L.eye_y + L.lid_above_pupil, 0.0, 0.02)
    down = _solve(lambda o: -margin_y(o, LOWER_SKEW, 1.0), -(L.eye_y - L.lid_below_pupil), 0.0, 0.02)
    return dataclasses.replace(frame, upper_opening=up, lower_opening=down), j


def build_frame(L: HeadLayout, theta: np.ndarray, phi: np.ndarray) -> tuple[FeatureFrame, int, int, int, tuple[int, int, int]]:
    """Snap the mouth line and eye fissures to grid rows/columns and place the eyeballs.

    Rows and columns are chosen on the reference proportions (:class:`HeadLayout` defaults), so
    every seed gives the same topology; the eyeballs and the lid openings are placed on the
    actual surface ``L``. The eye's centre column (``eye_cols[1]``) is the pupil's.
    """
    ref = HeadLayout()
    half_cols = np.where((phi >= 0) & (phi <= np.pi / 2))[0]
    nearest_row = lambda t: int(np.argmin(np.abs(theta - t)))  # noqa: E731
    nearest_col = lambda p: int(half_cols[np.argmin(np.abs(phi[half_cols] - p))])  # noqa: E731
    mouth_row = nearest_row(_bisect_theta(ref, 0.0, ref.mouth_y))
    eye_row = nearest_row(_bisect_theta(ref, 0.35, ref.eye_y))
    t_eye = theta[eye_row]
    j_mc = nearest_col(_azimuth_of_x(ref, theta[mouth_row], ref.mouth_half_width))
    j_in = nearest_col(_azimuth_of_x(ref, t_eye, ref.eye_x - ref.fissure_half_width))
    j_out = nearest_col(_azimuth_of_x(ref, t_eye, ref.eye_x + ref.fissure_half_width))
    if j_out - j_in < 4 or j_mc < 3:
        raise ValueError("synthetic head resolution too low for the eye fissure / mouth slit")
    provisional = FeatureFrame(
        theta_mouth=float(theta[mouth_row]),
        phi_mouth_corner=float(phi[j_mc]),
        theta_eye=float(t_eye),
        phi_eye_inner=float(phi[j_in]),
        phi_eye_outer=float(phi[j_out]),
        eye_centers=np.zeros((2, 3)),
    )
    frame, j_c = _place_eyes(L, provisional, phi)
    return frame, mouth_row, eye_row, j_mc, (j_in, j_c, j_out)


@dataclass
class _Skin:
    """Skin vertices before assembly: parameters, sides, and the grid's index tables."""

    theta: np.ndarray  # rest polar angle (fissures opened)
    grid_theta: np.ndarray  # polar angle of the row
    phi: np.ndarray
    row: np.ndarray
    col: np.ndarray
    mouth_side: np.ndarray
    eye_side: np.ndarray
    grid_index: np.ndarray  # [R, C] vertex above/at each node (the upper copy on a slit)
    below_index: np.ndarray  # [R, C] vertex used by faces below each node (the lower copy on a slit)
    lower_copy: dict[int, int]
    top: int
    bottom: int

    @property
    def count(self) -> int:
        return len(self.theta)


def _skin_vertices(L: HeadLayout, frame: FeatureFrame, theta: np.ndarray, phi: np.ndarray, mouth_row: int, eye_row: int,
                   j_mc: int, eye_cols: tuple[int, int, int]) -> _Skin:  # fmt: skip
    """Poles, grid nodes and the lower copies along the mouth slit and the eye fissures."""
    R, C = len(theta), len(phi)
    grid_index = np.arange(R * C).reshape(R, C) + 1
    top, bottom = 0, R * C + 1
    v_theta = [0.0, *np.repeat(theta, C), np.pi]
    v_phi = [0.0, *np.tile(phi, R), 0.0]
    v_row = [-1, *np.repeat(np.arange(R), C), R]
    v_col = [-1, *np.tile(np.arange(C), R), -1]
    abs_phi = abs_azimuth(phi)
    j_in, _, j_out = eye_cols
    mouth_slit = [j for j in range(C) if abs_phi[j] < phi[j_mc] - 1e-12]
    eye_slit = [j for j in range(C) if phi[j_in] + 1e-12 < abs_phi[j] < phi[j_out] - 1e-12]
    lower_copy: dict[int, int] = {}
    below_index = grid_index.copy()
    for row, cols in ((mouth_row, mouth_slit), (eye_row, eye_slit)):
        for j in cols:
            lower_copy[int(grid_index[row, j])] = len(v_theta)
            below_index[row, j] = len(v_theta)
            v_theta.append(theta[row])
            v_phi.append(phi[j])
            v_row.append(row)
            v_col.append(j)
    grid_theta, v_phi = np.array(v_theta), np.array(v_phi)
    v_row, v_col = np.array(v_row), np.array(v_col)
    is_lower = np.zeros(len(grid_theta), dtype=bool)
    is_lower[list(lower_copy.values())] = True

    def side(line_row: int, slit_cols: list[int]) -> np.ndarray:
        s = np.where(v_row < line_row, -1, np.where(v_row > line_row, 1, 0))
        on_slit = (v_row == line_row) & np.isin(v_col, slit_cols)
        return np.where(on_slit, np.where(is_lower, 1, -1), s)

    mouth_side, eye_side = side(mouth_row, mouth_slit), side(eye_row, eye_slit)
    r_eye = float(np.linalg.norm(frame.eye_centers[0] - L.origin))
    rest_theta = open_theta(grid_theta, v_phi, eye_side, frame, r_eye)
    rest_theta[[top, bottom]] = [0.0, np.pi]
    return _Skin(rest_theta, grid_theta, v_phi, v_row, v_col, mouth_side, eye_side, grid_index, below_index, lower_copy, top, bottom)


def _skin_faces(skin: _Skin) -> tuple[list, list, np.ndarray]:
    """Triangles (quads split with mirror-symmetric diagonals, pole fans) and UVs; the UV seam is
    at the back of the head (UV columns 0 and C are the same grid column)."""
    R, C = skin.grid_index.shape
    gi, bi = skin.grid_index, skin.below_index
    uv_grid = np.arange(R * (C + 1)).reshape(R, C + 1)
    grid_uv = np.stack(np.meshgrid(np.arange(C + 1) / C, 1.0 - (np.arange(R) + 1) / (R + 1), indexing="xy"), -1).reshape(-1, 2)
    pole_u = (np.arange(C) + 0.5) / C
    uvs = np.concatenate([grid_uv, np.stack([pole_u, np.ones(C)], -1), np.stack([pole_u, np.zeros(C)], -1)])
    pole_uv_top, pole_uv_bottom = R * (C + 1) + np.arange(C), R * (C + 1) + C + np.arange(C)
    col_of_k = (np.arange(C + 1) - C // 2) % C
    faces, faces_uv = [], []
    for k in range(C):
        j0, j1 = col_of_k[k], col_of_k[k + 1]
        faces.append([skin.top, gi[0, j0], gi[0, j1]])
        faces_uv.append([pole_uv_top[k], uv_grid[0, k], uv_grid[0, k + 1]])
        for i in range(R - 1):
            a, b, c, d = bi[i, j0], bi[i, j1], gi[i + 1, j1], gi[i + 1, j0]  # top-left, top-right, bottom-right, bottom-left
            ua, ub, uc, ud = uv_grid[i, k], uv_grid[i, k + 1], uv_grid[i + 1, k + 1], uv_grid[i + 1, k]
            if k >= C // 2:  # phi >= 0 (subject's left): diagonal top-left to bottom-right
                faces += [[a, d, c], [a, c, b]]
                faces_uv += [[ua, ud, uc], [ua, uc, ub]]
            else:  # mirrored diagonal
                faces += [[a, d, b], [b, d, c]]
                faces_uv += [[ua, ud, ub], [ub, ud, uc]]
        faces.append([bi[R - 1, j0], skin.bottom, bi[R - 1, j1]])
        faces_uv.append([uv_grid[R - 1, k], pole_uv_bottom[k], uv_grid[R - 1, k + 1]])
    uvs[:, 1] = 0.25 + 0.75 * uvs[:, 1]  # skin atlas in v in [0.25, 1]; sphere tiles below
    return faces, faces_uv, uvs


def _tile_uv(uv: np.ndarray, tile: tuple[float, float, float, float]) -> np.ndarray:
    """Local UVs ``[n, 2]`` in ``[0, 1]^2`` placed in the atlas rectangle ``(u0, u1, v0, v1)``."""
    u0, u1, v0, v1 = tile
    return np.stack([u0 + (u1 - u0) * (0.05 + 0.9 * uv[:, 0]), v0 + (v1 - v0) * (0.05 + 0.9 * uv[:, 1])], -1)


def _mirror_by_position(points: np.ndarray) -> np.ndarray:
    """For mirror-symmetric ``points [n, 3]``: the index of each point's mirror image (x -> -x)."""
    flipped = points * np.array([-1.0, 1.0, 1.0])
    return np.argmin(((flipped[:, None] - points[None]) ** 2).sum(-1), axis=1)


def _skin_mirror(skin: _Skin) -> np.ndarray:
    C = skin.grid_index.shape[1]
    mirror_col = (C - np.arange(C)) % C
    out = np.arange(skin.count)
    lowers = set(skin.lower_copy.values())
    for v in range(skin.count):
        if v in (skin.top, skin.bottom):
            continue
        partner = int(skin.grid_index[skin.row[v], mirror_col[skin.col[v]]])
        out[v] = skin.lower_copy[partner] if v in lowers else partner
    return out


def build_head_mesh(L: HeadLayout, n_rows: int, n_cols: int) -> HeadMesh:
    """Assemble skin grid (with slits), eyeballs and the mouth's inner parts into one mesh (UVs: the
    skin atlas in ``v`` in [0.25, 1], tiles for the eyes and the mouth's parts below)."""
    theta, phi = grid_angles(n_rows, n_cols)
    frame, mouth_row, eye_row, j_mc, eye_cols = build_frame(L, theta, phi)
    skin = _skin_vertices(L, frame, theta, phi, mouth_row, eye_row, j_mc, eye_cols)
    sample = skin_points(skin.theta, skin.phi, L, frame)
    faces, faces_uv, skin_uv = _skin_faces(skin)

    # inner parts: eyeballs (front pole along +z, so the iris sits at the pole), then the mouth's
    # cavity, teeth and tongue behind the centre of the lip line
    eye_unit, eye_faces, eye_angle = eyeball()
    flip = np.array([-1.0, 1.0, 1.0])
    eye_uv = disc_uv(eye_unit, eye_angle)
    pieces = [
        (PART_EYE_LEFT, PIECE_NONE, frame.eye_centers[0] + L.eyeball_radius * eye_unit, eye_faces, eye_uv, eye_angle, np.ones(len(eye_unit))),
        (PART_EYE_RIGHT, PIECE_NONE, frame.eye_centers[1] + L.eyeball_radius * eye_unit * flip, eye_faces[:, [0, 2, 1]], eye_uv, eye_angle,
         np.ones(len(eye_unit))),
    ]  # fmt: skip
    lip = sample.points[skin.grid_index[mouth_row, 0]]
    for piece in mouth_pieces(lip, L):
        pieces.append((PART_MOUTH, piece.kind, piece.points, piece.faces, piece.uv, np.full(len(piece.points), np.nan), piece.shade))
    tiles = [(0.0, 1 / 3, 0.0, 0.25), (1 / 3, 2 / 3, 0.0, 0.25)] + [(2 / 3 + k / 12, 2 / 3 + (k + 1) / 12, 0.0, 0.25) for k in range(4)]
    points, parts, polar, uvs = [sample.points], [np.full(skin.count, PART_SKIN)], [np.full(skin.count, np.nan)], [skin_uv]
    kinds, shades = [np.full(skin.count, PIECE_NONE)], [np.ones(skin.count)]
    front_pole: dict[int, int] = {}
    back_pole: dict[int, int] = {}
    offset = skin.count
    for (pid, kind, pts, piece_faces, uv, angle, shade), tile in zip(pieces, tiles):
        faces += (piece_faces + offset).tolist()
        faces_uv += (piece_faces + offset - skin.count + len(skin_uv)).tolist()
        uvs.append(_tile_uv(uv, tile))
        if pid != PART_MOUTH:
            front_pole[pid], back_pole[pid] = offset, offset + len(pts) - 1
        points.append(pts)
        parts.append(np.full(len(pts), pid))
        kinds.append(np.full(len(pts), kind))
        shades.append(shade)
        polar.append(angle)
        offset += len(pts)

    V = offset
    pad = V - skin.count
    mirror = np.arange(V)
    mirror[: skin.count] = _skin_mirror(skin)
    n_eye = len(eye_unit)
    eye_l, eye_r = front_pole[PART_EYE_LEFT], front_pole[PART_EYE_RIGHT]
    mirror[eye_l : eye_l + n_eye] = np.arange(eye_r, eye_r + n_eye)
    mirror[eye_r : eye_r + n_eye] = np.arange(eye_l, eye_l + n_eye)
    mouth_start = eye_r + n_eye
    mirror[mouth_start:] = mouth_start + _mirror_by_position(np.concatenate(points)[mouth_start:])

    # skin-only per-vertex arrays: the skin's values, then a fill value for every inner vertex
    skin_only = {
        "theta": (skin.theta, np.nan, np.float64), "phi": (skin.phi, np.nan, np.float64),
        "grid_row_theta": (skin.grid_theta, np.nan, np.float64),
        "row": (skin.row, -1, np.int64), "col": (skin.col, -1, np.int64),
        "mouth_side": (skin.mouth_side, 0, np.int64), "eye_side": (skin.eye_side, 0, np.int64),
        "nose_height": (sample.nose, 0.0, np.float64), "ear_height": (sample.ears, 0.0, np.float64),
    }  # fmt: skip
    return HeadMesh(
        points=np.concatenate(points), faces=np.array(faces, dtype=np.int64), part=np.concatenate(parts),
        uvs=np.concatenate(uvs), faces_uv=np.array(faces_uv, dtype=np.int64),
        **{name: np.concatenate([a, np.full(pad, fill)]).astype(dtype) for name, (a, fill, dtype) in skin_only.items()},
        mirror=mirror, frame=frame, layout=L, grid_phi=phi, grid_index=skin.grid_index, lower_copy=skin.lower_copy,
        mouth_row=mouth_row, eye_row=eye_row, mouth_corner_col=j_mc, eye_cols=eye_cols,
        sphere_front_pole=front_pole, sphere_back_pole=back_pole, sphere_polar=np.concatenate(polar),
        piece=np.concatenate(kinds), tooth_shade=np.concatenate(shades),
    )  # fmt: skip
