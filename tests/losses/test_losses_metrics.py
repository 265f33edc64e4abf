"""emoctl.losses and emoctl.metrics on inputs with known answers."""

from __future__ import annotations

import pytest
import torch

from emoctl.errors import ConfigError, ShapeError
from emoctl.losses import (
    LossWeights,
    alpha_loss,
    dssim,
    foreground_mask,
    masked_mse,
    offset_regulariser,
    reconstruction_loss,
)
from emoctl.metrics import PSNR_CAP_DB, psnr, ssim


def _images(*lead, size=24, seed=0):
    g = torch.Generator().manual_seed(seed)
    return torch.rand(*lead, size, size, 3, generator=g)


def test_psnr_of_a_known_mse():
    a = torch.zeros(2, 8, 8, 3)
    b = a + torch.tensor([0.1, 0.01])[:, None, None, None]  # MSE 1e-2 and 1e-4
    assert torch.allclose(psnr(b, a), torch.tensor([20.0, 40.0]), atol=1e-4)


def test_psnr_of_identical_images_is_capped():
    x = _images(3)
    assert torch.equal(psnr(x, x), torch.full((3,), PSNR_CAP_DB))


def test_ssim_identical_is_one_and_noise_is_lower():
    x = _images(2, 3)
    assert ssim(x, x).shape == (2, 3)
    assert torch.allclose(ssim(x, x), torch.ones(2, 3), atol=1e-5)
    noisy = (x + 0.2 * torch.randn(x.shape, generator=torch.Generator().manual_seed(1))).clamp(0, 1)
    assert (ssim(noisy, x) < 0.9).all()
    assert dssim(x, x).abs() < 1e-5 and dssim(noisy, x) > 0.1


def test_ssim_works_below_the_window_size():
    x = _images(1, size=6)
    assert torch.allclose(ssim(x, x), torch.ones(1), atol=1e-5)


def test_masked_mse_averages_over_the_mask():
    pred, target = torch.zeros(1, 4, 4, 3), torch.zeros(1, 4, 4, 3)
    pred[0, 0, 0] = 1.0  # one wrong pixel
    mask = torch.zeros(1, 4, 4, 1)
    mask[0, :2, :2] = 1.0
    assert masked_mse(pred, target) == pytest.approx(1 / 16)
    assert masked_mse(pred, target, mask) == pytest.approx(1 / 4)
    assert masked_mse(pred, target, torch.zeros_like(mask)) == 0


def test_foreground_mask_of_white_background():
    images = torch.ones(1, 2, 2, 3)
    images[0, 0, 0] = torch.tensor([1.0, 0.99, 1.0])  # one channel just below the threshold
    images[0, 1, 1] = torch.tensor([0.996, 0.996, 0.996])  # near-white: background
    assert foreground_mask(images)[..., 0].tolist() == [[[1.0, 0.0], [0.0, 0.0]]]


def test_alpha_and_offset_terms():
    alpha = torch.full((1, 2, 4, 4, 1), 0.25)
    assert alpha_loss(alpha, torch.ones_like(alpha)) == pytest.approx(0.75)
    offsets = torch.zeros(2, 10, 3)
    offsets[..., 0] = 0.02
    assert offset_regulariser(offsets) == pytest.approx(4.0)  # (2 cm / 1 cm)^2


def test_reconstruction_loss_weights_and_gradients():
    target = _images(2, 3, seed=1)
    pred = _images(2, 3, seed=2).requires_grad_()
    alpha = torch.rand(2, 3, 24, 24, 1)
    mask = foreground_mask(target)
    offsets = torch.full((2, 7, 3), 0.005, requires_grad=True)
    w = LossWeights(mse=1.0, dssim=0.5, alpha=0.25, offset=2.0)
    total, terms = reconstruction_loss(pred, target, alpha, mask, offsets, w)
    expected = terms["mse"] + 0.5 * terms["dssim"] + 0.25 * terms["alpha"] + 2.0 * terms["offset"]
    assert total.item() == pytest.approx(expected.item(), rel=1e-6)
    assert terms["offset"].item() == pytest.approx(0.75)
    total.backward()
    assert pred.grad.abs().sum() > 0 and offsets.grad.abs().sum() > 0
    off, terms = reconstruction_loss(pred, target, alpha, mask, offsets, {"dssim": 0, "alpha": 0, "offset": 0})
    assert off.item() == pytest.approx(terms["mse"].item()) and terms["dssim"] == 0


@pytest.mark.parametrize("call, match", [
    (lambda: psnr(torch.zeros(2, 4, 4, 3), torch.zeros(2, 4, 5, 3)), "differ in shape"),
    (lambda: ssim(torch.zeros(2, 3, 4, 4), torch.zeros(2, 3, 4, 4)), "channels last"),
    (lambda: masked_mse(torch.zeros(1, 4, 4, 3), torch.zeros(1, 4, 4, 3), torch.zeros(1, 4, 4, 3)), "mask"),
    (lambda: alpha_loss(torch.zeros(1, 4, 4, 1), torch.zeros(1, 4, 3, 1)), "mask"),
    (lambda: offset_regulariser(torch.zeros(3, 4)), "offsets"),
    (lambda: reconstruction_loss(torch.zeros(1, 2, 4, 4, 3), torch.zeros(1, 2, 4, 4, 3), torch.zeros(1, 2, 4, 4, 3),
                                 torch.zeros(1, 2, 4, 4, 1), torch.zeros(1, 5, 3)), "alpha"),
])
def test_shapes_are_checked(call, match):
    with pytest.raises(ShapeError, match=match):
        call()


def test_loss_weights_are_checked():
    with pytest.raises(ConfigError, match="unknown"):
        LossWeights.from_json({"lpips": 1.0})
    with pytest.raises(ConfigError, match=">= 0"):
        LossWeights(mse=-1.0)
    assert LossWeights.from_json(LossWeights(alpha=0.3).to_json()) == LossWeights(alpha=0.3)
