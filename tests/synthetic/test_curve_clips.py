"""Clips whose emotion follows a curve: anchors that carry them, the reenactor rendering them (geometry
and appearance per frame), and a tiny synthetic build with curve clips through emoctl.data."""

import json

import pytest
import torch

from emoctl.data import AnchorCurve, SyncedEmotionDataset, load_manifest, verify
from emoctl.emotions import EMOTIONS
from emoctl.errors import DataError
from emoctl.synthetic import SyntheticReenactor, build_synthetic_dataset, default_rig, make_anchor, make_identity
from emoctl.synthetic.anchors import anchor_articulation, anchor_curves, anchor_subject
from emoctl.synthetic.emotion_curves import EmotionCurve, Transition

SEED = 5


def test_anchor_curves_are_deterministic_and_synchronised():
    anchor = make_anchor("a", SEED, num_frames=20, curves=2)
    again = make_anchor("a", SEED, num_frames=20, curves=2)
    assert sorted(anchor.curves) == ["curve-0", "curve-1"]
    definitions = anchor_curves(SEED, 2, anchor.timestamps)
    assert anchor.meta["curves"] == {name: c.to_json() for name, c in definitions.items()}
    for name, curve in anchor.curves.items():
        assert curve.weights.shape == (20, len(EMOTIONS))
        assert torch.equal(curve.weights, definitions[name].weights(anchor.timestamps))
        assert torch.equal(curve.weights, again.curves[name].weights)
        for key, value in curve.flame.items():
            assert torch.equal(value, again.curves[name].flame[key]), key
        assert curve.flame["expr"].shape[0] == 20 and torch.equal(curve.flame["betas"], anchor.emotions["happy"]["betas"])
        torch.testing.assert_close(curve.flame["rotation"], anchor.emotions["neutral"]["rotation"])  # same sentence
    assert not torch.equal(anchor.curves["curve-0"].weights, anchor.curves["curve-1"].weights)
    plain = make_anchor("a", SEED, num_frames=20)
    assert plain.curves == {} and "curves" not in plain.meta  # anchors without curves are as before
    assert plain.meta == {k: v for k, v in anchor.meta.items() if k != "curves"}
    with pytest.raises(DataError, match="int >= 0"):
        make_anchor("a", SEED, num_frames=20, curves=-1)


@pytest.fixture(scope="module")
def rendered(head, model):
    """One identity: the neutral, happy, neutral->happy and constant-happy curve clips of an anchor (8 frames)."""
    anchor = make_anchor("a", SEED, num_frames=8, cameras=default_rig(1, 64), emotion_model=model)
    articulation = anchor_articulation(SEED, None, 8, 30.0)
    style, intensities = anchor_subject(SEED)
    t = anchor.timestamps
    curves = {"rise": EmotionCurve("neutral", (Transition(float(t[2]), "happy", float(t[5] - t[2])),)),
              "flat": EmotionCurve("happy")}
    for name, curve in curves.items():
        weights = curve.weights(t)
        flame = model.apply_curve(articulation, weights, intensities, style=style)
        flame["betas"] = anchor.emotions["happy"]["betas"]
        anchor.curves[name] = AnchorCurve(weights, flame)
    identity = make_identity("id-0", 33, head, image_size=64, baked_fraction=0.0)
    reenactor = SyntheticReenactor(0, 0, 64, emotion_model=model)
    return {name: reenactor.reenact(identity, anchor, name) for name in ("neutral", "happy", "rise", "flat")}


def test_constant_curve_clip_is_the_constant_clip(rendered):
    assert (rendered["flat"].frames == rendered["happy"].frames).all()  # pixels bit-identical
    for key, value in rendered["happy"].flame.items():
        assert torch.equal(rendered["flat"].flame[key], value), key


def test_neutral_to_happy_clip_is_neutral_before_the_onset_and_happy_after(rendered):
    rise, neutral, happy = (rendered[k].frames for k in ("rise", "neutral", "happy"))
    assert (rise[:3] == neutral[:3]).all()  # geometry and wrinkles of neutral until the change starts
    assert (rise[5:] == happy[5:]).all()  # and of happy once it has finished
    for t in (3, 4):  # on the way: neither
        assert (rise[t] != neutral[t]).any() and (rise[t] != happy[t]).any()
    torch.testing.assert_close(rendered["rise"].flame["expr"][:3], rendered["neutral"].flame["expr"][:3], rtol=0, atol=0)
    torch.testing.assert_close(rendered["rise"].flame["expr"][5:], rendered["happy"].flame["expr"][5:], rtol=0, atol=0)


def test_reenactor_refuses_an_unknown_curve(head, model):
    anchor = make_anchor("a", SEED, num_frames=3, cameras=default_rig(1, 64), emotion_model=model)
    identity = make_identity("id-0", 33, head, image_size=64, baked_fraction=0.0)
    with pytest.raises(DataError, match="no emotion or curve 'curve-0'"):
        SyntheticReenactor(0, 0, 64, emotion_model=model).reenact(identity, anchor, "curve-0")


@pytest.fixture(scope="module")
def tiny_curves(tmp_path_factory):
    """1 identity x 1 anchor x (7 emotions + 2 curve clips) x 6 frames at 32 x 32, 1 view."""
    root = tmp_path_factory.mktemp("synthetic-curves") / "ds"
    summary = build_synthetic_dataset(root, identities=1, anchors=1, frames=6, image_size=32, views=1, subdivide=0,
                                      progress=False, seed=3, curve_clips=2)
    return root, summary


def test_tiny_build_with_curve_clips_verifies_and_loads(tiny_curves):
    root, summary = tiny_curves
    assert summary.clips_written == 9
    report = verify(root)
    assert report.ok, report.summary()
    manifest = load_manifest(root)
    assert manifest["config"]["curve_clips"] == 2
    curve_entries = [c for c in manifest["clips"] if c["emotion"].startswith("curve-")]
    assert [c["emotion"] for c in curve_entries] == ["curve-0", "curve-1"] and {c["emotion_id"] for c in curve_entries} == {-1}
    anchor_json = json.loads((root / "anchors" / "anchor-000" / "anchor.json").read_text())
    assert set(anchor_json["meta"]["curves"]) == {"curve-0", "curve-1"}
    data = SyncedEmotionDataset(root, mode="self", frames_per_sample=6, split="all")
    assert len(data) == 9
    for index in (7, 8):
        item = data[index]
        name = f"curve-{index - 7}"
        clip_json = json.loads((root / "clips" / "id-00000" / "anchor-000" / name / "clip.json").read_text())
        expected = torch.tensor(anchor_json["curves"][name]["emotion_curve"])
        assert torch.equal(torch.tensor(clip_json["emotion_curve"]), expected)
        assert item["target_emotion"] == -1 and item["target_weights"].shape == (6, len(EMOTIONS))
        assert torch.equal(item["target_weights"], expected)
        assert len({tuple(r) for r in item["target_weights"].tolist()}) > 1  # it changes inside the clip
        assert torch.equal(item["source_weights"], item["target_weights"])  # "self": driven by itself
    happy = data[EMOTIONS.index("happy")]["target_weights"]
    assert torch.equal(happy, torch.eye(len(EMOTIONS))[EMOTIONS.index("happy")].expand(6, -1))
