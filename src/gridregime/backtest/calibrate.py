"""Walk-forward calibration: choose settings (``RegimeConfig`` fields, and the supervisor's
``gates.*`` and ``grid.*``) on past windows only.

The span ``[start, end]`` is cut into folds of ``train_months`` (30-day months) followed by
``test_months``; the next fold starts ``test_months`` later. In each fold every candidate
configuration (the defaults, plus every combination of the ``--vary`` values) is backtested on the
training window and scored by the objective; the best one (ties: the earlier candidate, the
defaults first) is then backtested on the test window, which it has never seen. The report puts
each fold's in-sample score of the chosen configuration next to its out-of-sample score and the
defaults' out-of-sample score, says how many configurations were tried, and the values chosen on
the most recent training window are written as a settings TOML file (``[regime]``, ``[gates]``,
``[grid]``) that ``load_config`` and ``load_supervisor_settings`` read.

Objectives (higher is better):

``start_hold``        forward 24 h range-hold of the ``grid_start_ok`` hours minus all hours;
``start_grid_pnl``    forward 24 h grid P&L (a share of the allocation) of the ``grid_start_ok``
                      hours minus all hours: what a grid started on the start check earns;
``supervisor``        the grid supervisor's pooled return / max drawdown;
``supervisor_return`` the grid supervisor's mean return.

Few parameters, few values each: every extra combination is one more chance to fit noise, and the
out-of-sample column is the one to believe.
"""
from __future__ import annotations

import dataclasses
import itertools
import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

from gridregime.backtest.runner import BacktestSettings, run_backtest, symbol_range
from gridregime.config import RegimeConfig
from gridregime.grid.settings import GateConfig, GridPolicy, SupervisorSettings
from gridregime.overrides import parameter_names
from gridregime.errors import InvalidParameterError
from gridregime.timeutil import HOUR, iso_z, to_utc_hour

OBJECTIVES = ("start_hold", "start_grid_pnl", "supervisor", "supervisor_return")
MONTH = timedelta(days=30)
MAX_CANDIDATES = 200


def _parameter_types() -> dict[str, type]:
    """Every name ``--vary`` accepts and its type: RegimeConfig fields, ``gates.<GateConfig field>``
    and ``grid.<GridPolicy field>``."""
    out = {name: type(getattr(RegimeConfig(), name)) for name in parameter_names(RegimeConfig)}
    for prefix, obj in (("gates", GateConfig()), ("grid", GridPolicy())):
        out.update({f"{prefix}.{name}": type(getattr(obj, name)) for name in parameter_names(type(obj))})
    return out


def parse_vary(items: Sequence[str]) -> dict[str, list[Any]]:
    """``["name=v1,v2", ...]`` -> ``{name: [v1, v2]}``, values typed like the field's default."""
    types = _parameter_types()
    out: dict[str, list[Any]] = {}
    for item in items:
        name, sep, values = str(item).partition("=")
        name = name.strip()
        if not sep or not name or not values.strip():
            raise InvalidParameterError(f"--vary: expected name=v1,v2,..., got {item!r}")
        if name not in types:
            raise InvalidParameterError(f"--vary: {name!r} is not a RegimeConfig field, gates.<GateConfig field> or "
                                        f"grid.<GridPolicy field> (e.g. grid_start_min_room_atr, "
                                        f"gates.min_hours_stopped, grid.quick_stop_atr)")
        if name in out:
            raise InvalidParameterError(f"--vary: {name} is given twice")
        parsed = []
        for text in values.split(","):
            text = text.strip()
            try:
                value = int(text) if types[name] is int else float(text)
            except ValueError:
                kind = "an integer" if types[name] is int else "a number"
                raise InvalidParameterError(f"--vary: {name}: expected {kind}, got {text!r}") from None
            if value not in parsed:
                parsed.append(value)
        out[name] = parsed
    return out


@dataclass(frozen=True)
class Candidate:
    """One configuration tried: the analysis settings and the supervisor's."""

    config: RegimeConfig
    supervisor: SupervisorSettings

    def value(self, name: str) -> Any:
        section, dot, field_name = name.partition(".")
        if not dot:
            return getattr(self.config, name)
        return getattr(self.supervisor.gates if section == "gates" else self.supervisor.policy, field_name)

    def replace(self, changes: Mapping[str, Any]) -> Candidate:
        plain = {k: v for k, v in changes.items() if "." not in k}
        dotted = {k: v for k, v in changes.items() if "." in k}
        return Candidate(dataclasses.replace(self.config, **plain) if plain else self.config,
                         self.supervisor.replace(**dotted) if dotted else self.supervisor)

    @property
    def key(self) -> tuple[str, SupervisorSettings]:
        return self.config.config_hash, self.supervisor


