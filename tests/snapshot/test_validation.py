"""Property 78 (data integrity): every format rule catches a single corrupted field, and the
error names the file and the field — through load_snapshot and through the bulk load_range."""
from __future__ import annotations

from pathlib import Path

import orjson
import pytest

from gridregime.snapshot import SnapshotReader, SnapshotValidationError, market_path
from gridregime.snapshot.format import change_pct
from tests.snapshot.fixtures import build_store, redigest

SYMBOL = "BTC-USDT"


@pytest.fixture(scope="module")
def pristine(tmp_path_factory) -> tuple[Path, list]:
    root = tmp_path_factory.mktemp("pristine")
    hours = build_store(root, count=4, history_hours=6)
    return root, hours


@pytest.fixture()
def store(pristine, tmp_path) -> tuple[Path, list]:
    import shutil

    root, hours = pristine
    copy = tmp_path / "store"
    shutil.copytree(root, copy)
    return copy, hours


def _resummarize(doc: dict) -> None:
    """Recompute market_summary from the bars, so only the intended rule breaks."""
    b = doc["bars"]
    if doc["metadata"]["timeframe"] == "1m":
        s = {"open": b["open"][0], "high": max(b["high"]), "low": min(b["low"]), "close": b["close"][-1],
             "volume": sum(b["volume"])}
    else:
        s = {k: b[k][-1] for k in ("open", "high", "low", "close", "volume")}
    s["change_pct"] = change_pct(s["open"], s["close"])
    doc["market_summary"] = s
    redigest(doc)


def _set(path: list, value):
    def corrupt(doc):
        node = doc
        for key in path[:-1]:
            node = node[key]
        node[path[-1]] = value
    return corrupt


def _delete(path: list):
    def corrupt(doc):
        node = doc
        for key in path[:-1]:
            node = node[key]
        del node[path[-1]]
    return corrupt


def _bar(column: str, row: int, fn, resummarize: bool = True):
    def corrupt(doc):
        doc["bars"][column][row] = fn(doc["bars"], row)
        if resummarize:
            _resummarize(doc)
    return corrupt


def _drop_last_bar(doc):
    for col in doc["bars"].values():
        col.pop()
    doc["metadata"]["bar_count"] -= 1
    _resummarize(doc)


def _swap_ts(doc):
    ts = doc["bars"]["ts"]
    ts[0], ts[1] = ts[1], ts[0]


def _cross_high(doc):  # 1h file alone stays valid; only the cross-file rule breaks
    doc["bars"]["high"][-1] += 1
    _resummarize(doc)


def _cross_volume(doc):  # 1m file alone stays valid; only the cross-file rule breaks
    doc["bars"]["volume"][0] += 1.0
    _resummarize(doc)


def _shift_ts(doc):
    doc["bars"]["ts"][7] += 1000


def _hour_later(doc):
    doc["metadata"]["hour"] = doc["metadata"]["hour"].replace("T", "T") [:11] + "23:00:00Z"


