"""Writing snapshots: validated, deterministic, immutable raw files, atomic writes."""
from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

import orjson
import pyarrow as pa

from gridregime._atomic import atomic_write_bytes, atomic_write_text
from gridregime.bars import normalize_bars, slice_time
from gridregime.errors import InvalidParameterError
from gridregime.snapshot.errors import SnapshotConflictError, SnapshotValidationError
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
from gridregime.timeutil import UTC, to_ms, to_utc, to_utc_hour

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
            raise SnapshotConflictError(
                f"{path}: exists with different content; raw market files are immutable "
                "(pass overwrite=True to replace it)"
            )
        return _Prepared(path, data, market, status)

    @staticmethod
    def _commit(prepared: _Prepared) -> None:
        if prepared.status == "written":
            atomic_write_bytes(prepared.path, prepared.data)

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
        self._commit(minute)
        self._commit(hourly)
        status = "unchanged" if minute.status == hourly.status == "unchanged" else "written"
        return HourWrite((minute.path, hourly.path), status)

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
        return atomic_write_bytes(path, data)

    def write_summary(self, symbol: str, hour: object, text: str) -> Path:
        """Write ``<root>/YYYY/MM/DD/HH_<SYMBOL>.yaml`` atomically (may overwrite)."""
        if not isinstance(text, str):
            raise InvalidParameterError(f"text: expected str, got {type(text).__name__}")
        return atomic_write_text(summary_path(self.root, symbol, hour), text)
