"""Per-vertex fields of the synthetic head: surface frames, anchors, soft region masks, skinning
weights, the joint regressor and the named landmarks."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from emoctl.synthetic.head_model.interior import PIECE_CAVITY, PIECE_LOWER_TEETH, PIECE_TONGUE, PIECE_UPPER_TEETH
from emoctl.synthetic.head_model.mesh import (
    PART_EYE_LEFT,
    PART_EYE_RIGHT,
    PART_MOUTH,
    PART_SKIN,
    HeadMesh,
    abs_azimuth,
    fissure_profile,
)
from emoctl.synthetic.head_model.surface import brow_arch, gauss, lip_taper, skin_points, smoothstep

#: Region masks every synthetic head carries (soft, in [0, 1]). ``lips`` is the lip area the
#: expressions act on (the red and the skin next to it), ``vermilion`` the red of the lips;
#: ``lash_line`` the lid margins (upper 1, lower weaker); ``mouth_interior`` is everything inside
#: the mouth (cavity, ``teeth``, ``tongue``); ``teeth`` is 1 on a tooth, lower between teeth.
REGION_NAMES: tuple[str, ...] = (
    "forehead", "brows", "glabella", "eyelids", "eye_corners", "cheeks", "nose", "nasolabial", "lips",
    "mouth_corners", "chin", "jaw", "scalp", "ears", "neck", "eyeballs", "iris", "pupil", "mouth_interior", "skin",
    "vermilion", "lash_line", "teeth", "tongue",
)  # fmt: skip

#: Named landmarks, in order (``_l`` is the subject's left, +x).
LANDMARK_NAMES: tuple[str, ...] = (
    "mouth_corner_l", "mouth_corner_r", "upper_lip_center", "lower_lip_center", "nose_tip", "chin",
    "brow_inner_l", "brow_inner_r", "brow_outer_l", "brow_outer_r", "upper_lid_l", "upper_lid_r",
    "lower_lid_l", "lower_lid_r", "eye_center_l", "eye_center_r", "forehead_center", "cheek_l", "cheek_r",
)  # fmt: skip


@dataclass
class Frames:
    """Unit vectors per vertex ``[V, 3]``: outward normal, up along the skin, lateral (towards the
    ear on each side; zero on the midline and off the skin)."""

    normal: np.ndarray
    up: np.ndarray
    lateral: np.ndarray


def _unit(v: np.ndarray) -> np.ndarray:
    return v / np.maximum(np.linalg.norm(v, axis=-1, keepdims=True), 1e-12)


def compute_frames(mesh: HeadMesh) -> Frames:
    """Frames from the analytic surface (central differences in theta/phi); radial on spheres."""
    V = mesh.num_vertices
    normal, up, lateral = np.zeros((V, 3)), np.zeros((V, 3)), np.zeros((V, 3))
    skin = np.where(mesh.part == PART_SKIN)[0]
    th, ph = mesh.theta[skin], mesh.phi[skin]
    h = 1e-4

    def p(t: np.ndarray, f: np.ndarray) -> np.ndarray:
        return skin_points(t, f, mesh.layout, mesh.frame).points

    d_theta = (p(th + h, ph) - p(th - h, ph)) / (2 * h)
    d_phi = (p(th, ph + h) - p(th, ph - h)) / (2 * h)
    n = _unit(np.cross(d_theta, d_phi))
    poles = (th < 1e-9) | (th > np.pi - 1e-9)
    n[poles] = np.where(th[poles, None] < 1, [0.0, 1.0, 0.0], [0.0, -1.0, 0.0])
    normal[skin] = n
    u = -d_theta - np.sum(-d_theta * n, axis=1, keepdims=True) * n
    up[skin] = np.where(poles[:, None], 0.0, _unit(u))
    side = np.sign(np.round(np.sin(ph), 12))  # +1 on the left half, -1 on the right, 0 on the midline
    lat = d_phi - np.sum(d_phi * n, axis=1, keepdims=True) * n
    lateral[skin] = np.where(poles[:, None], 0.0, _unit(lat) * side[:, None])
    for pid in (PART_EYE_LEFT, PART_EYE_RIGHT, PART_MOUTH):
        idx = np.where(mesh.part == pid)[0]
        normal[idx] = _unit(mesh.points[idx] - part_center(mesh, pid))
    return Frames(normal=normal, up=up, lateral=lateral)


def part_center(mesh: HeadMesh, pid: int) -> np.ndarray:
    """Rest centre ``[3]`` of an eyeball (between its poles) or of the mouth's cavity."""
    if pid == PART_MOUTH:
        cavity = mesh.points[mesh.piece == PIECE_CAVITY]
        return 0.5 * (cavity.min(axis=0) + cavity.max(axis=0))
    return 0.5 * (mesh.points[mesh.sphere_front_pole[pid]] + mesh.points[mesh.sphere_back_pole[pid]])


