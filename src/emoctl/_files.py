"""Durable and atomic file writes, and file hashing, shared by every layer that writes files
(checkpoints, renders, FLAME files, datasets): the one atomic-write module.

A writer gets a temporary sibling of the destination, fills it, and the file is moved into
place with ``os.replace`` only on success; on failure the temporary file is removed and the
destination is left as it was. The temporary file is created with the usual ``0o666 & ~umask``
permissions, so the result is readable like any other file the user writes (``tempfile.mkstemp``
would leave it ``0o600``). Its name starts with a prefix the caller may choose, so a resumable
writer can recognise (and remove) what a killed process left behind.
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


def fsync_file(path: str | os.PathLike[str]) -> None:
    """``fsync`` a file another writer (an encoder given a path) has written and closed."""
    with open(path, "rb") as fh:
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


def unique_sibling(dest: Path, prefix: str, suffix: str = "") -> Path:
    """A name next to ``dest`` no other process picks: ``prefix``, process id, random hex, ``suffix``."""
    return dest.with_name(f"{prefix}{os.getpid()}-{uuid.uuid4().hex[:12]}{suffix}")


def _create_sibling(dest: Path, prefix: str | None) -> Path:
    """Create (exclusively) and return an empty temporary file next to ``dest``, same suffix;
    its name starts with ``prefix`` (default ``.<dest's name>.``)."""
    while True:
        tmp = unique_sibling(dest, f".{dest.name}." if prefix is None else prefix, f".tmp{dest.suffix}")
        try:
            fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o666)
        except FileExistsError:  # pragma: no cover - a 48-bit collision
            continue
        os.close(fd)
        return tmp


@contextlib.contextmanager
def atomic_path(path: str | os.PathLike[str], *, tmp_prefix: str | None = None) -> Iterator[Path]:
    """Yield a temporary path next to ``path`` (same suffix, so writers that pick a format from
    the suffix still work; name starting with ``tmp_prefix`` when given); on success move it onto
    ``path``, on failure delete it and leave ``path`` untouched. Parent folders are created."""
    dest = Path(path)
    dest.parent.mkdir(parents=True, exist_ok=True)
    tmp = _create_sibling(dest, tmp_prefix)
    try:
        yield tmp
        os.replace(tmp, dest)
    except BaseException:
        with contextlib.suppress(OSError):
            tmp.unlink()
        raise


def _holds(path: Path, payload: bytes) -> bool:
    """Whether ``path`` is a file holding exactly ``payload`` (read only when the size matches)."""
    return path.is_file() and path.stat().st_size == len(payload) and path.read_bytes() == payload


def atomic_write_bytes(
    path: str | os.PathLike[str],
    payload: bytes,
    *,
    skip_identical: bool = False,
    tmp_prefix: str | None = None,
) -> Path | None:
    """Write ``payload`` to ``path`` atomically and durably (the file ``fsync``-ed before the
    rename, its folder after).

    Args:
        path: destination file; parent folders are created.
        payload: the bytes.
        skip_identical: when ``path`` already holds exactly ``payload``, write nothing (the file
            and its modification time stay as they are) and return None.
        tmp_prefix: the temporary file's name starts with this (default ``.<name>.``), so a
            resumable writer can remove the leftovers of a killed run by prefix.

    Returns:
        The path written, or None when ``skip_identical`` found nothing to write.
    """
    dest = Path(path)
    if skip_identical and _holds(dest, payload):
        return None
    with atomic_path(dest, tmp_prefix=tmp_prefix) as tmp:
        write_durable(tmp, payload)
    fsync_dir(dest.parent)
    return dest
