"""Durable, atomic file writes, checksums, canonical JSON and safetensors for the dataset.

Every file of a dataset is written either inside a temporary clip directory that is renamed into
place once complete (see :mod:`emoctl.data.builder`), or with :func:`emoctl._files.atomic_write_bytes`
(a temporary sibling named with :func:`temporary_prefix`, ``fsync``, ``os.replace``; identical
bytes are not rewritten). Either way a reader never sees half a file.
"""

from __future__ import annotations

import hashlib
import json
import os
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import torch

from emoctl.data.flame_params import FlameSequence
from emoctl._files import fsync_dir, sha256_file, write_durable  # noqa: F401  (re-exported for the data layer)
from emoctl._files import unique_sibling
from emoctl.errors import DataError

#: Temporary files and directories start with this prefix; a build removes its own leftovers.
TMP_PREFIX = ".tmp-"


def sha256_bytes(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def file_record(path: str | os.PathLike[str]) -> dict[str, Any]:
    """``{"sha256": ..., "bytes": ...}`` of a file, as stored in ``clip.json`` and the manifest."""
    return {"sha256": sha256_file(path), "bytes": os.path.getsize(path)}


def canonical_json(obj: Any) -> bytes:
    """Deterministic, compact JSON bytes (sorted keys, exact float round trip, no NaN, trailing newline).

    Compact because a manifest lists a checksum for every frame file; ``python -m json.tool`` pretty-prints.
    """
    text = json.dumps(obj, sort_keys=True, separators=(",", ":"), allow_nan=False, ensure_ascii=False)
    return (text + "\n").encode("utf-8")


def read_json(path: str | os.PathLike[str], what: str) -> Any:
    try:
        with open(path, "rb") as fh:
            data = fh.read()
    except FileNotFoundError:
        raise DataError(f"{what}: file {os.fspath(path)} does not exist") from None
    return parse_json(data, what, path)


def parse_json(data: bytes, what: str, path: str | os.PathLike[str]) -> Any:
    """JSON from ``data`` already read from ``path`` (named in the error when it is not JSON)."""
    try:
        return json.loads(data.decode("utf-8"))
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise DataError(f"{what}: {os.fspath(path)} is not valid JSON ({exc})") from None


def temporary_prefix(tag: str) -> str:
    """How the names of a build's temporary files and directories for ``tag`` start."""
    return f"{TMP_PREFIX}{tag}-"


def temporary_sibling(path: Path, tag: str) -> Path:
    """A unique name next to ``path`` that starts with :func:`temporary_prefix` of ``tag``."""
    return unique_sibling(path, temporary_prefix(tag))


def flame_to_bytes(seq: Mapping[str, torch.Tensor]) -> bytes:
    """A FLAME sequence (or any dict of tensors) as safetensors bytes (float32, contiguous, deterministic)."""
    from safetensors.torch import save

    tensors = {k: v.detach().to(device="cpu", dtype=torch.float32).contiguous() for k, v in seq.items()}
    return save(tensors)


def load_tensors(path: str | os.PathLike[str], what: str) -> FlameSequence:
    """The tensors of a safetensors file (never pickle)."""
    from safetensors import SafetensorError
    from safetensors.torch import load

    try:
        with open(path, "rb") as fh:
            return load(fh.read())
    except FileNotFoundError:
        raise DataError(f"{what}: file {os.fspath(path)} does not exist") from None
    except (SafetensorError, ValueError, OSError) as exc:
        raise DataError(f"{what}: {os.fspath(path)} is not a readable safetensors file ({exc})") from None
