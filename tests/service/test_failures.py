"""Per-hour failures are collected with (symbol, hour, kind, reason); the other hours are analysed
exactly as in an undamaged store."""
from __future__ import annotations

from datetime import timedelta

from gridregime.service import ExecutionOptions, HourFailure, RegimeAnalysisService
from gridregime.snapshot import market_path
from tests.service.conftest import SYN_HOURS, SYN_START, SYN_SYMBOLS
from tests.service.helpers import assert_same_analysis

END = SYN_START + timedelta(hours=SYN_HOURS - 1)
CORRUPT = SYN_START + timedelta(hours=9)
MISSING = SYN_START + timedelta(hours=21)


def damage(root):
    symbol = SYN_SYMBOLS[0]
    path = market_path(root, symbol, "1m", CORRUPT)
    path.write_bytes(path.read_bytes()[:-120])  # truncated JSON
    market_path(root, symbol, "1m", MISSING).unlink()
    return symbol


def test_corrupt_and_missing_hours_are_reported_and_the_rest_analysed(synthetic_store, store_copy):
    root = store_copy(synthetic_store)
    symbol = damage(root)
    service = RegimeAnalysisService(root)
    for chunk_hours in (None, 8):
        batch = service.analyze_many(list(SYN_SYMBOLS), SYN_START, END,
                                     execution=ExecutionOptions(chunk_hours=chunk_hours))
        assert [(f.symbol, f.hour, f.kind) for f in batch.failures] == [
            (symbol, CORRUPT, "invalid"), (symbol, MISSING, "missing")]
        corrupt, missing = batch.failures
        assert str(market_path(root, symbol, "1m", CORRUPT)) in corrupt.reason
        assert str(market_path(root, symbol, "1m", MISSING)) in missing.reason and "no such" in missing.reason
        assert missing.to_dict() == {"symbol": symbol, "hour": f"{MISSING:%Y-%m-%dT%H}:00:00Z", "kind": "missing",
                                     "reason": missing.reason}
        assert batch.analysed == 2 * SYN_HOURS - 2
        assert batch.summary()["skipped_by_reason"] == {"invalid": 1, "missing": 1}
        analysed = {(r.symbol, r.hour) for r in batch.results}
        assert (symbol, CORRUPT) not in analysed and (symbol, MISSING) not in analysed

    # the hours around the damage are unaffected: equal to the undamaged store's one-hour analysis
    clean = RegimeAnalysisService(synthetic_store)
    for res in batch.results:
        if res.symbol == symbol and abs((res.hour - CORRUPT).total_seconds()) <= 7200:
            assert_same_analysis(res, clean.analyze_timestamp(symbol, res.hour))


def test_a_failing_task_is_reported_not_raised(synthetic_store, store_copy, monkeypatch):
    import gridregime.service as service_module

    root = store_copy(synthetic_store)
    calls = []
    real = service_module.RegimeEngine.analyze_hours

    def flaky(self, symbol, hourly, minute, hours, **kw):
        hours = list(hours)
        calls.append(len(hours))
        if any(h == CORRUPT for h in hours):
            raise RuntimeError("boom")
        return real(self, symbol, hourly, minute, hours, **kw)

    monkeypatch.setattr(service_module.RegimeEngine, "analyze_hours", flaky)
    batch = RegimeAnalysisService(root).analyze_range(SYN_SYMBOLS[0], SYN_START, END)
    assert batch.failures == [HourFailure(SYN_SYMBOLS[0], CORRUPT, "error", "RuntimeError: boom")]
    assert batch.analysed == SYN_HOURS - 1
    assert calls[0] == SYN_HOURS  # one pass first; hour by hour only after it failed
