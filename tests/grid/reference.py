"""A slow, independent re-statement of the SPEC §8 gate rules, for comparison with the machine.

Written from the rules (module docstring of gridregime.grid.gates), not from the code: it keeps the
whole bar history in lists and recomputes every condition from scratch on each bar.
"""
from __future__ import annotations

import math


def gate1_ok(bars, i, cfg):
    b = bars[i]
    n = cfg["adx_falling_bars"]
    window = [x.adx for x in bars[max(0, i - n + 1): i + 1]]
    falling = (len(window) == n and all(math.isfinite(v) for v in window)
               and all(window[k + 1] < window[k] for k in range(n - 1)))
    return b.trend_score < cfg["gate1_trend_max"] and falling and b.verdict not in (None, "TREND")


def gate2_ok(bars, i, cfg):
    b = bars[i]
    n = cfg["gate2_range_bars"]
    window = [x.hour_range_atr for x in bars[max(0, i - n + 1): i + 1]]
    calm = len(window) == n and all(math.isfinite(v) and v <= cfg["gate2_bar_range_atr_max"] for v in window)
    return b.vol_change_score < cfg["gate2_vol_change_max"] and b.atr_rank < cfg["gate2_atr_rank_max"] and calm


def gate3_ok(bars, i, cfg):
    b = bars[i]
    inside = (math.isfinite(b.range_lower) and math.isfinite(b.range_upper) and b.range_lower < b.range_upper
              and b.range_lower <= b.price <= b.range_upper)
    return (b.range_quality_score >= cfg["gate3_range_quality_min"] and b.mean_rev_score >= cfg["gate3_mean_rev_min"]
            and bool(b.grid_capacity_ok) and inside)


CHECKS = {1: gate1_ok, 2: gate2_ok, 3: gate3_ok}


def reference_run(bars, cfg, stop_at=(), restart_when_ready=False):
    """Phases after each bar. ``stop_at``: bar indexes where an ACTIVE grid is stopped (after that
    bar's evaluation). With ``restart_when_ready`` a READY state restarts right after its bar.

    Returns a list of dicts per bar: phase, hold, passed (gate number or None), stopped_index.
    """
    phase, hold, g3, stopped = "ACTIVE", 0, 0, None
    out = []
    for i, b in enumerate(bars):
        passed = None
        if phase == "STOPPED":
            phase, hold = "GATE_1", 0
        if phase in ("GATE_2", "GATE_3", "READY") and b.verdict == "TREND":
            phase, hold, g3 = "GATE_1", 0, 0
        if phase.startswith("GATE_"):
            gate = int(phase[-1])
            ok = CHECKS[gate](bars, i, cfg)
            hold = hold + 1 if ok else 0
            floor = (i - stopped) >= cfg["min_hours_stopped"]
            if ok and hold >= cfg["gate_hold_bars"] and floor:
                phase = "READY" if gate == 3 else f"GATE_{gate + 1}"
                hold, g3, passed = 0, 0, gate
            elif gate == 3:
                g3 += 1
                if g3 >= cfg["gate3_max_bars"]:
                    phase, hold, g3 = "GATE_2", 0, 0
        elif phase == "READY" and not gate3_ok(bars, i, cfg):
            phase, hold, g3 = "GATE_3", 0, 0
        out.append({"phase": phase, "hold": hold, "passed": passed, "stopped_index": stopped})
        if phase == "ACTIVE" and i in stop_at:
            phase, stopped, hold, g3 = "STOPPED", i, 0, 0
            out[-1] = {**out[-1], "phase": "STOPPED", "stopped_index": i}
        elif phase == "READY" and restart_when_ready:
            phase, stopped = "ACTIVE", None
            out[-1] = {**out[-1], "phase": "ACTIVE", "stopped_index": None}
    return out
