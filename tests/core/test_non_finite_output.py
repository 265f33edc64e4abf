"""The geometry and appearance modulators refuse to return NaN or infinite outputs, and say why."""

import pytest
import torch

import emoctl
from emoctl import AppearanceModulator, Emotion, GeometryModulator, NonFiniteError
from emoctl.emotions import MAX_INTENSITY

from .conftest import perturb


def test_geometry_modulator_names_the_cause_of_a_non_finite_output():
    g = GeometryModulator(emotion_dim=8, dim=16, layers=1, heads=2)
    perturb(g)
    params = torch.zeros(1, 3, 103)
    assert torch.isfinite(g(params, torch.ones(1, 8))).all()
    with pytest.raises(NonFiniteError, match="geometry modulator produced .* extreme intensity"):
        g(params, torch.full((1, 8), 1e30))  # finite, but far outside any trained range
    with pytest.raises(NonFiniteError, match="emotion vector given to the geometry modulator"):
        g(params, torch.full((1, 3, 8), float("inf")))
    with pytest.raises(NonFiniteError, match="FLAME expression/jaw sequence"):
        g(torch.full((1, 3, 103), float("nan")), torch.ones(1, 8))
    with torch.no_grad():
        g.out_proj.weight[0, 0] = float("nan")  # diverged weights
    with pytest.raises(NonFiniteError, match="geometry modulator produced .* diverged"):
        g(params, torch.ones(1, 8))


def test_appearance_modulator_names_the_cause_of_a_non_finite_output():
    a = AppearanceModulator(emotion_dim=8, token_dim=12, num_tokens=2)
    perturb(a)
    assert torch.isfinite(a(torch.ones(2, 8))).all()
    with pytest.raises(NonFiniteError, match="emotion vector given to the appearance modulator"):
        a(torch.full((2, 8), float("nan")))
    with torch.no_grad():
        a.tokens.proj[0].bias[0] = float("inf")
    with pytest.raises(NonFiniteError, match="appearance modulator produced .* diverged"):
        a(torch.ones(2, 8))


def test_gated_appearance_modulator_checks_its_gates():
    a = AppearanceModulator(emotion_dim=8, token_dim=12, num_tokens=2, mode="gated", gate_layers=3)
    assert torch.isfinite(a(torch.ones(1, 8))).all()
    with torch.no_grad():
        a.gates[1] = float("nan")
    with pytest.raises(NonFiniteError, match="attention gates"):
        a(torch.ones(1, 8))


def test_a_wrapped_model_with_diverged_weights_raises_instead_of_rendering_nan(model, inputs, small_kwargs):
    ctl = emoctl.wrap(model, **small_kwargs)
    perturb(ctl)
    with ctl.emotion(Emotion("sad", MAX_INTENSITY)):
        assert torch.isfinite(model(*inputs)["comp_rgb"]).all()  # the largest accepted intensity stays finite
    with torch.no_grad():
        ctl.embedding.table[0] = float("inf")  # "happy" diverged
    with ctl.emotion("happy"), pytest.raises(NonFiniteError, match="embedding's weights have diverged"):
        model(*inputs)
