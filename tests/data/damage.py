"""Helpers for tests that damage a copy of a dataset: read and write its manifest, and reseal the
checksums after a change so that only the intended damage remains."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Callable

from emoctl.data.io import canonical_json, file_record
from emoctl.data.records import clip_entry


def read_manifest(root: Path) -> dict:
    return json.loads((root / "manifest.json").read_text())


def edit_manifest(root: Path, change: Callable[[dict], object]) -> None:
    """Apply ``change`` to the parsed manifest and write it back (plain ``json``: NaN allowed)."""
    manifest = read_manifest(root)
    change(manifest)
    (root / "manifest.json").write_text(json.dumps(manifest))


def reseal_clip(root: Path, key: str, change_record: Callable[[dict], object] | None = None) -> None:
    """Recompute a clip's checksums in its clip.json and in the manifest after a test changed its files
    (and apply ``change_record`` to its clip.json first)."""
    d = root / "clips" / key
    record = json.loads((d / "clip.json").read_text())
    if change_record:
        change_record(record)
    names = sorted(p.relative_to(d).as_posix() for p in d.rglob("*") if p.is_file() and p.name != "clip.json")
    record["files"] = {n: file_record(d / n) for n in names}
    data = canonical_json(record)
    (d / "clip.json").write_bytes(data)
    manifest = read_manifest(root)
    manifest["clips"] = [clip_entry(record, data) if c["key"] == key else c for c in manifest["clips"]]
    (root / "manifest.json").write_bytes(canonical_json(manifest))


def reseal_file(root: Path, section: str, entry_id: str, name: str) -> None:
    """Record the current checksum and size of an identity's or anchor's file ``name`` in the manifest."""
    def change(manifest: dict) -> None:
        (entry,) = [e for e in manifest[section] if e["id"] == entry_id]
        entry["files"][name] = file_record(root / entry["dir"] / name)

    edit_manifest(root, change)
