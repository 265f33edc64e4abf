"""EWA projection of 3D Gaussians into pinhole cameras, with gsplat's culling rules.

Everything here is plain differentiable PyTorch (autograd) over per-Gaussian, per-camera tensors;
the per-pixel work lives in :mod:`emoctl.render.compositing`.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
from torch import Tensor

from emoctl.render.conventions import (
    ALPHA_THRESHOLD,
    EPS2D,
    GAUSSIAN_EXTEND,
    JACOBIAN_CLAMP_MARGIN,
)


def quat_to_rotmat(quats: Tensor) -> Tensor:
    """Rotation matrices from quaternions in ``(w, x, y, z)`` order, normalised first.

    Args:
        quats: ``[..., 4]``, any non-zero norm.

    Returns:
        ``[..., 3, 3]`` rotation matrices (``R @ v`` rotates a column vector ``v``).
    """
    q = quats / torch.linalg.vector_norm(quats, dim=-1, keepdim=True)
    w, x, y, z = q.unbind(-1)
    xx, yy, zz = x * x, y * y, z * z
    xy, xz, yz = x * y, x * z, y * z
    wx, wy, wz = w * x, w * y, w * z
    rows = (
        1 - 2 * (yy + zz), 2 * (xy - wz), 2 * (xz + wy),
        2 * (xy + wz), 1 - 2 * (xx + zz), 2 * (yz - wx),
        2 * (xz - wy), 2 * (yz + wx), 1 - 2 * (xx + yy),
    )  # fmt: skip
    return torch.stack(rows, dim=-1).reshape(quats.shape[:-1] + (3, 3))


@dataclass
class ProjectedGaussians:
    """Per-camera screen-space Gaussians. Shapes are ``[B, C, N, ...]``.

    Attributes:
        means2d: ``[B, C, N, 2]`` pixel coordinates of the centres (differentiable).
        conics: ``[B, C, N, 3]`` inverse 2D covariance ``(a, b, c)`` for ``[[a, b], [b, c]]``
            (differentiable).
        depths: ``[B, C, N]`` camera-space z (detached).
        radii: ``[B, C, N, 2]`` integer box half widths in pixels (x, y); 0 for culled Gaussians.
        extents: ``[B, C, N, 2]`` half widths (x, y) of the box around the region where the
            Gaussian's alpha can reach :data:`ALPHA_THRESHOLD` (with a safety margin), used to
            skip pixel blocks that cannot see it. Detached.
        valid: ``[B, C, N]`` bool, True for Gaussians that survive culling.
    """

    means2d: Tensor
    conics: Tensor
    depths: Tensor
    radii: Tensor
    extents: Tensor
    valid: Tensor


def project_gaussians(
    means: Tensor,
    quats: Tensor,
    scales: Tensor,
    opacities: Tensor,
    viewmats: Tensor,
    Ks: Tensor,
    width: int,
    height: int,
    near_plane: float,
    far_plane: float,
    eps2d: float = EPS2D,
) -> ProjectedGaussians:
    """Project Gaussians into cameras (EWA splatting) and cull as gsplat does.

    Args:
        means: ``[B, N, 3]`` world positions.
        quats: ``[B, N, 4]`` rotations (w, x, y, z), any non-zero norm.
        scales: ``[B, N, 3]``.
        opacities: ``[B, N]``.
        viewmats: ``[B, C, 4, 4]`` world-to-camera (OpenCV axes: x right, y down, z forward).
        Ks: ``[B, C, 3, 3]`` pinhole intrinsics (``fx, fy, cx, cy`` are used; skew is ignored).
        width, height: image size in pixels.
        near_plane, far_plane: depth range kept (``near_plane > 0``).
        eps2d: added to the diagonal of the 2D covariance.

    Returns:
        :class:`ProjectedGaussians`. Culled entries hold finite placeholder values whose
        gradients are zero.
    """
    rot_cw = viewmats[..., :3, :3]  # [B, C, 3, 3]
    trans_cw = viewmats[..., :3, 3]  # [B, C, 3]
    means_c = torch.einsum("bcij,bnj->bcni", rot_cw, means) + trans_cw.unsqueeze(-2)
    x, y, z = means_c.unbind(-1)  # [B, C, N]

    with torch.no_grad():
        in_depth = (z >= near_plane) & (z <= far_plane)
    # Culled Gaussians may sit at z <= 0; a safe depth keeps their (unused) values and
    # gradients finite.
    z_safe = torch.where(in_depth, z, torch.ones_like(z))
    rz = 1.0 / z_safe

    fx = Ks[..., 0, 0].unsqueeze(-1)  # [B, C, 1]
    fy = Ks[..., 1, 1].unsqueeze(-1)
    cx = Ks[..., 0, 2].unsqueeze(-1)
    cy = Ks[..., 1, 2].unsqueeze(-1)

    means2d = torch.stack((fx * x * rz + cx, fy * y * rz + cy), dim=-1)  # [B, C, N, 2]

    # Perspective Jacobian with the frustum clamp of gsplat's persp_proj.
    tan_fovx = 0.5 * width / fx
    tan_fovy = 0.5 * height / fy
    lim_x_pos = (width - cx) / fx + JACOBIAN_CLAMP_MARGIN * tan_fovx
    lim_x_neg = cx / fx + JACOBIAN_CLAMP_MARGIN * tan_fovx
    lim_y_pos = (height - cy) / fy + JACOBIAN_CLAMP_MARGIN * tan_fovy
    lim_y_neg = cy / fy + JACOBIAN_CLAMP_MARGIN * tan_fovy
    u = torch.minimum(torch.maximum(x * rz, -lim_x_neg), lim_x_pos)  # clamped x / z
    v = torch.minimum(torch.maximum(y * rz, -lim_y_neg), lim_y_pos)
    # J = [[fx/z, 0, -fx u/z], [0, fy/z, -fy v/z]]; rows of J @ R_cw:
    r0, r1, r2 = rot_cw[..., 0, :], rot_cw[..., 1, :], rot_cw[..., 2, :]  # [B, C, 3]
    jr0 = (fx * rz).unsqueeze(-1) * (r0.unsqueeze(-2) - u.unsqueeze(-1) * r2.unsqueeze(-2))
    jr1 = (fy * rz).unsqueeze(-1) * (r1.unsqueeze(-2) - v.unsqueeze(-1) * r2.unsqueeze(-2))
    # A = J R_cw M with M = R diag(s): cov2d = A A^T.
    m = quat_to_rotmat(quats) * scales.unsqueeze(-2)  # [B, N, 3, 3]; Sigma = M M^T
    a0 = torch.einsum("bcnj,bnjk->bcnk", jr0, m)
    a1 = torch.einsum("bcnj,bnjk->bcnk", jr1, m)
    cov_xx = (a0 * a0).sum(-1) + eps2d
    cov_xy = (a0 * a1).sum(-1)
    cov_yy = (a1 * a1).sum(-1) + eps2d
    det = cov_xx * cov_yy - cov_xy * cov_xy

    with torch.no_grad():
        valid = in_depth & (det > 0)
        op = opacities.detach().unsqueeze(1).expand_as(z)
        valid &= op >= ALPHA_THRESHOLD
        log_ratio = torch.log(torch.where(valid, op, torch.ones_like(op)) / ALPHA_THRESHOLD)
        extend = torch.sqrt(2.0 * log_ratio.clamp(min=0.0)).clamp(max=GAUSSIAN_EXTEND)
        sd_x = torch.sqrt(cov_xx.detach().clamp(min=0.0))
        sd_y = torch.sqrt(cov_yy.detach().clamp(min=0.0))
        radius_x = torch.ceil(extend * sd_x)
        radius_y = torch.ceil(extend * sd_y)
        valid &= (radius_x > 0) | (radius_y > 0)
        mx, my = means2d.detach().unbind(-1)
        valid &= (mx + radius_x > 0) & (mx - radius_x < width)
        valid &= (my + radius_y > 0) & (my - radius_y < height)
        radii = torch.stack((radius_x, radius_y), dim=-1)
        radii = torch.where(valid.unsqueeze(-1), radii, torch.zeros_like(radii)).to(torch.int32)
        # Box of {alpha >= ALPHA_THRESHOLD} = {sigma <= ln(255 o)}, widened so that float
        # rounding in the per-pixel evaluation can never put a visible pixel outside it.
        sigma_max = log_ratio.clamp(min=0.0) * (1.0 + 1e-3) + 1e-3
        half = torch.sqrt(2.0 * sigma_max)
        extents = torch.stack((half * sd_x, half * sd_y), dim=-1) + 1e-2

    det_safe = torch.where(valid, det, torch.ones_like(det))
    conics = torch.stack((cov_yy / det_safe, -cov_xy / det_safe, cov_xx / det_safe), dim=-1)
    return ProjectedGaussians(
        means2d=means2d,
        conics=conics,
        depths=z.detach(),
        radii=radii,
        extents=extents,
        valid=valid,
    )

