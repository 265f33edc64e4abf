"""``build_dataset``: anchors x identities x emotions -> reenacted, tracked clips on disk (paper 3.3, S1.2).

Resumable and shardable. Jobs are the (identity, anchor, emotion) triples in a fixed order
(identities and anchors sorted by id, emotions in vocabulary order); shard ``i`` of ``n`` takes the
(identity, anchor) pairs whose index is ``i`` modulo ``n``, with all their emotions. Each clip is
written atomically (temporary directory, ``fsync``, rename), so a build killed at any moment and
started again skips the complete clips, removes the leftovers and finishes the rest; with a
deterministic reenactor the result is byte-identical to an uninterrupted build.
"""

from __future__ import annotations

import shutil
import time
from collections import abc
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Iterable

import numpy as np
import torch

from emoctl._files import atomic_write_bytes
from emoctl.data.cameras import CameraRig
from emoctl.data.config import DatasetConfig
from emoctl.data.flame_params import validate_flame_sequence
from emoctl.data.io import TMP_PREFIX, canonical_json, parse_json, read_json, temporary_prefix
from emoctl.data.layout import (
    BUILD_INFO,
    CLIP_JSON,
    anchor_dir,
    clip_dir,
    clip_key,
    curve_clip_names,
    identity_dir,
    pair_dir,
    shard_file,
)
from emoctl.data.merge import merge_shards
from emoctl.data.records import clip_entry, generator_record, header_differences, header_record
from emoctl.data.sharding import shard_pair
from emoctl.data.types import AnchorClip, Identity, ReenactedClip, Reenactor, Tracker, as_timestamps, check_safe_id
from emoctl.data.writers import frames_as_numpy, remove_leftovers, write_anchor, write_clip, write_identity
from emoctl.emotions import EMOTIONS, Vocabulary
from emoctl.errors import DataError, ShapeError

#: Reenacted timestamps may differ from the anchor's by 1 µs plus this fraction (float32 rounding of long
#: clips) and still count as synchronised; the anchor's own timestamps are what is stored.
TIMESTAMP_TOLERANCE = 1e-6


@dataclass(frozen=True)
class BuildSummary:
    """What one ``build_dataset`` call did (for its shard)."""

    clips_written: int
    clips_skipped: int
    clips_total: int
    seconds: float
    bytes_written: int
    shard: tuple[int, int]
    shard_path: Path
    manifest_path: Path | None


