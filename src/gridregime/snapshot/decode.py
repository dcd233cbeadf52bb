"""Decoding snapshot bytes into columns: the one place that knows how a market file is laid out.

Three consumers share it:

* the reference validator (:mod:`gridregime.snapshot.validate`) decodes a whole document and
  turns its ``bars`` lists into typed columns (:func:`json_column`, compiled in
  :mod:`gridregime._libs.columns`);
* the bulk range scan (:mod:`gridregime.snapshot.minute_scan`) splits each minute file written
  in the writer's own layout without decoding its bars (:func:`split_minute_file`) and parses
  the segments of all files column by column (:func:`parse_int_columns`,
  :func:`parse_number_columns`);
* the columnar cache (:mod:`gridregime.snapshot.cache`) stores and restores the same
  (files x 60) columns as Parquet (:func:`minute_columns_table`, :func:`minute_columns_from_table`).

Nothing here decides whether a file is valid beyond what decoding needs: a file the fast
path cannot vouch for gets ``None``, and the reference validator names its problem.
"""
from __future__ import annotations

import os
import warnings
from datetime import datetime

import numpy as np
import orjson
import pyarrow as pa

from gridregime._libs import columns as _columns
from gridregime.snapshot.errors import SnapshotValidationError
from gridregime.snapshot.fileio import read_snapshot_bytes
from gridregime.snapshot.format import BAR_KEYS, DIGEST_KEY, MINUTE_BARS, SCHEMA_VERSION, decode_json
from gridregime.timeutil import HOUR

_POWERS_OF_TEN = frozenset(10**d for d in range(19))
#: The (files x 60) integer columns of a minute scan; ``volume`` is the float one.
INT_COLUMNS = BAR_KEYS[:5]


def read_document(path: str | os.PathLike) -> object:
    """The decoded JSON of one snapshot file (regular files only; errors name the file)."""
    return decode_json(read_snapshot_bytes(path), path)


def json_type_name(value: object) -> str:
    return "null" if value is None else type(value).__name__


#: How a decoded JSON list becomes a typed column: the compiled converter (which returns the
#: array and the row of the first value it refuses, or -1) and what an overflow means.
_CONVERTERS = {
    "int64": (_columns.int64_column, "integer out of the 64-bit range"),
    "float64": (_columns.float64_column, "number out of the float64 range"),
}


def _refused(value: object, dtype: str) -> str:
    if dtype == "int64":
        return f"expected integers, got {json_type_name(value)} {value!r}"
    if type(value) not in (int, float):
        return f"expected numbers, got {json_type_name(value)} {value!r}"
    return f"expected finite numbers, got {float(value)!r}"


def json_column(values: list, path, field: str, dtype: str) -> np.ndarray:
    """A decoded JSON list as an ``int64`` (integers only) or ``float64`` (finite numbers) array;
    anything else is a :class:`SnapshotValidationError` naming ``field`` and the row."""
    convert, overflow = _CONVERTERS[dtype]
    try:
        arr, i = convert(values)
    except OverflowError:
        raise SnapshotValidationError(path, field, overflow) from None
    if i >= 0:
        raise SnapshotValidationError(path, field, f"{_refused(values[i], dtype)} at row {i}")
    return arr


_BARS_MARKER = b',"bars":{"ts":['
_COLUMN_MARKERS = (b'],"open":[', b'],"high":[', b'],"low":[', b'],"close":[', b'],"volume":[')
_TAIL = b"]}}"
_INT_CHARS = b"0123456789,"
_NUMBER_CHARS = b"0123456789,.eE+-"
_HEAD_KEYS = {"schema_version": None, "metadata": None, "market_summary": None}.keys()
_NUMBER_TYPES = (int, float)


def _check_head(head: object, symbol: str, hour_text: str, hour: datetime):
    """Cheap checks of metadata and summary; ``None`` when they cannot vouch for the file."""
    try:
        if type(head) is not dict or head.keys() != _HEAD_KEYS:
            return None
        if head["schema_version"] != SCHEMA_VERSION or type(head["schema_version"]) is not int:
            return None
        meta = head["metadata"]
        scale = meta["price_scale"]
        if (meta["symbol"] != symbol or meta["timeframe"] != "1m" or meta["hour"] != hour_text
                or type(scale) is not int or scale not in _POWERS_OF_TEN
                or type(meta["bar_count"]) is not int or meta["bar_count"] != MINUTE_BARS):
            return None
        source = meta["source"]
        collected = meta["collected_at"]
        if type(source) is not str or not source or type(collected) is not str:
            return None
        collected_at = datetime.fromisoformat(collected)
        if collected_at.tzinfo is None or collected_at < hour + HOUR:
            return None
        s = head["market_summary"]
        s_ints = [s["open"], s["high"], s["low"], s["close"]]
        s_floats = [s["volume"], s["change_pct"]]
        a, b, c, d = s_ints
        if not (type(a) is int and type(b) is int and type(c) is int and type(d) is int
                and type(s_floats[0]) in _NUMBER_TYPES and type(s_floats[1]) in _NUMBER_TYPES):
            return None
        digest = meta.get(DIGEST_KEY)
        if DIGEST_KEY in meta and (type(digest) is not str or len(digest) != 64):
            return None  # the reference validator names the problem
        return scale, s_ints, s_floats, digest
    except (KeyError, TypeError, ValueError):
        return None


