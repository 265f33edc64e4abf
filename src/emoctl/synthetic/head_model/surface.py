"""The synthetic head's analytic skin surface: a star-shaped radial function around a ray origin.

A skin point is ``origin + r(theta, phi) * d(theta, phi)`` with ``d = (sin t sin p, cos t,
sin t cos p)``: ``theta`` is the polar angle from +y (0 at the crown), ``phi`` the azimuth from +z
(the face) towards +x (the subject's left). ``r`` is a smooth union (log-sum-exp) of convex volumes
that contain the origin (skull, lower face, neck), plus radial feature bumps (nose, brow ridge,
cheekbones, lips (:func:`lip_relief`), chin, ears, eye sockets), then a smooth union with slightly
enlarged eyeball spheres, so the eyelids hug the eyeballs. Everything is plain numpy on ``[N]`` arrays, metres.
"""

from __future__ import annotations

from dataclasses import dataclass, fields, replace

import numpy as np


def smoothstep(edge0: float, edge1: float, x: np.ndarray) -> np.ndarray:
    """0 below ``edge0``, 1 above ``edge1`` (or reversed when ``edge0 > edge1``), C1 in between."""
    t = np.clip((x - edge0) / (edge1 - edge0), 0.0, 1.0)
    return t * t * (3.0 - 2.0 * t)


def gauss(x: np.ndarray, sigma: float | np.ndarray) -> np.ndarray:
    """Unnormalised Gaussian ``exp(-x^2 / (2 sigma^2))``."""
    return np.exp(-0.5 * (x / sigma) ** 2)


@dataclass(frozen=True)
class HeadLayout:
    """Proportions of the synthetic head (metres). ``perturbed(rng)`` varies them slightly."""

    origin_y: float = -0.010
    origin_z: float = 0.000
    skull_center_y: float = 0.020
    skull_center_z: float = -0.015
    skull_rx: float = 0.074
    skull_ry: float = 0.100
    skull_rz: float = 0.095
    face_center_y: float = -0.030
    face_center_z: float = 0.012
    face_rx: float = 0.062
    face_ry: float = 0.068
    face_rz: float = 0.080
    neck_center_z: float = -0.022
    neck_rx: float = 0.052
    neck_rz: float = 0.050
    neck_bottom_y: float = -0.170
    eye_x: float = 0.0325  # pupils centred between the canthi, about 64 mm apart
    eye_y: float = 0.030
    fissure_half_width: float = 0.0140  # palpebral fissure ~30 mm wide (canthus to canthus)
    eyeball_radius: float = 0.0125
    eye_protrusion: float = 0.0030
    iris_radius: float = 0.0060  # 12 mm iris
    pupil_radius: float = 0.0018
    lid_above_pupil: float = 0.0045  # rest: the upper lid covers the iris's top 1.5 mm
    lid_below_pupil: float = 0.0055  # rest: the lower lid at the iris's lower edge (fissure 10 mm tall)
    socket_depth: float = 0.0060
    brow_y: float = 0.048
    brow_height: float = 0.0042
    nasion_y: float = 0.034
    nose_tip_y: float = -0.012
    nose_base_y: float = -0.027
    nose_tip_height: float = 0.021
    nose_bridge_height: float = 0.0045
    nose_tip_width: float = 0.0085
    nose_bridge_width: float = 0.0055
    alae_x: float = 0.0145
    alae_height: float = 0.0065
    mouth_y: float = -0.045
    mouth_half_width: float = 0.0250  # mouth 50 mm wide
    upper_lip_height: float = 0.0020  # how far the red of the lips stands out of the face, centre
    lower_lip_height: float = 0.0023
    upper_vermilion: float = 0.0042  # height of the red of the lips at the centre (8-10 mm in all)
    lower_vermilion: float = 0.0050
    teeth_depth: float = 0.0065  # front of the upper incisors behind the closed lips
    teeth_show: float = 0.0030  # upper incisal edge below the lip line (the display of relaxed parted lips)
    arch_half_width: float = 0.0240  # dental arch (an ellipse through the incisors)
    arch_depth: float = 0.0270
    chin_y: float = -0.080
    chin_height: float = 0.0075
    cheekbone_x: float = 0.048
    cheekbone_y: float = 0.002
    cheekbone_height: float = 0.0045
    cheek_x: float = 0.038
    cheek_y: float = -0.030
    cheek_height: float = 0.0030
    ear_y: float = -0.004
    ear_z: float = -0.014
    ear_half_height: float = 0.019
    ear_half_depth: float = 0.011
    ear_height: float = 0.013

    def perturbed(self, rng: np.random.Generator, scale: float = 0.03) -> "HeadLayout":
        """Every proportion times ``1 + scale * n`` (``n`` standard normal, clipped to +-2)."""
        changes = {}
        for f in fields(self):
            if f.name.startswith("origin"):
                continue
            value = getattr(self, f.name)
            changes[f.name] = value * (1.0 + scale * float(np.clip(rng.standard_normal(), -2.0, 2.0)))
        return replace(self, **changes)

    @property
    def origin(self) -> np.ndarray:
        return np.array([0.0, self.origin_y, self.origin_z])


