"""The shared backbone core: template skinning, bindings, avatars, blending, quaternions."""

from __future__ import annotations

import math

import pytest
import torch

from emoctl.backbones.avatar import GaussianAvatar, blend_avatars, matrix_to_quat
from emoctl.backbones.binding import TriangleBinding, VertexBinding
from emoctl.backbones.template import HeadTemplate, farthest_point_indices
from emoctl.errors import ShapeError
from emoctl.render.projection import quat_to_rotmat
from emoctl.synthetic.head import synthetic_head


@pytest.fixture(scope="module")
def template():
    return HeadTemplate(synthetic_head(0, 0))


def _params(batch=2, frames=3, seed=0, scale=1.0):
    g = torch.Generator().manual_seed(seed)
    return {
        "expr": torch.randn(batch, frames, 100, generator=g) * 0.5 * scale,
        "jaw_pose": torch.randn(batch, frames, 3, generator=g) * 0.1 * scale,
        "rotation": torch.randn(batch, frames, 3, generator=g) * 0.2 * scale,
        "neck_pose": torch.randn(batch, frames, 3, generator=g) * 0.1 * scale,
        "translation": torch.randn(batch, frames, 3, generator=g) * 0.01 * scale,
        "betas": torch.randn(batch, 300, generator=g) * 0.5,
    }


def test_vertex_transforms_match_flame_lbs(template):
    params = _params()
    posed, rotations = template.vertex_transforms(params)
    assert posed.shape == (2, 3, template.num_vertices, 3)
    assert torch.allclose(posed, template.posed_vertices(params), atol=1e-5)
    # skinning rotations are (blends of) rotations: close to orthonormal near rigid parts
    eye = torch.eye(3).expand_as(rotations)
    assert (rotations @ rotations.transpose(-1, -2) - eye).abs().amax() < 0.2


def test_global_rotation_turns_vertex_frames(template):
    params = {"rotation": torch.tensor([[[0.0, math.pi / 2, 0.0]]]), "betas": torch.zeros(1, 300)}
    _, rotations = template.vertex_transforms(params)
    expected = torch.tensor([[0.0, 0.0, 1.0], [0.0, 1.0, 0.0], [-1.0, 0.0, 0.0]])
    assert torch.allclose(rotations[0, 0, 0], expected, atol=1e-5)


def test_farthest_points_are_spread_and_checked(template):
    idx = farthest_point_indices(template.v_template, 64)
    assert idx.unique().numel() == 64
    pts = template.v_template[idx]
    d = torch.cdist(pts, pts) + torch.eye(64)
    rand = template.v_template[torch.randperm(template.num_vertices, generator=torch.Generator().manual_seed(0))[:64]]
    dr = torch.cdist(rand, rand) + torch.eye(64)
    assert d.min() > dr.min()
    with pytest.raises(ShapeError, match="count"):
        farthest_point_indices(template.v_template, 0)


def test_matrix_to_quat_round_trip():
    q = torch.nn.functional.normalize(torch.randn(500, 4, generator=torch.Generator().manual_seed(1)), dim=-1)
    q = torch.where(q[:, :1] < 0, -q, q)
    assert torch.allclose(matrix_to_quat(quat_to_rotmat(q)), q, atol=1e-5)


def _avatar(template, binding, batch=2, frames=None, seed=0):
    g = torch.Generator().manual_seed(seed)
    n = binding.num_gaussians
    lead = (batch, n) if frames is None else (batch, frames, n)
    quats = torch.nn.functional.normalize(torch.randn(*lead, 4, generator=g), dim=-1)
    return GaussianAvatar(
        offsets=torch.randn(*lead, 3, generator=g) * 0.003, colors=torch.rand(*lead, 3, generator=g),
        opacities=torch.rand(*lead, generator=g), scales=torch.rand(*lead, 3, generator=g) * 0.01, quats=quats,
        betas=torch.zeros(batch, 300), template=template, binding=binding,
    )


def test_animated_offsets_follow_a_rigid_head_turn(template):
    """A pure global rotation moves every Gaussian rigidly, offsets and rotations included."""
    for binding in (VertexBinding(torch.arange(0, 200)),
                    TriangleBinding(template.faces, torch.arange(0, 200), torch.full((200, 3), 1 / 3))):
        avatar = _avatar(template, binding, batch=1)
        rest = avatar.canonical()
        angle = 0.7
        turned = avatar.animate({"rotation": torch.tensor([[[0.0, angle, 0.0]]])})
        c, s = math.cos(angle), math.sin(angle)
        r = torch.tensor([[c, 0.0, s], [0.0, 1.0, 0.0], [-s, 0.0, c]])
        # the root joint is the pivot: compare displacements relative to it through a rigid fit
        a, b = rest.means[0, 0], turned.means[0, 0]
        a0, b0 = a - a.mean(0), b - b.mean(0)
        assert torch.allclose(a0 @ r.T, b0, atol=2e-4)
        ra, rb = quat_to_rotmat(rest.quats[0, 0]), quat_to_rotmat(turned.quats[0, 0])
        assert torch.allclose(r @ ra, rb, atol=1e-4)


def test_avatar_checks_attribute_shapes(template):
    binding = VertexBinding(torch.arange(10))
    avatar = _avatar(template, binding)
    with pytest.raises(ShapeError, match="colors"):
        avatar.replace(colors=torch.rand(2, 9, 3))
    with pytest.raises(ShapeError, match="offsets"):
        avatar.replace(offsets=torch.rand(2, 10, 2))


def test_render_shapes_and_camera_check(template):
    from emoctl.synthetic.cameras import default_rig

    avatar = _avatar(template, VertexBinding(farthest_point_indices(template.v_template, 300)))
    rig = default_rig(1, 24)
    posed = avatar.animate(_params(scale=0.0))
    c2w, k = rig.c2w.float().expand(2, 3, 4, 4), rig.K.float().expand(2, 3, 3, 3)
    images, alphas = posed.render(c2w, k, torch.ones(2, 3, 3), 24, 24)
    assert images.shape == (2, 3, 24, 24, 3) and alphas.shape == (2, 3, 24, 24, 1)
    assert alphas.amax() > 0.5 and alphas[..., 0, 0, :].amax() < 0.05  # a head in the middle, background in the corner
    with pytest.raises(ShapeError, match="render_c2ws"):
        posed.render(c2w[:, :2], k, None, 24, 24)


def test_blend_endpoints_and_midpoint(template):
    binding = VertexBinding(torch.arange(50))
    a, b = _avatar(template, binding, seed=1), _avatar(template, binding, seed=2)
    w = torch.zeros(2, 3, 2)
    w[:, 0, 0] = 1
    w[:, 1] = 0.5
    w[:, 2, 1] = 1
    mixed = blend_avatars([a, b], w)
    assert mixed.colors.shape == (2, 3, 50, 3)
    assert torch.allclose(mixed.colors[:, 0], a.colors) and torch.allclose(mixed.colors[:, 2], b.colors)
    assert torch.allclose(mixed.colors[:, 1], (a.colors + b.colors) / 2)
    posed = mixed.animate(_params(batch=2, frames=3))
    assert posed.colors.shape == (2, 3, 50, 3)
    with pytest.raises(ShapeError, match="frames"):
        mixed.animate(_params(batch=2, frames=4))
    with pytest.raises(ShapeError, match="weights"):
        blend_avatars([a, b], torch.ones(2, 3, 3))
