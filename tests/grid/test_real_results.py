"""The grid layer on real engine results (committed hourly slice), through the result adapter."""
from __future__ import annotations

import math

import orjson
import pyarrow.parquet as pq
import pytest

from gridregime.analysis.engine import RegimeEngine
from gridregime.bars import normalize_bars
from gridregime.grid import (
    Action,
    GridConfig,
    Phase,
    evaluate,
    initial_state,
    market_state_from_result,
    normal_grid,
    recommend,
    replay,
    restart,
    stop,
)


@pytest.fixture(scope="module")
def results(data_dir):
    hourly = normalize_bars(pq.read_table(data_dir / "ETH-USDT_1h_2021-01-20_2021-04-21.parquet"))
    hours = hourly.column("ts").to_pylist()[-400:]
    return RegimeEngine().analyze_hours("ETH-USDT", hourly, None, hours)


def test_adapter_reads_the_result_contract(results):
    ok = [r for r in results if r.status == "ok"]
    assert ok, "the slice should give analysable hours"
    for r in ok:
        m = market_state_from_result(r)
        assert m.symbol == r.symbol and m.hour == r.hour and m.verdict == r.verdict.value
        assert m.trend_score == r.scores.trend and m.range_quality_score == r.scores.range_quality
        assert m.grid_capacity_ok == r.scores.grid_capacity_ok and m.price == r.price and m.atr == r.atr
        assert m.adx == r.feature("adx")
        rank = r.rank("atr")
        assert (math.isnan(m.atr_rank) if rank is None else m.atr_rank == rank)
        if r.chosen_range is not None:
            assert (m.range_lower, m.range_upper) == (r.chosen_range.lower, r.chosen_range.upper)


def test_hourly_loop_on_real_results_equals_replay(results):
    """Drive recommendations and gates hour by hour; replay gives the same gate states."""
    state, grid = initial_state("ETH-USDT"), None
    live, stops, restarts = [], {}, set()
    for r in results:
        m = market_state_from_result(r)
        ev = evaluate(state, r)
        live.append(ev)
        state = ev.state
        if grid is None:
            if m.verdict is not None and m.has_range:
                grid = normal_grid(m)
            continue
        rec = recommend(r, grid, state)
        assert rec.grid_enabled == grid.enabled
        if rec.action is Action.DISABLE_GRID:
            grid = grid.with_changes(enabled=False)
            state = stop(state, m.hour, rec.reason)
            stops[m.hour] = rec.reason
        elif rec.action in (Action.REPOSITION, Action.ENABLE_GRID):
            assert rec.proposed.contains(m.price)
            if state.phase is Phase.READY:
                assert ev.hours_stopped >= 6 and rec.proposed.mode.value == "PROBATION"
                state = restart(state, m.hour)
                restarts.add(m.hour)
            grid = rec.proposed
    assert stops, "the slice holds TREND / TRANSITION hours, so the grid must stop at least once"
    batch, final = replay(results, None, stops=stops, restarts=restarts)
    assert [orjson.dumps(e.to_dict()) for e in batch] == [orjson.dumps(e.to_dict()) for e in live]
    assert final.to_dict() == state.to_dict()
    assert isinstance(grid, GridConfig)