def build_dataset(
    anchors: Iterable[AnchorClip],
    identities: Iterable[Identity],
    reenactor: Reenactor,
    tracker: Tracker,
    out_dir: str | Path,
    shard: tuple[int, int] = (0, 1),
    *,
    config: DatasetConfig | None = None,
    emotions: "int | Iterable[str] | Vocabulary" = EMOTIONS,
    progress: bool = True,
) -> BuildSummary:
    """Reenact every identity with every anchor in every emotion, track it, and write the clips.

    ``anchors`` are resampled to ``config.fps`` and cut to ``config.max_frames``; every anchor must
    have every emotion of ``emotions`` (the vocabulary, neutral first), and the curves ``curve-0`` ...
    when ``config.curve_clips`` asks for curve clips (the reenactor is then also asked for
    ``reenact(identity, anchor, "curve-<j>")``). ``shard=(i, n)`` builds the
    i-th of n disjoint parts; each part writes ``shards/shard-<i>-of-<n>.json`` when it finishes, and
    :func:`~emoctl.data.merge.merge_shards` joins them into ``manifest.json`` (done here when n = 1).
    Everything the inputs can be checked for is checked before any file is written.
    """
    started = time.perf_counter()
    config = config if config is not None else DatasetConfig.appearance()
    if not isinstance(config, DatasetConfig):
        raise DataError(f"config must be a DatasetConfig, got {type(config).__name__}")
    vocabulary = Vocabulary.from_spec(emotions)
    for name in vocabulary.names:
        check_safe_id(name, "emotion name")
    index, count = shard_pair(shard)
    _check_protocols(reenactor, tracker)
    curves = curve_clip_names(config.curve_clips)
    anchor_list, source_fps = _prepare_anchors(anchors, vocabulary, config)
    identity_list = _check_identities(identities, vocabulary)
    header = header_record(vocabulary, config, generator_record(reenactor, tracker))

    root = Path(out_dir)
    pairs = [(i, a) for i in identity_list for a in anchor_list]
    mine = [pair for k, pair in enumerate(pairs) if k % count == index]
    jobs = [(ident, anchor, emotion) for ident, anchor in mine for emotion in (*vocabulary.names, *curves)]

    root.mkdir(parents=True, exist_ok=True)
    _check_or_write_build_info(root, header)
    own_shard = root / shard_file(index, count)
    own_shard.unlink(missing_ok=True)  # rewritten when this shard finishes; a stale one would lie
    tag = f"s{index}of{count}"
    for ident, anchor in mine:  # a pair's clips all belong to this shard, so its temporaries are ours
        remove_leftovers(root / pair_dir(ident.identity_id, anchor.anchor_id))

    bytes_written = 0
    identity_entries: dict[str, dict[str, Any]] = {}
    anchor_entries: dict[str, dict[str, Any]] = {}
    for ident in {i.identity_id: i for i, _ in mine}.values():
        remove_leftovers(root / identity_dir(ident.identity_id), f"{TMP_PREFIX}{tag}-")
        identity_entries[ident.identity_id], n = write_identity(root, ident, vocabulary, config, tag)
        bytes_written += n
    for anchor in {a.anchor_id: a for _, a in mine}.values():
        remove_leftovers(root / anchor_dir(anchor.anchor_id), f"{TMP_PREFIX}{tag}-")
        anchor_entries[anchor.anchor_id], n = write_anchor(
            root, anchor, source_fps[anchor.anchor_id], vocabulary, tag, curves
        )
        bytes_written += n

    clip_entries: list[dict[str, Any]] = []
    written = skipped = 0
    from tqdm.auto import tqdm

    with tqdm(total=len(jobs), disable=not progress, unit="clip", desc=f"emoctl data shard {index}/{count}") as bar:
        for ident, anchor, emotion in jobs:
            key = clip_key(ident.identity_id, anchor.anchor_id, emotion)
            final_dir = root / clip_dir(ident.identity_id, anchor.anchor_id, emotion)
            entry = _existing_clip_entry(final_dir, key, anchor.num_frames)
            if entry is not None:
                skipped += 1
            else:
                record, record_bytes = _make_clip(
                    final_dir, key, ident, anchor, emotion, vocabulary, reenactor, tracker, config
                )
                entry = clip_entry(record, record_bytes)
                bytes_written += entry["bytes"]
                written += 1
            clip_entries.append(entry)
            bar.update(1)
            bar.set_postfix(written=written, skipped=skipped, refresh=False)

    shard_record = {
        **header,
        "shard": {"index": index, "count": count},
        "jobs": {
            "identities": [i.identity_id for i in identity_list],
            "anchors": [a.anchor_id for a in anchor_list],
            "emotions": list(vocabulary.names),
            **({"curves": list(curves)} if curves else {}),
        },
        "identities": [identity_entries[k] for k in sorted(identity_entries)],
        "anchors": [anchor_entries[k] for k in sorted(anchor_entries)],
        "clips": clip_entries,
    }
    atomic_write_bytes(own_shard, canonical_json(shard_record), skip_identical=True, tmp_prefix=temporary_prefix(tag))
    manifest_path = merge_shards(root, num_shards=1) if count == 1 else None
    return BuildSummary(
        clips_written=written,
        clips_skipped=skipped,
        clips_total=len(jobs),
        seconds=time.perf_counter() - started,
        bytes_written=bytes_written,
        shard=(index, count),
        shard_path=own_shard,
        manifest_path=manifest_path,
    )


def _check_protocols(reenactor: Any, tracker: Any) -> None:
    if not isinstance(reenactor, Reenactor):
        raise DataError(
            f"reenactor {type(reenactor).__name__} does not follow the Reenactor protocol "
            "(needs name, config() and reenact(identity, anchor, emotion))"
        )
    if not isinstance(tracker, Tracker):
        raise DataError(
            f"tracker {type(tracker).__name__} does not follow the Tracker protocol (needs name, config() and track(clip, key))"
        )


