"""Shared fixtures of the synthetic-world tests: the coarse head (subdivide=0) and its emotion model,
and the head's generator."""

import pytest
import torch

from emoctl.flame import FlameModelData
from emoctl.synthetic import EmotionModel, SyntheticFLAME, generate_speech
from emoctl.synthetic import synthetic_head as cached_synthetic_head


@pytest.fixture(scope="module", autouse=True)
def _one_thread():
    """These tests run many small tensor ops (64 x 64 renders, 5k-vertex heads): a second intra-op
    thread gains nothing at these sizes, and on a loaded 2-core machine every parallel op waits for
    it to be scheduled (measured: 0.13 s vs 7 s per clip). Module-scoped so that it also covers the module fixtures;
    restored after each module."""
    before = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(before)


@pytest.fixture(scope="session")
def head():
    """The synthetic head without subdivision (~4,900 vertices): fast, and enough for these tests."""
    return cached_synthetic_head(0, 0)


@pytest.fixture(scope="session")
def model(head):
    return EmotionModel(head)


@pytest.fixture(scope="session")
def speech():
    """A 6-second sentence at 30 fps."""
    return generate_speech(7, 6.0)


@pytest.fixture(scope="session")
def synthetic_pair() -> tuple[SyntheticFLAME, FlameModelData]:
    generator = SyntheticFLAME(seed=0)
    return generator, generator.build()


@pytest.fixture(scope="session")
def synthetic_generator(synthetic_pair) -> SyntheticFLAME:
    """The seed-0 generator after ``build()`` (its ``mesh`` holds the bookkeeping)."""
    return synthetic_pair[0]


@pytest.fixture(scope="session")
def synthetic_head(synthetic_pair) -> FlameModelData:
    """The seed-0 synthetic head as built by the generator (built once per session; treat as read-only)."""
    return synthetic_pair[1]
