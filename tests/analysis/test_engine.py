"""The engine end to end: insufficient history, batch = one-hour, snapshot = in-memory (77),
missing data, schema and round trip."""
from __future__ import annotations

import math
from dataclasses import dataclass
from datetime import datetime, timezone

import jsonschema
import numpy as np
import pyarrow as pa
import pyarrow.compute  # noqa: F401  (pa.compute below)
import pytest
from hypothesis import given, settings, strategies as st

from gridregime.analysis import RegimeEngine, RegimeResult, Verdict, result_schema
from gridregime.analysis.classifier import verdict_from_factors
from gridregime.analysis.features import required_bars
from gridregime.bars import bars_to_numpy, slice_time
from gridregime.config import RegimeConfig
from gridregime.errors import InvalidParameterError
from gridregime.timeutil import HOUR_MS, from_ms, to_ms

SYMBOL = "ETH-USDT"
VALIDATOR = jsonschema.Draft202012Validator(result_schema())


@dataclass
class Grid:
    lower: float
    upper: float
    levels: int


def hour_at(hourly: pa.Table, k: int):
    return from_ms(int(bars_to_numpy(hourly)["ts"][k]))


def check_result(res: RegimeResult) -> None:
    """Schema-valid, JSON round trip equal, internally consistent."""
    d = res.to_dict()
    VALIDATOR.validate(d)
    back = RegimeResult.from_json(res.to_json())
    assert back.to_dict() == d
    assert back == res
    if res.ok:
        assert res.verdict is not None and 0.0 <= res.confidence <= 1.0
        assert verdict_from_factors(res.decision_factors) is res.verdict
        for f in res.decision_factors:  # the feature ranks behind each checked score give the score
            i = f.inputs
            if f.check == "volatility_change":
                assert f.value == pytest.approx(max(i["vol_ratio_rank"], i["atr_change_rank"]))
                assert i["vol_ratio_rank"] == res.rank("vol_ratio")
            elif f.check == "trend_confirmed":
                assert i["trend"] == pytest.approx(0.35 * i["adx_rank"] + 0.25 * i["slope_r2_rank"]
                                                   + 0.25 * i["er_rank"] + 0.15 * i["di_spread_rank"])
                assert f.value == res.trend_streak
            elif f.check == "mean_reversion_ok":
                assert f.value == pytest.approx(0.3 * (100 - i["vr_rank"]) + 0.2 * (100 - i["ac1_rank"])
                                                + 0.3 * i["mid_cross_rank"] + 0.2 * (100 - i["er_rank"]))
            elif f.check == "grid_capacity":
                assert f.value == math.floor(i["width"] / i["spacing"] + 1e-9)
        assert res.verdict not in {c.verdict for c in res.competing}
        for name in ("atr", "natr", "adx", "plus_di", "minus_di", "er", "slope", "r2", "vol_short", "vol_long",
                     "vol_ratio", "atr_change", "ac1", "vr", "mid_cross", "bbw", "rv_1m", "hour_range_atr"):
            assert math.isfinite(res.feature(name)), name
    else:
        assert res.verdict is None and res.scores is None and res.missing_hours >= 0


@pytest.fixture(scope="module")
def engine():
    return RegimeEngine()


def test_insufficient_history_counts_missing_hours(market, engine):
    minute, hourly = market
    need = max(required_bars(RegimeConfig()).values())
    short = hourly.slice(0, need - 1)
    res = engine.analyze_bars(SYMBOL, short, minute)
    assert res.status == "insufficient_data" and res.missing_hours == 1
    assert "1 hours missing" in res.reason
    check_result(res)
    res = engine.analyze_bars(SYMBOL, hourly.slice(0, need), minute)
    assert res.status == "ok"
    assert not res.data_quality.rank_window_full and any("rank window" in w for w in res.data_quality.warnings)
    check_result(res)
    res = engine.analyze_bars(SYMBOL, hourly.slice(0, 100), minute)
    assert res.missing_hours == need - 100


