"""``merge_shards``: join the shard files of a build into ``manifest.json``.

Shards built on different machines are merged by copying their folders into one (``rsync -a`` or
``cp -r``; no file is in two shards except identical identity and anchor files) and calling
``merge_shards`` there. It refuses shards that do not belong together.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

from emoctl._files import atomic_write_bytes
from emoctl.data.io import canonical_json, read_json, temporary_prefix
from emoctl.data.layout import CLIP_JSON, MANIFEST, SHARDS_DIR, shard_file
from emoctl.data.manifest import field_problems, manifest_problems, problem_list
from emoctl.data.records import HEADER_FIELDS, header_differences
from emoctl.data.types import is_safe_id
from emoctl.errors import DataError

_SINGULAR = {"identities": "identity", "anchors": "anchor", "clips": "clip"}
_SHARD_NAME = re.compile(r"^shard-(\d+)-of-(\d+)\.json$")


def merge_shards(out_dir: str | Path, *, num_shards: int | None = None) -> Path:
    """Write ``out_dir/manifest.json`` from ``out_dir/shards/shard-<i>-of-<n>.json`` (all ``i`` in ``0..n-1``).

    ``num_shards`` picks ``n`` when shard files of several counts are present. Refuses, with a
    message naming the culprit: a missing shard, shards with a different vocabulary, config or
    generator, an identity, anchor or clip claimed twice with different checksums, a clip of the
    job set that no shard wrote, and a listed clip whose directory is not in ``out_dir``.
    """
    root = Path(out_dir)
    count = _shard_count(root, num_shards)
    missing = [shard_file(i, count) for i in range(count) if not (root / shard_file(i, count)).is_file()]
    if missing:
        raise DataError(
            f"cannot merge {root}: missing shard file(s) {missing} (those shards have not finished, "
            "or their folders were not copied here)"
        )
    shards = [read_json(root / shard_file(i, count), f"shard {i} of {count}") for i in range(count)]
    first = shards[0]
    for i, shard in enumerate(shards):
        if not isinstance(shard, dict) or not all(f in shard for f in (*HEADER_FIELDS, "jobs", "clips")):
            raise DataError(f"cannot merge {root}: {shard_file(i, count)} is not a shard file of this format")
        differences = header_differences(first, shard)
        if shard.get("jobs") != first.get("jobs"):
            differences.append("job set (identities, anchors, emotions)")
        if differences:
            raise DataError(
                f"cannot merge {root}: {shard_file(i, count)} differs from {shard_file(0, count)} in "
                f"{', '.join(differences)}; shards must come from one build"
            )
        problems = field_problems(shard, shard_file(i, count)) + _jobs_problems(shard["jobs"], shard_file(i, count))
        if problems:
            raise DataError(f"cannot merge {root}: {shard_file(i, count)} is malformed:{problem_list(problems)}")

    identities = _union(shards, "identities", "id", count)
    anchors = _union(shards, "anchors", "id", count)
    clips = _union(shards, "clips", "key", count)
    jobs = first["jobs"]
    names = [*jobs["emotions"], *jobs.get("curves", [])]  # curve clips: DatasetConfig.curve_clips
    expected = [f"{i}/{a}/{e}" for i in jobs["identities"] for a in jobs["anchors"] for e in names]
    absent = [key for key in expected if key not in clips]
    if absent:
        raise DataError(f"cannot merge {root}: {len(absent)} clip(s) of the job set are in no shard, e.g. {absent[:3]}")
    not_here = [key for key in expected if not (root / clips[key]["dir"] / CLIP_JSON).is_file()]
    if not_here:
        raise DataError(
            f"cannot merge {root}: {len(not_here)} listed clip(s) are not in this folder, e.g. "
            f"{[clips[k]['dir'] for k in not_here[:3]]} (copy every shard's folder here first)"
        )
    manifest: dict[str, Any] = {f: first[f] for f in HEADER_FIELDS}
    manifest["identities"] = [identities[k] for k in jobs["identities"]]
    manifest["anchors"] = [anchors[k] for k in jobs["anchors"]]
    manifest["clips"] = [clips[k] for k in expected]
    problems = manifest_problems(manifest)
    if problems:  # shards that are each well-formed but do not add up (e.g. a job set listing an id twice)
        raise DataError(f"cannot merge {root}: the merged manifest would be malformed:{problem_list(problems)}")
    path = root / MANIFEST
    atomic_write_bytes(path, canonical_json(manifest), skip_identical=True, tmp_prefix=temporary_prefix("manifest"))
    return path


def _jobs_problems(jobs: Any, name: str) -> list[str]:
    """What is wrong with a shard's job set: non-empty lists of identity, anchor and emotion ids (and
    optionally of curve clip names)."""
    parts = ("identities", "anchors", "emotions")
    if isinstance(jobs, dict) and all(
        isinstance(jobs.get(p), list) and jobs[p] and all(is_safe_id(i) for i in jobs[p]) for p in parts
    ) and (isinstance(jobs.get("curves", []), list) and all(is_safe_id(i) for i in jobs.get("curves", []))):
        return []
    return [f"{name}: jobs is {jobs!r:.200}, expected non-empty lists of ids: {', '.join(parts)}"]


def _shard_count(root: Path, num_shards: int | None) -> int:
    directory = root / SHARDS_DIR
    counts = sorted({int(m.group(2)) for p in (directory.iterdir() if directory.is_dir() else ())
                     if (m := _SHARD_NAME.match(p.name))})
    if num_shards is not None:
        if isinstance(num_shards, bool) or not isinstance(num_shards, int) or num_shards < 1:
            raise DataError(f"num_shards must be an int >= 1, got {num_shards!r}")
        return num_shards
    if not counts:
        raise DataError(f"cannot merge {root}: no shard files in {directory} (build_dataset writes them)")
    if len(counts) > 1:
        raise DataError(
            f"cannot merge {root}: shard files for different shard counts {counts} are present in {directory}; "
            "pass num_shards, or remove the stale ones"
        )
    return counts[0]


def _union(shards: list[dict[str, Any]], field: str, key: str, count: int) -> dict[str, dict[str, Any]]:
    """Entries of ``field`` from every shard by ``key``; the same key twice must carry the same entry."""
    out: dict[str, dict[str, Any]] = {}
    owner: dict[str, int] = {}
    for i, shard in enumerate(shards):
        for entry in shard.get(field, []):
            name = entry[key]
            if name in out and out[name] != entry:
                sealed = ("files", "clip_json", "num_files", "bytes")
                what = "checksums" if any(out[name].get(f) != entry.get(f) for f in sealed) else "records"
                raise DataError(
                    f"cannot merge: {_SINGULAR[field]} {name!r} is claimed by {shard_file(owner[name], count)} and "
                    f"{shard_file(i, count)} with different {what}"
                )
            out.setdefault(name, entry)
            owner.setdefault(name, i)
    return out


def merge_if_complete(out_dir: str | Path, num_shards: int) -> Path | None:
    """Merge ``out_dir``'s shards when every shard file of ``num_shards`` is there (the last shard process
    of a build to finish calls this and writes the manifest; shard processes that finish together write
    the same bytes, atomically); None while some shard is missing."""
    root = Path(out_dir)
    if all((root / shard_file(i, num_shards)).is_file() for i in range(num_shards)):
        return merge_shards(root, num_shards=num_shards)
    return None
