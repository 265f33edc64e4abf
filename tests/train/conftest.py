"""Fixtures of the trainer tests: the ``tiny`` recipe's appearance train/val folders, built once."""

from __future__ import annotations

import os
from pathlib import Path

import pytest


@pytest.fixture(scope="session")
def tiny_recipe(tmp_path_factory) -> Path:
    """``OUT`` of the ``tiny`` recipe with 2-frame clips, appearance train and val only. Read-only.
    Built once per test run: pytest-xdist workers share it (the first builds, the others wait)."""
    from emoctl._locks import folder_lock
    from emoctl.synthetic import build_recipe, recipe

    base = tmp_path_factory.getbasetemp()
    shared = base.parent if os.environ.get("PYTEST_XDIST_WORKER") else base
    out = shared / "train-tiny-recipe"
    with folder_lock(shared):
        if not (out / "built").is_file():
            chosen = recipe("tiny").with_overrides(("appearance",), frames=2)
            build_recipe(chosen, out, kinds=("appearance",), splits=("train", "val"), progress=False)
            (out / "built").write_text("ok\n")
    return out
