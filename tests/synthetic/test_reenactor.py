"""SyntheticReenactor: the emoctl.data.Reenactor protocol, outputs, ground truth, determinism, errors."""

import dataclasses
import json

import numpy as np
import pytest
import torch

from emoctl.data import Identity, ReenactedClip, Reenactor
from emoctl.data.flame_params import validate_flame_sequence
from emoctl.errors import DataError, ShapeError
from emoctl.synthetic import (
    EmotionModel,
    GaussianHead,
    IdentitySampler,
    RenderSettings,
    SyntheticReenactor,
    SyntheticWorld,
    default_rig,
    make_anchor,
)


@pytest.fixture(scope="module")
def reenactor():
    return SyntheticReenactor(head_seed=0, subdivide=0, image_size=64)


@pytest.fixture(scope="module")
def anchor():
    return make_anchor("anchor-r", seed=5, num_frames=5, cameras=default_rig(2, 256))


@pytest.fixture(scope="module")
def identities(head):
    sampler = IdentitySampler(head, image_size=64, baked_fraction=0.0)
    return [sampler.sample(f"id-{i}", seed=50 + i) for i in range(2)]


@pytest.fixture(scope="module")
def clips(reenactor, identities, anchor):
    return {(i, e): reenactor.reenact(identities[i], anchor, e) for i in range(2) for e in ("neutral", "happy", "surprised")}


def test_follows_the_protocol(reenactor):
    assert isinstance(reenactor, Reenactor)
    config = reenactor.config()
    json.dumps(config)
    assert config["subdivide"] == 0 and config["image_size"] == [64, 64] and config["head_seed"] == 0
    assert config["render"]["opacity"] == pytest.approx(0.99) and "static" in config["emotion_model"]
    assert SyntheticReenactor(head_seed=0, subdivide=0, image_size=64).config() == config
    # the batch size changes float rounding (a level in rare pixels), so it is recorded
    assert SyntheticReenactor(head_seed=0, subdivide=0, image_size=64, chunk_frames=2).config() != config
    assert SyntheticReenactor(subdivide=1, image_size=64).config() != config


def test_output_shapes_and_ground_truth(clips, anchor, identities):
    clip = clips[(0, "happy")]
    assert isinstance(clip, ReenactedClip)
    assert isinstance(clip.frames, np.ndarray) and clip.frames.dtype == np.uint8
    assert clip.frames.shape == (5, 2, 64, 64, 3)
    assert clip.cameras.num_views == 2 and (clip.cameras.width, clip.cameras.height) == (64, 64)
    torch.testing.assert_close(clip.cameras.c2w, anchor.cameras.c2w)  # the anchor's poses
    torch.testing.assert_close(clip.cameras.K[:, :2], anchor.cameras.K[:, :2] * 0.25)  # rescaled to 64 px
    assert torch.equal(clip.timestamps, anchor.timestamps)
    assert validate_flame_sequence(clip.flame, num_frames=5) == 5
    assert torch.equal(clip.flame["betas"], identities[0].betas)  # the identity's shape, not the anchor subject's
    assert not torch.equal(clip.flame["betas"], anchor.emotions["happy"]["betas"])
    for key in ("expr", "jaw_pose", "rotation", "neck_pose", "eyes_pose"):
        assert torch.equal(clip.flame[key], anchor.emotions["happy"][key]), key


def test_pixels_show_identity_and_emotion(clips):
    def diff(a, b):
        return float(np.abs(a.frames.astype(int) - b.frames.astype(int)).mean())

    emotion_change = diff(clips[(0, "neutral")], clips[(0, "surprised")])
    identity_change = diff(clips[(0, "neutral")], clips[(1, "neutral")])
    assert emotion_change > 0.3 and identity_change > 2.0
    frames = clips[(0, "neutral")].frames.astype(int)
    assert np.abs(frames[:, 0] - frames[:, 1]).mean() > 2.0  # two different views
    assert (frames[:, :, 0, 0] == 255).all()  # white background in the corner
    centre = frames[:, :, 24:40, 24:40]
    assert centre.mean() < 220  # the head in the middle


