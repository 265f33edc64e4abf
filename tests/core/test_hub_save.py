"""Saving under contention and failure: concurrent saves, loads during saves, OS errors."""

import contextlib
import os
import subprocess
import sys
import textwrap
import threading
import time
from pathlib import Path

import pytest
import torch

from emoctl import CheckpointError

from ._tiny_checkpoints import TINY, tiny, writer_of


def _slow_renames(monkeypatch, pause=0.003):
    """Widen the window between a save's renames, where an unlocked save would interleave."""
    real = os.replace

    def slow(src, dst):
        real(src, dst)
        time.sleep(pause)

    monkeypatch.setattr(os, "replace", slow)


def _staging_left(folder: Path) -> list[str]:
    return [p.name for p in folder.iterdir() if p.name.startswith(".emoctl-staging-")]


@contextlib.contextmanager
def _loading_continuously(folder: Path, writers, errors: list):
    """A thread that loads ``folder`` over and over while the block runs; every load must succeed
    and come from one writer as a whole."""
    stop = threading.Event()

    def read():
        while not stop.is_set():
            try:
                assert writer_of(folder) in writers
            except Exception as e:  # noqa: BLE001 - reported by the test
                errors.append(f"load during a save: {e!r}")
                return
            time.sleep(0.001)

    reader = threading.Thread(target=read)
    reader.start()
    try:
        yield
    finally:
        stop.set()
        reader.join()


def test_concurrent_saves_in_threads_leave_one_whole_checkpoint_and_loads_never_see_a_mix(tmp_path, monkeypatch):
    _slow_renames(monkeypatch)
    folder = tmp_path / "ck"
    writers = {1.0: tiny(1.0), 2.0: tiny(2.0)}
    writers[1.0].save_pretrained(folder)
    errors = []

    def save(mods, barrier):
        try:
            barrier.wait()
            mods.save_pretrained(folder)
        except Exception as e:  # noqa: BLE001 - reported below
            errors.append(f"save: {e!r}")

    with _loading_continuously(folder, writers, errors):
        for round_ in range(30):
            barrier = threading.Barrier(2)
            threads = [threading.Thread(target=save, args=(m, barrier)) for m in writers.values()]
            for t in threads:
                t.start()
            for t in threads:
                t.join()
            assert not errors, errors
            assert writer_of(folder) in writers, f"round {round_}"
    assert not errors, errors
    assert not _staging_left(folder)


WORKER = textwrap.dedent(
    """
    import os, sys, time
    import torch, emoctl
    real = os.replace
    pause = 0.002 if sys.argv[2] == "1.0" else 0.02  # unequal, so unlocked saves would cross
    def slow(src, dst):
        real(src, dst)
        time.sleep(pause)
    os.replace = slow
    mods = emoctl.EmotionModulators(**{tiny!r})
    with torch.no_grad():
        for p in mods.parameters():
            p.fill_(float(sys.argv[2]))
    print("ready", flush=True)
    for line in sys.stdin:
        mods.save_pretrained(sys.argv[1])
        print("done", flush=True)
    """
).format(tiny=TINY)


def test_concurrent_saves_from_two_processes_leave_one_whole_checkpoint(tmp_path):
    folder = tmp_path / "ck"
    tiny(1.0).save_pretrained(folder)
    logs = [open(tmp_path / f"worker{i}.log", "w+") for i in (1, 2)]
    procs = [subprocess.Popen([sys.executable, "-c", WORKER, str(folder), str(float(i))], stdin=subprocess.PIPE,
                              stdout=subprocess.PIPE, stderr=log, text=True) for i, log in zip((1, 2), logs)]

    def expect(proc, log, word):
        line = proc.stdout.readline().strip()
        log.seek(0)
        assert line == word, log.read()

    errors = []
    try:
        for proc, log in zip(procs, logs):
            expect(proc, log, "ready")
        with _loading_continuously(folder, (1.0, 2.0), errors):
            for round_ in range(10):
                for proc in procs:
                    proc.stdin.write("go\n")
                    proc.stdin.flush()
                for proc, log in zip(procs, logs):
                    expect(proc, log, "done")
                assert writer_of(folder) in (1.0, 2.0), f"round {round_}"
        assert not errors, errors
    finally:
        for proc in procs:
            proc.stdin.close()
        for proc in procs:
            try:
                proc.wait(timeout=30)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()
        for log in logs:
            log.close()
    assert not _staging_left(folder)


