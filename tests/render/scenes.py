"""Deterministic random Gaussian scenes for the render tests."""

from __future__ import annotations

import math

import torch


def camera(width: int, height: int, dtype=torch.float64, distance: float = 3.0,
           off_centre: bool = True):
    """``(viewmat [4, 4], K [3, 3])`` of a camera at (0, 0, -distance) looking along +z, with a
    principal point slightly off the image centre."""
    f = 0.9 * max(width, height)
    cx = width / 2 + (1.7 if off_centre else 0.0)
    cy = height / 2 - (0.9 if off_centre else 0.0)
    K = torch.tensor([[f, 0.0, cx], [0.0, 1.05 * f, cy], [0.0, 0.0, 1.0]], dtype=dtype)
    view = torch.eye(4, dtype=dtype)
    view[2, 3] = distance
    return view, K


def random_scene(n: int, seed: int, dtype=torch.float64, channels: int = 3,
                 opaque: bool = False, special: bool = True):
    """``n`` Gaussians in front of, around and behind a camera at z = -3.

    With ``special``, the first Gaussians are the awkward cases: zero scale, zero opacity,
    opacity below 1/255, opacity above the 0.999 clamp, behind the camera, straddling the near
    plane, far off screen, huge, and needle-thin.
    """
    g = torch.Generator().manual_seed(seed)

    def rand(*shape):
        return torch.rand(*shape, generator=g, dtype=dtype)

    means = torch.stack(((rand(n) - 0.5) * 3.0, (rand(n) - 0.5) * 3.0, (rand(n) - 0.5) * 3.0), -1)
    quats = torch.randn(n, 4, generator=g, dtype=dtype)
    scales = rand(n, 3) * 0.25 + 0.02
    if opaque:
        opacities = rand(n) * 0.06 + 0.94
    else:
        opacities = rand(n) * 0.98 + 0.01
    colors = rand(n, channels)
    if special and n >= 10:
        scales[0] = 0.0  # point Gaussian: only the eps2d blur remains
        opacities[1] = 0.0  # invisible
        opacities[2] = 0.5 / 255.0  # below the alpha threshold: culled
        opacities[3] = 1.0  # alpha clamped at MAX_ALPHA
        means[4] = torch.tensor([0.1, 0.0, -4.0], dtype=dtype)  # behind the camera
        means[5] = torch.tensor([0.0, 0.1, -2.995], dtype=dtype)  # straddles the near plane
        means[6] = torch.tensor([9.0, -0.3, 0.5], dtype=dtype)  # off screen
        scales[7] = torch.tensor([1.5, 1.2, 1.4], dtype=dtype)  # covers many tiles
        scales[8] = torch.tensor([0.9, 0.001, 0.0], dtype=dtype)  # needle
        quats[9] = quats[9] * 37.0  # not normalised
    return means, quats, scales, opacities, colors


def head_scene(n: int, seed: int = 0, dtype=torch.float32):
    """A head-like shell of ``n`` Gaussians (an ellipsoid surface of radius ~1, both sides)."""
    g = torch.Generator().manual_seed(seed)
    d = torch.randn(n, 3, generator=g)
    d = d / d.norm(dim=-1, keepdim=True)
    means = d * torch.tensor([0.85, 1.1, 0.95])
    quats = torch.randn(n, 4, generator=g)
    k = math.sqrt(20000 / n)
    scales = (torch.rand(n, 3, generator=g) * 0.022 + 0.008) * k
    opacities = torch.rand(n, generator=g) * 0.7 + 0.3
    colors = torch.rand(n, 3, generator=g)
    return [t.to(dtype) for t in (means, quats, scales, opacities, colors)]
