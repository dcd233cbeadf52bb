"""gridregime: hourly market-regime verdicts for grid market-makers, built on snapshots.

The names a user reaches for are importable from here::

    from gridregime import SnapshotReader, RegimeAnalysisService, RegimeConfig, GridSupervisor, Verdict

They are loaded on first use (``import gridregime`` alone stays cheap: the command line imports
only what its command needs).
"""
from __future__ import annotations

from importlib import import_module
from importlib.metadata import PackageNotFoundError, version as _version

try:
    __version__ = _version("gridregime")
except PackageNotFoundError:  # running from a source tree that was never installed
    __version__ = "0.0.0+unknown"

# public name -> the module that defines it
_PUBLIC = {
    "SnapshotReader": "gridregime.snapshot",
    "SnapshotStorage": "gridregime.snapshot",
    "RegimeAnalysisService": "gridregime.service",
    "BatchResult": "gridregime.service",
    "ExecutionOptions": "gridregime.service",
    "RegimeEngine": "gridregime.analysis",
    "RegimeResult": "gridregime.analysis",
    "Verdict": "gridregime.analysis",
    "RegimeConfig": "gridregime.config",
    "load_config": "gridregime.config",
    "GridConfig": "gridregime.grid",
    "GridSupervisor": "gridregime.grid",
    "GridHistoryStore": "gridregime.grid",
    "MarketState": "gridregime.grid",
    "recommend": "gridregime.grid",
    "GateConfig": "gridregime.grid",
    "GridPolicy": "gridregime.grid",
    "SupervisorSettings": "gridregime.grid",
    "load_supervisor_settings": "gridregime.grid",
    "import_snapshots": "gridregime.collect",
    "open_source": "gridregime.collect.sources.base",
    "run_backtest": "gridregime.backtest",
    "symbol_range": "gridregime.backtest",
    "BacktestSettings": "gridregime.backtest",
    "GridRegimeError": "gridregime.errors",
    "InvalidParameterError": "gridregime.errors",
}

__all__ = ["__version__", *_PUBLIC]


def __getattr__(name: str):
    module = _PUBLIC.get(name)
    if module is None:
        raise AttributeError(f"module 'gridregime' has no attribute {name!r}")
    value = getattr(import_module(module), name)
    globals()[name] = value  # later lookups skip this function
    return value


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(_PUBLIC))