def directions(theta: np.ndarray, phi: np.ndarray) -> np.ndarray:
    """Unit ray directions ``[N, 3]`` for polar angle ``theta`` (from +y) and azimuth ``phi``."""
    st = np.sin(theta)
    return np.stack([st * np.sin(phi), np.cos(theta), st * np.cos(phi)], axis=-1)


def _ellipsoid_exit(o: np.ndarray, d: np.ndarray, center: np.ndarray, radii: np.ndarray) -> np.ndarray:
    """Exit distance along ``d`` from ``o`` (inside) through an axis-aligned ellipsoid."""
    oo = (o - center) / radii
    dd = d / radii
    a = np.sum(dd * dd, axis=-1)
    b = 2.0 * np.sum(oo * dd, axis=-1)
    c = np.sum(oo * oo) - 1.0
    return (-b + np.sqrt(np.maximum(b * b - 4.0 * a * c, 0.0))) / (2.0 * a)


def sphere_far_hit(o: np.ndarray, d: np.ndarray, center: np.ndarray, radius: float) -> np.ndarray:
    """Far intersection distance of rays with a sphere, ``-inf`` where a ray misses it."""
    oc = o - center
    b = np.sum(d * oc, axis=-1)
    c = np.sum(oc * oc) - radius * radius
    disc = b * b - c
    t = -b + np.sqrt(np.maximum(disc, 0.0))
    return np.where(disc > 0, t, -np.inf)


def _neck_exit(o: np.ndarray, d: np.ndarray, L: HeadLayout) -> np.ndarray:
    ox, oz = (o[0]) / L.neck_rx, (o[2] - L.neck_center_z) / L.neck_rz
    dx, dz = d[:, 0] / L.neck_rx, d[:, 2] / L.neck_rz
    a = np.maximum(dx * dx + dz * dz, 1e-12)
    b = 2.0 * (ox * dx + oz * dz)
    c = ox * ox + oz * oz - 1.0
    t_side = (-b + np.sqrt(np.maximum(b * b - 4 * a * c, 0.0))) / (2 * a)
    dy = d[:, 1]
    top = 0.03
    with np.errstate(divide="ignore"):
        t_cap = np.where(dy < -1e-9, (L.neck_bottom_y - o[1]) / np.minimum(dy, -1e-9), (top - o[1]) / np.maximum(dy, 1e-9))
    return np.minimum(t_side, t_cap)


def smooth_max(values: list[np.ndarray], k: float) -> np.ndarray:
    stacked = np.stack(values, axis=0)
    m = np.max(stacked, axis=0)
    return m + k * np.log(np.sum(np.exp((stacked - m) / k), axis=0))


