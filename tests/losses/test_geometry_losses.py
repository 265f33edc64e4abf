"""emoctl.losses.geometry: the paper's parameter + vertex loss, on the synthetic head at subdivide 0."""

from __future__ import annotations

import pytest
import torch

from emoctl.errors import ArgumentTypeError, ConfigError, ShapeError
from emoctl.flame import FLAME
from emoctl.losses import GeometryLossWeights, VertexLoss, geometry_loss
from emoctl.synthetic.head import synthetic_head

D = 103  # FLAME's expression (100) + jaw pose (3)


@pytest.fixture(scope="module")
def head():
    return synthetic_head(0, 0)


@pytest.fixture(scope="module")
def flame(head):
    return FLAME(head)


def _params(*lead, seed=0, scale=0.3):
    g = torch.Generator().manual_seed(seed)
    x = scale * torch.randn(*lead, D, generator=g)
    x[..., -3:] *= 0.3  # jaw rotations of a few degrees
    return x


def _mm(flame, params, betas=None):
    """Hand computation: FLAME layer vertices [N, V, 3] in mm of packed params [N, 103]."""
    inputs = {"expr": params[:, :100], "jaw_pose": params[:, 100:]}
    if betas is not None:
        inputs["betas"] = betas
    return flame(inputs).vertices * 1000.0


def test_identical_inputs_give_zero(flame, head):
    x = _params(2, 4)
    for source in (flame, VertexLoss(head)):
        total, terms = geometry_loss(x, x.clone(), flame=source)
        assert total.item() == 0.0 and terms["param"].item() == 0.0 and terms["vertex_mm2"].item() == 0.0
    as_dict = {"expr": x[..., :100], "jaw_pose": x[..., 100:]}
    total, _ = geometry_loss(as_dict, x, flame=flame)
    assert total.item() == 0.0


def test_terms_equal_a_hand_computation_through_the_flame_layer(flame):
    pred, target = _params(2, 3, seed=1), _params(2, 3, seed=2)
    betas = torch.randn(2, 10, generator=torch.Generator().manual_seed(3))
    total, terms = geometry_loss(pred, target, flame=flame, betas=betas, weights={"param": 2.0, "vertex": 0.5})

    param = sum(((pred[b, t] - target[b, t]) ** 2).mean() for b in range(2) for t in range(3)) / 6
    per_frame = []
    for b in range(2):
        for t in range(3):
            vp = _mm(flame, pred[b, t][None], betas[b][None])[0]
            vt = _mm(flame, target[b, t][None], betas[b][None])[0]
            per_frame.append(((vp - vt) ** 2).sum(-1).mean())
    vertex = torch.stack(per_frame).mean()
    assert vertex.item() > 1.0  # the case is not trivially zero
    assert torch.allclose(terms["param"], param, rtol=1e-5)
    assert torch.allclose(terms["vertex_mm2"], vertex, rtol=1e-4)
    assert torch.allclose(total, 2.0 * param + 0.5 * vertex, rtol=1e-4)
    # the identity shape matters: the jaw joint moves with it
    _, no_shape = geometry_loss(pred, target, flame=flame)
    assert not torch.allclose(no_shape["vertex_mm2"], vertex, rtol=1e-6)


def test_vertex_loss_is_the_flame_layer_on_the_moving_vertices(flame, head):
    fast = VertexLoss(head)
    params = _params(5, seed=4)
    assert torch.allclose(fast(params), _mm(flame, params)[:, fast.moving], atol=2e-3)
    pred, target = _params(1, 4, seed=5), _params(1, 4, seed=6)
    _, terms = geometry_loss(pred, target, flame=fast)
    diff = _mm(flame, pred[0])[:, fast.moving] - _mm(flame, target[0])[:, fast.moving]
    assert torch.allclose(terms["vertex_mm2"], diff.square().sum(-1).mean(), rtol=1e-4)


def test_vertex_frames_are_drawn_with_the_generator(flame):
    pred, target = _params(2, 5, seed=7), _params(2, 5, seed=8)
    _, terms = geometry_loss(pred, target, flame=flame, vertex_frames=3, generator=torch.Generator().manual_seed(9))
    idx = torch.randperm(10, generator=torch.Generator().manual_seed(9))[:3]
    vp, vt = _mm(flame, pred.reshape(10, D)[idx]), _mm(flame, target.reshape(10, D)[idx])
    assert torch.allclose(terms["vertex_mm2"], (vp - vt).square().sum(-1).mean(), rtol=1e-4)
    _, others = geometry_loss(pred, target, flame=flame, vertex_frames=3, generator=torch.Generator().manual_seed(10))
    assert not torch.allclose(others["vertex_mm2"], terms["vertex_mm2"])


@pytest.mark.parametrize("vertex_frames", [None, 4])
def test_padded_frames_masked_out_change_nothing(flame, vertex_frames):
    pred, target = _params(2, 3, seed=11), _params(2, 3, seed=12)
    unpadded, unpadded_terms = geometry_loss(pred, target, flame=flame, vertex_frames=vertex_frames,
                                             generator=torch.Generator().manual_seed(0))
    mask = torch.tensor([[True] * 3 + [False] * 2] * 2)
    results = []
    for fill in (0.0, 5.0):  # whatever the padding holds
        pad_p = torch.cat([pred, torch.full((2, 2, D), fill)], dim=1)
        pad_t = torch.cat([target, torch.full((2, 2, D), -fill)], dim=1)
        results.append(geometry_loss(pad_p, pad_t, flame=flame, vertex_frames=vertex_frames, mask=mask,
                                     generator=torch.Generator().manual_seed(0)))
    (padded, terms), (refilled, _) = results
    assert padded.item() == refilled.item()
    assert torch.allclose(padded, unpadded, rtol=1e-5)
    for name in ("param", "vertex_mm2"):
        assert torch.allclose(terms[name], unpadded_terms[name], rtol=1e-5)


