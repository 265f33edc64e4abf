"""The JSON records of a dataset: ``build.json``, ``identity.json``, ``anchor.json``, ``clip.json``,
and the manifest entries derived from them. One place, so the builder, ``merge`` and ``verify`` agree.
"""

from __future__ import annotations

import struct
from typing import Any

import torch

from emoctl._version import __version__
from emoctl.data.config import DatasetConfig
from emoctl.data.io import sha256_bytes
from emoctl.data.layout import FORMAT_NAME, SCHEMA_VERSION, clip_dir
from emoctl.data.types import Reenactor, Tracker, check_json_able
from emoctl.emotions import Vocabulary
from emoctl.errors import DataError


def timestamps_digest(timestamps: list[float] | torch.Tensor) -> str:
    """sha256 of the timestamps as little-endian float64: equal digests mean identical timing."""
    values = timestamps.double().tolist() if isinstance(timestamps, torch.Tensor) else [float(t) for t in timestamps]
    return sha256_bytes(struct.pack(f"<{len(values)}d", *values))


def generator_record(reenactor: Reenactor, tracker: Tracker) -> dict[str, Any]:
    """Which reenactor and tracker (with their settings) and which emoctl version made the clips."""
    record = {
        "reenactor": {"name": str(reenactor.name), "config": reenactor.config()},
        "tracker": {"name": str(tracker.name), "config": tracker.config()},
        "emoctl_version": __version__,
    }
    check_json_able(record, "reenactor/tracker config()")
    return record


def header_record(vocabulary: Vocabulary, config: DatasetConfig, generator: dict[str, Any]) -> dict[str, Any]:
    """The fields every shard of one dataset must share (``build.json``, shard files, manifest)."""
    return {
        "format": FORMAT_NAME,
        "schema_version": SCHEMA_VERSION,
        "emotions": list(vocabulary.names),
        "config": config.to_json(),
        "generator": generator,
    }


HEADER_FIELDS = ("format", "schema_version", "emotions", "config", "generator")


def header_differences(a: dict[str, Any], b: dict[str, Any]) -> list[str]:
    """The header fields on which two records disagree."""
    return [f for f in HEADER_FIELDS if a.get(f) != b.get(f)]


def clip_entry(clip_json: dict[str, Any], clip_json_bytes: bytes) -> dict[str, Any]:
    """The manifest entry of a clip, derived from its ``clip.json``: the record's fields, the checksum of
    ``clip.json`` itself (``clip_json``), and the number and total bytes of the clip's files
    (``clip.json`` included). The per-file checksums stay in ``clip.json``."""
    try:
        directory = clip_dir(clip_json["identity"], clip_json["anchor"], clip_json["emotion"])
        files = clip_json["files"]
        return {
            "key": clip_json["key"],
            "identity": clip_json["identity"],
            "anchor": clip_json["anchor"],
            "emotion": clip_json["emotion"],
            "emotion_id": clip_json["emotion_id"],
            "num_frames": clip_json["num_frames"],
            "num_views": clip_json["num_views"],
            "height": clip_json["height"],
            "width": clip_json["width"],
            "fps": clip_json["fps"],
            "frame_format": clip_json["frame_format"],
            "has_ground_truth": clip_json["has_ground_truth"],
            "timestamps_sha256": timestamps_digest(clip_json["timestamps"]),
            "dir": directory,
            "clip_json": {"sha256": sha256_bytes(clip_json_bytes), "bytes": len(clip_json_bytes)},
            "num_files": len(files) + 1,
            "bytes": sum(int(f["bytes"]) for f in files.values()) + len(clip_json_bytes),
        }
    except (KeyError, TypeError, ValueError, AttributeError) as exc:
        raise DataError(f"clip.json {clip_json.get('key', '?') if isinstance(clip_json, dict) else '?'} "
                        f"is missing a field or has a malformed one ({type(exc).__name__}: {exc})") from None
