"""A tiny UV backbone config and LAM-layout inputs, shared by the backbone and adapter tests."""

import torch

TINY_UV = dict(image_size=32, patch=8, cond_dim=32, encoder_depth=1, encoder_heads=2, lift_dim=8, core_uv=16,
               shell_uv=8, uv_patch=4, width=32, layers=2, heads=2, texel_dim=8, zbuffer_size=16, render_size=24)


def lam_inputs(batch: int = 2, frames: int = 2, size: int = 32, seed: int = 0):
    """LAM's positional arguments ``(image, source_c2ws, source_intrs, render_c2ws, render_intrs,
    render_bg_colors, flame_params)`` on the synthetic world's cameras."""
    from emoctl.synthetic.cameras import camera_rig

    g = torch.Generator().manual_seed(seed)
    rig = camera_rig([0.0, 25.0, -25.0][:max(frames, 1)] + [0.0] * max(0, frames - 3), None, size)
    c2w, K = rig.c2w[:frames], rig.K[:frames]
    flame = {"expr": 0.5 * torch.randn(batch, frames, 100, generator=g),
             "jaw_pose": 0.1 * torch.rand(batch, frames, 3, generator=g),
             "betas": 0.3 * torch.randn(batch, 100, generator=g)}
    return (torch.rand(batch, 1, 3, size, size, generator=g), c2w[None, :1].expand(batch, 1, 4, 4),
            K[None, :1].expand(batch, 1, 3, 3), c2w[None].expand(batch, frames, 4, 4), K[None].expand(batch, frames, 3, 3),
            torch.ones(batch, frames, 3), flame)
