"""A dense float64 reference rasterizer for tests: every Gaussian against every pixel.

Written from gsplat's documented behaviour (classic mode), independently of the library's code
path: rotations come from SciPy (which takes quaternions as x, y, z, w), each Gaussian is
projected on its own with NumPy, and pixels are composited with a plain loop over the
depth-sorted Gaussians that mirrors the per-pixel loop of gsplat's CUDA kernel. Only for tiny
scenes: it is slow by design.
"""

from __future__ import annotations

import math

import numpy as np
from scipy.spatial.transform import Rotation

TILE = 16
EPS2D = 0.3
ALPHA_MIN = 1.0 / 255.0
ALPHA_MAX = 0.999
T_MIN = 1e-4
EXTEND_MAX = 3.33


def _project(mean, quat, scale, opacity, viewmat, K, width, height, near, far):
    """One Gaussian -> (depth, mean2d, conic 2x2, tile box) or None when culled."""
    w, x, y, z = quat
    rot = Rotation.from_quat([x, y, z, w]).as_matrix()  # SciPy normalises
    cov = rot @ np.diag(np.asarray(scale) ** 2) @ rot.T
    world_to_cam = viewmat[:3, :3]
    pc = world_to_cam @ mean + viewmat[:3, 3]
    if not (near <= pc[2] <= far):
        return None
    cov_c = world_to_cam @ cov @ world_to_cam.T
    fx, fy, cx, cy = K[0, 0], K[1, 1], K[0, 2], K[1, 2]
    # The Jacobian sees x/z and y/z clamped to 1.3x the field of view (gsplat's persp_proj).
    lim_xp = (width - cx) / fx + 0.3 * (0.5 * width / fx)
    lim_xn = cx / fx + 0.3 * (0.5 * width / fx)
    lim_yp = (height - cy) / fy + 0.3 * (0.5 * height / fy)
    lim_yn = cy / fy + 0.3 * (0.5 * height / fy)
    u = min(max(pc[0] / pc[2], -lim_xn), lim_xp)
    v = min(max(pc[1] / pc[2], -lim_yn), lim_yp)
    jac = np.array([[fx / pc[2], 0.0, -fx * u / pc[2]], [0.0, fy / pc[2], -fy * v / pc[2]]])
    cov2 = jac @ cov_c @ jac.T + EPS2D * np.eye(2)
    det = np.linalg.det(cov2)
    if det <= 0:
        return None
    if opacity < ALPHA_MIN:
        return None
    mean2 = np.array([fx * pc[0] / pc[2] + cx, fy * pc[1] / pc[2] + cy])
    extend = min(EXTEND_MAX, math.sqrt(2.0 * math.log(opacity / ALPHA_MIN)))
    rx = math.ceil(extend * math.sqrt(cov2[0, 0]))
    ry = math.ceil(extend * math.sqrt(cov2[1, 1]))
    if rx <= 0 and ry <= 0:
        return None
    if mean2[0] + rx <= 0 or mean2[0] - rx >= width or mean2[1] + ry <= 0 or mean2[1] - ry >= height:
        return None
    tiles_x, tiles_y = math.ceil(width / TILE), math.ceil(height / TILE)
    tx0 = min(max(math.floor((mean2[0] - rx) / TILE), 0), tiles_x)
    tx1 = min(max(math.ceil((mean2[0] + rx) / TILE), 0), tiles_x)
    ty0 = min(max(math.floor((mean2[1] - ry) / TILE), 0), tiles_y)
    ty1 = min(max(math.ceil((mean2[1] + ry) / TILE), 0), tiles_y)
    return pc[2], mean2, np.linalg.inv(cov2), (tx0, tx1, ty0, ty1)


def render_dense(means, quats, scales, opacities, colors, viewmat, K, width, height,
                 background=None, near_plane=0.01, far_plane=1e10):
    """Render one avatar into one camera.

    Args: NumPy-convertible ``means [N, 3]``, ``quats [N, 4]`` (w, x, y, z), ``scales [N, 3]``,
    ``opacities [N]``, ``colors [N, D]``, ``viewmat [4, 4]``, ``K [3, 3]``, ``background [D]``.

    Returns: ``(image [H, W, D], alpha [H, W, 1])`` float64 NumPy arrays.
    """
    f64 = lambda a: np.asarray(a, dtype=np.float64)  # noqa: E731
    means, quats, scales = f64(means), f64(quats), f64(scales)
    opacities, colors, viewmat, K = f64(opacities), f64(colors), f64(viewmat), f64(K)
    n, d = colors.shape
    projected = []
    for i in range(n):
        p = _project(means[i], quats[i], scales[i], opacities[i], viewmat, K, width, height,
                     near_plane, far_plane)
        if p is not None:
            projected.append((p[0], i, p))
    projected.sort(key=lambda item: (item[0], item[1]))  # depth, then index

    rows, cols = np.meshgrid(np.arange(height), np.arange(width), indexing="ij")
    px, py = cols + 0.5, rows + 0.5
    tile_col, tile_row = cols // TILE, rows // TILE
    trans = np.ones((height, width))
    done = np.zeros((height, width), dtype=bool)
    accum = np.zeros((height, width, d))
    for _, i, (_, mean2, conic, (tx0, tx1, ty0, ty1)) in projected:
        in_tiles = (tile_col >= tx0) & (tile_col < tx1) & (tile_row >= ty0) & (tile_row < ty1)
        dx, dy = mean2[0] - px, mean2[1] - py
        sigma = 0.5 * (conic[0, 0] * dx * dx + conic[1, 1] * dy * dy) + conic[0, 1] * dx * dy
        alpha = np.minimum(ALPHA_MAX, opacities[i] * np.exp(-sigma))
        active = in_tiles & ~done & (sigma >= 0) & (alpha >= ALPHA_MIN)
        next_trans = trans * (1.0 - alpha)
        stop = active & (next_trans <= T_MIN)
        done |= stop
        use = active & ~stop
        accum += np.where(use[..., None], (alpha * trans)[..., None] * colors[i], 0.0)
        trans = np.where(use, next_trans, trans)
    image = accum if background is None else accum + trans[..., None] * f64(background)
    return image, (1.0 - trans)[..., None]