# (id, timeframe, corruption on the decoded document, field the error must name)
RULES = [
    ("schema-version", "1m", _set(["schema_version"], 2), "schema_version"),
    ("schema-version-type", "1h", _set(["schema_version"], "1"), "schema_version"),
    ("no-metadata", "1m", _delete(["metadata"]), "metadata"),
    ("no-summary", "1m", _delete(["market_summary"]), "market_summary"),
    ("no-bars", "1h", _delete(["bars"]), "bars"),
    ("no-close-column", "1m", _delete(["bars", "close"]), "bars.close"),
    ("column-not-array", "1m", _set(["bars", "ts"], {"a": 1}), "bars.ts"),
    ("unequal-columns", "1m", lambda d: d["bars"]["volume"].pop(), "bars.volume"),
    ("wrong-symbol", "1m", _set(["metadata", "symbol"], "ETH-USDT"), "metadata.symbol"),
    ("path-like-symbol", "1h", _set(["metadata", "symbol"], "../ETH-USDT"), "metadata.symbol"),
    ("wrong-timeframe", "1m", _set(["metadata", "timeframe"], "1h"), "metadata.timeframe"),
    ("wrong-hour", "1m", _hour_later, "metadata.hour"),
    ("wrong-hour-1h", "1h", _hour_later, "metadata.hour"),
    ("bad-price-scale", "1m", _set(["metadata", "price_scale"], 3), "metadata.price_scale"),
    ("bar-count", "1m", _set(["metadata", "bar_count"], 59), "metadata.bar_count"),
    ("bar-count-1h", "1h", _set(["metadata", "bar_count"], 1), "metadata.bar_count"),
    ("collected-at-garbage", "1m", _set(["metadata", "collected_at"], "yesterday"), "metadata.collected_at"),
    ("collected-before-close", "1m", _set(["metadata", "collected_at"], "2000-01-01T00:00:00Z"),
     "metadata.collected_at"),
    ("empty-source", "1m", _set(["metadata", "source"], ""), "metadata.source"),
    ("59-minute-bars", "1m", _drop_last_bar, "bars.ts"),
    ("minute-off-grid", "1m", _shift_ts, "bars.ts"),
    ("hour-off-grid", "1h", lambda d: d["bars"]["ts"].__setitem__(0, d["bars"]["ts"][0] + 60_000), "bars.ts"),
    ("hours-not-increasing", "1h", _swap_ts, "bars.ts"),
    ("last-hour-missing", "1h", _drop_last_bar, "bars.ts"),
    ("negative-price", "1m", _bar("open", 3, lambda b, i: -b["open"][i]), "bars.open"),
    ("zero-price", "1h", _bar("close", 0, lambda b, i: 0), "bars.close"),
    ("low-above-body", "1m", _bar("low", 5, lambda b, i: min(b["open"][i], b["close"][i]) + 1), "bars.low"),
    ("high-below-body", "1h", _bar("high", 1, lambda b, i: max(b["open"][i], b["close"][i]) - 1), "bars.high"),
    ("negative-volume", "1m", _bar("volume", 9, lambda b, i: -1.5), "bars.volume"),
    ("float-price", "1m", _bar("close", 0, lambda b, i: b["close"][i] + 0.5, False), "bars.close"),
    ("string-price", "1m", _bar("high", 2, lambda b, i: str(b["high"][i]), False), "bars.high"),
    ("bool-price", "1m", _bar("open", 4, lambda b, i: True, False), "bars.open"),
    ("bool-volume", "1m", _bar("volume", 4, lambda b, i: True, False), "bars.volume"),
    ("null-volume", "1m", _bar("volume", 4, lambda b, i: None, False), "bars.volume"),
    ("string-ts", "1h", _bar("ts", 0, lambda b, i: str(b["ts"][i]), False), "bars.ts"),
    ("price-past-int64", "1m", _bar("high", 2, lambda b, i: 2**63 + 5, False), "bars.high"),
    ("ts-past-int64", "1h", _bar("ts", 0, lambda b, i: 2**64 - 1, False), "bars.ts"),
    ("summary-close", "1m", lambda d: d["market_summary"].__setitem__("close", d["market_summary"]["close"] + 1),
     "market_summary.close"),
    ("summary-high-1h", "1h", lambda d: d["market_summary"].__setitem__("high", d["market_summary"]["high"] + 1),
     "market_summary.high"),
    ("summary-volume", "1m", lambda d: d["market_summary"].__setitem__("volume", d["market_summary"]["volume"] * 1.01),
     "market_summary.volume"),
    ("summary-change", "1m", lambda d: d["market_summary"].__setitem__("change_pct", 12.5),
     "market_summary.change_pct"),
    ("summary-float-open", "1m", lambda d: d["market_summary"].__setitem__("open", d["market_summary"]["open"] + 0.0),
     "market_summary.open"),
    ("summary-missing-low", "1h", _delete(["market_summary", "low"]), "market_summary.low"),
    ("cross-file-high", "1h", _cross_high, "bars.high"),
    ("cross-file-volume", "1m", _cross_volume, "bars.volume"),
    ("not-an-object", "1m", lambda d: None, "<document>"),
]


