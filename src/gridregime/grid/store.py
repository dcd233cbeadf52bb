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

Every read verifies: :meth:`GridHistoryStore.history` and :meth:`~GridHistoryStore.current`
check the whole chain and the head file (the result is cached by the size, modification time
and inode of both files, so a repeated read of an unchanged history costs two ``stat`` calls),
and :meth:`~GridHistoryStore.update` refuses to append to a history that fails verification,
so the evidence of tampering or truncation is never buried under a fresh head. A damaged
history is mended only on request (:meth:`~GridHistoryStore.repair`, ``gridregime grid verify
SYMBOL --repair``): the damaged files are kept beside it and the repair is recorded as an entry.
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
from gridregime.grid.config import GridConfig
from gridregime.symbols import validate_symbol
from gridregime.timeutil import UTC, iso_z

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


@dataclass(frozen=True)
class RepairReport:
    """Outcome of :meth:`GridHistoryStore.repair`: whether anything was done, how many versions
    the damaged history held and how many were kept, the problems found, the repair entry
    (``None`` when nothing was done or no version was left) and where the damaged files went."""

    symbol: str
    repaired: bool
    versions_before: int
    versions_kept: int
    problems: tuple[str, ...]
    entry: GridConfig | None
    damaged_files: tuple[Path, ...]


class _Missing(Exception):
    pass


def _os_reason(exc: OSError) -> str:
    import errno

    name = errno.errorcode.get(exc.errno, "") if exc.errno is not None else ""
    return f"{exc.strerror or type(exc).__name__}" + (f" ({name})" if name else "")


def _read_bytes(path: Path, missing: bytes | None = b"") -> bytes:
    """A history or head file's bytes; ``missing`` when absent (``None``: raise :class:`_Missing`).
    Anything but a regular file, or an OS error, raises :class:`GridStoreError` naming the file."""
    import stat

    try:
        fd = os.open(path, os.O_RDONLY | getattr(os, "O_NONBLOCK", 0))
    except FileNotFoundError:
        if missing is None:
            raise _Missing from None
        return missing
    except OSError as exc:
        raise GridStoreError(f"{path}: cannot read: {_os_reason(exc)}") from None
    try:
        if not stat.S_ISREG(os.fstat(fd).st_mode):
            raise GridStoreError(f"{path}: expected a regular file")
        chunks = []
        while chunk := os.read(fd, 1 << 20):
            chunks.append(chunk)
        return b"".join(chunks)
    except OSError as exc:
        raise GridStoreError(f"{path}: cannot read: {_os_reason(exc)}") from None
    finally:
        os.close(fd)