def test_deterministic(reenactor, identities, anchor, clips):
    again = SyntheticReenactor(head_seed=0, subdivide=0, image_size=64).reenact(identities[0], anchor, "happy")
    assert np.array_equal(again.frames, clips[(0, "happy")].frames)
    chunked = SyntheticReenactor(head_seed=0, subdivide=0, image_size=64, chunk_frames=2).reenact(identities[0], anchor, "happy")
    diff = np.abs(chunked.frames.astype(int) - clips[(0, "happy")].frames.astype(int))
    assert diff.max() <= 1 and (diff > 0).mean() < 1e-3


def test_appearance_follows_the_anchor_intensity(reenactor, identities, anchor):
    strong = dataclasses.replace(anchor, meta={**anchor.meta, "intensity": {**anchor.meta["intensity"], "angry": 2.0}})
    weak = dataclasses.replace(anchor, meta={**anchor.meta, "intensity": {**anchor.meta["intensity"], "angry": 0.0}})
    neutral = reenactor.reenact(identities[0], anchor, "neutral").frames.astype(int)
    # same geometry (the anchor's FLAME), different cue strength
    assert np.abs(reenactor.reenact(identities[0], strong, "angry").frames.astype(int) - neutral).mean() > np.abs(
        reenactor.reenact(identities[0], weak, "angry").frames.astype(int) - neutral).mean()


def test_errors(reenactor, identities, anchor):
    ident = identities[0]
    no_betas = Identity(ident.identity_id, ident.reference_image, None, "neutral", ident.traits)
    with pytest.raises(DataError, match="betas"):
        reenactor.reenact(no_betas, anchor, "happy")
    foreign = Identity("id-z", ident.reference_image, ident.betas, "neutral", {"age": 30})
    with pytest.raises(DataError, match="traits"):
        reenactor.reenact(foreign, anchor, "happy")
    with pytest.raises(DataError, match="bored"):
        reenactor.reenact(ident, anchor, "bored")
    with pytest.raises(DataError):
        reenactor.reenact("id-0", anchor, "happy")
    with pytest.raises(ShapeError):
        SyntheticReenactor(subdivide=5)
    with pytest.raises(ShapeError):
        SyntheticReenactor(image_size=(0, 64))


def test_shared_parts_must_fit_the_head(head, model):
    """A given avatar / emotion model is used as is when it fits the head, refused when it does not."""
    avatar = GaussianHead(head, RenderSettings())
    shared = SyntheticReenactor(head_seed=0, subdivide=0, image_size=32, avatar=avatar, emotion_model=model)
    assert shared.avatar is avatar and shared.emotion_model is model
    other_settings = GaussianHead(head, RenderSettings(opacity=0.5))
    with pytest.raises(ShapeError, match="SyntheticReenactor: avatar must render this reenactor's head"):
        SyntheticReenactor(head_seed=0, subdivide=0, avatar=other_settings)
    with pytest.raises(ShapeError, match="SyntheticReenactor: emotion_model must be built on this reenactor's head"):
        SyntheticReenactor(head_seed=0, subdivide=0, emotion_model=EmotionModel())
    with pytest.raises(ShapeError, match="IdentitySampler: avatar must render this sampler's head"):
        IdentitySampler(head, avatar=other_settings, emotion_model=model)
    with pytest.raises(ShapeError, match="IdentitySampler: emotion_model must be built on this sampler's head"):
        IdentitySampler(head, avatar=avatar, emotion_model=EmotionModel())
    world = SyntheticWorld(0, subdivide=0)
    assert world.head is head and world.reenactor(32).avatar is world.avatar
    assert world.identity_sampler(32).emotion_model is world.emotion_model is world.reenactor(16).emotion_model
