"""Shared fixtures of the FLAME tests."""

from __future__ import annotations

import pytest

from emoctl.flame import FlameModelData
from emoctl.synthetic import synthetic_head as cached_synthetic_head


@pytest.fixture(scope="session")
def synthetic_head() -> FlameModelData:
    """The seed-0 synthetic head, a FLAME-sized model with UVs and landmarks (the synthetic world's
    cached one; treat as read-only)."""
    return cached_synthetic_head(0, 0)