@dataclass
class Anchors:
    """Key skin vertices and points the fields are built around (left side; mirror x for right)."""

    mouth_corner: int
    upper_lip: int
    lower_lip: int
    upper_lid: int
    lower_lid: int
    inner_canthus: int
    outer_canthus: int
    nose_tip: int
    chin: int
    eye_center: np.ndarray  # fissure centre (x, y, z)
    mouth_y: float
    brow_y: float


def find_anchors(mesh: HeadMesh) -> Anchors:
    L, gi = mesh.layout, mesh.grid_index
    j_in, j_c, j_out = mesh.eye_cols
    upper_lid = int(gi[mesh.eye_row, j_c])
    lower_lid = mesh.lower_copy[upper_lid]
    midline = np.where((mesh.part == PART_SKIN) & (mesh.col == 0) & (mesh.mouth_side <= 0))[0]
    face_band = midline[(mesh.points[midline, 1] < L.nasion_y) & (mesh.points[midline, 1] > L.mouth_y)]
    nose_tip = int(face_band[np.argmax(mesh.points[face_band, 2])])
    low = np.where((mesh.part == PART_SKIN) & (mesh.col == 0))[0]
    chin = int(low[np.argmin(np.abs(mesh.points[low, 1] - L.chin_y) + 10 * (mesh.points[low, 2] < 0.02))])
    upper_lip = int(gi[mesh.mouth_row, 0])
    return Anchors(
        mouth_corner=int(gi[mesh.mouth_row, mesh.mouth_corner_col]),
        upper_lip=upper_lip,
        lower_lip=mesh.lower_copy[upper_lip],
        upper_lid=upper_lid,
        lower_lid=lower_lid,
        inner_canthus=int(gi[mesh.eye_row, j_in]),
        outer_canthus=int(gi[mesh.eye_row, j_out]),
        nose_tip=nose_tip,
        chin=chin,
        eye_center=0.5 * (mesh.points[upper_lid] + mesh.points[lower_lid]),
        mouth_y=float(mesh.points[upper_lip, 1]),
        brow_y=float(L.brow_y),
    )


def lip_distance(P: np.ndarray, A: Anchors) -> np.ndarray:
    """``[V]`` elliptic distance of points ``P [V, 3]`` from the mouth centre in front coordinates:
    1 about on the lips' outline (half-width to the corner plus 1 mm, 9.5 mm up, 10.5 mm down)."""
    x, y = P[:, 0], P[:, 1]
    corner_x = P[A.mouth_corner, 0]
    return np.hypot(x / (corner_x + 0.001), (y - A.mouth_y) / np.where(y > A.mouth_y, 0.0095, 0.0105))


def vermilion(mesh: HeadMesh, A: Anchors) -> np.ndarray:
    """``[V]`` the red of the lips in front coordinates: above and below the lip line (the slit's
    rest height at each ``|x|``), ``upper_vermilion`` / ``lower_vermilion`` tall at the centre (a
    slight Cupid's bow on the upper border), thinner towards the corners like the lips' relief
    (:func:`~emoctl.synthetic.head_model.surface.lip_taper`), ending at them."""
    P, L = mesh.points, mesh.layout
    ax, y = np.abs(P[:, 0]), P[:, 1]
    line = P[mesh.grid_index[mesh.mouth_row]]
    order = np.argsort(np.abs(line[:, 0]))
    line_y = np.interp(ax, np.abs(line[order, 0]), line[order, 1])
    u = ax / P[A.mouth_corner, 0]
    span, _ = lip_taper(u)
    bow = 0.0005 * gauss(ax - 0.005, 0.004)
    top, bottom = span * (L.upper_vermilion + bow), span * L.lower_vermilion
    dy = y - line_y
    red = np.where(dy >= 0, smoothstep(top + 0.0005, top - 0.0005, dy), smoothstep(bottom + 0.0005, bottom - 0.0005, -dy))
    return red * smoothstep(1.03, 0.97, u) * (mesh.part == PART_SKIN)


