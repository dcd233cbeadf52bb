"""Format v1 validation of one market file, and the cross-file check of an hour.

This is the reference validator: plain, per file, every SPEC §3 rule. The bulk reader
(:mod:`gridregime.snapshot.reader`) runs the same rules vectorised over many files and falls
back to this module to name the exact problem of a file that fails.
"""
from __future__ import annotations

import math
import os
from dataclasses import dataclass
from datetime import datetime

import numpy as np
import pyarrow as pa

from gridregime.bars import PRICE_COLUMNS, OhlcvColumns, bars_table
from gridregime.errors import InvalidParameterError
from gridregime.snapshot.decode import json_column, json_type_name, read_document
from gridregime.snapshot.errors import SnapshotValidationError
from gridregime.snapshot.format import (
    BAR_KEYS,
    CHANGE_PCT_ATOL,
    DIGEST_KEY,
    MAX_SCALED_PRICE,
    METADATA_KEYS,
    MINUTE_BARS,
    SCHEMA_VERSION,
    SUMMARY_KEYS,
    VOLUME_RTOL,
    VOLUME_SUM_OVERFLOW,
    bars_digest,
    change_pct,
    is_power_of_ten,
    volume_total,
)
from gridregime.symbols import validate_symbol
from gridregime.timeutil import HOUR, HOUR_MS, MINUTE_MS, from_ms, iso_z, to_ms, to_utc, to_utc_hour


@dataclass(frozen=True, eq=False)
class MarketFile(OhlcvColumns):
    """A validated market file: metadata plus int-scaled columns as NumPy arrays
    (``ts``, ``open``, ``high``, ``low``, ``close``, ``volume`` from :class:`OhlcvColumns`)."""

    path: str
    symbol: str
    timeframe: str
    hour: datetime
    collected_at: datetime
    source: str
    price_scale: int
    summary: dict

    def bars(self) -> pa.Table:
        """Bars as a :data:`~gridregime.bars.BARS_SCHEMA` table (prices divided by ``price_scale``)."""
        s = float(self.price_scale)
        return bars_table(self.ts, self.open / s, self.high / s, self.low / s, self.close / s, self.volume)

    def gaps(self) -> tuple[datetime, ...]:
        """Hours missing between the first and the last bar (1h files; empty for 1m)."""
        if self.timeframe != "1h" or len(self.ts) < 2:
            return ()
        steps = np.diff(self.ts) // HOUR_MS
        out = []
        for i in np.flatnonzero(steps > 1):
            out.extend(from_ms(int(self.ts[i]) + k * HOUR_MS) for k in range(1, int(steps[i])))
        return tuple(out)


def _fail(path, field, reason):
    raise SnapshotValidationError(path, field, reason)


def _require_mapping(parent: dict, key: str, path, field: str) -> dict:
    if key not in parent:
        _fail(path, field, "required field is missing")
    value = parent[key]
    if not isinstance(value, dict):
        _fail(path, field, f"expected an object, got {json_type_name(value)}")
    return value


def _require_int(value: object, path, field: str) -> int:
    if type(value) is not int:
        _fail(path, field, f"expected an integer, got {json_type_name(value)} {value!r}")
    return value  # type: ignore[return-value]


def _require_number(value: object, path, field: str) -> float:
    if type(value) not in (int, float):
        _fail(path, field, f"expected a number, got {json_type_name(value)} {value!r}")
    if not math.isfinite(value):  # type: ignore[arg-type]
        _fail(path, field, f"expected a finite number, got {value!r}")
    return float(value)  # type: ignore[arg-type]


def _require_str(value: object, path, field: str) -> str:
    if not isinstance(value, str) or not value:
        _fail(path, field, f"expected a non-empty string, got {json_type_name(value)} {value!r}")
    return value  # type: ignore[return-value]


def _require_time(value: object, path, field: str, parse, expected: str) -> datetime:
    """A non-empty string that ``parse`` (``to_utc`` or ``to_utc_hour``) accepts, as a datetime."""
    text = _require_str(value, path, field)
    try:
        return parse(text)
    except InvalidParameterError:
        _fail(path, field, f"expected {expected}, got {text!r}")


