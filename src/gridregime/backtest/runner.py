"""The backtest runner: re-analyse symbol-ranges, supervise them, simulate every policy, measure.

For each symbol-range (a symbol over ``[start, end]`` in a snapshot store, or, in coarse mode,
in a data source of hourly bars):

1. the one-pass batch analysis of every hour, and the grid supervisor stepped hour by hour
   (:meth:`RegimeAnalysisService.analyze_many` with ``supervise=True``);
2. every policy asked once per hour what grid to run next (:mod:`gridregime.backtest.policies`);
3. the grids simulated on the range's 1m bars (1h bars in coarse mode), in both intrabar path
   modes (:mod:`gridregime.backtest.simulate`, :mod:`gridregime.kernels.gridsim`);
4. equity metrics per policy, forward statistics per verdict, the verdict process, the
   supervisor's stops and restarts, accuracy against labels where the source has them.

Symbol-ranges run in parallel (``workers``). Pooled figures and the day-block bootstrap
intervals of the differences are computed over all of them together.
"""
from __future__ import annotations

import math
import time
from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass, field, replace
from datetime import datetime
from pathlib import Path
from typing import Any

import numpy as np

from gridregime.backtest import bootstrap as B
from gridregime.backtest import metrics as M
from gridregime.backtest.policies import (
    BUILTIN, GRID_POLICIES, PREMIUM_START_RANK, GridSpec, HourView, NamedPolicy, as_policies, random_mask,
    random_policy, range_grid,
)
from gridregime.backtest.simulate import Bars, Exchange, PolicyRun, forward_grid_pnl, hold_equity, run_policy
from gridregime.config import RegimeConfig
from gridregime.grid.settings import SupervisorSettings
from gridregime.errors import InvalidParameterError
from gridregime.kernels.gridsim import PATH_MODES
from gridregime.symbols import validate_symbol
from gridregime.timeutil import HOUR, HOUR_MS, iso_z, to_ms, to_utc_hour

HOURS_PER_MONTH = 720
LABEL_SETTLE_HOURS = 12  # hours after a label change not scored (as tools/validate_engine.py does)


@dataclass(frozen=True)
class BacktestSettings:
    """How grids are simulated and figures computed.

    ``levels``: levels of the simple policies' grids (both bounds included). ``fee``: share of the
    notional paid on every fill. ``path``: intrabar path of the headline figures (the other mode
    is run too and reported as model risk). ``seeds``: RANDOM seeds. ``budget``: quote currency each
    policy starts with per symbol-range (and the simple grids' allocation). ``lot``: base quantity
    step (None: a power of ten worth 0.1–1 quote units at the first price). ``min_notional``: the
    smallest order in quote units. ``bootstrap_seed`` and ``resamples``: the day-block bootstrap.
    """

    levels: int = 10
    fee: float = 0.00075
    path: str = "pessimistic"
    seeds: int = 20
    budget: float = 1000.0
    lot: float | None = None
    min_notional: float = 5.0
    bootstrap_seed: int = 0
    resamples: int = B.DEFAULT_RESAMPLES
    horizon: int = M.HORIZON

    def __post_init__(self) -> None:
        def bad(name: str, expected: str) -> None:
            raise InvalidParameterError(f"{name}: expected {expected}, got {getattr(self, name)!r}")

        def is_int(v: object) -> bool:
            return isinstance(v, int) and not isinstance(v, bool)

        def is_num(v: object) -> bool:
            return isinstance(v, (int, float)) and not isinstance(v, bool) and math.isfinite(v)

        if not is_int(self.levels) or not 2 <= self.levels <= 1000:
            bad("levels", "an integer in [2, 1000]")
        if not is_num(self.fee) or not 0 <= self.fee < 0.1:
            bad("fee", "a number in [0, 0.1) (0.00075 is 0.075 %)")
        if self.path not in PATH_MODES:
            bad("path", f"one of {', '.join(PATH_MODES)}")
        if not is_int(self.seeds) or not 0 <= self.seeds <= 1000:
            bad("seeds", "an integer in [0, 1000]")
        if not is_num(self.budget) or self.budget <= 0:
            bad("budget", "a number > 0")
        if self.lot is not None and (not is_num(self.lot) or self.lot < 0):
            bad("lot", "a number >= 0 or None")
        if not is_num(self.min_notional) or self.min_notional < 0:
            bad("min_notional", "a number >= 0")
        if not is_int(self.bootstrap_seed) or self.bootstrap_seed < 0:
            bad("bootstrap_seed", "an integer >= 0")
        if not is_int(self.resamples) or not 100 <= self.resamples <= 100_000:
            bad("resamples", "an integer in [100, 100000]")
        if not is_int(self.horizon) or not 1 <= self.horizon <= 720:
            bad("horizon", "an integer in [1, 720]")


