"""Property 75 through the service: ``analyze_range`` (one load, one pass over the whole series)
equals ``analyze_timestamp`` hour by hour (each hour loaded from its own snapshot files)."""
from __future__ import annotations

from datetime import timedelta

import pytest

from gridregime.service import RegimeAnalysisService
from gridregime.snapshot import SnapshotReader
from tests.service.conftest import (
    HALT_HOURS,
    REAL_END,
    REAL_START,
    REAL_SYMBOL,
    SYN_HOURS,
    SYN_START,
    SYN_SYMBOLS,
    hours_between,
)
from tests.service.helpers import assert_same_analysis


@pytest.mark.parametrize("symbol", SYN_SYMBOLS)
def test_property_75_batch_equals_per_hour_on_synthetic_snapshots(synthetic_store, symbol):
    service = RegimeAnalysisService(synthetic_store)
    end = SYN_START + timedelta(hours=SYN_HOURS - 1)
    batch = service.analyze_range(symbol, SYN_START, end)
    assert batch.failures == []
    # every stored hour, in time order (the store's own listing is the independent count)
    assert [r.hour for r in batch.results] == SnapshotReader(synthetic_store).hours(symbol) \
        == hours_between(SYN_START, SYN_HOURS)
    for res in batch.results:
        assert_same_analysis(res, service.analyze_timestamp(symbol, res.hour))
    assert all(r.ok for r in batch.results)


def test_property_75_batch_equals_per_hour_on_real_snapshots_with_a_halt(real_store):
    service = RegimeAnalysisService(real_store)
    last = REAL_END - timedelta(hours=1)
    batch = service.analyze_range(REAL_SYMBOL, REAL_START, last)
    expected_hours = [h for h in hours_between(REAL_START, 72) if h not in HALT_HOURS]
    assert [r.hour for r in batch.results] == expected_hours
    # the halt's hours have no snapshot: reported, with the file that is missing
    assert [(f.symbol, f.hour, f.kind) for f in batch.failures] == [(REAL_SYMBOL, h, "missing") for h in HALT_HOURS]
    for f in batch.failures:
        assert f"{f.hour:%Y/%m/%d/%H}" in f.reason and REAL_SYMBOL in f.reason
    assert batch.summary()["hours_skipped"] == 3 and batch.summary()["skipped_by_reason"] == {"missing": 3}
    verdicts = set()
    for res in batch.results:
        one = service.analyze_timestamp(REAL_SYMBOL, res.hour)
        assert_same_analysis(res, one)
        verdicts.add(res.verdict)
    # the halt leaves two hourly gaps in the history of every later hour: reported, never filled
    after = [r for r in batch.results if r.hour > HALT_HOURS[-1]]
    assert after and all(r.data_quality.hourly_gaps == 2 for r in after)
    assert len(verdicts) >= 2


def test_batch_over_a_sub_range_equals_the_same_hours_of_a_longer_run(synthetic_store):
    """A run that starts later loads its own warm-up history and gives the same results."""
    service = RegimeAnalysisService(synthetic_store)
    symbol = SYN_SYMBOLS[0]
    full = service.analyze_range(symbol, SYN_START, SYN_START + timedelta(hours=SYN_HOURS - 1))
    later = service.analyze_range(symbol, SYN_START + timedelta(hours=20), SYN_START + timedelta(hours=25))
    by_hour = {r.hour: r for r in full.results}
    assert len(later.results) == 6
    for res in later.results:
        assert_same_analysis(res, by_hour[res.hour])
