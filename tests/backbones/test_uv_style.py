"""UVStyleBackbone: config, LAM's call signatures, lifting, gradients, errors."""

import pytest
import torch

import emoctl.backbones as backbones
from emoctl.backbones.avatar import GaussianAvatar
from emoctl.backbones.uv_style import UVStyleBackbone, UVStyleConfig
from emoctl.errors import ConfigError, ShapeError

from .uv_tiny import TINY_UV, lam_inputs


def test_config_round_trips_and_builds_through_the_arch_table():
    config = UVStyleConfig(**TINY_UV)
    data = config.to_json()
    assert data["arch"] == "uv" and UVStyleConfig.from_json(data) == config
    with pytest.raises(ConfigError, match="unknown"):
        UVStyleConfig.from_json({**data, "nope": 1})
    with pytest.raises(ConfigError, match="lam"):
        UVStyleConfig.from_json({**data, "arch": "lam"})
    model = backbones.build({**data, "layers": 1})
    assert isinstance(model, UVStyleBackbone) and len(model.decoder.layers) == 1


def test_layout_gaussians_and_bad_configs(uv_model):
    config = uv_model.config
    core, shell = uv_model.core_texel.numel(), uv_model.shell_texel.numel()
    assert uv_model.num_gaussians == core + shell and uv_model.num_core == core
    assert core < config.core_uv ** 2 and shell < config.shell_uv ** 2
    lift = uv_model.binding.lift
    assert (lift[:core] == 0).all() and torch.allclose(lift[core:], torch.full((shell,), config.shell_offset))
    assert (uv_model.base_scale > 0).all()
    with pytest.raises(ConfigError, match="multiple of uv_patch"):
        UVStyleBackbone(UVStyleConfig(**{**TINY_UV, "uv_patch": 5}), template=uv_model.template)


def test_forward_and_infer_single_view_take_lams_arguments(uv_model):
    args = lam_inputs(batch=2, frames=3)
    out = uv_model(*args)
    size, n = uv_model.config.render_size, uv_model.num_gaussians
    assert out["comp_rgb"].shape == (2, 3, size, size, 3) and out["comp_mask"].shape == (2, 3, size, size, 1)
    assert out["gs_xyz"].shape == (2, 3, n, 3) and isinstance(out["avatar"], GaussianAvatar)
    assert torch.isfinite(out["comp_rgb"]).all() and out["comp_mask"].amax() > 0.5  # the head is in view
    inferred = uv_model.infer_single_view(*args)
    assert not inferred["comp_rgb"].requires_grad
    assert torch.allclose(inferred["comp_rgb"], out["comp_rgb"].detach(), atol=1e-6)
    # the driven expression moves the Gaussians; the avatar keeps the caller's shape
    still = dict(args[-1], expr=torch.zeros_like(args[-1]["expr"]))
    assert not torch.allclose(uv_model.infer_single_view(*args[:-1], still)["gs_xyz"], inferred["gs_xyz"])
    assert torch.equal(out["avatar"].betas, args[-1]["betas"])


def test_the_default_reference_camera_is_the_frontal_one(uv_model):
    image, c2w, K = lam_inputs(batch=1, frames=1)[:3]
    side = lam_inputs(batch=1, frames=2)
    betas = torch.zeros(1, 100)
    with torch.no_grad():  # fresh heads output constants: compare the lifted features instead
        default = uv_model.lift(image, betas)[0]
        explicit = uv_model.lift(image, betas, c2w, K)[0]
        turned = uv_model.lift(image, betas, side[3][:, 1:], side[4][:, 1:])[0]
    assert torch.equal(default, explicit) and not torch.allclose(default, turned)


def test_occluded_texels_carry_the_empty_embedding_and_visible_ones_the_image_colour(uv_model):
    colour = torch.tensor([0.2, 0.5, 0.9])
    image = colour.reshape(1, 1, 3, 1, 1).expand(1, 1, 3, 32, 32)
    betas = torch.zeros(1, 100)
    core, shell, visible = uv_model.lift(image, betas)
    texels = torch.cat([core.flatten(2)[0, :, uv_model.core_texel], shell.flatten(2)[0, :, uv_model.shell_texel]], 1).T
    assert 0.2 < visible.float().mean() < 0.9
    assert torch.allclose(texels[visible[0], -3:], colour.expand(int(visible.sum()), 3), atol=1e-5)
    hidden = ~visible[0]
    assert torch.equal(texels[hidden], uv_model.empty.detach().expand(int(hidden.sum()), -1))
    # a mouth opened in the reference pose shows texels the neutral one hides
    _, _, opened = uv_model.lift(image, betas, source_flame_params={"jaw_pose": torch.tensor([[0.35, 0.0, 0.0]])})
    assert not torch.equal(opened, visible)


def test_gradients_reach_every_part_once_the_heads_are_not_zero(uv_model):
    model = UVStyleBackbone(uv_model.config, template=uv_model.template)
    with torch.no_grad():
        for head in model.gs_heads.heads.values():
            head.weight.normal_(0.0, 0.1)
    args = lam_inputs(batch=1, frames=2)
    out = model(*args)
    target = torch.rand_like(out["comp_rgb"])
    (out["comp_rgb"] - target).abs().mean().backward()
    for name in ("encoder.patch_embed.weight", "feature_up.0.weight", "empty", "core_embed.embed.weight",
                 "shell_embed.pos", "decoder.layers.0.attn.to_q.weight", "texel_skip.weight", "gs_heads.heads.color.weight"):
        grad = dict(model.named_parameters())[name].grad
        assert grad is not None and grad.abs().sum() > 0, name


def test_bad_cameras_and_templates_are_refused(uv_model):
    image, c2w, K = lam_inputs(batch=2, frames=1)[:3]
    with pytest.raises(ShapeError, match="both"):
        uv_model.build_avatar(image, None, c2w, None)
    with pytest.raises(ShapeError, match="source_c2ws"):
        uv_model.build_avatar(image, None, c2w[:1], K[:1])
    from emoctl.backbones.template import HeadTemplate
    from emoctl.synthetic.head import synthetic_head

    data = synthetic_head(0, 0)
    no_uv = HeadTemplate(type(data)(**{**{f: getattr(data, f) for f in data.__dataclass_fields__}, "uvs": None, "faces_uv": None}))
    with pytest.raises(ConfigError, match="uvs"):
        UVStyleBackbone(UVStyleConfig(**TINY_UV), template=no_uv)
