"""emoctl eval backbone: held-out scores, the mean-avatar baseline, figures, the card record, the check set."""

from __future__ import annotations

import json

import pytest
import torch

from emoctl.backbones import build
from emoctl.backbones.hub import load, save
from emoctl.cli import main
from emoctl.eval.backbone_quality import evaluate_backbone, mean_avatar_colors
from emoctl.eval.check_set import check_set_psnr, load_check_set
from emoctl.errors import CheckpointError
from emoctl.media import read_png

TINY = {"arch": "lam", "num_points": 96, "width": 32, "cond_dim": 32, "layers": 1, "encoder_depth": 1,
        "image_size": 32, "patch": 8, "render_size": 32}


def _model(active: bool):
    torch.manual_seed(0)
    model = build(dict(TINY))
    if active:  # colours that depend on the reference image
        torch.nn.init.normal_(model.gs_heads.heads["color"].weight, std=0.5)
    return model.eval()


def test_scores_and_the_mean_avatar_baseline(tiny_recipe):
    test, train = tiny_recipe / "appearance" / "test", tiny_recipe / "appearance" / "train"
    flat = _model(active=False)  # a fresh model paints every identity the same grey: no gain over the mean
    mean = mean_avatar_colors(flat, train, mean_identities=2)
    report = evaluate_backbone(flat, test, mean_colors=mean, frame_stride=1, progress=False)
    assert report["identities"] >= 1 and report["images"] > 0
    assert set(report["per_identity"]) and all(v["psnr"] > 0 for v in report["per_identity"].values())
    assert report["gain_db"] == pytest.approx(0.0, abs=1e-6)
    live = _model(active=True)
    mean = mean_avatar_colors(live, train, mean_identities=2)
    report = evaluate_backbone(live, test, mean_colors=mean, frame_stride=1, progress=False)
    assert abs(report["gain_db"]) > 1e-3
    assert report["psnr"]["min"] <= report["psnr"]["mean"] <= report["psnr"]["max"]


def test_cli_records_the_figures_in_the_card(tiny_recipe, tmp_path):
    folder = save(_model(active=True), tmp_path / "bb", card_extra={"training": {"steps": 0}})
    before = (folder / "model.safetensors").read_bytes()
    out, check = tmp_path / "eval", tmp_path / "check.safetensors"
    rc = main(["eval", "backbone", "--backbone", str(folder), "--data", str(tiny_recipe / "appearance" / "test"),
               "--train", str(tiny_recipe / "appearance" / "train"), "--mean-identities", "2", "--out", str(out),
               "--record-in", str(folder), "--check-set", str(check), "--frame-stride", "1", "--no-progress"])
    assert rc == 0
    report = json.loads((out / "report.json").read_text())
    assert read_png(out / "identity.png").shape[-1] == 3
    record = json.loads((folder / "config.json").read_text())
    assert record["training"] == {"steps": 0}  # kept
    assert record["evaluation"]["psnr"]["mean"] == pytest.approx(report["psnr"]["mean"])
    assert "Held-out self-reenactment" in (folder / "README.md").read_text()
    assert (folder / "model.safetensors").read_bytes() == before
    assert check_set_psnr(load(folder), check) == pytest.approx(record["evaluation"]["check_set"]["psnr"], abs=1e-6)
    assert load_check_set(check)["targets"].dtype == torch.uint8


def test_bad_input_is_one_line_and_writes_nothing(tiny_recipe, tmp_path, capsys):
    folder = save(_model(active=False), tmp_path / "bb")
    out = tmp_path / "eval"
    rc = main(["eval", "backbone", "--backbone", str(folder), "--data", str(tmp_path / "missing"), "--out", str(out)])
    assert rc == 2 and not out.exists()
    assert "--data" in capsys.readouterr().err
    with pytest.raises(CheckpointError, match="does not exist"):
        load_check_set(tmp_path / "nope.safetensors")
