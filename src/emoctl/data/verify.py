"""``verify``: check a built dataset against its manifest and report every problem by file and clip.

Checks: the manifest's structure; every listed file present with its recorded byte count and
sha256 (identity and anchor files as the manifest lists them; each clip's ``clip.json`` as the
manifest lists it, and the clip's other files as that ``clip.json`` lists them); identity, anchor and clip records consistent with the manifest; FLAME tensors with the
right shapes and finite values; frames readable with the right count and size; cameras readable;
synchronisation (every emotion of an (identity, anchor) present, with the anchor's frame count and
identical timestamps); emotion curves of curve clips (``[T, K]``, finite, non-negative, rows summing
to one, equal to their anchor's curve); no unlisted clip directories, files, or leftovers of an interrupted build.
The content checks are :mod:`emoctl.data.reader`'s, the ones the dataset makes when it reads an item.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable

from emoctl.data.config import DatasetConfig
from emoctl.data.io import TMP_PREFIX, read_json, sha256_file
from emoctl.data.layout import (
    ANCHOR_JSON,
    ANCHORS_DIR,
    BETAS_FILE,
    CLIP_JSON,
    CLIPS_DIR,
    GROUND_TRUTH_FLAME,
    IDENTITIES_DIR,
    IDENTITY_JSON,
    MANIFEST,
    REFERENCE_IMAGE,
    TRACKED_FLAME,
    TRANSFORMS,
    anchor_emotion_file,
    curve_clip_names,
)
from emoctl.data.manifest import file_table_problem, manifest_problems
from emoctl.data.reader import (
    anchor_emotion_curve,
    anchor_flame,
    anchor_record,
    anchor_timestamps,
    clip_cameras,
    clip_emotion_curve,
    clip_flame,
    clip_frame_files,
    clip_record,
    clip_timestamps,
    identity_betas,
    identity_record,
    identity_reference_image,
    owner_message,
    read_frame_file,
)
from emoctl.data.records import timestamps_digest
from emoctl.data.verify_curves import CurveRecords
from emoctl.errors import EmoctlError

_CLIP_FIELDS_IN_RECORD = (
    "key", "identity", "anchor", "emotion", "emotion_id", "num_frames", "num_views", "height", "width", "fps",
    "frame_format", "has_ground_truth",
)


@dataclass
class VerifyReport:
    """The result of :func:`verify`: ``ok`` when ``problems`` is empty."""

    root: Path
    problems: list[str] = field(default_factory=list)
    counts: dict[str, int] = field(default_factory=dict)

    @property
    def ok(self) -> bool:
        return not self.problems

    def summary(self) -> str:
        checked = ", ".join(f"{n} {what}" for what, n in self.counts.items())
        head = f"{self.root}: {'OK' if self.ok else f'{len(self.problems)} problem(s)'}" + (
            f" (checked {checked})" if checked else ""
        )
        return "\n".join([head, *(f"  - {p}" for p in self.problems)])


def verify(root: str | Path, *, check_frames: bool = True, progress: bool = False) -> VerifyReport:
    """Check the dataset at ``root``; never raises for a broken dataset, reports instead.

    ``check_frames=False`` skips decoding frames (checksums still cover them).
    """
    report = VerifyReport(Path(root))
    root = report.root
    problems = report.problems
    path = root / MANIFEST
    if not path.is_file():
        problems.append(f"{path}: missing (not a dataset, or its shards are not merged yet)")
        return report
    try:
        manifest = read_json(path, "manifest")
    except (EmoctlError, OSError) as exc:
        problems.append(str(exc))
        return report
    problems.extend(manifest_problems(manifest))
    if problems:
        return report

    bad_files, clip_files = _check_files(root, manifest, report)
    emotions = list(manifest["emotions"])
    curves = CurveRecords(curve_clip_names(DatasetConfig.from_json(manifest["config"]).curve_clips), len(emotions))
    for entry in manifest["identities"]:
        _guard(problems, f"identity {entry['id']}", _check_identity, root, entry, bad_files, problems)
    anchors = {entry["id"]: entry for entry in manifest["anchors"]}
    for entry in anchors.values():
        _guard(problems, f"anchor {entry['id']}", _check_anchor, root, entry, emotions, bad_files, problems, curves)

    from tqdm.auto import tqdm

    timestamps: dict[str, list[float]] = {}
    for clip in tqdm(manifest["clips"], disable=not progress, unit="clip", desc="verify"):
        _guard(problems, f"clip {clip['key']}", _check_clip, root, clip, clip_files[clip["key"]], bad_files, check_frames,
               timestamps, problems, curves)
    _check_sync(manifest, anchors, emotions + list(curves.names), timestamps, problems)
    curves.check_against_anchors(problems)
    _check_unlisted(root, manifest, clip_files, problems)
    report.counts = {
        "identities": len(manifest["identities"]),
        "anchors": len(manifest["anchors"]),
        "clips": len(manifest["clips"]),
        "files": report.counts.get("files", 0),
    }
    return report


def _guard(problems: list[str], who: str, check: Callable[..., Any], *args: Any, **kwargs: Any) -> Any:
    """``check(*args, **kwargs)``, or None and a problem of ``who`` when it fails on a broken dataset."""
    try:
        return check(*args, **kwargs)
    except EmoctlError as exc:
        problems.append(owner_message(who, exc))
    except OSError as exc:
        problems.append(f"{who}: {exc}")
    except (KeyError, TypeError, ValueError, IndexError, AttributeError) as exc:
        problems.append(f"{who}: malformed record ({type(exc).__name__}: {exc})")
    return None


def _check_files(
    root: Path, manifest: dict[str, Any], report: VerifyReport
) -> tuple[set[str], dict[str, dict[str, Any] | None]]:
    """Report missing files, size and checksum mismatches; return the paths that are missing or wrong, and
    each clip's file table (name -> ``{"sha256", "bytes"}``, ``clip.json`` included, as its ``clip.json``
    lists them; None when it cannot be read).

    Identity and anchor files are checked against the manifest; a clip's ``clip.json`` against the
    manifest's ``clip_json``, and the clip's other files against the table in its ``clip.json``."""
    bad: set[str] = set()
    n = 0
    for section, who_of in (("identities", "identity"), ("anchors", "anchor")):
        for entry in manifest[section]:
            for name, record in entry["files"].items():
                n += 1
                rel = f"{entry['dir']}/{name}"
                problem = _file_problem(root / rel, rel, record, "manifest")
                if problem:
                    report.problems.append(f"{who_of} {entry['id']}: {problem}")
                    bad.add(rel)
    tables: dict[str, dict[str, Any] | None] = {}
    for clip in manifest["clips"]:
        tables[clip["key"]] = table = _clip_file_table(root, clip, bad, report.problems)
        for name, record in (table or {}).items():
            n += 1
            rel = f"{clip['dir']}/{name}"
            problem = None if name == CLIP_JSON else _file_problem(root / rel, rel, record, CLIP_JSON)
            if problem:
                report.problems.append(f"clip {clip['key']}: {problem}")
                bad.add(rel)
    report.counts["files"] = n
    return bad, tables


def _clip_file_table(root: Path, clip: dict[str, Any], bad: set[str], problems: list[str]) -> dict[str, Any] | None:
    """The clip's files as its ``clip.json`` lists them, plus ``clip.json`` itself (checked here against
    the manifest); None when ``clip.json`` is missing or unreadable (reported: the clip's files cannot be
    checked then). A ``clip.json`` that does not match the manifest's checksum is reported, and its table
    still used when it is readable (it may be what was damaged); one that agrees must list as many files
    and bytes as the manifest says."""
    who, rel = f"clip {clip['key']}", f"{clip['dir']}/{CLIP_JSON}"
    sealed = clip["clip_json"]
    problem = _file_problem(root / rel, rel, sealed, "manifest")
    if problem:
        problems.append(f"{who}: {problem}")
        bad.add(rel)
    if not (root / rel).is_file():
        return None
    record = _guard(problems, who, clip_record, root, clip)
    if record is None:
        bad.add(rel)  # reported; the record's other checks are skipped
        return None
    files = record.get("files")
    malformed = file_table_problem(files)
    if malformed:
        problems.append(f"{who}: {rel}: {malformed}")
        bad.add(rel)
        return None
    table = {name: r for name, r in files.items() if name != CLIP_JSON}
    if rel not in bad:
        count, size = len(table) + 1, sum(r["bytes"] for r in table.values()) + sealed["bytes"]
        if (count, size) != (clip["num_files"], clip["bytes"]):
            problems.append(f"{who}: {rel} lists {count} files of {size} bytes, the manifest says "
                            f"{clip['num_files']} files of {clip['bytes']} bytes")
    return {**table, CLIP_JSON: sealed}


def _file_problem(path: Path, rel: str, record: dict[str, Any], source: str) -> str | None:
    """What is wrong with one listed file (``record``: its ``{"sha256", "bytes"}`` in ``source``), or None."""
    if not path.is_file():
        return f"missing file {rel}"
    try:
        size = path.stat().st_size
        if size != record["bytes"]:
            return f"size mismatch in {rel} ({source} {record['bytes']} bytes, file {size} bytes)"
        actual = sha256_file(path)
    except OSError as exc:
        return f"cannot read {rel} ({exc.strerror or exc})"
    if actual != record["sha256"]:
        return f"checksum mismatch in {rel} ({source} sha256 {record['sha256'][:12]}..., file {actual[:12]}...)"
    return None


def _differing(record: dict[str, Any], expected: dict[str, Any]) -> list[str]:
    """The fields of ``expected`` on which a JSON record disagrees."""
    return [f for f, value in expected.items() if record.get(f) != value]


def _check_identity(root: Path, entry: dict[str, Any], bad: set[str], problems: list[str]) -> None:
    who, d = f"identity {entry['id']}", entry["dir"]
    if f"{d}/{IDENTITY_JSON}" not in bad:
        info = _guard(problems, who, identity_record, root, entry)
        expected = {
            "identity_id": entry["id"],
            "reference_emotion": entry["reference_emotion"],
            "height": entry["height"],
            "width": entry["width"],
            "betas": BETAS_FILE if entry["has_betas"] else None,
            "traits": entry["traits"],
        }
        differing = _differing(info, expected) if info is not None else []
        if differing:
            problems.append(f"{who}: {d}/{IDENTITY_JSON} disagrees with the manifest on {differing}")
    if f"{d}/{REFERENCE_IMAGE}" not in bad:
        _guard(problems, who, identity_reference_image, root, entry)
    if entry["has_betas"] and f"{d}/{BETAS_FILE}" not in bad:
        _guard(problems, who, identity_betas, root, entry)


def _check_anchor(root: Path, entry: dict[str, Any], emotions: list[str], bad: set[str], problems: list[str],
                  curves: CurveRecords) -> None:
    who, d = f"anchor {entry['id']}", entry["dir"]
    if f"{d}/{ANCHOR_JSON}" not in bad:
        record = _guard(problems, who, anchor_record, root, entry)
        if record is not None:
            differing = _differing(record, {"anchor_id": entry["id"], "fps": entry["fps"],
                                            "num_frames": entry["num_frames"]})
            if differing:
                problems.append(f"{who}: {d}/{ANCHOR_JSON} disagrees with the manifest on {differing}")
            stamps = _guard(problems, who, anchor_timestamps, root, entry, record)
            if stamps is not None and timestamps_digest(stamps) != entry["timestamps_sha256"]:
                problems.append(f"{who}: timestamps in {d}/{ANCHOR_JSON} do not match the manifest")
            for name in curves.names:
                weights = _guard(problems, who, anchor_emotion_curve, root, entry, name, curves.num_emotions, record)
                if weights is not None:
                    curves.anchors[(entry["id"], name)] = weights
    for emotion in (*emotions, *curves.names):
        rel = f"{d}/{anchor_emotion_file(emotion)}"
        if rel in bad:
            continue
        if anchor_emotion_file(emotion) not in entry["files"]:
            problems.append(f"{who}: no FLAME file for emotion {emotion!r} ({rel} is not listed)")
            continue
        _guard(problems, who, anchor_flame, root, entry, emotion)


def _check_clip(
    root: Path,
    clip: dict[str, Any],
    files: dict[str, Any] | None,
    bad: set[str],
    check_frames: bool,
    timestamps: dict[str, list[float]],
    problems: list[str],
    curves: CurveRecords,
) -> None:
    who, d = f"clip {clip['key']}", clip["dir"]
    if f"{d}/{CLIP_JSON}" not in bad:
        record = _guard(problems, who, clip_record, root, clip)
        if record is not None:
            differing = _differing(record, {f: clip[f] for f in _CLIP_FIELDS_IN_RECORD})
            if differing:
                problems.append(f"{who}: {d}/{CLIP_JSON} disagrees with the manifest on {differing}")
            stamps = _guard(problems, who, clip_timestamps, root, clip, record)
            if stamps is not None:
                if timestamps_digest(stamps) != clip["timestamps_sha256"]:
                    problems.append(f"{who}: timestamps in {d}/{CLIP_JSON} do not match the manifest's digest")
                timestamps[clip["key"]] = stamps.tolist()
            if clip["emotion"] in curves.names:
                weights = _guard(problems, who, clip_emotion_curve, root, clip, curves.num_emotions, record)
                if weights is not None:
                    curves.clips[clip["key"]] = (clip["anchor"], clip["emotion"], weights)
            elif "emotion_curve" in record:
                problems.append(f"{who}: {d}/{CLIP_JSON} has an emotion_curve but {clip['emotion']!r} is not a curve clip")
    for name, gt in ((TRACKED_FLAME, False), (GROUND_TRUTH_FLAME, True)):
        if (gt and not clip["has_ground_truth"]) or f"{d}/{name}" in bad:
            continue
        _guard(problems, who, clip_flame, root, clip, ground_truth=gt)
    if f"{d}/{TRANSFORMS}" not in bad:
        _guard(problems, who, clip_cameras, root, clip)
    if check_frames:
        for name in clip_frame_files(clip):
            rel = f"{d}/{name}"
            if rel in bad:
                continue
            if files is not None and name not in files:
                problems.append(f"{who}: frame file {rel} is not listed")
                continue
            _guard(problems, who, read_frame_file, root, clip, name)


def _check_sync(
    manifest: dict[str, Any],
    anchors: dict[str, dict[str, Any]],
    emotions: list[str],
    timestamps: dict[str, list[float]],
    problems: list[str],
) -> None:
    groups: dict[tuple[str, str], dict[str, dict[str, Any]]] = defaultdict(dict)
    for clip in manifest["clips"]:
        groups[(clip["identity"], clip["anchor"])][clip["emotion"]] = clip
    for (identity, anchor_id), clips in groups.items():
        where = f"identity {identity}, anchor {anchor_id}"
        missing = [e for e in emotions if e not in clips]
        if missing:
            problems.append(f"not synchronised: {where}: no clip in emotion(s) {missing}")
        anchor = anchors.get(anchor_id)
        for emotion, clip in clips.items():
            if anchor is None:
                continue
            if clip["num_frames"] != anchor["num_frames"]:
                problems.append(
                    f"not synchronised: clip {clip['key']} has {clip['num_frames']} frames, anchor {anchor_id} and "
                    f"its other emotions have {anchor['num_frames']}"
                )
            elif clip["timestamps_sha256"] != anchor["timestamps_sha256"] or clip["fps"] != anchor["fps"]:
                detail = _first_difference(timestamps, clips, clip["key"])
                problems.append(
                    f"not synchronised: clip {clip['key']} has timestamps different from anchor {anchor_id}'s"
                    f"{detail}"
                )


def _first_difference(timestamps: dict[str, list[float]], clips: dict[str, dict[str, Any]], key: str) -> str:
    mine = timestamps.get(key)
    others = [timestamps[c["key"]] for c in clips.values() if c["key"] != key and c["key"] in timestamps]
    if mine is None or not others:
        return ""
    other = max(others, key=lambda o: sum(o == p for p in others))
    for t, (a, b) in enumerate(zip(mine, other)):
        if a != b:
            return f" (first at frame {t}: {a} s vs {b} s in the other emotions)"
    return ""


def _check_unlisted(root: Path, manifest: dict[str, Any], clip_files: dict[str, dict[str, Any] | None],
                    problems: list[str]) -> None:
    clip_dirs = {c["dir"] for c in manifest["clips"]}
    unknown = {c["dir"] for c in manifest["clips"] if clip_files[c["key"]] is None}  # no readable clip.json
    listed_files = {f"{c['dir']}/{name}" for c in manifest["clips"] for name in clip_files[c["key"]] or ()}
    for top, listed in (
        (IDENTITIES_DIR, {e["dir"] for e in manifest["identities"]}),
        (ANCHORS_DIR, {e["dir"] for e in manifest["anchors"]}),
    ):
        for child in sorted((root / top).iterdir()) if (root / top).is_dir() else ():
            rel = f"{top}/{child.name}"
            if rel not in listed:
                problems.append(f"unlisted directory {rel} (not in the manifest)")
    clips_root = root / CLIPS_DIR
    if not clips_root.is_dir():
        return
    for path in sorted(clips_root.rglob("*")):
        rel = path.relative_to(root).as_posix()
        parts = rel.split("/")
        if path.name.startswith(TMP_PREFIX):
            problems.append(f"leftover temporary {rel} from an interrupted build (run the build again to finish it)")
        elif len(parts) == 4 and path.is_dir() and rel not in clip_dirs:
            problems.append(f"unlisted clip directory {rel} (not in the manifest)")
        elif (len(parts) > 4 and "/".join(parts[:4]) in clip_dirs - unknown and path.is_file()
              and rel not in listed_files):
            problems.append(f"unlisted file {rel} in clip {'/'.join(parts[1:4])}")