def _first_row(mask: np.ndarray) -> int:
    return int(np.flatnonzero(mask)[0])


def validate_market_document(doc: object, path: str | os.PathLike, *, symbol: str | None = None,
                             timeframe: str | None = None, hour: object = None) -> MarketFile:
    """Check a decoded market document against every single-file rule of SPEC §3.

    Parameters
    ----------
    doc : object
        The decoded JSON.
    path : path-like
        The file it came from (named in every error).
    symbol, timeframe, hour : optional
        What the file's path says; the metadata must agree with each one given.

    Returns
    -------
    MarketFile

    Raises
    ------
    SnapshotValidationError
        On the first broken rule, naming the file and the field.
    """
    path = os.fspath(path)
    if not isinstance(doc, dict):
        _fail(path, "<document>", f"expected a JSON object, got {json_type_name(doc)}")
    if "schema_version" not in doc:
        _fail(path, "schema_version", "required field is missing")
    version = doc["schema_version"]
    if type(version) is not int or version != SCHEMA_VERSION:
        _fail(path, "schema_version", f"unsupported version {version!r}; expected {SCHEMA_VERSION}")

    meta = _require_mapping(doc, "metadata", path, "metadata")
    for key in METADATA_KEYS:
        if key not in meta:
            _fail(path, f"metadata.{key}", "required field is missing")
    m_symbol = _require_str(meta["symbol"], path, "metadata.symbol")
    try:
        validate_symbol(m_symbol)
    except InvalidParameterError:
        _fail(path, "metadata.symbol", f"expected BASE-QUOTE (e.g. 'ETH-USDT'), got {m_symbol!r}")
    if symbol is not None and m_symbol != symbol:
        _fail(path, "metadata.symbol", f"expected {symbol!r} (from the path), got {m_symbol!r}")
    m_timeframe = _require_str(meta["timeframe"], path, "metadata.timeframe")
    if m_timeframe not in ("1m", "1h"):
        _fail(path, "metadata.timeframe", f"expected '1m' or '1h', got {m_timeframe!r}")
    if timeframe is not None and m_timeframe != timeframe:
        _fail(path, "metadata.timeframe", f"expected {timeframe!r} (from the path), got {m_timeframe!r}")
    m_hour_text = meta["hour"]
    m_hour = _require_time(m_hour_text, path, "metadata.hour", to_utc_hour, "an ISO-8601 UTC time on the hour")
    if hour is not None:
        expected = to_utc_hour(hour)
        if m_hour != expected:
            _fail(path, "metadata.hour", f"expected {iso_z(expected)} (from the path), got {m_hour_text!r}")
    collected_text = meta["collected_at"]
    collected_at = _require_time(collected_text, path, "metadata.collected_at", to_utc, "an ISO-8601 UTC time")
    if collected_at < m_hour + HOUR:
        _fail(path, "metadata.collected_at",
              f"expected at or after the close of hour {iso_z(m_hour)} (a snapshot is collected after its hour), "
              f"got {collected_text!r}")
    source = _require_str(meta["source"], path, "metadata.source")
    scale = meta["price_scale"]
    if not is_power_of_ten(scale):
        _fail(path, "metadata.price_scale", f"expected a power of ten (1, 10, 100, ...), got {scale!r}")
    bar_count = _require_int(meta["bar_count"], path, "metadata.bar_count")
    digest = meta.get(DIGEST_KEY)
    if DIGEST_KEY in meta and not (isinstance(digest, str) and len(digest) == 64
                                   and all(ch in "0123456789abcdef" for ch in digest)):
        _fail(path, f"metadata.{DIGEST_KEY}", f"expected 64 lower-case hex digits (SHA-256), got {digest!r}")

    summary = _require_mapping(doc, "market_summary", path, "market_summary")
    for key in SUMMARY_KEYS:
        if key not in summary:
            _fail(path, f"market_summary.{key}", "required field is missing")
    s_prices = {k: _require_int(summary[k], path, f"market_summary.{k}") for k in PRICE_COLUMNS}
    s_volume = _require_number(summary["volume"], path, "market_summary.volume")
    s_change = _require_number(summary["change_pct"], path, "market_summary.change_pct")

    bars = _require_mapping(doc, "bars", path, "bars")
    lists = {}
    for key in BAR_KEYS:
        if key not in bars:
            _fail(path, f"bars.{key}", "required column is missing")
        if not isinstance(bars[key], list):
            _fail(path, f"bars.{key}", f"expected an array, got {json_type_name(bars[key])}")
        lists[key] = bars[key]
    n = len(lists["ts"])
    for key in BAR_KEYS[1:]:
        if len(lists[key]) != n:
            _fail(path, f"bars.{key}", f"expected {n} values like bars.ts, got {len(lists[key])}")
    if bar_count != n:
        _fail(path, "metadata.bar_count", f"says {bar_count} but the file holds {n} bars")

    ts = json_column(lists["ts"], path, "bars.ts", "int64")
    cols = {k: json_column(lists[k], path, f"bars.{k}", "int64") for k in PRICE_COLUMNS}
    volume = json_column(lists["volume"], path, "bars.volume", "float64")

    hour_ms = to_ms(m_hour)
    if m_timeframe == "1m":
        if n != MINUTE_BARS:
            _fail(path, "bars.ts", f"expected exactly {MINUTE_BARS} minute bars, got {n}")
        expected_ts = hour_ms + MINUTE_MS * np.arange(MINUTE_BARS, dtype=np.int64)
        if not np.array_equal(ts, expected_ts):
            i = _first_row(ts != expected_ts)
            _fail(path, "bars.ts", f"row {i}: expected {int(expected_ts[i])} (hour + {i} min), got {int(ts[i])}")
    else:
        if n == 0:
            _fail(path, "bars.ts", "expected at least one hourly bar")
        off = ts % HOUR_MS != 0
        if off.any():
            i = _first_row(off)
            _fail(path, "bars.ts", f"row {i}: expected a time on the hour, got {int(ts[i])}")
        if n > 1 and np.any(np.diff(ts) <= 0):
            i = _first_row(np.diff(ts) <= 0) + 1
            _fail(path, "bars.ts", f"row {i}: expected strictly increasing times, got {int(ts[i])} after {int(ts[i - 1])}")
        if int(ts[-1]) != hour_ms:
            _fail(path, "bars.ts", f"last bar must be hour {iso_z(m_hour)} ({hour_ms}), got {int(ts[-1])}")

    o, h, lo, c = cols["open"], cols["high"], cols["low"], cols["close"]
    for key in PRICE_COLUMNS:
        bad = cols[key] <= 0
        if bad.any():
            i = _first_row(bad)
            _fail(path, f"bars.{key}", f"row {i}: expected a positive price, got {int(cols[key][i])}")
        big = cols[key] > MAX_SCALED_PRICE
        if big.any():
            _fail(path, f"bars.{key}", f"row {_first_row(big)}: scaled price above 2**53")
    bad = lo > np.minimum(o, c)
    if bad.any():
        i = _first_row(bad)
        _fail(path, "bars.low", f"row {i}: low {int(lo[i])} above min(open, close) {int(min(o[i], c[i]))}")
    bad = h < np.maximum(o, c)
    if bad.any():
        i = _first_row(bad)
        _fail(path, "bars.high", f"row {i}: high {int(h[i])} below max(open, close) {int(max(o[i], c[i]))}")
    bad = volume < 0
    if bad.any():
        i = _first_row(bad)
        _fail(path, "bars.volume", f"row {i}: expected volume >= 0, got {volume[i]!r}")

    if m_timeframe == "1m":
        expect = {"open": int(o[0]), "high": int(h.max()), "low": int(lo.min()), "close": int(c[-1])}
        expect_volume = volume_total(volume.tolist())
        if expect_volume is None:
            _fail(path, "bars.volume", VOLUME_SUM_OVERFLOW)
    else:
        expect = {"open": int(o[-1]), "high": int(h[-1]), "low": int(lo[-1]), "close": int(c[-1])}
        expect_volume = float(volume[-1])
    for key in PRICE_COLUMNS:
        if s_prices[key] != expect[key]:
            _fail(path, f"market_summary.{key}", f"expected {expect[key]} from the bars, got {s_prices[key]}")
    if not math.isclose(s_volume, expect_volume, rel_tol=VOLUME_RTOL, abs_tol=1e-12):
        _fail(path, "market_summary.volume", f"expected {expect_volume!r} from the bars, got {s_volume!r}")
    expect_change = change_pct(expect["open"], expect["close"])
    if not math.isclose(s_change, expect_change, rel_tol=VOLUME_RTOL, abs_tol=CHANGE_PCT_ATOL):
        _fail(path, "market_summary.change_pct", f"expected {expect_change!r} from the bars, got {s_change!r}")

    # last: a change that breaks a rule is named by that rule; the digest catches the rest
    if digest is not None:
        actual = bars_digest(ts, o, h, lo, c, volume)
        if actual != digest:
            _fail(path, f"metadata.{DIGEST_KEY}",
                  f"the bars do not match their digest (expected {digest}, the bars give {actual}): "
                  "a value was changed after writing")

    return MarketFile(path=path, symbol=m_symbol, timeframe=m_timeframe, hour=m_hour, collected_at=collected_at,
                      source=source, price_scale=scale, ts=ts, open=o, high=h, low=lo, close=c, volume=volume,
                      summary=dict(summary))


