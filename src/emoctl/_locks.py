"""Advisory folder locks: shared for readers, exclusive for writers (layer 0).

On POSIX systems the lock is ``flock(2)`` on a descriptor of the folder itself, so no lock file is
ever left in the folder. Every call opens its own descriptor, so two threads of one process
exclude each other exactly as two processes do, and the kernel drops the lock when its holder
dies (a killed save never leaves the folder locked).

The lock is advisory: it orders emoctl's own readers and writers, not other programs. Where it is
unavailable it is skipped, and the context manager yields ``False``: on Windows (no ``fcntl``),
and on file systems that refuse ``flock`` on a folder (some network file systems).
"""

from __future__ import annotations

import contextlib
import errno
import os
from collections.abc import Iterator

try:
    import fcntl
except ImportError:  # pragma: no cover - Windows
    fcntl = None

# flock failures that mean "this file system cannot lock", not "something is wrong"
_UNSUPPORTED = {errno.EBADF, errno.EINVAL, errno.ENOLCK, errno.EOPNOTSUPP, getattr(errno, "ENOTSUP", errno.EOPNOTSUPP)}


@contextlib.contextmanager
def folder_lock(path: str | os.PathLike[str], *, shared: bool = False) -> Iterator[bool]:
    """Hold an exclusive (or ``shared``) lock on the folder ``path`` for the ``with`` block;
    blocks until it is granted. Yields whether a lock is actually held (see the module doc)."""
    if fcntl is None:  # pragma: no cover - Windows
        yield False
        return
    fd = os.open(path, os.O_RDONLY | getattr(os, "O_DIRECTORY", 0))
    try:
        try:
            fcntl.flock(fd, fcntl.LOCK_SH if shared else fcntl.LOCK_EX)
        except OSError as exc:
            if exc.errno not in _UNSUPPORTED:
                raise
            yield False
            return
        yield True  # closing the descriptor releases the lock
    finally:
        os.close(fd)
