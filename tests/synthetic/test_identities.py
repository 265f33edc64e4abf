"""Synthetic identities: shape and trait statistics, reference images, the baked-in emotion."""

import numpy as np
import pytest
import torch

from emoctl.data import Identity
from emoctl.emotions import EMOTIONS
from emoctl.errors import DataError, ShapeError
from emoctl.synthetic import IdentitySampler, IdentityTraits, make_identity, sample_betas, sample_traits


@pytest.fixture(scope="module")
def sampler(head):
    return IdentitySampler(head, image_size=64, baked_fraction=0.0)


def test_betas_main_components_vary_more():
    betas = torch.stack([sample_betas(s) for s in range(300)])
    assert betas.shape == (300, 300)
    main, tail = betas[:, :20].std(), betas[:, 20:].std()
    assert 0.85 < float(main) < 1.15 and 0.25 < float(tail) < 0.45
    assert torch.equal(sample_betas(5), sample_betas(5)) and not torch.equal(sample_betas(5), sample_betas(6))


def test_trait_statistics():
    traits = [sample_traits(s) for s in range(300)]
    ages = np.array([t.age for t in traits])
    elasticity = np.array([t.elasticity for t in traits])
    tones = np.array([t.skin_tone for t in traits])
    assert ages.min() >= 18 and ages.max() <= 80 and np.ptp(ages) > 50
    assert np.corrcoef(ages, elasticity)[0, 1] < -0.8  # skin loses elasticity with age
    assert tones.min() < 0.1 and tones.max() > 0.9  # light to dark
    assert len({t.hair_rgb for t in traits}) > 100 and len({t.blemishes for t in traits}) >= 5


def test_identity_record(sampler, head):
    ident = sampler.sample("id-00007", seed=7)
    assert isinstance(ident, Identity)
    assert ident.reference_image.shape == (64, 64, 3) and ident.reference_image.dtype == np.uint8
    assert ident.betas.shape == (300,) and torch.equal(ident.betas, sample_betas(7))
    assert IdentityTraits.from_json(ident.traits) == sample_traits(7)
    assert ident.reference_emotion == "neutral" and ident.traits["reference_intensity"] == 0.0
    cam = ident.reference_camera
    assert cam is not None and cam.num_views == 1 and (cam.width, cam.height) == (64, 64)
    forward = cam.c2w[0, :3, 2]  # OpenCV: the camera looks along its +z
    assert float(forward[2]) < -0.98  # near-frontal: looking back at the face (which faces +z)
    image = ident.reference_image.astype(int)
    assert (image[:3, :3] == 255).all() and (image[:3, -3:] == 255).all()  # background in the corners
    assert image[28:36, 28:36].mean() < 230  # the face in the middle


def test_deterministic(sampler):
    a, b = sampler.sample("id-a", seed=3), sampler.sample("id-a", seed=3)
    assert np.array_equal(a.reference_image, b.reference_image) and a.traits == b.traits
    assert torch.equal(a.betas, b.betas) and a.reference_camera.equals(b.reference_camera)
    c = sampler.sample("id-a", seed=4)
    assert not np.array_equal(a.reference_image, c.reference_image)


def test_baked_in_emotion_changes_the_reference(head):
    baked = IdentitySampler(head, image_size=64, baked_fraction=1.0, baked_intensity=(0.9, 1.0))
    plain = IdentitySampler(head, image_size=64, baked_fraction=0.0)
    found = set()
    for seed in range(40):
        emotion, intensity = baked.reference_choice(seed)
        if emotion in found:
            continue
        found.add(emotion)
        with_emotion = baked.sample("id-x", seed)
        without = plain.sample("id-x", seed)
        assert with_emotion.reference_emotion == emotion != "neutral"
        assert with_emotion.traits["reference_intensity"] == intensity >= 0.9
        assert torch.equal(with_emotion.betas, without.betas)  # same person
        diff = np.abs(with_emotion.reference_image.astype(int) - without.reference_image.astype(int))
        assert diff.mean() > 0.5 and (diff.max(axis=2) > 8).sum() >= 80, (emotion, diff.mean())
    assert found == set(EMOTIONS[1:])


def test_baked_fraction(head):
    sampler = IdentitySampler(head, baked_fraction=0.3)
    choices = [sampler.reference_choice(s) for s in range(400)]
    fraction = np.mean([e != "neutral" for e, _ in choices])
    assert 0.22 < fraction < 0.38
    assert all((i == 0.0) == (e == "neutral") for e, i in choices)


def test_make_identity_and_bad_arguments(head):
    ident = make_identity("id-1", 1, head, image_size=(48, 64), baked_fraction=0.0)
    assert ident.reference_image.shape == (48, 64, 3)
    with pytest.raises(ShapeError):
        IdentitySampler(head, baked_fraction=1.5)
    with pytest.raises(DataError):
        IdentitySampler(head).sample("id-1", seed=-1)
    with pytest.raises(ShapeError):
        IdentitySampler(head, image_size=0).sample("id-1", seed=1)
