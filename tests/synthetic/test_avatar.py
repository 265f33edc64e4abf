"""The Gaussian avatar: geometry from FLAME, culling that does not change pixels, cameras, errors."""

import numpy as np
import pytest
import torch

from emoctl.errors import ShapeError
from emoctl.flame import FLAME
from emoctl.synthetic import GaussianHead, RenderSettings, camera_rig, default_rig, sample_traits, scale_rig, still_articulation
from emoctl.synthetic.avatar import mouth_cavity


@pytest.fixture(scope="module")
def avatar(head):
    return GaussianHead(head)


@pytest.fixture(scope="module")
def clip(model, speech):
    seq = model.apply(speech, "surprised")
    return {k: v[40:43] for k, v in seq.items()}


def test_gaussians_follow_flame(avatar, head, clip):
    betas = torch.linspace(-1, 1, 300)
    verts = avatar.posed_vertices(clip, betas)
    expected = FLAME(head)({**{k: v[None] for k, v in clip.items()}, "betas": betas[None]}).vertices[0]
    torch.testing.assert_close(verts, expected)
    scales = avatar.gaussian_scales(verts)
    assert scales.shape == (3, head.num_vertices, 3) and float(scales.min()) > 0
    assert float(scales.max()) <= avatar.settings.max_scale + 1e-9
    face = (head.regions["skin"] > 0.5) & (head.v_template[:, 2] > 0.06)
    assert 0.0015 < float(scales[0, face, 0].median()) < 0.004  # ~0.6 x the ~4 mm face edges
    # mouth_scale sizes the cavity's Gaussians only, not those of the teeth or the tongue
    cavity = mouth_cavity(head) > 0.5
    solid = (head.regions["teeth"] > 0) | (head.regions["tongue"] > 0)
    assert int(cavity.sum()) > 30 and int(solid.sum()) > 30 and not bool((cavity & solid).any())
    bigger = GaussianHead(head, RenderSettings(mouth_scale=1.5, max_scale=1.0)).gaussian_scales(verts)
    plain = GaussianHead(head, RenderSettings(max_scale=1.0)).gaussian_scales(verts)
    torch.testing.assert_close(bigger[:, cavity], 1.5 * plain[:, cavity])
    torch.testing.assert_close(bigger[:, ~cavity], plain[:, ~cavity])


def test_culling_does_not_change_the_image(head, model, clip):
    albedo = model.albedo(sample_traits(3))
    rig = default_rig(3, 64)
    culled = GaussianHead(head).render(clip, None, albedo, rig)
    full = GaussianHead(head, RenderSettings(backface_cull=None)).render(clip, None, albedo, rig)
    diff = np.abs(culled.astype(int) - full.astype(int))
    assert diff.mean() < 0.05 and diff.max() <= 8  # only sub-threshold silhouette halos differ


def test_render_output_and_background(avatar, head, clip):
    albedo = torch.full((head.num_vertices, 3), 0.6)
    rig = default_rig(2, (48, 40))
    frames = avatar.render(clip, None, albedo, rig, chunk_frames=2)
    assert frames.shape == (3, 2, 48, 40, 3) and frames.dtype == np.uint8
    assert (frames[:, :, 0, 0] == 255).all()
    green = GaussianHead(head, RenderSettings(background=(0.0, 1.0, 0.0))).render(clip, None, albedo, rig)
    assert (green[:, :, 0, 0] == [0, 255, 0]).all()
    # the head is lit: brighter on the key light's side, and not flat
    centre = frames[0, 0, 12:36, 10:30].astype(float)
    assert centre.std() > 5
    per_frame_albedo = albedo.expand(3, -1, -1).clone()
    assert np.array_equal(avatar.render(clip, None, per_frame_albedo, rig, chunk_frames=2), frames)


def test_camera_helpers():
    rig = camera_rig([0.0], [0.0], (60, 80), distance=0.5, target=(0.0, 0.1, 0.0))
    w2c = torch.linalg.inv(rig.c2w[0])
    p = w2c[:3, :3] @ torch.tensor([0.0, 0.1, 0.0]) + w2c[:3, 3]
    uv = rig.K[0] @ p
    torch.testing.assert_close(uv[:2] / uv[2], torch.tensor([40.0, 30.0]), atol=1e-4, rtol=0)
    big = default_rig(2, 512)
    small = scale_rig(big, 128, 64)
    assert (small.height, small.width) == (128, 64)
    torch.testing.assert_close(small.K[:, 0], big.K[:, 0] / 8)
    torch.testing.assert_close(small.K[:, 1], big.K[:, 1] / 4)
    assert scale_rig(big, 512, 512) is big


def test_bad_inputs(avatar, head, clip):
    rig = default_rig(1, 32)
    good = torch.zeros(head.num_vertices, 3)
    with pytest.raises(ShapeError):
        avatar.render(clip, None, torch.zeros(10, 3), rig)
    with pytest.raises(ShapeError):
        avatar.render(clip, None, good, rig, chunk_frames=0)
    with pytest.raises(ShapeError):
        avatar.render(clip, None, good, "rig")
    with pytest.raises(ShapeError):
        avatar.render({**clip, "jaw_pose": clip["jaw_pose"][:2]}, None, good, rig)
    with pytest.raises(ShapeError):
        avatar.posed_vertices({})
    with pytest.raises(ShapeError):
        camera_rig([0.0, 10.0], [0.0], 32)
    assert avatar.render(still_articulation_sequence(), None, good, rig).shape == (1, 1, 32, 32, 3)


def still_articulation_sequence():
    from emoctl.synthetic import EmotionModel

    return EmotionModel().apply(still_articulation(1), "neutral")
