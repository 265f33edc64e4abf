"""Reading ``manifest.json`` and checking its structure (not the files it lists: that is ``verify``).

:func:`manifest_problems` is the one structural check of a manifest (and of a shard file, which has
the same sections): every field present with the type and range the builder writes, ids that are
safe file names, directories and keys derived from the ids, file tables of relative names with a
sha256 and a byte count, and clips consistent with the vocabulary, the config and the listed
identities and anchors. The dataset, ``verify``, ``merge`` and ``emoctl data info`` all rely on it,
so a hand-edited field is reported by name instead of failing later with a raw ``TypeError``.
"""

from __future__ import annotations

import math
import re
from pathlib import Path
from typing import Any, Callable

from emoctl.data.config import FRAME_FORMATS, DatasetConfig
from emoctl.data.io import read_json
from emoctl.data.layout import (
    FORMAT_NAME,
    MANIFEST,
    SCHEMA_VERSION,
    anchor_dir,
    clip_dir,
    clip_key,
    curve_clip_names,
    identity_dir,
)
from emoctl.data.types import is_safe_id
from emoctl.emotions import Vocabulary
from emoctl.errors import EmoctlError, DataError

_Check = tuple[Callable[[Any], bool], str]


def _int_from(minimum: int) -> _Check:
    return (lambda v: isinstance(v, int) and not isinstance(v, bool) and v >= minimum), f"an int >= {minimum}"


_COUNT = _int_from(1)
_ID: _Check = (is_safe_id, "a safe id (1-128 characters from [A-Za-z0-9._-], starting with a letter or digit)")
_TEXT: _Check = (lambda v: isinstance(v, str), "a string")
_OPTIONAL_TEXT: _Check = (lambda v: v is None or isinstance(v, str), "a string or null")
_BOOL: _Check = (lambda v: isinstance(v, bool), "true or false")
_RATE: _Check = (
    lambda v: isinstance(v, (int, float)) and not isinstance(v, bool) and math.isfinite(v) and v > 0,
    "a finite number > 0",
)
_DIGEST: _Check = (lambda v: isinstance(v, str) and re.fullmatch(r"[0-9a-f]{64}", v) is not None, "a sha256 hex digest")
_FRAME_FORMAT: _Check = (lambda v: isinstance(v, str) and v in FRAME_FORMATS, f"one of {list(FRAME_FORMATS)}")
_ANY: _Check = (lambda v: True, "any JSON value")


def _is_file_record(value: Any) -> bool:
    return isinstance(value, dict) and _DIGEST[0](value.get("sha256")) and _int_from(0)[0](value.get("bytes"))


_FILE_RECORD: _Check = (_is_file_record, '{"sha256": <sha256 hex digest>, "bytes": <int >= 0>}')

#: Every section's fields (besides the ``files`` tables of identities and anchors, checked by
#: :func:`file_table_problem`) and their checks. A clip lists no files: its ``clip.json`` holds their
#: checksums, and the manifest that file's checksum (``clip_json``), the clip's file count and bytes.
_SECTIONS: dict[str, tuple[str, dict[str, _Check]]] = {
    "identities": ("id", {
        "id": _ID, "dir": _TEXT, "reference_emotion": _OPTIONAL_TEXT, "height": _COUNT, "width": _COUNT,
        "has_betas": _BOOL, "traits": _ANY,
    }),
    "anchors": ("id", {
        "id": _ID, "dir": _TEXT, "fps": _RATE, "num_frames": _COUNT, "num_views": _COUNT, "timestamps_sha256": _DIGEST,
    }),
    "clips": ("key", {
        "key": _TEXT, "identity": _ID, "anchor": _ID, "emotion": _ID, "emotion_id": _int_from(-1),
        "num_frames": _COUNT, "num_views": _COUNT, "height": _COUNT, "width": _COUNT, "fps": _RATE,
        "frame_format": _FRAME_FORMAT, "has_ground_truth": _BOOL, "timestamps_sha256": _DIGEST, "dir": _TEXT,
        "clip_json": _FILE_RECORD, "num_files": _COUNT, "bytes": _int_from(0),
    }),
}

#: Versions of this format that this emoctl recognises but no longer reads, and what changed since.
_OLDER_VERSIONS = {1: "an older layout of this format (its manifest lists every file's checksum)"}

