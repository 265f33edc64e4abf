"""build_dataset: layout and content, resampling, input checks, resumption after a crash, MP4, progress."""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

import numpy as np
import pytest
import torch

import emoctl.data.writers as writers
from emoctl.data import DatasetConfig, PassThroughTracker, ReenactedClip, build_dataset, verify
from emoctl.data.io import load_tensors
from emoctl.media import read_mp4, read_png
from emoctl.emotions import Vocabulary
from emoctl.errors import DataError, ShapeError
from synced_tiny import (
    SIZE,
    SMALL_EMOTIONS,
    VIEWS,
    TinyReenactor,
    build_tiny,
    decode,
    make_anchor,
    make_flame,
    make_identity,
    make_rig,
    tiny_config,
    tiny_world,
)


def _manifest(root: Path) -> dict:
    return json.loads((root / "manifest.json").read_text())


def test_build_writes_every_clip_with_checksums_matching_the_files(tiny_dataset):
    m = _manifest(tiny_dataset)
    assert m["schema_version"] == 2 and m["emotions"] == list(SMALL_EMOTIONS)
    assert m["config"]["kind"] == "appearance" and m["config"]["image_size"] == [SIZE, SIZE]
    assert m["generator"]["reenactor"] == {"name": "tiny", "config": TinyReenactor().config()}
    assert m["generator"]["tracker"] == {"name": "pass-through", "config": {"noise_std": 0.0, "seed": 3}}
    assert [e["id"] for e in m["identities"]] == ["id0", "id1", "id2"]
    assert [(e["id"], e["num_frames"]) for e in m["anchors"]] == [("anchor0", 6), ("anchor1", 7)]
    keys = [c["key"] for c in m["clips"]]
    assert len(keys) == len(set(keys)) == 3 * 2 * 3
    def sealed(path: Path, record: dict) -> bool:
        data = path.read_bytes()
        return hashlib.sha256(data).hexdigest() == record["sha256"] and len(data) == record["bytes"]

    for group in ("identities", "anchors"):
        for entry in m[group]:
            assert all(sealed(tiny_dataset / entry["dir"] / name, r) for name, r in entry["files"].items())
    for clip in m["clips"]:  # the manifest seals clip.json, clip.json seals the clip's other files
        d = tiny_dataset / clip["dir"]
        assert "files" not in clip and sealed(d / "clip.json", clip["clip_json"])
        files = json.loads((d / "clip.json").read_text())["files"]
        assert all(sealed(d / name, r) for name, r in files.items())
        assert clip["num_files"] == len(files) + 1 == len([p for p in d.rglob("*") if p.is_file()])
        assert clip["bytes"] == sum(p.stat().st_size for p in d.rglob("*") if p.is_file())
    clip = next(c for c in m["clips"] if c["key"] == "id2/anchor1/sad")
    names = set(json.loads((tiny_dataset / clip["dir"] / "clip.json").read_text())["files"]) | {"clip.json"}
    pngs = {f"frames/{t:05d}_{v:02d}.png" for t in range(7) for v in range(VIEWS)}
    assert names == {"clip.json", "flame.safetensors", "flame_gt.safetensors", "transforms.json"} | pngs
    assert (clip["num_frames"], clip["num_views"], clip["emotion_id"], clip["fps"]) == (7, VIEWS, 2, 5.0)
    assert (tiny_dataset / "shards/shard-0-of-1.json").is_file() and (tiny_dataset / "build.json").is_file()


def test_clip_contents_are_the_reenactor_frames_and_the_tracked_flame(tiny_dataset):
    d = tiny_dataset / "clips/id2/anchor1/sad"
    for t in range(7):
        for v in range(VIEWS):
            assert decode(read_png(d / f"frames/{t:05d}_{v:02d}.png")) == (2, 2, t)
    tracked = load_tensors(d / "flame.safetensors", "t")
    expected = make_flame(7, 2, 1)
    assert all(torch.equal(tracked[k], expected[k]) for k in expected)
    assert torch.equal(tracked["betas"], make_identity("id2", 2).betas)
    gt = load_tensors(tiny_dataset / "anchors/anchor1/sad.safetensors", "t")
    assert all(torch.equal(gt[k], expected[k]) for k in expected)
    record = json.loads((d / "clip.json").read_text())
    assert record["timestamps"] == pytest.approx([t / 5.0 for t in range(7)])
    transforms = json.loads((d / "transforms.json").read_text())
    assert len(transforms["frames"]) == 7 * VIEWS and transforms["w"] == SIZE


