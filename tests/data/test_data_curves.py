"""Curve clips in emoctl.data: anchors carrying emotion curves, the builder writing them (opt-in),
verify checking them, and SyncedEmotionDataset returning per-frame target weights for every item."""

from __future__ import annotations

import json
import shutil

import pytest
import torch
from torch.utils.data import DataLoader

from emoctl.data import (
    AnchorClip,
    AnchorCurve,
    DatasetConfig,
    PassThroughTracker,
    SyncedEmotionDataset,
    build_dataset,
    load_manifest,
    merge_shards,
    verify,
)
from emoctl.errors import DataError, NonFiniteError, ShapeError
from conftest import tree_digest
from damage import edit_manifest, reseal_clip, reseal_file
from synced_tiny import SMALL_EMOTIONS, TinyReenactor, decode, make_flame, tiny_config, tiny_world

K = len(SMALL_EMOTIONS)
CURVE_ID = 5  # the tiny reenactor's colour code of curve clip j is 5 + j


def rising(num_frames: int, start: int) -> torch.Tensor:
    """``[T, 3]``: neutral until frame ``start``, then happy over two frames."""
    s = ((torch.arange(num_frames, dtype=torch.float32) - start) / 2).clamp(0, 1)
    return torch.stack([1 - s, s, torch.zeros(num_frames)], dim=1)


def with_curves(anchors: list[AnchorClip], count: int) -> list[AnchorClip]:
    return [
        AnchorClip(a.anchor_id, a.fps, a.emotions, a.timestamps, a.cameras, a.meta,
                   curves={f"curve-{j}": AnchorCurve(rising(a.num_frames, 1 + j), make_flame(a.num_frames, CURVE_ID + j, i))
                           for j in range(count)})
        for i, a in enumerate(anchors)
    ]


class CurveReenactor(TinyReenactor):
    """The tiny reenactor, also for curve clips (their FLAME's colour code is 5 + j)."""

    def reenact(self, identity, anchor, emotion):
        if emotion in anchor.curves:
            anchor = AnchorClip(anchor.anchor_id, anchor.fps, {emotion: anchor.curves[emotion].flame}, anchor.timestamps,
                                anchor.cameras)
        return super().reenact(identity, anchor, emotion)


def build_curves(root, *, curves: int = 1, curve_clips: int | None = None, shard=(0, 1), **world):
    anchors, identities = tiny_world(**world)
    config = tiny_config(curve_clips=curves if curve_clips is None else curve_clips)
    return build_dataset(with_curves(anchors, curves), identities, CurveReenactor(), PassThroughTracker(0.0, seed=3),
                         root, shard=shard, config=config, emotions=SMALL_EMOTIONS, progress=False)


@pytest.fixture(scope="module")
def curve_dataset(tmp_path_factory):
    """2 identities x 2 anchors (6 and 7 frames) x (3 emotions + 2 curve clips). Do not modify it."""
    root = tmp_path_factory.mktemp("curves") / "ds"
    build_curves(root, curves=2, num_identities=2)
    return root


@pytest.fixture
def curve_copy(curve_dataset, tmp_path):
    root = tmp_path / "copy"
    shutil.copytree(curve_dataset, root)
    return root


def test_curve_clips_build_and_verify(curve_dataset):
    report = verify(curve_dataset)
    assert report.ok, report.summary()
    manifest = load_manifest(curve_dataset)
    assert manifest["config"]["curve_clips"] == 2 and len(manifest["clips"]) == 2 * 2 * 5
    curve = [c for c in manifest["clips"] if c["emotion_id"] == -1]
    assert [c["key"] for c in curve[:2]] == ["id0/anchor0/curve-0", "id0/anchor0/curve-1"] and len(curve) == 8
    shard = json.loads((curve_dataset / "shards" / "shard-0-of-1.json").read_text())
    assert shard["jobs"]["curves"] == ["curve-0", "curve-1"]
    anchor = json.loads((curve_dataset / "anchors" / "anchor1" / "anchor.json").read_text())
    assert anchor["curves"]["curve-1"]["flame"] == "curve-1.safetensors"
    assert torch.equal(torch.tensor(anchor["curves"]["curve-1"]["emotion_curve"]), rising(7, 2))
    clip = json.loads((curve_dataset / "clips" / "id1" / "anchor1" / "curve-1" / "clip.json").read_text())
    assert clip["emotion"] == "curve-1" and clip["emotion_id"] == -1
    assert torch.equal(torch.tensor(clip["emotion_curve"]), rising(7, 2))
    plain = json.loads((curve_dataset / "clips" / "id1" / "anchor1" / "happy" / "clip.json").read_text())
    assert "emotion_curve" not in plain


def test_without_curve_clips_the_bytes_are_unchanged(tiny_dataset, tmp_path):
    """Anchors that carry curves, built with curve_clips=0, give exactly the dataset without them."""
    build_curves(tmp_path / "ds", curves=2, curve_clips=0)
    assert tree_digest(tmp_path / "ds") == tree_digest(tiny_dataset)
    assert "curve_clips" not in load_manifest(tiny_dataset)["config"]


