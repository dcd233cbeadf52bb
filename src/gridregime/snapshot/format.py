"""Encoding and decoding of format v1 market files (the JSON document, via orjson).

Prices are stored as integers ``round(price * price_scale)``. A price that does not survive
the round trip ``int / price_scale`` exactly is refused: storage is lossless or it fails.
Encoding is deterministic (same input, same bytes), which makes the immutability check of
raw files a plain byte comparison.

``metadata.content_sha256`` (written by every writer, optional for readers) is the SHA-256
(lower-case hex) of the canonical ``bars`` columns: the bytes of ``ts``, ``open``, ``high``,
``low`` and ``close`` as little-endian int64 followed by ``volume`` as little-endian IEEE-754
float64, in that order, with nothing in between (:func:`bars_digest`). It catches a value
changed within its bar's bounds, which no other rule can.
"""
from __future__ import annotations

import hashlib
import math
import os
from datetime import datetime

import numpy as np
import orjson
import pyarrow as pa

from gridregime.bars import PRICE_COLUMNS, bars_to_numpy
from gridregime.errors import InvalidParameterError
from gridregime.snapshot.errors import SnapshotValidationError
from gridregime.timeutil import iso_z

SCHEMA_VERSION = 1
DEFAULT_PRICE_SCALE = 100
# Integers above 2**53 no longer map one-to-one onto float64.
MAX_SCALED_PRICE = 2**53
DOCUMENT_KEYS = ("schema_version", "metadata", "market_summary", "bars")
METADATA_KEYS = ("symbol", "timeframe", "hour", "collected_at", "source", "price_scale", "bar_count")
SUMMARY_KEYS = ("open", "high", "low", "close", "volume", "change_pct")
BAR_KEYS = ("ts", "open", "high", "low", "close", "volume")
#: Optional metadata field: SHA-256 of the canonical bars columns (see the module docstring).
DIGEST_KEY = "content_sha256"
#: Bars in a minute file: one per minute of its hour.
MINUTE_BARS = 60
#: Relative tolerance for comparing float volumes (sums may be added in another order).
VOLUME_RTOL = 1e-9
#: Absolute tolerance for ``change_pct`` (a float derived from int prices).
CHANGE_PCT_ATOL = 1e-9


def bars_digest(ts: np.ndarray, open_: np.ndarray, high: np.ndarray, low: np.ndarray, close: np.ndarray,
                volume: np.ndarray) -> str:
    """SHA-256 (hex) of the canonical bars columns: five int64 columns then float64 volume, little-endian."""
    h = hashlib.sha256()
    for col in (ts, open_, high, low, close):
        h.update(np.ascontiguousarray(col, dtype="<i8").tobytes())
    h.update(np.ascontiguousarray(volume, dtype="<f8").tobytes())
    return h.hexdigest()


def is_power_of_ten(value: object) -> bool:
    if not isinstance(value, int) or isinstance(value, bool) or value < 1:
        return False
    while value % 10 == 0:
        value //= 10
    return value == 1


def _representable(prices: np.ndarray, scale: int) -> bool:
    scaled = np.rint(prices * scale)
    return bool(np.all(scaled <= MAX_SCALED_PRICE) and np.array_equal(scaled / scale, prices))


def infer_price_scale(bars_table: pa.Table, *, minimum: int = DEFAULT_PRICE_SCALE, max_decimals: int = 8) -> int:
    """Smallest ``10**d >= minimum`` (``d <= max_decimals``) that represents every price exactly.

    Parameters
    ----------
    bars_table : pyarrow.Table
        Bars with float64 ``open``/``high``/``low``/``close`` columns (:data:`gridregime.bars.BARS_SCHEMA`).
    minimum : int, default 100
        Lower bound of the scale (the original system stored cents).
    max_decimals : int, default 8
        Largest ``d`` tried.

    Raises
    ------
    InvalidParameterError
        If a price is not finite, or needs more than ``max_decimals`` decimals.
    """
    if not isinstance(minimum, int) or minimum < 1:
        raise InvalidParameterError(f"minimum: expected a positive int, got {minimum!r}")
    if not isinstance(max_decimals, int) or not 0 <= max_decimals <= 15:
        raise InvalidParameterError(f"max_decimals: expected an int in [0, 15], got {max_decimals!r}")
    prices = np.concatenate([np.asarray(bars_table.column(c).to_numpy(), dtype=np.float64) for c in PRICE_COLUMNS])
    if not np.all(np.isfinite(prices)):
        raise InvalidParameterError("bars: prices must be finite to infer a price scale")
    for d in range(max_decimals + 1):
        scale = 10**d
        if scale >= minimum and _representable(prices, scale):
            return scale
    floor = max(minimum, 1)
    too_big = np.rint(prices * floor) > MAX_SCALED_PRICE
    if too_big.any():
        raise InvalidParameterError(
            f"bars: price {float(prices[too_big][0])!r} is too large to store exactly: price x price_scale must stay "
            f"below 2**53 (at price_scale {floor}: below {MAX_SCALED_PRICE / floor:.3g})")
    ok = np.zeros(prices.size, dtype=bool)
    for d in range(max_decimals + 1):
        if 10**d >= minimum:
            scaled = np.rint(prices * 10**d)
            ok |= (scaled / 10**d == prices) & (scaled <= MAX_SCALED_PRICE)
    bad = prices[~ok]
    shown = repr(float(bad[0])) if bad.size else "a price"
    raise InvalidParameterError(
        f"bars: no price scale 10**d with d <= {max_decimals} represents {shown} exactly; "
        "pass the scale explicitly (--price-scale on the command line, price_scale= in Python)"
    )


