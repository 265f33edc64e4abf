"""A resumed training run ends with exactly the weights of an uninterrupted one."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
import torch
from safetensors.torch import load_file

from train_tiny import TINY_MODEL, tiny_training
from emoctl.errors import ConfigError
from emoctl.train import train_backbone
from emoctl.train.checkpoint import checkpoint_path, load_checkpoint


def _weights(out: Path) -> dict[str, torch.Tensor]:
    return load_file(str(out / "model.safetensors"))


def _assert_same(a: dict[str, torch.Tensor], b: dict[str, torch.Tensor]) -> None:
    assert a.keys() == b.keys()
    different = [k for k in a if not torch.equal(a[k], b[k])]
    assert not different, different[:5]


def test_stop_and_resume_equals_uninterrupted(tiny_recipe, tmp_path):
    straight = train_backbone(tiny_training(tiny_recipe, tmp_path / "straight"), progress=False)
    assert straight["steps"] == 6 and not straight["stopped_early"]
    stopped = train_backbone(tiny_training(tiny_recipe, tmp_path / "resumed"), progress=False, stop_at=3)
    assert stopped["stopped_early"] and load_checkpoint(tmp_path / "resumed")["step"] == 3
    assert not (tmp_path / "resumed" / "model.safetensors").exists()
    resumed = train_backbone(tiny_training(tiny_recipe, tmp_path / "resumed"), progress=False, resume=True)
    assert resumed["steps"] == 6
    _assert_same(_weights(tmp_path / "straight"), _weights(tmp_path / "resumed"))
    a = json.loads((tmp_path / "straight" / "history.json").read_text())
    b = json.loads((tmp_path / "resumed" / "history.json").read_text())
    assert [r["loss"] for r in a["train"]] == [r["loss"] for r in b["train"]]
    assert [r["psnr"] for r in a["val"]] == [r["psnr"] for r in b["val"]]
    assert load_checkpoint(tmp_path / "straight")["step"] == 6


def test_resume_refuses_a_changed_config(tiny_recipe, tmp_path):
    train_backbone(tiny_training(tiny_recipe, tmp_path / "run"), progress=False, stop_at=2)
    with pytest.raises(ConfigError, match="lr"):
        train_backbone(tiny_training(tiny_recipe, tmp_path / "run", lr=1e-2), progress=False, resume=True)
    with pytest.raises(ConfigError, match="already holds a training checkpoint"):
        train_backbone(tiny_training(tiny_recipe, tmp_path / "run"), progress=False)


def test_sigkill_after_first_checkpoint_then_resume(tiny_recipe, tmp_path):
    out = tmp_path / "killed"
    config = tiny_training(tiny_recipe, out, steps=6, ckpt_every=2, val_every=100)
    (tmp_path / "config.json").write_text(json.dumps({k: v for k, v in config.to_json().items()
                                                      if k not in ("arch", "data_dir", "val_dir", "out_dir", "steps")}))
    command = [sys.executable, "-m", "emoctl.cli", "train", "backbone", "--arch", "lam", "--data", config.data_dir,
               "--val", config.val_dir, "--out", str(out), "--steps", "6", "--no-progress",
               "--config-json", str(tmp_path / "config.json")]
    proc = subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    try:
        deadline = time.monotonic() + 60
        while not checkpoint_path(out).exists() and proc.poll() is None and time.monotonic() < deadline:
            time.sleep(0.02)
        os.kill(proc.pid, signal.SIGKILL)
    finally:
        proc.wait()
    assert proc.returncode == -signal.SIGKILL, proc.stderr.read().decode()
    killed_at = load_checkpoint(out)["step"]
    assert 2 <= killed_at < 6 and not (out / "model.safetensors").exists()
    done = subprocess.run(command + ["--resume"], capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    assert f"resuming {out} at step" in done.stdout
    straight = train_backbone(config.replace(out_dir=str(tmp_path / "straight")), progress=False)
    assert straight["steps"] == 6
    _assert_same(_weights(tmp_path / "straight"), _weights(out))
    assert TINY_MODEL["num_points"] == json.loads((out / "config.json").read_text())["model"]["num_points"]
