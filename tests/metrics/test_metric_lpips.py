"""LPIPS from weight files on disk (random stand-in weights here): values, and the file errors."""

import pickle

import pytest
import torch
from safetensors.torch import save_file

from emoctl.errors import CheckpointError, ShapeError
from emoctl.metrics import LPIPS
from emoctl.metrics.lpips import CHANNELS, MIN_SIZE

CONVS = {0: (64, 3, 11), 3: (192, 64, 5), 6: (384, 192, 3), 8: (256, 384, 3), 10: (256, 256, 3)}


def backbone_state(seed=0):
    g = torch.Generator().manual_seed(seed)
    state = {}
    for idx, (o, i, k) in CONVS.items():
        state[f"features.{idx}.weight"] = torch.randn(o, i, k, k, generator=g) * (2 / (i * k * k)) ** 0.5
        state[f"features.{idx}.bias"] = torch.zeros(o)
    state["classifier.1.weight"] = torch.zeros(2, 2)  # ignored, as in torchvision's file
    return state


def linear_state(scale=1.0):
    return {f"lin{l}.model.1.weight": torch.full((1, c, 1, 1), scale / c) for l, c in enumerate(CHANNELS)}


@pytest.fixture
def files(tmp_path):
    lin, net = tmp_path / "alex.pth", tmp_path / "alexnet.safetensors"
    torch.save(linear_state(), lin)
    save_file(backbone_state(), str(net))
    return lin, net


def test_identical_zero_different_positive_symmetric(files):
    metric = LPIPS.from_files(*files)
    g = torch.Generator().manual_seed(1)
    a, b = torch.rand(2, 32, 40, 3, generator=g), torch.rand(2, 32, 40, 3, generator=g)
    assert torch.allclose(metric(a, a), torch.zeros(2), atol=1e-6)
    d = metric(a, b)
    assert d.shape == (2,) and bool((d > 0).all())
    assert torch.allclose(d, metric(b, a), atol=1e-6)
    assert float(metric(a, a * 0.9)[0]) < float(d[0])  # a small change is nearer than a new image


def test_linear_weights_scale_the_distance(tmp_path, files):
    lin2 = tmp_path / "alex2.safetensors"
    save_file({f"lin{l}.weight": w * 2 for l, w in enumerate(linear_state().values())}, str(lin2))  # short key names
    a, b = torch.rand(1, 32, 32, 3), torch.rand(1, 32, 32, 3)
    one, two = LPIPS.from_files(*files)(a, b), LPIPS.from_files(lin2, files[1])(a, b)
    assert torch.allclose(two, 2 * one, rtol=1e-5)


def test_gradients_flow_to_inputs_only(files):
    metric = LPIPS.from_files(*files)
    a = torch.rand(1, 32, 32, 3, requires_grad=True)
    metric(a, torch.rand(1, 32, 32, 3)).sum().backward()
    assert a.grad is not None and a.grad.abs().sum() > 0
    assert not any(p.requires_grad for p in metric.parameters())


def test_missing_file_names_what_to_provide(tmp_path, files):
    with pytest.raises(CheckpointError, match=r"nope\.pth does not exist.*lpips/weights/v0\.1/alex\.pth"):
        LPIPS.from_files(tmp_path / "nope.pth", files[1])
    with pytest.raises(CheckpointError, match=r"AlexNet backbone file .*none\.pth does not exist.*alexnet-owt"):
        LPIPS.from_files(files[0], tmp_path / "none.pth")


def test_bad_contents_are_checkpoint_errors(tmp_path, files):
    partial = {k: v for k, v in backbone_state().items() if not k.startswith("features.10")}
    partial["features.8.bias"] = torch.zeros(5)
    torch.save(partial, tmp_path / "partial.pth")
    with pytest.raises(CheckpointError, match=r"missing \['features\.10\.weight', 'features\.10\.bias'\]; misshapen \['features\.8\.bias \(5,\)"):
        LPIPS.from_files(files[0], tmp_path / "partial.pth")
    (tmp_path / "junk.pth").write_bytes(b"not a checkpoint")
    with pytest.raises(CheckpointError, match="cannot read the linear-layer file"):
        LPIPS.from_files(tmp_path / "junk.pth", files[1])


class Evil:
    def __reduce__(self):
        return (print, ("pickled code ran",))


def test_pickled_objects_are_refused_without_running(tmp_path, files, capsys):
    with open(tmp_path / "evil.pth", "wb") as f:
        pickle.dump({"lin0.weight": Evil()}, f, protocol=2)
    with pytest.raises(CheckpointError, match="cannot read the linear-layer file"):
        LPIPS.from_files(tmp_path / "evil.pth", files[1])
    assert "pickled code ran" not in capsys.readouterr().out


def test_shape_errors(files):
    metric = LPIPS.from_files(*files)
    with pytest.raises(ShapeError, match=f"at least {MIN_SIZE}x{MIN_SIZE}"):
        metric(torch.rand(1, 30, 64, 3), torch.rand(1, 30, 64, 3))
    with pytest.raises(ShapeError, match="image count N"):
        metric(torch.rand(2, 32, 32, 3), torch.rand(1, 32, 32, 3))
    assert metric(torch.rand(1, MIN_SIZE, MIN_SIZE, 3), torch.rand(1, MIN_SIZE, MIN_SIZE, 3)).shape == (1,)
