"""A small model with LAM's public module layout, for tests, benchmarks and adapter authors.

Built from diffusers' own ``Attention`` with ``JointAttnProcessor2_0`` (as LAM's
``SD3JointTransformerBlock`` is), so emoctl's LAM adapter meets the real attention code. Nothing
here is LAM's code; the layout follows the interface description in emoctl's docs:

- ``model.encoder``: image ``[B, 1, 3, H, W]`` → image tokens ``[B, P, cond_dim]``;
- ``model.transformer``: ``linear_cond_proj`` (cond_dim → width), ``layers[i]`` joint blocks with
  ``attn`` (the last one ``context_pre_only``), ``norm``; ``forward(x, cond=None, mod=None)``;
- ``model.forward_transformer`` / ``forward_latent_points``;
- ``model.forward(image, source_c2ws, source_intrs, render_c2ws, render_intrs, render_bg_colors,
  flame_params, ...)`` and ``model.infer_single_view(...)`` (no grad), which animate per-point
  Gaussians with a linear expression basis and a jaw rotation driven by ``flame_params`` and
  splat them into small images.

Requires ``diffusers`` (a test dependency of emoctl).
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
import torch.nn.functional as F
from torch import nn

from emoctl.flame_schema import FLAME_SCHEMA, JAW_DIM, FlameSchema

from emoctl.backbones.joint_transformer import JointTransformerBlock, JointTransformerDecoder  # noqa: F401 (re-exported)

#: LAM's ``TransformerDecoder`` interface (the block lives in :mod:`emoctl.backbones.joint_transformer`).
LayoutTransformerDecoder = JointTransformerDecoder


@dataclass(frozen=True)
class LAMLayoutConfig:
    width: int = 64  # transformer inner dim
    cond_dim: int = 48  # image-token width (LAM: 1024)
    layers: int = 2
    heads: int = 4
    num_points: int = 96  # query points (LAM: 20,018)
    image_size: int = 32
    patch: int = 8  # image tokens = (image_size / patch)^2 (LAM: 1,296)
    expression_dim: int = FLAME_SCHEMA.expression_dim
    render_size: int = 16
    seed: int = 0


class PatchEncoder(nn.Module):
    """Image ``[B, 1, 3, H, W]`` or ``[B, 3, H, W]`` → tokens ``[B, (H/p)*(W/p), cond_dim]``."""

    def __init__(self, patch: int, cond_dim: int):
        super().__init__()
        self.proj = nn.Conv2d(3, cond_dim, kernel_size=patch, stride=patch)

    def forward(self, image):
        if image.dim() == 5:
            image = image[:, 0]
        return self.proj(image).flatten(2).transpose(1, 2)


def _axis_angle_to_matrix(aa: torch.Tensor) -> torch.Tensor:
    """Rodrigues: ``[..., 3]`` → ``[..., 3, 3]``."""
    angle = aa.norm(dim=-1, keepdim=True).clamp(min=1e-8)
    axis = aa / angle
    x, y, z = axis.unbind(-1)
    zero = torch.zeros_like(x)
    k = torch.stack([zero, -z, y, z, zero, -x, -y, x, zero], dim=-1).reshape(*aa.shape[:-1], 3, 3)
    s, c = angle.sin()[..., None], angle.cos()[..., None]
    eye = torch.eye(3, dtype=aa.dtype, device=aa.device).expand_as(k)
    return eye + s * k + (1 - c) * (k @ k)


class LAMLayoutModel(nn.Module):
    """A tiny trainable stand-in with LAM's layout and call signatures (see the module docstring)."""

    def __init__(self, config: LAMLayoutConfig = LAMLayoutConfig()):
        super().__init__()
        self.config = config
        with torch.random.fork_rng(devices=[]):
            torch.manual_seed(config.seed)
            self.encoder = PatchEncoder(config.patch, config.cond_dim)
            self.pcl_embed = nn.Linear(3, config.width)
            self.transformer = LayoutTransformerDecoder(config.width, config.cond_dim, config.layers, config.heads)
            self.gs_head = nn.Linear(config.width, 3 + 3 + 1)  # xyz offset, rgb, opacity
            g = torch.Generator().manual_seed(config.seed + 1)
            points = F.normalize(torch.randn(config.num_points, 3, generator=g), dim=-1) * 0.1
            self.register_buffer("query_points", points)
            self.register_buffer("expr_basis", torch.randn(config.num_points, 3, config.expression_dim, generator=g) * 1e-3)
            self.register_buffer("jaw_weights", (points[:, 1] < 0).float() * torch.sigmoid(-points[:, 1] * 40))

    # -- LAM's reconstruction path ------------------------------------------------------
    def forward_transformer(self, image_feats, camera_embeddings, query_points, query_feats=None):
        x = self.pcl_embed(query_points)
        return self.transformer(x, cond=image_feats, mod=camera_embeddings)

    def forward_latent_points(self, image, camera, query_points=None, additional_features=None):
        image_feats = self.encoder(image)
        if query_points is None:
            query_points = self.query_points.expand(image_feats.shape[0], -1, -1)
        return self.forward_transformer(image_feats, camera, query_points)

    def gaussians(self, latent):
        """Per-point canonical Gaussians from transformer tokens ``[B, L, width]``."""
        out = self.gs_head(latent)
        return {
            "xyz": self.query_points + 0.01 * torch.tanh(out[..., :3]),
            "rgb": torch.sigmoid(out[..., 3:6]),
            "opacity": torch.sigmoid(out[..., 6:7]),
        }

    # -- animation and a cheap differentiable splat --------------------------------------
    def animate(self, xyz, flame_params):
        """Canonical points ``[B, L, 3]`` → per-frame points ``[B, N, L, 3]``."""
        expr = flame_params["expr"]
        jaw = flame_params["jaw_pose"]
        if expr.dim() == 2:
            expr, jaw = expr[:, None], jaw[:, None]
        offsets = torch.einsum("bne,lce->bnlc", expr, self.expr_basis)
        rot = _axis_angle_to_matrix(jaw)  # [B, N, 3, 3]
        pts = xyz[:, None] + offsets
        jawed = torch.einsum("bnij,bnlj->bnli", rot, pts)
        w = self.jaw_weights[None, None, :, None]
        pts = (1 - w) * pts + w * jawed
        if "translation" in flame_params:
            t = flame_params["translation"]
            pts = pts + (t[:, None] if t.dim() == 2 else t)[:, :, None, :]
        return pts

    def splat(self, points, rgb, opacity, c2ws, intrs, bg):
        """Soft splat: points ``[B, N, L, 3]`` → images ``[B, N, S, S, 3]``."""
        s = self.config.render_size
        w2c = torch.linalg.inv(c2ws)  # [B, N, 4, 4]
        cam = torch.einsum("bnij,bnlj->bnli", w2c[..., :3, :3], points) + w2c[..., None, :3, 3]
        z = cam[..., 2:3].clamp(min=1e-3)
        uv = torch.einsum("bnij,bnlj->bnli", intrs[..., :2, :3], torch.cat([cam[..., :2] / z, torch.ones_like(z)], -1))
        grid = (torch.arange(s, dtype=points.dtype, device=points.device) + 0.5) / s * self.config.image_size
        gy, gx = torch.meshgrid(grid, grid, indexing="ij")
        pix = torch.stack([gx, gy], -1).reshape(1, 1, s * s, 1, 2)
        d2 = ((pix - uv[:, :, None]) ** 2).sum(-1)  # [B, N, S*S, L]
        weight = opacity[:, None, None, :, 0] * torch.exp(-d2 / 2.0)
        color = torch.einsum("bnpl,blc->bnpc", weight, rgb)
        alpha = weight.sum(-1, keepdim=True).clamp(max=1.0)
        image = color / weight.sum(-1, keepdim=True).clamp(min=1e-6) * alpha + (1 - alpha) * bg[:, :, None]
        return image.reshape(*points.shape[:2], s, s, 3)

    def _render(self, image, render_c2ws, render_intrs, render_bg_colors, flame_params):
        latent = self.forward_latent_points(image, camera=None)
        gs = self.gaussians(latent)
        points = self.animate(gs["xyz"], flame_params)
        images = self.splat(points, gs["rgb"], gs["opacity"], render_c2ws, render_intrs, render_bg_colors)
        return {"comp_rgb": images, "gs_xyz": points, "gs_rgb": gs["rgb"], "gs_opacity": gs["opacity"], "latent": latent}

    def forward(self, image, source_c2ws, source_intrs, render_c2ws, render_intrs, render_bg_colors,
                flame_params, source_flame_params=None, render_images=None, data=None):
        return self._render(image, render_c2ws, render_intrs, render_bg_colors, flame_params)

    @torch.no_grad()
    def infer_single_view(self, image, source_c2ws, source_intrs, render_c2ws, render_intrs, render_bg_colors, flame_params):
        return self._render(image, render_c2ws, render_intrs, render_bg_colors, flame_params)


