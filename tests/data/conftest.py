"""Fixtures of the emoctl.data tests: one tiny dataset built once per session (read-only for tests)."""

from __future__ import annotations

import hashlib
import shutil
from pathlib import Path

import pytest

from synced_tiny import build_tiny


@pytest.fixture(scope="session")
def tiny_dataset(tmp_path_factory) -> Path:
    """3 identities x 2 anchors (6 and 7 frames, 2 views, 64x64) x 3 emotions, PNG. Do not modify it."""
    root = tmp_path_factory.mktemp("tiny") / "ds"
    build_tiny(root)
    return root


@pytest.fixture
def tiny_copy(tiny_dataset, tmp_path) -> Path:
    """A private copy of ``tiny_dataset`` that a test may damage."""
    root = tmp_path / "copy"
    shutil.copytree(tiny_dataset, root)
    return root


def tree_digest(root: Path) -> dict[str, str]:
    """relative path -> sha256 of every file under ``root``."""
    return {
        p.relative_to(root).as_posix(): hashlib.sha256(p.read_bytes()).hexdigest()
        for p in sorted(Path(root).rglob("*"))
        if p.is_file()
    }


@pytest.fixture
def digest():
    return tree_digest
