"""Per-symbol append-only history of grid configurations (SPEC §6).

Layout: ``<dir>/<SYMBOL>.jsonl``, one JSON object per line::

    {"version": 3, "prev_hash": "<hash of version 2>", "created_at": "...Z", "reason": "...",
     "config": {...GridConfig.to_dict()...}, "hash": "<sha256>"}

``hash`` is the SHA-256 of the canonical JSON (sorted keys, orjson) of the entry without ``hash``;
version 1 links to 64 zeros. A small head file ``<dir>/<SYMBOL>.head.json`` (written atomically
after every append) records the latest version and hash, so that cutting whole lines off the end of
the history is detected too, not only edits.

Appends hold an exclusive file lock (``filelock``) across read-verify-write, so writers in
separate processes serialise and no version is lost. Each line is written with one ``write`` on a
file opened for appending, then flushed and fsynced. A crash mid-append can only leave a partial
last line: :meth:`GridHistoryStore.verify` reports it as ``torn_tail`` (earlier versions stay
valid), readers ignore it, and the next locked append *repairs* it by truncating the file back to
the end of the last complete line before writing.
"""
from __future__ import annotations

import hashlib
import os
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

import orjson
from filelock import FileLock

from gridregime._atomic import atomic_write_bytes
from gridregime.errors import GridRegimeError, InvalidParameterError
from gridregime.grid.config import GridConfig, iso_utc
from gridregime.symbols import validate_symbol
from gridregime.timeutil import UTC

GENESIS_HASH = "0" * 64
ENTRY_KEYS = frozenset({"version", "prev_hash", "created_at", "reason", "config", "hash"})


class GridStoreError(GridRegimeError):
    """The history file is damaged or inconsistent; the message names the file and line."""


def entry_hash(entry: dict[str, Any]) -> str:
    """SHA-256 (hex) of the canonical JSON of ``entry`` without its ``hash`` field."""
    body = {k: v for k, v in entry.items() if k != "hash"}
    return hashlib.sha256(orjson.dumps(body, option=orjson.OPT_SORT_KEYS)).hexdigest()


@dataclass(frozen=True)
class VerifyReport:
    """Outcome of :meth:`GridHistoryStore.verify`.

    ``ok`` is False when any problem was found (edited entry, broken link, version gap, bad line,
    history shorter than the head file says). ``torn_tail`` is a partial last line left by a crash
    mid-append; it is not a problem by itself (no complete version is lost) and the next append
    removes it.
    """

    symbol: str
    ok: bool
    versions: int
    problems: tuple[str, ...]
    torn_tail: bool


@dataclass(frozen=True)
class _Parsed:
    entries: list[dict[str, Any]]
    good_end: int          # byte offset just after the last complete, parseable line
    torn_tail: bool
    problems: list[str]


def _parse(path: Path, data: bytes) -> _Parsed:
    entries: list[dict[str, Any]] = []
    problems: list[str] = []
    offset = 0
    good_end = 0
    torn = False
    lines = data.split(b"\n")
    for index, raw in enumerate(lines):
        is_last = index == len(lines) - 1
        end = offset + len(raw) + (0 if is_last else 1)
        if is_last:
            if raw:  # bytes after the last newline: a partial append
                torn = True
            break
        try:
            entry = orjson.loads(raw)
            if not isinstance(entry, dict):
                raise TypeError("not an object")
        except (orjson.JSONDecodeError, TypeError):
            if index == len(lines) - 2 and not lines[-1]:
                # Unparseable final line, e.g. a crash that wrote garbage ending in a newline.
                torn = True
                break
            problems.append(f"{path}: line {index + 1}: not a JSON object")
            offset = end
            continue
        entries.append(entry)
        good_end = end
        offset = end
    return _Parsed(entries, good_end, torn, problems)


