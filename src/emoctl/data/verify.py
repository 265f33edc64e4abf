"""``verify``: check a built dataset against its manifest and report every problem by file and clip.

Checks: the manifest's structure; every listed file present with its recorded sha256; identity,
anchor and clip records consistent with the manifest; FLAME tensors with the right shapes and
finite values; frames readable with the right count and size; cameras readable; synchronisation
(every emotion of an (identity, anchor) present, with the anchor's frame count and identical
timestamps); no unlisted clip directories, files, or leftovers of an interrupted build.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import torch

from emoctl.data.flame_params import FLAME_IDENTITY_KEYS, validate_flame_sequence
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
    mp4_view_file,
    png_frame_file,
)
from emoctl.data.manifest import manifest_problems
from emoctl.media import read_mp4, read_png
from emoctl.data.reader import (
    anchor_flame,
    anchor_record,
    clip_flame,
    clip_record,
    identity_betas,
    identity_reference_image,
)
from emoctl.data.records import timestamps_digest
from emoctl.data.transforms import cameras_from_transforms
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
    except EmoctlError as exc:
        problems.append(str(exc))
        return report
    problems.extend(manifest_problems(manifest))
    if problems:
        return report

    bad_files = _check_checksums(root, manifest, report)
    emotions = list(manifest["emotions"])
    for entry in manifest["identities"]:
        _guard(problems, f"identity {entry['id']}", lambda e=entry: _check_identity(root, e, bad_files, problems))
    anchors = {entry["id"]: entry for entry in manifest["anchors"]}
    for entry in anchors.values():
        _guard(problems, f"anchor {entry['id']}", lambda e=entry: _check_anchor(root, e, emotions, bad_files, problems))

    from tqdm.auto import tqdm

    timestamps: dict[str, list[float]] = {}
    for clip in tqdm(manifest["clips"], disable=not progress, unit="clip", desc="verify"):
        _guard(problems, f"clip {clip['key']}",
               lambda c=clip: _check_clip(root, c, bad_files, check_frames, timestamps, problems))
    _check_sync(manifest, anchors, emotions, timestamps, problems)
    _check_unlisted(root, manifest, problems)
    report.counts = {
        "identities": len(manifest["identities"]),
        "anchors": len(manifest["anchors"]),
        "clips": len(manifest["clips"]),
        "files": report.counts.get("files", 0),
    }
    return report


def _guard(problems: list[str], who: str, check) -> None:
    try:
        check()
    except EmoctlError as exc:
        problems.append(f"{who}: {exc}")
    except (KeyError, TypeError, ValueError, IndexError) as exc:
        problems.append(f"{who}: malformed record ({type(exc).__name__}: {exc})")


def _owners(manifest: dict[str, Any]):
    for entry in manifest["identities"]:
        yield f"identity {entry['id']}", entry
    for entry in manifest["anchors"]:
        yield f"anchor {entry['id']}", entry
    for entry in manifest["clips"]:
        yield f"clip {entry['key']}", entry


def _check_checksums(root: Path, manifest: dict[str, Any], report: VerifyReport) -> set[str]:
    """Report missing files and checksum mismatches; return the paths that are missing or wrong."""
    bad: set[str] = set()
    n = 0
    for who, entry in _owners(manifest):
        for name, record in entry["files"].items():
            n += 1
            rel = f"{entry['dir']}/{name}"
            path = root / rel
            if not path.is_file():
                report.problems.append(f"{who}: missing file {rel}")
                bad.add(rel)
                continue
            actual = sha256_file(path)
            if actual != record.get("sha256"):
                report.problems.append(
                    f"{who}: checksum mismatch in {rel} (manifest sha256 {str(record.get('sha256'))[:12]}..., "
                    f"file {actual[:12]}...)"
                )
                bad.add(rel)
    report.counts["files"] = n
    return bad


def _check_identity(root: Path, entry: dict[str, Any], bad: set[str], problems: list[str]) -> None:
    who = f"identity {entry['id']}"
    if f"{entry['dir']}/{IDENTITY_JSON}" not in bad:
        info = read_json(root / entry["dir"] / IDENTITY_JSON, who)
        if info.get("identity_id") != entry["id"] or info.get("reference_emotion") != entry["reference_emotion"]:
            problems.append(f"{who}: {entry['dir']}/{IDENTITY_JSON} does not match the manifest")
    if f"{entry['dir']}/{REFERENCE_IMAGE}" not in bad:
        image = identity_reference_image(root, entry)
        if image.shape != (entry["height"], entry["width"], 3):
            problems.append(
                f"{who}: reference image is {list(image.shape)}, manifest says [{entry['height']}, {entry['width']}, 3]"
            )
    if entry["has_betas"] and f"{entry['dir']}/{BETAS_FILE}" not in bad:
        betas = identity_betas(root, entry)
        size = FLAME_IDENTITY_KEYS["betas"]
        if betas is None or tuple(betas.shape) != (size,) or not bool(torch.isfinite(betas).all()):
            problems.append(f"{who}: {BETAS_FILE} must hold finite betas of shape [{size}]")


def _check_anchor(root: Path, entry: dict[str, Any], emotions: list[str], bad: set[str], problems: list[str]) -> None:
    who = f"anchor {entry['id']}"
    if f"{entry['dir']}/{ANCHOR_JSON}" not in bad:
        record = anchor_record(root, entry)
        stamps = record.get("timestamps", [])
        if len(stamps) != entry["num_frames"] or timestamps_digest(stamps) != entry["timestamps_sha256"]:
            problems.append(f"{who}: timestamps in {entry['dir']}/{ANCHOR_JSON} do not match the manifest")
    for emotion in emotions:
        rel = f"{entry['dir']}/{anchor_emotion_file(emotion)}"
        if rel in bad:
            continue
        if anchor_emotion_file(emotion) not in entry["files"]:
            problems.append(f"{who}: no FLAME file for emotion {emotion!r} ({rel} is not listed)")
            continue
        try:
            validate_flame_sequence(anchor_flame(root, entry, emotion), num_frames=entry["num_frames"], name=rel)
        except EmoctlError as exc:
            problems.append(f"{who}: {exc}")


def _check_clip(
    root: Path,
    clip: dict[str, Any],
    bad: set[str],
    check_frames: bool,
    timestamps: dict[str, list[float]],
    problems: list[str],
) -> None:
    who = f"clip {clip['key']}"
    d = clip["dir"]
    if f"{d}/{CLIP_JSON}" not in bad:
        record = clip_record(root, clip)
        differing = [f for f in _CLIP_FIELDS_IN_RECORD if record.get(f) != clip[f]]
        if set(record.get("files", {})) | {CLIP_JSON} != set(clip["files"]):
            differing.append("files")
        if differing:
            problems.append(f"{who}: {d}/{CLIP_JSON} disagrees with the manifest on {differing}")
        stamps = record.get("timestamps", [])
        if len(stamps) != clip["num_frames"]:
            problems.append(f"{who}: {len(stamps)} timestamps for {clip['num_frames']} frames")
        elif timestamps_digest(stamps) != clip["timestamps_sha256"]:
            problems.append(f"{who}: timestamps in {d}/{CLIP_JSON} do not match the manifest's digest")
        timestamps[clip["key"]] = stamps
    T, V = clip["num_frames"], clip["num_views"]
    for name, gt in ((TRACKED_FLAME, False), (GROUND_TRUTH_FLAME, True)):
        if (gt and not clip["has_ground_truth"]) or f"{d}/{name}" in bad:
            continue
        try:
            validate_flame_sequence(clip_flame(root, clip, ground_truth=gt), num_frames=T, name=f"{d}/{name}")
        except EmoctlError as exc:
            problems.append(f"{who}: {exc}")
    if f"{d}/{TRANSFORMS}" not in bad:
        try:
            transforms = read_json(root / d / TRANSFORMS, who)
            rig = cameras_from_transforms(transforms, f"{d}/{TRANSFORMS}")
            if (rig.num_views, rig.width, rig.height) != (V, clip["width"], clip["height"]):
                problems.append(
                    f"{who}: {TRANSFORMS} has {rig.num_views} views of {rig.width}x{rig.height}, manifest says "
                    f"{V} of {clip['width']}x{clip['height']}"
                )
            entries = len(transforms["frames"])
            if entries != T * V:
                problems.append(f"{who}: {TRANSFORMS} has {entries} frame entries, expected {T} x {V} = {T * V}")
        except EmoctlError as exc:
            problems.append(f"{who}: {exc}")
    if check_frames:
        _check_frames(root, clip, bad, problems)


def _check_frames(root: Path, clip: dict[str, Any], bad: set[str], problems: list[str]) -> None:
    """Every frame file decodes to the clip's frame count and image size."""
    who, d = f"clip {clip['key']}", clip["dir"]
    T, V, size = clip["num_frames"], clip["num_views"], (clip["height"], clip["width"], 3)
    if clip["frame_format"] == "mp4":
        files = {mp4_view_file(v): (T, *size) for v in range(V)}
        read = read_mp4
    else:
        files = {png_frame_file(t, v): size for t in range(T) for v in range(V)}
        read = read_png
    for name, expected in files.items():
        rel = f"{d}/{name}"
        if rel in bad:
            continue
        if name not in clip["files"]:
            problems.append(f"{who}: frame file {rel} is not listed")
            continue
        try:
            shape = read(root / rel).shape
        except EmoctlError as exc:
            problems.append(f"{who}: {exc}")
            continue
        if shape != expected:
            problems.append(f"{who}: {rel} holds {list(shape)}, expected {list(expected)}")


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


def _check_unlisted(root: Path, manifest: dict[str, Any], problems: list[str]) -> None:
    clip_dirs = {c["dir"] for c in manifest["clips"]}
    listed_files = {f"{c['dir']}/{name}" for c in manifest["clips"] for name in c["files"]}
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
        elif len(parts) > 4 and "/".join(parts[:4]) in clip_dirs and path.is_file() and rel not in listed_files:
            problems.append(f"unlisted file {rel} in clip {'/'.join(parts[1:4])}")
