"""Outputs of a batch run: the Parquet results table and each hour's ``_regime.json``."""
from __future__ import annotations

import math
from datetime import timedelta

import orjson
import pyarrow as pa
import pyarrow.parquet as pq

from gridregime.analysis import RegimeResult
from gridregime.config import RegimeConfig
from gridregime.service import ExecutionOptions, RegimeAnalysisService
from gridregime.snapshot import SnapshotReader, analysis_path
from tests.service.conftest import (
    REAL_START,
    REAL_SYMBOL,
    SYN_START,
    SYN_SYMBOLS,
)
from tests.service.helpers import assert_tables_identical

# what issue 6 asks each row to hold, with the Arrow types a reader can rely on
REQUIRED_COLUMNS = {
    "symbol": pa.string(), "hour": pa.timestamp("ms", tz="UTC"), "status": pa.string(), "verdict": pa.string(),
    "direction": pa.int8(), "confidence": pa.float64(), "trend_score": pa.float64(),
    "mean_rev_score": pa.float64(), "vol_change_score": pa.float64(), "range_quality_score": pa.float64(),
    "grid_capacity": pa.int32(), "range_lower": pa.float64(), "range_upper": pa.float64(),
    "config_hash": pa.string(),
}


def test_parquet_table_schema_and_rows_match_the_one_hour_analysis(real_store, tmp_path):
    service = RegimeAnalysisService(real_store)
    first, last = REAL_START + timedelta(hours=24), REAL_START + timedelta(hours=35)  # spans the halt
    batch = service.analyze_range(REAL_SYMBOL, first, last)
    out = batch.write_parquet(tmp_path / "run" / "results.parquet")
    table = pq.read_table(out)
    for name, typ in REQUIRED_COLUMNS.items():
        assert table.schema.field(name).type == typ, name
    assert_tables_identical(table, batch.to_table())
    assert table.num_rows == 12 - 3  # the halt's three hours have no row; they are failures
    assert len(batch.failures) == 3
    expected_hash = RegimeConfig().config_hash
    for row in table.to_pylist():
        one = service.analyze_timestamp(REAL_SYMBOL, row["hour"])
        assert row["symbol"] == REAL_SYMBOL and row["status"] == one.status == "ok"
        assert row["verdict"] == one.verdict.value and row["direction"] == one.direction
        assert row["config_hash"] == expected_hash
        assert abs(row["confidence"] - one.confidence) <= 1e-6
        for col, attr in (("trend_score", "trend"), ("mean_rev_score", "mean_rev"),
                          ("vol_change_score", "vol_change"), ("range_quality_score", "range_quality")):
            assert abs(row[col] - getattr(one.scores, attr)) <= 1e-6, col
        assert row["grid_capacity"] == one.scores.grid_capacity
        assert math.isclose(row["range_lower"], one.chosen_range.lower, rel_tol=1e-6)
        assert math.isclose(row["range_upper"], one.chosen_range.upper, rel_tol=1e-6)
        assert row["range_lower"] < row["range_upper"]
        assert row["price"] == one.price


def test_insufficient_hours_get_a_row_with_empty_scores(real_store):
    # a history of 200 hours is too short for the 168-value rank windows of every feature
    config = RegimeConfig(history_hours=200)
    batch = RegimeAnalysisService(real_store, config).analyze_range(REAL_SYMBOL, REAL_START, REAL_START + timedelta(hours=2))
    rows = batch.to_table().to_pylist()
    assert [r["status"] for r in rows] == ["insufficient_data"] * 3
    assert all(r["verdict"] is None and r["trend_score"] is None and r["range_lower"] is None for r in rows)
    assert batch.summary()["skipped_by_reason"] == {"insufficient_data": 3}
    assert all(r.reason and "hours missing" in r.reason for r in batch.results)


def test_write_analysis_round_trips_to_the_same_result(synthetic_store, store_copy):
    root = store_copy(synthetic_store)
    symbol = SYN_SYMBOLS[1]
    end = SYN_START + timedelta(hours=5)
    batch = RegimeAnalysisService(root).analyze_range(symbol, SYN_START, end, write_analysis=True,
                                                        execution=ExecutionOptions(chunk_hours=4))
    reader = SnapshotReader(root)
    assert len(batch.results) == 6
    for res in batch.results:
        path = analysis_path(root, symbol, res.hour)
        assert path.exists()
        stored = reader.load_analysis(symbol, res.hour)
        assert RegimeResult.from_dict(stored) == res
        assert RegimeResult.from_json(path.read_bytes()).to_dict() == res.to_dict()
        assert stored == orjson.loads(res.to_json())
    # hours outside the range got no analysis file
    assert not analysis_path(root, symbol, end + timedelta(hours=1)).exists()
