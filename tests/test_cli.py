"""The emoctl command line, in process and as an installed console script."""

import pickle
import shutil
import subprocess
import sys

import pytest

from emoctl.cli import main

from .flame.flame_factories import flame2020_style_pickle, random_flame_arrays


def test_info(capsys):
    assert main(["info"]) == 0
    out = capsys.readouterr().out
    assert out.startswith("emoctl ") and "lam (emoctl.adapters.lam.LAMAdapter)" in out


def test_flame_convert_reads_a_pickle_safely_and_writes_safetensors(tmp_path, capsys):
    from emoctl.flame import load_flame_model

    pkl = tmp_path / "generic_model.pkl"
    pkl.write_bytes(flame2020_style_pickle(random_flame_arrays(seed=3)))
    out = tmp_path / "flame2020.safetensors"
    assert main(["flame", "convert", str(pkl), str(out), "--source", "FLAME2020"]) == 0
    assert str(out) in capsys.readouterr().out
    assert load_flame_model(out).source == "FLAME2020"


class _Evil:
    def __reduce__(self):
        import os

        return (os.system, ("echo pwned > /dev/null",))


def test_flame_convert_refuses_a_malicious_pickle_with_exit_code_2(tmp_path, capsys):
    pkl = tmp_path / "evil.pkl"
    pkl.write_bytes(pickle.dumps({"v_template": _Evil()}))
    assert main(["flame", "convert", str(pkl), str(tmp_path / "out.safetensors")]) == 2
    assert "system" in capsys.readouterr().err
    assert not (tmp_path / "out.safetensors").exists()


def test_data_verify_on_a_missing_dataset_exits_non_zero(tmp_path, capsys):
    assert main(["data", "verify", str(tmp_path / "nothing")]) == 1
    assert "manifest.json" in capsys.readouterr().out


def test_console_script_is_installed():
    exe = shutil.which("emoctl", path=str(__import__("pathlib").Path(sys.executable).parent))
    assert exe is not None
    proc = subprocess.run([exe, "--version"], capture_output=True, text=True)
    assert proc.returncode == 0 and proc.stdout.startswith("emoctl ")


def test_bad_arguments_exit_with_usage(capsys):
    with pytest.raises(SystemExit) as exc:
        main(["flame"])
    assert exc.value.code == 2
