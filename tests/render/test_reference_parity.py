"""The PyTorch rasterizer against the dense float64 reference (tests/render/dense_reference.py)."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from emoctl.render import rasterize
from emoctl.render.rasterize import rasterize_torch
from emoctl.render.validation import validate_inputs

from .dense_reference import render_dense
from .scenes import camera, random_scene

TOL = 1e-4


def _reference(scene, view, K, width, height, background=None, near=0.01, far=1e10):
    means, quats, scales, opacities, colors = scene
    return render_dense(means, quats, scales, opacities, colors, view, K, width, height,
                        background=background, near_plane=near, far_plane=far)


def _ours(scene, view, K, width, height, background=None, near=0.01, far=1e10, **kw):
    inputs = validate_inputs(*scene, view[None], K[None], width, height, background, near, far,
                             "torch")
    images, alphas = rasterize_torch(inputs, **kw)
    return images[0, 0].detach().numpy(), alphas[0, 0].detach().numpy()


@pytest.mark.parametrize("seed", range(4))
@pytest.mark.parametrize("size", [(48, 32), (37, 29)])
def test_matches_dense_reference_float64(seed, size):
    width, height = size
    scene = random_scene(60, seed)
    view, K = camera(width, height)
    bg = torch.tensor([0.2, 0.5, 0.9], dtype=torch.float64)
    ref_img, ref_alpha = _reference(scene, view, K, width, height, background=bg.numpy())
    img, alpha = _ours(scene, view, K, width, height, background=bg)
    assert ref_alpha.max() > 0.5, "scene should cover part of the image"
    assert np.abs(img - ref_img).max() <= TOL
    assert np.abs(alpha - ref_alpha).max() <= TOL


@pytest.mark.parametrize("seed", range(3))
def test_matches_dense_reference_float32(seed):
    width, height = 40, 34
    scene = random_scene(50, seed + 10)
    view, K = camera(width, height)
    ref_img, ref_alpha = _reference(scene, view, K, width, height)
    scene32 = [t.float() for t in scene]
    img, alpha = _ours(scene32, view.float(), K.float(), width, height)
    assert img.dtype == np.float32
    assert np.abs(img - ref_img).max() <= TOL
    assert np.abs(alpha - ref_alpha).max() <= TOL


def test_opaque_scene_stops_compositing_like_the_reference():
    """Many opaque layers: pixels hit the transmittance threshold and must stop exactly there."""
    width, height = 33, 30
    means, quats, scales, opacities, colors = random_scene(120, 3, opaque=True)
    scene = (means, quats, scales * 2.5, opacities, colors)
    view, K = camera(width, height)
    ref_img, ref_alpha = _reference(scene, view, K, width, height)
    # The scene must actually exercise termination: some pixels reach T <= 1e-4 ...
    assert (ref_alpha > 1 - 2e-4).mean() > 0.3
    # ... and the tiny-alpha Gaussians behind them must be ignored, at any chunking.
    for kw in ({}, {"chunk_budget": 64, "segment": 2}, {"block_size": 16, "segment": 5},
               {"block_size": 2, "segment": 1, "chunk_budget": 32}):
        img, alpha = _ours(scene, view, K, width, height, **kw)
        assert np.abs(img - ref_img).max() <= TOL, kw
        assert np.abs(alpha - ref_alpha).max() <= TOL, kw


def test_block_size_and_chunking_do_not_change_the_image():
    width, height = 50, 41
    scene = random_scene(80, 7)
    view, K = camera(width, height)
    base, base_alpha = _ours(scene, view, K, width, height)
    for kw in ({"block_size": 16}, {"block_size": 4}, {"block_size": 1, "chunk_budget": 8},
               {"chunk_budget": 100, "segment": 3}):
        img, alpha = _ours(scene, view, K, width, height, **kw)
        np.testing.assert_allclose(img, base, atol=1e-12)
        np.testing.assert_allclose(alpha, base_alpha, atol=1e-12)


def test_near_and_far_planes_cull_like_the_reference():
    width, height = 32, 32
    scene = random_scene(40, 5)
    view, K = camera(width, height)
    ref_img, _ = _reference(scene, view, K, width, height, near=2.5, far=3.5)
    img, _ = _ours(scene, view, K, width, height, near=2.5, far=3.5)
    full, _ = _ours(scene, view, K, width, height)
    assert np.abs(img - ref_img).max() <= TOL
    assert np.abs(img - full).max() > 0.05  # the planes did remove something


@pytest.mark.parametrize("channels", [1, 5])
def test_any_number_of_channels(channels):
    width, height = 24, 20
    scene = random_scene(30, 11, channels=channels)
    view, K = camera(width, height)
    bg = torch.linspace(0.1, 0.9, channels, dtype=torch.float64)
    ref_img, _ = _reference(scene, view, K, width, height, background=bg.numpy())
    img, _ = _ours(scene, view, K, width, height, background=bg)
    assert img.shape == (height, width, channels)
    assert np.abs(img - ref_img).max() <= TOL


@settings(max_examples=12, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    seed=st.integers(0, 10_000),
    n=st.integers(1, 25),
    width=st.integers(1, 40),
    height=st.integers(1, 40),
    distance=st.floats(0.5, 6.0),
)
def test_random_scenes_property(seed, n, width, height, distance):
    scene = random_scene(n, seed, special=False)
    view, K = camera(width, height, distance=distance)
    ref_img, ref_alpha = _reference(scene, view, K, width, height)
    img, alpha = _ours(scene, view, K, width, height)
    assert np.abs(img - ref_img).max() <= TOL
    assert np.abs(alpha - ref_alpha).max() <= TOL


def test_public_entry_point_matches_reference():
    width, height = 30, 22
    scene = random_scene(40, 2)
    view, K = camera(width, height)
    images, alphas = rasterize(*scene, view[None], K[None], width, height, backend="auto")
    ref_img, ref_alpha = _reference(scene, view, K, width, height)
    assert images.shape == (1, height, width, 3) and alphas.shape == (1, height, width, 1)
    assert np.abs(images[0].numpy() - ref_img).max() <= TOL
    assert np.abs(alphas[0].numpy() - ref_alpha).max() <= TOL