@pytest.mark.parametrize("timeframe,corrupt,field", [r[1:] for r in RULES], ids=[r[0] for r in RULES])
def test_property_78_single_corrupted_field_is_caught_and_named(store, timeframe, corrupt, field):
    root, hours = store
    hour = hours[-1]  # the newest hour: load_range reads its 1h file too
    path = market_path(root, SYMBOL, timeframe, hour)
    doc = orjson.loads(path.read_bytes())
    result = corrupt(doc)
    if field == "<document>":
        doc = [1, 2]
    path.write_bytes(orjson.dumps(doc))
    del result

    reader = SnapshotReader(root)
    with pytest.raises(SnapshotValidationError) as info:
        reader.load_snapshot(SYMBOL, hour)
    err = info.value
    assert err.field == field
    assert field in str(err)
    # cross-file errors are reported on the 1h file; everything else on the corrupted file
    named = market_path(root, SYMBOL, "1h" if field.startswith("bars.") and "cross" in str(corrupt) else timeframe,
                        hour)
    assert str(named.parent) in str(err)

    loaded = reader.load_range(SYMBOL, hours[0], hour)
    bad = [p for p in loaded.problems if p.hour == hour]
    assert len(bad) == 1 and bad[0].kind == "invalid"
    assert field in bad[0].reason and str(path.parent) in bad[0].reason
    assert hour not in loaded.hours
    assert list(loaded.hours) == hours[:-1]
    with pytest.raises(SnapshotValidationError):
        reader.load_range(SYMBOL, hours[0], hour, strict=True)


RAW = [
    ("truncated", lambda b: b[: len(b) // 2]),
    ("empty", lambda b: b""),
    ("nan-token", lambda b: b.replace(b'"volume":[', b'"volume":[NaN,', 1)),
    ("infinity-token", lambda b: b.replace(b'"volume":[', b'"volume":[Infinity,', 1)),
    ("huge-number", lambda b: b.replace(b'"volume":[', b'"volume":[1e999,', 1)),
    ("trailing-garbage", lambda b: b + b"}"),
]


@pytest.mark.parametrize("timeframe", ["1m", "1h"])
@pytest.mark.parametrize("mangle", [r[1] for r in RAW], ids=[r[0] for r in RAW])
def test_malformed_json_names_the_file(store, timeframe, mangle):
    root, hours = store
    hour = hours[-1]
    path = market_path(root, SYMBOL, timeframe, hour)
    path.write_bytes(mangle(path.read_bytes()))
    reader = SnapshotReader(root)
    with pytest.raises(SnapshotValidationError) as info:
        reader.load_snapshot(SYMBOL, hour)
    assert str(path) in str(info.value)
    assert info.value.field == "<document>"
    loaded = reader.load_range(SYMBOL, hours[0], hour)
    assert [p.hour for p in loaded.problems] == [hour]
    assert str(path) in loaded.problems[0].reason


def test_rules_leave_pristine_store_valid(pristine):
    root, hours = pristine
    reader = SnapshotReader(root)
    for hour in hours:
        reader.load_snapshot(SYMBOL, hour)
    assert reader.load_range(SYMBOL, hours[0], hours[-1]).problems == ()


def test_bool_volume_with_consistent_sums_is_caught_in_bulk(store):
    """JSON ``true`` where a number belongs, with every sum adjusted so no other rule fires."""
    root, hours = store
    hour = hours[-1]
    p1m, p1h = (market_path(root, SYMBOL, tf, hour) for tf in ("1m", "1h"))
    m, h = orjson.loads(p1m.read_bytes()), orjson.loads(p1h.read_bytes())
    m["bars"]["volume"][4] = True
    _resummarize(m)
    h["bars"]["volume"][-1] = m["market_summary"]["volume"]
    _resummarize(h)
    p1m.write_bytes(orjson.dumps(m))
    p1h.write_bytes(orjson.dumps(h))
    loaded = SnapshotReader(root).load_range(SYMBOL, hours[0], hour)
    assert [p.hour for p in loaded.problems] == [hour]
    assert "bars.volume" in loaded.problems[0].reason and str(p1m) in loaded.problems[0].reason
