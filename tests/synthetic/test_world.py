"""End to end: a tiny synthetic dataset through emoctl.data (build, verify, load), and the
geometry configuration's FLAME-only sequences."""

import json

import numpy as np
import pytest
import torch

from emoctl.data import DatasetConfig, SyncedEmotionDataset, load_manifest, verify
from emoctl.emotions import EMOTIONS
from emoctl.errors import DataError
from emoctl.synthetic import SyntheticWorld, anchor_frames_for, build_synthetic_dataset, geometry_sequences


@pytest.fixture(scope="module")
def tiny(tmp_path_factory):
    """2 identities x 1 anchor x 7 emotions x 4 frames at 64 x 64, 2 views, coarse head."""
    root = tmp_path_factory.mktemp("synthetic") / "tiny"
    summary = build_synthetic_dataset(
        root, identities=2, anchors=1, frames=4, image_size=64, views=2, subdivide=0, progress=False, seed=3
    )
    return root, summary


def test_tiny_build_verifies(tiny):
    root, summary = tiny
    assert summary.clips_written == 14 and summary.clips_total == 14 and summary.manifest_path is not None
    report = verify(root)
    assert report.ok, report.summary()
    manifest = load_manifest(root)
    assert manifest["emotions"] == list(EMOTIONS)
    assert len(manifest["clips"]) == 14 and all(c["has_ground_truth"] for c in manifest["clips"])
    assert {c["num_frames"] for c in manifest["clips"]} == {4} and {c["num_views"] for c in manifest["clips"]} == {2}
    assert len({c["timestamps_sha256"] for c in manifest["clips"]}) == 1  # one anchor: identical timing everywhere
    generator = manifest["generator"]["reenactor"]
    assert generator["name"] == "emoctl-synthetic" and generator["config"]["subdivide"] == 0
    identity = json.loads((root / "identities" / "id-00000" / "identity.json").read_text())
    assert identity["traits"]["kind"] == "emoctl-synthetic-identity" and identity["reference_emotion"] in EMOTIONS


def test_tiny_build_loads_as_training_pairs(tiny):
    root, _ = tiny
    data = SyncedEmotionDataset(root, mode="cross_emotion", frames_per_sample=3, split="all")
    assert len(data) == 14
    item = data[5]
    assert item["target_frames"].shape == (3, 2, 3, 64, 64)
    assert item["reference_image"].shape == (3, 64, 64)
    assert item["source_emotion"] != item["target_emotion"]
    assert item["target"]["expr"].shape == (3, 100) and item["driving"]["expr"].shape == (3, 100)
    torch.testing.assert_close(item["target"]["betas"], item["driving"]["betas"])  # same identity
    # synchronised: source and target share frame indices, and differ only by the emotion
    assert not torch.equal(item["target"]["expr"], item["driving"]["expr"])
    torch.testing.assert_close(item["target"]["rotation"], item["driving"]["rotation"])
    frames = item["target_frames"]
    assert 0.0 <= float(frames.min()) and float(frames.max()) <= 1.0 and float(frames.std()) > 0.05


def test_build_is_deterministic_and_resumable(tiny, tmp_path):
    root, _ = tiny
    again = tmp_path / "again"
    build_synthetic_dataset(again, identities=2, anchors=1, frames=4, image_size=64, views=2, subdivide=0,
                            progress=False, seed=3)
    first, second = load_manifest(root), load_manifest(again)
    assert [c["clip_json"] for c in first["clips"]] == [c["clip_json"] for c in second["clips"]]  # same bytes
    # resuming a complete build writes nothing
    summary = build_synthetic_dataset(again, identities=2, anchors=1, frames=4, image_size=64, views=2, subdivide=0,
                                      progress=False, seed=3)
    assert summary.clips_written == 0 and summary.clips_skipped == 14


def test_geometry_configuration_build(tmp_path):
    """The other preset: 30 fps, whole (short) anchors, MP4 frames, with tracker noise."""
    root = tmp_path / "geo"
    summary = build_synthetic_dataset(root, identities=1, anchors=1, frames=6, image_size=32, views=1,
                                      config="geometry", subdivide=0, progress=False, tracker_noise=0.01)
    assert summary.clips_written == 7
    report = verify(root)
    assert report.ok, report.summary()
    manifest = load_manifest(root)
    assert manifest["config"]["frame_format"] == "mp4" and manifest["config"]["fps"] == 30.0
    assert {c["num_frames"] for c in manifest["clips"]} == {6}
    assert manifest["generator"]["tracker"]["config"]["noise_std"] == 0.01


def test_anchor_length_for_dataset_fps():
    for frames, fps in ((16, 5.0), (4, 5.0), (1, 5.0), (30, 30.0), (7, 12.5)):
        n = anchor_frames_for(frames, fps)
        times = np.arange(n) / 30.0
        assert int(np.floor(times[-1] * fps + 1e-6)) + 1 >= frames  # enough after resampling
        assert n == 1 or int(np.floor(times[-2] * fps + 1e-6)) + 1 < frames  # and not longer than needed


def test_config_presets_and_overrides(tmp_path):
    with pytest.raises(DataError):
        build_synthetic_dataset(tmp_path / "x", identities=1, anchors=1, config="bogus", progress=False)
    with pytest.raises(DataError):
        build_synthetic_dataset(tmp_path / "x", identities=0, anchors=1, progress=False)
    assert not (tmp_path / "x").exists()  # refused before writing anything


def test_geometry_sequences_match_the_world():
    geo = geometry_sequences(identities=3, anchors=2, duration_s=2.0, seed=3)
    assert len(geo) == 3 * 2 * 7 and geo.fps == 30.0
    items = list(geo)
    assert len(items) == len(geo)
    ident, anchor, emotion, seq = items[0]
    assert (ident, anchor, emotion) == ("id-00000", "anchor-000", "neutral")
    assert seq["expr"].shape == (60, 100) and seq["betas"].shape == (300,)
    # the same identities and anchors as a rendered build with the same seed
    world = SyntheticWorld(3, subdivide=0)
    assert torch.equal(geo.betas["id-00001"], world.identities(2, image_size=32)[1].betas)
    anchor0 = world.anchors(1, duration_s=2.0, views=1, image_size=32)[0]
    for e in EMOTIONS:
        assert torch.equal(geo.anchors["anchor-000"][e]["expr"], anchor0.emotions[e]["expr"])
    assert torch.equal(geo.timestamps["anchor-000"], anchor0.timestamps)
    # with tracker-like noise: deterministic per clip, different between clips
    noisy = geometry_sequences(identities=1, anchors=1, duration_s=1.0, seed=3, noise_std=0.01)
    a, b = list(noisy), list(noisy)
    assert torch.equal(a[1][3]["expr"], b[1][3]["expr"])
    clean = list(geometry_sequences(identities=1, anchors=1, duration_s=1.0, seed=3))
    delta = a[1][3]["expr"] - clean[1][3]["expr"]
    assert 0.005 < float(delta.std()) < 0.02 and not torch.equal(delta, a[2][3]["expr"] - clean[2][3]["expr"])


def test_world_configuration():
    world = SyntheticWorld(1, subdivide=0)
    assert world.reenactor(32).config()["image_size"] == [32, 32]
    assert [i.identity_id for i in world.identities(2, image_size=32, start=5)] == ["id-00005", "id-00006"]
    with pytest.raises(DataError):
        SyntheticWorld(-1)
    assert DatasetConfig.appearance().fps == 5.0  # the preset build_synthetic_dataset starts from
