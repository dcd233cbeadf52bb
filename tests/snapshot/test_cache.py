"""Columnar cache: identical results with and without it, rebuilt when stale (property 77 for
the JSON and cache paths)."""
from __future__ import annotations

import os
import shutil

import orjson
import pytest

from gridregime.cli import main
from gridregime.snapshot import SnapshotReader, SnapshotValidationError, market_path
from gridregime.snapshot.cache import ColumnarCache
from tests.snapshot.fixtures import build_store

SYMBOL = "BTC-USDT"


@pytest.fixture(scope="module")
def pristine(tmp_path_factory):
    # 2025-05-31 is not in the data: start on 2025-06-01 and cross no month; a second symbol
    # makes sure symbols are kept apart
    root = tmp_path_factory.mktemp("cache")
    hours = build_store(root, count=30, history_hours=12)
    build_store(root, symbol="ETH-USDT", count=3, history_hours=3)
    return root, hours


@pytest.fixture()
def store(pristine, tmp_path):
    root, hours = pristine
    shutil.copytree(root, tmp_path / "s")
    return tmp_path / "s", hours


def _same(a, b):
    assert a.minute.equals(b.minute)
    assert a.hourly.equals(b.hourly)
    assert a.hours == b.hours
    assert a.problems == b.problems


def _damage(root, hours):
    market_path(root, SYMBOL, "1m", hours[4]).unlink()
    p = market_path(root, SYMBOL, "1m", hours[9])
    doc = orjson.loads(p.read_bytes())
    doc["bars"]["high"][3] = doc["bars"]["low"][3] - 1
    p.write_bytes(orjson.dumps(doc))


def test_cache_gives_identical_results(store):
    root, hours = store
    _damage(root, hours)
    reader = SnapshotReader(root)
    for start, end in [(0, 29), (3, 12), (9, 9), (20, 29)]:
        _same(reader.load_range(SYMBOL, hours[start], hours[end]),
              reader.load_range(SYMBOL, hours[start], hours[end], use_cache=True))
    assert ColumnarCache(root).path(SYMBOL, 2025, 6).exists()
    # served from the cache now (fresh), still identical, strict errors identical too
    assert ColumnarCache(root).load(SYMBOL, 2025, 6) is not None
    _same(reader.load_range(SYMBOL, hours[0], hours[-1]), reader.load_range(SYMBOL, hours[0], hours[-1],
                                                                            use_cache=True))
    errors = []
    for use_cache in (False, True):
        with pytest.raises(SnapshotValidationError) as info:
            reader.load_range(SYMBOL, hours[5], hours[-1], strict=True, use_cache=use_cache)
        errors.append((type(info.value), str(info.value), info.value.field))
    assert errors[0] == errors[1]


def test_stale_cache_is_rebuilt(store):
    root, hours = store
    reader = SnapshotReader(root)
    reader.load_range(SYMBOL, hours[0], hours[-1], use_cache=True)
    cache = ColumnarCache(root)
    assert cache.load(SYMBOL, 2025, 6) is not None
    # change one source file: the cache no longer matches it
    p = market_path(root, SYMBOL, "1m", hours[7])
    doc = orjson.loads(p.read_bytes())
    doc["bars"]["open"][0] = -1
    p.write_bytes(orjson.dumps(doc))
    assert cache.load(SYMBOL, 2025, 6) is None
    loaded = reader.load_range(SYMBOL, hours[0], hours[-1], use_cache=True)
    assert [p.hour for p in loaded.problems] == [hours[7]]
    _same(loaded, reader.load_range(SYMBOL, hours[0], hours[-1]))
    assert cache.load(SYMBOL, 2025, 6) is not None
    # a removed file makes it stale too
    market_path(root, SYMBOL, "1h", hours[2]).unlink()
    assert cache.load(SYMBOL, 2025, 6) is None
    _same(reader.load_range(SYMBOL, hours[0], hours[-1], use_cache=True),
          reader.load_range(SYMBOL, hours[0], hours[-1]))


def test_corrupt_cache_file_is_rebuilt(store):
    root, hours = store
    reader = SnapshotReader(root)
    reader.load_range(SYMBOL, hours[0], hours[-1], use_cache=True)
    path = ColumnarCache(root).path(SYMBOL, 2025, 6)
    path.write_bytes(path.read_bytes()[:100])
    _same(reader.load_range(SYMBOL, hours[0], hours[-1], use_cache=True),
          reader.load_range(SYMBOL, hours[0], hours[-1]))
    assert ColumnarCache(root).load(SYMBOL, 2025, 6) is not None


def test_compact_command(store, capsys):
    root, hours = store
    assert main(["compact", str(root)]) == 0
    out = capsys.readouterr().out
    assert "2 month file(s): 2 built, 0 already fresh" in out
    assert os.path.join(".cache", "columnar", SYMBOL, "2025-06.parquet") in out
    assert main(["compact", str(root), "--symbol", SYMBOL]) == 0
    assert "1 month file(s): 0 built, 1 already fresh" in capsys.readouterr().out
    # the cache directory is not mistaken for snapshot hours or symbols
    reader = SnapshotReader(root)
    assert reader.symbols() == [SYMBOL, "ETH-USDT"] or reader.symbols() == sorted([SYMBOL, "ETH-USDT"])
    assert reader.hours(SYMBOL) == hours
    assert main(["validate", str(root)]) == 0
