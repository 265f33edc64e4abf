"""gsplat (CUDA) against the PyTorch rasterizer. Runs only where CUDA and gsplat exist; the
PyTorch rasterizer's correctness is established independently in test_reference_parity.py."""

from __future__ import annotations

import importlib.util

import pytest
import torch

from emoctl.render import rasterize

from .scenes import camera, head_scene, random_scene

pytestmark = [
    pytest.mark.cuda,
    pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA device"),
    pytest.mark.skipif(importlib.util.find_spec("gsplat") is None, reason="needs gsplat"),
]


def _both(scene, view, K, width, height, bg=None):
    args = [t.float().cuda() for t in (*scene, view[None], K[None])]
    bg = None if bg is None else bg.float().cuda()
    ours = rasterize(*args, width, height, backgrounds=bg, backend="torch")
    theirs = rasterize(*args, width, height, backgrounds=bg, backend="gsplat")
    return ours, theirs


@pytest.mark.parametrize("seed", range(3))
def test_random_scenes_match_gsplat(seed):
    width, height = 64, 48
    scene = random_scene(200, seed, dtype=torch.float32)
    view, K = camera(width, height, dtype=torch.float32)
    bg = torch.tensor([0.1, 0.2, 0.3])
    (img, alpha), (g_img, g_alpha) = _both(scene, view, K, width, height, bg)
    assert alpha.max() > 0.5
    diff = (img - g_img).abs()
    # float32 on two devices (and fast-math exp on the GPU): tiny differences, no structural ones.
    assert diff.max() < 2e-3 and diff.mean() < 1e-5
    assert (alpha - g_alpha).abs().max() < 2e-3


def test_head_scene_and_gradients_match_gsplat():
    size = 128
    means, quats, scales, opacities, colors = head_scene(5000)
    view = torch.eye(4)
    view[2, 3] = 5.2
    f = size / 2 / 0.2679
    K = torch.tensor([[f, 0, size / 2], [0, f, size / 2], [0, 0, 1.0]])
    grads = {}
    for backend in ("torch", "gsplat"):
        ins = [t.cuda().requires_grad_(True) for t in (means, quats, scales, opacities, colors)]
        img, alpha = rasterize(*ins, view[None].cuda(), K[None].cuda(), size, size, backend=backend)
        (img.square().sum() + alpha.sum()).backward()
        grads[backend] = (img.detach(), [t.grad for t in ins])
    img_t, g_t = grads["torch"]
    img_g, g_g = grads["gsplat"]
    assert (img_t - img_g).abs().max() < 2e-3
    for a, b in zip(g_t, g_g):
        rel = (a - b).norm() / b.norm().clamp(min=1e-12)
        assert rel < 1e-2
