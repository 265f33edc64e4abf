"""Gradients of the PyTorch rasterizer: gradcheck in float64 on tiny scenes."""

from __future__ import annotations

import pytest
import torch

from emoctl.render import rasterize
from emoctl.render.rasterize import rasterize_torch
from emoctl.render.validation import validate_inputs

from .scenes import camera, random_scene

WIDTH, HEIGHT = 20, 13


def _smooth_scene(n: int, seed: int, opaque: bool = False):
    """A scene with no pixel near a discontinuity of the rasterizer (all Gaussians in front of
    the camera, reasonably large, opacities away from the thresholds)."""
    means, quats, scales, opacities, colors = random_scene(n, seed, special=False, opaque=opaque)
    means = means * torch.tensor([0.6, 0.6, 0.3], dtype=means.dtype)
    scales = scales + 0.25
    if not opaque:
        opacities = opacities * 0.8 + 0.1
    return means, quats, scales, opacities, colors


def _render_fn(width=WIDTH, height=HEIGHT, **kw):
    def render(means, quats, scales, opacities, colors, viewmats, Ks, backgrounds):
        inputs = validate_inputs(means, quats, scales, opacities, colors, viewmats, Ks, width,
                                 height, backgrounds, 0.01, 1e10, "torch")
        return rasterize_torch(inputs, **kw)
    return render


def _inputs(scene, requires=None, width=WIDTH, height=HEIGHT):
    view, K = camera(width, height)
    bg = torch.tensor([0.3, 0.6, 0.1], dtype=torch.float64)
    tensors = [*scene, view[None], K[None], bg]
    names = ["means", "quats", "scales", "opacities", "colors", "viewmats", "Ks", "backgrounds"]
    return [t.clone().requires_grad_(requires is None or name in requires)
            for t, name in zip(tensors, names)]


@pytest.mark.parametrize("wrt", ["means", "quats", "scales", "opacities", "colors"])
def test_gradcheck_each_gaussian_attribute(wrt):
    scene = _smooth_scene(6, 3)
    inputs = _inputs(scene, requires={wrt})
    image, _ = _render_fn()(*inputs)
    assert image.std() > 0.05  # a non-trivial image
    assert torch.autograd.gradcheck(_render_fn(), inputs, fast_mode=True, atol=1e-6, rtol=1e-4)


def test_full_jacobian_on_a_tiny_image():
    """Every entry of the Jacobian (no random projection), on a 9 x 7 image."""
    inputs = _inputs(_smooth_scene(4, 8), width=9, height=7)
    assert torch.autograd.gradcheck(_render_fn(9, 7), inputs, atol=1e-6, rtol=1e-4)


def test_gradcheck_all_inputs_including_cameras_and_background():
    inputs = _inputs(_smooth_scene(8, 5))
    assert torch.autograd.gradcheck(_render_fn(), inputs, fast_mode=True, atol=1e-6, rtol=1e-4)


@pytest.mark.parametrize("kw", [
    {"chunk_budget": 64, "segment": 2},
    {"chunk_budget": 64, "segment": 2, "save_bytes": 0},  # backward recomputes every segment
    {"chunk_budget": 64, "segment": 2, "save_bytes": 40_000},  # keeps some, recomputes others
    {"block_size": 4, "segment": 3, "chunk_budget": 48},
])
def test_gradcheck_with_split_blocks_and_opaque_layers(kw):
    """Blocks split into many segments, pixels that stop at the transmittance threshold, and a
    Gaussian whose alpha is clamped."""
    means, quats, scales, opacities, colors = _smooth_scene(24, 5, opaque=True)
    opacities = opacities.clone()
    opacities[0] = 0.9995  # reaches the MAX_ALPHA clamp
    inputs = _inputs((means, quats, scales, opacities, colors))
    _, alpha = _render_fn(**kw)(*inputs)
    assert alpha.max() > 1 - 2e-4  # some pixels reached the transmittance threshold
    assert torch.autograd.gradcheck(_render_fn(**kw), inputs, fast_mode=True, atol=1e-6,
                                    rtol=1e-4)


def test_float32_gradients_agree_with_float64():
    scene = _smooth_scene(10, 9)
    target = torch.rand(1, 1, HEIGHT, WIDTH, 3, dtype=torch.float64, generator=torch.Generator().manual_seed(1))
    grads = {}
    for dtype in (torch.float64, torch.float32):
        inputs = [t.detach().to(dtype).requires_grad_(True) for t in _inputs(scene)]
        image, alpha = _render_fn()(*inputs)
        loss = ((image - target.to(dtype)) ** 2).sum() + alpha.sum()
        loss.backward()
        grads[dtype] = [t.grad.double() for t in inputs[:5]]
    for g64, g32 in zip(grads[torch.float64], grads[torch.float32]):
        scale = g64.abs().max().clamp(min=1e-6)
        assert ((g64 - g32).abs().max() / scale) < 1e-3


def test_culled_gaussians_get_zero_finite_gradients():
    means, quats, scales, opacities, colors = _smooth_scene(5, 1)
    means = means.clone()
    means[0] = torch.tensor([0.0, 0.0, -3.0], dtype=means.dtype)  # exactly at the camera centre
    means[1] = torch.tensor([50.0, 0.0, 1.0], dtype=means.dtype)  # far off screen
    inputs = _inputs((means, quats, scales, opacities, colors))
    image, alpha = _render_fn()(*inputs)
    (image.sum() + alpha.sum()).backward()
    for t in inputs:
        assert torch.isfinite(t.grad).all()
    for t in inputs[:5]:
        assert (t.grad[:2] == 0).all()
        assert t.grad[2:].abs().sum() > 0


def test_public_rasterize_is_differentiable():
    inputs = _inputs(_smooth_scene(4, 2))
    images, alphas = rasterize(*inputs[:7], WIDTH, HEIGHT, backgrounds=inputs[7])
    (images.mean() + alphas.mean()).backward()
    assert all(t.grad is not None and torch.isfinite(t.grad).all() for t in inputs)