def split_minute_file(data: bytes, symbol: str, hour_text: str, hour: datetime):
    """A minute file in the writer's own layout, split without decoding its bars.

    Returns ``(price_scale, summary ints, summary floats, digest, six column segments)`` where each
    segment is a view of the bytes between the brackets of one ``bars`` array, or ``None``
    when the file is not in that layout (or its head does not pass the cheap checks).
    Cutting at ``,"bars":{"ts":[`` is safe: that text cannot occur inside a JSON string, and
    a cut inside a nested object leaves unbalanced braces that orjson rejects.
    """
    i = data.find(_BARS_MARKER)
    if i < 0 or not data.endswith(_TAIL):
        return None
    try:
        head = _decode_head(data, i)
    except orjson.JSONDecodeError:
        return None
    checked = _check_head(head, symbol, hour_text, hour)
    if checked is None:
        return None
    view = memoryview(data)  # segments are views: no copy until the one join per column
    pos = i + len(_BARS_MARKER)
    segments = []
    for marker in _COLUMN_MARKERS:
        j = data.find(marker, pos)
        if j < 0:
            return None
        segments.append(view[pos:j])
        pos = j + len(marker)
    segments.append(view[pos:len(data) - len(_TAIL)])
    return (*checked, segments)


def _join_checked(segments: list, allowed: bytes):
    """Join the segments of one column; check characters and 60 values per file.

    Returns ``(joined bytes, uint8 view, comma positions)`` or ``None``. The per-file value
    count is checked on the comma positions of the joined column (vectorised), so a file
    with 59 values cannot hide behind a neighbour with 61.
    """
    joined = b",".join(segments)
    if joined.translate(None, allowed):
        return None
    buf = np.frombuffer(joined, dtype=np.uint8)
    commas = np.flatnonzero(buf == ord(","))
    lengths = np.fromiter(map(len, segments), dtype=np.int64, count=len(segments))
    ends = np.cumsum(lengths + 1) - 1  # where the separator after each segment sits
    per_file = np.searchsorted(commas, ends) - np.searchsorted(commas, ends - lengths)
    if np.any(per_file != MINUTE_BARS - 1):
        return None
    return joined, buf, commas


def parse_int_columns(segments: list) -> np.ndarray | None:
    """All files' segments of one int column → (n, 60) int64, or ``None`` if any is not a
    plain JSON integer (digits only, no sign, no leading zero, no white space)."""
    checked = _join_checked(segments, _INT_CHARS)
    if checked is None:
        return None
    joined, buf, commas = checked
    if buf.size == 0 or buf[0] == ord("0") or np.any(buf[commas + 1] == ord("0")):
        return None  # a leading zero (invalid JSON) or a zero (never valid here)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        try:
            arr = np.fromstring(joined, dtype=np.int64, sep=",")
        except (ValueError, DeprecationWarning):
            return None
    if arr.size != MINUTE_BARS * len(segments):
        return None
    return arr.reshape(len(segments), MINUTE_BARS)


def parse_number_columns(segments: list) -> np.ndarray | None:
    """All files' volume segments → (n, 60) float64 (JSON numbers only), or ``None``."""
    checked = _join_checked(segments, _NUMBER_CHARS)
    if checked is None:
        return None
    try:
        values = orjson.loads(b"[" + checked[0] + b"]")
    except orjson.JSONDecodeError:
        return None
    if len(values) != MINUTE_BARS * len(segments):
        return None
    # every element is a JSON number (checked above), so the typed fast path is safe
    return np.fromiter(values, dtype=np.float64, count=len(values)).reshape(len(segments), MINUTE_BARS)


def int_segment_ok(seg) -> bool:
    return parse_int_columns([seg]) is not None


def number_segment_ok(seg) -> bool:
    return parse_number_columns([seg]) is not None


def _decode_head(data: bytes, bars_at: int) -> object:
    """The document without its ``bars`` (which start at ``bars_at``; the whole file when < 0)."""
    return orjson.loads(data[:bars_at] + b"}") if bars_at > 0 else orjson.loads(data)


def last_hourly_bar(data: bytes) -> dict | None:
    """The last bar of a 1h file as float prices, from its ``market_summary`` (the bars are not
    decoded); ``None`` when its head is not as written."""
    try:
        head = _decode_head(data, data.find(_BARS_MARKER))
        scale = head["metadata"]["price_scale"]
        s = head["market_summary"]
        if type(scale) is not int or scale not in _POWERS_OF_TEN:
            return None
        out = {k: s[k] / scale for k in ("open", "high", "low", "close")}
        out["volume"] = float(s["volume"])
        if not all(type(s[k]) is int for k in ("open", "high", "low", "close")):
            return None
        return out
    except (orjson.JSONDecodeError, KeyError, TypeError, ValueError, OverflowError):
        return None


def plain_segments(columns) -> list[bytes]:
    """Six validated columns re-encoded as the plain segments :func:`split_minute_file` cuts out."""
    return [orjson.dumps(a, option=orjson.OPT_SERIALIZE_NUMPY)[1:-1] for a in columns]


def minute_columns_table(arrays: dict | None) -> pa.Table:
    """The (files x 60) minute columns flattened into one Arrow table (the cache's Parquet body)."""
    cols = {c: (arrays[c].ravel() if arrays else np.zeros(0, np.int64)) for c in INT_COLUMNS}
    cols["volume"] = arrays["volume"].ravel() if arrays else np.zeros(0)
    return pa.table(cols)


def minute_columns_from_table(table: pa.Table, n_files: int) -> dict:
    """Inverse of :func:`minute_columns_table` for ``n_files`` files."""
    arrays = {c: table.column(c).to_numpy().reshape(n_files, MINUTE_BARS) for c in INT_COLUMNS}
    arrays["volume"] = table.column("volume").to_numpy().reshape(n_files, MINUTE_BARS)
    return arrays
