import pytest
import torch

from emoctl.testing.lam_layout import LAMLayoutConfig, LAMLayoutModel, make_inputs

SMALL = LAMLayoutConfig(width=32, cond_dim=24, layers=2, heads=2, num_points=48, image_size=16, patch=8, render_size=8)


@pytest.fixture
def model():
    return LAMLayoutModel(SMALL)


@pytest.fixture
def inputs():
    return make_inputs(SMALL, batch=2, frames=3)


@pytest.fixture
def small_kwargs():
    """Modulator sizes that keep the tests fast."""
    return dict(emotion_dim=16, geometry_dim=32, geometry_layers=2, geometry_heads=2)


def outputs_equal(a, b) -> bool:
    return a.keys() == b.keys() and all(torch.equal(a[k], b[k]) for k in a)


def perturb(ctl, std=0.2, seed=0):
    """Move the modulators away from their identity initialisation, as training would."""
    g = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for p in ctl.parameters():
            p.add_(torch.randn(p.shape, generator=g) * std)