def test_resumed_and_sharded_builds_agree(curve_dataset, tmp_path):
    for i in range(2):
        build_curves(tmp_path / "sharded", curves=2, shard=(i, 2), num_identities=2)
    merge_shards(tmp_path / "sharded")
    assert load_manifest(tmp_path / "sharded") == load_manifest(curve_dataset)
    summary = build_curves(tmp_path / "sharded", curves=2, num_identities=2)
    assert summary.clips_written == 0 and summary.clips_skipped == 20


def test_dataset_returns_per_frame_target_weights(curve_dataset):
    data = SyncedEmotionDataset(curve_dataset, mode="self", frames_per_sample=5, split="all")
    assert len(data) == 20
    seen = 0
    for index in range(len(data)):
        plan, item = data.sample_plan(index), data[index]
        window = item["frame_indices"]
        assert item["target_weights"].shape == item["source_weights"].shape == (5, K)
        if plan["target_emotion"] == -1:
            seen += 1
            j = int(plan["target_clip"][-1])
            anchor_frames = 6 if item["anchor"] == "anchor0" else 7
            assert torch.equal(item["target_weights"], rising(anchor_frames, 1 + j)[window])
            assert decode(item["target_frames"][0, 0].numpy())[1] == CURVE_ID + j  # the curve clip's own frames
            assert item["source_emotion"] == -1 and torch.equal(item["source_weights"], item["target_weights"])
        else:
            assert torch.equal(item["target_weights"], torch.eye(K)[plan["target_emotion"]].expand(5, K))
    assert seen == 8


def test_cross_emotion_curve_targets_are_driven_by_constant_clips(curve_dataset):
    data = SyncedEmotionDataset(curve_dataset, mode="cross_emotion", frames_per_sample=3, split="all")
    sources = set()
    for index in range(len(data)):
        plan = data.sample_plan(index)
        if plan["target_emotion"] == -1:
            assert 0 <= plan["source_emotion"] < K and plan["source_clip"] == SMALL_EMOTIONS[plan["source_emotion"]]
            sources.add(plan["source_emotion"])
    assert len(sources) > 1
    batch = next(iter(DataLoader(data, batch_size=len(data), num_workers=0)))  # curve and constant items collate
    assert batch["target_weights"].shape == (20, 3, K) and batch["source_weights"].shape == (20, 3, K)
    assert int((batch["target_emotion"] == -1).sum()) == 8
    torch.testing.assert_close(batch["target_weights"].sum(-1), torch.ones(20, 3))


def test_dataset_can_leave_the_curve_clips_out(curve_dataset):
    data = SyncedEmotionDataset(curve_dataset, mode="self", frames_per_sample=3, split="all", curves=False)
    assert len(data) == 12 and all(data.sample_plan(i)["target_emotion"] >= 0 for i in range(len(data)))


def _set_row(frame: int, row: list[float]):
    def change(record):
        record["emotion_curve"][frame] = row

    return change


@pytest.mark.parametrize("change, message", [
    (_set_row(2, [1.5, -0.5, 0.0]), "emotion weights must be >= 0; frame 2 has -0.5"),
    (_set_row(3, [0.5, 0.0, 0.0]), "frame 3 sums to 0.5"),
    (lambda r: r["emotion_curve"].pop(), "expected emotion weights of shape [6, 3], got [5, 3]"),
    (lambda r: r.pop("emotion_curve"), "has no emotion_curve"),
    (_set_row(0, [0.0, 0.0, 1.0]), "its emotion_curve differs from anchor anchor0's curve 'curve-0' (first at frame 0)"),
])
def test_verify_catches_a_damaged_curve(curve_copy, change, message):
    reseal_clip(curve_copy, "id1/anchor0/curve-0", change)
    problems = verify(curve_copy).problems
    assert len(problems) == 1 and message in problems[0] and "id1/anchor0/curve-0" in problems[0], problems
    if "differs" not in message:  # the dataset's reader refuses it too, naming the clip
        data = SyncedEmotionDataset(curve_copy, mode="self", frames_per_sample=3, split="all")
        index = next(i for i in range(len(data)) if data.sample_plan(i)["identity"] == "id1"
                     and data.sample_plan(i)["anchor"] == "anchor0" and data.sample_plan(i)["target_clip"] == "curve-0")
        with pytest.raises(DataError, match="clip id1/anchor0/curve-0"):
            data[index]


