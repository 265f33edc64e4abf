"""emoctl train backbone: batches, outputs of a run, and bad input refused before anything is written."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest
import torch

from emoctl.cli import main
from emoctl.errors import ConfigError
from emoctl.train import BackboneTrainingConfig, train_backbone
from emoctl.train.backbone import lr_factor
from emoctl.train.batches import BackboneData, ValidationData
from train_tiny import TINY_MODEL, tiny_training


def test_batches_are_a_pure_function_of_seed_and_step(tiny_recipe):
    root = tiny_recipe / "appearance" / "train"
    a, b = BackboneData(root, 2, 3, 2, 16, seed=0), BackboneData(root, 2, 3, 2, 16, seed=0)
    first = a.batch(5)
    a.batch(0)  # other steps in between change nothing
    again, other = b.batch(5), b.batch(6)
    assert torch.equal(first["target"], again["target"]) and torch.equal(first["render_c2ws"], again["render_c2ws"])
    assert not torch.equal(first["target"], other["target"]) or first["identities"] != other["identities"]
    assert first["image"].shape == (2, 3, 32, 32)
    assert first["target"].shape == (2, 3, 16, 16, 3)  # resized to the render size
    assert first["render_intrs"].shape == (2, 3, 3, 3) and first["source_c2ws"].shape == (2, 1, 4, 4)
    assert first["flame_params"]["expr"].shape[:2] == (2, 3) and first["flame_params"]["betas"].shape == (2, 300)
    assert torch.all(first["source_intrs"][:, 0, 2, 2] == 1)  # a real camera, not the zeros of a missing one
    # intrinsics scaled by render size / image size (32 -> 16)
    item = a.dataset[0]
    assert torch.allclose(first["render_intrs"][0, 0, 0, 0], item["cameras"]["K"][0, 0, 0] / 2)


def test_validation_items_cover_every_identity(tiny_recipe):
    val = ValidationData(tiny_recipe / "appearance" / "val", 2, 2, 32)
    batches = list(val)
    assert len(batches) == len(val) == 2 * len(val.identities)
    assert all(b["target"].shape[1] == 2 * 2 for b in batches)  # 2 frames x 2 views


def test_lr_schedule_warms_up_then_decays():
    config = BackboneTrainingConfig(steps=100, warmup_steps=10, min_lr_ratio=0.1)
    factors = [lr_factor(s, config) for s in range(100)]
    assert factors[0] < factors[5] < factors[10] == pytest.approx(1.0)
    assert factors[99] == pytest.approx(0.1, abs=0.01) and all(x >= y for x, y in zip(factors[10:], factors[11:]))


def test_a_run_writes_the_model_history_and_curves(tiny_recipe, tmp_path):
    out = tmp_path / "run"
    result = train_backbone(tiny_training(tiny_recipe, out, steps=4, val_every=2), progress=False)
    for name in ("model.safetensors", "config.json", "README.md", "history.json", "curves.png", "training.json",
                 "checkpoint/state.pt"):
        assert (out / name).is_file(), name
    record = json.loads((out / "config.json").read_text())
    assert record["arch"] == "lam" and record["model"]["num_points"] == TINY_MODEL["num_points"]
    training = record["training"]
    assert training["steps"] == 4 and training["seed"] == 0 and training["wall_time_s"] > 0
    assert training["data"]["recipe"]["name"] == "tiny" and training["data"]["split_dir"] == "appearance/train"
    assert training["final_val"]["psnr"] == pytest.approx(result["val"]["psnr"])
    val_identities = ValidationData(tiny_recipe / "appearance" / "val", 2, 1, 32).identities
    assert sorted(training["final_val_per_identity"]) == sorted(val_identities)
    history = json.loads((out / "history.json").read_text())
    assert [r["step"] for r in history["train"]] == [1, 2, 3, 4] and [r["step"] for r in history["val"]] == [2, 4]
    assert (out / "curves.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    from emoctl.backbones import load

    model = load(out)
    assert model.config.num_points == TINY_MODEL["num_points"]


def _argv(tiny_recipe: Path, out: Path, **changes) -> list[str]:
    args = {"--arch": "lam", "--data": str(tiny_recipe / "appearance" / "train"),
            "--val": str(tiny_recipe / "appearance" / "val"), "--out": str(out), "--steps": "2",
            "--config-json": json.dumps({"model": TINY_MODEL, "batch_size": 1, "val_items_per_identity": 1})}
    args.update(changes)
    return ["train", "backbone", "--no-progress", *[x for kv in args.items() for x in kv]]


def _without_reference_cameras(src: Path, dst: Path) -> Path:
    shutil.copytree(src, dst)
    for path in dst.glob("identities/*/identity.json"):
        record = json.loads(path.read_text())
        record["reference_camera"] = None
        path.write_text(json.dumps(record))
    return dst


@pytest.mark.parametrize("change, message", [
    ({"--arch": "vit"}, "unknown backbone arch 'vit'"),
    ({"--data": "/nonexistent/train"}, "data folder '/nonexistent/train' does not exist"),
    ({"--val": "/nonexistent/val"}, "val folder"),
    ({"--steps": "0"}, "steps must be an int >= 1"),
    ({"--config-json": '{"lr": -1}'}, "lr must be"),
    ({"--config-json": '{"model": {"widht": 8}}'}, "widht"),
    ({"--config-json": "[1, 2]"}, "JSON object"),
    ("no-camera", "have no reference_camera"),
])
def test_bad_input_is_one_line_exit_2_and_writes_nothing(tiny_recipe, tmp_path, capsys, change, message):
    out = tmp_path / "out"
    if change == "no-camera":
        change = {"--data": str(_without_reference_cameras(tiny_recipe / "appearance" / "train", tmp_path / "nocam"))}
    assert main(_argv(tiny_recipe, out, **change)) == 2
    err = capsys.readouterr().err.strip()
    assert message in err and len(err.splitlines()) == 1 and err.startswith("emoctl: error:")
    assert not out.exists()


def test_config_round_trips_and_rejects_unknown_fields():
    config = BackboneTrainingConfig(arch="lam", model={"width": 32}, loss_weights={"dssim": 0.5})
    assert BackboneTrainingConfig.from_json(json.loads(json.dumps(config.to_json()))) == config
    with pytest.raises(ConfigError, match="unknown training config"):
        BackboneTrainingConfig.from_json({"epochs": 3})
    with pytest.raises(ConfigError, match="loss weight"):
        BackboneTrainingConfig(loss_weights={"lpips": 1})
