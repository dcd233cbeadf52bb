"""Reading one snapshot file safely: regular files only, bounded size, OS errors named.

Every reader of market files goes through :func:`read_snapshot_bytes`, so a directory, a
FIFO, a device, a symlink loop or an unreadable file in place of a snapshot becomes one
:class:`SnapshotReadError` naming the file and the OS reason, never a hang, a traceback or
a silently empty result.
"""
from __future__ import annotations

import errno
import os
import stat

from gridregime.snapshot.errors import SnapshotNotFoundError, SnapshotValidationError

#: Largest snapshot file read (bytes). A 1h file of 1000 bars takes about 70 kB, so 32 MiB
#: leaves room for histories of several hundred thousand bars while a stray huge file is
#: refused before it is read into memory.
MAX_SNAPSHOT_BYTES = 32 * 1024 * 1024

_O_FLAGS = os.O_RDONLY | getattr(os, "O_NONBLOCK", 0) | getattr(os, "O_CLOEXEC", 0)


class SnapshotReadError(SnapshotValidationError):
    """A snapshot file exists but cannot be read as a snapshot (not a regular file, too
    large, or refused by the operating system). The field is ``"<file>"``."""

    def __init__(self, path: str | os.PathLike, field: str = "<file>", reason: str = ""):
        super().__init__(path, field, reason)


def os_reason(exc: OSError) -> str:
    """``"Permission denied (EACCES)"`` for an OS error."""
    name = errno.errorcode.get(exc.errno, "") if exc.errno is not None else ""
    text = exc.strerror or type(exc).__name__
    return f"{text} ({name})" if name else text


def file_kind(mode: int) -> str:
    for test, name in ((stat.S_ISDIR, "directory"), (stat.S_ISFIFO, "FIFO"), (stat.S_ISSOCK, "socket"),
                       (stat.S_ISCHR, "character device"), (stat.S_ISBLK, "block device"),
                       (stat.S_ISLNK, "symbolic link")):
        if test(mode):
            return name
    return "special file"


def read_snapshot_bytes(path: str | os.PathLike, *, max_bytes: int = MAX_SNAPSHOT_BYTES) -> bytes:
    """The bytes of the regular file at ``path`` (at most ``max_bytes``).

    Opening is non-blocking, so a FIFO never hangs the caller; anything but a regular file
    is refused after ``fstat``.

    Raises
    ------
    SnapshotNotFoundError
        Nothing exists at ``path``.
    SnapshotReadError
        Not a regular file, larger than ``max_bytes``, or an OS error (the reason names it).
    """
    p = os.fspath(path)
    try:
        fd = os.open(p, _O_FLAGS)
    except FileNotFoundError:
        raise SnapshotNotFoundError(f"{p}: no such snapshot file") from None
    except OSError as exc:
        raise SnapshotReadError(p, reason=f"cannot open: {os_reason(exc)}") from None
    try:
        st = os.fstat(fd)
        if not stat.S_ISREG(st.st_mode):
            raise SnapshotReadError(p, reason=f"expected a regular file, found a {file_kind(st.st_mode)}")
        if st.st_size > max_bytes:
            raise SnapshotReadError(
                p, reason=f"file of {st.st_size} bytes is larger than the {max_bytes} bytes a snapshot file may hold")
        chunks = []
        total = 0
        while True:
            chunk = os.read(fd, max(st.st_size - total, 0) + 1 if total < st.st_size else 1 << 16)
            if not chunk:
                break
            chunks.append(chunk)
            total += len(chunk)
            if total > max_bytes:
                raise SnapshotReadError(
                    p, reason=f"file grew beyond the {max_bytes} bytes a snapshot file may hold")
        return b"".join(chunks)
    except OSError as exc:
        raise SnapshotReadError(p, reason=f"cannot read: {os_reason(exc)}") from None
    finally:
        os.close(fd)
