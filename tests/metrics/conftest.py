"""Toy judges for the metric tests: small deterministic models following emoctl.metrics.protocols."""

import pytest
import torch


class ProjectionEncoder:
    """IdentityEncoder: flatten + a fixed random projection to ``dim`` numbers."""

    def __init__(self, size: int, dim: int = 16, seed: int = 0):
        self.proj = torch.randn(size * size * 3, dim, generator=torch.Generator().manual_seed(seed))

    def __call__(self, images):
        return images.flatten(1) @ self.proj


class MeanColourRegressor:
    """ExpressionRegressor: expr = the mean of each of the 4 image quadrants' red channel,
    jaw_pose = mean RGB, pose = mean RGB of the top half (hand-computable)."""

    def __call__(self, images):
        n, h, w, _ = images.shape
        quads = [images[:, :h // 2, :w // 2], images[:, :h // 2, w // 2:], images[:, h // 2:, :w // 2], images[:, h // 2:, w // 2:]]
        return {
            "expr": torch.stack([q[..., 0].mean((1, 2)) for q in quads], 1),
            "jaw_pose": images.mean((1, 2)),
            "pose": images[:, : h // 2].mean((1, 2)),
            "ignored": torch.zeros(1),
        }


class BrightSpotDetector:
    """LandmarkDetector: L = 2 landmarks, the pixel of the brightest red and the brightest green;
    an image whose maximum is below 0.5 has "no face" (NaN row)."""

    def __call__(self, images):
        n, h, w, _ = images.shape
        out = torch.empty(n, 2, 2)
        for c in range(2):
            flat = images[..., c].flatten(1).argmax(1)
            out[:, c, 0], out[:, c, 1] = (flat % w).float(), (flat // w).float()
        out[images.flatten(1).amax(1) < 0.5] = float("nan")
        return out


class FixedClassifier:
    """EmotionClassifier whose logits are given in advance (one row per image, in call order)."""

    vocabulary = ("neutral", "happy", "sad")

    def __init__(self, logits):
        self.logits = logits

    def __call__(self, images):
        return self.logits[: images.shape[0]]


@pytest.fixture
def images():
    g = torch.Generator().manual_seed(7)
    return torch.rand(3, 8, 8, 3, generator=g), torch.rand(3, 8, 8, 3, generator=g)


@pytest.fixture
def toys():
    return {
        "encoder": ProjectionEncoder(8),
        "regressor": MeanColourRegressor(),
        "detector": BrightSpotDetector(),
        "classifier": FixedClassifier,
    }
