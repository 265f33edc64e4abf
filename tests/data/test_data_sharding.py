"""Which shard a build process is: 'i/n', 'auto' from a Slurm job array or torchrun, and clear errors."""

from __future__ import annotations

import pytest

from emoctl.data import merge_if_complete, parse_shard, shard_from_environment
from emoctl.errors import DataError
from synced_tiny import build_tiny


def test_explicit_shards():
    assert parse_shard("3/8") == (3, 8) and parse_shard(" 0 / 1 ") == (0, 1)
    assert parse_shard(None) == (0, 1) and parse_shard((2, 4)) == (2, 4) and parse_shard([1, 2]) == (1, 2)
    for bad, message in (("8/8", "shard 8 of 8 is not a shard"), ("1/0", "shard 1 of 0"), ("2", "must be 'i/n'"),
                         ("a/b", "must be 'i/n'"), ((1, 1), r"shard must be \(i, n\)"), ((0, True), r"shard must be")):
        with pytest.raises(DataError, match=message):
            parse_shard(bad)


def test_auto_reads_a_slurm_array(monkeypatch):
    monkeypatch.setenv("SLURM_ARRAY_TASK_ID", "5")
    monkeypatch.setenv("SLURM_ARRAY_TASK_COUNT", "16")
    monkeypatch.setenv("RANK", "1")  # Slurm wins over torchrun's variables
    monkeypatch.setenv("WORLD_SIZE", "2")
    assert parse_shard("auto") == (5, 16)
    monkeypatch.setenv("SLURM_ARRAY_TASK_MIN", "1")  # --array=1-16
    assert parse_shard("auto") == (4, 16)
    monkeypatch.setenv("SLURM_ARRAY_TASK_ID", "7")  # --array=1-31:2: tasks 1, 3, 5, 7, ...
    monkeypatch.setenv("SLURM_ARRAY_TASK_STEP", "2")
    assert parse_shard("AUTO") == (3, 16)
    monkeypatch.setenv("SLURM_ARRAY_TASK_ID", "8")
    with pytest.raises(DataError, match="task 8 is not on the array's grid"):
        parse_shard("auto")


def test_auto_reads_torchrun_and_an_explicit_environment(monkeypatch):
    for name in ("SLURM_ARRAY_TASK_ID", "SLURM_ARRAY_TASK_COUNT"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("RANK", "3")
    monkeypatch.setenv("WORLD_SIZE", "4")
    assert parse_shard("auto") == (3, 4)
    assert shard_from_environment({"SLURM_ARRAY_TASK_ID": "0", "SLURM_ARRAY_TASK_COUNT": "2"}) == (0, 2)
    monkeypatch.setenv("RANK", "4")
    with pytest.raises(DataError, match=r"RANK / WORLD_SIZE\): shard 4 of 4 is not a shard"):
        parse_shard("auto")
    monkeypatch.setenv("RANK", "x")
    with pytest.raises(DataError, match="RANK='x' is not an integer"):
        parse_shard("auto")


def test_auto_without_a_launcher_is_a_clear_error(monkeypatch):
    for name in ("SLURM_ARRAY_TASK_ID", "SLURM_ARRAY_TASK_COUNT", "RANK", "WORLD_SIZE"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("SLURM_ARRAY_TASK_ID", "1")  # an id without a count is not an array
    with pytest.raises(DataError, match="found neither SLURM_ARRAY_TASK_ID and SLURM_ARRAY_TASK_COUNT .* nor RANK and "
                                        "WORLD_SIZE .*; pass the shard explicitly, e.g. --shard 0/4"):
        parse_shard("auto")


def test_the_last_shard_to_finish_merges(tmp_path, tiny_dataset):
    for index in range(3):
        assert not (tmp_path / "manifest.json").exists()
        build_tiny(tmp_path, shard=(index, 3))
        merged = merge_if_complete(tmp_path, 3)
        assert (merged is not None) == (index == 2)
    assert (tmp_path / "manifest.json").read_bytes() == (tiny_dataset / "manifest.json").read_bytes()