@dataclass(frozen=True)
class FeatureFrame:
    """Grid-snapped feature positions the lips and eyelids are built around."""

    theta_mouth: float
    phi_mouth_corner: float
    theta_eye: float
    phi_eye_inner: float
    phi_eye_outer: float
    eye_centers: np.ndarray  # [2, 3]: left (+x), right (-x)
    upper_opening: float = 0.0  # how far the upper lid's margin is pulled up at rest (metres along the skin)
    lower_opening: float = 0.0  # and the lower lid's margin down


def base_radius(theta: np.ndarray, phi: np.ndarray, L: HeadLayout) -> np.ndarray:
    """Radius of the smooth union of skull, lower face and neck (no features)."""
    o, d = L.origin, directions(theta, phi)
    skull = _ellipsoid_exit(o, d, np.array([0.0, L.skull_center_y, L.skull_center_z]), np.array([L.skull_rx, L.skull_ry, L.skull_rz]))
    face = _ellipsoid_exit(o, d, np.array([0.0, L.face_center_y, L.face_center_z]), np.array([L.face_rx, L.face_ry, L.face_rz]))
    neck = _neck_exit(o, d, L)
    return smooth_max([skull, face, neck], k=0.006)


@dataclass
class SkinSample:
    """Skin points ``P [N, 3]`` and the nose and ear heights that shaped them (for region masks)."""

    points: np.ndarray
    nose: np.ndarray
    ears: np.ndarray


def brow_arch(ax: np.ndarray, L: HeadLayout) -> np.ndarray:
    """Height ``y`` of the brow line at distance ``ax = |x|`` from the midline: highest over the
    eyes' inner halves, dropping towards the temples."""
    return L.brow_y + 0.004 * (1.0 - (np.minimum(ax, 0.055) / 0.05) ** 2)


def nose_height(x: np.ndarray, y: np.ndarray, L: HeadLayout) -> np.ndarray:
    """Nose ridge/tip/alae height above the base surface at front coordinates (x, y)."""
    span = L.nasion_y - L.nose_tip_y
    s = np.clip((L.nasion_y - y) / span, 0.0, 1.0)
    ridge = L.nose_bridge_height + (L.nose_tip_height - L.nose_bridge_height) * s**1.6
    above = L.nose_bridge_height * np.exp(-(np.maximum(y - L.nasion_y, 0.0) / 0.008) ** 2)
    below_t = np.clip((L.nose_tip_y - y) / (L.nose_tip_y - L.nose_base_y), 0.0, 1.0)
    below = L.nose_tip_height * (1.0 - below_t**2) ** 2
    profile = np.where(y > L.nasion_y, above, np.where(y > L.nose_tip_y, ridge, below))
    width = L.nose_bridge_width + (L.nose_tip_width - L.nose_bridge_width) * np.clip((L.nasion_y - y) / span, 0.0, 1.2)
    ridge_h = profile * np.exp(-0.5 * (x / width) ** 2)
    alae = sum(
        L.alae_height * gauss(x - sx * L.alae_x, 0.0055) * gauss(y - (L.nose_base_y + 0.006), 0.0055) for sx in (1.0, -1.0)
    )
    return np.maximum(ridge_h, alae) + 0.25 * np.minimum(ridge_h, alae)


def lip_taper(u: np.ndarray, min_height: float = 0.25) -> tuple[np.ndarray, np.ndarray]:
    """``(height, fullness)`` ``[N]`` of the red of the lips at ``u`` = azimuth over the corner's
    azimuth (0 at the centre, 1 at the corners): both 1 at the centre, smoothly thinner towards the
    corners (the height to ``min_height``, the fullness to nothing, with zero slope there)."""
    u4 = np.clip(u, 0.0, 1.0) ** 4
    return min_height + (1.0 - min_height) * (1.0 - u4), (1.0 - u4) ** 2