@dataclass(frozen=True)
class SymbolRange:
    """One symbol over ``[start, end]`` (hours, inclusive), from a snapshot store (``root``) or, in
    coarse mode, from a data source's hourly bars (``source``: a ``KIND:PATH`` string or a source)."""

    symbol: str
    start: datetime
    end: datetime
    root: str | None = None
    source: Any = None

    @property
    def coarse(self) -> bool:
        return self.root is None

    @property
    def key(self) -> str:
        return f"{self.symbol} {self.start:%Y-%m-%d}..{self.end:%Y-%m-%d}"


def symbol_range(symbol: str, start: Any, end: Any, *, root: Any = None, source: Any = None) -> SymbolRange:
    """A validated :class:`SymbolRange` (exactly one of ``root`` and ``source``)."""
    symbol = validate_symbol(symbol, name="symbols")
    start, end = to_utc_hour(start, name="start"), to_utc_hour(end, name="end")
    if end < start + 2 * HOUR:
        raise InvalidParameterError(f"end: expected at least 2 hours after start ({iso_z(start)}), got {iso_z(end)}")
    if (root is None) == (source is None):
        raise InvalidParameterError("root/source: expected exactly one of a snapshot root and a data source")
    if root is not None:
        if not Path(root).is_dir():
            raise InvalidParameterError(f"root: expected a snapshot directory, got {str(root)!r} (not a directory)")
        root = str(root)
    return SymbolRange(symbol, start, end, root, source)


@dataclass
class RangeOutcome:
    """Everything measured on one symbol-range (picklable, sent back from a worker)."""

    key: str
    symbol: str
    start: datetime
    end: datetime
    coarse: bool
    hours: list[datetime]
    table: dict[str, list]  # per-hour columns (see HOUR_COLUMNS), equity of each policy included
    policies: dict[str, dict[str, Any]]
    random: dict[str, Any]
    verdicts: dict[str, Any]
    forward: dict[str, Any]
    stops: dict[str, Any]
    labels: dict[str, Any] | None
    info: dict[str, Any]
    # for pooling and the bootstrap
    hourly_pnl: dict[str, np.ndarray] = field(default_factory=dict)
    fwd: dict[str, np.ndarray] = field(default_factory=dict)
    verdict_arr: np.ndarray | None = None
    start_arr: np.ndarray | None = None  # grid_start_ok per hour
    high_vol_arr: np.ndarray | None = None  # pct(ATR) >= PREMIUM_START_RANK per hour
    skipped: list[dict[str, str]] = field(default_factory=list)
    seconds: float = 0.0


# -- loading --------------------------------------------------------------------------------------
def _auto_lot(price: float) -> float:
    """A power of ten worth between 0.1 and 1 quote unit at ``price``."""
    return 10.0 ** math.floor(math.log10(1.0 / price)) if price > 0 else 0.0


def _hour_grid(start: datetime, end: datetime) -> list[datetime]:
    return [start + k * HOUR for k in range(int((end - start) / HOUR) + 1)]


def _bars_from(ts: np.ndarray, o, h, l, c, hours: list[datetime], tick: float, lot: float | None,
               coarse: bool) -> Bars:
    bounds = np.array([to_ms(x) for x in hours] + [to_ms(hours[-1] + HOUR)], dtype=np.int64)
    hour_start = np.searchsorted(ts, bounds, side="left").astype(np.int64)
    first = float(c[0]) if c.size else 1.0
    return Bars(np.ascontiguousarray(o, dtype=np.float64), np.ascontiguousarray(h, dtype=np.float64),
                np.ascontiguousarray(l, dtype=np.float64), np.ascontiguousarray(c, dtype=np.float64),
                hour_start, tick, _auto_lot(first) if lot is None else lot, coarse)


def _analyse_store(rng: SymbolRange, config: RegimeConfig, supervisor: SupervisorSettings):
    """Batch analysis + supervision from the store, the 1m bars, the hourly bars, tick and source name."""
    from gridregime.bars import bars_to_numpy
    from gridregime.service import RegimeAnalysisService
    from gridregime.snapshot import SnapshotReader

    reader = SnapshotReader(rng.root)
    service = RegimeAnalysisService(reader, config)
    # the bars the analysis loaded are the bars traded on: the store is read once
    batch = service.analyze_many([rng.symbol], rng.start, rng.end, keep_results=False, supervise=supervisor,
                                 keep_bars=True)
    hourly_t, minute_t = batch.bars(rng.symbol)
    scale, source = None, ""
    if batch.rows:
        snap = reader.load_snapshot(rng.symbol, batch.rows[0]["hour"])
        scale, source = snap.price_scale, snap.source
    minute = bars_to_numpy(minute_t)
    hourly = bars_to_numpy(hourly_t)
    tick = 1.0 / scale if scale else 0.0
    return batch, minute, hourly, tick, source


