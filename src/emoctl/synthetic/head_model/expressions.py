"""Expression blendshapes of the synthetic head: FACS action units as localised fields.

Each named component is one action unit (:data:`ACTION_UNITS`), a displacement field in metres per
unit coefficient ``[V, 3]`` on the skin (eyeballs and the mouth pouch follow through skinning),
left/right symmetric and sized so that a coefficient of 1 is a marked, real-face action:

=====  ======================  ==============================================================
AU     component               at coefficient 1 (seed-0 head, at its landmarks)
=====  ======================  ==============================================================
1      ``brow_inner_raise``    inner brow up ~7.4 mm, the central forehead with it
2      ``brow_outer_raise``    outer brow up ~7.3 mm
4      ``brow_lower``          inner brows down ~4.5 mm and together ~2.6 mm, outer ~0.8 mm (a V),
                               glabella bulge
5      ``upper_lid_raise``     upper lid margin up ~3.5 mm (the sclera shows above the iris)
6      ``cheek_raise``         cheeks up ~2.3 mm and forward, lower lid up ~2.1 mm, crow's-feet bulge
7      ``lid_tighten``         lower lid up ~2.6 mm, upper lid down ~0.9 mm
9      ``nose_wrinkle``        nose sides and alae up ~3-3.5 mm, inner brows pulled down ~1.4 mm
10     ``upper_lip_raise``     upper lip up ~4.1 mm in an inverted U (corners stay), alae up
12     ``lip_corner_pull``     lip corners up ~5.7 mm and out ~4.1 mm, cheek bulge beside the fold
15     ``lip_corner_depress``  lip corners down ~4.4 mm
16     ``lower_lip_depress``   lower lip down ~4.3 mm and everted (corners stay)
17     ``chin_raise``          chin boss up and forward, the middle of the mouth line up ~2 mm
18     ``lip_pucker``          lips forward and together (speech)
20     ``lip_stretch``         lip corners out ~3.9 mm and back, flattened against the teeth
22     ``lip_funnel``          lips flared forward (speech)
23     ``lip_tighten``         the red of the lips narrowed (35 % of its height) and drawn back
24     ``lip_press``           lips pressed back and together, the skin around them bulging
43     ``eye_close``           ``1`` lands the upper lid margin exactly on the lower one
=====  ======================  ==============================================================

AU25/26 (lips part, jaw drop) are the jaw joint (``jaw_pose``), as in FLAME.
"""

from __future__ import annotations

import numpy as np

from emoctl.synthetic.head_model.bases import FieldContext
from emoctl.synthetic.head_model.fields import Anchors, Frames
from emoctl.synthetic.head_model.mesh import PART_SKIN, HeadMesh
from emoctl.synthetic.head_model.surface import brow_arch, gauss, smoothstep

#: The named expression components, in order (indices 0..17); the rest are ``component_18`` ...
#: (the first 16 keep the indices they had before AU17 and AU23 were appended).
SEMANTIC_EXPRESSIONS: tuple[str, ...] = (
    "lip_corner_pull", "lip_corner_depress", "lip_stretch", "lip_press", "lip_pucker", "lip_funnel",
    "upper_lip_raise", "lower_lip_depress", "cheek_raise", "nose_wrinkle", "brow_inner_raise",
    "brow_outer_raise", "brow_lower", "upper_lid_raise", "lid_tighten", "eye_close", "chin_raise", "lip_tighten",
)  # fmt: skip

#: The FACS action unit each named component stands for.
ACTION_UNITS: dict[str, int] = {
    "lip_corner_pull": 12, "lip_corner_depress": 15, "lip_stretch": 20, "lip_press": 24, "lip_pucker": 18,
    "lip_funnel": 22, "upper_lip_raise": 10, "lower_lip_depress": 16, "cheek_raise": 6, "nose_wrinkle": 9,
    "brow_inner_raise": 1, "brow_outer_raise": 2, "brow_lower": 4, "upper_lid_raise": 5, "lid_tighten": 7,
    "eye_close": 43, "chin_raise": 17, "lip_tighten": 23,
}  # fmt: skip

#: The named components that act on the lower face (lips, chin); the others act above the mouth.
LOWER_FACE: frozenset[str] = frozenset(n for n in SEMANTIC_EXPRESSIONS if n.startswith(("lip", "upper_lip", "lower_lip", "chin")))