def blob(p: np.ndarray, cx: float, cy: float, sx: float, sy: float, mirrored: bool = True) -> np.ndarray:
    """Gaussian blob in front coordinates around (cx, cy) (and (-cx, cy) when ``mirrored``)."""
    x, y = p[:, 0], p[:, 1]
    out = gauss(x - cx, sx) * gauss(y - cy, sy)
    if mirrored and cx != 0:
        out = out + gauss(x + cx, sx) * gauss(y - cy, sy)
    return np.clip(out, 0.0, 1.0)


def jaw_weight(mesh: HeadMesh) -> np.ndarray:
    """Share of the jaw joint per vertex: lower lip, chin and lower face, fading to the ears/neck;
    the lower teeth, the tongue and the cavity's lower half (the upper teeth: none)."""
    P, w = mesh.points, np.zeros(mesh.num_vertices)
    skin = mesh.part == PART_SKIN
    r = np.linalg.norm(P - mesh.layout.origin, axis=1)
    rows_below = r * (np.nan_to_num(mesh.theta) - mesh.frame.theta_mouth)
    corner = mesh.frame.phi_mouth_corner
    inside = np.clip(1.0 - (abs_azimuth(mesh.phi) / corner) ** 2, 0.0, 1.0)  # 1 mid-mouth, 0 beyond the corners
    # a logistic step across the mouth line: sharp along the slit (upper copies ~0, lower copies ~1),
    # soft beyond the corners where the skin is continuous
    tau = 0.004 + 0.007 * (1.0 - inside)
    z = rows_below / tau + mesh.mouth_side * 7.0 * inside
    split = 1.0 / (1.0 + np.exp(-z)) * smoothstep(-0.025, -0.010, rows_below)  # exactly 0 above the nose
    front = smoothstep(-0.02, 0.015, P[:, 2])
    low = smoothstep(-0.118, -0.088, P[:, 1])
    not_ears = smoothstep(0.002, 0.0003, mesh.ear_height)
    w[skin] = (split * front * low * not_ears)[skin]
    cavity = mesh.piece == PIECE_CAVITY  # its lower half opens with the jaw
    center_y = part_center(mesh, PART_MOUTH)[1]
    w[cavity] = smoothstep(center_y + 0.004, center_y - 0.004, P[cavity, 1])
    w[np.isin(mesh.piece, (PIECE_LOWER_TEETH, PIECE_TONGUE))] = 1.0  # the upper teeth stay with the head
    return w


def skinning_weights(mesh: HeadMesh) -> np.ndarray:
    """``[V, 5]``: global (lower neck), neck (the head), jaw, left eye, right eye; rows sum to 1."""
    W = np.zeros((mesh.num_vertices, 5))
    jaw = jaw_weight(mesh)
    y = mesh.points[:, 1]
    lower_neck = smoothstep(-0.075, -0.155, y) * (mesh.part == PART_SKIN)
    W[:, 2] = jaw
    W[:, 0] = (1.0 - jaw) * lower_neck
    W[:, 1] = (1.0 - jaw) * (1.0 - lower_neck)
    for pid, j in ((PART_EYE_LEFT, 3), (PART_EYE_RIGHT, 4)):
        W[mesh.part == pid] = 0.0
        W[mesh.part == pid, j] = 1.0
    return W / W.sum(axis=1, keepdims=True)


def joint_regressor(mesh: HeadMesh) -> np.ndarray:
    """``[5, V]`` rows of non-negative weights summing to 1 (joints = weighted vertex means), so
    joints move with the identity shape: the neck joints at the neck's axis (patches on both
    sides), the jaw between the two temporomandibular patches, each eye at its sphere's centre."""
    P, L = mesh.points, mesh.layout
    J = np.zeros((5, mesh.num_vertices))
    skin = mesh.part == PART_SKIN

    def side_patches(target: np.ndarray, radius: float) -> np.ndarray:
        """Weights of skin vertices near ``target`` and its mirror image (centroid on the midline)."""
        w = np.zeros(mesh.num_vertices)
        for sx in (1.0, -1.0):
            d = np.linalg.norm(P - target * np.array([sx, 1.0, 1.0]), axis=1)
            w += gauss(d, radius) * skin * (d < 2.5 * radius)
        return w / w.sum()

    J[0] = side_patches(np.array([L.neck_rx, -0.140, L.neck_center_z]), 0.008)
    J[1] = side_patches(np.array([L.neck_rx, -0.070, L.neck_center_z]), 0.008)
    J[2] = side_patches(np.array([L.skull_rx, -0.026, -0.002]), 0.008)  # in front of the ears
    for j, pid in ((3, PART_EYE_LEFT), (4, PART_EYE_RIGHT)):
        J[j, mesh.sphere_front_pole[pid]] = 0.5
        J[j, mesh.sphere_back_pole[pid]] = 0.5
    return J