def _listed(items: Iterable[Any], kind: type, name: str, what: str) -> list[Any]:
    """The argument ``name`` as a non-empty list of ``kind`` objects whose ids (attribute ``<what>_id``)
    are safe file names and unique."""
    if not isinstance(items, abc.Iterable) or isinstance(items, (str, bytes)):
        raise DataError(f"{name} must be an iterable of {kind.__name__} objects, got {type(items).__name__}")
    items = list(items)
    if not items:
        raise DataError(f"{name} is empty: a dataset needs at least one {what}")
    for item in items:
        if not isinstance(item, kind):
            raise DataError(f"{name} must be {kind.__name__} objects, got {type(item).__name__}")
        check_safe_id(getattr(item, f"{what}_id"), f"{what} id")
    ids = [getattr(item, f"{what}_id") for item in items]
    dupes = sorted({i for i in ids if ids.count(i) > 1})
    if dupes:
        raise DataError(f"duplicate {what} ids: {dupes}")
    return items


def _prepare_anchors(
    anchors: Iterable[AnchorClip], vocabulary: Vocabulary, config: DatasetConfig
) -> tuple[list[AnchorClip], dict[str, float]]:
    """Anchors checked against the vocabulary, resampled to ``config.fps``, cut to ``max_frames``, sorted
    by id; and the frame rate each came with."""
    anchors = _listed(anchors, AnchorClip, "anchors", "anchor")
    curves = curve_clip_names(config.curve_clips)
    clashing = [c for c in curves if c in vocabulary]
    if clashing:
        raise DataError(f"the vocabulary has emotions named like curve clips {clashing}; rename them")
    out = []
    for anchor in anchors:
        names = list(anchor.emotions)
        missing = [e for e in vocabulary.names if e not in anchor.emotions]
        extra = [e for e in names if e not in vocabulary.names]
        if missing or extra:
            raise DataError(
                f"anchor {anchor.anchor_id!r} must have exactly the vocabulary's emotions {list(vocabulary.names)}: "
                + (f"missing {missing}" if missing else "")
                + ("; " if missing and extra else "")
                + (f"not in the vocabulary {extra}" if extra else "")
            )
        lengths = {e: validate_flame_sequence(s, name=f"anchor {anchor.anchor_id!r}, emotion {e!r}")
                   for e, s in anchor.emotions.items()}
        if len(set(lengths.values())) != 1:
            raise DataError(f"anchor {anchor.anchor_id!r}: emotions have unequal frame counts {lengths}")
        as_timestamps(anchor.timestamps, anchor.num_frames, f"anchor {anchor.anchor_id!r}: timestamps")
        _check_curves(anchor, curves, vocabulary)
        prepared = anchor if anchor.fps == config.fps else anchor.resample(config.fps)
        if config.max_frames is not None and prepared.num_frames > config.max_frames:
            prepared = prepared.window(0, config.max_frames)
        out.append(prepared)
    return sorted(out, key=lambda a: a.anchor_id), {a.anchor_id: a.fps for a in anchors}


def _check_curves(anchor: AnchorClip, curves: tuple[str, ...], vocabulary: Vocabulary) -> None:
    """The anchor has the curves ``curves`` (others are not written), weighting ``vocabulary``."""
    missing = [c for c in curves if c not in anchor.curves]
    if missing:
        raise DataError(f"anchor {anchor.anchor_id!r} has no emotion curve(s) {missing} (it has {sorted(anchor.curves)}); "
                        f"DatasetConfig.curve_clips={len(curves)} needs {list(curves)}")
    for name in curves:
        if anchor.curves[name].weights.shape[1] != len(vocabulary):
            raise DataError(f"anchor {anchor.anchor_id!r}: curve {name!r} weights {anchor.curves[name].weights.shape[1]} "
                            f"emotions, the vocabulary has {len(vocabulary)} {list(vocabulary.names)}")


def _check_identities(identities: Iterable[Identity], vocabulary: Vocabulary) -> list[Identity]:
    identities = _listed(identities, Identity, "identities", "identity")
    for ident in identities:
        if ident.reference_emotion is not None and ident.reference_emotion not in vocabulary:
            raise DataError(
                f"identity {ident.identity_id!r}: reference_emotion {ident.reference_emotion!r} is not in the "
                f"vocabulary {list(vocabulary.names)}"
            )
    return sorted(identities, key=lambda i: i.identity_id)


def _check_or_write_build_info(root: Path, header: dict[str, Any]) -> None:
    path = root / BUILD_INFO
    if path.exists():
        existing = read_json(path, "build info")
        differences = header_differences(existing, header) if isinstance(existing, dict) else ["everything"]
        if differences:
            raise DataError(
                f"{root} was built with a different {', '.join(differences)} (see {path}); "
                "build into a new folder, or delete it to start over"
            )
        return
    atomic_write_bytes(path, canonical_json(header), skip_identical=True, tmp_prefix=temporary_prefix("build"))