#: The sections whose entries carry a ``files`` table (name -> ``{"sha256", "bytes"}``).
_FILE_TABLE_SECTIONS = ("identities", "anchors")


def manifest_problems(manifest: Any, name: str = MANIFEST) -> list[str]:
    """Everything wrong with the structure of a parsed manifest (empty when it is well-formed).

    ``name`` starts every message. The checks of :func:`field_problems` first; when those pass, the
    entries' consistency with each other, with the vocabulary and with the config.
    """
    problems = field_problems(manifest, name)
    if problems:
        return problems
    config = DatasetConfig.from_json(manifest["config"])
    vocabulary = Vocabulary(manifest["emotions"])
    ids = {section: {e[key] for e in manifest[section]} for section, (key, _) in _SECTIONS.items()}
    for entry in manifest["identities"]:
        if entry["dir"] != identity_dir(entry["id"]):
            problems.append(f"{name}: identity {entry['id']!r} has dir {entry['dir']!r}")
        emotion = entry["reference_emotion"]
        if emotion is not None and emotion not in vocabulary.names:
            problems.append(f"{name}: identity {entry['id']!r} has reference_emotion {emotion!r}, not in the vocabulary")
    for entry in manifest["anchors"]:
        if entry["dir"] != anchor_dir(entry["id"]):
            problems.append(f"{name}: anchor {entry['id']!r} has dir {entry['dir']!r}")
        if entry["fps"] != config.fps:
            problems.append(f"{name}: anchor {entry['id']!r} has fps {entry['fps']!r}, the config says {config.fps!r}")
    for clip in manifest["clips"]:
        problems.extend(f"{name}: clip {clip['key']}: {p}" for p in _clip_problems(clip, ids, vocabulary, config))
    return problems


def field_problems(manifest: Any, name: str = MANIFEST) -> list[str]:
    """What is wrong with the fields of a manifest or shard file taken one by one: the header
    (format, schema version, emotions, config, generator) and every identity, anchor and clip entry
    (fields present, of the right type and range; ids listed once)."""
    if not isinstance(manifest, dict):
        return [f"{name}: expected a JSON object, got {type(manifest).__name__}"]
    version = manifest.get("schema_version")
    if manifest.get("format") == FORMAT_NAME and version in _OLDER_VERSIONS:
        return [f"{name}: schema_version is {version}, {_OLDER_VERSIONS[version]}; this emoctl reads version "
                f"{SCHEMA_VERSION}: rebuild the dataset into a new folder with this emoctl"]
    problems = _header_problems(manifest, name)
    for section, (key, checks) in _SECTIONS.items():
        _section_problems(manifest.get(section), section, key, checks, name, problems)
    return problems


def _header_problems(manifest: dict[str, Any], name: str) -> list[str]:
    problems: list[str] = []
    if manifest.get("format") != FORMAT_NAME:
        problems.append(f"{name}: format is {manifest.get('format')!r}, expected {FORMAT_NAME!r}")
    if manifest.get("schema_version") != SCHEMA_VERSION:
        problems.append(
            f"{name}: schema_version is {manifest.get('schema_version')!r}; this emoctl reads version {SCHEMA_VERSION}"
        )
    emotions = manifest.get("emotions")
    if not isinstance(emotions, list) or not all(is_safe_id(e) for e in emotions):
        problems.append(f"{name}: emotions is {emotions!r}, expected a list of names that are safe ids")
    else:
        try:
            Vocabulary(emotions)
        except EmoctlError as exc:
            problems.append(f"{name}: emotions: {exc}")
    config = manifest.get("config")
    if not isinstance(config, dict):
        problems.append(f"{name}: config is {config!r}, expected an object")
    else:
        try:
            DatasetConfig.from_json(config)
        except (EmoctlError, TypeError, ValueError) as exc:
            problems.append(f"{name}: config: {exc}")
    generator = manifest.get("generator")
    if not (
        isinstance(generator, dict)
        and all(isinstance(generator.get(p), dict) and isinstance(generator[p].get("name"), str)
                for p in ("reenactor", "tracker"))
        and isinstance(generator.get("emoctl_version"), str)
    ):
        problems.append(
            f"{name}: generator is {generator!r}, expected an object with reenactor and tracker "
            "({\"name\": ..., \"config\": ...}) and emoctl_version"
        )
    return problems