def test_rebuilding_a_complete_dataset_skips_every_clip_and_changes_no_byte(tiny_copy, digest):
    before = digest(tiny_copy)
    summary = build_tiny(tiny_copy)
    assert (summary.clips_written, summary.clips_skipped, summary.clips_total) == (0, 18, 18)
    assert digest(tiny_copy) == before


def test_summary_counts_clips_and_bytes(tmp_path):
    summary = build_tiny(tmp_path / "ds", num_identities=1, num_anchors=1)
    assert (summary.clips_written, summary.clips_skipped, summary.clips_total) == (3, 0, 3)
    on_disk = sum(p.stat().st_size for p in (tmp_path / "ds").rglob("*")
                  if p.is_file() and p.parts[-3:-1] != ("ds", "shards") and p.name not in ("manifest.json", "build.json"))
    assert summary.bytes_written == on_disk
    assert summary.seconds > 0 and summary.manifest_path == tmp_path / "ds/manifest.json"


def test_anchors_are_resampled_to_the_config_fps_and_cut_to_max_frames(tmp_path):
    anchor = make_anchor("long", num_frames=40, fps=10.0, emotions=SMALL_EMOTIONS)
    build_dataset([anchor], [make_identity("id0", 0)], TinyReenactor(), PassThroughTracker(), tmp_path,
                  config=tiny_config(max_frames=16), emotions=SMALL_EMOTIONS, progress=False)
    (clip,) = [c for c in _manifest(tmp_path)["clips"] if c["emotion"] == "happy"]
    assert clip["num_frames"] == 16 and clip["fps"] == 5.0
    record = json.loads((tmp_path / clip["dir"] / "clip.json").read_text())
    assert record["timestamps"] == pytest.approx([0.2 * k for k in range(16)])
    tracked = load_tensors(tmp_path / clip["dir"] / "flame.safetensors", "t")
    assert tracked["expr"][:, 1].tolist() == [2.0 * k for k in range(16)]  # every other source frame
    assert decode(read_png(tmp_path / clip["dir"] / "frames/00003_00.png")) == (0, 1, 6)


def _bad_inputs():
    anchors, identities = tiny_world()
    missing = make_anchor("anchor9", emotions=("neutral", "happy"))
    extra = make_anchor("anchor9", emotions=(*SMALL_EMOTIONS, "angry"))
    unequal = make_anchor("anchor9", emotions=SMALL_EMOTIONS)
    unequal.emotions["sad"] = make_flame(5, 2, 0)
    unsafe = make_identity("id9", 9)
    unsafe.identity_id = "../id9"
    stranger = make_identity("id9", 9, reference_emotion="angry")
    tracker = PassThroughTracker()
    return [
        ("missing ['sad']", dict(anchors=[*anchors, missing])),
        ("not in the vocabulary ['angry']", dict(anchors=[*anchors, extra])),
        ("unequal frame counts", dict(anchors=[*anchors, unequal])),
        ("duplicate anchor ids: ['anchor0']", dict(anchors=[*anchors, anchors[0]])),
        ("duplicate identity ids: ['id1']", dict(identities=[*identities, identities[1]])),
        ("identity id '../id9' is not a safe file name", dict(identities=[*identities, unsafe])),
        ("reference_emotion 'angry' is not in the vocabulary", dict(identities=[*identities, stranger])),
        ("0 <= i < n", dict(shard=(2, 2))),
        ("0 <= i < n", dict(shard=(0, 0))),
        ("0 <= i < n", dict(shard=(-1, 2))),
        ("emotion name 'very happy' is not a safe file name", dict(emotions=("neutral", "very happy"))),
        ("does not follow the Reenactor protocol", dict(reenactor=object())),
        ("does not follow the Tracker protocol", dict(tracker=lambda clip, key: clip.flame)),
        ("anchors is empty", dict(anchors=[])),
        ("identities is empty", dict(identities=[])),
        ("config must be a DatasetConfig", dict(tracker=tracker, config="appearance")),
    ]


@pytest.mark.parametrize("message, change", _bad_inputs(), ids=lambda v: v if isinstance(v, str) else "")
def test_bad_inputs_are_refused_before_any_file_is_written(tmp_path, message, change):
    anchors, identities = tiny_world()
    kwargs = dict(anchors=anchors, identities=identities, reenactor=TinyReenactor(), tracker=PassThroughTracker(),
                  out_dir=tmp_path / "out", config=tiny_config(), emotions=SMALL_EMOTIONS, progress=False)
    kwargs.update(change)
    if change.get("emotions"):
        kwargs["anchors"] = [make_anchor("a", emotions=change["emotions"])]
    with pytest.raises(DataError, match=message.replace("[", r"\[").replace("]", r"\]").replace("(", r"\(")):
        build_dataset(**kwargs)
    assert not (tmp_path / "out").exists()