def test_result_contents(market, engine):
    minute, hourly = market
    res = engine.analyze_bars(SYMBOL, hourly, minute, hour=hour_at(hourly, 1200), grid_config=Grid(1900, 2100, 10))
    check_result(res)
    cols = bars_to_numpy(hourly)
    assert res.hour == hour_at(hourly, 1200) and res.price == cols["close"][1200]
    assert res.atr == res.feature("atr") and res.direction == int(np.sign(res.feature("slope")))
    assert res.chosen_range is not None and res.chosen_range in res.candidates
    assert res.scores.range_quality == res.chosen_range.quality
    assert res.comparison is not None and res.config_hash == RegimeConfig().config_hash
    assert res.data_quality.minute_bars == 60 and res.data_quality.rank_window_full
    for name in ("adx", "er", "vr"):
        assert 0 < res.rank(name) <= 100


def test_only_bars_up_to_hour_are_used(market, engine):
    minute, hourly = market
    h = hour_at(hourly, 1100)
    full = engine.analyze_bars(SYMBOL, hourly, minute, hour=h)
    cut = engine.analyze_bars(SYMBOL, slice_time(hourly, None, to_ms(h) + HOUR_MS),
                              slice_time(minute, None, to_ms(h) + HOUR_MS))
    assert full.to_dict() == cut.to_dict()


def test_missing_minutes_use_hourly_bar_and_never_raise_confidence(market, engine):
    minute, hourly = market
    for k in (900, 1000, 1234, 1400):
        h = hour_at(hourly, k)
        with_m = engine.analyze_bars(SYMBOL, hourly, minute, hour=h)
        without = engine.analyze_bars(SYMBOL, hourly, None, hour=h)
        check_result(without)
        assert without.data_quality.minutes_source == "hourly" and with_m.data_quality.minutes_source == "1m"
        assert without.feature("hour_range_atr") == pytest.approx(with_m.feature("hour_range_atr"))
        assert without.verdict is with_m.verdict
        assert without.confidence <= with_m.confidence
        partial = engine.analyze_bars(SYMBOL, hourly, minute.filter(
            pa.compute.less(minute.column("ts").cast(pa.int64()), to_ms(h) + 30 * 60_000)), hour=h)
        assert partial.data_quality.minute_bars == 30
        assert without.confidence <= partial.confidence <= with_m.confidence


def test_hourly_gaps_are_reported_and_lower_confidence_factor(market, engine):
    minute, hourly = market
    k = 1300
    h = hour_at(hourly, k)
    keep = np.ones(hourly.num_rows, bool)
    keep[[1000, 1001, 1250]] = False
    gapped = hourly.filter(pa.array(keep))
    res = engine.analyze_bars(SYMBOL, gapped, minute, hour=h)
    check_result(res)
    assert res.data_quality.hourly_gaps == 3
    assert {to_ms(g) for g in res.data_quality.gap_hours} == {to_ms(hour_at(hourly, i)) for i in (1000, 1001, 1250)}
    assert res.data_quality.confidence_factor < 1.0


def test_errors_name_the_problem(market, engine):
    minute, hourly = market
    with pytest.raises(InvalidParameterError, match="hourly: no bar at hour"):
        engine.analyze_bars(SYMBOL, hourly, minute, hour="2030-01-01T00:00Z")
    with pytest.raises(InvalidParameterError, match="symbol"):
        engine.analyze_bars("eth/usdt", hourly, minute)
    with pytest.raises(InvalidParameterError, match="hours: no hourly bar"):
        engine.analyze_hours(SYMBOL, hourly, minute, ["2030-01-01T00:00Z"])


def test_property_75_batch_equals_one_hour_over_a_month(market, engine):
    minute, hourly = market
    n = hourly.num_rows
    hours = [hour_at(hourly, k) for k in range(n - 720, n)]
    batch = engine.analyze_hours(SYMBOL, hourly, minute, hours)
    assert len(batch) == 720
    verdicts = set()
    for h, b in zip(hours, batch):
        one = engine.analyze_bars(SYMBOL, hourly, minute, hour=h)
        assert b.verdict is one.verdict and b.status == one.status, h
        verdicts.add(b.verdict)
        for name in ("trend", "mean_rev", "vol_change", "range_quality"):
            assert getattr(b.scores, name) == pytest.approx(getattr(one.scores, name), abs=1e-6), (h, name)
        assert b.trend_streak == one.trend_streak and b.scores.grid_capacity == one.scores.grid_capacity
        assert b.chosen_range.method == one.chosen_range.method
        for name, fv in one.features.items():
            assert b.feature(name) == pytest.approx(fv.value, rel=1e-6, abs=1e-9), (h, name)
    check_result(batch[-1])
    assert len(verdicts) >= 2  # the month is not one flat verdict