def region_masks(mesh: HeadMesh, A: Anchors, jaw: np.ndarray) -> dict[str, np.ndarray]:
    """Soft masks ``[V]`` in [0, 1] for every name in :data:`REGION_NAMES`."""
    P, L = mesh.points, mesh.layout
    x, y, z = P[:, 0], P[:, 1], P[:, 2]
    ax = np.abs(x)
    skin = (mesh.part == PART_SKIN).astype(float)
    eyes = np.isin(mesh.part, (PART_EYE_LEFT, PART_EYE_RIGHT)).astype(float)
    front = smoothstep(0.0, 0.035, z)
    phi = np.nan_to_num(mesh.phi)
    corner = P[A.mouth_corner]
    ec = A.eye_center
    outer = P[A.outer_canthus]
    inner = P[A.inner_canthus]
    m: dict[str, np.ndarray] = {}
    ears = np.clip(mesh.ear_height / (0.45 * L.ear_height), 0.0, 1.0) * smoothstep(0.05, 0.065, ax)
    m["ears"] = ears
    cos_phi = np.cos(phi)  # hairline: above the forehead in front, above the ears, at the nape behind
    side_y, front_y, back_y = 0.034, L.brow_y + 0.05, -0.055
    front_part = np.clip(cos_phi, 0.0, 1.0) ** 0.7
    back_part = np.clip(-cos_phi, 0.0, 1.0) ** 0.8
    hairline = side_y + (front_y - side_y) * front_part + (back_y - side_y) * back_part
    scalp = smoothstep(hairline - 0.006, hairline + 0.006, y) * (1.0 - ears)
    m["scalp"] = scalp
    m["forehead"] = smoothstep(L.brow_y + 0.006, L.brow_y + 0.014, y) * (1.0 - scalp) * front * smoothstep(0.065, 0.05, ax)
    m["brows"] = gauss(y - (brow_arch(ax, L) - 0.001), 0.0042) * smoothstep(0.006, 0.013, ax) * smoothstep(0.062, 0.05, ax) * front
    m["glabella"] = blob(P, 0.0, L.brow_y - 0.003, 0.0065, 0.0075) * front
    eq = np.hypot((ax - ec[0]) / (0.5 * (outer[0] - inner[0])), (y - ec[1]) / 0.0062)
    m["eyelids"] = smoothstep(2.0, 1.35, eq) * front
    m["eye_corners"] = blob(P, outer[0] + 0.009, outer[1] + 0.001, 0.0055, 0.0075) * front
    m["cheeks"] = blob(P, L.cheek_x + 0.002, ec[1] - 0.033, 0.014, 0.013) * front
    m["nose"] = smoothstep(0.0005, 0.004, mesh.nose_height)
    ala = np.array([L.alae_x + 0.004, L.nose_base_y + 0.005])
    end = np.array([corner[0] + 0.004, corner[1] - 0.003])
    seg = end - ala
    t = np.clip(((ax - ala[0]) * seg[0] + (y - ala[1]) * seg[1]) / (seg @ seg), 0.0, 1.0)
    dist = np.hypot(ax - (ala[0] + t * seg[0]), y - (ala[1] + t * seg[1]))
    m["nasolabial"] = gauss(dist, 0.0032) * front
    m["lips"] = smoothstep(1.15, 0.8, lip_distance(P, A)) * front
    m["mouth_corners"] = blob(P, corner[0], corner[1], 0.0055, 0.0055) * front
    m["chin"] = blob(P, 0.0, P[A.chin, 1], 0.016, 0.012) * front
    m["jaw"] = jaw * skin
    neck_top = -0.102 + 0.035 * (1.0 - np.cos(phi)) / 2
    m["neck"] = smoothstep(neck_top + 0.008, neck_top - 0.008, y) * (1.0 - m["jaw"] * front)
    m["eyeballs"] = eyes
    polar = np.nan_to_num(mesh.sphere_polar)
    iris_angle, pupil_angle = np.arcsin(L.iris_radius / L.eyeball_radius), np.arcsin(L.pupil_radius / L.eyeball_radius)
    m["iris"] = eyes * smoothstep(iris_angle + 0.04, iris_angle - 0.04, polar)
    m["pupil"] = eyes * smoothstep(pupil_angle + 0.05, pupil_angle - 0.05, polar)
    m["mouth_interior"] = (mesh.part == PART_MOUTH).astype(float)
    m["teeth"] = mesh.tooth_shade * np.isin(mesh.piece, (PIECE_UPPER_TEETH, PIECE_LOWER_TEETH))
    m["tongue"] = (mesh.piece == PIECE_TONGUE).astype(float)
    m["skin"] = skin
    m["vermilion"] = vermilion(mesh, A) * front
    r = np.linalg.norm(P - L.origin, axis=1)
    from_margin = r * (np.nan_to_num(mesh.grid_row_theta) - mesh.frame.theta_eye)  # grid distance from the lid margins
    lids = fissure_profile(abs_azimuth(mesh.phi), mesh.frame.phi_eye_inner, mesh.frame.phi_eye_outer, 0.0) ** 0.25
    m["lash_line"] = lids * np.exp(-((from_margin / 0.0012) ** 2)) * np.where(mesh.eye_side < 0, 1.0, 0.4) * (mesh.eye_side != 0)
    for name in REGION_NAMES:
        if name not in ("eyeballs", "iris", "pupil", "mouth_interior", "teeth", "tongue", "skin"):
            m[name] = m[name] * skin
    return {name: np.clip(m[name], 0.0, 1.0) for name in REGION_NAMES}


