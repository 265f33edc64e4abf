"""LAMStyleBackbone: LAM's layout and signatures, the lam adapter on a model that learns, per-frame appearance."""

from __future__ import annotations

import pytest
import torch

import emoctl
from emoctl.backbones.emotion_avatar import build_avatar_per_frame, build_emotion_avatar, keyframe_labels
from emoctl.backbones.lam_style import LAMStyleBackbone, LAMStyleConfig
from emoctl.errors import ArgumentTypeError, ConfigError, ShapeError
from emoctl.synthetic.cameras import default_rig

TINY = LAMStyleConfig(num_points=128, width=32, cond_dim=32, layers=2, encoder_depth=1, image_size=32, patch=8,
                      render_size=24)


def _model(seed=0, active=True):
    torch.manual_seed(seed)
    model = LAMStyleBackbone(TINY)
    if active:  # the heads start at zero (a fresh model renders its template); make them depend on the input
        for head in model.gs_heads.heads.values():
            torch.nn.init.normal_(head.weight, std=0.3)
    return model


def _inputs(batch=2, frames=3, seed=0):
    g = torch.Generator().manual_seed(seed)
    rig = default_rig(3, 24)
    views = torch.arange(frames) % 3
    c2w = rig.c2w.float()[views].expand(batch, frames, 4, 4)
    k = rig.K.float()[views].expand(batch, frames, 3, 3)
    flame = {"expr": torch.randn(batch, frames, 100, generator=g) * 0.3, "jaw_pose": torch.zeros(batch, frames, 3),
             "betas": torch.randn(batch, 300, generator=g) * 0.3}
    image = torch.rand(batch, 1, 3, 32, 32, generator=g)
    return image, c2w[:, :1], k[:, :1], c2w, k, torch.ones(batch, frames, 3), flame


def test_forward_shapes_and_gradients():
    model = _model()
    out = model(*_inputs())
    assert out["comp_rgb"].shape == (2, 3, 24, 24, 3)
    assert out["comp_mask"].shape == (2, 3, 24, 24, 1)
    assert out["gs_xyz"].shape == (2, 3, 128, 3)
    out["comp_rgb"].mean().backward()
    for name in ("encoder.patch_embed.weight", "transformer.linear_cond_proj.weight", "gs_heads.heads.color.weight"):
        assert model.get_parameter(name).grad.abs().sum() > 0, name


def test_reference_image_changes_the_avatar_and_infer_has_no_grad():
    model = _model()
    image, *rest = _inputs()
    a = model.infer_single_view(image, *rest)
    b = model.infer_single_view(image.flip(-1), *rest)
    assert not a["comp_rgb"].requires_grad
    assert (a["avatar"].colors - b["avatar"].colors).abs().amax() > 1e-3


def test_build_then_render_equals_forward():
    model = _model()
    image, sc, si, c2w, k, bg, flame = _inputs()
    avatar = model.build_avatar(image, flame["betas"])
    split = model.render_avatar(avatar, flame, c2w, k, bg)
    whole = model(image, sc, si, c2w, k, bg, flame)
    assert torch.equal(split["comp_rgb"], whole["comp_rgb"])


def test_bad_inputs_are_named():
    model = _model()
    image, sc, si, c2w, k, bg, flame = _inputs()
    with pytest.raises(ShapeError, match="image"):
        model(image[:, 0, :2], sc, si, c2w, k, bg, flame)
    with pytest.raises(ShapeError, match="render_c2ws"):
        model(image, sc, si, c2w[:, :2], k, bg, flame)
    with pytest.raises(ConfigError, match="width"):
        LAMStyleConfig.from_json({"arch": "lam", "width": "wide"})
    with pytest.raises(ConfigError, match="unknown"):
        LAMStyleConfig.from_json({"arch": "lam", "depth": 3})
    assert LAMStyleConfig.from_json(TINY.to_json()) == TINY


@pytest.mark.parametrize("mode", ["concat", "gated"])
def test_lam_adapter_wraps_the_reference_backbone(mode):
    model = _model()
    inputs = _inputs()
    before = model(*inputs)["comp_rgb"]
    state = {k: v.clone() for k, v in model.state_dict().items()}
    ctl = emoctl.wrap(model, emotions=7, appearance_mode=mode)
    assert ctl.adapter.name == "lam"
    for p in ctl.appearance.parameters():
        torch.nn.init.normal_(p, std=0.5)
    with ctl.emotion("happy"):
        happy = model(*inputs)
    with ctl.emotion("sad"):
        sad = model(*inputs)
    assert (happy["avatar"].colors - sad["avatar"].colors).abs().amax() > 1e-4
    happy["comp_rgb"].mean().backward()
    assert any(p.grad is not None and p.grad.abs().sum() > 0 for p in ctl.appearance.parameters())
    emoctl.unwrap(model)
    assert torch.equal(model(*inputs)["comp_rgb"], before)
    assert all(torch.equal(v, state[k]) for k, v in model.state_dict().items())


def _wrapped():
    model = _model(seed=3)
    ctl = emoctl.wrap(model, emotions=7)
    for p in ctl.appearance.parameters():
        torch.nn.init.normal_(p, std=0.5)
    return model, ctl


def test_keyframe_avatar_matches_per_frame_builds_at_keyframes():
    model, ctl = _wrapped()
    image = torch.rand(2, 1, 3, 32, 32, generator=torch.Generator().manual_seed(4))
    t = torch.linspace(0, 1, 5)
    curve = torch.zeros(2, 5, 7)
    curve[:, :, 0], curve[:, :, 1] = 1 - t, t  # neutral -> happy
    with torch.no_grad():
        fast = build_emotion_avatar(model, ctl, image, emotion=curve)
        slow = build_avatar_per_frame(model, ctl, image, curve)
        with ctl.emotion("happy"):
            happy = model.build_avatar(image)
    assert fast.colors.shape == (2, 5, 128, 3)
    assert torch.allclose(fast.colors[:, 0], slow.colors[:, 0], atol=1e-6)
    assert torch.allclose(fast.colors[:, -1], happy.colors, atol=1e-6)
    change = (slow.colors[:, -1] - slow.colors[:, 0]).abs().mean()
    error = (fast.colors - slow.colors).abs().mean()
    assert change > 1e-3 and error < change


def test_keyframe_labels_and_constant_labels():
    model, ctl = _wrapped()
    curve = torch.zeros(1, 4, 7)
    curve[..., 0] = 0.5
    curve[:, :2, 2] = 0.5
    curve[:, 2:, 5] = 0.5
    labels, weights = keyframe_labels(ctl.parse(curve))
    assert len(labels) == 3 and weights.shape == (1, 4, 3)
    assert torch.allclose(weights.sum(-1), torch.ones(1, 4))
    image = torch.rand(1, 1, 3, 32, 32)
    with torch.no_grad():
        const = build_emotion_avatar(model, ctl, image, emotion="angry")
        with ctl.emotion("angry"):
            direct = model.build_avatar(image)
    assert torch.equal(const.colors, direct.colors)
    with pytest.raises(ArgumentTypeError, match="build_avatar"):
        build_emotion_avatar(torch.nn.Linear(2, 2), ctl, image)