def test_property_77_snapshot_and_in_memory_paths_agree(market, engine, tmp_path):
    from gridregime.snapshot import SnapshotReader, SnapshotStorage

    minute, hourly = market
    storage = SnapshotStorage(tmp_path)
    for k in (1100, 1350):
        h = hour_at(hourly, k)
        h_ms = to_ms(h)
        hist = slice_time(hourly, h_ms - 999 * HOUR_MS, h_ms + HOUR_MS)
        mins = slice_time(minute, h_ms, h_ms + HOUR_MS)
        storage.write_hour(SYMBOL, h, mins, hist, source="test")
        snap = SnapshotReader(tmp_path).load_snapshot(SYMBOL, h)
        from_snapshot = engine.analyze_from_snapshot(snap, grid_config=Grid(1900, 2100, 10))
        in_memory = engine.analyze_bars(SYMBOL, hourly, minute, hour=h, grid_config=Grid(1900, 2100, 10))
        from_source = engine.analyze_source(_TableSource(hourly, minute), SYMBOL, h, grid_config=Grid(1900, 2100, 10))
        assert from_snapshot.to_dict() == in_memory.to_dict() == from_source.to_dict()
        check_result(from_snapshot)


class _TableSource:
    """A DataSource over in-memory tables."""

    def __init__(self, hourly, minute):
        self.tables = {"1h": hourly, "1m": minute}

    def fetch_ohlcv(self, symbol, timeframe, start, end):
        return slice_time(self.tables[timeframe], to_ms(start), to_ms(end))


def test_per_symbol_overrides_apply(market):
    minute, hourly = market
    cfg = RegimeConfig(symbol_overrides={SYMBOL: {"min_grid_levels": 500}})
    res = RegimeEngine(cfg).analyze_bars(SYMBOL, hourly, minute)
    assert res.config_hash == RegimeConfig(min_grid_levels=500).config_hash
    assert not res.scores.grid_capacity_ok and res.verdict is not Verdict.RANGE_OK


def test_cli_analyze_prints_schema_valid_json(market, tmp_path, capsysbinary):
    import orjson

    from gridregime.cli import main
    from gridregime.snapshot import SnapshotStorage

    minute, hourly = market
    h = hour_at(hourly, 1200)
    h_ms = to_ms(h)
    SnapshotStorage(tmp_path / "snaps").write_hour(
        SYMBOL, h, slice_time(minute, h_ms, h_ms + HOUR_MS), slice_time(hourly, h_ms - 999 * HOUR_MS, h_ms + HOUR_MS),
        source="test")
    grid = tmp_path / "grid.json"
    grid.write_bytes(orjson.dumps({"symbol": SYMBOL, "lower": 1900.0, "upper": 2100.0, "levels": 10}))
    code = main(["analyze", "--root", str(tmp_path / "snaps"), "--symbol", SYMBOL, "--hour", h.isoformat(),
                 "--grid", str(grid)])
    assert code == 0
    out = orjson.loads(capsysbinary.readouterr().out)
    VALIDATOR.validate(out)
    assert out["comparison"] is not None and out["hour"] == h.strftime("%Y-%m-%dT%H:%M:%SZ")
    expected = RegimeEngine().analyze_bars(SYMBOL, hourly, minute, hour=h, grid_config=Grid(1900.0, 2100.0, 10))
    assert out == orjson.loads(expected.to_json())
    bad = tmp_path / "bad.json"
    bad.write_text('{"lower": 1, "upper": 2}')
    assert main(["analyze", "--root", str(tmp_path / "snaps"), "--symbol", SYMBOL, "--hour", h.isoformat(),
                 "--grid", str(bad)]) == 2
    assert "levels" in capsysbinary.readouterr().err.decode()