#: Where each named expression acts (region masks of the synthetic head).
EXPRESSION_REGIONS: dict[str, tuple[str, ...]] = {
    "lip_corner_pull": ("mouth_corners", "lips", "cheeks", "nasolabial"),
    "lip_corner_depress": ("mouth_corners", "lips", "chin"),
    "lip_stretch": ("mouth_corners", "lips", "nasolabial"),
    "lip_press": ("lips",),
    "lip_pucker": ("lips", "mouth_corners"),
    "lip_funnel": ("lips", "mouth_corners"),
    "upper_lip_raise": ("lips", "nasolabial", "nose"),
    "lower_lip_depress": ("lips", "chin"),
    "cheek_raise": ("cheeks", "eyelids", "nasolabial", "eye_corners"),
    "nose_wrinkle": ("nose", "glabella", "brows"),
    "brow_inner_raise": ("brows", "glabella", "forehead", "eyelids"),
    "brow_outer_raise": ("brows", "forehead", "eye_corners", "eyelids"),
    "brow_lower": ("brows", "glabella", "eyelids"),
    "upper_lid_raise": ("eyelids",),
    "lid_tighten": ("eyelids", "eye_corners"),
    "eye_close": ("eyelids",),
    "chin_raise": ("chin", "lips"),
    "lip_tighten": ("lips", "mouth_corners"),
}


def _brow_fields(c: FieldContext) -> dict[str, np.ndarray]:
    """AU1, AU2, AU4: the brows move as a band, the skin between brow and lid stretches or
    bunches, the forehead follows with a decaying share; the lid margins stay (AU5/AU43 move them)."""
    ax, y = np.abs(c.x), c.y
    line = brow_arch(ax, c.L) - 0.001  # the centre of the brow band (where the albedo paints it)
    lid = c.P[c.A.upper_lid, 1]
    x_in, x_out = c.inner[0] - 0.003, c.outer[0] - 0.001
    below = smoothstep(lid + 0.0015, line - 0.004, y)
    raise_v = np.where(y < line, below, gauss(y - line, 0.014)) * c.front
    inner_h = np.where(ax > x_in, gauss(ax - x_in, 0.010), gauss(ax - x_in, 0.016))
    outer_h = np.where(ax < x_out, gauss(ax - x_out, 0.010), gauss(ax - x_out, 0.008))
    lower_v = np.where(y < line, np.clip((y - lid + 0.003) / (line - lid + 0.003), 0.0, 1.0), gauss(y - line, 0.010)) * c.front
    lower_h = np.where(ax > x_in, gauss(ax - x_in, 0.012), gauss(ax - x_in, 0.010))  # inner ends lowest: a V
    pull_h = np.where(ax > x_in, gauss(ax - x_in, 0.013), ax / x_in)
    glabella = c.blob(0.0, float(brow_arch(np.zeros(1), c.L)[0]) - 0.006, 0.006, 0.007)
    return {
        "brow_inner_raise": c.tangent(up=0.0075 * inner_h * raise_v),
        "brow_outer_raise": c.tangent(up=0.0075 * outer_h * raise_v),
        "brow_lower": c.tangent(up=-0.0060 * lower_h * lower_v, lateral=-0.0040 * pull_h * lower_v,
                                normal=0.0015 * glabella + 0.0008 * lower_h * lower_v),
    }


def _eye_fields(c: FieldContext) -> dict[str, np.ndarray]:
    """AU5, AU6, AU7 (AU43 is :func:`_eye_close`): lid margins move along the eyeball; the skin
    up to the brow (upper lid) or down to the cheek (lower lid) follows with a linear-ish ramp."""
    margin_y = c.P[c.mesh.grid_index[c.mesh.eye_row, np.where(c.mesh.col >= 0, c.mesh.col, 0)], 1]  # the upper margin's height per column
    top = brow_arch(np.abs(c.x), c.L) - 0.003
    upper = c.above_eye * c.fissure * (1.0 - np.clip((c.y - margin_y) / (top - margin_y), 0.0, 1.0))  # linear: no fold
    upper_near = c.above_eye * c.fissure * smoothstep(-0.006, 0.0, c.below_eye)
    lower = c.below_eye_side * c.fissure * smoothstep(0.010, 0.001, c.below_eye)  # 1 at the margin, 0 on the cheek
    lower_near = c.below_eye_side * c.fissure * smoothstep(0.006, 0.0, c.below_eye)
    eye = c.eye
    cheek = c.blob(c.L.cheek_x, eye[1] - 0.028, 0.013, 0.011)
    bags = c.blob(eye[0], eye[1] - 0.011, 0.009, 0.004) * c.below_eye_side
    crow = c.blob(c.outer[0] + 0.009, c.outer[1], 0.0055, 0.0075)
    return {
        "upper_lid_raise": c.tangent(up=0.0038 * upper),
        "cheek_raise": c.tangent(up=0.0035 * cheek + 0.0020 * lower, normal=0.0020 * cheek + 0.0010 * bags + 0.0008 * crow),
        "lid_tighten": c.tangent(up=0.0028 * lower_near - 0.0010 * upper_near, normal=0.0007 * crow + 0.0004 * lower_near),
    }


