"""The synthetic head's mesh: a warped latitude-longitude skin grid with a mouth slit and two eye
fissures, eyeball spheres, and a mouth-interior pouch; faces, UVs and per-vertex bookkeeping.

Skin vertex ``(i, j)`` lies on row ``i`` (polar angle ``theta[i]``; the crown and the neck-bottom
poles are separate vertices) and column ``j`` (azimuth ``phi[j]``, ``phi = 0`` is the face's
midline, the columns are mirror-symmetric). Along the mouth slit and the eye fissures the row's
vertices are doubled: the original is the upper copy (used by faces above), the duplicate the
lower copy (used by faces below). The eye fissures are opened in the rest pose by moving upper
rows up and lower rows down in ``theta``; the mouth is closed at rest and opens when the jaw
rotates (the lower copies are skinned to the jaw).
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from emoctl.flame._synth_surface import FeatureFrame, HeadLayout, base_radius, directions, skin_points

PART_SKIN, PART_EYE_LEFT, PART_EYE_RIGHT, PART_MOUTH = 0, 1, 2, 3


@dataclass
class HeadMesh:
    """Geometry and bookkeeping of the synthetic head (numpy, float64 positions)."""

    points: np.ndarray  # [V, 3]
    faces: np.ndarray  # [F, 3]
    uvs: np.ndarray  # [U, 2]
    faces_uv: np.ndarray  # [F, 3]
    part: np.ndarray  # [V] PART_*
    theta: np.ndarray  # [V] rest polar angle (skin), nan elsewhere
    phi: np.ndarray  # [V] azimuth (skin), nan elsewhere
    row: np.ndarray  # [V] grid row (skin, -1 elsewhere; poles -1 / n_rows)
    col: np.ndarray  # [V] grid column (skin, -1 elsewhere)
    mouth_side: np.ndarray  # [V] -1 above the mouth line, +1 below, 0 on the line outside the slit
    eye_side: np.ndarray  # [V] same for the eye line
    mirror: np.ndarray  # [V] index of the mirror-image vertex (x -> -x)
    frame: FeatureFrame
    layout: HeadLayout
    grid_theta: np.ndarray  # [R] rows
    grid_phi: np.ndarray  # [C] columns
    mouth_row: int
    eye_row: int
    mouth_corner_cols: tuple[int, int]  # (left, right)
    eye_cols: dict[str, tuple[int, int, int]]  # side -> (inner, centre, outer) columns
    grid_index: np.ndarray  # [R, C] upper-copy vertex index per grid node
    lower_copy: dict[int, int] = field(default_factory=dict)  # upper-copy vertex -> lower-copy vertex
    sphere_front_pole: dict[int, int] = field(default_factory=dict)  # part -> vertex index
    sphere_back_pole: dict[int, int] = field(default_factory=dict)
    sphere_polar: np.ndarray | None = None  # [V] angle from the sphere's front pole (eyes, pouch)
    grid_row_theta: np.ndarray | None = None  # [V] polar angle of the vertex's row before the eyes opened
    nose_height: np.ndarray | None = None  # [V] nose bump height (skin), 0 elsewhere
    ear_height: np.ndarray | None = None  # [V] ear bump height (skin), 0 elsewhere

    @property
    def num_vertices(self) -> int:
        return int(self.points.shape[0])


def _warped_samples(n: int, lo: float, hi: float, density) -> np.ndarray:
    """``n + 1`` samples from ``lo`` to ``hi`` spaced inversely to ``density``."""
    fine = np.linspace(lo, hi, 4097)
    cum = np.concatenate([[0.0], np.cumsum(0.5 * (density(fine[1:]) + density(fine[:-1])) * np.diff(fine))])
    return np.interp(np.linspace(0.0, cum[-1], n + 1), cum, fine)


def grid_angles(n_rows: int, n_cols: int) -> tuple[np.ndarray, np.ndarray]:
    """Interior row angles ``[n_rows]`` (poles excluded) and mirror-symmetric columns ``[n_cols]``."""
    theta = _warped_samples(n_rows + 1, 0.0, np.pi, lambda t: 0.22 + 1.2 * np.exp(-(((t - 1.57) / 0.80) ** 6)) + 0.55 * np.exp(-(((t - 2.55) / 0.3) ** 2)))[1:-1]
    half = _warped_samples(n_cols // 2, 0.0, np.pi, lambda p: 0.3 + 1.1 * np.exp(-((p / 0.8) ** 2)))
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


def open_theta(theta: np.ndarray, phi: np.ndarray, eye_side: np.ndarray, frame: FeatureFrame, L: HeadLayout, r: float) -> np.ndarray:
    """Rest-pose polar angles with the eye fissures pulled open (upper rows up, lower rows down)."""
    dist = r * np.abs(theta - frame.theta_eye)
    up = L.upper_lid_opening * fissure_profile(phi, frame.phi_eye_inner, frame.phi_eye_outer, -0.25) * np.exp(-((dist / 0.0095) ** 2))
    down = L.lower_lid_opening * fissure_profile(phi, frame.phi_eye_inner, frame.phi_eye_outer, 0.2) * np.exp(-((dist / 0.0065) ** 2))
    return theta - np.where(eye_side < 0, up, 0.0) / r + np.where(eye_side > 0, down, 0.0) / r


def _sphere(n_lat: int, n_lon: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Unit sphere around +z: vertices ``[2 + n_lat * n_lon, 3]`` (front pole first, back pole
    last), faces (outward), and each vertex's angle from the front pole."""
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


