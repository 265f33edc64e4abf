"""Shared fixtures of the FLAME tests."""

from __future__ import annotations

import pytest

from emoctl.flame import FlameModelData, SyntheticFLAME


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
    """The seed-0 synthetic head (built once per session; treat as read-only)."""
    return synthetic_pair[1]