def _analyse_source(rng: SymbolRange, config: RegimeConfig, supervisor: SupervisorSettings):
    """Coarse mode: analysis and supervision from a source's hourly bars (no snapshot store)."""
    from gridregime.analysis.engine import RegimeEngine
    from gridregime.bars import bars_to_numpy
    from gridregime.collect.sources.base import open_source
    from gridregime.grid.inputs import market_state_from_result
    from gridregime.grid.supervisor import supervise_results
    from gridregime.service import SUPERVISE_START_ENABLED, BatchResult, HourFailure, result_row

    source = open_source(rng.source, name="source") if isinstance(rng.source, str) else rng.source
    history = config.for_symbol(rng.symbol).history_hours
    first = rng.start - (history - 1) * HOUR
    hourly = source.fetch_ohlcv(rng.symbol, "1h", first, rng.end + HOUR)
    cols = bars_to_numpy(hourly)
    have = set(cols["ts"].tolist())
    hours = [h for h in _hour_grid(rng.start, rng.end) if to_ms(h) in have]
    batch = BatchResult()
    batch.failures = [HourFailure(rng.symbol, h, "missing", "no hourly bar in the source")
                      for h in _hour_grid(rng.start, rng.end) if to_ms(h) not in have]
    results = RegimeEngine(config).analyze_hours(rng.symbol, hourly, None, hours) if hours else []
    batch.rows = [result_row(r) for r in results]
    batch.markets = [market_state_from_result(r) for r in results]
    batch.grid_rows = supervise_results(batch.markets, gate_config=supervisor.gates, policy=supervisor.policy,
                                        start_enabled=SUPERVISE_START_ENABLED)
    in_range = (cols["ts"] >= to_ms(rng.start)) & (cols["ts"] <= to_ms(rng.end))
    sel = {k: v[in_range] for k, v in cols.items()}
    tick = _tick_of(sel["close"])
    return batch, sel, cols, tick, getattr(source, "name", str(rng.source))


def _tick_of(prices: np.ndarray) -> float:
    """The coarsest power-of-ten tick every price is a multiple of (down to 1e-8)."""
    for k in range(0, 9):
        tick = 10.0 ** -k
        if prices.size == 0 or np.all(np.abs(prices / tick - np.round(prices / tick)) < 1e-6):
            return tick
    return 1e-8


def _labels_for(source_name: str, symbol: str, hours: list[datetime]) -> list[str | None] | None:
    """Ground-truth labels when the snapshots came from the synthetic source."""
    if not source_name.startswith("synthetic:"):
        return None
    from gridregime.collect.sources.synthetic import SyntheticSource

    try:
        seed = int(source_name.split(":", 1)[1])
    except ValueError:
        return None
    table = SyntheticSource(seed).labels(symbol, hours[0], hours[-1] + HOUR).to_pydict()
    by_ms = {int(t.timestamp() * 1000): r for t, r in zip(table["ts"], table["regime"])}
    return [by_ms.get(to_ms(h)) for h in hours]


# -- one symbol-range ---------------------------------------------------------------------------
def _wishes(policy: NamedPolicy, hours: list[datetime], markets: list[Any], sup_rows: list[Any],
            symbol: str, levels: int, budget: float) -> list[GridSpec | None]:
    out: list[GridSpec | None] = []
    cur: GridSpec | None = None
    since = 0
    for k, hour in enumerate(hours):
        m = markets[k]
        if m is None:  # no analysis this hour: nothing to decide on, keep what runs
            out.append(cur)
            since += 1
            continue
        want = policy(HourView(symbol, hour, k, m, sup_rows[k], cur, since, levels, budget))
        if want is not None and not isinstance(want, GridSpec):
            raise InvalidParameterError(
                f"policy {policy.name}: expected a GridSpec or None at {iso_z(hour)}, got {type(want).__name__}")
        since = since + 1 if want == cur else 1
        cur = want
        out.append(want)
    return out


def _policy_row(run: PolicyRun, other: PolicyRun, budget: float) -> dict[str, Any]:
    row: dict[str, Any] = M.equity_metrics(run.equity, budget)
    other_ret = float(other.equity[-1] / budget - 1.0) if other.equity.size else 0.0
    row.update(
        exposure_hours=int(run.exposed.sum()), starts=run.starts, recentres=run.recentres, stops=run.stops,
        fills=run.fills, fees=run.fees, losing_stops=run.losing_stops, closing_cost=run.closing_cost,
        return_other_path=other_ret, model_risk=other_ret - row["return"],
    )
    return row