def test_batch_equals_one_hour_while_history_is_short(market, engine):
    """Across the insufficient → ok boundary and with rank windows not yet full."""
    minute, hourly = market
    need = max(required_bars(RegimeConfig()).values())
    hours = [hour_at(hourly, k) for k in range(need - 5, need + 40)]
    batch = engine.analyze_hours(SYMBOL, hourly, minute, hours)
    assert [b.status for b in batch[:4]] == ["insufficient_data"] * 4 and batch[5].status == "ok"
    for h, b in zip(hours, batch):
        one = engine.analyze_bars(SYMBOL, hourly, minute, hour=h)
        assert b.to_dict() == one.to_dict()  # same bars from the same start: identical


def test_property_77_synthetic_source_in_memory_equals_snapshot(tmp_path):
    from gridregime.collect.sources.synthetic import SyntheticSource
    from gridregime.snapshot import SnapshotReader, SnapshotStorage

    src = SyntheticSource(3)
    h = from_ms(to_ms(datetime(2024, 5, 10, 7, tzinfo=timezone.utc)))
    h_ms = to_ms(h)
    hourly = src.fetch_ohlcv(SYMBOL, "1h", from_ms(h_ms - 999 * HOUR_MS), from_ms(h_ms + HOUR_MS))
    minute = src.fetch_ohlcv(SYMBOL, "1m", h, from_ms(h_ms + HOUR_MS))
    SnapshotStorage(tmp_path).write_hour(SYMBOL, h, minute, hourly, source=src.name)
    engine = RegimeEngine()
    from_snapshot = engine.analyze_from_snapshot(SnapshotReader(tmp_path).load_snapshot(SYMBOL, h))
    from_source = engine.analyze_source(src, SYMBOL, h)
    assert from_snapshot.ok and from_snapshot.to_dict() == from_source.to_dict()


def test_flat_prices_are_reported_not_scored(engine):
    from gridregime.bars import bars_table

    n = 400
    ts = 1_700_000_000_000 // HOUR_MS * HOUR_MS + np.arange(n, dtype=np.int64) * HOUR_MS
    flat = bars_table(ts, np.full(n, 10.0), np.full(n, 10.0), np.full(n, 10.0), np.full(n, 10.0), np.ones(n))
    res = engine.analyze_bars(SYMBOL, flat)
    assert res.status == "insufficient_data" and res.missing_hours == 0 and "undefined" in res.reason
    check_result(res)


def test_schema_rejects_malformed_results(market, engine):
    minute, hourly = market
    good = engine.analyze_bars(SYMBOL, hourly, minute).to_dict()
    for mutate in (lambda d: d.update(verdict="SIDEWAYS"), lambda d: d.update(confidence=1.5),
                   lambda d: d.update(hour="2024-01-01 00:00"), lambda d: d.pop("scores"),
                   lambda d: d["scores"].update(trend=101.0), lambda d: d.update(extra=1),
                   lambda d: d.update(status="insufficient_data")):
        bad = RegimeResult.from_dict(good).to_dict()
        mutate(bad)
        with pytest.raises(jsonschema.ValidationError):
            VALIDATOR.validate(bad)


@settings(max_examples=15)
@given(st.integers(0, 2**32 - 1), st.floats(0.0, 0.02), st.floats(0.002, 0.03), st.booleans())
def test_results_are_consistent_on_random_markets(seed, drift, vol, with_gaps):
    """Any market: schema-valid, round-trips, factors reproduce the verdict, confidence in [0, 1]."""
    from gridregime.bars import bars_table

    rng = np.random.default_rng(seed)
    n = 420
    close = 100 * np.exp(np.cumsum(rng.normal(drift * rng.choice([-1, 1]), vol, n)))
    open_ = np.r_[close[0], close[:-1]]
    spread = np.abs(rng.normal(0, vol, n)) * close
    ts = 1_700_000_000_000 // HOUR_MS * HOUR_MS + np.arange(n, dtype=np.int64) * HOUR_MS
    table = bars_table(ts, open_, np.maximum(open_, close) + spread, np.minimum(open_, close) - spread, close,
                       rng.gamma(2, 1, n))
    if with_gaps:
        keep = np.ones(n, bool)
        keep[rng.choice(np.arange(1, n - 1), 5, replace=False)] = False
        table = table.filter(pa.array(keep))
    engine = RegimeEngine()
    hours = [hour_at(table, k) for k in (200, table.num_rows - 60, table.num_rows - 1)]
    for res in engine.analyze_hours(SYMBOL, table, None, hours):
        check_result(res)
        assert res.data_quality.minutes_source == "hourly"
        if res.ok:
            assert res.confidence <= RegimeConfig().missing_minutes_penalty + 1e-12


