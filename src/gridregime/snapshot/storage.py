"""Writing snapshots: validated, deterministic, immutable raw files, atomic writes."""
from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

import numpy as np
import orjson
import pyarrow as pa

from gridregime._atomic import atomic_write_bytes, atomic_write_text
from gridregime.bars import bars_table, normalize_bars, slice_time
from gridregime.errors import InvalidParameterError
from gridregime.snapshot.errors import (
    SnapshotConflictError,
    SnapshotNotFoundError,
    SnapshotValidationError,
)
from gridregime.snapshot.fileio import read_snapshot_bytes
from gridregime.snapshot.format import encode_market, infer_price_scale, is_power_of_ten
from gridregime.snapshot.paths import (
    analysis_path,
    check_timeframe,
    market_path,
    summary_path,
)
from gridregime.snapshot.validate import (
    MarketFile,
    check_cross_file,
    read_market_file,
    validate_market_document,
)
from gridregime.symbols import validate_symbol
from gridregime.timeutil import HOUR, UTC, iso_z, to_ms, to_utc, to_utc_hour

DEFAULT_HISTORY_HOURS = 1000
_DIGEST_FIELD = b'"content_sha256"'


@dataclass(frozen=True)
class MarketWrite:
    """Outcome of writing one market file: ``status`` is ``"written"`` or ``"unchanged"``."""

    path: Path
    status: str


@dataclass(frozen=True)
class HourWrite:
    """Outcome of writing an hour: ``paths`` = (1m file, 1h file); ``status`` is ``"written"``
    if either file was (re)written, ``"unchanged"`` if both already held these bytes."""

    paths: tuple[Path, Path]
    status: str
    #: 1h files of later hours whose copy of this hour's bar was replaced (``overwrite=True``)
    updated: tuple[Path, ...] = ()


@dataclass(frozen=True, eq=False)
class _Prepared:
    path: Path
    data: bytes
    market: MarketFile
    status: str


def _read_existing(path: Path) -> bytes | None:
    try:
        return path.read_bytes()
    except FileNotFoundError:
        return None


def _holds_bar(data: bytes, h_ms: int, new: dict, scale: int, volume: float) -> bool:
    """Whether a 1h file's bytes lack the bar at ``h_ms`` or hold exactly ``new`` there (quick
    look without full validation; False sends the file to the full path)."""
    try:
        doc = orjson.loads(data)
        bars = doc["bars"]
        ts = bars["ts"]
        if h_ms not in ts:
            return True
        i = ts.index(h_ms)
        own = doc["metadata"]["price_scale"]
        return (all(bars[k][i] * scale == new[k] * own for k in new) and bars["volume"][i] == volume)
    except (orjson.JSONDecodeError, KeyError, TypeError, ValueError, IndexError):
        return False


def _existing_scale(existing: bytes) -> int | None:
    try:
        scale = orjson.loads(existing)["metadata"]["price_scale"]
    except (orjson.JSONDecodeError, KeyError, TypeError):
        return None
    return scale if isinstance(scale, int) else None


def _existing_collected_at(existing: bytes | None) -> datetime | None:
    """``collected_at`` of an existing file, so re-writing identical bars is a no-op."""
    if existing is None:
        return None
    try:
        return to_utc(orjson.loads(existing)["metadata"]["collected_at"])
    except (orjson.JSONDecodeError, KeyError, TypeError, InvalidParameterError):
        # unreadable old file: the byte comparison then reports the conflict
        return None


