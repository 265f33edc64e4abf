"""The UV rasteriser, texel layers and the reference camera's visibility test."""

import pytest
import torch

from emoctl.backbones.common import default_template
from emoctl.backbones.uv_lifting import (
    UVLayer,
    coarse_zbuffer,
    faces_touching,
    image_cells,
    project_points,
    rasterize_uv,
    sample_at,
    visible_points,
)
from emoctl.errors import ConfigError, ShapeError
from emoctl.synthetic.cameras import camera_rig

SQUARE_UV = torch.tensor([[0.0, 0.0], [1.0, 0.0], [1.0, 1.0], [0.0, 1.0]])
SQUARE_FACES = torch.tensor([[0, 1, 2], [0, 2, 3]])


def test_a_square_covers_every_texel_once_with_barycentrics_at_the_centres():
    texel, face, bary = rasterize_uv(SQUARE_UV, SQUARE_FACES, 8)
    assert texel.tolist() == list(range(64))
    assert torch.allclose(bary.sum(-1), torch.ones(64))
    assert (bary >= 0).all()
    centres = torch.einsum("nk,nkc->nc", bary.double(), SQUARE_UV.double()[SQUARE_FACES[face]])
    row, col = texel // 8, texel % 8
    expected = torch.stack([(col + 0.5) / 8, 1.0 - (row + 0.5) / 8], -1).double()
    assert torch.allclose(centres, expected, atol=1e-6)
    lower = rasterize_uv(SQUARE_UV, SQUARE_FACES, 8, face_mask=torch.tensor([True, False]))[1]
    assert len(lower) == 36 and (lower == 0).all()  # the diagonal's 8 texels and those below it


def test_overlapping_faces_keep_the_higher_priority_one():
    faces = torch.tensor([[0, 1, 2], [0, 1, 2], [0, 2, 3]])
    _, face, _ = rasterize_uv(SQUARE_UV, faces, 4)
    assert set(face.tolist()) == {0, 2}  # ties: the lower index
    _, face, _ = rasterize_uv(SQUARE_UV, faces, 4, priority=torch.tensor([0.0, 1.0, 0.0]))
    assert set(face.tolist()) == {1, 2}


def test_bad_layouts_are_refused():
    with pytest.raises(ShapeError, match="faces_uv"):
        rasterize_uv(SQUARE_UV, SQUARE_FACES[:, :2], 4)
    with pytest.raises(ConfigError, match="resolution"):
        rasterize_uv(SQUARE_UV, SQUARE_FACES, 0)


def test_the_synthetic_head_layer_and_its_texel_spacing():
    template = default_template(0, 0)
    layer = UVLayer.build(template, 32)
    assert 0.6 * 32 * 32 < layer.count < 32 * 32
    assert layer.texel.unique().numel() == layer.count
    # 32 texels across a map that wraps a ~0.55 m head circumference: centimetre spacing
    assert 0.002 < float(layer.spacing.median()) < 0.03
    inner = faces_touching(template, ["eyeballs", "teeth"])
    assert inner.any() and not inner.all()
    shell = UVLayer.build(template, 32, ~inner)
    assert shell.count < layer.count and not inner[shell.face].any()
    with pytest.raises(ConfigError, match="no texel"):
        UVLayer.build(template, 32, torch.zeros_like(inner))


def test_projection_matches_the_intrinsics_and_cells_cover_the_image():
    rig = camera_rig([0.0], None, 64)
    centre = rig.c2w[:, :3, 3] + 0.5 * rig.c2w[:, :3, 2]  # on the optical axis
    pix, depth = project_points(centre[:, None], rig.c2w, rig.K)
    assert torch.allclose(pix[0, 0], rig.K[0, :2, 2], atol=1e-4) and torch.allclose(depth, torch.tensor([[0.5]]))
    cells, inside = image_cells(torch.tensor([[[0.0, 0.0], [63.9, 63.9], [64.0, 10.0]]]), 64, 64, 4)
    assert cells.tolist() == [[0, 15, 3]] and inside.tolist() == [[True, True, False]]
    zbuf = coarse_zbuffer(torch.tensor([[1, 1, 2]]), torch.tensor([[0.7, 0.4, 0.9]]), torch.tensor([[True, True, False]]), 2)
    assert zbuf[0, 1] == 0.4 and torch.isinf(zbuf[0, [0, 2, 3]]).all()


def test_front_texels_are_visible_from_the_front_and_hidden_from_behind():
    template = default_template(0, 0)
    layer = UVLayer.build(template, 32)
    from emoctl.backbones.binding import TriangleBinding

    binding = TriangleBinding(template.faces, layer.face, layer.bary)
    points, frames = binding.rest(template, None)
    normals = frames[..., 1]
    skin = ~faces_touching(template, ["eyeballs", "mouth_interior", "teeth", "tongue"])[layer.face]
    front = skin & (points[0, :, 2] > 0.05)
    back = skin & (points[0, :, 2] < -0.03)
    seen = {}
    for yaw in (0.0, 180.0):
        rig = camera_rig([yaw], None, 64)
        seen[yaw], pix = visible_points(points, normals, points, normals, rig.c2w, rig.K, 64, 64, 32, 0.005)
        assert pix.shape == (1, layer.count, 2)
    assert seen[0.0][0, front].float().mean() > 0.8 and not seen[0.0][0, back].any()
    assert seen[180.0][0, back].float().mean() > 0.8 and not seen[180.0][0, front].any()
    # the teeth sit behind the closed lips: the depth test hides them although they face the camera
    teeth = faces_touching(template, ["teeth"])[layer.face]
    rig = camera_rig([0.0], None, 64)
    loose, _ = visible_points(points, normals, points, normals, rig.c2w, rig.K, 64, 64, 32, 1.0)
    assert teeth.any() and not seen[0.0][0, teeth].any() and loose[0, teeth].float().mean() > 0.5


def test_bilinear_sampling_in_the_reference_pixels():
    image = torch.arange(16.0).reshape(1, 1, 4, 4)
    # pixel centres of a 4x4 image, given in an 8x8 pixel frame (the map is the image resized)
    pixels = torch.tensor([[[1.0, 1.0], [7.0, 1.0], [4.0, 4.0]]])
    out = sample_at(image, pixels, 8, 8)
    assert out.shape == (1, 3, 1)
    assert out[0, :, 0].tolist() == [0.0, 3.0, 7.5]
