"""SyncedEmotionDataset: pair properties per mode, determinism, epochs, workers, splits, errors."""

from __future__ import annotations

import json
import shutil

import numpy as np
import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st
from torch.utils.data import DataLoader

from emoctl.data import SyncedEmotionDataset, assign_splits
from emoctl.data.splits import heldout_count
from emoctl.errors import DataError
from synced_tiny import SIZE, VIEWS, decode, make_identity, make_rig

FLAME_SHAPES = {"expr": 100, "jaw_pose": 3, "rotation": 3, "neck_pose": 3, "eyes_pose": 6, "translation": 3}


def _all(root, mode, **kw):
    return SyncedEmotionDataset(root, mode, frames_per_sample=3, split="all", seed=1, **kw)


def test_an_item_has_every_field_with_the_documented_shapes(tiny_dataset):
    ds = _all(tiny_dataset, "cross_emotion")
    assert len(ds) == 3 * 2 * 3
    item = ds[4]
    assert item["reference_image"].shape == (3, SIZE, SIZE) and item["reference_image"].dtype == torch.float32
    assert item["target_frames"].shape == (3, VIEWS, 3, SIZE, SIZE)
    assert 0.0 <= float(item["target_frames"].min()) and float(item["target_frames"].max()) <= 1.0
    for part in ("driving", "target"):
        assert {k: tuple(v.shape) for k, v in item[part].items()} == {
            **{k: (3, d) for k, d in FLAME_SHAPES.items()}, "betas": (300,)}
    rig = make_rig()
    assert torch.allclose(item["cameras"]["c2w"], rig.c2w) and torch.equal(item["cameras"]["K"], rig.K)
    assert (item["cameras"]["width"], item["cameras"]["height"]) == (SIZE, SIZE)
    assert item["frame_indices"].dtype == torch.int64 and item["timestamps"].dtype == torch.float64
    assert torch.allclose(item["timestamps"], item["frame_indices"].double() / 5.0)


@pytest.mark.parametrize("mode", ["self", "cross_emotion", "cross_identity"])
def test_driving_and_target_share_frame_indices_and_carry_their_emotions(tiny_dataset, mode):
    ds = _all(tiny_dataset, mode)
    for i in range(len(ds)):
        item = ds[i]
        idx = item["frame_indices"]
        assert torch.equal(idx, torch.arange(int(idx[0]), int(idx[0]) + 3))
        # expr[:, 0] is the clip's emotion and expr[:, 1] the anchor frame (the tiny world's code)
        assert item["driving"]["expr"][:, 0].tolist() == [item["source_emotion"]] * 3
        assert item["target"]["expr"][:, 0].tolist() == [item["target_emotion"]] * 3
        assert item["driving"]["expr"][:, 1].tolist() == idx.tolist() == item["target"]["expr"][:, 1].tolist()
        identity = int(item["identity"][2:])
        for t in range(3):
            for v in range(VIEWS):
                assert decode(item["target_frames"][t, v].numpy()) == (identity, item["target_emotion"], int(idx[t]))
        reference = torch.from_numpy(make_identity(item["identity"], identity).reference_image).permute(2, 0, 1) / 255
        assert torch.equal(item["reference_image"], reference)
        assert torch.equal(item["target"]["betas"], make_identity("x", identity).betas)
        driver = int(item["driving_identity"][2:])
        assert torch.equal(item["driving"]["betas"], make_identity("x", driver).betas)
        if mode == "self":
            assert item["source_emotion"] == item["target_emotion"] and driver == identity
        elif mode == "cross_emotion":
            assert item["source_emotion"] != item["target_emotion"] and driver == identity
        else:
            assert driver != identity and item["anchor"] in ("anchor0", "anchor1")


def test_targets_cover_every_identity_anchor_and_emotion_once(tiny_dataset):
    ds = _all(tiny_dataset, "self")
    seen = {(ds[i]["identity"], ds[i]["anchor"], ds[i]["target_emotion"]) for i in range(len(ds))}
    assert len(seen) == len(ds) == 18


def test_reference_emotion_is_an_id_or_minus_one(tiny_dataset):
    ds = _all(tiny_dataset, "self")
    by_identity = {ds[i]["identity"]: ds[i]["reference_emotion"] for i in range(len(ds))}
    assert by_identity == {"id0": -1, "id1": 1, "id2": -1}  # id1's reference image is "happy"


def _same(a, b) -> bool:
    if isinstance(a, dict):
        return a.keys() == b.keys() and all(_same(a[k], b[k]) for k in a)
    if isinstance(a, torch.Tensor):
        return a.dtype == b.dtype and torch.equal(a, b)
    return a == b