def _simulate_all(bars: Bars, hours, markets, sup_rows, symbol: str, settings: BacktestSettings,
                  user: Mapping[str, NamedPolicy]):
    """Wishes and simulations of every policy, in both path modes."""
    other_path = [p for p in PATH_MODES if p != settings.path][0]
    main_ex = Exchange(settings.fee, settings.min_notional, settings.path)
    other_ex = replace(main_ex, path=other_path)
    cache: dict = {}
    runs: dict[str, tuple[PolicyRun, PolicyRun]] = {}
    wishes: dict[str, list] = {}
    named = {**{k: BUILTIN[k] for k in GRID_POLICIES}, **user}
    for name, pol in named.items():
        w = _wishes(pol, hours, markets, sup_rows, symbol, settings.levels, settings.budget)
        wishes[name] = w
        runs[name] = (run_policy(name, bars, w, main_ex, settings.budget, cache),
                      run_policy(name, bars, w, other_ex, settings.budget, cache))
    # RANDOM: SUPERVISOR's exposure and starts, placed at random
    sup_w = wishes["SUPERVISOR"][:-1]
    exposure = sum(1 for g in sup_w if g is not None)
    starts = sum(1 for k, g in enumerate(sup_w) if g is not None and (k == 0 or sup_w[k - 1] is None))
    seed_key = sum(symbol.encode()) * 1_000_003 + to_ms(hours[0]) // HOUR_MS
    random_runs = []
    for seed in range(settings.seeds):
        rng = np.random.default_rng([settings.bootstrap_seed, seed, seed_key])
        mask = np.r_[random_mask(len(hours) - 1, exposure, starts, rng), False]
        pol = random_policy(mask, f"RANDOM#{seed}")
        w = _wishes(pol, hours, markets, sup_rows, symbol, settings.levels, settings.budget)
        random_runs.append((run_policy(pol.name, bars, w, main_ex, settings.budget, cache),
                            run_policy(pol.name, bars, w, other_ex, settings.budget, cache)))
    return runs, random_runs, {"exposure_hours": exposure, "starts": starts}


def run_range(rng: SymbolRange, config: RegimeConfig, settings: BacktestSettings,
              user_policies: Mapping[str, NamedPolicy] | None = None,
              supervisor: SupervisorSettings | None = None) -> RangeOutcome:
    """Analyse, supervise, simulate and measure one symbol-range (top-level: spawn-safe)."""
    t0 = time.perf_counter()
    supervisor = SupervisorSettings() if supervisor is None else supervisor
    if rng.coarse:
        batch, bars_cols, hourly_cols, tick, source_name = _analyse_source(rng, config, supervisor)
    else:
        batch, bars_cols, hourly_cols, tick, source_name = _analyse_store(rng, config, supervisor)
    hours = _hour_grid(rng.start, rng.end)
    n = len(hours)
    index = {h: k for k, h in enumerate(hours)}
    rows: list[dict | None] = [None] * n
    markets: list[Any] = [None] * n
    sup_rows: list[dict | None] = [None] * n
    for r, m in zip(batch.rows, batch.markets):
        k = index.get(r["hour"])
        if k is not None:
            rows[k], markets[k] = r, m
    for g in batch.grid_rows:
        k = index.get(g["hour"])
        if k is not None:
            sup_rows[k] = g
    if not any(r is not None for r in rows):
        raise InvalidParameterError(f"{rng.key}: no hour could be analysed "
                                    f"({len(batch.failures)} skipped); nothing to backtest")
    bars = _bars_from(bars_cols["ts"], bars_cols["open"], bars_cols["high"], bars_cols["low"], bars_cols["close"],
                      hours, tick, settings.lot, rng.coarse)
    if len(bars.close) == 0:
        raise InvalidParameterError(f"{rng.key}: no bars to trade on in the range")

    runs, random_runs, random_basis = _simulate_all(bars, hours, markets, sup_rows, rng.symbol, settings,
                                                    user_policies or {})
    budget = settings.budget
    hold = hold_equity(bars, budget, settings.fee)
    flat = np.full(n, budget)

    # per-policy figures
    policies: dict[str, dict[str, Any]] = {}
    for name, (main, other) in runs.items():
        policies[name] = _policy_row(main, other, budget)
    for name, eq in (("HOLD", hold), ("FLAT", flat)):
        row = M.equity_metrics(eq, budget)
        row.update(exposure_hours=n - 1 if name == "HOLD" else 0, starts=int(name == "HOLD"), recentres=0, stops=0,
                   fills=0, fees=budget * settings.fee if name == "HOLD" else 0.0, losing_stops=0, closing_cost=0.0,
                   return_other_path=row["return"], model_risk=0.0)
        policies[name] = row
    rand_rows = [_policy_row(a, b, budget) for a, b in random_runs]
    random_summary = _random_summary(rand_rows, policies["SUPERVISOR"], random_basis)
    if random_runs:
        med_eq = np.median(np.stack([a.equity for a, _ in random_runs]), axis=0)
        policies["RANDOM"] = {**M.equity_metrics(med_eq, budget), **{
            k: float(np.median([r[k] for r in rand_rows])) for k in ("exposure_hours", "starts", "fills", "fees")},
            "recentres": float(np.median([r["recentres"] for r in rand_rows])),
            "stops": float(np.median([r["stops"] for r in rand_rows])),
            "losing_stops": float(np.median([r["losing_stops"] for r in rand_rows])),
            "closing_cost": float(np.median([r["closing_cost"] for r in rand_rows])),
            "return_other_path": float(np.median([r["return_other_path"] for r in rand_rows])),
            "model_risk": float(np.median([r["model_risk"] for r in rand_rows]))}
        policies["RANDOM"]["return"] = float(np.median([r["return"] for r in rand_rows]))

    # hourly series on the run's hour grid
    h_ts = hourly_cols["ts"]
    pos = np.searchsorted(h_ts, [to_ms(h) for h in hours])
    pos_c = np.minimum(pos, max(h_ts.size - 1, 0))
    present = (pos < h_ts.size) & (h_ts[pos_c] == np.array([to_ms(h) for h in hours]))
    hh = np.where(present, hourly_cols["high"][pos_c], np.nan)
    hl = np.where(present, hourly_cols["low"][pos_c], np.nan)
    hc = np.where(present, hourly_cols["close"][pos_c], np.nan)

    def col(name: str) -> np.ndarray:
        return np.array([np.nan if r is None or r[name] is None else float(r[name]) for r in rows])

    lower, upper, atr = col("range_lower"), col("range_upper"), col("atr")
    verdicts = [None if r is None or r["status"] != "ok" else r["verdict"] for r in rows]
    start_ok = np.array([bool(r is not None and r.get("grid_start_ok")) for r in rows], dtype=bool)
    high_vol = np.array([m is not None and m.verdict is not None and m.atr_rank >= PREMIUM_START_RANK
                         for m in markets], dtype=bool)
    fwd = M.forward_stats(hh, hl, hc, present, lower, upper, atr, settings.horizon)
    # what the hour's reference grid (ALWAYS's, over the discovered range) earns over the horizon
    specs = [None if m is None or m.verdict is None else
             range_grid(HourView(rng.symbol, hours[k], k, m, None, None, 0, settings.levels, budget))
             for k, m in enumerate(markets)]
    fwd["grid_pnl"] = forward_grid_pnl(bars, specs, settings.horizon,
                                       Exchange(settings.fee, settings.min_notional, settings.path))
    stops = M.stop_stats([g for g in sup_rows if g is not None], index, hh, hl, present, settings.horizon)
    labels = _labels_for(source_name, rng.symbol, hours)

    table = _hour_table(rng, hours, rows, markets, sup_rows, runs, random_runs, hold, flat, fwd)
    hourly_pnl = {name: np.diff(np.r_[budget, main.equity]) / budget for name, (main, _) in runs.items()}
    hourly_pnl["HOLD"] = np.diff(np.r_[budget, hold]) / budget
    hourly_pnl["FLAT"] = np.zeros(n)
    if random_runs:
        hourly_pnl["RANDOM"] = np.median(
            np.stack([np.diff(np.r_[budget, a.equity]) for a, _ in random_runs]), axis=0) / budget
    warming = sum(1 for r in rows if r is not None and r.get("warming_up"))
    info = {
        "symbol": rng.symbol, "start": iso_z(rng.start), "end": iso_z(rng.end), "coarse": rng.coarse,
        "bars": "1h" if rng.coarse else "1m", "source": source_name, "hours": n,
        "analysed": sum(1 for v in verdicts if v is not None),
        "insufficient_data": sum(1 for r in rows if r is not None and r["status"] != "ok"),
        "warming_up_hours": warming,
        "skipped": len(batch.failures), "tick": bars.tick, "lot": bars.lot,
    }
    return RangeOutcome(
        key=rng.key, symbol=rng.symbol, start=rng.start, end=rng.end, coarse=rng.coarse, hours=hours, table=table,
        policies=policies, random=random_summary, verdicts=M.verdict_process(verdicts),
        forward=M.per_verdict(verdicts, fwd, {"GRID_START_OK": start_ok, "HIGH_VOL": high_vol}), stops=stops,
        labels=None if labels is None else M.label_accuracy(verdicts, labels, settle=LABEL_SETTLE_HOURS), info=info,
        hourly_pnl=hourly_pnl, fwd=fwd, verdict_arr=np.array([v or "" for v in verdicts], dtype=object),
        start_arr=start_ok, high_vol_arr=high_vol,
        skipped=[f.to_dict() for f in batch.failures], seconds=time.perf_counter() - t0,
    )


