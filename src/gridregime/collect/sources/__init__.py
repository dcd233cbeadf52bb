"""Data sources: synthetic, Parquet directory, Binance public-data CSV, freqtrade files, in-memory."""
from gridregime.collect.sources.base import SOURCE_KINDS, open_source
from gridregime.collect.sources.binance_csv import BinanceCsvSource, read_binance_klines
from gridregime.collect.sources.common import TIMEFRAMES, DataSource, SourceDataError, validate_bars
from gridregime.collect.sources.freqtrade import FreqtradeSource, pair_to_symbol, read_freqtrade_file, symbol_to_pair
from gridregime.collect.sources.memory import InMemorySource
from gridregime.collect.sources.parquet import ParquetDirSource, read_bars_parquet
from gridregime.collect.sources.synthetic import REGIMES, SyntheticSource

__all__ = [
    "REGIMES", "SOURCE_KINDS", "TIMEFRAMES", "BinanceCsvSource", "DataSource", "FreqtradeSource",
    "InMemorySource", "ParquetDirSource", "SourceDataError", "SyntheticSource", "open_source", "pair_to_symbol",
    "read_bars_parquet", "read_binance_klines", "read_freqtrade_file", "symbol_to_pair", "validate_bars",
]