def test_items_are_a_pure_function_of_seed_epoch_and_index(tiny_dataset):
    a = _all(tiny_dataset, "cross_identity")
    b = _all(tiny_dataset, "cross_identity")
    order = [5, 0, 17, 5, 9]
    assert all(_same(a[i], b[i]) for i in order)
    plans = [a.sample_plan(i) for i in range(len(a))]
    a.set_epoch(1)
    moved = [a.sample_plan(i) for i in range(len(a))]
    assert moved != plans and all(m["target_emotion"] == p["target_emotion"] for m, p in zip(moved, plans))
    a.set_epoch(0)
    assert [a.sample_plan(i) for i in range(len(a))] == plans
    other = SyncedEmotionDataset(tiny_dataset, "cross_identity", 3, "all", seed=2)
    assert [other.sample_plan(i) for i in range(len(a))] != plans


def test_dataloader_workers_give_exactly_the_single_process_batches(tiny_dataset):
    ds = _all(tiny_dataset, "cross_emotion")
    ds.set_epoch(3)
    single = list(DataLoader(ds, batch_size=4, num_workers=0))
    workers = list(DataLoader(ds, batch_size=4, num_workers=2))
    assert len(single) == len(workers) == 5
    assert all(_same(x, y) for x, y in zip(single, workers))
    batch = single[0]
    assert batch["target_frames"].shape == (4, 3, VIEWS, 3, SIZE, SIZE) and batch["driving"]["expr"].shape == (4, 3, 100)
    assert isinstance(batch["identity"], list) and batch["target_emotion"].shape == (4,)


def test_train_split_never_contains_a_held_out_identity_or_anchor(tiny_dataset):
    kw = dict(heldout_identity_fraction=0.34, heldout_anchor_fraction=0.5, split_seed=5)
    sets = {}
    for split in ("train", "heldout", "heldout_identities", "heldout_anchors", "all"):
        ds = SyncedEmotionDataset(tiny_dataset, "self", 3, split, **kw)
        sets[split] = {(ds[i]["identity"], ds[i]["anchor"], ds[i]["target_emotion"]) for i in range(len(ds))}
    s = ds.splits
    assert len(s.heldout_identities) == 1 and len(s.heldout_anchors) == 1
    assert all(i not in s.heldout_identities and a not in s.heldout_anchors for i, a, _ in sets["train"])
    assert all(i in s.heldout_identities and a in s.heldout_anchors for i, a, _ in sets["heldout"])
    assert all(i in s.heldout_identities and a not in s.heldout_anchors for i, a, _ in sets["heldout_identities"])
    assert all(i not in s.heldout_identities and a in s.heldout_anchors for i, a, _ in sets["heldout_anchors"])
    parts = [sets[k] for k in ("train", "heldout", "heldout_identities", "heldout_anchors")]
    assert sum(len(p) for p in parts) == len(sets["all"]) == 18 and set().union(*parts) == sets["all"]


def test_cross_identity_drivers_come_from_the_same_split(tiny_dataset):
    ds = SyncedEmotionDataset(tiny_dataset, "cross_identity", 3, "train", heldout_identities=["id2"],
                              heldout_anchors=[])
    drivers = {ds.sample_plan(i)["driving_identity"] for i in range(len(ds))}
    assert drivers == {"id0", "id1"}


@settings(max_examples=60, deadline=None)
@given(
    n_ids=st.integers(1, 30),
    n_anchors=st.integers(1, 10),
    fi=st.floats(0, 0.95),
    fa=st.floats(0, 0.95),
    seed=st.integers(0, 2**31),
)
def test_split_assignment_is_a_deterministic_partition(n_ids, n_anchors, fi, fa, seed):
    ids = [f"id{k}" for k in range(n_ids)]
    anchors = [f"a{k}" for k in range(n_anchors)]
    s = assign_splits(ids, anchors, heldout_identity_fraction=fi, heldout_anchor_fraction=fa, split_seed=seed)
    again = assign_splits(ids[::-1], anchors[::-1], heldout_identity_fraction=fi, heldout_anchor_fraction=fa,
                          split_seed=seed)
    assert set(again.heldout_identities) == set(s.heldout_identities)  # independent of the listing order
    assert set(again.heldout_anchors) == set(s.heldout_anchors)
    assert set(s.train_identities).isdisjoint(s.heldout_identities) and set(s.train_anchors).isdisjoint(s.heldout_anchors)
    assert sorted(s.train_identities + s.heldout_identities) == sorted(ids)
    assert len(s.heldout_identities) == heldout_count(n_ids, fi) and len(s.heldout_anchors) == heldout_count(n_anchors, fa)
    assert s.train_identities and s.train_anchors  # training always keeps something


def test_heldout_count_rounds_keeps_one_each_side():
    assert [heldout_count(n, 0.1) for n in (1, 2, 5, 10, 14, 15, 100)] == [0, 1, 1, 1, 1, 2, 10]
    assert heldout_count(10, 0.0) == 0 and heldout_count(3, 0.9) == 2
    with pytest.raises(DataError, match=r"in \[0, 1\)"):
        heldout_count(10, 1.0)


