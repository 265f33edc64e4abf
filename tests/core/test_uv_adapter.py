"""The ``uv`` adapter on the Dual-UV reference backbone: detection, concat and gated appearance,
geometry, unwrapping, and what a layout that does not fit is told."""

import pytest
import torch
from torch import nn

import emoctl
from emoctl.adapters import LAMAdapter, UVAdapter, find_adapter
from emoctl.backbones.uv_style import UVStyleBackbone, UVStyleConfig
from emoctl.errors import NoMatchingAdapterError, ShapeError
from emoctl.testing.lam_layout import LAMLayoutModel

from ..backbones.uv_tiny import TINY_UV, lam_inputs
from .conftest import SMALL, outputs_equal, perturb

KW = dict(emotion_dim=8, geometry_dim=16, geometry_layers=1, geometry_heads=2)


@pytest.fixture
def uv():
    """A tiny UV backbone whose Gaussian heads are not zero (as after training), so the decoder's
    features reach the render."""
    model = UVStyleBackbone(UVStyleConfig(**TINY_UV))
    g = torch.Generator().manual_seed(1)
    with torch.no_grad():
        for head in model.gs_heads.heads.values():
            head.weight.copy_(torch.randn(head.weight.shape, generator=g) * 0.3)
    return model


@pytest.fixture(scope="module")
def args():
    return lam_inputs(batch=2, frames=2)


def _rendered(model, args):
    out = model(*args)
    return {k: out[k] for k in ("comp_rgb", "comp_mask", "gs_xyz")}


def test_uv_and_lam_layouts_pick_their_own_adapter(uv):
    assert find_adapter(uv) is UVAdapter and LAMAdapter.missing_features(uv)
    lam = LAMLayoutModel(SMALL)
    assert find_adapter(lam) is LAMAdapter
    assert any("model.decoder" in m for m in UVAdapter.missing_features(lam))
    ctl = emoctl.wrap(uv, emotions=7, **KW)
    assert ctl.adapter.name == "uv"
    assert ctl.config.token_dim == uv.decoder.layers[0].attn.to_q.in_features == uv.config.width


def test_wrap_disable_and_unwrap_are_bit_exact(uv, args):
    before = _rendered(uv, args)
    state = {k: v.clone() for k, v in uv.state_dict().items()}
    for mode in ("concat", "gated"):
        ctl = emoctl.wrap(uv, appearance_mode=mode, **KW)
        perturb(ctl)
        assert list(uv.state_dict()) == list(state)
        with ctl.disabled():
            assert outputs_equal(_rendered(uv, args), before)
        with ctl.emotion("happy"):
            assert not torch.allclose(_rendered(uv, args)["comp_rgb"], before["comp_rgb"])
        emoctl.unwrap(uv)
        assert outputs_equal(_rendered(uv, args), before)
        assert all(torch.equal(v, state[k]) for k, v in uv.state_dict().items())
        assert not uv.decoder._forward_pre_hooks and not uv.decoder._forward_hooks
        assert all(type(layer.attn.processor).__name__ == "AttnProcessor2_0" for layer in uv.decoder.layers)
        assert "forward" not in uv.__dict__ and "infer_single_view" not in uv.__dict__


def test_concat_appends_k_tokens_to_the_sequence_and_drops_them_after_the_decoder(uv, args):
    ctl = emoctl.wrap(uv, **KW)
    seen = []
    uv.decoder.layers[0].register_forward_pre_hook(lambda m, a: seen.append(a[0].shape[1]))
    uv.decoder.register_forward_hook(lambda m, a, out: seen.append(out.shape[1]))
    with ctl.disabled():
        plain = uv.decoder(torch.randn(2, 5, uv.config.width))
    with ctl.emotion("happy"):
        emotional = uv.decoder(torch.randn(2, 5, uv.config.width))
        by_name = uv.decoder(tokens=torch.randn(2, 5, uv.config.width))
    k = ctl.config.appearance_tokens
    assert k > 0 and plain.shape == emotional.shape == by_name.shape == (2, 5, uv.config.width)
    assert seen == [5, 5, 5 + k, 5, 5 + k, 5]  # the hooks we added run after the adapter's
    with ctl.emotion("happy"), pytest.raises(ShapeError, match="model.decoder tokens"):
        uv.decoder(torch.randn(2, 5, uv.config.width + 1))