def _random_summary(rows: list[dict[str, Any]], sup: dict[str, Any], basis: dict[str, int]) -> dict[str, Any]:
    if not rows:
        return {"seeds": 0, **basis}
    out: dict[str, Any] = {"seeds": len(rows), **basis}
    for key in ("return", "max_drawdown", "return_over_drawdown"):
        vals = np.array([np.nan if r[key] is None else r[key] for r in rows], dtype=float)
        vals = vals[np.isfinite(vals)]
        if vals.size:
            out[key] = {"median": float(np.median(vals)), "p05": float(np.quantile(vals, 0.05)),
                        "p95": float(np.quantile(vals, 0.95))}
        else:
            out[key] = None
    s = sup.get("return_over_drawdown")
    rod = np.array([np.nan if r["return_over_drawdown"] is None else r["return_over_drawdown"] for r in rows])
    rod = rod[np.isfinite(rod)]
    out["supervisor_rank"] = float(np.mean(rod < s)) if s is not None and rod.size else None
    return out


HOUR_COLUMNS = ("symbol", "hour", "status", "verdict", "grid_start_ok", "confidence", "history_bars", "warming_up",
                "price", "atr", "range_lower", "range_upper", "trend_score", "mean_rev_score", "vol_change_score",
                "range_quality_score", "atr_rank", "action", "events", "reason", "gate_phase", "grid_enabled",
                "grid_mode", "grid_lower", "grid_upper", "grid_levels", "grid_allocation", "forward_hold",
                "forward_abs_move_atr", "forward_rv_ratio", "forward_rv_change", "forward_grid_pnl")


