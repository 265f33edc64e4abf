"""Argument validation and backend dispatch of emoctl.render.rasterize."""

from __future__ import annotations

import sys
import types

import pytest
import torch

import importlib
from emoctl.errors import EmoctlError, NonFiniteError, ShapeError
from emoctl.render import (
    BackendUnavailableError,
    MissingDependencyError,
    RenderArgumentError,
    rasterize,
)

from .scenes import camera, random_scene

# The package attribute `rasterize` is the function; the module is reached through importlib.
rasterize_module = importlib.import_module("emoctl.render.rasterize")

W, H = 16, 12


def _args(n=6, dtype=torch.float32):
    scene = [t.to(dtype) for t in random_scene(n, 0, special=False)]
    view, K = camera(W, H, dtype=dtype)
    return [*scene, view[None], K[None]]


NAMES = ["means", "quats", "scales", "opacities", "colors", "viewmats", "Ks"]


@pytest.mark.parametrize("index,bad_shape", [
    (0, (6, 2)), (1, (6, 3)), (2, (6,)), (4, (6,)), (5, (1, 3, 4)), (6, (1, 4, 4)), (5, (4, 4)),
])
def test_bad_shapes_are_rejected_with_the_argument_name(index, bad_shape):
    args = _args()
    args[index] = torch.zeros(bad_shape)
    with pytest.raises(ShapeError, match=NAMES[index]):
        rasterize(*args, W, H)


def test_gaussian_count_must_agree():
    args = _args()
    args[3] = torch.rand(5)
    with pytest.raises(ShapeError, match="opacities has 5 Gaussians but means has 6"):
        rasterize(*args, W, H)


def test_camera_count_must_agree():
    args = _args()
    args[6] = args[6].expand(2, 3, 3)
    with pytest.raises(ShapeError, match="Ks has 2 cameras but viewmats has 1"):
        rasterize(*args, W, H)


def test_batch_dims_must_broadcast():
    args = _args()
    args[0] = args[0].expand(2, 6, 3)
    args[4] = args[4].expand(3, 6, 3)
    with pytest.raises(ShapeError, match="do not broadcast"):
        rasterize(*args, W, H)


def test_background_channels_must_match_colors():
    with pytest.raises(ShapeError, match="backgrounds must have 3 channels"):
        rasterize(*_args(), W, H, backgrounds=torch.zeros(4))


def test_dtypes_must_be_floating_and_shared():
    args = _args()
    args[3] = (args[3] * 10).long()
    with pytest.raises(ShapeError, match="opacities must be a floating-point tensor"):
        rasterize(*args, W, H)
    args = _args()
    args[4] = args[4].double()
    with pytest.raises(ShapeError, match="one floating dtype"):
        rasterize(*args, W, H)


def test_non_tensor_argument():
    args = _args()
    args[0] = [[0.0, 0.0, 0.0]]
    with pytest.raises(ShapeError, match="means must be a torch.Tensor"):
        rasterize(*args, W, H)


@pytest.mark.parametrize("index", range(7))
@pytest.mark.parametrize("value", [float("nan"), float("inf")])
def test_non_finite_values_are_rejected(index, value):
    args = _args()
    args[index] = args[index].clone()
    args[index].view(-1)[0] = value
    with pytest.raises(NonFiniteError, match=NAMES[index]):
        rasterize(*args, W, H)


def test_non_finite_background_is_rejected():
    with pytest.raises(NonFiniteError, match="backgrounds"):
        rasterize(*_args(), W, H, backgrounds=torch.tensor([0.0, float("nan"), 0.0]))


def test_zero_quaternion_is_rejected():
    args = _args()
    args[1] = args[1].clone()
    args[1][2] = 0.0
    with pytest.raises(NonFiniteError, match="zero"):
        rasterize(*args, W, H)


def test_quaternions_are_normalised():
    args = _args(dtype=torch.float64)
    reference, _ = rasterize(*args, W, H)
    scaled = list(args)
    scaled[1] = args[1] * torch.tensor([0.01, 3.0, 250.0, 1.0, 1e-3, 7.0], dtype=torch.float64)[:, None]
    images, _ = rasterize(*scaled, W, H)
    torch.testing.assert_close(images, reference, rtol=0, atol=1e-10)
    flipped = list(args)
    flipped[1] = -args[1]  # q and -q are the same rotation
    torch.testing.assert_close(rasterize(*flipped, W, H)[0], reference, rtol=0, atol=1e-10)


@pytest.mark.parametrize("width,height", [(0, 12), (16, -1), (16.5, 12), (True, 12), ("16", 12)])
def test_image_size_must_be_positive_ints(width, height):
    with pytest.raises(RenderArgumentError, match="width|height"):
        rasterize(*_args(), width, height)


def test_numpy_and_tensor_ints_are_accepted_as_sizes():
    import numpy as np

    images, _ = rasterize(*_args(), np.int64(W), torch.tensor(H))
    assert images.shape[-3:-1] == (H, W)


@pytest.mark.parametrize("near,far", [(0.0, 10.0), (-1.0, 10.0), (5.0, 5.0), (1.0, float("nan"))])
def test_clipping_planes_must_be_ordered_and_positive(near, far):
    with pytest.raises(RenderArgumentError, match="near_plane"):
        rasterize(*_args(), W, H, near_plane=near, far_plane=far)


def test_unknown_backend_name():
    with pytest.raises(RenderArgumentError, match="backend must be one of"):
        rasterize(*_args(), W, H, backend="cuda")


def test_errors_are_emoctl_and_builtin_errors():
    with pytest.raises(ValueError):
        rasterize(*_args(), 0, H)
    with pytest.raises(EmoctlError):
        rasterize(*_args(), W, H, backend="nope")


def _poison_gsplat(monkeypatch):
    """Pretend gsplat is installed, as a module that fails the test if it is ever used."""
    fake = types.ModuleType("gsplat")

    def explode(*_, **__):
        raise AssertionError("gsplat must not be called for CPU tensors")

    fake.rasterization = explode
    fake.__version__ = "1.5.3"
    monkeypatch.setitem(sys.modules, "gsplat", fake)
    monkeypatch.setattr(rasterize_module, "gsplat_available", lambda: True)
    return fake


def test_gsplat_backend_on_cpu_tensors_is_a_clear_error(monkeypatch):
    _poison_gsplat(monkeypatch)
    with pytest.raises(BackendUnavailableError, match="needs CUDA tensors"):
        rasterize(*_args(), W, H, backend="gsplat")


def test_auto_backend_uses_pytorch_for_cpu_tensors_even_with_gsplat(monkeypatch):
    _poison_gsplat(monkeypatch)
    images, alphas = rasterize(*_args(), W, H, backend="auto")
    assert alphas.max() > 0


def test_gsplat_backend_without_gsplat_names_the_extra(monkeypatch):
    monkeypatch.setattr(rasterize_module, "gsplat_available", lambda: False)
    args = _args()
    # Checked before any device work: on CPU the CUDA error comes first ...
    with pytest.raises(BackendUnavailableError):
        rasterize(*args, W, H, backend="gsplat")
    # ... and on a CUDA device the missing package is named.
    if torch.cuda.is_available():
        with pytest.raises(MissingDependencyError, match=r'emoctl\[gsplat\]'):
            rasterize(*[a.cuda() for a in args], W, H, backend="gsplat")


def test_importing_render_does_not_import_gsplat_or_imageio():
    import subprocess

    code = ("import sys, emoctl.render; "
            "print(sorted(m for m in ('gsplat', 'imageio', 'PIL') if m in sys.modules))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"
