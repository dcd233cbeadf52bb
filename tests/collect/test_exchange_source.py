"""ExchangeSource offline: a fake exchange with ccxt's method signatures answers from recorded candles.

The fake raises exceptions named and nested as ccxt's are (``RateLimitExceeded`` is a
``DDoSProtection`` is a ``NetworkError``; ``BadSymbol`` is an ``ExchangeError``), so the tests need
no ccxt. Its answers come from ``tests/data/ccxt_binance_ETH-USDT_2021-04-19T10.json`` (real
Binance candles in ccxt's row shape).
"""
from __future__ import annotations

import copy
import json
import random
import sys
from datetime import UTC, datetime, timedelta

import pyarrow.parquet as pq
import pytest
import yaml

from gridregime.bars import bars_to_numpy
from gridregime.collect import open_source
from gridregime.collect.collector import MetricsCollector
from gridregime.collect.sources.common import SourceDataError
from gridregime.collect.sources.exchange import ExchangeSource, Gap, is_retryable
from gridregime.errors import InvalidParameterError
from gridregime.snapshot import SnapshotReader
from gridregime.snapshot.paths import summary_path

HOUR = datetime(2021, 4, 19, 10, tzinfo=UTC)
H_MS = int(HOUR.timestamp() * 1000)
MIN = 60_000


# -- ccxt's exception tree, by name ----------------------------------------------------------------
class BaseError(Exception):
    pass


class ExchangeError(BaseError):
    pass


class BadRequest(ExchangeError):
    pass


class BadSymbol(BadRequest):
    pass


class NetworkError(BaseError):
    pass


class DDoSProtection(NetworkError):
    pass


class RateLimitExceeded(DDoSProtection):
    pass


class RequestTimeout(NetworkError):
    pass


@pytest.fixture(scope="module")
def recorded(data_dir):
    return json.loads((data_dir / "ccxt_binance_ETH-USDT_2021-04-19T10.json").read_text())


class FakeExchange:
    """Speaks ccxt's unified signatures; answers like an exchange: from ``since``, at most ``limit``
    candles, including the candle in progress (its values partial) when its open time has passed."""

    id = "binance"

    def __init__(self, recorded, *, server_time=None, errors=(), page=None):
        self.enableRateLimit = False
        self.rateLimit = 50
        self.server_time = recorded["server_time"] if server_time is None else server_time
        self.ohlcv = copy.deepcopy(recorded["ohlcv"])
        self.errors = list(errors)
        self.page = page  # optional hook: (rows, since, limit, timeframe) -> rows
        self.calls: list[tuple] = []
        self.markets = None

    def load_markets(self, reload=False, params=None):
        self.markets = {"ETH/USDT": {"symbol": "ETH/USDT", "base": "ETH", "quote": "USDT"}}
        return self.markets

    def fetch_time(self, params=None):
        return self.server_time

    def milliseconds(self):
        return self.server_time

    def fetch_ohlcv(self, symbol, timeframe="1m", since=None, limit=None, params=None):
        self.calls.append((symbol, timeframe, since, limit))
        if self.errors:
            raise self.errors.pop(0)
        if symbol != "ETH/USDT":
            raise BadSymbol(f"binance does not have market symbol {symbol}")
        step = MIN if timeframe == "1m" else 3_600_000
        rows = [list(r) for r in self.ohlcv[timeframe] if r[0] >= (since or 0) and r[0] <= self.server_time]
        if rows and rows[-1][0] + step > self.server_time:  # the candle in progress: partial values
            rows[-1][2] = rows[-1][1] + 0.01
            rows[-1][3] = rows[-1][1] - 0.01
            rows[-1][4] = rows[-1][1]
            rows[-1][5] = 0.5
        rows = rows[: limit or 500]
        return self.page(rows, since, limit, timeframe) if self.page else rows


def source_of(exchange, **kw):
    sleeps: list[float] = []
    src = ExchangeSource(exchange, sleep=sleeps.append, rng=random.Random(1), **kw)
    return src, sleeps


def expected_minutes(data_dir):
    t = pq.read_table(data_dir / "ETH-USDT_1m_2021-04-19_2021-04-21.parquet").to_pydict()
    return [(t["ts"][i], t["close"][i]) for i in range(len(t["ts"])) if H_MS <= t["ts"][i] < H_MS + 60 * MIN]