def read_market_file(path: str | os.PathLike, *, symbol: str | None = None, timeframe: str | None = None,
                     hour: object = None) -> MarketFile:
    """Read, decode and validate one market file.

    Raises
    ------
    SnapshotNotFoundError
        If the file does not exist.
    SnapshotValidationError
        If it is malformed or breaks a rule; :class:`~gridregime.snapshot.fileio.SnapshotReadError`
        (a subclass) if it is not a regular file, too large or unreadable.
    """
    return validate_market_document(read_document(path), path, symbol=symbol, timeframe=timeframe, hour=hour)


def check_cross_file(minute: MarketFile, hourly: MarketFile) -> None:
    """The 1h file's last bar must equal the aggregate of the 1m file of the same hour.

    Prices are compared exactly (as rationals, so files with different scales compare
    correctly); volume with relative tolerance :data:`VOLUME_RTOL`.

    Raises
    ------
    SnapshotValidationError
        Naming the 1h file and the disagreeing field.
    """
    path = hourly.path
    if minute.symbol != hourly.symbol or minute.hour != hourly.hour:
        _fail(path, "metadata", f"belongs to {hourly.symbol} {iso_z(hourly.hour)}, the 1m file to "
                                f"{minute.symbol} {iso_z(minute.hour)}")
    agg = {"open": int(minute.open[0]), "high": int(minute.high.max()), "low": int(minute.low.min()),
           "close": int(minute.close[-1])}
    last = {k: int(getattr(hourly, k)[-1]) for k in PRICE_COLUMNS}
    for key in PRICE_COLUMNS:
        # a/sa == b/sb  <=>  a*sb == b*sa, exact with Python ints
        if agg[key] * hourly.price_scale != last[key] * minute.price_scale:
            _fail(path, f"bars.{key}",
                  f"last bar {last[key]}/{hourly.price_scale} disagrees with the 1m aggregate "
                  f"{agg[key]}/{minute.price_scale} of {minute.path}")
    agg_volume = volume_total(minute.volume.tolist())
    if agg_volume is None:
        _fail(minute.path, "bars.volume", VOLUME_SUM_OVERFLOW)
    if not math.isclose(float(hourly.volume[-1]), agg_volume, rel_tol=VOLUME_RTOL, abs_tol=1e-12):
        _fail(path, "bars.volume", f"last bar volume {float(hourly.volume[-1])!r} disagrees with the 1m sum "
                                   f"{agg_volume!r} of {minute.path}")