def build_frame(L: HeadLayout, theta: np.ndarray, phi: np.ndarray) -> tuple[FeatureFrame, int, int, int, tuple[int, int, int]]:
    """Snap the mouth line and eye fissures to grid rows/columns and place the eyeballs.

    Rows and columns are chosen on the reference proportions (:class:`HeadLayout` defaults), so
    every seed gives the same topology; the eyeballs are placed on the actual surface ``L``.
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
    j_c = nearest_col(0.5 * (phi[j_in] + phi[j_out]))
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
    # eyeball: its front pole sits `eye_protrusion` in front of the socket skin at the fissure centre
    r_eye = float(np.linalg.norm(skin_points(np.array([t_eye]), np.array([phi[j_c]]), L, None).points[0] - L.origin))
    mid_theta = t_eye + (L.lower_lid_opening - L.upper_lid_opening) / (2 * r_eye)
    p = skin_points(np.array([mid_theta]), np.array([phi[j_c]]), L, None).points[0]
    center = np.array([p[0], p[1], p[2] + L.eye_protrusion - L.eyeball_radius])
    centers = np.stack([center, center * np.array([-1.0, 1.0, 1.0])])
    frame = FeatureFrame(**{**provisional.__dict__, "eye_centers": centers})
    return frame, mouth_row, eye_row, j_mc, (j_in, j_c, j_out)


def build_head_mesh(L: HeadLayout, n_rows: int, n_cols: int) -> HeadMesh:
    """Assemble skin grid (with slits), eyeballs and mouth pouch into one mesh."""
    theta, phi = grid_angles(n_rows, n_cols)
    frame, mouth_row, eye_row, j_mc, eye_cols = build_frame(L, theta, phi)
    R, C = len(theta), len(phi)
    mirror_col = (C - np.arange(C)) % C

    # --- skin vertices: poles, grid, lower copies along the slits
    grid_index = np.arange(R * C).reshape(R, C) + 1
    top, bottom = 0, R * C + 1
    v_theta = [0.0] + list(np.repeat(theta, C)) + [np.pi]
    v_phi = [0.0] + list(np.tile(phi, R)) + [0.0]
    v_row = [-1] + list(np.repeat(np.arange(R), C)) + [R]
    v_col = [-1] + list(np.tile(np.arange(C), R)) + [-1]
    signed = np.where(phi > np.pi, phi - 2 * np.pi, phi)
    j_in, j_c, j_out = eye_cols
    mouth_slit = [j for j in range(C) if abs(signed[j]) < phi[j_mc] - 1e-12]
    eye_slit = [j for j in range(C) if phi[j_in] + 1e-12 < abs(signed[j]) < phi[j_out] - 1e-12]
    lower_copy: dict[int, int] = {}
    below_index = grid_index.copy()  # vertex used by faces *below* a grid node
    n = bottom + 1
    for row, cols in ((mouth_row, mouth_slit), (eye_row, eye_slit)):
        for j in cols:
            lower_copy[int(grid_index[row, j])] = n
            below_index[row, j] = n
            v_theta.append(theta[row])
            v_phi.append(phi[j])
            v_row.append(row)
            v_col.append(j)
            n += 1
    num_skin = n
    v_theta, v_phi = np.array(v_theta), np.array(v_phi)
    v_row, v_col = np.array(v_row), np.array(v_col)
    lower_set = np.zeros(num_skin, dtype=bool)
    lower_set[list(lower_copy.values())] = True

    def side(line_row: int, slit_cols: list[int]) -> np.ndarray:
        s = np.where(v_row < line_row, -1, np.where(v_row > line_row, 1, 0))
        on_line = (v_row == line_row) & np.isin(v_col, slit_cols)
        return np.where(on_line, np.where(lower_set, 1, -1), s)

    mouth_side, eye_side = side(mouth_row, mouth_slit), side(eye_row, eye_slit)
    r_eye = float(np.linalg.norm(frame.eye_centers[0] - L.origin))
    rest_theta = open_theta(v_theta, v_phi, eye_side, frame, L, r_eye)
    rest_theta[[top, bottom]] = [0.0, np.pi]
    sample = skin_points(rest_theta, v_phi, L, frame)
    skin = sample.points

    # --- skin faces (quads split with mirror-symmetric diagonals) and UVs (seam at the back)
    faces, faces_uv = [], []
    uv_grid = np.arange(R * (C + 1)).reshape(R, C + 1)
    uvs = [np.stack(np.meshgrid(np.arange(C + 1) / C, 1.0 - (np.arange(R) + 1) / (R + 1), indexing="xy"), -1).reshape(-1, 2)]
    n_uv = R * (C + 1)
    pole_uv_top = n_uv + np.arange(C)
    pole_uv_bottom = n_uv + C + np.arange(C)
    uvs.append(np.stack([(np.arange(C) + 0.5) / C, np.ones(C)], -1))
    uvs.append(np.stack([(np.arange(C) + 0.5) / C, np.zeros(C)], -1))
    n_uv += 2 * C
    col_of_k = (np.arange(C + 1) - C // 2) % C  # uv column k -> grid column (k = 0 and C are the back seam)
    for k in range(C):
        j0, j1 = col_of_k[k], col_of_k[k + 1]
        left_half = (k >= C // 2)  # phi >= 0: diagonal top-left to bottom-right
        faces.append([top, grid_index[0, j0], grid_index[0, j1]])
        faces_uv.append([pole_uv_top[k], uv_grid[0, k], uv_grid[0, k + 1]])
        for i in range(R - 1):
            a, b = below_index[i, j0], below_index[i, j1]
            c, d = grid_index[i + 1, j1], grid_index[i + 1, j0]
            ua, ub, uc, ud = uv_grid[i, k], uv_grid[i, k + 1], uv_grid[i + 1, k + 1], uv_grid[i + 1, k]
            if left_half:
                faces += [[a, d, c], [a, c, b]]
                faces_uv += [[ua, ud, uc], [ua, uc, ub]]
            else:
                faces += [[a, d, b], [b, d, c]]
                faces_uv += [[ua, ud, ub], [ub, ud, uc]]
        faces.append([below_index[R - 1, j0], bottom, below_index[R - 1, j1]])
        faces_uv.append([uv_grid[R - 1, k], pole_uv_bottom[k], uv_grid[R - 1, k + 1]])

    points = [skin]
    part = [np.full(num_skin, PART_SKIN)]
    polar_all = [np.full(num_skin, np.nan)]
    front_pole: dict[int, int] = {}
    back_pole: dict[int, int] = {}
    offset = num_skin

    # --- eyeballs and mouth pouch: spheres with an azimuthal-equidistant UV tile each
    sph_v, sph_f, sph_angle = _sphere(10, 16)
    pouch_v, pouch_f, pouch_angle = _sphere(7, 14)
    mouth_pt = skin[grid_index[mouth_row, 0]]
    pouch_radii = np.array([0.86 * L.mouth_half_width, 0.013, 0.014])
    pouch_center = mouth_pt + np.array([0.0, 0.0, -0.005 - pouch_radii[2]])
    parts = [
        (PART_EYE_LEFT, frame.eye_centers[0] + L.eyeball_radius * sph_v, sph_v, sph_f, sph_angle, 0.0),
        (PART_EYE_RIGHT, frame.eye_centers[1] + L.eyeball_radius * sph_v * np.array([-1, 1, 1]), sph_v * np.array([-1, 1, 1]), sph_f[:, [0, 2, 1]], sph_angle, 1 / 3),
        (PART_MOUTH, pouch_center + pouch_radii * pouch_v, pouch_v, pouch_f, pouch_angle, 2 / 3),
    ]
    tile_uvs = []
    for pid, pts, unit, fcs, angle, u0 in parts:
        faces += (fcs + offset).tolist()
        rho = angle / np.pi * 0.45
        psi = np.arctan2(unit[:, 1], unit[:, 0])
        tile = np.stack([u0 + (1 / 6) + rho * np.cos(psi) / 3, 0.5 + rho * np.sin(psi)], -1)
        tile_uvs.append((n_uv, tile, fcs))
        faces_uv += (fcs + n_uv).tolist()
        n_uv += len(pts)
        front_pole[pid], back_pole[pid] = offset, offset + len(pts) - 1
        points.append(pts)
        part.append(np.full(len(pts), pid))
        polar_all.append(angle)
        offset += len(pts)

    # --- assemble UVs: skin atlas in v in [0.25, 1], sphere tiles in v in [0, 0.25]
    skin_uv = np.concatenate(uvs)
    skin_uv[:, 1] = 0.25 + 0.75 * skin_uv[:, 1]
    all_uv = [skin_uv] + [np.stack([t[:, 0], 0.25 * t[:, 1]], -1) for _, t, _ in tile_uvs]

    points_all = np.concatenate(points)
    part_all = np.concatenate(part)
    V = len(points_all)
    pad = V - num_skin
    mirror = np.arange(V)
    skin_mirror = np.zeros(num_skin, dtype=np.int64)
    skin_mirror[[top, bottom]] = [top, bottom]
    inverse_lower = {v: u for u, v in lower_copy.items()}
    for v in range(num_skin):
        if v in (top, bottom):
            continue
        row, col = v_row[v], v_col[v]
        partner = grid_index[row, mirror_col[col]]
        skin_mirror[v] = lower_copy[partner] if v in inverse_lower else partner
    mirror[:num_skin] = skin_mirror
    eye_l, eye_r = front_pole[PART_EYE_LEFT], front_pole[PART_EYE_RIGHT]
    n_eye = back_pole[PART_EYE_LEFT] - eye_l + 1
    mirror[eye_l : eye_l + n_eye] = np.arange(eye_r, eye_r + n_eye)
    mirror[eye_r : eye_r + n_eye] = np.arange(eye_l, eye_l + n_eye)
    pouch0 = front_pole[PART_MOUTH]
    pv = pouch_v
    for a in range(len(pv)):  # pouch: mirror by matching unit positions
        target = pv[a] * np.array([-1, 1, 1])
        mirror[pouch0 + a] = pouch0 + int(np.argmin(np.sum((pv - target) ** 2, axis=1)))

    return HeadMesh(
        points=points_all,
        faces=np.array(faces, dtype=np.int64),
        uvs=np.concatenate(all_uv),
        faces_uv=np.array(faces_uv, dtype=np.int64),
        part=part_all,
        theta=np.concatenate([rest_theta, np.full(pad, np.nan)]),
        phi=np.concatenate([v_phi, np.full(pad, np.nan)]),
        row=np.concatenate([v_row, np.full(pad, -1)]),
        col=np.concatenate([v_col, np.full(pad, -1)]),
        mouth_side=np.concatenate([mouth_side, np.zeros(pad, dtype=np.int64)]),
        eye_side=np.concatenate([eye_side, np.zeros(pad, dtype=np.int64)]),
        mirror=mirror,
        frame=frame,
        layout=L,
        grid_theta=theta,
        grid_phi=phi,
        mouth_row=mouth_row,
        eye_row=eye_row,
        mouth_corner_cols=(j_mc, int(mirror_col[j_mc])),
        eye_cols={"left": eye_cols, "right": tuple(int(mirror_col[j]) for j in eye_cols)},
        grid_index=grid_index,
        lower_copy=lower_copy,
        sphere_front_pole=front_pole,
        sphere_back_pole=back_pole,
        sphere_polar=np.concatenate(polar_all),
        grid_row_theta=np.concatenate([v_theta, np.full(pad, np.nan)]),
        nose_height=np.concatenate([sample.nose, np.zeros(pad)]),
        ear_height=np.concatenate([sample.ears, np.zeros(pad)]),
    )