def candidates(base: RegimeConfig | Candidate, vary: Mapping[str, Sequence[Any]]) -> list[Candidate]:
    """The defaults first, then every combination of the varied values (duplicates dropped);
    a combination the settings refuse is an error naming the values."""
    if isinstance(base, RegimeConfig):
        base = Candidate(base, SupervisorSettings())
    names = list(vary)
    out = [base]
    seen = {base.key}
    for combo in itertools.product(*(vary[n] for n in names)):
        changes = dict(zip(names, combo))
        try:
            cand = base.replace(changes)
        except InvalidParameterError as exc:
            raise InvalidParameterError(f"--vary: the combination {changes} is not a valid config: {exc}") from None
        if cand.key not in seen:
            seen.add(cand.key)
            out.append(cand)
    if len(out) > MAX_CANDIDATES:
        raise InvalidParameterError(f"--vary: {len(out)} configurations; at most {MAX_CANDIDATES} (fewer values)")
    return out


def score(result: Any, objective: str) -> float:
    """The objective of one backtest result (NaN when undefined)."""
    if objective in ("start_hold", "start_grid_pnl"):
        kind = "forward_hold" if objective == "start_hold" else "forward_grid_pnl"
        d = next((d for d in result.differences if d["kind"] == kind and d["a"] == "GRID_START_OK"), None)
        return math.nan if d is None or d["estimate"] is None else float(d["estimate"])
    sup = result.pooled["policies"]["SUPERVISOR"]
    value = sup["return_over_drawdown"] if objective == "supervisor" else sup["mean_return"]
    return math.nan if value is None else float(value)


@dataclass(frozen=True)
class Fold:
    train: tuple[datetime, datetime]
    test: tuple[datetime, datetime]
    chosen: dict[str, Any]
    in_sample: float
    out_of_sample: float
    default_in_sample: float
    default_out_of_sample: float
    scores: list[float] = field(default_factory=list)


@dataclass(frozen=True)
class CalibrationResult:
    objective: str
    vary: dict[str, list[Any]]
    tried: int
    folds: list[Fold]
    final: dict[str, Any]
    final_window: tuple[datetime, datetime]

    def to_dict(self) -> dict[str, Any]:
        def f(x: float) -> float | None:
            return x if math.isfinite(x) else None
        return {
            "objective": self.objective, "vary": self.vary, "configurations_tried": self.tried,
            "folds": [{"train": [iso_z(a.train[0]), iso_z(a.train[1])], "test": [iso_z(a.test[0]), iso_z(a.test[1])],
                       "chosen": a.chosen, "in_sample": f(a.in_sample), "out_of_sample": f(a.out_of_sample),
                       "default_in_sample": f(a.default_in_sample),
                       "default_out_of_sample": f(a.default_out_of_sample)} for a in self.folds],
            "final": self.final, "final_window": [iso_z(self.final_window[0]), iso_z(self.final_window[1])],
        }

    def to_toml(self) -> str:
        """The chosen values as a settings file (``load_config`` and ``load_supervisor_settings`` read it)."""
        lines = ["# Settings chosen by gridregime calibrate (walk-forward, past windows only)",
                 f"# objective {self.objective}; {self.tried} configurations tried; chosen on "
                 f"{iso_z(self.final_window[0])} .. {iso_z(self.final_window[1])}"]
        for section, prefix in (("regime", ""), ("gates", "gates."), ("grid", "grid.")):
            items = [(k[len(prefix):], v) for k, v in self.final.items()
                     if (k.startswith(prefix) if prefix else "." not in k)]
            if items or section == "regime":
                lines += ["", f"[{section}]"] + [f"{k} = {v!r}" for k, v in items]
        return "\n".join(lines) + "\n"

    def to_markdown(self) -> str:
        def f(x: float) -> str:
            return "–" if not math.isfinite(x) else f"{x:+.4f}"
        lines = [f"# Walk-forward calibration ({self.objective})", "",
                 f"{self.tried} configurations tried (the defaults and every combination of "
                 + ", ".join(f"`{k}` in {v}" for k, v in self.vary.items()) + ").", "",
                 "| train | test | chosen | in-sample | out-of-sample | defaults in-sample | defaults out-of-sample |",
                 "|---|---|---|---|---|---|---|"]
        for a in self.folds:
            chosen = ", ".join(f"{k}={v}" for k, v in a.chosen.items()) or "defaults"
            lines.append(f"| {a.train[0]:%Y-%m-%d}..{a.train[1]:%Y-%m-%d} | {a.test[0]:%Y-%m-%d}..{a.test[1]:%Y-%m-%d} "
                         f"| {chosen} | {f(a.in_sample)} | {f(a.out_of_sample)} | {f(a.default_in_sample)} "
                         f"| {f(a.default_out_of_sample)} |")
        oos = [a.out_of_sample for a in self.folds if math.isfinite(a.out_of_sample)]
        dflt = [a.default_out_of_sample for a in self.folds if math.isfinite(a.default_out_of_sample)]
        if oos and dflt:
            lines += ["", f"Mean out-of-sample: chosen {sum(oos) / len(oos):+.4f}, defaults {sum(dflt) / len(dflt):+.4f}."]
        lines += ["", "Chosen on the most recent training window: "
                  + (", ".join(f"`{k} = {v}`" for k, v in self.final.items()) or "the defaults") + "."]
        return "\n".join(lines) + "\n"


