"""Comparison of a batch result with the one-hour analysis of the same hour (property 75)."""
from __future__ import annotations

import math

import pyarrow as pa

TOL = 1e-6
SCORES = ("trend", "mean_rev", "vol_change", "range_quality")


def near_threshold(result, tol: float = TOL) -> bool:
    """Whether a deciding score of ``result`` lies within ``tol`` of its threshold."""
    return any(abs(f.value - f.threshold) <= tol for f in result.decision_factors)


def assert_same_analysis(batch, one) -> None:
    """Property 75: scores within 1e-6 and the same verdict unless a deciding score sits on
    its threshold; everything else the verdict rests on agrees too."""
    where = f"{batch.symbol} {batch.hour:%Y-%m-%dT%H}Z"
    assert (batch.symbol, batch.hour) == (one.symbol, one.hour), where
    assert batch.status == one.status, where
    assert batch.config_hash == one.config_hash, where
    assert batch.direction == one.direction, where
    assert math.isclose(batch.price, one.price, rel_tol=0, abs_tol=0), where
    assert math.isclose(batch.atr, one.atr, rel_tol=TOL), where
    for name, fv in one.features.items():
        got = batch.feature(name)
        assert math.isclose(got, fv.value, rel_tol=TOL, abs_tol=1e-9) or (math.isnan(got) and math.isnan(fv.value)), \
            (where, name, got, fv.value)
    if not one.ok:
        assert batch.reason == one.reason and batch.missing_hours == one.missing_hours, where
        return
    for name in SCORES:
        a, b = getattr(batch.scores, name), getattr(one.scores, name)
        assert abs(a - b) <= TOL, (where, name, a, b)
    if batch.verdict is not one.verdict:
        assert near_threshold(one) or near_threshold(batch), (where, batch.verdict, one.verdict)
        return
    assert batch.scores.grid_capacity == one.scores.grid_capacity, where
    assert batch.trend_streak == one.trend_streak, where
    assert abs(batch.confidence - one.confidence) <= TOL, where
    assert batch.chosen_range.method == one.chosen_range.method, where
    assert math.isclose(batch.chosen_range.lower, one.chosen_range.lower, rel_tol=TOL), where
    assert math.isclose(batch.chosen_range.upper, one.chosen_range.upper, rel_tol=TOL), where
    assert [f.check for f in batch.decision_factors] == [f.check for f in one.decision_factors], where


def _exact(value):
    """A value that compares equal to itself even when it is a NaN (floats compared bit for bit)."""
    if isinstance(value, float):
        return ("float", value.hex())
    return value


def assert_tables_identical(actual: pa.Table, expected: pa.Table) -> None:
    """Same schema and the same values bit for bit, row by row (a NaN equals itself here,
    unlike ``Table.equals``)."""
    assert actual.schema.equals(expected.schema)
    assert actual.num_rows == expected.num_rows
    for k, (a, e) in enumerate(zip(actual.to_pylist(), expected.to_pylist())):
        assert {n: _exact(v) for n, v in a.items()} == {n: _exact(v) for n, v in e.items()}, (k, a, e)
