"""emoctl.backbones.hub: save / load round trip, strict checks, shipped names, Hub ids."""

from __future__ import annotations

import json

import pytest
import torch
from safetensors.torch import load_file, save_file

from emoctl.backbones import build, hub, load, save
from emoctl.backbones.lam_style import LAMStyleConfig
from emoctl.errors import CheckpointError

SMALL = LAMStyleConfig(num_points=128, width=32, cond_dim=32, layers=1, encoder_depth=1, image_size=32, patch=8,
                       render_size=32)


@pytest.fixture(scope="module")
def saved(tmp_path_factory):
    model = build(SMALL)
    with torch.no_grad():  # weights a fresh model would not have
        for p in model.parameters():
            p.add_(0.01 * torch.randn(p.shape, generator=torch.Generator().manual_seed(p.numel())))
    folder = tmp_path_factory.mktemp("hub") / "lam"
    save(model, folder, {"training": {"steps": 7, "seed": 3, "wall_time_s": 60.0,
                                      "final_val": {"psnr": 21.5, "ssim": 0.8, "images": 12},
                                      "final_val_per_identity": {"id-1": {"psnr": 21.5, "ssim": 0.8, "images": 12}}}})
    return model, folder


def _outputs(model):
    torch.manual_seed(0)
    image = torch.rand(1, 3, 32, 32)
    betas = torch.zeros(1, 300)
    avatar = model.build_avatar(image, betas)
    return avatar.attributes()


def test_round_trip_gives_equal_outputs(saved):
    model, folder = saved
    loaded = load(folder)
    assert type(loaded) is type(model) and loaded.config == model.config and not loaded.training
    model.eval()
    with torch.no_grad():
        a, b = _outputs(model), _outputs(loaded)
    assert all(torch.equal(a[k], b[k]) for k in a)
    record = json.loads((folder / "config.json").read_text())
    assert record["format"] == "emoctl-backbone" and record["arch"] == "lam" and record["training"]["steps"] == 7
    card = (folder / "README.md").read_text()
    assert "PSNR 21.50 dB" in card and "| id-1 | 21.50 | 0.8000 |" in card
    assert not any(k.startswith("template.") for k in load_file(str(folder / "model.safetensors")))


def _copy(folder, tmp_path):
    import shutil

    dst = tmp_path / "copy"
    shutil.copytree(folder, dst)
    return dst


@pytest.mark.parametrize("tamper, message", [
    (lambda r: r.update(format="something-else"), "not an 'emoctl-backbone' config"),
    (lambda r: r.update(version=99), "version 99"),
    (lambda r: r.update(arch="gan"), "not a known backbone"),
    (lambda r: r["model"].update(width=64), "does not fit"),
    (lambda r: r["model"].update(widht=64), "widht"),
    (lambda r: r.update(weights_sha256="0" * 64), "SHA-256"),
])
def test_a_tampered_config_is_refused(saved, tmp_path, tamper, message):
    folder = _copy(saved[1], tmp_path)
    record = json.loads((folder / "config.json").read_text())
    tamper(record)
    (folder / "config.json").write_text(json.dumps(record))
    with pytest.raises(CheckpointError, match=message):
        load(folder)


def test_a_shape_mismatch_in_the_weights_is_refused(saved, tmp_path):
    import hashlib

    folder = _copy(saved[1], tmp_path)
    tensors = load_file(str(folder / "model.safetensors"))
    name = next(k for k in tensors if k.endswith("weight"))
    tensors[name] = torch.zeros(*tensors[name].shape[:-1], tensors[name].shape[-1] + 1)
    save_file(tensors, str(folder / "model.safetensors"))
    record = json.loads((folder / "config.json").read_text())
    record["weights_sha256"] = hashlib.sha256((folder / "model.safetensors").read_bytes()).hexdigest()
    (folder / "config.json").write_text(json.dumps(record))
    with pytest.raises(CheckpointError, match=f"{name}: "):
        load(folder)


def test_unknown_and_unshipped_names(tmp_path, monkeypatch):
    with pytest.raises(CheckpointError, match="not a shipped backbone"):
        load("no such thing")
    monkeypatch.setitem(hub.SHIPPED, "lam-ref", tmp_path / "absent")
    with pytest.raises(CheckpointError, match="not shipped .*emoctl train backbone --arch lam"):
        load("lam-ref")


def test_hub_ids_go_through_snapshot_download_local_paths_do_not(saved, monkeypatch, tmp_path):
    import huggingface_hub

    calls = []
    monkeypatch.setattr(huggingface_hub, "snapshot_download", lambda repo_id, **kw: calls.append(repo_id) or str(saved[1]))
    assert load("someone/lam-ref").config == SMALL and calls == ["someone/lam-ref"]
    load(saved[1])
    assert calls == ["someone/lam-ref"]

    def offline(repo_id, **kw):
        raise OSError("offline")

    monkeypatch.setattr(huggingface_hub, "snapshot_download", offline)
    with pytest.raises(CheckpointError, match="cannot fetch backbone 'someone/other'"):
        load("someone/other")


def test_save_refuses_non_finite_weights_and_leaves_no_files(tmp_path):
    model = build(SMALL)
    with torch.no_grad():
        next(model.parameters()).fill_(float("nan"))
    with pytest.raises(CheckpointError, match="NaN"):
        save(model, tmp_path / "bad")
    assert not (tmp_path / "bad").exists()
