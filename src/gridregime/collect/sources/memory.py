"""Bars already in memory as a :class:`DataSource` (tests, notebooks, bars fetched elsewhere)."""
from __future__ import annotations

import pyarrow as pa

from gridregime.bars import normalize_bars
from gridregime.collect.sources.common import bars_for_timeframe, check_time_range, check_timeframe, validate_bars
from gridregime.errors import InvalidParameterError
from gridregime.symbols import validate_symbol


class InMemorySource:
    """Serve one symbol's bars from Arrow tables.

    Parameters
    ----------
    symbol : str
        The only symbol this source answers for.
    minutes : pyarrow.Table
        1m bars (any table :func:`gridregime.bars.normalize_bars` accepts); validated once here.
    hourly : pyarrow.Table, optional
        1h bars; without them ``1h`` requests aggregate the minutes.
    name : str
        Provenance label stored in snapshots.
    """

    def __init__(self, symbol: str, minutes: pa.Table, hourly: pa.Table | None = None, *, name: str = "memory"):
        self.symbol = validate_symbol(symbol)
        self.name = name
        self._tables = {"1m": normalize_bars(minutes, name="minutes")}
        validate_bars(self._tables["1m"], path="minutes", timeframe="1m")
        if hourly is not None:
            self._tables["1h"] = normalize_bars(hourly, name="hourly")
            validate_bars(self._tables["1h"], path="hourly", timeframe="1h")

    def __repr__(self) -> str:
        return f"InMemorySource({self.symbol!r}, {self._tables['1m'].num_rows} minutes)"

    def fetch_ohlcv(self, symbol: str, timeframe: str, start: object, end: object) -> pa.Table:
        """Bars with ``start <= ts < end``."""
        if validate_symbol(symbol) != self.symbol:
            raise InvalidParameterError(f"symbol: this source holds {self.symbol}, got {symbol!r}")
        timeframe = check_timeframe(timeframe)
        start_ms, end_ms = check_time_range(start, end)
        native = timeframe if timeframe in self._tables else "1m"
        return bars_for_timeframe(self._tables[native], native, timeframe, start_ms, end_ms)