def _hour_table(rng, hours, rows, markets, sup_rows, runs, random_runs, hold, flat, fwd) -> dict[str, list]:
    n = len(hours)

    def take(src, name):
        return [None if r is None else r.get(name) for r in src]

    t: dict[str, list] = {
        "symbol": [rng.symbol] * n, "hour": list(hours),
        **{c: take(rows, c) for c in ("status", "verdict", "grid_start_ok", "confidence", "history_bars", "warming_up",
                                      "price", "atr",
                                      "range_lower", "range_upper", "trend_score", "mean_rev_score",
                                      "vol_change_score", "range_quality_score")},
        "atr_rank": [None if m is None or not math.isfinite(m.atr_rank) else float(m.atr_rank) for m in markets],
        **{c: take(sup_rows, c) for c in ("action", "events", "reason", "gate_phase", "grid_enabled", "grid_mode",
                                          "grid_lower", "grid_upper", "grid_levels", "grid_allocation")},
        "forward_hold": _nan_none(fwd["hold"]), "forward_abs_move_atr": _nan_none(fwd["abs_move_atr"]),
        "forward_rv_ratio": _nan_none(fwd["rv_ratio"]), "forward_rv_change": _nan_none(fwd["rv_change"]),
        "forward_grid_pnl": _nan_none(fwd["grid_pnl"]),
    }
    for name, (main, _) in runs.items():
        t[f"equity_{name}"] = main.equity.tolist()
        t[f"exposed_{name}"] = main.exposed.tolist()
    if random_runs:
        t["equity_RANDOM"] = np.median(np.stack([a.equity for a, _ in random_runs]), axis=0).tolist()
    t["equity_HOLD"] = hold.tolist()
    t["equity_FLAT"] = flat.tolist()
    return t


def _nan_none(a: np.ndarray) -> list:
    return [None if not math.isfinite(x) else float(x) for x in a.tolist()]


# -- the whole run ------------------------------------------------------------------------------
@dataclass
class BacktestResult:
    """Outcomes per symbol-range, pooled figures, bootstrap intervals, settings and timings."""

    settings: BacktestSettings
    config_hash: str
    outcomes: list[RangeOutcome]
    pooled: dict[str, Any]
    differences: list[dict[str, Any]]
    failures: list[dict[str, str]]
    seconds: float
    supervisor: SupervisorSettings = field(default_factory=SupervisorSettings)

    def policy_names(self) -> list[str]:
        return list(self.pooled["policies"])


def _pool(outcomes: list[RangeOutcome], settings: BacktestSettings) -> dict[str, Any]:
    names = list(outcomes[0].policies)
    pooled: dict[str, Any] = {"policies": {}}
    for name in names:
        rows = [o.policies[name] for o in outcomes if name in o.policies]
        months = [o.info["hours"] / HOURS_PER_MONTH for o in outcomes if name in o.policies]

        def mean(key: str) -> float | None:
            vals = [r[key] for r in rows if r.get(key) is not None]
            return float(np.mean(vals)) if vals else None
        ret, mdd = mean("return"), mean("max_drawdown")
        monthly = [r["return"] / m for r, m in zip(rows, months) if m > 0]
        pnl = np.concatenate([o.hourly_pnl[name] for o in outcomes if name in o.hourly_pnl])
        sd = float(np.std(pnl)) if pnl.size > 1 else 0.0
        down = np.minimum(pnl, 0.0)
        dsd = float(np.sqrt(np.mean(down * down))) if pnl.size else 0.0
        gains, losses = float(pnl[pnl > 0].sum()), float(-pnl[pnl < 0].sum())
        pooled["policies"][name] = {
            "ranges": len(rows), "mean_return": ret, "mean_monthly_return": float(np.mean(monthly)) if monthly else None,
            "positive_ranges": sum(1 for r in rows if r["return"] > 0), "mean_max_drawdown": mdd,
            "return_over_drawdown": (ret / mdd) if ret is not None and mdd else None,
            "sharpe": float(np.mean(pnl)) / sd * math.sqrt(M.HOURS_PER_YEAR) if sd > 0 else None,
            "sortino": float(np.mean(pnl)) / dsd * math.sqrt(M.HOURS_PER_YEAR) if dsd > 0 else None,
            "profit_factor": gains / losses if losses > 0 else None,
            **{k: float(np.sum([r[k] for r in rows])) for k in ("exposure_hours", "starts", "recentres", "stops",
                                                                 "fills", "fees", "losing_stops")},
            "mean_model_risk": mean("model_risk"),
        }
    verdicts = np.concatenate([o.verdict_arr for o in outcomes])
    fwd = {k: np.concatenate([o.fwd[k] for o in outcomes]) for k in outcomes[0].fwd}
    starts = np.concatenate([o.start_arr for o in outcomes])
    high_vol = np.concatenate([o.high_vol_arr for o in outcomes])
    pooled["forward"] = M.per_verdict([v or None for v in verdicts], fwd, {"GRID_START_OK": starts,
                                                                          "HIGH_VOL": high_vol})
    counts = {v: sum(o.verdicts["counts"][v] for o in outcomes) for v in M.VERDICTS}
    total = sum(counts.values())
    pooled["verdicts"] = {"counts": counts, "shares": {v: counts[v] / total if total else None for v in counts},
                          "transitions": {a: {b: sum(o.verdicts["transitions"][a][b] for o in outcomes)
                                              for b in M.VERDICTS} for a in M.VERDICTS},
                          "mean_duration_hours": _pooled_durations(outcomes)}
    st = {k: sum(o.stops[k] for o in outcomes) for k in ("stops", "restarts", "false_stops",
                                                          "false_stops_measurable", "retriggers")}
    st["false_stop_rate"] = st["false_stops"] / st["false_stops_measurable"] if st["false_stops_measurable"] else None
    st["retrigger_rate"] = st["retriggers"] / st["restarts"] if st["restarts"] else None
    pooled["stops"] = st
    labelled = [o.labels for o in outcomes if o.labels is not None]
    if labelled:
        conf = {f: {v: sum(lab["confusion"][f][v] for lab in labelled) for v in M.VERDICTS}
                for f in ("range", "trend", "transition")}
        verd, labs = [], []
        for f, row in conf.items():
            for v, c in row.items():
                verd += [v] * c
                labs += [{"trend": "trend_up"}.get(f, f)] * c
        pooled["labels"] = M.label_accuracy(verd, labs)
        pooled["labels"].update(settle_hours=LABEL_SETTLE_HOURS, hours=sum(lab["hours"] for lab in labelled),
                                settled_hours=sum(lab["settled_hours"] for lab in labelled))
    else:
        pooled["labels"] = None
    pooled["hours"] = sum(o.info["hours"] for o in outcomes)
    pooled["warming_up_hours"] = sum(o.info["warming_up_hours"] for o in outcomes)
    pooled["insufficient_data"] = sum(o.info["insufficient_data"] for o in outcomes)
    return pooled


