"""Camera helpers: intrinsics, look-at and orbit view matrices, and camera-convention converters.

Conventions used throughout :mod:`emoctl.render` (those of gsplat and of OpenCV/COLMAP):

* a *view matrix* is world-to-camera, ``x_cam = V @ [x_world, 1]``;
* camera axes: x right, y down, z forward (the camera looks along +z);
* intrinsics ``K = [[fx, 0, cx], [0, fy, cy], [0, 0, 1]]`` in pixels, pixel ``(row i, column j)``
  has its centre at ``(j + 0.5, i + 0.5)``, so the image centre is ``(W / 2, H / 2)``.

World frame of the helpers that need one (``look_at``, ``orbit_viewmats``): y is up, and a FLAME
head faces +z, so a camera on the +z axis sees the face.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import torch
from torch import Tensor

from emoctl._checks import int_at_least
from emoctl.errors import NonFiniteError, ShapeError
from emoctl.render.errors import RenderArgumentError


def _as_tensor(x: Tensor | Sequence[float], name: str, dtype: torch.dtype | None = None,
               device: torch.device | str | None = None) -> Tensor:
    t = x if isinstance(x, Tensor) else torch.as_tensor(x, dtype=dtype or torch.float32)
    if dtype is not None or device is not None:
        t = t.to(dtype=dtype or t.dtype, device=device or t.device)
    if not t.is_floating_point():
        t = t.to(torch.get_default_dtype())
    if not bool(torch.isfinite(t).all()):
        raise NonFiniteError(f"{name} contains NaN or infinite values")
    return t


def _check_matrix(t: Tensor, name: str) -> None:
    if t.dim() < 2 or t.shape[-2:] != (4, 4):
        raise ShapeError(f"{name} must have shape [..., 4, 4], got {tuple(t.shape)}")


def intrinsics_from_fov(fov_y_degrees: float, width: int, height: int, *,
                        dtype: torch.dtype = torch.float32,
                        device: torch.device | str | None = None) -> Tensor:
    """Pinhole intrinsics with square pixels and the principal point at the image centre.

    Args:
        fov_y_degrees: vertical field of view, in ``(0, 180)``.
        width, height: image size in pixels.

    Returns:
        ``K [3, 3]`` with ``fy = fx = (height / 2) / tan(fov_y / 2)``, ``cx = width / 2``,
        ``cy = height / 2``.
    """
    fov = float(fov_y_degrees)
    if not 0.0 < fov < 180.0:
        raise RenderArgumentError(f"fov_y_degrees must be in (0, 180), got {fov_y_degrees!r}")
    width = int_at_least(width, "width")
    height = int_at_least(height, "height")
    focal = 0.5 * height / math.tan(math.radians(fov) / 2.0)
    return torch.tensor(
        [[focal, 0.0, width / 2.0], [0.0, focal, height / 2.0], [0.0, 0.0, 1.0]],
        dtype=dtype, device=device,
    )


def look_at(eye: Tensor | Sequence[float], target: Tensor | Sequence[float],
            up: Tensor | Sequence[float] = (0.0, 1.0, 0.0)) -> Tensor:
    """World-to-camera matrices of cameras at ``eye`` looking at ``target``.

    Args:
        eye: ``[..., 3]`` camera centres.
        target: ``[..., 3]`` points looked at (broadcast with ``eye``).
        up: ``[..., 3]`` world up direction; the camera's y axis (down) points away from it.

    Returns:
        ``[..., 4, 4]`` view matrices (OpenCV axes: x right, y down, z forward). Differentiable.

    Raises:
        RenderArgumentError: ``eye == target``, or viewing direction parallel to ``up``.
    """
    eye_t = _as_tensor(eye, "eye")
    target_t = _as_tensor(target, "target", dtype=eye_t.dtype, device=eye_t.device)
    up_t = _as_tensor(up, "up", dtype=eye_t.dtype, device=eye_t.device)
    for name, t in (("eye", eye_t), ("target", target_t), ("up", up_t)):
        if t.dim() < 1 or t.shape[-1] != 3:
            raise ShapeError(f"{name} must have shape [..., 3], got {tuple(t.shape)}")
    forward = target_t - eye_t
    dist = torch.linalg.vector_norm(forward, dim=-1, keepdim=True)
    if bool((dist <= 1e-12).any()):
        raise RenderArgumentError("look_at: eye and target coincide; the view direction is undefined")
    forward = forward / dist
    right = torch.linalg.cross(forward, up_t.expand_as(forward))
    right_norm = torch.linalg.vector_norm(right, dim=-1, keepdim=True)
    up_norm = torch.linalg.vector_norm(up_t, dim=-1, keepdim=True)
    if bool((right_norm <= 1e-6 * up_norm.clamp(min=1e-12)).any()):
        raise RenderArgumentError(
            "look_at: the view direction is parallel to `up` (or up is zero); pass another up vector"
        )
    right = right / right_norm
    down = torch.linalg.cross(forward, right)
    rot = torch.stack((right, down, forward), dim=-2)  # rows: camera axes in world coordinates
    trans = -(rot @ eye_t.expand_as(forward).unsqueeze(-1)).squeeze(-1)
    view = torch.zeros(rot.shape[:-2] + (4, 4), dtype=rot.dtype, device=rot.device)
    view[..., :3, :3] = rot
    view[..., :3, 3] = trans
    view[..., 3, 3] = 1.0
    return view


def orbit_viewmats(n: int, radius: float, target: Tensor | Sequence[float] = (0.0, 0.0, 0.0),
                   elevation_deg: float = 0.0,
                   azimuth_range_deg: tuple[float, float] = (-30.0, 30.0),
                   up: Sequence[float] = (0.0, 1.0, 0.0)) -> Tensor:
    """Cameras on a horizontal circle around ``target``, all looking at it.

    The camera position for azimuth ``a`` and elevation ``e`` is
    ``target + radius * (cos e sin a, sin e, cos e cos a)``: azimuth 0 is on the +z axis (in front
    of a FLAME face), positive azimuth moves towards +x, positive elevation looks down from above.

    Args:
        n: number of cameras (>= 1).
        radius: distance to the target (> 0).
        target: ``[3]`` point looked at.
        elevation_deg: elevation of the circle, in ``(-90, 90)``.
        azimuth_range_deg: ``(start, end)``; ``n`` azimuths evenly spaced from start to end
            inclusive, except that a full turn (``|end - start| == 360``) leaves out the end,
            which would repeat the start (for looping videos).

    Returns:
        ``[n, 4, 4]`` view matrices.
    """
    n = int_at_least(n, "n")
    if not float(radius) > 0.0:
        raise RenderArgumentError(f"radius must be > 0, got {radius!r}")
    if not -90.0 < float(elevation_deg) < 90.0:
        raise RenderArgumentError(f"elevation_deg must be in (-90, 90), got {elevation_deg!r}")
    target_t = _as_tensor(target, "target")
    if target_t.shape != (3,):
        raise ShapeError(f"target must have shape [3], got {tuple(target_t.shape)}")
    start, end = (float(v) for v in azimuth_range_deg)
    full_turn = math.isclose(abs(end - start), 360.0)
    steps = torch.arange(n, dtype=torch.float64)
    if n == 1:
        azimuths = torch.tensor([start], dtype=torch.float64)
    elif full_turn:
        azimuths = start + (end - start) * steps / n
    else:
        azimuths = start + (end - start) * steps / (n - 1)
    az = torch.deg2rad(azimuths)
    el = math.radians(float(elevation_deg))
    offsets = torch.stack(
        (math.cos(el) * torch.sin(az), torch.full_like(az, math.sin(el)), math.cos(el) * torch.cos(az)),
        dim=-1,
    ).to(target_t.dtype)
    eyes = target_t + float(radius) * offsets
    return look_at(eyes, target_t.expand_as(eyes), up)


def c2w_to_viewmat(c2w: Tensor) -> Tensor:
    """World-to-camera matrices from camera-to-world ones (the matrix inverse).

    Args:
        c2w: ``[..., 4, 4]``.

    Returns:
        ``[..., 4, 4]``.
    """
    _check_matrix(c2w, "c2w")
    return torch.linalg.inv(c2w)


def _flip_yz(c2w: Tensor) -> Tensor:
    _check_matrix(c2w, "c2w")
    flip = torch.tensor([1.0, -1.0, -1.0, 1.0], dtype=c2w.dtype, device=c2w.device)
    return c2w * flip  # scales the camera's y and z axes (columns 1 and 2)


def opencv_to_opengl_c2w(c2w: Tensor) -> Tensor:
    """Camera-to-world from OpenCV axes (x right, y down, z forward) to OpenGL/Blender/NeRF axes
    (x right, y up, z backward) by negating the camera's y and z axes. ``[..., 4, 4]``."""
    return _flip_yz(c2w)