def ts_close(table):
    cols = bars_to_numpy(table)
    return list(zip(cols["ts"].tolist(), cols["close"].tolist()))


def test_rate_limiter_is_switched_on_and_the_source_names_the_exchange(recorded):
    ex = FakeExchange(recorded)
    src, _ = source_of(ex)
    assert ex.enableRateLimit is True and src.name == "ccxt:binance"
    assert src.has_symbol("ETH-USDT") and not src.has_symbol("DOGE-USDT")


def test_complete_hour_keeps_every_closed_candle_and_not_the_one_in_progress(recorded, data_dir):
    # server time 11:00:02: the 11:00 candle is in progress (and returned, partial); 10:59 is closed
    ex = FakeExchange(recorded)
    src, _ = source_of(ex)
    got = src.fetch_ohlcv("ETH-USDT", "1m", HOUR, HOUR + timedelta(hours=1))
    assert ts_close(got) == expected_minutes(data_dir)
    assert src.gaps == []


def test_partial_last_candle_is_dropped_by_time_not_by_position(recorded, data_dir):
    # server time 10:59:30: the 10:59 candle is returned with partial values and must not be kept
    ex = FakeExchange(recorded, server_time=H_MS + 59 * MIN + 30_000)
    src, _ = source_of(ex)
    got = src.fetch_ohlcv("ETH-USDT", "1m", HOUR, HOUR + timedelta(hours=1))
    assert ts_close(got) == expected_minutes(data_dir)[:59]
    assert src.gaps == []  # not missing: not due yet


def test_pagination_starts_each_page_after_the_last_open_time(recorded, data_dir):
    ex = FakeExchange(recorded)
    src, _ = source_of(ex, limit=25)
    got = src.fetch_ohlcv("ETH-USDT", "1m", HOUR, HOUR + timedelta(hours=1))
    assert ts_close(got) == expected_minutes(data_dir)
    assert [c[2] for c in ex.calls] == [H_MS, H_MS + 25 * MIN, H_MS + 50 * MIN]
    assert all(c[:2] == ("ETH/USDT", "1m") and c[3] == 25 for c in ex.calls)


def test_duplicate_rows_are_removed_on_open_time(recorded, data_dir):
    def duplicate(rows, since, limit, tf):  # every row twice, and the previous page's last row again
        out = [r for row in rows for r in (row, list(row))]
        before = [list(r) for r in ex.ohlcv[tf] if r[0] == since - MIN and since > H_MS]
        return before + out

    ex = FakeExchange(recorded)
    ex.page = duplicate
    src, _ = source_of(ex, limit=20)
    got = src.fetch_ohlcv("ETH-USDT", "1m", HOUR, HOUR + timedelta(hours=1))
    assert ts_close(got) == expected_minutes(data_dir)


def test_a_gap_is_recorded_and_left_as_a_gap(recorded, data_dir):
    ex = FakeExchange(recorded)
    ex.ohlcv["1m"] = [r for r in ex.ohlcv["1m"] if r[0] not in (H_MS + 17 * MIN, H_MS + 18 * MIN)]
    src, _ = source_of(ex)
    got = src.fetch_ohlcv("ETH-USDT", "1m", HOUR, HOUR + timedelta(hours=1))
    want = [r for r in expected_minutes(data_dir) if r[0] not in (H_MS + 17 * MIN, H_MS + 18 * MIN)]
    assert ts_close(got) == want
    assert src.gaps == [Gap("ETH-USDT", "1m", H_MS + 17 * MIN, 2)]


def test_microsecond_times_are_normalised(recorded, data_dir):
    ex = FakeExchange(recorded, page=lambda rows, *a: [[r[0] * 1000, *r[1:]] for r in rows])
    src, _ = source_of(ex)
    got = src.fetch_ohlcv("ETH-USDT", "1m", HOUR, HOUR + timedelta(hours=1))
    assert ts_close(got) == expected_minutes(data_dir)


