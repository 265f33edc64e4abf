"""Shared pytest configuration: deterministic, single-threaded torch on the CPU."""

import os

import pytest
import torch

# Two cores on CI; several pytest-xdist workers each with many threads only thrash.
torch.set_num_threads(max(1, min(2, os.cpu_count() or 1)))


@pytest.fixture(autouse=True)
def _seed_everything():
    torch.manual_seed(0)
    yield
