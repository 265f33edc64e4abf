"""Shards built apart and merged; a build killed with SIGKILL in a subprocess and restarted."""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from emoctl.data import merge_shards, verify
from emoctl.errors import DataError
from synced_tiny import build_tiny

HERE = Path(__file__).parent


def _two_shards(tmp_path: Path) -> tuple[Path, Path]:
    a, b = tmp_path / "machine-a", tmp_path / "machine-b"
    for root, shard in ((a, (0, 2)), (b, (1, 2))):
        summary = build_tiny(root, shard=shard)
        assert summary.manifest_path is None and summary.clips_total == 9
        assert not (root / "manifest.json").exists()
    return a, b


def test_two_shards_built_apart_merge_into_the_single_build(tmp_path, tiny_dataset, digest):
    a, b = _two_shards(tmp_path)
    clips_a = {p.parent.relative_to(a).as_posix() for p in a.rglob("clip.json")}
    clips_b = {p.parent.relative_to(b).as_posix() for p in b.rglob("clip.json")}
    assert clips_a and clips_b and not clips_a & clips_b  # disjoint parts of the job set
    shutil.copytree(b, a, dirs_exist_ok=True)  # as rsync would bring machine b's folder over
    assert merge_shards(a) == a / "manifest.json"
    assert (a / "manifest.json").read_bytes() == (tiny_dataset / "manifest.json").read_bytes()
    only_single = {k for k in digest(tiny_dataset) if k.startswith("shards/")}
    merged = {k: v for k, v in digest(a).items() if not k.startswith("shards/")}
    assert merged == {k: v for k, v in digest(tiny_dataset).items() if k not in only_single}
    assert verify(a).ok


def test_two_shard_processes_sharing_one_folder_merge_into_the_single_build(tmp_path, tiny_dataset, digest):
    out = tmp_path / "shared"
    procs = [subprocess.Popen([sys.executable, str(HERE / "synced_tiny.py"), "build", str(out), "--shard", str(i), "2"],
                              stderr=subprocess.PIPE) for i in range(2)]
    for proc in procs:
        assert proc.wait(timeout=120) == 0, proc.stderr.read().decode()[-2000:]
    merge_shards(out)
    assert (out / "manifest.json").read_bytes() == (tiny_dataset / "manifest.json").read_bytes()
    mine = {k: v for k, v in digest(out).items() if not k.startswith("shards/")}
    assert mine == {k: v for k, v in digest(tiny_dataset).items() if not k.startswith("shards/")}


def test_merge_names_a_missing_shard(tmp_path):
    a, _ = _two_shards(tmp_path)
    with pytest.raises(DataError, match=r"missing shard file\(s\) \['shards/shard-1-of-2.json'\]"):
        merge_shards(a)


def test_merge_refuses_listed_clips_that_were_not_copied(tmp_path):
    a, b = _two_shards(tmp_path)
    shutil.copy(b / "shards/shard-1-of-2.json", a / "shards")
    with pytest.raises(DataError, match="listed clip.* are not in this folder"):
        merge_shards(a)


def _edit_shard(path: Path, change) -> None:
    data = json.loads(path.read_text())
    change(data)
    path.write_text(json.dumps(data))


@pytest.mark.parametrize(
    "change, message",
    [
        (lambda s: s["config"].__setitem__("fps", 30.0), "differs from shards/shard-0-of-2.json in config"),
        (lambda s: s.__setitem__("emotions", ["neutral", "happy", "angry"]), "in emotions"),
        (lambda s: s["generator"]["tracker"]["config"].__setitem__("noise_std", 0.5), "in generator"),
        (lambda s: s["jobs"]["identities"].append("id7"), "job set"),
    ],
)
def test_merge_refuses_shards_from_different_builds(tmp_path, change, message):
    a, b = _two_shards(tmp_path)
    shutil.copytree(b, a, dirs_exist_ok=True)
    _edit_shard(a / "shards/shard-1-of-2.json", change)
    with pytest.raises(DataError, match=message):
        merge_shards(a)
    assert not (a / "manifest.json").exists()


def test_merge_refuses_a_clip_claimed_twice_with_different_checksums(tmp_path):
    a, b = _two_shards(tmp_path)
    shutil.copytree(b, a, dirs_exist_ok=True)
    stolen = json.loads((a / "shards/shard-0-of-2.json").read_text())["clips"][0]

    def claim(shard):
        clip = json.loads(json.dumps(stolen))
        clip["clip_json"]["sha256"] = "0" * 64
        shard["clips"].append(clip)

    _edit_shard(a / "shards/shard-1-of-2.json", claim)
    with pytest.raises(DataError, match=f"clip '{stolen['key']}' is claimed by shards/shard-0-of-2.json and "
                                        "shards/shard-1-of-2.json with different checksums"):
        merge_shards(a)
    _edit_shard(a / "shards/shard-1-of-2.json", lambda s: s["clips"].__setitem__(-1, stolen))
    merge_shards(a)  # the same clip claimed twice with the same checksums is fine


def test_merge_with_shard_files_of_two_counts_needs_num_shards(tmp_path):
    a, b = _two_shards(tmp_path)
    shutil.copytree(b, a, dirs_exist_ok=True)
    (a / "shards/shard-0-of-3.json").write_text("{}")
    with pytest.raises(DataError, match=r"different shard counts \[2, 3\]"):
        merge_shards(a)
    merge_shards(a, num_shards=2)
    with pytest.raises(DataError, match="shard-1-of-3.json"):
        merge_shards(a, num_shards=3)


def _start(out: Path, *extra: str) -> subprocess.Popen:
    cmd = [sys.executable, str(HERE / "synced_tiny.py"), "build", str(out), "--identities", "5", *extra]
    return subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)


def _complete_clips(out: Path) -> int:
    """Clip directories in place (pathlib's glob also matches the hidden temporary ones: leave those out)."""
    return sum(1 for p in out.glob("clips/*/*/*/clip.json") if not p.parent.name.startswith(".tmp-"))


def _kill_after(proc: subprocess.Popen, out: Path, clips: int, timeout: float = 60.0) -> int:
    """SIGKILL ``proc`` as soon as at least ``clips`` complete clips exist; the number found then."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        done = _complete_clips(out)
        if done >= clips:
            os.kill(proc.pid, signal.SIGKILL)
            proc.wait()
            return done
        if proc.poll() is not None:
            pytest.fail(f"the build ended before it could be killed: {proc.stderr.read().decode()[-2000:]}")
        time.sleep(0.002)
    proc.kill()
    pytest.fail("the build wrote no clips in time")


def test_a_build_killed_twice_with_sigkill_resumes_to_an_identical_dataset(tmp_path, digest):
    reference = tmp_path / "reference"
    build_tiny(reference, num_identities=5)  # 5 identities x 2 anchors x 3 emotions = 30 clips
    out = tmp_path / "killed"
    # First kill while clips are being written at full speed, the second one mid-run after a restart.
    first = _kill_after(_start(out), out, clips=3)
    assert 3 <= first < 30 and not (out / "manifest.json").exists()
    second = _kill_after(_start(out, "--delay", "0.02"), out, clips=first + 4)
    assert second < 30 and not (out / "manifest.json").exists()
    assert _complete_clips(out) >= second  # nothing complete was lost
    summary = build_tiny(out, num_identities=5)
    assert summary.clips_skipped >= second and summary.clips_written == 30 - summary.clips_skipped
    assert digest(out) == digest(reference)
    report = verify(out)
    assert report.ok, report.summary()
