"""Batched avatars and views, background blending, empty scenes."""

from __future__ import annotations

import numpy as np
import torch

from emoctl.render import look_at, rasterize

from .dense_reference import render_dense
from .scenes import camera, random_scene

W, H = 26, 18


def _cameras(c: int, dtype=torch.float64):
    _, K = camera(W, H, dtype=dtype)
    eyes = torch.tensor([[0.3 * i - 0.4, 0.2 * i, -3.0 + 0.1 * i] for i in range(c)], dtype=dtype)
    views = look_at(eyes, torch.zeros_like(eyes), up=(0.0, -1.0, 0.0))
    return views, K.expand(c, 3, 3)


def test_batched_avatars_and_views_equal_a_loop():
    b, c, n = 3, 2, 30
    scenes = [random_scene(n, seed) for seed in range(b)]
    stacked = [torch.stack(parts) for parts in zip(*scenes)]  # [B, N, ...]
    views, Ks = _cameras(c)
    bg = torch.rand(b, c, 3, dtype=torch.float64, generator=torch.Generator().manual_seed(0))
    images, alphas = rasterize(*stacked, views.expand(b, c, 4, 4), Ks.expand(b, c, 3, 3), W, H,
                               backgrounds=bg)
    assert images.shape == (b, c, H, W, 3) and alphas.shape == (b, c, H, W, 1)
    for i in range(b):
        for j in range(c):
            img, alpha = rasterize(*scenes[i], views[j:j + 1], Ks[j:j + 1], W, H,
                                   backgrounds=bg[i, j:j + 1])
            torch.testing.assert_close(images[i, j], img[0], rtol=0, atol=1e-12)
            torch.testing.assert_close(alphas[i, j], alpha[0], rtol=0, atol=1e-12)
    # Different avatars and views really give different images.
    assert (images[0, 0] - images[1, 0]).abs().max() > 0.05
    assert (images[0, 0] - images[0, 1]).abs().max() > 0.05


def test_leading_batch_dims_broadcast():
    """One avatar [N] rendered by a [2, 3] grid of camera sets; a [2, 1] batch of avatars."""
    n, c = 20, 2
    scene = random_scene(n, 4)
    views, Ks = _cameras(c)
    views_grid = views.expand(2, 3, c, 4, 4).clone()
    views_grid[1, 2, :, 2, 3] += 0.5  # one batch element moves its cameras back
    images, alphas = rasterize(*scene, views_grid, Ks, W, H)
    assert images.shape == (2, 3, c, H, W, 3) and alphas.shape == (2, 3, c, H, W, 1)
    torch.testing.assert_close(images[0, 0], images[1, 1], rtol=0, atol=1e-12)
    assert (images[1, 2] - images[0, 0]).abs().max() > 0.01
    single, _ = rasterize(*scene, views_grid[1, 2], Ks, W, H)
    torch.testing.assert_close(images[1, 2], single, rtol=0, atol=1e-12)

    two = [torch.stack([a, b]).unsqueeze(1) for a, b in zip(scene, random_scene(n, 5))]
    images2, _ = rasterize(*two, views, Ks, W, H)  # [2, 1] avatars x [C] views
    assert images2.shape == (2, 1, c, H, W, 3)
    torch.testing.assert_close(images2[0, 0], rasterize(*scene, views, Ks, W, H)[0])


def test_background_blend_is_one_minus_alpha_times_background():
    scene = random_scene(40, 6)
    view, K = camera(W, H)
    plain, alpha = rasterize(*scene, view[None], K[None], W, H)
    bg = torch.tensor([0.9, 0.1, 0.4], dtype=torch.float64)
    with_bg, alpha_bg = rasterize(*scene, view[None], K[None], W, H, backgrounds=bg)
    torch.testing.assert_close(alpha_bg, alpha)
    torch.testing.assert_close(with_bg, plain + (1 - alpha) * bg)
    assert 0.05 < alpha.mean() < 0.95  # both covered and uncovered pixels
    ref, _ = render_dense(*scene, view, K, W, H, background=bg.numpy())
    assert np.abs(with_bg[0].numpy() - ref).max() <= 1e-4


def test_empty_scene_gives_background_and_zero_alpha():
    view, K = camera(W, H)
    empty = [torch.zeros(0, 3), torch.zeros(0, 4), torch.zeros(0, 3), torch.zeros(0),
             torch.zeros(0, 3)]
    bg = torch.tensor([0.25, 0.5, 0.75])
    images, alphas = rasterize(*empty, view[None].float(), K[None].float(), W, H, backgrounds=bg)
    assert images.shape == (1, H, W, 3)
    assert torch.equal(alphas, torch.zeros(1, H, W, 1))
    assert torch.equal(images, bg.expand(1, H, W, 3))


def test_scene_entirely_culled_still_has_gradients():
    means, quats, scales, opacities, colors = random_scene(5, 1, special=False)
    means = (means + torch.tensor([0.0, 0.0, -10.0], dtype=means.dtype)).requires_grad_(True)
    colors = colors.clone().requires_grad_(True)
    view, K = camera(W, H)
    images, alphas = rasterize(means, quats, scales, opacities, colors, view[None], K[None], W, H)
    assert alphas.abs().max() == 0
    (images.sum() + alphas.sum()).backward()
    assert torch.equal(means.grad, torch.zeros_like(means))
    assert torch.equal(colors.grad, torch.zeros_like(colors))
