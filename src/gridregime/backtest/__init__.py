"""Backtesting (SPEC §12): judge verdicts and grid decisions by what a grid would have earned.

>>> from gridregime.backtest import run_backtest, symbol_range, write_report
>>> result = run_backtest([symbol_range("ETH-USDT", "2025-06-01", "2025-06-30T23:00Z", root="snapshots")])
>>> write_report(result, "backtest-out")

See :mod:`gridregime.backtest.runner` for the steps, :mod:`gridregime.backtest.policies` for the
policy interface and the built-in policies, and :mod:`gridregime.kernels.gridsim` for the
simulator's rules.
"""
from gridregime.backtest.policies import GridSpec, HourView, NamedPolicy, follow_range, range_grid
from gridregime.backtest.report import report_dict, report_schema, write_report
from gridregime.backtest.runner import (
    BacktestResult, BacktestSettings, SymbolRange, run_backtest, run_range, symbol_range,
)

__all__ = ["BacktestResult", "BacktestSettings", "GridSpec", "HourView", "NamedPolicy", "SymbolRange",
           "follow_range", "range_grid", "report_dict", "report_schema", "run_backtest", "run_range",
           "symbol_range", "write_report"]