def _check_chain(path: Path, entries: list[dict[str, Any]]) -> list[str]:
    problems: list[str] = []
    prev = GENESIS_HASH
    for i, entry in enumerate(entries, start=1):
        where = f"{path}: line {i}"
        if set(entry) != ENTRY_KEYS:
            problems.append(f"{where}: expected fields {sorted(ENTRY_KEYS)}, got {sorted(entry)}")
            prev = entry.get("hash", "")
            continue
        if entry["version"] != i:
            problems.append(f"{where}: version: expected {i}, got {entry['version']!r}")
        if entry["prev_hash"] != prev:
            problems.append(f"{where}: prev_hash: does not match the hash of the previous entry")
        if entry_hash(entry) != entry["hash"]:
            problems.append(f"{where}: hash: content was modified (hash does not match)")
        config = entry["config"]
        if not isinstance(config, dict) or config.get("version") != entry["version"]:
            problems.append(f"{where}: config.version: expected {entry['version']!r}")
        prev = entry["hash"]
    return problems


class GridHistoryStore:
    """Append-only, hash-chained grid configuration history, one file per symbol.

    Parameters
    ----------
    directory : path
        Where ``<SYMBOL>.jsonl`` files live (created on first write).
    lock_timeout : float
        Seconds to wait for another writer's lock before raising ``filelock.Timeout``.
    """

    def __init__(self, directory: str | os.PathLike, *, lock_timeout: float = 60.0) -> None:
        self.directory = Path(directory)
        self.lock_timeout = float(lock_timeout)

    # -- paths -----------------------------------------------------------------------------------
    def path(self, symbol: str) -> Path:
        return self.directory / f"{validate_symbol(symbol)}.jsonl"

    def _head_path(self, symbol: str) -> Path:
        return self.directory / f"{validate_symbol(symbol)}.head.json"

    def _lock(self, symbol: str) -> FileLock:
        self.directory.mkdir(parents=True, exist_ok=True)
        return FileLock(str(self.directory / f"{validate_symbol(symbol)}.jsonl.lock"), timeout=self.lock_timeout)

    def _read(self, symbol: str) -> tuple[Path, _Parsed]:
        path = self.path(symbol)
        try:
            data = path.read_bytes()
        except FileNotFoundError:
            data = b""
        return path, _parse(path, data)

    # -- reading ---------------------------------------------------------------------------------
    def history(self, symbol: str, *, verify: bool = False) -> list[GridConfig]:
        """Every stored version, oldest first (a torn last line is ignored).

        With ``verify=True`` the whole chain and the head file are checked first and any problem
        raises :class:`GridStoreError`; without it only unreadable lines do.
        """
        if verify:
            report = self.verify(symbol)
            if not report.ok:
                raise GridStoreError(report.problems[0])
        path, parsed = self._read(symbol)
        if parsed.problems:
            raise GridStoreError(parsed.problems[0])
        out = []
        for i, entry in enumerate(parsed.entries, start=1):
            try:
                out.append(GridConfig.from_dict(entry["config"]))
            except (KeyError, TypeError, InvalidParameterError) as exc:
                raise GridStoreError(f"{path}: line {i}: config: {exc}") from None
        return out

    def current(self, symbol: str, *, verify: bool = False) -> GridConfig | None:
        """The latest version, or None when the symbol has no history (``verify`` as in :meth:`history`)."""
        history = self.history(symbol, verify=verify)
        return history[-1] if history else None

    def verify(self, symbol: str) -> VerifyReport:
        """Check the whole chain and the head file; never raises for a damaged file."""
        path, parsed = self._read(symbol)
        problems = list(parsed.problems) + _check_chain(path, parsed.entries)
        tip_version = len(parsed.entries)
        tip_hash = parsed.entries[-1].get("hash") if parsed.entries else GENESIS_HASH
        head_path = self._head_path(symbol)
        try:
            head = orjson.loads(head_path.read_bytes())
        except FileNotFoundError:
            head = None
        except orjson.JSONDecodeError:
            head = None
            problems.append(f"{head_path}: not valid JSON")
        if head is not None and not isinstance(head, dict):
            problems.append(f"{head_path}: expected a JSON object with version and hash")
            head = {}
        if head is None:
            # Only a crash between the very first append and its head write leaves no head file.
            if tip_version > 1:
                problems.append(f"{head_path}: missing although {tip_version} versions exist")
        else:
            head_version, head_hash = head.get("version"), head.get("hash")
            if head_version == tip_version:
                if head_hash != tip_hash:
                    problems.append(f"{path}: version {tip_version}: hash differs from {head_path.name}")
            elif head_version == tip_version - 1:
                # The last append finished its line but crashed before updating the head.
                if parsed.entries[-1].get("prev_hash") != head_hash:
                    problems.append(f"{path}: version {tip_version}: prev_hash differs from {head_path.name}")
            elif isinstance(head_version, int) and head_version > tip_version:
                problems.append(
                    f"{path}: truncated: {head_path.name} records version {head_version}, "
                    f"the history ends at version {tip_version}"
                )
            else:
                problems.append(f"{head_path}: version: unexpected {head_version!r} (history has {tip_version})")
        return VerifyReport(symbol, not problems, tip_version, tuple(problems), parsed.torn_tail)

    # -- writing ---------------------------------------------------------------------------------
    def update(
        self,
        symbol: str,
        reason: str,
        *,
        config: GridConfig | None = None,
        created_at: datetime | None = None,
        **changes: Any,
    ) -> GridConfig:
        """Append a new version and return it as stored.

        Either pass a whole ``config`` (its symbol must match) or field ``changes`` applied to the
        current version (e.g. ``enabled=False``). The store assigns ``version`` (previous + 1) and
        sets ``reason``; ``created_at`` defaults to the config's own time when a config is given,
        else to now. Invalid input raises :class:`InvalidParameterError` naming the field and
        leaves the file untouched.
        """
        symbol = validate_symbol(symbol)
        if not isinstance(reason, str) or not reason.strip():
            raise InvalidParameterError("reason: expected a non-empty string explaining the update")
        if config is not None and changes:
            raise InvalidParameterError("config: pass either a whole config or field changes, not both")
        if config is not None and not isinstance(config, GridConfig):
            raise InvalidParameterError(f"config: expected a GridConfig, got {type(config).__name__}")
        if config is not None and config.symbol != symbol:
            raise InvalidParameterError(f"config.symbol: expected {symbol!r}, got {config.symbol!r}")
        for key in ("version", "reason", "symbol"):
            if key in changes:
                raise InvalidParameterError(f"{key}: set by the store, cannot be changed directly")
        # Validate the change set against a placeholder before taking the lock, so refusals are cheap.
        if config is None and not changes:
            raise InvalidParameterError("config: nothing to store (pass config= or field changes)")

        with self._lock(symbol):
            path, parsed = self._read(symbol)
            if parsed.problems:
                raise GridStoreError(f"refusing to append: {parsed.problems[0]}")
            entries = parsed.entries
            if entries:
                tail = entries[-1]
                if set(tail) != ENTRY_KEYS or entry_hash(tail) != tail["hash"] or tail["version"] != len(entries):
                    raise GridStoreError(f"{path}: line {len(entries)}: last entry fails verification; refusing to append")
                previous = GridConfig.from_dict(tail["config"])
                prev_hash, version = tail["hash"], tail["version"] + 1
            else:
                previous, prev_hash, version = None, GENESIS_HASH, 1
            if config is None:
                if previous is None:
                    raise InvalidParameterError(f"config: {symbol} has no stored grid yet; pass a whole config")
                base = previous.with_changes(**changes)
                when = created_at or datetime.now(UTC)
            else:
                base = config
                when = created_at or config.created_at
            new = base.with_changes(version=version, reason=reason, created_at=when)
            entry: dict[str, Any] = {
                "version": version,
                "prev_hash": prev_hash,
                "created_at": iso_utc(datetime.now(UTC)),
                "reason": reason,
                "config": new.to_dict(),
            }
            entry["hash"] = entry_hash(entry)
            line = orjson.dumps(entry) + b"\n"
            path.parent.mkdir(parents=True, exist_ok=True)
            with open(path, "ab") as fh:
                if parsed.torn_tail:
                    fh.truncate(parsed.good_end)  # repair: drop the partial line of a crashed append
                fh.write(line)
                fh.flush()
                os.fsync(fh.fileno())
            atomic_write_bytes(self._head_path(symbol), orjson.dumps({"version": version, "hash": entry["hash"]}))
            return new