class SnapshotStorage:
    """Writer of the snapshot store (SPEC §3).

    Parameters
    ----------
    root : path-like
        Root directory of the store.
    price_scales : mapping of str to int, optional
        Per-symbol price scale (``10**d`` for the symbol's tick size). A scale passed to a
        write call wins over this; without either, :func:`infer_price_scale` decides.
    history_hours : int, default 1000
        Most hourly bars kept in a 1h file (the newest ones, ending with the file's hour).

    Notes
    -----
    Raw market files are immutable: writing identical bytes again is a no-op (status
    ``"unchanged"``), different bytes raise :class:`SnapshotConflictError` unless
    ``overwrite=True``. When ``collected_at`` is omitted and the file exists, the existing
    file's ``collected_at`` is reused, so re-collecting the same bars stays a no-op.
    Every write is atomic (:mod:`gridregime._atomic`).
    """

    def __init__(self, root: str | os.PathLike, *, price_scales: Mapping[str, int] | None = None,
                 history_hours: int = DEFAULT_HISTORY_HOURS):
        if not isinstance(history_hours, int) or isinstance(history_hours, bool) or history_hours < 1:
            raise InvalidParameterError(f"history_hours: expected a positive int, got {history_hours!r}")
        self.root = Path(root)
        self.history_hours = history_hours
        self.price_scales: dict[str, int] = {}
        for sym, scale in (price_scales or {}).items():
            validate_symbol(sym, name="price_scales key")
            self.price_scales[sym] = self._check_scale(scale, f"price_scales[{sym!r}]")

    # -- internals -------------------------------------------------------------------------
    @staticmethod
    def _check_scale(scale: object, name: str) -> int:
        if not is_power_of_ten(scale):
            raise InvalidParameterError(f"{name}: expected a power of ten (1, 10, 100, ...), got {scale!r}")
        return scale  # type: ignore[return-value]

    def resolve_price_scale(self, symbol: str, tables: list[pa.Table], price_scale: int | None = None) -> int:
        """Explicit ``price_scale`` > ``price_scales[symbol]`` > inferred from ``tables``."""
        if price_scale is not None:
            return self._check_scale(price_scale, "price_scale")
        if symbol in self.price_scales:
            return self.price_scales[symbol]
        return infer_price_scale(pa.concat_tables(tables))

    def _prepare_bars(self, timeframe: str, hour: datetime, bars: pa.Table) -> pa.Table:
        if not isinstance(bars, pa.Table):
            raise InvalidParameterError(f"bars: expected a pyarrow.Table of OHLCV bars, got {type(bars).__name__}")
        bars = normalize_bars(bars, name=f"{timeframe} bars")
        if timeframe == "1h":
            # history ends with hour H; keep the newest history_hours bars
            bars = slice_time(bars, None, to_ms(hour) + 1)
            if bars.num_rows > self.history_hours:
                bars = bars.slice(bars.num_rows - self.history_hours)
        return bars

    def _prepare(self, symbol: str, timeframe: str, hour: datetime, bars: pa.Table, *, source: str,
                 price_scale: int, collected_at: object, overwrite: bool) -> _Prepared:
        path = market_path(self.root, symbol, timeframe, hour)
        if not isinstance(source, str) or not source:
            raise InvalidParameterError(f"source: expected a non-empty string, got {source!r}")
        existing = _read_existing(path)
        if collected_at is None:
            when = _existing_collected_at(existing) or datetime.now(UTC).replace(microsecond=0)
        else:
            when = to_utc(collected_at, name="collected_at")
        prepared_bars = self._prepare_bars(timeframe, hour, bars)
        data = encode_market(path=path, symbol=symbol, timeframe=timeframe, hour=hour, bars=prepared_bars,
                             price_scale=price_scale, source=source, collected_at=when)
        market = validate_market_document(orjson.loads(data), path, symbol=symbol, timeframe=timeframe, hour=hour)
        if existing is None:
            status = "written"
        elif existing == data or (_DIGEST_FIELD not in existing and existing == encode_market(
                path=path, symbol=symbol, timeframe=timeframe, hour=hour, bars=prepared_bars,
                price_scale=price_scale, source=source, collected_at=when, with_digest=False)):
            # a file written before content_sha256 existed, holding exactly these bars: unchanged
            # (raw files are immutable; it keeps reading as it is)
            status = "unchanged"
        elif overwrite:
            status = "written"
        else:
            stored_scale = _existing_scale(existing)
            why = (f"it stores prices at price_scale {stored_scale}, this write at {price_scale} (keep the stored "
                   f"scale with --price-scale {stored_scale} / price_scale={stored_scale}, or replace the file)"
                   if stored_scale is not None and stored_scale != price_scale else "the bars differ")
            raise SnapshotConflictError(
                f"{path}: exists with different content ({why}); raw market files are immutable: "
                "replace it with --overwrite on the command line (overwrite=True in Python)"
            )
        return _Prepared(path, data, market, status)

    def _inside_root(self, path: Path) -> Path:
        """``path`` after checking that writing it stays inside the store.

        The deepest existing directory on the way to ``path`` is resolved (symlinks followed);
        it must lie inside the resolved root, so a symlinked year, month, day or hour directory
        pointing elsewhere is refused before anything is created or written.
        """
        if not os.path.lexists(self.root):
            return path  # a new store: every directory below the root is created here
        root = Path(os.path.realpath(self.root))
        parent = path.parent
        while not os.path.lexists(parent) and parent != parent.parent:
            parent = parent.parent
        real = Path(os.path.realpath(parent))
        if real != root and root not in real.parents:
            raise SnapshotConflictError(
                f"{path}: refusing to write outside the store: {parent} resolves to {real}, which is not "
                f"inside the store root {root} (a symbolic link inside the store points elsewhere)")
        return path

    def _commit(self, prepared: _Prepared) -> None:
        if prepared.status == "written":
            atomic_write_bytes(self._inside_root(prepared.path), prepared.data)

    # -- public API ------------------------------------------------------------------------
    def write_market(self, symbol: str, timeframe: str, hour: object, bars: pa.Table, *, source: str,
                     price_scale: int | None = None, collected_at: object = None,
                     overwrite: bool = False) -> MarketWrite:
        """Validate and write one market file (``"1m"`` or ``"1h"``).

        If the other file of the same hour already exists and is valid, the cross-file rule
        is checked against it before writing.

        Returns
        -------
        MarketWrite

        Raises
        ------
        InvalidParameterError
            Bad symbol, timeframe, hour, source or price scale.
        SnapshotValidationError
            The file would break a format rule (the error names the target file and field).
        SnapshotConflictError
            The file exists with other content and ``overwrite`` is false.
        """
        symbol = validate_symbol(symbol)
        check_timeframe(timeframe)
        hour = to_utc_hour(hour)
        scale = self.resolve_price_scale(symbol, [normalize_bars(bars)], price_scale)
        prepared = self._prepare(symbol, timeframe, hour, bars, source=source, price_scale=scale,
                                 collected_at=collected_at, overwrite=overwrite)
        other_tf = "1h" if timeframe == "1m" else "1m"
        other_path = market_path(self.root, symbol, other_tf, hour)
        if other_path.exists():
            try:
                other = read_market_file(other_path, symbol=symbol, timeframe=other_tf, hour=hour)
            except SnapshotValidationError:
                other = None  # an invalid sibling is reported by its own validation, not here
            if other is not None:
                if timeframe == "1m":
                    check_cross_file(prepared.market, other)
                else:
                    check_cross_file(other, prepared.market)
        self._commit(prepared)
        return MarketWrite(prepared.path, prepared.status)

    def write_hour(self, symbol: str, hour: object, minute_bars: pa.Table, hourly_bars: pa.Table, *,
                   source: str, price_scale: int | None = None, collected_at: object = None,
                   overwrite: bool = False) -> HourWrite:
        """Validate both market files of an hour, then write the 1m file and the 1h file.

        Both files use one price scale (resolved from both tables). ``hourly_bars`` is cut
        to the newest ``history_hours`` bars up to and including ``hour`` (bars after it are
        not part of this hour's snapshot); its last bar must be ``hour`` itself. Nothing is
        written unless both files pass every rule, the cross-file rule included, and neither
        conflicts.

        Returns
        -------
        HourWrite
        """
        symbol = validate_symbol(symbol)
        hour = to_utc_hour(hour)
        scale = self.resolve_price_scale(symbol, [normalize_bars(minute_bars, name="minute_bars"),
                                                  self._prepare_bars("1h", hour, hourly_bars)], price_scale)
        minute = self._prepare(symbol, "1m", hour, minute_bars, source=source, price_scale=scale,
                               collected_at=collected_at, overwrite=overwrite)
        hourly = self._prepare(symbol, "1h", hour, hourly_bars, source=source, price_scale=scale,
                               collected_at=collected_at, overwrite=overwrite)
        check_cross_file(minute.market, hourly.market)
        dependents = self._dependents(symbol, hour, hourly.market) if hourly.status == "written" and overwrite else []
        for prepared in (minute, hourly, *dependents):
            if prepared.status == "written":
                self._inside_root(prepared.path)
        self._commit(minute)
        self._commit(hourly)
        for dep in dependents:
            self._commit(dep)
        status = "unchanged" if minute.status == hourly.status == "unchanged" else "written"
        return HourWrite((minute.path, hourly.path), status, tuple(d.path for d in dependents))

    def _dependents(self, symbol: str, hour: datetime, hourly: MarketFile) -> list[_Prepared]:
        """Later 1h files that hold a different copy of ``hour``'s bar, re-encoded with the new one.

        An overwritten hour must not leave the old bar in the histories of later hours (they
        would keep using it). Each later 1h file within reach (its history may hold up to
        ``max(history_hours, 1000)`` bars) that holds this hour's bar with other values is
        re-encoded with the new bar, everything else kept (source, collected_at, scale).

        Raises
        ------
        SnapshotConflictError
            A later 1h file that holds the bar cannot be updated (unreadable, invalid, or its
            price scale cannot represent the new prices); nothing has been written then.
        """
        new = {k: int(getattr(hourly, k)[-1]) for k in ("open", "high", "low", "close")}
        new_volume = float(hourly.volume[-1])
        h_ms = to_ms(hour)
        out: list[_Prepared] = []
        reach = max(self.history_hours, DEFAULT_HISTORY_HOURS)
        for k in range(1, reach):
            later = hour + k * HOUR
            path = market_path(self.root, symbol, "1h", later)
            try:
                if _holds_bar(read_snapshot_bytes(path), h_ms, new, hourly.price_scale, new_volume):
                    continue  # absent from it, or already the same bar: nothing to carry over
                existing = read_market_file(path, symbol=symbol, timeframe="1h", hour=later)
            except SnapshotNotFoundError:
                continue
            except SnapshotValidationError as exc:
                raise SnapshotConflictError(
                    f"{path}: cannot carry the overwritten bar of {iso_z(hour)} ({exc}); fix or remove that "
                    "file, then overwrite again") from None
            idx = np.flatnonzero(existing.ts == h_ms)
            if not idx.size:
                continue
            i = int(idx[0])
            arrays = {key: getattr(existing, key).copy() for key in ("open", "high", "low", "close")}
            changed = False
            for key, value in new.items():
                num = value * existing.price_scale
                if num % hourly.price_scale:
                    raise SnapshotConflictError(
                        f"{path}: its price_scale {existing.price_scale} cannot represent the new {key} "
                        f"{value}/{hourly.price_scale} of {iso_z(hour)}; overwrite {iso_z(later)} too "
                        "(import the range up to it with --overwrite and --price-scale)")
                scaled = num // hourly.price_scale
                changed |= int(arrays[key][i]) != scaled
                arrays[key][i] = scaled
            volume = existing.volume.copy()
            changed |= float(volume[i]) != new_volume
            volume[i] = new_volume
            if not changed:
                continue
            s = float(existing.price_scale)
            table = bars_table(existing.ts, arrays["open"] / s, arrays["high"] / s, arrays["low"] / s,
                               arrays["close"] / s, volume)
            data = encode_market(path=path, symbol=symbol, timeframe="1h", hour=later, bars=table,
                                 price_scale=existing.price_scale, source=existing.source,
                                 collected_at=existing.collected_at)
            market = validate_market_document(orjson.loads(data), path, symbol=symbol, timeframe="1h", hour=later)
            out.append(_Prepared(path, data, market, "written"))
        return out

    def write_analysis(self, symbol: str, hour: object, payload: bytes | dict) -> Path:
        """Write ``<root>/YYYY/MM/DD/HH/<SYMBOL>_regime.json`` atomically (may overwrite).

        ``payload`` is a dict (serialized with orjson) or bytes that must hold a JSON object.
        """
        path = analysis_path(self.root, symbol, hour)
        if isinstance(payload, dict):
            data = orjson.dumps(payload, option=orjson.OPT_INDENT_2 | orjson.OPT_SERIALIZE_NUMPY)
        elif isinstance(payload, (bytes, bytearray)):
            data = bytes(payload)
            try:
                ok = isinstance(orjson.loads(data), dict)
            except orjson.JSONDecodeError:
                ok = False
            if not ok:
                raise InvalidParameterError("payload: expected bytes holding a JSON object")
        else:
            raise InvalidParameterError(f"payload: expected bytes or dict, got {type(payload).__name__}")
        return atomic_write_bytes(self._inside_root(path), data)

    def write_summary(self, symbol: str, hour: object, text: str) -> Path:
        """Write ``<root>/YYYY/MM/DD/HH_<SYMBOL>.yaml`` atomically (may overwrite)."""
        if not isinstance(text, str):
            raise InvalidParameterError(f"text: expected str, got {type(text).__name__}")
        return atomic_write_text(self._inside_root(summary_path(self.root, symbol, hour)), text)