def test_rate_limit_then_success_is_retried_with_jittered_backoff(recorded, data_dir):
    ex = FakeExchange(recorded, errors=[RateLimitExceeded("429 Too Many Requests"), RequestTimeout("timed out")])
    src, sleeps = source_of(ex, backoff=0.5)
    got = src.fetch_ohlcv("ETH-USDT", "1m", HOUR, HOUR + timedelta(hours=1))
    assert ts_close(got) == expected_minutes(data_dir)
    assert len(ex.calls) == 3 and src.retries == 2
    assert 0.25 <= sleeps[0] < 0.75 and 0.5 <= sleeps[1] < 1.5  # base 0.5 s, doubled, x [0.5, 1.5)


def test_exchange_errors_are_never_retried(recorded):
    ex = FakeExchange(recorded, errors=[BadSymbol("binance does not have market symbol ETH/USDT")])
    src, sleeps = source_of(ex)
    with pytest.raises(SourceDataError, match="exchange refused the request: BadSymbol"):
        src.fetch_ohlcv("ETH-USDT", "1m", HOUR, HOUR + timedelta(hours=1))
    assert len(ex.calls) == 1 and sleeps == []


def test_network_errors_give_up_after_max_retries(recorded):
    ex = FakeExchange(recorded, errors=[RequestTimeout("t")] * 10)
    src, sleeps = source_of(ex, max_retries=3)
    with pytest.raises(SourceDataError, match="network error after 3 retries"):
        src.fetch_ohlcv("ETH-USDT", "1m", HOUR, HOUR + timedelta(hours=1))
    assert len(ex.calls) == 4 and len(sleeps) == 3


def test_error_classification_follows_the_ccxt_tree():
    assert is_retryable(RateLimitExceeded()) and is_retryable(RequestTimeout()) and is_retryable(NetworkError())
    assert not is_retryable(BadSymbol()) and not is_retryable(ExchangeError()) and not is_retryable(ValueError())


def test_collector_through_the_fake_exchange_stores_and_analyses_the_hour(recorded, tmp_path, data_dir):
    ex = FakeExchange(recorded)
    src, _ = source_of(ex)
    collector = MetricsCollector(src, tmp_path / "store")
    report = collector.collect("2021-04-19T11:00:02Z", ["ETH-USDT"])
    (out,) = report.results
    assert out.status == "ok", out.reason
    snap = SnapshotReader(collector.root).load_snapshot("ETH-USDT", HOUR)
    assert ts_close(snap.minute) == expected_minutes(data_dir)
    assert snap.hourly.num_rows == 1000
    doc = yaml.safe_load(summary_path(collector.root, "ETH-USDT", HOUR).read_text())
    assert doc["source"] == "ccxt:binance" and doc["verdict"] == out.verdict
    # 1m pages for the hour, 1h pages for the history (no previous snapshot)
    assert {c[1] for c in ex.calls} == {"1m", "1h"}


def test_collector_with_the_last_candle_still_open_writes_nothing(recorded, tmp_path):
    ex = FakeExchange(recorded, server_time=H_MS + 59 * MIN + 30_000)
    src, _ = source_of(ex)
    collector = MetricsCollector(src, tmp_path / "store")
    (out,) = collector.collect_hour(HOUR, ["ETH-USDT"]).results
    assert out.status == "incomplete" and "1 of 60 minutes missing" in out.reason
    assert not (tmp_path / "store" / "2021").exists()
    with pytest.raises(InvalidParameterError, match="symbols: unknown to source ccxt:binance: DOGE-USDT"):
        collector.collect_hour(HOUR, ["DOGE-USDT"])


def test_missing_ccxt_names_the_extra(monkeypatch):
    monkeypatch.setitem(sys.modules, "ccxt", None)
    with pytest.raises(InvalidParameterError, match=r"--source: .*gridregime\[exchange\]"):
        open_source("ccxt:binance", name="--source")
    with pytest.raises(InvalidParameterError, match="--source: expected ccxt:EXCHANGE"):
        open_source("ccxt:", name="--source")


def test_markets_that_cannot_be_loaded_are_a_source_error(recorded):
    ex = FakeExchange(recorded)

    def down(reload=False, params=None):
        raise BadRequest("451 unavailable for legal reasons")

    ex.load_markets = down
    src, sleeps = source_of(ex)
    with pytest.raises(SourceDataError, match="cannot list the exchange's markets: BadRequest"):
        src.has_symbol("ETH-USDT")
    assert sleeps == []