def opengl_to_opencv_c2w(c2w: Tensor) -> Tensor:
    """Camera-to-world from OpenGL axes (NeRF/Blender ``transforms.json``) to OpenCV axes.
    ``[..., 4, 4]``; the inverse of :func:`opencv_to_opengl_c2w` (the same flip)."""
    return _flip_yz(c2w)


def lam_cameras_to_viewmats(c2ws: Tensor, intrs: Tensor, width: int | None = None,
                            height: int | None = None) -> tuple[Tensor, Tensor]:
    """View matrices and 3x3 intrinsics from LAM-style cameras.

    What LAM (aigc3d/LAM) uses, as read from its source:

    * ``c2ws [..., 4, 4]`` are camera-to-world matrices with **OpenCV** axes (x right, y down,
      z forward). LAM's loader reads NeRF-style ``transforms.json`` (OpenGL axes) and negates
      columns 1 and 2 (``c2w[:3, 1:3] *= -1``, i.e. :func:`opengl_to_opencv_c2w`); its renderer
      takes ``w2c = inverse(c2w)`` as the view matrix of a 3DGS rasterizer.
    * ``intrs [..., 4, 4]`` are ``eye(4)`` with ``[0, 0] = fx``, ``[1, 1] = fy``, ``[0, 2] = cx``,
      ``[1, 2] = cy`` in pixels of the rendered image.
    * LAM's rasterizer (diff-gaussian-rasterization) uses only ``fx, fy`` (through the field of
      view) and always puts the principal point at the image centre; LAM's preprocessing also
      sets ``cx, cy`` to the centre. Pass ``width`` and ``height`` to reproduce that exactly
      (``cx = width / 2``, ``cy = height / 2`` in this module's pixel-centre convention);
      without them the ``cx, cy`` stored in ``intrs`` are used.

    Returns:
        ``(viewmats [..., 4, 4], Ks [..., 3, 3])``.
    """
    _check_matrix(c2ws, "c2ws")
    _check_matrix(intrs, "intrs")
    if (width is None) != (height is None):
        raise RenderArgumentError("pass both width and height, or neither")
    viewmats = c2w_to_viewmat(c2ws)
    ks = intrs[..., :3, :3].clone()
    ks[..., 2, :] = torch.tensor([0.0, 0.0, 1.0], dtype=ks.dtype, device=ks.device)
    ks[..., 0, 1] = 0.0
    if width is not None:
        ks[..., 0, 2] = width / 2.0
        ks[..., 1, 2] = height / 2.0
    return viewmats, ks