def scale_prices(values: np.ndarray, scale: int, *, path: str | os.PathLike, field: str) -> np.ndarray:
    """Float prices → int64 ``round(price * scale)``; refuses any price that would be rounded."""
    values = np.asarray(values, dtype=np.float64)
    finite = np.isfinite(values)
    if not finite.all():
        i = int(np.flatnonzero(~finite)[0])
        raise SnapshotValidationError(path, field, f"expected finite prices, got {values[i]!r} at row {i}")
    scaled = np.rint(values * scale)
    lossy = (scaled / scale != values) | (np.abs(scaled) > MAX_SCALED_PRICE)
    if lossy.any():
        i = int(np.flatnonzero(lossy)[0])
        raise SnapshotValidationError(
            path, field,
            f"price {values[i]!r} at row {i} is not representable exactly at price_scale {scale}; "
            "use a larger price_scale",
        )
    return scaled.astype(np.int64)


#: What a sum of volumes beyond float64 says (one wording for writer, validator and reader).
VOLUME_SUM_OVERFLOW = "the volumes add up beyond the float64 range (about 1.8e308); expected a finite total"


def volume_total(values) -> float | None:
    """Exact sum (``math.fsum``) of volumes, or ``None`` when it is beyond the float64 range."""
    try:
        total = math.fsum(float(x) for x in values)
    except OverflowError:
        return None
    return total if math.isfinite(total) else None


def change_pct(open_int: int, close_int: int) -> float:
    """Percent change from ``open`` to ``close`` (both at the same price scale)."""
    return (close_int - open_int) / open_int * 100.0


def market_summary(timeframe: str, o: np.ndarray, h: np.ndarray, lo: np.ndarray, c: np.ndarray,
                   v: np.ndarray) -> dict:
    """The ``market_summary`` block: always a summary of hour H itself.

    For a 1m file it aggregates the 60 minute bars (first open, max high, min low, last
    close, summed volume); for a 1h file it is the last bar (hour H). Both files of one hour
    therefore carry the same summary. ``change_pct`` is ``(close - open) / open * 100``.
    Prices are scaled ints, like the bars.
    """
    if len(o) == 0:
        raise InvalidParameterError("bars: expected at least one bar")
    if timeframe == "1m":
        so, sh, sl, sc = int(o[0]), int(np.max(h)), int(np.min(lo)), int(c[-1])
        sv = volume_total(v)
        if sv is None:
            raise InvalidParameterError(f"bars.volume: {VOLUME_SUM_OVERFLOW}")
    else:
        so, sh, sl, sc, sv = int(o[-1]), int(h[-1]), int(lo[-1]), int(c[-1]), float(v[-1])
    return {"open": so, "high": sh, "low": sl, "close": sc, "volume": sv,
            "change_pct": change_pct(so, sc) if so > 0 else 0.0}


def encode_market(*, path: str | os.PathLike, symbol: str, timeframe: str, hour: datetime,
                  bars: pa.Table, price_scale: int, source: str, collected_at: datetime,
                  with_digest: bool = True) -> bytes:
    """Serialize bars (:data:`~gridregime.bars.BARS_SCHEMA`) into a format v1 market document.

    ``path`` only names the target file in error messages. The result is not validated
    here; see :func:`gridregime.snapshot.validate.validate_market_document`. With
    ``with_digest=False`` the document lacks ``metadata.content_sha256`` (as files written
    before the field existed do); used to recognise such files as unchanged.
    """
    cols = bars_to_numpy(bars)
    ints = {name: scale_prices(cols[name], price_scale, path=path, field=f"bars.{name}") for name in PRICE_COLUMNS}
    volume = cols["volume"]
    if not np.all(np.isfinite(volume)):
        i = int(np.flatnonzero(~np.isfinite(volume))[0])
        raise SnapshotValidationError(path, "bars.volume", f"expected finite volumes, got {volume[i]!r} at row {i}")
    if timeframe == "1m" and volume_total(volume) is None:
        raise SnapshotValidationError(path, "bars.volume", VOLUME_SUM_OVERFLOW)
    doc = {
        "schema_version": SCHEMA_VERSION,
        "metadata": {
            "symbol": symbol,
            "timeframe": timeframe,
            "hour": iso_z(hour),
            "collected_at": iso_z(collected_at),
            "source": source,
            "price_scale": int(price_scale),
            "bar_count": len(volume),
        },
        "market_summary": market_summary(timeframe, ints["open"], ints["high"], ints["low"], ints["close"], volume),
        "bars": {"ts": cols["ts"], **ints, "volume": volume},
    }
    if with_digest:
        doc["metadata"][DIGEST_KEY] = bars_digest(cols["ts"], ints["open"], ints["high"], ints["low"],
                                                  ints["close"], volume)
    return orjson.dumps(doc, option=orjson.OPT_SERIALIZE_NUMPY)


def decode_json(data: bytes, path: str | os.PathLike) -> object:
    """Parse JSON bytes; malformed or truncated input (and NaN/Infinity tokens) names the file."""
    try:
        return orjson.loads(data)
    except orjson.JSONDecodeError as exc:
        what = "empty file" if not data else f"malformed or truncated JSON ({exc})"
        raise SnapshotValidationError(path, "<document>", what) from None
