"""Camera helpers: intrinsics, look-at, orbits, convention converters, LAM cameras."""

from __future__ import annotations

import math

import pytest
import torch

from emoctl.errors import ShapeError
from emoctl.render import (
    RenderArgumentError,
    c2w_to_viewmat,
    intrinsics_from_fov,
    lam_cameras_to_viewmats,
    look_at,
    opencv_to_opengl_c2w,
    opengl_to_opencv_c2w,
    orbit_viewmats,
    rasterize,
)


def _project(view, K, point):
    pc = view[:3, :3] @ point + view[:3, 3]
    uv = K @ (pc / pc[2])
    return uv[:2], pc[2]


def test_intrinsics_from_fov():
    K = intrinsics_from_fov(60.0, 320, 240)
    focal = 120.0 / math.tan(math.radians(30.0))
    expected = torch.tensor([[focal, 0, 160.0], [0, focal, 120.0], [0, 0, 1.0]])
    torch.testing.assert_close(K, expected)
    # A point on the top edge of the vertical field of view projects onto the image's top edge.
    uv, _ = _project(torch.eye(4), K, torch.tensor([0.0, -math.tan(math.radians(30.0)), 1.0]))
    torch.testing.assert_close(uv, torch.tensor([160.0, 0.0]), atol=1e-4, rtol=0)
    with pytest.raises(RenderArgumentError):
        intrinsics_from_fov(180.0, 10, 10)
    with pytest.raises(RenderArgumentError):
        intrinsics_from_fov(40.0, 0, 10)


def test_look_at_axes_and_projection():
    eye = torch.tensor([1.0, 2.0, 5.0])
    target = torch.tensor([0.0, 0.5, 0.0])
    view = look_at(eye, target)
    rot = view[:3, :3]
    torch.testing.assert_close(rot @ rot.T, torch.eye(3), atol=1e-6, rtol=0)
    assert torch.det(rot) > 0  # a rotation, not a reflection
    torch.testing.assert_close(view[:3, :3] @ eye + view[:3, 3], torch.zeros(3), atol=1e-6, rtol=0)
    K = intrinsics_from_fov(40.0, 64, 48)
    uv, depth = _project(view, K, target)
    torch.testing.assert_close(uv, torch.tensor([32.0, 24.0]), atol=1e-4, rtol=0)
    assert depth > 0  # in front of the camera (z forward)
    # OpenCV axes: world up appears towards the top of the image (smaller row).
    uv_up, _ = _project(view, K, target + torch.tensor([0.0, 0.3, 0.0]))
    assert uv_up[1] < 24.0
    # Seen from +z with y up, world +x is on the right of the image.
    front = look_at(torch.tensor([0.0, 0.0, 4.0]), torch.zeros(3))
    uv_x, _ = _project(front, K, torch.tensor([0.5, 0.0, 0.0]))
    assert uv_x[0] > 32.0


def test_look_at_batched_and_errors():
    eyes = torch.randn(5, 3, generator=torch.Generator().manual_seed(0)) * 3 + 4
    views = look_at(eyes, torch.zeros(3))
    assert views.shape == (5, 4, 4)
    for i in range(5):
        torch.testing.assert_close(views[i], look_at(eyes[i], torch.zeros(3)))
    with pytest.raises(RenderArgumentError, match="coincide"):
        look_at([1.0, 1.0, 1.0], [1.0, 1.0, 1.0])
    with pytest.raises(RenderArgumentError, match="parallel"):
        look_at([0.0, 3.0, 0.0], [0.0, 0.0, 0.0])
    with pytest.raises(ShapeError):
        look_at([0.0, 3.0], [0.0, 0.0])


