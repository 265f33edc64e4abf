"""``LAMStyleBackbone``: a LAM-style feed-forward Gaussian head model, small enough to train on CPUs.

LAM's layout (``shared/reference/lam-layout.md``), at reduced size:

- ``encoder``: a ViT (:class:`~emoctl.backbones.encoders.PatchViTEncoder`) → image tokens
  ``[B, P, cond_dim]`` (LAM: DINOv2 + DPT, ``[B, 1296, 1024]``);
- ``pcl_embed``: Fourier features of the canonical query points → ``[B, L, width]``; the points are
  the identity's canonical FLAME vertices (template + shape), ``num_points`` of them chosen by
  farthest-point sampling (LAM: all 20,018 vertices of the subdivided FLAME);
- ``transformer``: LAM's ``TransformerDecoder`` layout (``linear_cond_proj``, ``layers[i].attn`` =
  diffusers' ``Attention`` with ``JointAttnProcessor2_0``, last block ``context_pre_only``,
  ``norm``), called as ``self.transformer(x, cond=image_feats, mod=None)``;
- ``gs_heads``: per-point Gaussian heads (offset, colour, opacity, scale, rotation);
- animation: FLAME LBS of the points (offsets skinned with their vertex), rendering through
  :func:`emoctl.render.rasterize`.

``forward(image, source_c2ws, source_intrs, render_c2ws, render_intrs, render_bg_colors,
flame_params, ...)`` and ``infer_single_view(...)`` take LAM's arguments, so emoctl's ``lam`` adapter
wraps this model unchanged. :meth:`build_avatar` (once per reference image) and
``avatar.animate(...).render(...)`` (per frame) are the same path split in two.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
from torch import Tensor, nn

from emoctl.backbones.avatar import GaussianAvatar
from emoctl.backbones.binding import VertexBinding
from emoctl.backbones.encoders import PatchViTEncoder, as_image_batch, fourier_features
from emoctl.backbones.heads import GaussianHeads
from emoctl.backbones.joint_transformer import JointTransformerDecoder
from emoctl.backbones.common import AvatarBackbone, BackboneConfig, default_template, nearest_spacing
from emoctl.backbones.template import HeadTemplate, farthest_point_indices


@dataclass(frozen=True)
class LAMStyleConfig(BackboneConfig):
    """Every number needed to rebuild a :class:`LAMStyleBackbone` (``config.json``)."""

    image_size: int = 128
    patch: int = 8
    cond_dim: int = 96  # image-token width (LAM: 1024)
    encoder_depth: int = 3
    encoder_heads: int = 4
    width: int = 64  # transformer inner dim (LAM: 1024)
    layers: int = 2  # (LAM: 10)
    heads: int = 4  # (LAM: 16)
    num_points: int = 2048  # query points = Gaussians (LAM: 20,018)
    fourier_bands: int = 6
    max_offset: float = 0.01
    scale_factor: float = 0.6  # base scale = scale_factor x mean distance to the 3 nearest points
    render_size: int = 128
    head_seed: int = 0
    head_subdivide: int = 0
    seed: int = 0

    arch = "lam"


class LAMStyleBackbone(AvatarBackbone):
    """A LAM-style backbone (see the module docstring). ``template``: the FLAME head (default: the
    synthetic head of ``config.head_seed`` at ``config.head_subdivide``)."""

    def __init__(self, config: LAMStyleConfig = LAMStyleConfig(), template: HeadTemplate | None = None):
        super().__init__()
        self.config = config
        self.template = template if template is not None else default_template(config.head_seed, config.head_subdivide)
        with torch.random.fork_rng(devices=[]):
            torch.manual_seed(config.seed)
            self.encoder = PatchViTEncoder(config.image_size, config.patch, config.cond_dim, config.encoder_depth,
                                           config.encoder_heads)
            self.pcl_embed = nn.Sequential(nn.Linear(3 + 6 * config.fourier_bands, config.width), nn.GELU(),
                                           nn.Linear(config.width, config.width))
            self.transformer = JointTransformerDecoder(config.width, config.cond_dim, config.layers, config.heads)
            self.gs_heads = GaussianHeads(config.width, config.max_offset)
        rest = self.template.v_template
        index = farthest_point_indices(rest, min(config.num_points, rest.shape[0]))
        self.binding = VertexBinding(index)
        self.register_buffer("base_scale", config.scale_factor * nearest_spacing(rest[index]))
        centre = rest[index].mean(0)
        extent = (rest[index] - centre).abs().max()
        self.register_buffer("point_centre", centre)
        self.register_buffer("point_extent", extent.reshape(()))

    @property
    def num_gaussians(self) -> int:
        return self.binding.num_gaussians

    # -- LAM's reconstruction path ------------------------------------------------------
    def query_points(self, betas: Tensor | None, batch: int) -> Tensor:
        """``[B, L, 3]`` canonical query points of identities ``betas [B, S]``."""
        return self.template.shaped(betas, batch)[:, self.binding.point_index]

    def forward_transformer(self, image_feats, camera_embeddings, query_points, query_feats=None):
        normalised = (query_points - self.point_centre) / self.point_extent
        x = self.pcl_embed(fourier_features(normalised, self.config.fourier_bands))
        return self.transformer(x, cond=image_feats, mod=camera_embeddings)

    def forward_latent_points(self, image, camera, query_points=None, additional_features=None):
        image_feats = self.encoder(as_image_batch(image, self.config.image_size))
        if query_points is None:
            query_points = self.query_points(None, image_feats.shape[0])
        return self.forward_transformer(image_feats, camera, query_points)

    # -- avatars ------------------------------------------------------------------------
    def build_avatar(self, image: Tensor, betas: Tensor | None = None, source_c2ws: Tensor | None = None,
                     source_intrs: Tensor | None = None, source_flame_params=None) -> GaussianAvatar:
        """Reference ``image [B, (1,) 3, H, W]`` in [0, 1] and shape ``betas [B, S]`` → the avatar.

        The source camera and FLAME parameters are accepted for a uniform signature across backbones
        and not used: LAM reconstructs from the image tokens alone (as LAM does at inference)."""
        batch = image.shape[0]
        betas = self.zero_betas(image, betas)
        latent = self.forward_latent_points(image, None, self.query_points(betas, batch))
        attrs = self.gs_heads(latent, self.base_scale)
        return GaussianAvatar(**attrs, betas=betas, template=self.template, binding=self.binding)
