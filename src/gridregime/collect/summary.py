"""The per-market YAML summary of an hour (``<root>/YYYY/MM/DD/HH_<SYMBOL>.yaml``, SPEC §3).

A person (or a script) reads one small file to learn what the hour said: the verdict and its
confidence, the discovered range, the grid in place and what to do with it, the restart gates and
the hours left on their time floor, and the data-quality notes. Keys always come in the order of
:data:`SUMMARY_KEYS`, so two summaries of the same hour are byte-identical and diffs stay small.

The summary is built from the stored analysis and the supervisor's step, never from raw source
data, so a summary always describes what the snapshot files hold.
"""
from __future__ import annotations

import json
import math
import re
from datetime import datetime
from typing import Any

import yaml

from gridregime.errors import InvalidParameterError
from gridregime.timeutil import iso_z

SUMMARY_FORMAT = 1

#: Top-level keys of a summary, in the order they are written.
SUMMARY_KEYS = ("summary_format", "symbol", "hour", "status", "reason", "verdict", "direction", "confidence",
                "grid_start_ok", "price", "atr", "range", "scores", "grid", "recommendation", "gates", "events", "data_quality",
                "files", "source", "collected_at", "config_hash", "engine_version")

_Loader = getattr(yaml, "CSafeLoader", yaml.SafeLoader)


def _num(value: Any, digits: int = 6) -> float | None:
    """A finite float rounded for people, None for missing or NaN."""
    if value is None:
        return None
    value = float(value)
    if not math.isfinite(value):
        return None
    return float(round(value, digits))


def _price(value: Any) -> float | None:
    return _num(value, 8)


def _range(result: Any) -> dict[str, Any] | None:
    r = result.chosen_range
    if r is None:
        return None
    return {"method": r.method, "lower": _price(r.lower), "upper": _price(r.upper),
            "width_atr": _num(r.width_atr, 3), "containment": _num(r.containment, 4),
            "quality": _num(r.quality, 2)}


def _scores(result: Any) -> dict[str, Any] | None:
    s = result.scores
    if s is None:
        return None
    return {"trend": _num(s.trend, 2), "mean_rev": _num(s.mean_rev, 2), "vol_change": _num(s.vol_change, 2),
            "range_quality": _num(s.range_quality, 2), "grid_capacity": int(s.grid_capacity),
            "grid_capacity_ok": bool(s.grid_capacity_ok)}


def _grid(grid: Any, comparison: Any) -> dict[str, Any]:
    if grid is None:
        return {"exists": False, "enabled": False, "status": "NO_GRID"}
    out: dict[str, Any] = {
        "exists": True, "enabled": bool(grid.enabled), "mode": grid.mode.value, "version": int(grid.version),
        "lower": _price(grid.lower), "upper": _price(grid.upper), "levels": int(grid.levels),
        "allocation": _num(grid.allocation, 6),
        "status": None if comparison is None else comparison.status,
    }
    if comparison is not None:
        out["overlap_ratio"] = _num(comparison.overlap_ratio, 4)
        out["price_inside_grid"] = bool(comparison.price_inside_grid)
    return out


def _recommendation(step: Any) -> dict[str, Any] | None:
    rec = None if step is None else step.recommendation
    if rec is None:
        return None
    out: dict[str, Any] = {"action": rec.action.value, "actionable": bool(rec.actionable), "reason": rec.reason,
                           "warnings": list(rec.warnings)}
    if rec.proposed is not None:
        p = rec.proposed
        out["proposed"] = {"lower": _price(p.lower), "upper": _price(p.upper), "levels": int(p.levels),
                           "mode": p.mode.value, "allocation": _num(p.allocation, 6)}
    return out


def _gates(step: Any) -> dict[str, Any] | None:
    if step is None:
        return None
    ev = step.evaluation
    current = next((g for g in ev.gates if g.evaluated), None)
    return {
        "phase": step.state.phase.value,
        "readiness": _num(step.readiness, 4),
        "hours_stopped": ev.hours_stopped,
        "time_floor_hours_left": int(ev.time_floor_hours_left),
        "grid_permitted": bool(ev.grid_permitted),
        "current_gate": None if current is None else {
            "gate": int(current.gate), "name": current.name, "status": current.status,
            "hold": int(current.hold), "hold_required": int(current.hold_required),
            "failing": [c.name for c in current.conditions if not c.passed],
        },
        "stops": int(step.state.stops), "restarts": int(step.state.restarts),
    }


def _data_quality(result: Any, notes: list[str]) -> dict[str, Any]:
    dq = result.data_quality
    out: dict[str, Any] = {}
    if dq is not None:
        out = {"hourly_bars": int(dq.hourly_bars), "hourly_gaps": int(dq.hourly_gaps),
               "minute_bars": int(dq.minute_bars), "rank_window_full": bool(dq.rank_window_full),
               "confidence_factor": _num(dq.confidence_factor, 4)}
    all_notes = list(dq.warnings) if dq is not None else []
    if result.status != "ok" and result.reason:
        all_notes.append(str(result.reason))
    all_notes.extend(n for n in notes if n not in all_notes)
    out["notes"] = all_notes
    return out


