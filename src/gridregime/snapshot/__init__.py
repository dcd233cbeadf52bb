"""Snapshot store, format v1 (SPEC §3): immutable hourly market files, analyses and summaries.

``SnapshotStorage`` writes (validated, deterministic, atomic); ``SnapshotReader`` reads one
hour or a whole range (validated, in bulk).
"""
from gridregime.snapshot.errors import (
    SnapshotConflictError,
    SnapshotError,
    SnapshotNotFoundError,
    SnapshotValidationError,
)
from gridregime.snapshot.format import SCHEMA_VERSION, infer_price_scale
from gridregime.snapshot.paths import analysis_path, market_path, summary_path
from gridregime.snapshot.reader import (
    HourProblem,
    LoadedRange,
    Snapshot,
    SnapshotReader,
)
from gridregime.snapshot.storage import HourWrite, MarketWrite, SnapshotStorage
from gridregime.snapshot.validate import (
    MarketFile,
    check_cross_file,
    read_market_file,
    validate_market_document,
)

__all__ = [
    "SCHEMA_VERSION", "HourProblem", "HourWrite", "LoadedRange", "MarketFile", "MarketWrite", "Snapshot",
    "SnapshotConflictError", "SnapshotError", "SnapshotNotFoundError", "SnapshotReader", "SnapshotStorage",
    "SnapshotValidationError", "analysis_path", "check_cross_file", "infer_price_scale", "market_path",
    "read_market_file", "summary_path", "validate_market_document",
]
