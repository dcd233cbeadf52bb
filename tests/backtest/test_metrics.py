"""Backtest figures against hand-computed values, and the day-block bootstrap."""
from __future__ import annotations

import math
from datetime import UTC, datetime, timedelta

import numpy as np
import pytest

from gridregime.backtest import bootstrap as B
from gridregime.backtest import metrics as M


def test_max_drawdown_and_equity_metrics_by_hand():
    eq = np.array([110.0, 99.0, 121.0, 96.8])  # from a budget of 100
    assert M.max_drawdown(np.r_[100.0, eq]) == pytest.approx(0.2)  # 121 -> 96.8
    m = M.equity_metrics(eq, 100.0)
    assert m["return"] == pytest.approx(-0.032)
    assert m["max_drawdown"] == pytest.approx(0.2)
    assert m["return_over_drawdown"] == pytest.approx(-0.16)
    r = np.array([0.1, -0.1, 121 / 99 - 1, -0.2])
    assert m["sharpe"] == pytest.approx(r.mean() / r.std() * math.sqrt(8760))
    assert m["sortino"] == pytest.approx(r.mean() / math.sqrt((0.01 + 0.04) / 4) * math.sqrt(8760))
    assert m["profit_factor"] == pytest.approx((10 + 22) / (11 + 24.2))
    flat = M.equity_metrics(np.full(5, 100.0), 100.0)
    assert flat["return"] == 0 and flat["max_drawdown"] == 0 and flat["return_over_drawdown"] is None


def test_forward_hold_move_and_volatility_by_hand():
    n, h = 8, 2
    close = np.array([10.0, 10.5, 10.2, 11.5, 11.0, 11.2, 10.8, 10.9])
    high, low = close + 0.1, close - 0.1
    present = np.ones(n, dtype=bool)
    lower, upper = np.full(n, 9.5), np.full(n, 11.0)
    atr = np.full(n, 0.5)
    f = M.forward_stats(high, low, close, present, lower, upper, atr, horizon=h)
    # t=0: next highs 10.6, 10.3 <= 11 -> held; t=1: 11.6 > 11 -> broken
    assert f["hold"][0] == 1.0 and f["hold"][1] == 0.0
    assert np.isnan(f["hold"][n - h:]).all()  # no full horizon after them
    assert f["abs_move_atr"][0] == pytest.approx(0.2 / 0.5)
    lr = np.diff(np.log(close))
    assert np.isnan(f["rv_ratio"][1])  # needs h past returns: t - h + 1 >= 1
    assert f["rv_ratio"][2] == pytest.approx(np.std(lr[2:4]) / np.std(lr[0:2]))
    # the change of realised volatility is the size of its log ratio: halving and doubling are equal
    assert f["rv_change"][2] == pytest.approx(abs(np.log(np.std(lr[2:4]) / np.std(lr[0:2]))))
    assert np.array_equal(np.isnan(f["rv_change"]), np.isnan(f["rv_ratio"]))
    gap = present.copy()
    gap[3] = False
    g = M.forward_stats(high, low, close, gap, lower, upper, atr, horizon=h)
    assert np.isnan(g["hold"][1]) and np.isnan(g["hold"][2]) and np.isnan(g["hold"][3])


def test_per_verdict_means_and_counts():
    stats = {"hold": np.array([1.0, 0.0, np.nan, 1.0, 1.0])}
    out = M.per_verdict(["RANGE_OK", "RANGE_OK", "TREND", None, "TREND"], stats)
    assert out["RANGE_OK"] == {"hours": 2, "hold": 0.5, "hold_n": 2}
    assert out["TREND"] == {"hours": 2, "hold": 1.0, "hold_n": 1}
    assert out["ALL"]["hours"] == 4 and out["ALL"]["hold"] == pytest.approx(2 / 3)


def test_verdict_process_counts_transitions_and_durations():
    v = ["RANGE_OK", "RANGE_OK", "TREND", "TREND", "TREND", None, "TREND", "RANGE_OK"]
    p = M.verdict_process(v)
    assert p["counts"] == {"RANGE_OK": 3, "RANGE_WEAK": 0, "TREND": 4, "TRANSITION": 0}
    assert p["transitions"]["RANGE_OK"]["TREND"] == 1 and p["transitions"]["TREND"]["TREND"] == 2
    assert p["transitions"]["TREND"]["RANGE_OK"] == 1  # across the gap: not counted, only 6 -> 7
    assert p["mean_duration_hours"]["TREND"] == pytest.approx(2.0)  # runs of 3 and 1
    assert p["mean_duration_hours"]["RANGE_OK"] == pytest.approx(1.5)


