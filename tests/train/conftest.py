"""Fixtures of the trainer tests: the ``tiny`` recipe's appearance train/val folders, built once."""

from __future__ import annotations

from pathlib import Path

import pytest


@pytest.fixture(scope="session")
def tiny_recipe(tmp_path_factory) -> Path:
    """``OUT`` of ``build_recipe("tiny", kinds=("appearance",), splits=("train", "val"))``. Read-only."""
    from emoctl.synthetic import build_recipe

    out = tmp_path_factory.mktemp("tiny-recipe") / "data"
    build_recipe("tiny", out, kinds=("appearance",), splits=("train", "val"), progress=False)
    return out
