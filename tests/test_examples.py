"""The scripts in examples/ run and do what they say."""

import runpy
from pathlib import Path

EXAMPLES = Path(__file__).resolve().parents[1] / "examples"


def load(name):
    return runpy.run_path(str(EXAMPLES / name), run_name="example")


def test_wrap_and_control(tmp_path, capsys):
    load("wrap_and_control.py")["main"](tmp_path / "ckpt")
    assert (tmp_path / "ckpt" / "model.safetensors").exists()
    assert "lam adapter" in capsys.readouterr().out


def test_finetune_in_your_loop_reduces_both_losses():
    losses = load("finetune_in_your_loop.py")["main"](25)
    assert losses["geometry"][-1] < 0.1 * losses["geometry"][0]
    assert losses["appearance"][-1] < losses["appearance"][0]


def test_retarget_flame_sequence(tmp_path):
    import emoctl

    out = load("retarget_flame_sequence.py")["main"](None, "sad")
    assert out["expr"].shape == (1, 30, 100)
    mods = emoctl.EmotionModulators(emotions=7, token_dim=None)
    mods.save_pretrained(tmp_path)
    assert load("retarget_flame_sequence.py")["main"](str(tmp_path), "happy")["jaw_pose"].shape == (1, 30, 3)