def _existing_clip_entry(final_dir: Path, key: str, num_frames: int) -> dict[str, Any] | None:
    """The manifest entry of a complete clip (its ``clip.json`` exists), or None when it must be built."""
    path = final_dir / CLIP_JSON
    if not path.is_file():
        if final_dir.exists():  # not made by this builder (it renames complete directories only)
            shutil.rmtree(final_dir)
        return None
    data = path.read_bytes()
    record = parse_json(data, f"clip {key}", path)
    if not isinstance(record, dict) or record.get("key") != key or record.get("num_frames") != num_frames:
        raise DataError(
            f"clip {key}: {path} does not describe this clip with {num_frames} frames "
            f"(it says key={record.get('key') if isinstance(record, dict) else None!r}, "
            f"num_frames={record.get('num_frames') if isinstance(record, dict) else None!r}); delete it to rebuild"
        )
    return clip_entry(record, data)


def _check_reenacted(clip: Any, key: str, anchor: AnchorClip, config: DatasetConfig, reenactor_name: str) -> np.ndarray:
    """The clip's frames as uint8 ``[T, V, H, W, 3]`` numpy after checking everything about it."""
    who = f"clip {key}: reenactor {reenactor_name!r}"
    if not isinstance(clip, ReenactedClip):
        raise DataError(f"{who} returned {type(clip).__name__}, expected a ReenactedClip")
    if not isinstance(clip.cameras, CameraRig):
        raise DataError(f"{who} returned cameras of type {type(clip.cameras).__name__}, expected a CameraRig")
    frames = frames_as_numpy(clip.frames)
    height, width = config.image_size
    expected = [anchor.num_frames, clip.cameras.num_views, height, width, 3]
    if not isinstance(frames, np.ndarray):
        raise ShapeError(f"{who} returned frames of type {type(frames).__name__}, expected uint8 {expected}")
    if frames.dtype != np.uint8:
        raise ShapeError(f"{who} returned frames of dtype {frames.dtype}, expected uint8 {expected}")
    if list(frames.shape) != expected:
        raise ShapeError(f"{who} returned frames of shape {list(frames.shape)}, expected [T, V, H, W, 3] = {expected}")
    if (clip.cameras.width, clip.cameras.height) != (width, height):
        raise ShapeError(
            f"{who} returned cameras for {clip.cameras.width}x{clip.cameras.height} images, frames are {width}x{height}"
        )
    timestamps = as_timestamps(clip.timestamps, anchor.num_frames, f"{who}: timestamps")
    if not torch.allclose(timestamps, anchor.timestamps, rtol=TIMESTAMP_TOLERANCE, atol=TIMESTAMP_TOLERANCE):
        worst = float((timestamps - anchor.timestamps).abs().max())
        raise DataError(f"{who} returned timestamps that differ from the anchor's by up to {worst:.3g} s; "
                        "reenacted clips must keep the anchor's timing")
    if clip.flame is not None:
        validate_flame_sequence(clip.flame, num_frames=anchor.num_frames, name=f"{who}: ground-truth FLAME")
    return frames


def _make_clip(
    final_dir: Path,
    key: str,
    ident: Identity,
    anchor: AnchorClip,
    emotion: str,
    vocabulary: Vocabulary,
    reenactor: Reenactor,
    tracker: Tracker,
    config: DatasetConfig,
) -> tuple[dict[str, Any], bytes]:
    clip = reenactor.reenact(ident, anchor, emotion)
    frames = _check_reenacted(clip, key, anchor, config, reenactor.name)
    tracked = tracker.track(clip, key)
    validate_flame_sequence(tracked, num_frames=anchor.num_frames, name=f"clip {key}: tracker {tracker.name!r} output")
    curve = anchor.curves[emotion].weights if emotion not in vocabulary else None
    return write_clip(
        final_dir,
        key=key,
        identity_id=ident.identity_id,
        anchor=anchor,
        emotion=emotion,
        emotion_id=vocabulary.index(emotion) if curve is None else -1,
        frames=frames,
        cameras=clip.cameras,
        tracked=tracked,
        ground_truth=clip.flame,
        config=config,
        emotion_curve=curve,
    )