def test_a_folder_built_with_other_settings_is_refused_and_left_alone(tiny_copy, digest):
    before = digest(tiny_copy)
    anchors, identities = tiny_world()
    with pytest.raises(DataError, match="built with a different config, generator"):
        build_dataset(anchors, identities, TinyReenactor(), PassThroughTracker(noise_std=0.1), tiny_copy,
                      config=tiny_config(fps=10.0), emotions=SMALL_EMOTIONS, progress=False)
    assert digest(tiny_copy) == before


class BrokenReenactor(TinyReenactor):
    """Breaks one clip (identity id1, anchor anchor1, emotion sad) in a chosen way."""

    def __init__(self, how: str):
        super().__init__()
        self.how = how

    def reenact(self, identity, anchor, emotion):
        clip = super().reenact(identity, anchor, emotion)
        if (identity.identity_id, anchor.anchor_id, emotion) != ("id1", "anchor1", "sad"):
            return clip
        if self.how == "dtype":
            clip.frames = clip.frames.astype(np.float32)
        elif self.how == "size":
            clip.frames = clip.frames[:, :, :32, :32]
        elif self.how == "frames":
            clip.frames = torch.from_numpy(clip.frames[:-1])
        elif self.how == "timing":
            clip.timestamps = clip.timestamps + 0.01
        elif self.how == "flame":
            clip.flame["expr"] = clip.flame["expr"][:-1]
        elif self.how == "type":
            return {"frames": clip.frames}
        return clip


@pytest.mark.parametrize(
    "how, error, message",
    [
        ("dtype", ShapeError, "frames of dtype float32, expected uint8"),
        ("size", ShapeError, r"frames of shape \[7, 2, 32, 32, 3\], expected \[T, V, H, W, 3\] = \[7, 2, 64, 64, 3\]"),
        ("frames", ShapeError, r"frames of shape \[6, 2, 64, 64, 3\]"),
        ("timing", DataError, "timestamps that differ from the anchor's"),
        ("flame", ShapeError, "ground-truth FLAME"),
        ("type", DataError, "returned dict, expected a ReenactedClip"),
    ],
)
def test_bad_reenactor_output_is_named_with_its_clip_and_corrupts_nothing(tmp_path, how, error, message, digest,
                                                                          tiny_dataset):
    anchors, identities = tiny_world()
    args = (anchors, identities)
    kwargs = dict(config=tiny_config(), emotions=SMALL_EMOTIONS, progress=False)
    with pytest.raises(error, match=message) as info:
        build_dataset(*args, BrokenReenactor(how), PassThroughTracker(noise_std=0.0, seed=3), tmp_path, **kwargs)
    assert "clip id1/anchor1/sad: reenactor 'tiny'" in str(info.value)
    assert not (tmp_path / "manifest.json").exists() and not (tmp_path / "clips/id1/anchor1/sad").exists()
    assert not list(tmp_path.rglob(".tmp-*"))
    # Fixed, the build finishes exactly as if nothing had happened.
    build_dataset(*args, TinyReenactor(), PassThroughTracker(noise_std=0.0, seed=3), tmp_path, **kwargs)
    assert digest(tmp_path) == digest(tiny_dataset)


def test_bad_tracker_output_is_named_with_its_clip(tmp_path):
    class ShortTracker(PassThroughTracker):
        name = "short"

        def track(self, clip, key):
            out = super().track(clip, key)
            return {k: (v if k == "betas" else v[:2]) for k, v in out.items()}

    anchors, identities = tiny_world(num_identities=1, num_anchors=1)
    with pytest.raises(ShapeError, match="clip id0/anchor0/neutral: tracker 'short' output"):
        build_dataset(anchors, identities, TinyReenactor(), ShortTracker(), tmp_path, config=tiny_config(),
                      emotions=SMALL_EMOTIONS, progress=False)