def _straight(up: np.ndarray, back: float | np.ndarray = 0.0) -> np.ndarray:
    """``[V, 3]`` straight up by ``up [V]`` and back by ``back``: the lips curl, so their surface
    frames turn away from the vertical near the mouth line, and squeezing or pressing the red
    along them would fold it."""
    out = np.zeros((up.shape[0], 3))
    out[:, 1] = up
    out[:, 2] = -back
    return out


def _mouth_fields(c: FieldContext, mouth_side: np.ndarray) -> dict[str, np.ndarray]:
    """AU10, AU12, AU15, AU16, AU17, AU18, AU20, AU22, AU23, AU24."""
    L, A, corner = c.L, c.A, c.corner
    ax = np.abs(c.x)
    cont = c.mouth_line_continuity()
    up_side, low_side = (mouth_side < 0).astype(float), (mouth_side > 0).astype(float)
    out: dict[str, np.ndarray] = {}
    dy = c.y - corner[1] - 0.001
    w = gauss(ax - corner[0] - 0.001, 0.010) * gauss(dy, np.where(dy > 0, 0.013, 0.009)) * c.front  # the cheek above rises with it
    cheek_bulge = c.blob(corner[0] + 0.010, corner[1] + 0.014, 0.010, 0.010)
    out["lip_corner_pull"] = c.tangent(up=0.0052 * w + 0.0020 * cheek_bulge, lateral=0.0042 * w,
                                       normal=-0.0006 * w + 0.0020 * cheek_bulge)
    w = c.blob(corner[0], corner[1] - 0.002, 0.010, 0.010)
    below_corner = c.blob(corner[0], corner[1] - 0.011, 0.008, 0.007)
    out["lip_corner_depress"] = c.tangent(up=-0.0048 * w, lateral=0.0008 * w, normal=0.0008 * below_corner)
    dy = c.y - corner[1]
    w = gauss(ax - corner[0], 0.011) * gauss(dy, np.where(dy > 0, 0.009, 0.013)) * c.front  # the lower lip moves with the corner
    out["lip_stretch"] = c.tangent(up=-0.0010 * w, lateral=0.0052 * w, normal=-0.0012 * w)
    lips = smoothstep(1.45, 0.6, c.lip_q) * c.front
    rim = smoothstep(1.0, 1.3, c.lip_q) * smoothstep(1.9, 1.35, c.lip_q) * c.front
    squeeze = mouth_side * 0.0015 * (1.0 - np.exp(-((c.below_mouth / 0.005) ** 2)))
    out["lip_press"] = c.tangent(normal=0.0005 * rim) + _straight(up=lips * squeeze, back=0.0010 * lips)
    band = smoothstep(1.35, 0.85, c.lip_q) * c.front
    narrow = c.blob(corner[0], corner[1], 0.006, 0.006)
    line = A.mouth_y + (corner[1] - A.mouth_y) * np.clip(ax / corner[0], 0.0, 1.0) ** 2  # the mouth line's height
    out["lip_tighten"] = c.tangent(lateral=-0.0008 * narrow) + _straight(up=0.35 * (line - c.y) * band, back=0.0006 * band)
    wide = smoothstep(1.5, 0.8, c.lip_q) * c.front
    inward = np.clip(ax / corner[0], 0.0, 1.3)
    out["lip_pucker"] = c.tangent(normal=0.0045 * wide, lateral=-0.0060 * inward * wide)
    flare = -mouth_side * c.in_mouth * 0.0022 * np.exp(-((c.below_mouth / 0.005) ** 2))
    out["lip_funnel"] = c.tangent(normal=0.0025 * wide, up=flare * wide)
    alae = c.blob(L.alae_x, L.nose_base_y + 0.006, 0.005, 0.005)
    plateau = np.exp(-((c.x / (0.62 * corner[0])) ** 4)) * c.front  # flat in the middle, 0 at the corners: an inverted U
    above = -c.below_mouth  # metres above the mouth line
    to_nose = np.clip((L.nose_base_y - c.y) / (L.nose_base_y - A.mouth_y - 0.006), 0.0, 1.0)  # 1 on the red, 0 at the nose
    upper_lip = up_side * plateau * np.where(above < 0.006, 1.0, to_nose) * cont
    fold = c.blob(corner[0] + 0.006, corner[1] + 0.012, 0.006, 0.008)
    out["upper_lip_raise"] = c.tangent(up=0.0046 * upper_lip + 0.0010 * alae, normal=0.0010 * upper_lip + 0.0008 * fold)
    lower_profile = np.exp(-((c.x / (0.66 * corner[0])) ** 4)) * c.front
    lower_lip = low_side * lower_profile * np.where(c.below_mouth < 0.008, 1.0, gauss(c.below_mouth - 0.008, 0.008)) * cont
    out["lower_lip_depress"] = c.tangent(up=-0.0040 * lower_lip, normal=0.0015 * lower_lip)
    boss = c.blob(0.0, A.mouth_y - 0.019, 0.014, 0.009)
    mid = gauss(c.x, 0.45 * corner[0]) * np.exp(-((c.below_mouth / np.where(mouth_side < 0, 0.007, 0.011)) ** 2)) * c.front
    out["chin_raise"] = c.tangent(up=0.0030 * boss, normal=0.0020 * boss + 0.0015 * low_side * mid * cont) + _straight(up=0.0020 * mid)
    return out


