"""gridregime: hourly market-regime verdicts for grid market-makers, built on snapshots."""
__version__ = "0.1.0"
