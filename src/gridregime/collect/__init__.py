"""Collection: data sources and the historical importer that turns them into snapshots."""
from gridregime.collect.importer import ImportReport, SkippedHour, import_snapshots
from gridregime.collect.sources import (
    BinanceCsvSource,
    DataSource,
    FreqtradeSource,
    InMemorySource,
    ParquetDirSource,
    SourceDataError,
    SyntheticSource,
    open_source,
)

__all__ = [
    "BinanceCsvSource", "DataSource", "FreqtradeSource", "ImportReport", "InMemorySource", "ParquetDirSource",
    "SkippedHour", "SourceDataError", "SyntheticSource", "import_snapshots", "open_source",
]