def test_stop_stats_false_stops_and_retriggers():
    t0 = datetime(2025, 1, 1, tzinfo=UTC)
    hours = [t0 + timedelta(hours=k) for k in range(40)]
    index = {h: k for k, h in enumerate(hours)}
    close = np.full(40, 100.0)
    high, low, present = close + 1, close - 1, np.ones(40, dtype=bool)
    rows = [{"hour": hours[2], "events": "restart", "grid_lower": 95.0, "grid_upper": 105.0},
            {"hour": hours[5], "events": "stop", "grid_lower": 95.0, "grid_upper": 105.0},   # inside after: false
            {"hour": hours[10], "events": "stop", "grid_lower": 100.5, "grid_upper": 105.0},  # lows below: real
            {"hour": hours[30], "events": "stop", "grid_lower": 1.0, "grid_upper": 2.0}]     # too late to measure
    s = M.stop_stats(rows, index, high, low, present, horizon=24)
    assert s["stops"] == 3 and s["restarts"] == 1
    assert s["false_stops"] == 1 and s["false_stops_measurable"] == 2
    assert s["retriggers"] == 2  # stops at +3 h and +8 h after the restart; +28 h is not


def test_label_accuracy_confusion_and_costly_shares():
    v = ["RANGE_OK", "TREND", "RANGE_OK", "TRANSITION", "RANGE_WEAK", "TREND"]
    lab = ["range", "range", "trend_up", "transition", "range", "trend_down"]
    a = M.label_accuracy(v, lab)
    assert a["confusion"]["range"] == {"RANGE_OK": 1, "RANGE_WEAK": 1, "TREND": 1, "TRANSITION": 0}
    assert a["recall"]["range"] == pytest.approx(2 / 3) and a["recall"]["trend"] == 0.5
    assert a["trend_called_range_ok"] == 0.5 and a["range_called_trend"] == pytest.approx(1 / 3)
    assert a["transition_called_range_ok"] == 0.0


def test_bootstrap_is_deterministic_and_brackets_the_estimate():
    rng = np.random.default_rng(3)
    day = np.repeat(np.arange(60), 24)
    a = rng.normal(0.001, 0.01, day.size)
    b = rng.normal(0.0, 0.01, day.size)
    _, sums = B.block_sums(day, a, np.ones(day.size), b)
    assert sums.shape == (60, 3) and sums[:, 1].sum() == day.size
    one = B.interval(sums, B.mean_difference, seed=5, resamples=500)
    two = B.interval(sums, B.mean_difference, seed=5, resamples=500)
    other = B.interval(sums, B.mean_difference, seed=6, resamples=500)
    assert one == two and one != other
    assert one["estimate"] == pytest.approx((a.sum() - b.sum()) / day.size)
    assert one["low"] < one["estimate"] < one["high"] and one["days"] == 60


def test_bootstrap_interval_covers_the_truth_about_as_often_as_it_says():
    # 60 days of independent daily effects: the 90 % interval should cover the true mean ~90 % of the time
    covered = 0
    for seed in range(200):
        rng = np.random.default_rng(seed)
        x = rng.normal(1.0, 2.0, 60)
        _, sums = B.block_sums(np.arange(60), x, np.ones(60), np.zeros(60))
        iv = B.interval(sums, B.mean_difference, seed=seed, resamples=400)
        covered += iv["low"] <= 1.0 <= iv["high"]
    assert 0.80 <= covered / 200 <= 0.97


def test_ratio_difference():
    assert B.ratio_difference(np.array([3.0, 4.0, 1.0, 2.0])) == pytest.approx(0.25)
    assert math.isnan(B.ratio_difference(np.array([1.0, 0.0, 1.0, 2.0])))


def test_label_accuracy_leaves_out_the_hours_right_after_a_label_change():
    labels = ["range"] * 5 + ["trend_up"] * 5
    verdicts = ["RANGE_OK"] * 5 + ["RANGE_OK", "RANGE_OK", "TREND", "TREND", "TREND"]
    a = M.label_accuracy(verdicts, labels, settle=2)
    # range: hours 2-4 counted (0-1 follow the start); trend: hours 7-9 counted (5-6 follow the change)
    assert a["confusion"]["range"]["RANGE_OK"] == 3 and a["confusion"]["trend"]["TREND"] == 3
    assert a["confusion"]["trend"]["RANGE_OK"] == 0 and a["trend_called_range_ok"] == 0.0
    assert (a["hours"], a["settled_hours"]) == (10, 6)
    # trend_up -> trend_down is no change of family
    b = M.label_accuracy(["TREND"] * 4, ["trend_up", "trend_up", "trend_down", "trend_down"], settle=1)
    assert b["settled_hours"] == 3