def lip_relief(rows: np.ndarray, u: np.ndarray, x: np.ndarray, L: HeadLayout) -> np.ndarray:
    """Radial relief ``[N]`` (metres) of the lips: the upper and lower lip stand out of the face by
    ``upper_lip_height`` / ``lower_lip_height`` at the centre, smooth bumps about as tall as the
    red of the lips (``upper_vermilion`` / ``lower_vermilion``), flattening towards the corners
    (:func:`lip_taper`), which stay visible; plus the philtrum's groove. (Narrower, more curved
    bumps would fold the skin under the expressions that push along the surface normal.)

    ``rows``: metres below the lip line (negative above); ``u``: azimuth over the corner's
    azimuth (0 at the centre, 1 at the corners); ``x``: metres from the midline.
    """
    span, full = lip_taper(u, min_height=0.5)
    s = rows / span
    upper = L.upper_lip_height * gauss(s + 0.45 * L.upper_vermilion, 0.55 * L.upper_vermilion)
    lower = L.lower_lip_height * gauss(s - 0.45 * L.lower_vermilion, 0.55 * L.lower_vermilion)
    philtrum = -0.0009 * gauss(x, 0.0035) * gauss(rows + 0.011, 0.004)
    return (upper + lower) * full + philtrum


def skin_points(theta: np.ndarray, phi: np.ndarray, L: HeadLayout, frame: FeatureFrame | None) -> SkinSample:
    """Skin surface points for parameters (theta, phi); ``frame=None`` leaves out lips and eyeballs."""
    theta = np.asarray(theta, dtype=np.float64)
    phi = np.asarray(phi, dtype=np.float64)
    o, d = L.origin, directions(theta, phi)
    r0 = base_radius(theta, phi, L)
    p0 = o + r0[:, None] * d
    x, y, z = p0[:, 0], p0[:, 1], p0[:, 2]
    front = smoothstep(0.015, 0.05, z)
    ax = np.abs(x)

    nose = nose_height(x, y, L) * front
    brow = L.brow_height * gauss(y - brow_arch(ax, L), 0.0065) * smoothstep(0.062, 0.045, ax) * front
    socket = -L.socket_depth * gauss(ax - L.eye_x, 0.0125) * gauss(y - L.eye_y, 0.011) * front
    cheekbones = L.cheekbone_height * gauss(ax - L.cheekbone_x, 0.013) * gauss(y - L.cheekbone_y, 0.012) * front
    cheeks = L.cheek_height * gauss(ax - L.cheek_x, 0.015) * gauss(y - L.cheek_y, 0.014) * front
    chin = L.chin_height * gauss(x, 0.0145) * gauss(y - L.chin_y, 0.011) * front
    labiomental = -0.0018 * gauss(x, 0.012) * gauss(y - (L.mouth_y - 0.016), 0.004) * front
    side = smoothstep(0.05, 0.066, ax)
    ear_u, ear_v = (y - L.ear_y) / L.ear_half_height, (z - L.ear_z) / L.ear_half_depth
    ear_outer = np.exp(-0.5 * (ear_u**2 + ear_v**2) * 2.2)
    ear_bowl = np.exp(-0.5 * ((ear_u + 0.1) ** 2 + (ear_v - 0.15) ** 2) * 9.0)
    ears = L.ear_height * (ear_outer - 0.35 * ear_bowl) * side
    lips = np.zeros_like(r0)
    if frame is not None:
        rows = r0 * (theta - frame.theta_mouth)  # metres below the mouth line (negative above)
        lips = lip_relief(rows, np.abs(phi) / frame.phi_mouth_corner, x, L) * front
    r = r0 + nose + brow + socket + cheekbones + cheeks + chin + labiomental + ears + lips
    if frame is not None:
        envelope = [sphere_far_hit(o, d, c, L.eyeball_radius + 0.0012) for c in frame.eye_centers]
        r = smooth_max([r, *envelope], k=0.0012)
    return SkinSample(points=o + r[:, None] * d, nose=nose, ears=ears)
