"""Atomic file writes: a reader sees the old file or the new one, never a torn one."""
from __future__ import annotations

import os
import tempfile
from pathlib import Path


def _umask() -> int:
    """The process umask, read without changing it where the platform allows (Linux)."""
    try:
        with open("/proc/self/status", "rb") as fh:
            for line in fh:
                if line.startswith(b"Umask:"):
                    return int(line.split()[1], 8)
    except (OSError, ValueError, IndexError):
        pass
    mask = os.umask(0o022)  # elsewhere: set and restore (briefly process-wide)
    os.umask(mask)
    return mask


def _fsync_dir(directory: Path) -> None:
    try:
        fd = os.open(directory, os.O_RDONLY)
    except OSError:  # platforms without directory fds
        return
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def atomic_write_bytes(path: str | os.PathLike, data: bytes, *, make_dirs: bool = True) -> Path:
    """Write ``data`` to ``path`` atomically.

    The bytes go to a temporary file in the same directory (same filesystem, so the rename is
    atomic), are fsynced, and the temporary file is renamed over ``path``; the directory is
    fsynced so the rename itself survives a crash. On any error the temporary file is removed.
    The file gets the mode a plain ``open(path, "w")`` would give (``0o666`` less the umask,
    0644 by default), not the private 0600 of a temporary file.
    """
    path = Path(path)
    if make_dirs:
        path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    try:
        with os.fdopen(fd, "wb") as fh:
            os.fchmod(fh.fileno(), 0o666 & ~_umask())
            fh.write(data)
            fh.flush()
            os.fsync(fh.fileno())
        os.replace(tmp, path)
    except BaseException:
        try:
            os.unlink(tmp)
        except FileNotFoundError:
            pass
        raise
    _fsync_dir(path.parent)
    return path


def atomic_write_text(path: str | os.PathLike, text: str, *, make_dirs: bool = True) -> Path:
    return atomic_write_bytes(path, text.encode("utf-8"), make_dirs=make_dirs)