def build_summary(result: Any, *, step: Any = None, grid_before: Any = None, comparison: Any = None,
                  files: dict[str, str], source: str, collected_at: datetime | None,
                  notes: list[str] | None = None) -> dict[str, Any]:
    """The summary document of one analysed hour, keys in :data:`SUMMARY_KEYS` order.

    Parameters
    ----------
    result : RegimeResult
        The analysis, as stored in the hour's ``_regime.json``.
    step : SupervisorStep, optional
        The grid supervisor's step on this hour (None when the supervisor did not step).
    grid_before : GridConfig, optional
        The grid in place during the hour (before the step), described with ``comparison``.
    files : dict
        The hour's files, relative to the store root.
    notes : list of str, optional
        Data-quality notes of the collection itself (e.g. where the history came from).
    """
    verdict = result.verdict.value if result.verdict is not None else None
    doc = {
        "summary_format": SUMMARY_FORMAT,
        "symbol": result.symbol,
        "hour": iso_z(result.hour),
        "status": result.status,
        "reason": result.reason,
        "verdict": verdict,
        "direction": int(result.direction),
        "confidence": _num(result.confidence, 4),
        "grid_start_ok": bool(getattr(result, "grid_start_ok", False)),
        "price": _price(result.price),
        "atr": _price(result.atr),
        "range": _range(result),
        "scores": _scores(result),
        "grid": _grid(grid_before if step is None else step.grid, comparison),
        "recommendation": _recommendation(step),
        "gates": _gates(step),
        "events": [] if step is None else [e.kind for e in step.events],
        "data_quality": _data_quality(result, notes or []),
        "files": dict(files),
        "source": source,
        "collected_at": None if collected_at is None else iso_z(collected_at),
        "config_hash": result.config_hash,
        "engine_version": result.engine_version,
    }
    assert tuple(doc) == SUMMARY_KEYS
    return doc


_PLAIN_KEY = re.compile(r"^[a-z_][a-z0-9_]*$")
_RESERVED = frozenset({"y", "n", "yes", "no", "on", "off", "true", "false", "null"})  # YAML 1.1 words


def _scalar(value: Any) -> str:
    """One scalar as YAML that every YAML 1.1/1.2 loader reads back as the same value."""
    if value is None:
        return "null"
    if value is True:
        return "true"
    if value is False:
        return "false"
    if isinstance(value, int):
        return str(value)
    if isinstance(value, float):
        if not math.isfinite(value):
            raise InvalidParameterError(f"summary: non-finite number {value!r}; expected None instead")
        text = repr(value)
        mantissa, e, exponent = text.partition("e")
        if "." not in mantissa:  # YAML 1.1 needs a dot: 1e-05 would be read as a string
            mantissa += ".0"
        return mantissa + (("e" + (exponent if exponent[0] in "+-" else "+" + exponent)) if e else "")
    if isinstance(value, str):
        return _quote(value)
    raise InvalidParameterError(f"summary: cannot write a {type(value).__name__} value")


# characters a YAML stream may not hold raw (or that YAML reads as line breaks): written as escapes
_UNSAFE = re.compile("[\x7f-\x9f\u2028\u2029\ud800-\udfff\ufeff\ufffe\uffff]")


def _quote(text: str) -> str:
    """A JSON string (a YAML double-quoted scalar), with YAML's unsafe characters escaped too."""
    return _UNSAFE.sub(lambda m: f"\\u{ord(m.group()):04x}", json.dumps(text, ensure_ascii=False))


def _key(key: Any) -> str:
    if not isinstance(key, str):
        raise InvalidParameterError(f"summary: keys must be strings, got {key!r}")
    plain = _PLAIN_KEY.match(key) and key not in _RESERVED
    return key if plain else _quote(key)


def _emit(value: Any, indent: str, out: list[str]) -> None:
    if isinstance(value, dict):
        for k, v in value.items():
            if isinstance(v, dict) and v or isinstance(v, (list, tuple)) and v:
                out.append(f"{indent}{_key(k)}:")
                _emit(v, indent + "  ", out)
            else:
                out.append(f"{indent}{_key(k)}: {_flow_empty(v)}")
    else:
        for v in value:
            if isinstance(v, (dict, list, tuple)) and v:
                raise InvalidParameterError("summary: lists hold scalars only")
            out.append(f"{indent}- {_flow_empty(v)}")


def _flow_empty(value: Any) -> str:
    if isinstance(value, dict):
        return "{}"
    if isinstance(value, (list, tuple)):
        return "[]"
    return _scalar(value)


def dump_summary(doc: dict[str, Any]) -> str:
    """YAML text of a summary: block style, keys in the document's order, UTF-8.

    A small emitter for the summary's shape (mappings, lists of scalars, scalars): strings are
    double-quoted (JSON escapes), floats keep a dot so YAML 1.1 loaders read them as floats. The
    tests load its output with PyYAML and compare it with the document.
    """
    out: list[str] = []
    _emit(doc, "", out)
    return "\n".join(out) + "\n"


def load_summary(text: str | bytes, *, path: object = "summary") -> dict[str, Any]:
    """Parse a summary written by :func:`dump_summary` (safe loader); errors name ``path``."""
    try:
        doc = yaml.load(text, Loader=_Loader)
    except yaml.YAMLError as exc:
        raise InvalidParameterError(f"{path}: not valid YAML ({exc})") from None
    if not isinstance(doc, dict) or doc.get("summary_format") != SUMMARY_FORMAT:
        raise InvalidParameterError(f"{path}: expected a summary with summary_format {SUMMARY_FORMAT}")
    return doc