def test_orbit_viewmats():
    target = torch.tensor([0.1, 0.2, -0.3])
    views = orbit_viewmats(5, 2.5, target, elevation_deg=10.0, azimuth_range_deg=(-40.0, 40.0))
    assert views.shape == (5, 4, 4)
    centres = [-(v[:3, :3].T @ v[:3, 3]) for v in views]
    for centre in centres:
        torch.testing.assert_close(torch.linalg.vector_norm(centre - target), torch.tensor(2.5))
        assert centre[1] > target[1]  # above
    azimuths = [math.degrees(math.atan2(c[0] - target[0], c[2] - target[2])) for c in centres]
    assert azimuths == pytest.approx([-40.0, -20.0, 0.0, 20.0, 40.0], abs=1e-4)
    loop = orbit_viewmats(4, 1.0, azimuth_range_deg=(0.0, 360.0))
    loop_centres = [-(v[:3, :3].T @ v[:3, 3]) for v in loop]
    loop_az = [math.degrees(math.atan2(c[0], c[2])) % 360 for c in loop_centres]
    assert loop_az == pytest.approx([0.0, 90.0, 180.0, 270.0], abs=1e-4)
    with pytest.raises(RenderArgumentError):
        orbit_viewmats(0, 1.0)
    with pytest.raises(RenderArgumentError):
        orbit_viewmats(3, 1.0, elevation_deg=90.0)


def test_orbit_keeps_the_target_at_the_image_centre():
    K = intrinsics_from_fov(30.0, 32, 32).double()
    views = orbit_viewmats(3, 4.0, elevation_deg=-15.0, azimuth_range_deg=(0, 120)).double()
    splat = [torch.zeros(1, 3, dtype=torch.float64), torch.tensor([[1.0, 0, 0, 0]], dtype=torch.float64),
             torch.full((1, 3), 0.1, dtype=torch.float64), torch.ones(1, dtype=torch.float64),
             torch.ones(1, 1, dtype=torch.float64)]
    images, _ = rasterize(*splat, views, K.expand(3, 3, 3), 32, 32)
    for img in images:
        peak = torch.nonzero(img[..., 0] == img[..., 0].max())
        assert ((peak.float() - 15.5).abs() <= 0.5).all()


def test_c2w_and_opengl_conversions():
    view = look_at(torch.tensor([0.5, -1.0, 3.0]), torch.zeros(3))
    c2w = torch.linalg.inv(view)
    torch.testing.assert_close(c2w_to_viewmat(c2w), view, atol=1e-6, rtol=0)
    gl = opencv_to_opengl_c2w(c2w)
    torch.testing.assert_close(opengl_to_opencv_c2w(gl), c2w)
    # An OpenGL camera looks along its -z axis: the target is in front along -z.
    cam_from_world = torch.linalg.inv(gl)
    target_in_gl = cam_from_world[:3, :3] @ torch.zeros(3) + cam_from_world[:3, 3]
    assert target_in_gl[2] < 0
    torch.testing.assert_close(gl[:3, 3], c2w[:3, 3])  # same camera centre
    with pytest.raises(ShapeError):
        c2w_to_viewmat(torch.eye(3))


def test_lam_cameras_to_viewmats():
    gl_c2w = torch.eye(4)
    gl_c2w[2, 3] = 2.0  # Blender/NeRF camera at z = 2 looking down -z at the origin
    c2w = opengl_to_opencv_c2w(gl_c2w)  # what LAM's loader does: c2w[:3, 1:3] *= -1
    intr = torch.eye(4)
    intr[0, 0], intr[1, 1], intr[0, 2], intr[1, 2] = 500.0, 510.0, 250.0, 262.0
    views, Ks = lam_cameras_to_viewmats(c2w[None], intr[None])
    assert views.shape == (1, 4, 4) and Ks.shape == (1, 3, 3)
    torch.testing.assert_close(Ks[0], intr[:3, :3])
    uv, depth = _project(views[0], Ks[0], torch.zeros(3))
    torch.testing.assert_close(uv, torch.tensor([250.0, 262.0]))
    assert depth == pytest.approx(2.0)
    _, centred = lam_cameras_to_viewmats(c2w, intr, width=512, height=512)
    torch.testing.assert_close(centred[:2, 2], torch.tensor([256.0, 256.0]))
    with pytest.raises(RenderArgumentError):
        lam_cameras_to_viewmats(c2w, intr, width=512)