@pytest.mark.parametrize("crash_at", [1, 9, 15, 30, 61, 125])
def test_a_crash_in_the_middle_of_writing_a_clip_resumes_to_the_same_bytes(tmp_path, monkeypatch, crash_at, digest,
                                                                         tiny_dataset):
    """Crash on the crash_at-th file write inside a clip (frames, FLAME, transforms or clip.json), restart."""
    real = writers.write_durable
    calls = {"n": 0}

    def flaky(path, data):
        calls["n"] += 1
        if calls["n"] == crash_at:
            Path(path).write_bytes(data[: len(data) // 2])  # half a file, as a kill would leave it
            raise KeyboardInterrupt("simulated crash")
        real(path, data)

    monkeypatch.setattr(writers, "write_durable", flaky)
    monkeypatch.setattr(writers.shutil, "rmtree", lambda *a, **k: None)  # a killed process cleans up nothing
    with pytest.raises(KeyboardInterrupt):
        build_tiny(tmp_path)
    monkeypatch.undo()
    assert list(tmp_path.rglob(".tmp-*")), "the crash should leave a temporary clip directory behind"
    summary = build_tiny(tmp_path)
    assert summary.clips_skipped == _clips_complete_before_write(crash_at)
    assert digest(tmp_path) == digest(tiny_dataset)
    assert verify(tmp_path).ok


def _clips_complete_before_write(n: int) -> int:
    """Clips of the tiny build whose last file write comes before write number n (1-based)."""
    writes_per_clip = [frames * VIEWS + 4 for _ in range(3) for frames in (6, 7) for _ in range(3)]  # PNGs, 2 FLAME, transforms, clip.json
    done, total = 0, 0
    for writes in writes_per_clip:
        total += writes
        if total >= n:
            break
        done += 1
    return done


def test_progress_bar_shows_written_and_skipped_clips(tmp_path, capsys):
    build_tiny(tmp_path, num_identities=1, num_anchors=1, progress=True)
    err = capsys.readouterr().err
    assert "3/3" in err and "written=3" in err and "skipped=0" in err
    build_tiny(tmp_path, num_identities=1, num_anchors=1, progress=True)
    assert "skipped=3" in capsys.readouterr().err
    build_tiny(tmp_path, num_identities=1, num_anchors=1, progress=False)
    assert capsys.readouterr().err == ""


def test_mp4_clips_are_deterministic_and_read_back_approximately(tmp_path, digest):
    for name in ("a", "b"):
        build_tiny(tmp_path / name, frame_format="mp4", num_identities=2, num_anchors=1)
    assert digest(tmp_path / "a") == digest(tmp_path / "b")
    m = _manifest(tmp_path / "a")
    clip = next(c for c in m["clips"] if c["key"] == "id1/anchor0/happy")
    files = json.loads((tmp_path / "a" / clip["dir"] / "clip.json").read_text())["files"]
    assert {name for name in files if name.startswith("frames/")} == {"frames/view_00.mp4", "frames/view_01.mp4"}
    video = read_mp4(tmp_path / "a" / clip["dir"] / "frames/view_01.mp4")
    assert video.shape == (6, SIZE, SIZE, 3)
    assert [decode(f) for f in video] == [(1, 1, t) for t in range(6)]
    assert [decode(f) for f in read_mp4(tmp_path / "a" / clip["dir"] / "frames/view_00.mp4", [4, 1])] == [
        (1, 1, 4), (1, 1, 1)]
    assert verify(tmp_path / "a").ok


def test_geometry_preset_builds_long_mp4_clips_at_30_fps(tmp_path):
    anchor = make_anchor("talk", num_frames=50, fps=25.0, emotions=SMALL_EMOTIONS, num_views=1)
    config = DatasetConfig.geometry(image_size=SIZE)
    build_dataset([anchor], [make_identity("id0", 0)], TinyReenactor(), PassThroughTracker(), tmp_path,
                  config=config, emotions=SMALL_EMOTIONS, progress=False)
    clips = _manifest(tmp_path)["clips"]
    assert {(c["num_frames"], c["fps"], c["frame_format"]) for c in clips} == {(59, 30.0, "mp4")}
    assert verify(tmp_path).ok


def test_vocabulary_object_and_reenacted_clip_with_torch_frames(tmp_path):
    class TorchFrames(TinyReenactor):
        def reenact(self, identity, anchor, emotion):
            clip = super().reenact(identity, anchor, emotion)
            return ReenactedClip(torch.from_numpy(clip.frames), make_rig(VIEWS), clip.timestamps.float(), None)

    anchors, identities = tiny_world(num_identities=1, num_anchors=1)
    build_dataset(anchors, identities, TorchFrames(), _GroundTruthFree(), tmp_path, config=tiny_config(),
                  emotions=Vocabulary(SMALL_EMOTIONS), progress=False)
    clip = _manifest(tmp_path)["clips"][0]
    assert clip["has_ground_truth"] is False and not (tmp_path / clip["dir"] / "flame_gt.safetensors").exists()
    assert verify(tmp_path).ok


class _GroundTruthFree:
    """A tracker that does not need ground truth (reads the emotion from the frame colours)."""

    name = "colour"

    def config(self):
        return {}

    def track(self, clip, key):
        frames = np.asarray(clip.frames)
        emotion = decode(frames[0, 0])[1]
        return make_flame(frames.shape[0], emotion, 0)