def test_a_failed_rename_puts_the_previous_checkpoint_back(tmp_path, monkeypatch):
    tiny(1.0).save_pretrained(tmp_path)
    real = os.replace

    def refuse_the_config(src, dst):
        if Path(dst).name == "config.json":
            raise PermissionError(13, "Permission denied", str(src))
        real(src, dst)

    monkeypatch.setattr(os, "replace", refuse_the_config)
    with pytest.raises(CheckpointError) as info:
        tiny(2.0).save_pretrained(tmp_path)
    monkeypatch.undo()
    message = str(info.value)
    assert str(tmp_path) in message and "Permission denied" in message and "config.json" in message
    assert "intact" in message and ".emoctl-staging-" not in message
    assert writer_of(tmp_path) == 1.0  # the weights moved in first were put back
    assert not _staging_left(tmp_path)


def test_a_config_json_that_is_a_folder_fails_cleanly(tmp_path):
    tiny(1.0).save_pretrained(tmp_path)
    weights = (tmp_path / "model.safetensors").read_bytes()
    (tmp_path / "config.json").unlink()
    (tmp_path / "config.json").mkdir()
    (tmp_path / "config.json" / "keep").write_text("x")
    with pytest.raises(CheckpointError, match=r"could not save the checkpoint to .*\(replacing config.json\).*intact"):
        tiny(2.0).save_pretrained(tmp_path)
    assert (tmp_path / "model.safetensors").read_bytes() == weights
    assert (tmp_path / "config.json" / "keep").read_text() == "x"
    assert not _staging_left(tmp_path)


def test_unwritable_targets_and_bad_arguments_are_checkpoint_errors(tmp_path):
    (tmp_path / "a-file").write_text("x")
    with pytest.raises(CheckpointError, match="a-file"):
        tiny().save_pretrained(tmp_path / "a-file" / "ck")  # a parent that is a file
    with pytest.raises(CheckpointError, match="not a folder"):
        tiny().save_pretrained(tmp_path / "a-file")
    with pytest.raises(CheckpointError, match="folder path"):
        tiny().save_pretrained(None)
    with pytest.raises(CheckpointError, match="model_card"):
        tiny().save_pretrained(tmp_path / "ck", model_card=3)
    assert not (tmp_path / "ck").exists()


def test_non_finite_weights_are_not_saved(tmp_path):
    tiny(1.0).save_pretrained(tmp_path)
    broken = tiny(2.0)
    with torch.no_grad():
        broken.geometry.out_proj.weight[0, 0] = float("nan")
    with pytest.raises(CheckpointError, match=r"non-finite values in geometry\.out_proj\.weight"):
        broken.save_pretrained(tmp_path)
    assert writer_of(tmp_path) == 1.0


def test_saving_and_loading_work_where_folders_cannot_be_locked(tmp_path, monkeypatch):
    import errno

    from emoctl import _locks

    def refused(fd, op):
        raise OSError(errno.ENOLCK, "No locks available")

    monkeypatch.setattr(_locks.fcntl, "flock", refused)  # e.g. a network file system
    with _locks.folder_lock(tmp_path) as held:
        assert held is False
    tiny(1.0).save_pretrained(tmp_path)
    assert writer_of(tmp_path) == 1.0
    monkeypatch.setattr(_locks, "fcntl", None)  # e.g. Windows
    tiny(2.0).save_pretrained(tmp_path)
    assert writer_of(tmp_path) == 2.0
    monkeypatch.undo()
    with _locks.folder_lock(tmp_path, shared=True) as held:
        assert held is True


def test_the_same_weights_give_the_same_bytes(tmp_path):
    """Checkpoints are reproducible: saving the same modulators twice writes identical files."""
    import hashlib

    from emoctl import EmotionModulators

    torch.manual_seed(0)
    mods = EmotionModulators(emotions=7, emotion_dim=8, geometry_dim=8, geometry_layers=1, geometry_heads=2, geometry_tokens=1)
    digests = set()
    for i in range(8):
        mods.save_pretrained(tmp_path / f"ck{i}")
        digests.add(hashlib.sha256((tmp_path / f"ck{i}" / "model.safetensors").read_bytes()).hexdigest())
    assert len(digests) == 1