def test_concat_changes_the_render_once_the_tokens_carry_weight_and_trains_the_modulator(uv, args):
    ctl = emoctl.wrap(uv, **KW)
    with ctl.disabled():
        off = _rendered(uv, args)["comp_rgb"]
    perturb(ctl)
    uv.requires_grad_(False)
    with ctl.emotion("angry"):
        on = uv(*args)["comp_rgb"]
    assert not torch.allclose(on, off)
    on.square().mean().backward()
    grads = [p.grad for p in ctl.appearance.parameters()]
    assert grads and any(g is not None and g.abs().sum() > 0 for g in grads)


def _avatar(model, args):
    avatar = model.build_avatar(args[0], args[-1]["betas"], args[1], args[2])
    return avatar.attributes()


def test_gated_mode_is_bit_exact_until_the_gates_move_and_trains_the_modulator(uv, args):
    # the avatar (the appearance path) is compared: the geometry path re-poses FLAME from a
    # rewritten dict, equal in value, which may round differently in the last bit; both with the
    # backbone frozen (PyTorch's attention may take another kernel when it needs gradients)
    uv.requires_grad_(False)
    before = _avatar(uv, args)
    ctl = emoctl.wrap(uv, appearance_mode="gated", **KW)
    assert ctl.appearance.gates.shape == (len(uv.decoder.layers),)
    assert all(type(layer.attn.processor).__name__ == "GatedEmotionSelfAttention" for layer in uv.decoder.layers)
    with ctl.emotion("happy"):
        fresh = _avatar(uv, args)
    assert outputs_equal(fresh, before)
    fresh["colors"].square().mean().backward()
    assert ctl.appearance.gates.grad is not None and ctl.appearance.gates.grad.abs().sum() > 0
    with torch.no_grad():
        ctl.appearance.gates.fill_(0.5)
    ctl.zero_grad()
    with ctl.emotion("happy"):
        moved = uv(*args)["comp_rgb"]
    with ctl.disabled():
        assert not torch.allclose(moved, uv(*args)["comp_rgb"])
    moved.square().mean().backward()
    token_grads = [p.grad for n, p in ctl.appearance.named_parameters() if n != "gates"]
    assert any(g is not None and g.abs().sum() > 0 for g in token_grads)


def test_the_geometry_modulator_moves_the_posed_gaussians(uv, args):
    uv.requires_grad_(False)
    ctl = emoctl.wrap(uv, appearance_mode="gated", **KW)  # zero gates: the appearance is untouched
    with ctl.disabled():
        off = uv.infer_single_view(*args)
        avatar_off = _avatar(uv, args)
    g = torch.Generator().manual_seed(3)
    with torch.no_grad():
        for p in ctl.geometry.parameters():
            p.add_(torch.randn(p.shape, generator=g) * 0.2)
    with ctl.emotion("surprised"):
        on = uv.infer_single_view(*args)
        avatar_on = _avatar(uv, args)
    # the avatar is the same, the driven mesh moved
    assert outputs_equal(avatar_on, avatar_off)
    assert not torch.allclose(on["gs_xyz"], off["gs_xyz"])
    assert not torch.allclose(on["comp_rgb"], off["comp_rgb"])
    assert torch.equal(args[-1]["expr"], lam_inputs(batch=2, frames=2)[-1]["expr"])  # caller's dict untouched


class _NoDecoder(nn.Module):
    def forward(self, image, flame_params):
        return image


def test_layouts_that_do_not_fit_are_told_what_is_missing(uv):
    with pytest.raises(NoMatchingAdapterError, match="model.decoder"):
        emoctl.wrap(_NoDecoder(), adapter="uv", **KW)
    with pytest.raises(NoMatchingAdapterError, match=r"'uv'.*\n.*model.decoder"):
        emoctl.wrap(_NoDecoder(), **KW)
    joint = UVStyleBackbone(UVStyleConfig(**TINY_UV), template=uv.template)
    joint.decoder.layers[1].attn.add_k_proj = nn.Linear(4, 4)
    with pytest.raises(NoMatchingAdapterError, match="without add_k_proj"):
        emoctl.wrap(joint, adapter="uv", **KW)
    flat = UVStyleBackbone(UVStyleConfig(**TINY_UV), template=uv.template)
    flat.decoder.layers = nn.ModuleList()
    with pytest.raises(NoMatchingAdapterError, match="non-empty ModuleList"):
        emoctl.wrap(flat, adapter="uv", **KW)
    no_entry = UVStyleBackbone(UVStyleConfig(**TINY_UV), template=uv.template)
    no_entry.forward = lambda image: image
    no_entry.infer_single_view = lambda image: image
    with pytest.raises(NoMatchingAdapterError, match="flame_params"):
        emoctl.wrap(no_entry, adapter="uv", **KW)
