"""A static, offline dashboard built from the snapshot store (SPEC §11).

:func:`build_dashboard` writes an index page and one page per symbol: hourly candles (minute bars
for the last days when zoomed in) with the discovered range and the grid levels, the verdict
ribbon, confidence and scores, the grid's stops, restarts and repositions with their reasons, the
restart-gate timeline and, with a backtest report, the policies' equity curves. Plotly's
JavaScript is written once into the site, so the pages open from ``file://`` without a network.

Needs the ``dashboard`` extra (``pip install "gridregime[dashboard]"``).
"""
from __future__ import annotations

from gridregime.dashboard.build import DashboardReport, build_dashboard

__all__ = ["DashboardReport", "build_dashboard"]