def _valid_prefix(path: Path, entries: list[dict[str, Any]], head: object) -> int:
    """How many leading entries verify (chain, versions, hashes) and agree with the head file."""
    keep = 0
    prev = GENESIS_HASH
    for i, entry in enumerate(entries, start=1):
        if (set(entry) != ENTRY_KEYS or entry["version"] != i or entry["prev_hash"] != prev
                or entry_hash(entry) != entry["hash"]):
            break
        try:
            config = GridConfig.from_dict(entry["config"])
        except (KeyError, TypeError, InvalidParameterError):
            break
        if config.version != i:
            break
        keep, prev = i, entry["hash"]
    if (isinstance(head, dict) and type(head.get("version")) is int and 1 <= head["version"] <= keep
            and entries[head["version"] - 1].get("hash") != head.get("hash")):
        keep = head["version"] - 1  # the entry the head names was rewritten: it and later go
    return keep


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
        self._verify_cache: dict[str, tuple[tuple, VerifyReport]] = {}

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
        return path, _parse(path, _read_bytes(path))

    def _stamp(self, symbol: str) -> tuple:
        """What identifies the current state of both files (size, mtime, inode); None parts when absent."""
        out = []
        for p in (self.path(symbol), self._head_path(symbol)):
            try:
                st = os.stat(p)
            except FileNotFoundError:
                out.append(None)
            except OSError as exc:
                raise GridStoreError(f"{p}: cannot read: {_os_reason(exc)}") from None
            else:
                out.append((st.st_size, st.st_mtime_ns, st.st_ino, st.st_mode))
        return tuple(out)

    def _verified(self, symbol: str) -> VerifyReport:
        """:meth:`verify`, cached while neither file changes."""
        stamp = self._stamp(symbol)
        cached = self._verify_cache.get(symbol)
        if cached is not None and cached[0] == stamp:
            return cached[1]
        report = self.verify(symbol)
        if self._stamp(symbol) == stamp:  # files unchanged while verifying: the result holds for them
            self._verify_cache[symbol] = (stamp, report)
        return report

    def _require_verified(self, symbol: str, doing: str) -> VerifyReport:
        report = self._verified(symbol)
        if not report.ok:
            raise GridStoreError(
                f"{report.problems[0]}; {doing} refused: the history fails verification "
                f"({len(report.problems)} problem(s)); inspect it and run "
                f"`gridregime grid verify {symbol} --dir {self.directory} --repair` to mend it")
        return report

    # -- reading ---------------------------------------------------------------------------------
    def history(self, symbol: str, *, verify: bool = True) -> list[GridConfig]:
        """Every stored version, oldest first (a torn last line is ignored).

        The whole chain and the head file are checked first (cached while the files do not
        change) and any problem raises :class:`GridStoreError`, so a hand-edited grid is never
        adopted. ``verify=False`` skips that check (only unreadable lines raise): for tools that
        inspect a damaged history, never for deciding anything.
        """
        if verify:
            self._require_verified(symbol, "reading it")
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

    def current(self, symbol: str, *, verify: bool = True) -> GridConfig | None:
        """The latest version, or None when the symbol has no history (``verify`` as in :meth:`history`)."""
        history = self.history(symbol, verify=verify)
        return history[-1] if history else None

    def verify(self, symbol: str) -> VerifyReport:
        """Check the whole chain and the head file; never raises for a damaged or unreadable file.

        The head file is read before the history: a writer appends its line first and moves
        the head after, so a head older than the history (appends that landed between the two
        reads, or a crash before the head write) is consistent as long as the entry it names
        carries its hash; only a head *ahead* of the history means lost versions.
        """
        head_path = self._head_path(symbol)
        problems: list[str] = []
        try:
            head = orjson.loads(_read_bytes(head_path, missing=None))
        except _Missing:
            head = None
        except GridStoreError as exc:
            head = {}
            problems.append(str(exc))
        except orjson.JSONDecodeError:
            head = {}
            problems.append(f"{head_path}: not valid JSON")
        path = self.path(symbol)
        try:
            parsed = _parse(path, _read_bytes(path))
        except GridStoreError as exc:
            return VerifyReport(symbol, False, 0, (*problems, str(exc)), False)
        problems += list(parsed.problems) + _check_chain(path, parsed.entries)
        tip_version = len(parsed.entries)
        if head is not None and not isinstance(head, dict):
            problems.append(f"{head_path}: expected a JSON object with version and hash")
            head = {}
        if head is None:
            # Only a crash between the very first append and its head write leaves no head file.
            if tip_version > 1:
                problems.append(f"{head_path}: missing although {tip_version} versions exist")
        elif head:
            head_version, head_hash = head.get("version"), head.get("hash")
            if type(head_version) is not int or head_version < 1:
                problems.append(f"{head_path}: version: expected a positive integer, got {head_version!r}")
            elif head_version > tip_version:
                problems.append(
                    f"{path}: truncated: {head_path.name} records version {head_version}, "
                    f"the history ends at version {tip_version}"
                )
            elif parsed.entries[head_version - 1].get("hash") != head_hash:
                problems.append(f"{path}: version {head_version}: hash differs from {head_path.name}")
        return VerifyReport(symbol, not problems, tip_version, tuple(problems), parsed.torn_tail)

    def repair(self, symbol: str, *, now: datetime | None = None) -> RepairReport:
        """Mend a history that fails verification, keeping the evidence.

        Under the writers' lock: the longest prefix of versions that verifies (and agrees with
        the head file where the head names one of them) is kept, the damaged files are renamed
        to ``<SYMBOL>.jsonl.damaged-<UTC time>`` (and ``.head.json.damaged-...``), and the kept
        versions are written back followed by one new entry whose reason records the repair
        and whose grid is the last kept version's. With no version left the history starts
        empty (the damaged files stay). A history that verifies is left untouched.
        """
        symbol = validate_symbol(symbol)
        with self._lock(symbol):
            report = self.verify(symbol)
            if report.ok:
                return RepairReport(symbol, False, report.versions, report.versions, (), None, ())
            path = self.path(symbol)
            head_path = self._head_path(symbol)
            try:
                parsed = _parse(path, _read_bytes(path))
                entries = parsed.entries
            except GridStoreError:
                entries = []
            try:
                head = orjson.loads(_read_bytes(head_path))
            except (GridStoreError, orjson.JSONDecodeError):
                head = None
            keep = _valid_prefix(path, entries, head)
            stamp = (now or datetime.now(UTC)).strftime("%Y%m%dT%H%M%S%fZ")
            kept_files = []
            for p in (path, head_path):
                if os.path.lexists(p):
                    target = p.with_name(f"{p.name}.damaged-{stamp}")
                    os.replace(p, target)
                    kept_files.append(target)
            lines = [orjson.dumps(e) + b"\n" for e in entries[:keep]]
            repaired = None
            if keep:
                tail = entries[keep - 1]
                previous = GridConfig.from_dict(tail["config"])
                reason = (f"repair: kept versions 1..{keep} of {report.versions}; "
                          + "; ".join(p.replace(str(self.directory) + os.sep, "") for p in report.problems))[:2000]
                repaired = previous.with_changes(version=keep + 1, reason=reason,
                                                 created_at=now or datetime.now(UTC))
                entry: dict[str, Any] = {"version": keep + 1, "prev_hash": tail["hash"],
                                         "created_at": iso_z(now or datetime.now(UTC), microseconds=True), "reason": reason,
                                         "config": repaired.to_dict()}
                entry["hash"] = entry_hash(entry)
                lines.append(orjson.dumps(entry) + b"\n")
                atomic_write_bytes(path, b"".join(lines))
                atomic_write_bytes(head_path, orjson.dumps({"version": keep + 1, "hash": entry["hash"]}))
            self._verify_cache.pop(symbol, None)
            return RepairReport(symbol, True, report.versions, keep, report.problems, repaired, tuple(kept_files))

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
            self._require_verified(symbol, "appending")
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
                "created_at": iso_z(datetime.now(UTC), microseconds=True),
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
            # verified before the append and extended by one valid entry under the lock
            self._verify_cache[symbol] = (self._stamp(symbol), VerifyReport(symbol, True, version, (), False))
            return new