def test_explicit_held_out_lists_are_used_and_checked(tiny_dataset):
    ds = SyncedEmotionDataset(tiny_dataset, "self", 3, "heldout", heldout_identities=["id0"], heldout_anchors=["anchor1"])
    assert {(ds[i]["identity"], ds[i]["anchor"]) for i in range(len(ds))} == {("id0", "anchor1")}
    with pytest.raises(DataError, match=r"held-out identity ids \['id9'\] are not in the dataset"):
        SyncedEmotionDataset(tiny_dataset, "self", 3, "train", heldout_identities=["id9"])


@pytest.mark.parametrize(
    "kwargs, message",
    [
        (dict(mode="mirror"), "unknown mode 'mirror'"),
        (dict(split="test"), "unknown split 'test'"),
        (dict(frames_per_sample=7, split="all"), "frames_per_sample=7 is longer than the clips of identity id0, anchor anchor0 "
                                    r"\(6 frames\)"),
        (dict(frames_per_sample=0), "frames_per_sample must be an int >= 1"),
        (dict(split="heldout", heldout_identity_fraction=0.0), "split 'heldout' of .* is empty"),
        (dict(mode="cross_identity", split="heldout_identities", heldout_identities=["id1"]),
         "needs at least 2 identities per anchor"),
    ],
)
def test_clear_errors(tiny_dataset, kwargs, message):
    args = dict(mode="self", frames_per_sample=3, split="train")
    args.update(kwargs)
    with pytest.raises(DataError, match=message):
        SyncedEmotionDataset(tiny_dataset, **args)


def test_index_out_of_range_raises_index_error(tiny_dataset):
    ds = _all(tiny_dataset, "self")
    with pytest.raises(IndexError):
        ds[len(ds)]
    assert ds[-1]["identity"] == ds[len(ds) - 1]["identity"]


def test_a_broken_manifest_is_refused(tiny_copy, tmp_path):
    manifest = json.loads((tiny_copy / "manifest.json").read_text())
    manifest["schema_version"] = 7
    (tiny_copy / "manifest.json").write_text(json.dumps(manifest))
    with pytest.raises(DataError, match="fails basic checks"):
        SyncedEmotionDataset(tiny_copy, "self", 3, "all")
    with pytest.raises(DataError, match="has no manifest.json"):
        SyncedEmotionDataset(tmp_path, "self", 3, "all")


def test_only_the_manifest_is_read_when_constructing(tiny_dataset, tmp_path):
    (tmp_path / "only").mkdir()
    shutil.copy(tiny_dataset / "manifest.json", tmp_path / "only")
    ds = SyncedEmotionDataset(tmp_path / "only", "cross_identity", 3, "all")
    assert len(ds) == 18 and ds.sample_plan(3)["driving_identity"] != ds.sample_plan(3)["identity"]
    with pytest.raises(DataError, match="does not exist"):
        ds[0]


def test_betas_come_from_the_tracker_else_the_identity_else_zeros(tmp_path):
    from emoctl.data import PassThroughTracker, build_dataset
    from synced_tiny import SMALL_EMOTIONS, TinyReenactor, make_anchor, tiny_config

    class NoBetasTracker(PassThroughTracker):
        def track(self, clip, key):
            out = super().track(clip, key)
            out.pop("betas", None)
            return out

    identities = [make_identity("id0", 0), make_identity("id1", 1, with_betas=False)]
    build_dataset([make_anchor("a0", emotions=SMALL_EMOTIONS)], identities, TinyReenactor(), NoBetasTracker(),
                  tmp_path, config=tiny_config(), emotions=SMALL_EMOTIONS, progress=False)
    ds = SyncedEmotionDataset(tmp_path, "cross_identity", 2, "all")
    for i in range(len(ds)):
        item = ds[i]
        for part, who in (("target", item["identity"]), ("driving", item["driving_identity"])):
            expected = make_identity("x", 0).betas if who == "id0" else torch.zeros(300)
            assert torch.equal(item[part]["betas"], expected)


def test_mp4_datasets_give_approximately_the_frames(tmp_path):
    from synced_tiny import build_tiny

    build_tiny(tmp_path, frame_format="mp4", num_identities=2, num_anchors=1)
    ds = SyncedEmotionDataset(tmp_path, "cross_emotion", 4, "all", seed=4)
    item = ds[3]
    identity = int(item["identity"][2:])
    codes = [decode(item["target_frames"][t, v].numpy()) for t in range(4) for v in range(VIEWS)]
    assert codes == [(identity, item["target_emotion"], int(t)) for t in item["frame_indices"] for _ in range(VIEWS)]
    png_like = np.round(item["target_frames"].numpy() * 255)
    assert png_like.std() > 0
