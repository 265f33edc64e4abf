"""save_pretrained / load_pretrained / push_to_hub in the Hub layout."""

import json
import os
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest
import torch
from safetensors.torch import load_file

import emoctl
from emoctl import CheckpointError, EmotionModulators
from emoctl.testing.lam_layout import LAMLayoutConfig, LAMLayoutModel

from .conftest import SMALL, outputs_equal, perturb

REPO_ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture
def trained(model, small_kwargs):
    ctl = emoctl.wrap(model, **small_kwargs)
    perturb(ctl, seed=1)
    return ctl


def fresh(small_kwargs, config=SMALL, **kw):
    return emoctl.wrap(LAMLayoutModel(config), **{**small_kwargs, **kw})


def test_round_trip_is_exact_and_writes_the_hub_layout(trained, inputs, small_kwargs, tmp_path):
    trained.save_pretrained(tmp_path / "ckpt")
    files = sorted(p.name for p in (tmp_path / "ckpt").iterdir())
    assert files == ["README.md", "config.json", "model.safetensors"]
    config = json.loads((tmp_path / "ckpt" / "config.json").read_text())
    assert config["emoctl_version"] == emoctl.__version__
    assert config["emotions"] == list(emoctl.EMOTIONS) and config["adapter"] == "lam"
    assert config["token_dim"] == SMALL.cond_dim and config["geometry_layers"] == 2
    assert set(load_file(tmp_path / "ckpt" / "model.safetensors")) == set(trained.state_dict())
    card = (tmp_path / "ckpt" / "README.md").read_text()
    assert card.startswith("---\nlibrary_name: emoctl") and "load_pretrained" in card

    other = fresh(small_kwargs)
    other.load_pretrained(tmp_path / "ckpt")
    for k, v in trained.state_dict().items():
        assert torch.equal(other.state_dict()[k], v), k
    with trained.emotion("happy"):
        a = trained.model(*inputs)
    with other.emotion("happy"):
        b = other.model(*inputs)
    assert outputs_equal(a, b)


def test_standalone_modulators_from_pretrained(trained, tmp_path):
    trained.save_pretrained(tmp_path)
    mods = EmotionModulators.from_pretrained(tmp_path)
    assert type(mods) is EmotionModulators
    for k, v in trained.state_dict().items():
        assert torch.equal(mods.state_dict()[k], v)
    flame = {"expr": torch.randn(1, 5, 100), "jaw_pose": torch.zeros(1, 5, 3)}
    assert torch.equal(mods.retarget(flame, "sad")["expr"], trained.retarget(flame, "sad")["expr"])


def test_mismatched_checkpoints_are_refused_by_name_and_nothing_changes(trained, small_kwargs, tmp_path):
    trained.save_pretrained(tmp_path)
    other_vocab = fresh(small_kwargs, emotions=["neutral", "calm", "angry"])
    before = {k: v.clone() for k, v in other_vocab.state_dict().items()}
    with pytest.raises(CheckpointError, match="emotion vocabulary"):
        other_vocab.load_pretrained(tmp_path)
    assert all(torch.equal(before[k], v) for k, v in other_vocab.state_dict().items())

    wider = LAMLayoutConfig(**{**SMALL.__dict__, "cond_dim": 40})
    other_width = fresh(small_kwargs, config=wider)
    with pytest.raises(CheckpointError, match=r"(?s)backbone token width: checkpoint has 24, this model has 40.*parts='geometry'"):
        other_width.load_pretrained(tmp_path)
    # the geometry branch is reusable across backbones (paper 4.4.2)
    other_width.load_pretrained(tmp_path, parts="geometry")
    assert torch.equal(other_width.geometry.out_proj.weight, trained.geometry.out_proj.weight)
    assert torch.equal(other_width.embedding.table, trained.embedding.table)

    deeper = fresh({**small_kwargs, "geometry_layers": 3})
    with pytest.raises(CheckpointError, match="geometry_layers: checkpoint has 2, this model has 3"):
        deeper.load_pretrained(tmp_path)


