"""verify and the CLI: each kind of damage is reported as exactly that problem, and the CLI exits non-zero."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys

import numpy as np
import pytest

from emoctl.data import load_manifest, verify
from emoctl.errors import DataError
from emoctl.data.cli import main as cli_main
from emoctl.data.io import canonical_json, flame_to_bytes, load_tensors
from emoctl.media import encode_png
from emoctl.data.transforms import transforms_for_clip
from emoctl.data.reader import clip_cameras
from damage import read_manifest, reseal_clip


def _clip_json(root, key: str) -> dict:
    return json.loads((root / "clips" / key / "clip.json").read_text())


def test_a_fresh_build_verifies_clean(tiny_dataset):
    report = verify(tiny_dataset)
    assert report.ok and report.problems == []
    assert report.counts == {"identities": 3, "anchors": 2, "clips": 18, "files": len(list(tiny_dataset.rglob("*.*"))) - 3}
    assert "OK" in report.summary()


def test_a_corrupted_file_is_reported_as_a_checksum_mismatch(tiny_copy):
    path = tiny_copy / "clips/id0/anchor1/happy/frames/00003_01.png"
    data = bytearray(path.read_bytes())
    data[-20] ^= 0xFF
    path.write_bytes(bytes(data))
    report = verify(tiny_copy)
    assert not report.ok
    assert report.problems == [
        "clip id0/anchor1/happy: checksum mismatch in clips/id0/anchor1/happy/frames/00003_01.png "
        f"(clip.json sha256 {_clip_json(tiny_copy, 'id0/anchor1/happy')['files']['frames/00003_01.png']['sha256'][:12]}..., "
        f"file {__import__('hashlib').sha256(bytes(data)).hexdigest()[:12]}...)"
    ]


def test_a_missing_file_is_reported_by_name(tiny_copy):
    (tiny_copy / "clips/id2/anchor0/sad/flame.safetensors").unlink()
    (tiny_copy / "identities/id1/reference.png").unlink()
    assert verify(tiny_copy).problems == [
        "identity id1: missing file identities/id1/reference.png",
        "clip id2/anchor0/sad: missing file clips/id2/anchor0/sad/flame.safetensors",
    ]


def test_a_clip_with_shifted_timestamps_is_reported_as_desynchronised(tiny_copy):
    def shift(record):
        record["timestamps"][2] += 0.01

    reseal_clip(tiny_copy, "id1/anchor1/sad", shift)
    assert verify(tiny_copy).problems == [
        "not synchronised: clip id1/anchor1/sad has timestamps different from anchor anchor1's "
        "(first at frame 2: 0.41000000000000003 s vs 0.4 s in the other emotions)"
    ]


def test_a_clip_with_a_frame_less_is_reported_as_desynchronised(tiny_copy):
    key, d = "id0/anchor0/sad", tiny_copy / "clips/id0/anchor0/sad"
    flame = load_tensors(d / "flame.safetensors", "t")
    for name in ("flame.safetensors", "flame_gt.safetensors"):
        seq = load_tensors(d / name, "t")
        (d / name).write_bytes(flame_to_bytes({k: (v if k == "betas" else v[:5]) for k, v in seq.items()}))
    for png in d.glob("frames/00005_*.png"):
        png.unlink()
    rig = clip_cameras(tiny_copy, next(c for c in read_manifest(tiny_copy)["clips"] if c["key"] == key))
    (d / "transforms.json").write_bytes(canonical_json(transforms_for_clip(rig, 5, "png")))

    def shorten(record):
        record["num_frames"] = 5
        record["timestamps"] = record["timestamps"][:5]

    reseal_clip(tiny_copy, key, shorten)
    assert flame["expr"].shape[0] == 6
    assert verify(tiny_copy).problems == [
        "not synchronised: clip id0/anchor0/sad has 5 frames, anchor anchor0 and its other emotions have 6"
    ]


def test_a_missing_emotion_is_reported_as_desynchronised(tiny_copy):
    manifest = read_manifest(tiny_copy)
    manifest["clips"] = [c for c in manifest["clips"] if c["key"] != "id2/anchor1/happy"]
    (tiny_copy / "manifest.json").write_bytes(canonical_json(manifest))
    shutil.rmtree(tiny_copy / "clips/id2/anchor1/happy")
    assert verify(tiny_copy).problems == ["not synchronised: identity id2, anchor anchor1: no clip in emotion(s) ['happy']"]


def test_content_problems_behind_valid_checksums_are_reported(tiny_copy):
    nan = load_tensors(tiny_copy / "clips/id0/anchor0/happy/flame.safetensors", "t")
    nan["jaw_pose"][1, 0] = float("nan")
    (tiny_copy / "clips/id0/anchor0/happy/flame.safetensors").write_bytes(flame_to_bytes(nan))
    reseal_clip(tiny_copy, "id0/anchor0/happy")
    (tiny_copy / "clips/id1/anchor0/sad/frames/00002_00.png").write_bytes(encode_png(np.zeros((32, 32, 3), np.uint8)))
    reseal_clip(tiny_copy, "id1/anchor0/sad")
    (tiny_copy / "clips/id2/anchor0/neutral/frames/00000_01.png").write_bytes(b"not a png")
    reseal_clip(tiny_copy, "id2/anchor0/neutral")
    problems = verify(tiny_copy).problems
    assert len(problems) == 3
    assert "clip id0/anchor0/happy" in problems[0] and "flame.safetensors['jaw_pose'] contains NaN" in problems[0]
    assert problems[1] == "clip id1/anchor0/sad: clips/id1/anchor0/sad/frames/00002_00.png holds [32, 32, 3], expected [64, 64, 3]"
    assert problems[2].startswith("clip id2/anchor0/neutral: ") and "00000_01.png is not a readable PNG" in problems[2]


def test_unlisted_clip_directories_files_and_leftovers_are_reported(tiny_copy):
    shutil.copytree(tiny_copy / "clips/id0/anchor0/sad", tiny_copy / "clips/id0/anchor0/angry")
    (tiny_copy / "clips/id1/anchor1/.tmp-sad-123-abc").mkdir()
    (tiny_copy / "clips/id2/anchor1/happy/notes.txt").write_text("x")
    assert verify(tiny_copy).problems == [
        "unlisted clip directory clips/id0/anchor0/angry (not in the manifest)",
        "leftover temporary clips/id1/anchor1/.tmp-sad-123-abc from an interrupted build (run the build again to finish it)",
        "unlisted file clips/id2/anchor1/happy/notes.txt in clip id2/anchor1/happy",
    ]


def test_an_mp4_view_with_a_frame_less_is_reported(tmp_path):
    from emoctl.media import read_mp4, write_mp4
    from synced_tiny import build_tiny

    build_tiny(tmp_path, frame_format="mp4", num_identities=1, num_anchors=1)
    video = tmp_path / "clips/id0/anchor0/happy/frames/view_01.mp4"
    write_mp4(video, read_mp4(video)[:5], fps=5.0)
    reseal_clip(tmp_path, "id0/anchor0/happy")
    (tmp_path / "identities/id7").mkdir()
    assert verify(tmp_path).problems == [
        "clip id0/anchor0/happy: clips/id0/anchor0/happy/frames/view_01.mp4 holds [5, 64, 64, 3], expected [6, 64, 64, 3]",
        "unlisted directory identities/id7 (not in the manifest)",
    ]


def test_a_malformed_or_missing_manifest_is_reported(tiny_copy, tmp_path):
    manifest = read_manifest(tiny_copy)
    manifest["schema_version"] = 99
    del manifest["clips"][3]["clip_json"]
    (tiny_copy / "manifest.json").write_bytes(canonical_json(manifest))
    problems = verify(tiny_copy).problems
    assert any("schema_version is 99; this emoctl reads version 2" in p for p in problems)
    assert any("clips[3] lacks ['clip_json']" in p for p in problems)
    assert "missing" in verify(tmp_path).problems[0]


def test_a_version_1_manifest_is_one_clear_problem(tiny_copy):
    """Version 1 listed every file's checksum in the manifest; it is named as such, not as a flood of
    missing fields."""
    manifest = read_manifest(tiny_copy)
    manifest["schema_version"] = 1
    for clip in manifest["clips"]:
        clip["files"] = {"clip.json": clip.pop("clip_json")}
    (tiny_copy / "manifest.json").write_bytes(canonical_json(manifest))
    assert verify(tiny_copy).problems == [
        "manifest.json: schema_version is 1, an older layout of this format (its manifest lists every file's "
        "checksum); this emoctl reads version 2: rebuild the dataset into a new folder with this emoctl"
    ]
    with pytest.raises(DataError, match="schema_version is 1, an older layout"):
        load_manifest(tiny_copy)


def test_cli_verify_exits_non_zero_with_the_report(tiny_copy, capsys):
    assert cli_main(["verify", str(tiny_copy)]) == 0
    assert "OK" in capsys.readouterr().out
    (tiny_copy / "clips/id2/anchor0/sad/transforms.json").unlink()
    assert cli_main(["verify", str(tiny_copy), "--skip-frames"]) == 1
    out = capsys.readouterr().out
    assert "1 problem(s)" in out and "missing file clips/id2/anchor0/sad/transforms.json" in out
    done = subprocess.run([sys.executable, "-m", "emoctl.data.cli", "verify", str(tiny_copy)], capture_output=True,
                          text=True)
    assert done.returncode == 1 and "missing file clips/id2/anchor0/sad/transforms.json" in done.stdout


def test_cli_info_and_merge(tiny_copy, capsys, tmp_path):
    assert cli_main(["info", str(tiny_copy), "--json"]) == 0
    info = json.loads(capsys.readouterr().out)
    assert (info["identities"], info["anchors"], info["clips"]) == (3, 2, 18)
    assert info["frames_per_clip"] == {"6": 9, "7": 9} and info["total_frames"] == (9 * 6 + 9 * 7) * 2
    assert (info["constant_clips"], info["curve_clips"], info["curve_clips_per_pair"]) == (18, 0, 0)
    assert cli_main(["info", str(tiny_copy)]) == 0
    text = capsys.readouterr().out
    assert "clips: 18" in text and "18 constant-emotion, 0 curve (0 per identity x anchor)" in text
    before = (tiny_copy / "manifest.json").read_bytes()
    (tiny_copy / "manifest.json").unlink()
    assert cli_main(["merge", str(tiny_copy)]) == 0
    assert (tiny_copy / "manifest.json").read_bytes() == before
    assert cli_main(["merge", str(tmp_path / "nothing")]) == 1
    assert "no shard files" in capsys.readouterr().err
    assert cli_main(["info", str(tmp_path / "nothing")]) == 1


def test_register_adds_the_three_commands_to_a_parent_parser():
    import argparse

    from emoctl.data.cli import register

    parser = argparse.ArgumentParser(prog="emoctl")
    commands = parser.add_subparsers(dest="command")
    register(commands)
    args = parser.parse_args(["verify", "some/root", "--skip-frames"])
    assert args.root == "some/root" and args.skip_frames and callable(args.func)
    assert set(commands.choices) == {"verify", "merge", "info"}