def test_verify_catches_damaged_anchor_curves_and_missing_curve_clips(curve_copy):
    path = curve_copy / "anchors" / "anchor1" / "anchor.json"
    record = json.loads(path.read_text())
    record["curves"]["curve-0"]["emotion_curve"][1] = [0.2, 0.2, 0.2]
    path.write_text(json.dumps(record, sort_keys=True))
    reseal_file(curve_copy, "anchors", "anchor1", "anchor.json")
    shutil.rmtree(curve_copy / "clips" / "id1" / "anchor0" / "curve-1")
    edit_manifest(curve_copy, lambda m: m.update(clips=[c for c in m["clips"] if c["key"] != "id1/anchor0/curve-1"]))
    problems = verify(curve_copy).problems
    assert problems == [
        "anchor anchor1: anchors/anchor1/anchor.json curves.curve-0.emotion_curve: "
        "the emotion weights of every frame must sum to one (neutral included); frame 1 sums to 0.6",
        "not synchronised: identity id1, anchor anchor0: no clip in emotion(s) ['curve-1']",
    ]


def test_manifest_checks_curve_clip_entries(curve_copy):
    def relabel(manifest):
        next(c for c in manifest["clips"] if c["emotion"] == "curve-0")["emotion_id"] = 1

    edit_manifest(curve_copy, relabel)
    with pytest.raises(DataError, match="curve clip 'curve-0' has emotion_id 1, expected -1"):
        load_manifest(curve_copy)
    edit_manifest(curve_copy, lambda m: m["config"].update(curve_clips=1))  # curve-1 clips are now unexplained
    with pytest.raises(DataError, match="emotion 'curve-1' with id -1 does not match the vocabulary"):
        load_manifest(curve_copy)


def test_builder_refuses_anchors_without_the_curves(tmp_path):
    anchors, identities = tiny_world()
    with pytest.raises(DataError, match=r"has no emotion curve\(s\) \['curve-0'\]"):
        build_dataset(anchors, identities, CurveReenactor(), PassThroughTracker(), tmp_path / "x",
                      config=tiny_config(curve_clips=1), emotions=SMALL_EMOTIONS, progress=False)
    wide = [AnchorClip(a.anchor_id, a.fps, a.emotions, a.timestamps, a.cameras,
                       curves={"curve-0": AnchorCurve(torch.eye(4)[[0] * a.num_frames], make_flame(a.num_frames, 5, 0))})
            for a in anchors]
    with pytest.raises(DataError, match="weights 4 emotions, the vocabulary has 3"):
        build_dataset(wide, identities, CurveReenactor(), PassThroughTracker(), tmp_path / "x",
                      config=tiny_config(curve_clips=1), emotions=SMALL_EMOTIONS, progress=False)
    with pytest.raises(DataError, match="named like curve clips"):
        build_dataset(with_curves(anchors, 1), identities, CurveReenactor(), PassThroughTracker(), tmp_path / "x",
                      config=tiny_config(curve_clips=1), emotions=("neutral", "curve-0"), progress=False)
    assert not (tmp_path / "x").exists()


def test_anchor_curves_are_checked_and_resampled_with_the_anchor():
    (anchor,) = with_curves(tiny_world(num_anchors=1, num_frames=12, fps=30.0)[0], 1)
    resampled = anchor.resample(10.0)
    index = torch.round(resampled.timestamps * 30).long()
    assert torch.equal(resampled.curves["curve-0"].weights, anchor.curves["curve-0"].weights[index])
    assert torch.equal(resampled.curves["curve-0"].flame["expr"], anchor.curves["curve-0"].flame["expr"][index])
    assert torch.equal(anchor.window(3, 4).curves["curve-0"].weights, anchor.curves["curve-0"].weights[3:7])
    flame = make_flame(12, 5, 0)
    with pytest.raises(DataError, match="curve 'curve-0' has 11 frames"):
        AnchorClip("a", 30.0, anchor.emotions, anchor.timestamps, anchor.cameras,
                   curves={"curve-0": AnchorCurve(rising(11, 2), make_flame(11, 5, 0))})
    with pytest.raises(DataError, match="the name of one of its emotions"):
        AnchorClip("a", 30.0, anchor.emotions, anchor.timestamps, anchor.cameras, curves={"happy": anchor.curves["curve-0"]})
    with pytest.raises(ShapeError, match=r"shape \[12, K\], got \[11, 3\]"):
        AnchorCurve(rising(11, 2), flame)
    with pytest.raises(NonFiniteError):
        AnchorCurve(torch.full((12, 3), float("nan")), flame)
    with pytest.raises(DataError, match="must be an AnchorCurve"):
        AnchorClip("a", 30.0, anchor.emotions, anchor.timestamps, anchor.cameras, curves={"c": rising(12, 2)})


def test_config_curve_clips():
    assert DatasetConfig.appearance().to_json() == {k: v for k, v in DatasetConfig.appearance(curve_clips=3).to_json().items()
                                                    if k != "curve_clips"}
    assert DatasetConfig.from_json(DatasetConfig.appearance(curve_clips=3).to_json()).curve_clips == 3
    for bad in (-1, 1.5, True):
        with pytest.raises(DataError, match="curve_clips"):
            DatasetConfig(curve_clips=bad)
