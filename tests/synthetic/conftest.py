"""Shared fixtures of the synthetic-world tests: the coarse head (subdivide=0) and its emotion model."""

import pytest
import torch

from emoctl.synthetic import EmotionModel, generate_speech, synthetic_head


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
    return synthetic_head(0, 0)


@pytest.fixture(scope="session")
def model(head):
    return EmotionModel(head)


@pytest.fixture(scope="session")
def speech():
    """A 6-second sentence at 30 fps."""
    return generate_speech(7, 6.0)