def _section_problems(
    entries: Any, section: str, key: str, checks: dict[str, _Check], name: str, problems: list[str]
) -> None:
    """A problem for each malformed entry of a section and each id (``key``) it lists twice."""
    if not isinstance(entries, list):
        problems.append(f"{name}: {section} is missing or not a list")
        return
    seen: set[str] = set()
    required = (*checks, "files") if section in _FILE_TABLE_SECTIONS else tuple(checks)
    for n, entry in enumerate(entries):
        lacking = [f for f in required if not isinstance(entry, dict) or f not in entry]
        if lacking:
            problems.append(f"{name}: {section}[{n}] lacks {lacking}")
            continue
        where = f"{name}: {section}[{n}]" + (f" ({entry[key]})" if isinstance(entry[key], str) else "")
        wrong = [f"{f} is {entry[f]!r}, expected {what}" for f, (ok, what) in checks.items() if not ok(entry[f])]
        files = file_table_problem(entry["files"]) if section in _FILE_TABLE_SECTIONS else None
        if wrong or files:
            problems.append(f"{where}: {'; '.join(wrong + ([files] if files else []))}")
            continue
        if entry[key] in seen:
            problems.append(f"{name}: {section} lists {entry[key]!r} twice")
        seen.add(entry[key])


def file_table_problem(files: Any) -> str | None:
    """What is wrong with a ``files`` table (relative name -> ``{"sha256", "bytes"}``) of a manifest entry
    or a ``clip.json``, or None."""
    if not isinstance(files, dict):
        return f"files is {type(files).__name__}, expected an object of file name -> {{sha256, bytes}}"
    for file_name, record in files.items():
        parts = file_name.split("/")
        if "\\" in file_name or any(p in ("", ".", "..") for p in parts):
            return f"files lists {file_name!r}, not a relative path inside the directory"
        if not _is_file_record(record):
            return f"files[{file_name!r}] is {record!r}, expected {_FILE_RECORD[1]}"
    return None



def _clip_problems(
    clip: dict[str, Any], ids: dict[str, set[str]], vocabulary: Vocabulary, config: DatasetConfig
) -> list[str]:
    problems = []
    if clip["identity"] not in ids["identities"]:
        problems.append(f"identity {clip['identity']!r} is not listed in identities")
    if clip["anchor"] not in ids["anchors"]:
        problems.append(f"anchor {clip['anchor']!r} is not listed in anchors")
    if clip["emotion"] in curve_clip_names(config.curve_clips) and clip["emotion"] not in vocabulary.names:
        if clip["emotion_id"] != -1:  # a curve clip: its weights are in its clip.json
            problems.append(f"curve clip {clip['emotion']!r} has emotion_id {clip['emotion_id']!r}, expected -1")
    elif clip["emotion"] not in vocabulary.names or vocabulary.names.index(clip["emotion"]) != clip["emotion_id"]:
        problems.append(f"emotion {clip['emotion']!r} with id {clip['emotion_id']!r} does not match the vocabulary")
    if clip["key"] != clip_key(clip["identity"], clip["anchor"], clip["emotion"]):
        problems.append("key does not match its identity/anchor/emotion")
    if clip["dir"] != clip_dir(clip["identity"], clip["anchor"], clip["emotion"]):
        problems.append(f"dir {clip['dir']!r} does not match its identity/anchor/emotion")
    settings = {"height": config.image_size[0], "width": config.image_size[1], "frame_format": config.frame_format,
                "fps": config.fps}
    differing = [f"{f} {clip[f]!r} (config: {v!r})" for f, v in settings.items() if clip[f] != v]
    if config.max_frames is not None and clip["num_frames"] > config.max_frames:
        differing.append(f"num_frames {clip['num_frames']} (config: at most {config.max_frames})")
    if differing:
        problems.append(f"disagrees with the dataset config on {', '.join(differing)}")
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
        raise DataError(f"{path} fails basic checks:{problem_list(problems)}")
    return manifest


def problem_list(problems: list[str], limit: int = 10) -> str:
    """The first ``limit`` problems, one per indented line (for an error message)."""
    more = [f"... and {len(problems) - limit} more"] if len(problems) > limit else []
    return "".join(f"\n  {p}" for p in [*problems[:limit], *more])


def vocabulary_of(manifest: dict[str, Any]) -> Vocabulary:
    return Vocabulary(manifest["emotions"])