def semantic_expressions(mesh: HeadMesh, frames: Frames, anchors: Anchors) -> np.ndarray:
    """``[18, V, 3]``: the named expression components, in :data:`SEMANTIC_EXPRESSIONS` order.

    Each field is localised by its own smooth falloff (no cut by the region masks: a cut would
    fold the skin at real-face magnitudes); nearly all of its energy lies in or next to its
    regions (:data:`EXPRESSION_REGIONS`), none in the far ones.
    """
    c = FieldContext(mesh, frames, anchors)
    fields: dict[str, np.ndarray] = {}
    fields.update(_brow_fields(c))
    fields.update(_eye_fields(c))
    fields.update(_mouth_fields(c, mesh.mouth_side))
    L = c.L
    bridge = c.blob(0.008, L.nasion_y - 0.008, 0.006, 0.008)
    alae = c.blob(L.alae_x, L.nose_base_y + 0.006, 0.005, 0.005)
    brow_in = c.blob(c.inner[0] - 0.004, L.brow_y, 0.007, 0.006)
    fields["nose_wrinkle"] = c.tangent(up=0.0035 * bridge + 0.0030 * alae - 0.0015 * brow_in, normal=0.0012 * bridge + 0.0006 * alae)
    fields["eye_close"] = _eye_close(mesh, c)
    return np.stack([fields[name] * c.skin[:, None] for name in SEMANTIC_EXPRESSIONS])


def _eye_close(mesh: HeadMesh, c: FieldContext) -> np.ndarray:
    """Upper lid down onto the lower lid: the upper margin lands exactly on the lower margin."""
    out = np.zeros_like(c.P)
    gap = np.zeros((len(mesh.grid_phi), 3))
    for upper, lower in mesh.lower_copy.items():
        if mesh.row[upper] == mesh.eye_row:
            gap[mesh.col[upper]] = c.P[lower] - c.P[upper]
    cols = np.where(mesh.col >= 0, mesh.col, 0)
    falloff = c.above_eye * np.exp(-((c.below_eye / 0.0085) ** 2))
    out += gap[cols] * falloff[:, None]
    bulge = falloff * (1.0 - np.exp(-((c.below_eye / 0.003) ** 2)))  # none at the margin: it lands exactly
    out += c.tangent(normal=0.0006 * c.fissure * bulge)
    return out


def expression_tail(mesh: HeadMesh, frames: Frames, rng: np.random.Generator, count: int) -> np.ndarray:
    """``[count, V, 3]`` smooth, localised random fields on the face, amplitude decaying with index
    (like a PCA tail); each symmetric or antisymmetric under the left/right mirror."""
    skin = mesh.part == PART_SKIN
    P = mesh.points
    candidates = np.where(skin & (P[:, 2] > 0.03) & (P[:, 1] > -0.09) & (P[:, 1] < 0.07))[0]
    out = np.zeros((count, mesh.num_vertices, 3))
    lateral = candidates[np.abs(P[candidates, 0]) > 0.015]  # antisymmetric fields need an off-midline centre
    for k in range(count):
        sign = 1.0 if rng.random() < 0.6 else -1.0
        center = P[rng.choice(candidates if sign > 0 else lateral)]
        sigma = rng.uniform(0.010, 0.028)
        a = rng.standard_normal(3)
        a /= np.linalg.norm(a)
        amp = 0.0025 * (16.0 / (16.0 + k)) ** 0.6
        for cx, s in ((center[0], 1.0), (-center[0], sign)):
            w = gauss(np.linalg.norm(P - np.array([cx, center[1], center[2]]), axis=1), sigma) * skin
            out[k] += s * amp * w[:, None] * (a[0] * frames.normal + a[1] * frames.up + a[2] * frames.lateral)
    return out
