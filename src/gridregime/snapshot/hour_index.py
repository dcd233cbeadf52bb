"""The hour index of a snapshot store: which hour directories exist, found by listing.

A store is ``<root>/YYYY/MM/DD/HH/<SYMBOL>_<tf>.json``. Listing prunes years, months and days
outside the range asked for, and a directory or entry that cannot be examined is reported
(never skipped silently), so "missing" always means missing.
"""
from __future__ import annotations

import os
from datetime import datetime
from pathlib import Path

from gridregime.snapshot.fileio import SnapshotReadError, os_reason
from gridregime.snapshot.paths import hour_of_dir, parse_market_file_name


def present(path: str) -> bool:
    """Whether something is at ``path``; anything but "no such file" counts as present, so the
    read that follows reports the real reason (a loop, a denied directory) instead of "missing"."""
    try:
        os.stat(path)
    except (FileNotFoundError, NotADirectoryError):
        return False
    except OSError:
        return True
    return True


def list_names(directory) -> list[str]:
    try:
        return os.listdir(directory)
    except OSError as exc:
        raise SnapshotReadError(directory, "<directory>", f"cannot list: {os_reason(exc)}") from None


def is_dir_entry(entry, parent, on_error) -> bool:
    """``entry.is_dir()``, with an entry that cannot be examined reported, not skipped silently."""
    try:
        if entry.is_dir():
            return True
        if entry.is_symlink():
            os.stat(entry.path)  # a dangling link or a loop: raises and is reported below
        return False
    except OSError as exc:
        err = SnapshotReadError(entry.path, "<directory>", f"cannot open: {os_reason(exc)}")
        if on_error is None:
            raise err from None
        on_error(entry.path, err)
        return False



def hour_dirs(root: Path, start: datetime | None = None, end: datetime | None = None, on_error=None):
    """Yield ``(hour, dir_path)`` in time order, pruning years/months/days out of range.

    A directory that cannot be listed (or an entry that cannot be examined, such as a
    symlink loop) raises :class:`SnapshotReadError`, or goes to ``on_error(path, error)``
    when given.
    """
    def listdir(p):
        try:
            with os.scandir(p) as it:
                return sorted(e.name for e in it if e.name.isdigit() and is_dir_entry(e, p, on_error))
        except (FileNotFoundError, NotADirectoryError):
            return []
        except OSError as exc:
            err = SnapshotReadError(p, "<directory>", f"cannot list: {os_reason(exc)}")
            if on_error is None:
                raise err from None
            on_error(os.fspath(p), err)
            return []

    lo = start.strftime("%Y%m%d%H") if start else None
    hi = end.strftime("%Y%m%d%H") if end else None
    for y in listdir(root):
        if (lo and y < lo[:4]) or (hi and y > hi[:4]):
            continue
        for m in listdir(root / y):
            if (lo and y + m < lo[:6]) or (hi and y + m > hi[:6]):
                continue
            for d in listdir(root / y / m):
                if (lo and y + m + d < lo[:8]) or (hi and y + m + d > hi[:8]):
                    continue
                for hh in listdir(root / y / m / d):
                    key = y + m + d + hh
                    if (lo and key < lo) or (hi and key > hi):
                        continue
                    hour = hour_of_dir(y, m, d, hh)
                    if hour is not None:
                        yield hour, root / y / m / d / hh


def store_span(root: Path) -> tuple[datetime, datetime] | None:
    """First and last hour directory of the store (``None`` when it holds none).

    Descends only along the smallest and the largest name at each level, so the cost does
    not grow with the size of the store.
    """
    def ends(directory: Path, depth: int, pick) -> datetime | None:
        try:
            with os.scandir(directory) as it:
                names = sorted((e.name for e in it if e.name.isdigit() and e.is_dir()), reverse=pick is max)
        except OSError:
            return None
        for name in names:  # a directory without hours falls through to the next one
            if depth == 3:
                parts = directory.relative_to(root).parts
                hour = hour_of_dir(*parts, name)
                if hour is not None:
                    return hour
                continue
            found = ends(directory / name, depth + 1, pick)
            if found is not None:
                return found
        return None

    first = ends(root, 0, min)
    last = ends(root, 0, max)
    return None if first is None or last is None else (first, last)


def store_symbols(root: Path) -> list[str]:
    """Symbols with at least one market file, sorted."""
    found = set()
    for _, directory in hour_dirs(root):
        for name in list_names(directory):
            parsed = parse_market_file_name(name)
            if parsed:
                found.add(parsed[0])
    return sorted(found)