def walk_forward(root: str | Path, symbols: Sequence[str], start: Any, end: Any, *, train_months: int,
                 test_months: int, vary: Mapping[str, Sequence[Any]], objective: str = "start_hold",
                 base: RegimeConfig | None = None, settings: BacktestSettings | None = None,
                 workers: int = 1, supervisor: SupervisorSettings | None = None) -> CalibrationResult:
    """Run the walk-forward calibration described in the module docstring."""
    if objective not in OBJECTIVES:
        raise InvalidParameterError(f"objective: expected one of {', '.join(OBJECTIVES)}, got {objective!r}")
    for name, value in (("train_months", train_months), ("test_months", test_months)):
        if isinstance(value, bool) or not isinstance(value, int) or not 1 <= value <= 120:
            raise InvalidParameterError(f"{name}: expected an integer from 1 to 120, got {value!r}")
    if not vary:
        raise InvalidParameterError("vary: expected at least one name=v1,v2,... to vary")
    base = Candidate(RegimeConfig() if base is None else base,
                     SupervisorSettings() if supervisor is None else supervisor)
    settings = BacktestSettings(seeds=0, resamples=200) if settings is None else settings
    start, end = to_utc_hour(start, name="start"), to_utc_hour(end, name="end")
    configs = candidates(base, vary)
    train, test = train_months * MONTH, test_months * MONTH
    if start + train + test - HOUR > end:
        raise InvalidParameterError(
            f"end: expected at least {train_months + test_months} months after start ({iso_z(start)}) for one fold, "
            f"got {iso_z(end)}")

    def evaluate(cand: Candidate, a: datetime, b: datetime) -> float:
        ranges = [symbol_range(s, a, b - HOUR, root=root) for s in symbols]
        return score(run_backtest(ranges, config=cand.config, settings=settings, workers=workers,
                                  supervisor=cand.supervisor), objective)

    folds: list[Fold] = []
    t = start
    chosen_cfg, window = base, (start, start + train)
    while t + train + test - HOUR <= end:
        tr, te = (t, t + train), (t + train, t + train + test)
        scores = [evaluate(cfg, *tr) for cfg in configs]
        best = max(range(len(configs)), key=lambda k: (scores[k] if math.isfinite(scores[k]) else -math.inf, -k))
        chosen_cfg, window = configs[best], tr
        oos = evaluate(chosen_cfg, *te)
        folds.append(Fold(tr, te, _changes(base, chosen_cfg, vary), scores[best], oos, scores[0],
                          oos if best == 0 else evaluate(base, *te), scores))
        t += test
    return CalibrationResult(objective, {k: list(v) for k, v in vary.items()}, len(configs), folds,
                             _changes(base, chosen_cfg, vary), window)


def _changes(base: Candidate, cand: Candidate, vary: Mapping[str, Sequence[Any]]) -> dict[str, Any]:
    return {n: cand.value(n) for n in vary if cand.value(n) != base.value(n)}