def make_inputs(config: LAMLayoutConfig = LAMLayoutConfig(), batch: int = 2, frames: int = 3, seed: int = 0):
    """Positional arguments for ``forward``/``infer_single_view``: image, cameras, backgrounds,
    and ``flame_params`` with ``expr [B, N, E]`` and ``jaw_pose [B, N, 3]`` (plus the rest)."""
    g = torch.Generator().manual_seed(seed)
    s = config.image_size
    image = torch.rand(batch, 1, 3, s, s, generator=g)
    c2w = torch.eye(4).repeat(batch, frames, 1, 1)
    c2w[..., 2, 3] = -0.6  # camera behind the origin, looking down +z
    intr = torch.zeros(batch, frames, 4, 4)
    intr[..., 0, 0] = intr[..., 1, 1] = 2.0 * s
    intr[..., 0, 2] = intr[..., 1, 2] = s / 2
    intr[..., 2, 2] = intr[..., 3, 3] = 1.0
    bg = torch.ones(batch, frames, 3)
    schema = FlameSchema(expression_dim=config.expression_dim)
    flame = {k: torch.zeros(batch, frames, n) for k, n in schema.frame_sizes().items()}
    flame["expr"] = torch.randn(batch, frames, schema.expression_dim, generator=g)
    flame["jaw_pose"] = torch.randn(batch, frames, JAW_DIM, generator=g) * 0.1
    flame.update({k: torch.zeros(batch, n) for k, n in schema.identity_sizes().items()})
    return image, c2w[:, :1], intr[:, :1], c2w, intr, bg, flame