def _pooled_durations(outcomes: list[RangeOutcome]) -> dict[str, float | None]:
    out = {}
    for v in M.VERDICTS:
        hours = sum(o.verdicts["counts"][v] for o in outcomes)
        runs = sum(o.verdicts["runs"][v] for o in outcomes)
        out[v] = hours / runs if runs else None
    return out


def _days(outcome: RangeOutcome) -> np.ndarray:
    return np.array([to_ms(h) // (24 * HOUR_MS) for h in outcome.hours], dtype=np.int64)


def _differences(outcomes: list[RangeOutcome], settings: BacktestSettings) -> list[dict[str, Any]]:
    """Day-block bootstrap intervals of the policy and verdict differences."""
    out: list[dict[str, Any]] = []
    day = np.concatenate([_days(o) for o in outcomes])
    names = [n for n in outcomes[0].hourly_pnl]
    pnl = {n: np.concatenate([o.hourly_pnl[n] for o in outcomes]) for n in names}
    ones = np.ones(day.size)
    pairs = [(a, "ALWAYS") for a in names if a not in ("ALWAYS", "FLAT")]
    pairs += [("SUPERVISOR", b) for b in ("VERDICT", "STICKY", "ADX_FILTER", "VOL_PREMIUM", "RANDOM", "HOLD")
              if b in names]
    seed = settings.bootstrap_seed
    for a, b in pairs:
        _, sums = B.block_sums(day, pnl[a], ones, pnl[b])
        iv = B.interval(sums, lambda t: B.mean_difference(t) * HOURS_PER_MONTH, seed=seed,
                        resamples=settings.resamples)
        out.append({"kind": "policy_return", "a": a, "b": b, "unit": "return per symbol-month", **iv})
    verdicts = np.concatenate([o.verdict_arr for o in outcomes])
    fwd = {k: np.concatenate([o.fwd[k] for o in outcomes]) for k in outcomes[0].fwd}

    def ratio_diff(kind: str, stat: str, sel_a: np.ndarray, sel_b: np.ndarray, a: str, b: str) -> None:
        x = fwd[stat]
        ok = np.isfinite(x)
        xa, xb = np.where(ok & sel_a, x, 0.0), np.where(ok & sel_b, x, 0.0)
        _, sums = B.block_sums(day, xa, (ok & sel_a).astype(float), xb, (ok & sel_b).astype(float))
        iv = B.interval(sums, B.ratio_difference, seed=seed, resamples=settings.resamples)
        out.append({"kind": kind, "a": a, "b": b, "unit": stat, **iv})

    analysed = verdicts != ""
    starts = np.concatenate([o.start_arr for o in outcomes])
    ratio_diff("forward_hold", "hold", starts, analysed, "GRID_START_OK", "ALL")
    ratio_diff("forward_hold", "hold", verdicts == "RANGE_OK", analysed, "RANGE_OK", "ALL")
    ratio_diff("forward_move", "abs_move_atr", verdicts == "TREND", verdicts == "RANGE_OK", "TREND", "RANGE_OK")
    ratio_diff("forward_rv", "rv_ratio", verdicts == "TRANSITION", analysed & (verdicts != "TRANSITION"),
               "TRANSITION", "OTHER")
    ratio_diff("forward_rv_change", "rv_change", verdicts == "TRANSITION", analysed & (verdicts != "TRANSITION"),
               "TRANSITION", "OTHER")
    high_vol = np.concatenate([o.high_vol_arr for o in outcomes])
    for name, sel in (("GRID_START_OK", starts), ("RANGE_OK", verdicts == "RANGE_OK"), ("HIGH_VOL", high_vol)):
        ratio_diff("forward_grid_pnl", "grid_pnl", sel, analysed, name, "ALL")
    return out


def run_backtest(ranges: Sequence[SymbolRange], *, config: RegimeConfig | None = None,
                 settings: BacktestSettings | None = None, policies: Mapping[str, Any] | None = None,
                 workers: int = 1, progress: bool = False,
                 supervisor: SupervisorSettings | None = None) -> BacktestResult:
    """Backtest every symbol-range and pool the figures (see the module docstring).

    Parameters
    ----------
    ranges : sequence of SymbolRange
        Built with :func:`symbol_range`.
    config : RegimeConfig, optional
    settings : BacktestSettings, optional
    supervisor : SupervisorSettings, optional
        The SUPERVISOR policy's gate thresholds and grid numbers (default: the defaults; a config
        file's ``[gates]`` and ``[grid]`` sections via :func:`gridregime.grid.load_supervisor_settings`).
    policies : mapping name -> callable(HourView) -> GridSpec | None, optional
        Extra policies, simulated and reported beside the built-in ones.
    workers : int
        Processes; symbol-ranges run in parallel. User policies must be picklable then
        (module-level functions).
    progress : bool
        A progress bar on stderr.
    """
    t0 = time.perf_counter()
    config = RegimeConfig() if config is None else config
    settings = BacktestSettings() if settings is None else settings
    supervisor = SupervisorSettings() if supervisor is None else supervisor
    if not isinstance(supervisor, SupervisorSettings):
        raise InvalidParameterError(f"supervisor: expected SupervisorSettings, got {type(supervisor).__name__}")
    if not isinstance(config, RegimeConfig):
        raise InvalidParameterError(f"config: expected a RegimeConfig, got {type(config).__name__}")
    if not isinstance(settings, BacktestSettings):
        raise InvalidParameterError(f"settings: expected BacktestSettings, got {type(settings).__name__}")
    if isinstance(workers, bool) or not isinstance(workers, int) or workers < 1:
        raise InvalidParameterError(f"workers: expected an integer >= 1, got {workers!r}")
    ranges = list(ranges)
    if not ranges:
        raise InvalidParameterError("ranges: expected at least one symbol-range")
    user = as_policies(policies)
    from tqdm.auto import tqdm

    bar = tqdm(total=len(ranges), unit="range", desc="backtest", disable=not progress, leave=False)
    outcomes: list[RangeOutcome] = []
    failures: list[dict[str, str]] = []

    def done(rng: SymbolRange, outcome: RangeOutcome | None, exc: BaseException | None) -> None:
        if exc is not None:
            failures.append({"range": rng.key, "reason": f"{type(exc).__name__}: {exc}"})
        else:
            outcomes.append(outcome)
        bar.update(1)

    if workers == 1 or len(ranges) == 1:
        for rng in ranges:
            try:
                done(rng, run_range(rng, config, settings, user, supervisor), None)
            except Exception as exc:  # one broken symbol-range is reported, never fatal
                done(rng, None, exc)
    else:
        import multiprocessing
        from concurrent.futures import ProcessPoolExecutor

        with ProcessPoolExecutor(max_workers=min(workers, len(ranges)),
                                 mp_context=multiprocessing.get_context("spawn")) as pool:
            futs = [(rng, pool.submit(run_range, rng, config, settings, user, supervisor)) for rng in ranges]
            for rng, fut in futs:
                try:
                    done(rng, fut.result(), None)
                except Exception as exc:  # one broken symbol-range is reported, never fatal
                    done(rng, None, exc)
    bar.close()
    if not outcomes:
        reasons = "; ".join(f"{f['range']}: {f['reason']}" for f in failures)
        raise InvalidParameterError(f"ranges: no symbol-range could be backtested ({reasons})")
    order = {r.key: i for i, r in enumerate(ranges)}
    outcomes.sort(key=lambda o: order.get(o.key, 0))
    pooled = _pool(outcomes, settings)
    differences = _differences(outcomes, settings)
    return BacktestResult(settings, config.config_hash, outcomes, pooled, differences, failures,
                          time.perf_counter() - t0, supervisor)


def settings_dict(settings: BacktestSettings) -> dict[str, Any]:
    return asdict(settings)


__all__ = ["BacktestSettings", "SymbolRange", "symbol_range", "run_backtest", "run_range", "BacktestResult",
           "RangeOutcome", "HOUR_COLUMNS"]
