"""Durable and atomic file writes, and file hashing, shared by every layer that writes files
(checkpoints, renders, FLAME files, datasets).

A writer gets a temporary sibling of the destination, fills it, and the file is moved into
place with ``os.replace`` only on success; on failure the temporary file is removed and the
destination is left as it was. The temporary file is created with the usual ``0o666 & ~umask``
permissions, so the result is readable like any other file the user writes (``tempfile.mkstemp``
would leave it ``0o600``).
"""

from __future__ import annotations

import contextlib
import hashlib
import os
import uuid
from collections.abc import Iterator
from pathlib import Path


_CHUNK = 1 << 20


def sha256_file(path: str | os.PathLike[str]) -> str:
    """Hex SHA-256 of a file, read in 1 MiB chunks."""
    digest = hashlib.sha256()
    with open(path, "rb") as fh:
        while chunk := fh.read(_CHUNK):
            digest.update(chunk)
    return digest.hexdigest()


def write_durable(path: str | os.PathLike[str], data: bytes) -> None:
    """Write ``data`` to ``path`` and ``fsync`` it before returning."""
    with open(path, "wb") as fh:
        fh.write(data)
        fh.flush()
        os.fsync(fh.fileno())


def fsync_dir(path: str | os.PathLike[str]) -> None:
    """Make a folder's entries (new names, renames) durable; a no-op where the platform cannot
    open or sync folders."""
    try:
        fd = os.open(path, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(fd)
    except OSError:
        pass
    finally:
        os.close(fd)


def _create_sibling(dest: Path) -> Path:
    """Create (exclusively) and return an empty temporary file next to ``dest``, same suffix."""
    while True:
        tmp = dest.with_name(f".{dest.name}.{os.getpid()}-{uuid.uuid4().hex[:12]}.tmp{dest.suffix}")
        try:
            fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o666)
        except FileExistsError:  # pragma: no cover - a 48-bit collision
            continue
        os.close(fd)
        return tmp


@contextlib.contextmanager
def atomic_path(path: str | os.PathLike[str]) -> Iterator[Path]:
    """Yield a temporary path next to ``path`` (same suffix, so writers that pick a format from
    the suffix still work); on success move it onto ``path``, on failure delete it and leave
    ``path`` untouched. Parent folders are created."""
    dest = Path(path)
    dest.parent.mkdir(parents=True, exist_ok=True)
    tmp = _create_sibling(dest)
    try:
        yield tmp
        os.replace(tmp, dest)
    except BaseException:
        with contextlib.suppress(OSError):
            tmp.unlink()
        raise


def atomic_write_bytes(path: str | os.PathLike[str], payload: bytes) -> Path:
    """Write ``payload`` to ``path`` atomically and durably (``fsync`` before the rename)."""
    dest = Path(path)
    with atomic_path(dest) as tmp:
        write_durable(tmp, payload)
    fsync_dir(dest.parent)
    return dest
