"""Shared pytest configuration: deterministic, single-threaded torch on the CPU."""

import os
from pathlib import Path

import pytest
import torch

# Two cores on CI; several pytest-xdist workers each with many threads only thrash.
torch.set_num_threads(max(1, min(2, os.cpu_count() or 1)))


@pytest.fixture(autouse=True)
def _seed_everything():
    torch.manual_seed(0)
    yield


@pytest.fixture(scope="session")
def tiny_recipe(tmp_path_factory) -> Path:
    """``OUT`` of the ``tiny`` recipe with 2-frame clips, appearance train, val and test. Read-only.
    Built once per test run: pytest-xdist workers share it (the first builds, the others wait)."""
    from emoctl._locks import folder_lock
    from emoctl.synthetic import build_recipe, recipe

    base = tmp_path_factory.getbasetemp()
    shared = base.parent if os.environ.get("PYTEST_XDIST_WORKER") else base
    out = shared / "train-tiny-recipe"
    with folder_lock(shared):
        if not (out / "built").is_file():
            chosen = recipe("tiny").with_overrides(("appearance",), frames=2)
            build_recipe(chosen, out, kinds=("appearance",), progress=False)
            (out / "built").write_text("ok\n")
    return out
