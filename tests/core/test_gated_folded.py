"""The gated mode's fast path (emotion attention folded into the processor's own projections) equals
the explicit formula ``original + tanh(g) * W_out @ attention(queries, emotion tokens)``."""

from __future__ import annotations

import pytest
import torch
import torch.nn.functional as F

import emoctl
from emoctl.adapters.joint_attention import GatedEmotionJointAttention
from emoctl.adapters.self_attention import GatedEmotionSelfAttention
from emoctl.backbones import build

LAM = {"arch": "lam", "num_points": 64, "width": 32, "cond_dim": 32, "layers": 2, "encoder_depth": 1,
       "image_size": 32, "patch": 8, "render_size": 16}
UV = {"arch": "uv", "image_size": 32, "patch": 8, "cond_dim": 32, "encoder_depth": 1, "encoder_heads": 2, "lift_dim": 8,
      "core_uv": 16, "shell_uv": 8, "uv_patch": 4, "width": 32, "layers": 2, "heads": 2, "texel_dim": 8,
      "zbuffer_size": 16, "render_size": 16}


def _joint_explicit(self, attn, hidden_states, encoder_hidden_states=None, attention_mask=None, *a, **k):
    out = self.inner(attn, hidden_states, encoder_hidden_states, attention_mask, *a, **k)
    tokens = self.context_tokens(hidden_states)
    gate = self.injector.attention_gate(self.layer, like=hidden_states)
    ox, oc = GatedEmotionJointAttention.emotion_attention(attn, hidden_states, encoder_hidden_states, tokens)
    x, c = out
    x = x + gate * F.linear(ox, attn.to_out[0].weight)
    if c is not None and not attn.context_pre_only:
        c = c + gate * F.linear(oc, attn.to_add_out.weight)
    return x, c


def _self_explicit(self, attn, hidden_states, encoder_hidden_states=None, attention_mask=None, *a, **k):
    out = self.inner(attn, hidden_states, encoder_hidden_states, attention_mask, *a, **k)
    tokens = self.emotion_tokens(hidden_states)
    gate = self.injector.attention_gate(self.layer, like=hidden_states)
    extra = F.linear(GatedEmotionSelfAttention.emotion_attention(attn, hidden_states, tokens), attn.to_out[0].weight)
    return out + gate * extra / getattr(attn, "rescale_output_factor", 1.0)


@pytest.mark.parametrize("config, wrapper, explicit", [(LAM, GatedEmotionJointAttention, _joint_explicit),
                                                       (UV, GatedEmotionSelfAttention, _self_explicit)])
def test_folded_gated_attention_equals_the_explicit_formula(config, wrapper, explicit, monkeypatch):
    torch.manual_seed(0)
    model = build(dict(config)).eval()
    for head in model.gs_heads.heads.values():
        torch.nn.init.normal_(head.weight, std=0.3)
    ctl = emoctl.wrap(model, emotions=7, appearance_mode="gated")
    image = torch.rand(1, 1, 3, 32, 32, generator=torch.Generator().manual_seed(1))
    with torch.no_grad(), ctl.disabled():
        base = model.build_avatar(image).colors
    with torch.no_grad(), ctl.emotion("happy"):
        assert torch.equal(model.build_avatar(image).colors, base)  # gates at zero: bit-exact
    for p in ctl.appearance.parameters():
        torch.nn.init.normal_(p, std=0.3)
    with ctl.emotion("happy"):
        fast = model.build_avatar(image).colors
        fast.sum().backward()
    assert all(p.grad is not None for p in ctl.appearance.parameters() if p.requires_grad)
    monkeypatch.setattr(wrapper, "__call__", explicit)
    with torch.no_grad(), ctl.emotion("happy"):
        slow = model.build_avatar(image).colors
    assert (slow - base).abs().amax() > 1e-3  # the emotion does act
    assert torch.allclose(fast.detach(), slow, atol=1e-5)


@pytest.mark.parametrize("config, wrapper, explicit", [(LAM, GatedEmotionJointAttention, _joint_explicit),
                                                       (UV, GatedEmotionSelfAttention, _self_explicit)])
def test_processors_that_bypass_the_projection_modules_fall_back(config, wrapper, explicit, monkeypatch):
    """A processor that never calls ``to_q`` / ``to_out`` as modules (fused or functional projections)
    gets the emotion attention added after its output instead."""
    from emoctl.adapters.processors import Folded

    torch.manual_seed(0)
    model = build(dict(config)).eval()
    ctl = emoctl.wrap(model, emotions=7, appearance_mode="gated")
    for p in ctl.appearance.parameters():
        torch.nn.init.normal_(p, std=0.3)
    image = torch.rand(1, 1, 3, 32, 32, generator=torch.Generator().manual_seed(2))

    def run_without_hooks(self, fn, *args, **kwargs):
        self.applied = False
        return fn(*args, **kwargs)

    with monkeypatch.context() as patch:
        patch.setattr(Folded, "run", run_without_hooks)
        with torch.no_grad(), ctl.emotion("sad"):
            fallback = model.build_avatar(image).colors
    monkeypatch.setattr(wrapper, "__call__", explicit)
    with torch.no_grad(), ctl.emotion("sad"):
        expected = model.build_avatar(image).colors
    assert torch.allclose(fallback, expected, atol=1e-6)