def test_a_mask_without_real_frames_gives_zero(flame):
    pred = _params(1, 2, seed=13).requires_grad_()
    total, _ = geometry_loss(pred, _params(1, 2, seed=14), flame=flame, mask=torch.zeros(1, 2, dtype=torch.bool))
    total.backward()
    assert total.item() == 0.0 and pred.grad.abs().sum().item() == 0.0


def test_gradients_flow_to_pred(flame):
    pred = _params(2, 3, seed=15).requires_grad_()
    mask = torch.tensor([[True, True, False], [True, True, True]])
    total, terms = geometry_loss(pred, _params(2, 3, seed=16), flame=flame, mask=mask)
    total.backward()
    assert not terms["vertex_mm2"].requires_grad
    assert torch.isfinite(pred.grad).all()
    assert (pred.grad[mask].abs().sum(-1) > 0).all()  # every real frame gets a gradient
    assert pred.grad[0, 2].abs().sum().item() == 0.0  # the padded one none
    # only through the vertex term: it reaches the expression and the jaw pose
    expr = pred.detach()[..., :100].clone().requires_grad_()
    jaw = pred.detach()[..., 100:].clone().requires_grad_()
    total, _ = geometry_loss({"expr": expr, "jaw_pose": jaw}, _params(2, 3, seed=16), flame=flame,
                             weights=GeometryLossWeights(param=0.0, vertex=1.0))
    total.backward()
    assert expr.grad.abs().sum() > 0 and jaw.grad.abs().sum() > 0


@pytest.mark.parametrize(
    "pred_shape, target_shape, extra, match",
    [
        ((2, 3, 102), (2, 3, 103), {}, r"pred must be \[B, T, 103\].*\[2, 3, 102\]"),
        ((2, 3, 103), (2, 3), {}, r"target must be \[B, T, 103\]"),
        ((2, 3, 103), (1, 3, 103), {}, "batch sizes differ: pred has 2, target 1"),
        ((2, 3, 103), (2, 4, 103), {}, "frame counts differ: pred has 3, target 4"),
        ((2, 3, 103), (2, 3, 103), {"mask": torch.ones(2, 4, dtype=torch.bool)}, r"mask must be a bool tensor \[B, T\] = \[2, 3\]"),
        ((2, 3, 103), (2, 3, 103), {"mask": torch.ones(2, 3)}, "mask must be a bool tensor.*torch.float32"),
        ((2, 3, 103), (2, 3, 103), {"betas": torch.zeros(3, 10)}, r"betas must be a floating tensor \[B, S\] = \[2, <= 300\], got \[3, 10\]"),
        ((2, 3, 103), (2, 3, 103), {"betas": torch.zeros(2, 301)}, "betas must be"),
    ],
)
def test_bad_shapes_raise_shape_error(flame, pred_shape, target_shape, extra, match):
    with pytest.raises(ShapeError, match=match):
        geometry_loss(torch.zeros(pred_shape), torch.zeros(target_shape), flame=flame, **extra)


def test_bad_inputs_of_other_kinds(flame, head):
    x = torch.zeros(1, 2, D)
    with pytest.raises(ShapeError, match="pred must be a floating tensor"):
        geometry_loss(x.long(), x, flame=flame)
    with pytest.raises(ShapeError, match=r"missing keys \['jaw_pose'\]"):
        geometry_loss({"expr": torch.zeros(1, 2, 100)}, x, flame=flame)
    with pytest.raises(ShapeError, match="jaw_pose"):
        geometry_loss({"expr": torch.zeros(1, 2, 100), "jaw_pose": torch.zeros(1, 2, 4)}, x, flame=flame)
    with pytest.raises(ConfigError, match="no flame layer"):
        geometry_loss(x, x)
    assert geometry_loss(x, x, weights={"vertex": 0.0})[1].keys() == {"param"}  # parameters only
    with pytest.raises(ConfigError, match="betas shape the vertices of a FLAME layer"):
        geometry_loss(x, x, flame=VertexLoss(head), betas=torch.zeros(1, 10))
    with pytest.raises(ArgumentTypeError, match="flame must be"):
        geometry_loss(x, x, flame=head)
    with pytest.raises(ConfigError, match="vertex_frames must be an int >= 1"):
        geometry_loss(x, x, flame=flame, vertex_frames=0)


def test_weights_are_checked():
    assert GeometryLossWeights() == GeometryLossWeights(param=1.0, vertex=0.05)  # the demo's values
    assert GeometryLossWeights.from_json(GeometryLossWeights(vertex=0.2).to_json()).vertex == 0.2
    with pytest.raises(ConfigError, match="vertex must be a number >= 0"):
        GeometryLossWeights(vertex=-1.0)
    with pytest.raises(ConfigError, match="every weight is 0"):
        GeometryLossWeights(param=0.0, vertex=0.0)
    with pytest.raises(ConfigError, match=r"unknown geometry loss weight\(s\) \['mouth'\]"):
        GeometryLossWeights.from_json({"mouth": 1.0})
