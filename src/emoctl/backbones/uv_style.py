"""``UVStyleBackbone``: a small feed-forward Gaussian head model in the Dual-UV layout ("Bringing
Your Portrait to 3D Presence", Zhang et al.; ``shared/reference/dual-uv-layout.md``), sized to
train on CPUs.

- ``encoder``: a ViT (:class:`~emoctl.backbones.encoders.PatchViTEncoder`; the paper: frozen
  Sapiens-1B) whose token grid ``feature_up`` upsamples 2x with a small convolution;
- lifting (:mod:`emoctl.backbones.uv_lifting`): the template's UV layout rasterised once into
  **Core** texels (on the surface, ``core_uv x core_uv``) and **Shell** texels (``shell_offset`` m
  along the normal, ``shell_uv x shell_uv``, not on the eyeballs and the mouth's inner parts); per
  reference image, the template posed with ``source_flame_params`` is seen by the reference camera,
  visible texels (facing it and passing a coarse z-buffer test) sample the feature map and the
  RGB image bilinearly, occluded ones get zeros plus a learned ``empty`` embedding (the MAE view);
- ``core_embed`` / ``shell_embed``: patchify each map (``uv_patch``) into tokens, plus learned
  position embeddings; Core and Shell tokens form one sequence;
- ``decoder``: self-attention blocks (``layers[i].attn``: diffusers' ``Attention`` with
  ``AttnProcessor2_0``, ``layers[i].ff``: diffusers' ``FeedForward``, as in diffusers'
  ``BasicTransformerBlock``), ``decoder(tokens [B, L, D]) -> [B, L, D]``;
- ``core_unpatch`` / ``shell_unpatch``: tokens back to per-texel features, plus a skip of each
  texel's lifted feature (``texel_skip``), then ``gs_heads`` → one Gaussian per covered texel,
  bound to its triangle (:class:`~emoctl.backbones.binding.TriangleBinding`), base scale from the
  texel spacing on the mesh.

``forward`` / ``infer_single_view`` take LAM's arguments (``source_c2ws`` / ``source_intrs`` /
``source_flame_params`` place the reference camera), so emoctl's ``uv`` adapter wraps this model.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

import torch
from torch import Tensor, nn

from emoctl.backbones.avatar import GaussianAvatar
from emoctl.backbones.binding import TriangleBinding
from emoctl.backbones.common import AvatarBackbone, BackboneConfig, default_template
from emoctl.backbones.encoders import PatchViTEncoder, as_image_batch
from emoctl.backbones.heads import GaussianHeads
from emoctl.backbones.template import HeadTemplate
from emoctl.backbones.uv_lifting import UVLayer, faces_touching, gather_from_map, sample_at, scatter_to_map, visible_points
from emoctl.errors import ConfigError, MissingDependencyError, ShapeError

try:
    from diffusers.models.attention import FeedForward
    from diffusers.models.attention_processor import Attention, AttnProcessor2_0
except ImportError as e:  # pragma: no cover - depends on the environment
    raise MissingDependencyError("emoctl's UV backbone needs diffusers: pip install 'emoctl[backbones]'") from e


@dataclass(frozen=True)
class UVStyleConfig(BackboneConfig):
    """Every number needed to rebuild a :class:`UVStyleBackbone` (``config.json``)."""

    image_size: int = 128
    patch: int = 8
    cond_dim: int = 96  # image-token width (the paper: Sapiens-1B, 1536)
    encoder_depth: int = 3
    encoder_heads: int = 4
    lift_dim: int = 32  # channels of the upsampled feature map sampled into UV (+ 3 RGB)
    core_uv: int = 128  # Core texels: core_uv x core_uv map (the paper: 512)
    shell_uv: int = 64
    shell_offset: float = 0.006  # m along the normal
    shell_exclude: str = "eyeballs,mouth_interior,teeth,tongue"  # template regions without a Shell
    uv_patch: int = 8  # texels per token side (as the paper)
    width: int = 128  # decoder width
    layers: int = 8  # (as the paper)
    heads: int = 4
    texel_dim: int = 32  # per-texel feature width fed to the Gaussian heads
    zbuffer_size: int = 64  # cells per side of the coarse visibility z-buffer
    depth_tolerance: float = 0.005  # m: a point farther behind its cell's nearest surface point is hidden
    max_offset: float = 0.01
    scale_factor: float = 0.6  # base scale = scale_factor x texel spacing on the rest mesh
    render_size: int = 128
    head_seed: int = 0
    head_subdivide: int = 0
    seed: int = 0

    arch = "uv"


class SelfAttentionBlock(nn.Module):
    """Pre-norm self-attention block (diffusers' ``BasicTransformerBlock`` without cross-attention):
    ``x + attn(norm1(x))``, then ``x + ff(norm2(x))``; ``[B, L, D] -> [B, L, D]``."""

    def __init__(self, dim: int, heads: int):
        super().__init__()
        self.norm1 = nn.LayerNorm(dim)
        self.attn = Attention(query_dim=dim, heads=heads, dim_head=dim // heads, bias=True, out_bias=True,
                              processor=AttnProcessor2_0())
        self.norm2 = nn.LayerNorm(dim)
        self.ff = FeedForward(dim=dim, dim_out=dim, activation_fn="gelu-approximate")

    def forward(self, hidden_states: Tensor) -> Tensor:
        hidden_states = hidden_states + self.attn(self.norm1(hidden_states))
        return hidden_states + self.ff(self.norm2(hidden_states))


class UVTransformerDecoder(nn.Module):
    """The Dual-UV decoder: ``forward(tokens [B, L, D]) -> [B, L, D]`` (``layers``, final ``norm``)."""

    def __init__(self, dim: int, num_layers: int, num_heads: int):
        super().__init__()
        self.layers = nn.ModuleList(SelfAttentionBlock(dim, num_heads) for _ in range(num_layers))
        self.norm = nn.LayerNorm(dim)

    def forward(self, tokens: Tensor) -> Tensor:
        for layer in self.layers:
            tokens = layer(tokens)
        return self.norm(tokens)


class _UVMapEmbed(nn.Module):
    """``[B, C, R, R]`` map ↔ ``[B, (R/p)^2, D]`` tokens (patch embedding + learned positions, and
    the linear unpatchify back to ``[B, C_out, R, R]``)."""

    def __init__(self, channels: int, resolution: int, patch: int, dim: int, out_channels: int):
        super().__init__()
        if resolution % patch:
            raise ConfigError(f"UV resolution {resolution} is not a multiple of uv_patch {patch}")
        self.patch, self.grid = patch, resolution // patch
        self.embed = nn.Conv2d(channels, dim, kernel_size=patch, stride=patch)
        self.pos = nn.Parameter(torch.randn(1, self.grid * self.grid, dim) * 0.02)
        self.unpatch = nn.Linear(dim, patch * patch * out_channels)

    def tokens(self, maps: Tensor) -> Tensor:
        return self.embed(maps).flatten(2).transpose(1, 2) + self.pos

    def unpatchify(self, tokens: Tensor) -> Tensor:
        b, g, p = tokens.shape[0], self.grid, self.patch
        x = self.unpatch(tokens).reshape(b, g, g, p, p, -1)
        return x.permute(0, 5, 1, 3, 2, 4).reshape(b, -1, g * p, g * p)


class UVStyleBackbone(AvatarBackbone):
    """A Dual-UV-style backbone (see the module docstring). ``template``: the FLAME head with UVs
    (default: the synthetic head of ``config.head_seed`` at ``config.head_subdivide``)."""

    def __init__(self, config: UVStyleConfig = UVStyleConfig(), template: HeadTemplate | None = None):
        super().__init__()
        self.config = config
        self.template = template if template is not None else default_template(config.head_seed, config.head_subdivide)
        if not self.template.has_uv:
            raise ConfigError("UVStyleBackbone needs a template with uvs and faces_uv")
        core = UVLayer.build(self.template, config.core_uv)
        inner = [name.strip() for name in config.shell_exclude.split(",") if name.strip()]
        shell = UVLayer.build(self.template, config.shell_uv, ~faces_touching(self.template, inner))
        self.num_core = core.count
        lift = torch.cat([torch.zeros(core.count), torch.full((shell.count,), float(config.shell_offset))])
        self.binding = TriangleBinding(self.template.faces, torch.cat([core.face, shell.face]),
                                       torch.cat([core.bary, shell.bary]), lift)
        self.register_buffer("core_texel", core.texel)
        self.register_buffer("shell_texel", shell.texel)
        self.register_buffer("base_scale", config.scale_factor * torch.cat([core.spacing, shell.spacing]))
        channels = config.lift_dim + 3
        with torch.random.fork_rng(devices=[]):
            torch.manual_seed(config.seed)
            self.encoder = PatchViTEncoder(config.image_size, config.patch, config.cond_dim, config.encoder_depth,
                                           config.encoder_heads)
            self.feature_up = nn.Sequential(nn.ConvTranspose2d(config.cond_dim, config.lift_dim, 2, stride=2), nn.GELU(),
                                            nn.Conv2d(config.lift_dim, config.lift_dim, 3, padding=1))
            self.empty = nn.Parameter(torch.randn(channels) * 0.02)
            self.core_embed = _UVMapEmbed(channels, config.core_uv, config.uv_patch, config.width, config.texel_dim)
            self.shell_embed = _UVMapEmbed(channels, config.shell_uv, config.uv_patch, config.width, config.texel_dim)
            self.decoder = UVTransformerDecoder(config.width, config.layers, config.heads)
            self.texel_skip = nn.Linear(channels, config.texel_dim)
            self.texel_mlp = nn.Sequential(nn.GELU(), nn.Linear(config.texel_dim, config.texel_dim), nn.GELU())
            self.gs_heads = GaussianHeads(config.texel_dim, config.max_offset)

    @property
    def num_gaussians(self) -> int:
        return self.binding.num_gaussians

    # -- lifting ------------------------------------------------------------------------
    def source_camera(self, image: Tensor, source_c2ws: Tensor | None, source_intrs: Tensor | None) -> tuple[Tensor, Tensor]:
        """``(c2w [B, 4, 4], K [B, 3, 3])`` of the reference view (default: the synthetic world's
        frontal camera for the image's size)."""
        b = image.shape[0]
        dev, dt = image.device, self.template.v_template.dtype
        if source_c2ws is None and source_intrs is None:
            from emoctl.synthetic.cameras import camera_rig

            rig = camera_rig([0.0], [0.0], (int(image.shape[-2]), int(image.shape[-1])))
            return rig.c2w.to(dev, dt).expand(b, 4, 4), rig.K.to(dev, dt).expand(b, 3, 3)
        if source_c2ws is None or source_intrs is None:
            raise ShapeError("give both source_c2ws and source_intrs, or neither (the frontal camera)")
        c2w = source_c2ws[:, 0] if source_c2ws.dim() == 4 else source_c2ws
        k = source_intrs[:, 0] if source_intrs.dim() == 4 else source_intrs
        if c2w.shape != (b, 4, 4) or k.dim() != 3 or k.shape[0] != b or k.shape[-2] < 3 or k.shape[-1] < 3:
            raise ShapeError(f"source_c2ws must be [{b}, 1, 4, 4] and source_intrs [{b}, 1, 3|4, 3|4], "
                             f"got {tuple(source_c2ws.shape)} and {tuple(source_intrs.shape)}")
        return c2w.to(dev, dt), k[:, :3, :3].to(dev, dt)

    def texel_points(self, betas: Tensor, source_flame_params: Mapping[str, Tensor] | None) -> tuple[Tensor, Tensor]:
        """``(points [B, N, 3], normals [B, N, 3])`` of every Gaussian's texel on the template posed
        with ``source_flame_params`` (None: neutral) and shape ``betas [B, S]``."""
        params = dict(source_flame_params or {})
        params["betas"] = betas
        anchors, frames = self.binding.pose(self.template, params)
        return anchors[:, 0], frames[:, 0, :, :, 1]

    def lift(self, image: Tensor, betas: Tensor, source_c2ws=None, source_intrs=None,
             source_flame_params=None) -> tuple[Tensor, Tensor, Tensor]:
        """Image features in UV: ``(core [B, C, core_uv, core_uv], shell [B, C, shell_uv, shell_uv],
        visible [B, N])`` with ``C = lift_dim + 3`` (features, then RGB)."""
        height, width = int(image.shape[-2]), int(image.shape[-1])
        c2w, k = self.source_camera(image, source_c2ws, source_intrs)
        rgb = as_image_batch(image, self.config.image_size)
        feats = self.feature_up(self.encoder.feature_map(self.encoder(rgb)))
        with torch.no_grad():
            points, normals = self.texel_points(betas, source_flame_params)
            nc = self.num_core
            visible, pixels = visible_points(points, normals, points[:, :nc], normals[:, :nc], c2w, k, width, height,
                                             self.config.zbuffer_size, self.config.depth_tolerance)
        sampled = torch.cat([sample_at(feats, pixels, width, height), sample_at(rgb, pixels, width, height)], -1)
        mask = visible[..., None].to(sampled.dtype)
        texels = sampled * mask + self.empty * (1.0 - mask)  # [B, N, C]
        core = scatter_to_map(texels[:, :nc], self.core_texel, self.config.core_uv)
        shell = scatter_to_map(texels[:, nc:], self.shell_texel, self.config.shell_uv)
        return core, shell, visible

    def decode(self, core: Tensor, shell: Tensor) -> Tensor:
        """UV feature maps → per-Gaussian features ``[B, N, texel_dim]`` (Core, then Shell)."""
        core_tokens, shell_tokens = self.core_embed.tokens(core), self.shell_embed.tokens(shell)
        tokens = self.decoder(torch.cat([core_tokens, shell_tokens], dim=1))
        split = core_tokens.shape[1]
        per_texel = torch.cat([
            gather_from_map(self.core_embed.unpatchify(tokens[:, :split]), self.core_texel),
            gather_from_map(self.shell_embed.unpatchify(tokens[:, split:]), self.shell_texel),
        ], dim=1)
        skip = torch.cat([gather_from_map(core, self.core_texel), gather_from_map(shell, self.shell_texel)], dim=1)
        return self.texel_mlp(per_texel + self.texel_skip(skip))

    # -- avatars ------------------------------------------------------------------------
    def build_avatar(self, image: Tensor, betas: Tensor | None = None, source_c2ws: Tensor | None = None,
                     source_intrs: Tensor | None = None, source_flame_params: Mapping[str, Tensor] | None = None) -> GaussianAvatar:
        """Reference ``image [B, (1,) 3, H, W]`` in [0, 1], shape ``betas [B, S]``, its camera
        (``source_c2ws [B, 1, 4, 4]``, ``source_intrs [B, 1, 3|4, 3|4]`` in the image's pixels;
        default: the frontal camera) and FLAME pose (default: neutral) → the avatar."""
        betas = self.zero_betas(image, betas)
        core, shell, _ = self.lift(image, betas, source_c2ws, source_intrs, source_flame_params)
        attrs = self.gs_heads(self.decode(core, shell), self.base_scale)
        return GaussianAvatar(**attrs, betas=betas, template=self.template, binding=self.binding)
