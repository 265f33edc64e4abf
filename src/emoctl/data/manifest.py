"""Reading ``manifest.json`` and checking its structure (not the files it lists: that is ``verify``)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from emoctl.data.config import DatasetConfig
from emoctl.data.io import read_json
from emoctl.data.layout import FORMAT_NAME, MANIFEST, SCHEMA_VERSION, anchor_dir, clip_dir, identity_dir
from emoctl.emotions import Vocabulary
from emoctl.errors import EmoctlError, DataError

_IDENTITY_FIELDS = ("id", "dir", "reference_emotion", "height", "width", "has_betas", "traits", "files")
_ANCHOR_FIELDS = ("id", "dir", "fps", "num_frames", "num_views", "timestamps_sha256", "files")
_CLIP_FIELDS = (
    "key", "identity", "anchor", "emotion", "emotion_id", "num_frames", "num_views", "height", "width",
    "fps", "frame_format", "has_ground_truth", "timestamps_sha256", "dir", "files",
)


def manifest_problems(manifest: Any) -> list[str]:
    """Everything wrong with the structure of a parsed manifest (empty when it is well-formed)."""
    if not isinstance(manifest, dict):
        return [f"{MANIFEST}: expected a JSON object, got {type(manifest).__name__}"]
    problems: list[str] = []
    if manifest.get("format") != FORMAT_NAME:
        problems.append(f"{MANIFEST}: format is {manifest.get('format')!r}, expected {FORMAT_NAME!r}")
    if manifest.get("schema_version") != SCHEMA_VERSION:
        problems.append(
            f"{MANIFEST}: schema_version is {manifest.get('schema_version')!r}; this emoctl reads version {SCHEMA_VERSION}"
        )
    try:
        vocabulary = Vocabulary(manifest.get("emotions") or ())
    except EmoctlError as exc:
        problems.append(f"{MANIFEST}: emotions: {exc}")
        vocabulary = None
    try:
        DatasetConfig.from_json(manifest.get("config") or {})
    except (EmoctlError, TypeError) as exc:
        problems.append(f"{MANIFEST}: config: {exc}")
    if not isinstance(manifest.get("generator"), dict):
        problems.append(f"{MANIFEST}: generator is missing")
    sections = {
        "identities": (_IDENTITY_FIELDS, "id"),
        "anchors": (_ANCHOR_FIELDS, "id"),
        "clips": (_CLIP_FIELDS, "key"),
    }
    ids: dict[str, set[str]] = {}
    for section, (fields, key) in sections.items():
        entries = manifest.get(section)
        if not isinstance(entries, list):
            problems.append(f"{MANIFEST}: {section} is missing or not a list")
            ids[section] = set()
            continue
        seen: set[str] = set()
        for n, entry in enumerate(entries):
            lacking = [f for f in fields if not isinstance(entry, dict) or f not in entry]
            if lacking:
                problems.append(f"{MANIFEST}: {section}[{n}] lacks {lacking}")
                continue
            if entry[key] in seen:
                problems.append(f"{MANIFEST}: {section} lists {entry[key]!r} twice")
            seen.add(entry[key])
        ids[section] = seen
    if problems:
        return problems
    for entry in manifest["identities"]:
        if entry["dir"] != identity_dir(entry["id"]):
            problems.append(f"{MANIFEST}: identity {entry['id']!r} has dir {entry['dir']!r}")
    for entry in manifest["anchors"]:
        if entry["dir"] != anchor_dir(entry["id"]):
            problems.append(f"{MANIFEST}: anchor {entry['id']!r} has dir {entry['dir']!r}")
    for clip in manifest["clips"]:
        name = f"{MANIFEST}: clip {clip['key']}"
        if clip["identity"] not in ids["identities"]:
            problems.append(f"{name}: identity {clip['identity']!r} is not listed in identities")
        if clip["anchor"] not in ids["anchors"]:
            problems.append(f"{name}: anchor {clip['anchor']!r} is not listed in anchors")
        if vocabulary is not None:
            if clip["emotion"] not in vocabulary.names or vocabulary.names.index(clip["emotion"]) != clip["emotion_id"]:
                problems.append(
                    f"{name}: emotion {clip['emotion']!r} with id {clip['emotion_id']!r} does not match the vocabulary"
                )
        if clip["dir"] != clip_dir(clip["identity"], clip["anchor"], clip["emotion"]):
            problems.append(f"{name}: dir {clip['dir']!r} does not match its identity/anchor/emotion")
    return problems


def load_manifest(root: str | Path) -> dict[str, Any]:
    """The parsed ``root/manifest.json``; :class:`DataError` listing its problems when it is malformed."""
    path = Path(root) / MANIFEST
    if not path.is_file():
        raise DataError(
            f"{Path(root)} has no {MANIFEST} (not a dataset, or its shards are not merged yet: run merge_shards)"
        )
    manifest = read_json(path, "dataset manifest")
    problems = manifest_problems(manifest)
    if problems:
        shown = "\n  ".join(problems[:10])
        more = f"\n  ... and {len(problems) - 10} more" if len(problems) > 10 else ""
        raise DataError(f"{path} fails basic checks:\n  {shown}{more}")
    return manifest


def vocabulary_of(manifest: dict[str, Any]) -> Vocabulary:
    return Vocabulary(manifest["emotions"])