def test_warming_up_is_flagged_and_lowers_confidence():
    """Fewer hourly bars than rank window + longest warm-up: flagged, and confidence is lower than the
    same hour's margin confidence would allow; a full history is not flagged."""
    from gridregime.analysis.confidence import deciding_margin, margin_confidence
    from gridregime.analysis.features import feature_warmup, warmup_bars
    from datetime import timedelta

    from gridregime.collect import SyntheticSource

    UTC = timezone.utc
    config = RegimeConfig()
    needed = warmup_bars(config)
    assert needed == config.rank_window + max(feature_warmup(config).values())
    src = SyntheticSource(5)
    end = datetime(2024, 6, 1, tzinfo=UTC)
    engine = RegimeEngine(config)
    for n_bars, expect in ((needed - 100, True), (config.history_hours, False)):
        hourly = src.fetch_ohlcv("ETH-USDT", "1h", end - timedelta(hours=n_bars - 1), end + timedelta(hours=1))
        assert hourly.num_rows == n_bars
        result = engine.analyze_bars("ETH-USDT", hourly)
        dq = result.data_quality
        assert dq.history_bars == n_bars and dq.warming_up is expect
        assert any(w.startswith("warming up") for w in dq.warnings) is expect
        if expect and result.status == "ok":
            share = 0.5 + 0.5 * (n_bars / needed)
            assert result.confidence <= margin_confidence(deciding_margin(result.decision_factors)) * share + 1e-12


def test_grid_start_check_is_step_6_and_leaves_verdict_and_confidence_alone():
    """grid_start_ok = RANGE_OK and room to both bounds >= grid_start_min_room_atr; the check is the last
    decision factor (step 6, no verdict of its own) and changing its threshold changes nothing else."""
    from datetime import timedelta

    from gridregime.collect import SyntheticSource

    UTC = timezone.utc
    src = SyntheticSource(8)
    start = datetime(2024, 6, 1, tzinfo=UTC)
    hourly = src.fetch_ohlcv("ETH-USDT", "1h", start - timedelta(hours=999), start + timedelta(hours=120))
    hours = [start + timedelta(hours=k) for k in range(120)]
    loose = RegimeEngine(RegimeConfig(grid_start_min_room_atr=0.0)).analyze_hours("ETH-USDT", hourly, None, hours)
    strict = RegimeEngine(RegimeConfig(grid_start_min_room_atr=1.75)).analyze_hours("ETH-USDT", hourly, None, hours)
    seen = set()
    for a, b in zip(loose, strict):
        assert a.verdict == b.verdict and a.confidence == b.confidence
        f = b.decision_factors[-1]
        assert (f.step, f.check, f.on_pass, f.on_fail, f.threshold) == (6, "grid_start_room", None, None, 1.75)
        c = b.chosen_range
        room = min(c.position, 1 - c.position) * c.width_atr
        assert b.grid_start_ok == (b.verdict is Verdict.RANGE_OK and room >= 1.75)
        assert a.grid_start_ok == (a.verdict is Verdict.RANGE_OK and room >= 0.0)  # 0: price inside the range
        assert RegimeResult.from_json(b.to_json()).grid_start_ok == b.grid_start_ok
        seen.add((b.verdict is Verdict.RANGE_OK, b.grid_start_ok))
    assert (True, True) in seen and (True, False) in seen  # both outcomes occur on RANGE_OK hours