def landmark_vertices(mesh: HeadMesh, A: Anchors) -> dict[str, int]:
    """The vertex each named landmark sits on (left/right by the mesh's mirror map)."""
    P, L = mesh.points, mesh.layout
    mir = mesh.mirror
    skin = np.where(mesh.part == PART_SKIN)[0]

    def nearest(target: np.ndarray, pool: np.ndarray = skin) -> int:
        front_pool = pool[P[pool, 2] > 0.0]
        return int(front_pool[np.argmin(np.linalg.norm(P[front_pool] - target, axis=1))])

    inner, outer = P[A.inner_canthus], P[A.outer_canthus]
    top_rows = skin[mesh.eye_side[skin] < 0]
    brow_inner = nearest(np.array([inner[0] - 0.001, L.brow_y + 0.001, 0.09]), top_rows)
    brow_outer = nearest(np.array([outer[0] + 0.002, L.brow_y - 0.001, 0.07]), top_rows)
    cheek = nearest(np.array([L.cheek_x + 0.002, A.eye_center[1] - 0.033, 0.09]))
    forehead = nearest(np.array([0.0, L.brow_y + 0.03, 0.09]), skin[mesh.col[skin] == 0])
    lm = {
        "mouth_corner_l": A.mouth_corner,
        "upper_lip_center": A.upper_lip,
        "lower_lip_center": A.lower_lip,
        "nose_tip": A.nose_tip,
        "chin": A.chin,
        "brow_inner_l": brow_inner,
        "brow_outer_l": brow_outer,
        "upper_lid_l": A.upper_lid,
        "lower_lid_l": A.lower_lid,
        "eye_center_l": mesh.sphere_front_pole[PART_EYE_LEFT],
        "forehead_center": forehead,
        "cheek_l": cheek,
    }
    for name in list(lm):
        if name.endswith("_l"):
            lm[name[:-2] + "_r"] = int(mir[lm[name]])
    return {name: lm[name] for name in LANDMARK_NAMES}


def landmark_embedding(mesh: HeadMesh, vertices: dict[str, int]) -> tuple[np.ndarray, np.ndarray]:
    """``(face index [L], barycentric [L, 3])`` placing each landmark exactly on its vertex."""
    faces = mesh.faces
    idx, bary = [], []
    for name in LANDMARK_NAMES:
        v = vertices[name]
        f = int(np.where((faces == v).any(axis=1))[0][0])
        b = (faces[f] == v).astype(np.float64)
        idx.append(f)
        bary.append(b)
    return np.array(idx, dtype=np.int64), np.array(bary)


def fissure_window(mesh: HeadMesh, skew: float = 0.0) -> np.ndarray:
    """[V] almond window of the eye fissures over the columns (0 outside the canthi, skin only)."""
    w = fissure_profile(abs_azimuth(mesh.phi), mesh.frame.phi_eye_inner, mesh.frame.phi_eye_outer, skew)
    return w * (mesh.part == PART_SKIN)