def test_corrupt_and_missing_files(trained, small_kwargs, tmp_path):
    other = fresh(small_kwargs)
    with pytest.raises(CheckpointError, match="no checkpoint folder"):
        other.load_pretrained(tmp_path / "nope")
    trained.save_pretrained(tmp_path / "a")
    weights = tmp_path / "a" / "model.safetensors"
    data = weights.read_bytes()

    weights.write_bytes(data[: len(data) // 2])  # truncated download
    with pytest.raises(CheckpointError, match="SHA-256"):
        other.load_pretrained(tmp_path / "a")
    config = json.loads((tmp_path / "a" / "config.json").read_text())
    del config["weights_sha256"]
    (tmp_path / "a" / "config.json").write_text(json.dumps(config))
    with pytest.raises(CheckpointError, match="corrupt"):
        other.load_pretrained(tmp_path / "a")

    (tmp_path / "a" / "config.json").write_text("{not json")
    with pytest.raises(CheckpointError, match="config.json is corrupt"):
        other.load_pretrained(tmp_path / "a")
    (tmp_path / "a" / "config.json").write_text(json.dumps({"format": "something-else"}))
    with pytest.raises(CheckpointError, match="not an emoctl modulator config"):
        other.load_pretrained(tmp_path / "a")
    os.remove(tmp_path / "a" / "config.json")
    with pytest.raises(CheckpointError, match="missing config.json"):
        other.load_pretrained(tmp_path / "a")


def test_missing_and_extra_tensors_are_refused(trained, small_kwargs, tmp_path):
    from safetensors.torch import save_file

    trained.save_pretrained(tmp_path)
    tensors = load_file(tmp_path / "model.safetensors")
    dropped = dict(tensors)
    dropped.pop("geometry.out_proj.bias")
    dropped["geometry.unexpected"] = torch.zeros(1)
    save_file(dropped, tmp_path / "model.safetensors")
    config = json.loads((tmp_path / "config.json").read_text())
    config.pop("weights_sha256")
    (tmp_path / "config.json").write_text(json.dumps(config))
    with pytest.raises(CheckpointError, match=r"(?s)missing tensor geometry.out_proj.bias.*unexpected tensor geometry.unexpected"):
        fresh(small_kwargs).load_pretrained(tmp_path)


def test_a_failed_save_leaves_the_previous_checkpoint_intact(trained, small_kwargs, tmp_path, monkeypatch):
    import safetensors.torch

    trained.save_pretrained(tmp_path)
    (tmp_path / "notes.txt").write_text("mine")  # other files in the folder are not touched
    reference = {k: v.clone() for k, v in trained.state_dict().items()}
    perturb(trained, seed=5)

    def broken_save(tensors, filename, metadata=None):
        with open(filename, "wb") as f:
            f.write(b"\x00" * 1000)
        raise OSError("disk full")

    monkeypatch.setattr(safetensors.torch, "save_file", broken_save)
    with pytest.raises(CheckpointError, match=r"could not save the checkpoint to .*disk full.*previous checkpoint .*intact"):
        trained.save_pretrained(tmp_path)
    monkeypatch.undo()
    assert sorted(p.name for p in tmp_path.iterdir()) == ["README.md", "config.json", "model.safetensors", "notes.txt"]
    other = fresh(small_kwargs)
    other.load_pretrained(tmp_path)
    assert all(torch.equal(other.state_dict()[k], v) for k, v in reference.items())


KILL_SCRIPT = textwrap.dedent(
    """
    import os, signal, sys
    import torch, emoctl
    import safetensors.torch as st
    mods = emoctl.EmotionModulators(emotions=7, token_dim=24, emotion_dim=16, geometry_dim=32, geometry_layers=2, geometry_heads=2)
    with torch.no_grad():
        for p in mods.parameters():
            p.fill_(7.0)
    where = sys.argv[2]
    if where == "writing":
        real = st.save_file
        def half_then_die(tensors, filename, metadata=None):
            real(tensors, filename, metadata=metadata)
            with open(filename, "r+b") as f:
                f.truncate(os.path.getsize(filename) // 2)
            os.kill(os.getpid(), signal.SIGKILL)
        st.save_file = half_then_die
    else:
        real_replace, calls = os.replace, []
        def die_on_second(a, b):
            calls.append(1)
            if len(calls) == 2:
                os.kill(os.getpid(), signal.SIGKILL)
            real_replace(a, b)
        os.replace = die_on_second
    mods.save_pretrained(sys.argv[1])
    """
)


def test_sigkill_while_writing_keeps_the_old_checkpoint_and_the_next_save_cleans_up(trained, small_kwargs, tmp_path):
    trained.save_pretrained(tmp_path)
    reference = {k: v.clone() for k, v in trained.state_dict().items()}
    proc = subprocess.run([sys.executable, "-c", KILL_SCRIPT, str(tmp_path), "writing"], capture_output=True)
    assert proc.returncode == -9, proc.stderr.decode()
    assert any(p.name.startswith(".emoctl-staging-") for p in tmp_path.iterdir())
    other = fresh(small_kwargs)
    other.load_pretrained(tmp_path)
    assert all(torch.equal(other.state_dict()[k], v) for k, v in reference.items())
    trained.save_pretrained(tmp_path)  # removes the dead process's staging folder
    assert not any(p.name.startswith(".emoctl-staging-") for p in tmp_path.iterdir())


def test_sigkill_between_renames_is_detected_not_silently_loaded(trained, small_kwargs, tmp_path):
    trained.save_pretrained(tmp_path)
    proc = subprocess.run([sys.executable, "-c", KILL_SCRIPT, str(tmp_path), "renaming"], capture_output=True)
    assert proc.returncode == -9, proc.stderr.decode()
    with pytest.raises(CheckpointError, match="SHA-256"):
        fresh(small_kwargs).load_pretrained(tmp_path)


def _fake_hub_cache(cache: Path, repo_id: str, commit: str, ckpt: Path) -> None:
    """The Hugging Face cache layout, as hf_hub_download leaves it."""
    root = cache / ("models--" + repo_id.replace("/", "--"))
    snap = root / "snapshots" / commit
    snap.mkdir(parents=True)
    (root / "refs").mkdir()
    (root / "refs" / "main").write_text(commit)
    for name in ("config.json", "model.safetensors", "README.md"):
        (snap / name).write_bytes((ckpt / name).read_bytes())


def test_offline_load_from_the_hub_cache(trained, small_kwargs, tmp_path, monkeypatch):
    import huggingface_hub.constants

    trained.save_pretrained(tmp_path / "ckpt")
    commit = "0123456789abcdef0123456789abcdef01234567"
    _fake_hub_cache(tmp_path / "hub", "org/emoctl-test", commit, tmp_path / "ckpt")
    monkeypatch.setattr(huggingface_hub.constants, "HF_HUB_OFFLINE", True)
    other = fresh(small_kwargs)
    other.load_pretrained("org/emoctl-test", revision=commit, cache_dir=tmp_path / "hub")
    assert all(torch.equal(other.state_dict()[k], v) for k, v in trained.state_dict().items())
    with pytest.raises(CheckpointError, match="not in the local Hugging Face cache"):
        other.load_pretrained("org/not-cached", revision=commit, cache_dir=tmp_path / "hub")


def test_offline_load_with_hf_hub_offline_environment(trained, tmp_path):
    trained.save_pretrained(tmp_path / "ckpt")
    commit = "89abcdef0123456789abcdef0123456789abcdef"
    _fake_hub_cache(tmp_path / "hub", "org/emoctl-env", commit, tmp_path / "ckpt")
    script = (
        "import emoctl, sys\n"
        "m = emoctl.EmotionModulators.from_pretrained('org/emoctl-env', revision=sys.argv[1])\n"
        "print(m.config.token_dim, float(m.embedding.table.sum()))\n"
    )
    env = dict(os.environ, HF_HUB_OFFLINE="1", HF_HUB_CACHE=str(tmp_path / "hub"), HF_HOME=str(tmp_path / "home"))
    proc = subprocess.run([sys.executable, "-c", script, commit], capture_output=True, text=True, env=env)
    assert proc.returncode == 0, proc.stderr
    width, total = proc.stdout.split()
    assert int(width) == SMALL.cond_dim
    assert abs(float(total) - float(trained.embedding.table.detach().sum())) < 1e-3


def test_push_to_hub_uploads_one_commit_with_the_checkpoint(trained, small_kwargs, tmp_path, monkeypatch):
    import huggingface_hub

    calls = {}

    class FakeApi:
        def __init__(self, token=None):
            calls["token"] = token

        def create_repo(self, repo_id, private=None, exist_ok=False, repo_type=None):
            calls["create"] = (repo_id, private, exist_ok)

        def upload_folder(self, repo_id, folder_path, commit_message, revision=None, create_pr=False, repo_type=None):
            calls["upload"] = (repo_id, commit_message)
            dest = tmp_path / "uploaded"
            dest.mkdir()
            for p in Path(folder_path).iterdir():
                (dest / p.name).write_bytes(p.read_bytes())
            return "commit-info"

    monkeypatch.setattr(huggingface_hub, "HfApi", FakeApi)
    assert trained.push_to_hub("org/emoctl-push", private=True, token="t") == "commit-info"
    assert calls["create"] == ("org/emoctl-push", True, True) and calls["token"] == "t"
    assert calls["upload"][0] == "org/emoctl-push"
    assert sorted(p.name for p in (tmp_path / "uploaded").iterdir()) == ["README.md", "config.json", "model.safetensors"]
    other = fresh(small_kwargs)
    other.load_pretrained(tmp_path / "uploaded")
    assert all(torch.equal(other.state_dict()[k], v) for k, v in trained.state_dict().items())
    with pytest.raises(ValueError, match="org/name"):
        trained.push_to_hub("no-slash")
