"""The hierarchical verdict: each step with hand-built scores, the step order, and properties."""
from __future__ import annotations

import operator

from hypothesis import given, strategies as st

from gridregime.analysis.classifier import ClassifierInputs, classify, competing_verdicts, verdict_from_factors
from gridregime.analysis.confidence import (
    confidence, data_quality_factor, deciding_margin, margin_confidence,
)
from gridregime.analysis.result import Verdict
from gridregime.config import RegimeConfig

CFG = RegimeConfig()


def inputs(trend=20.0, mean_rev=80.0, vol_change=20.0, range_quality=90.0, grid_capacity=10, streak=0,
           direction=1, history=None, room=5.0):
    return ClassifierInputs(trend, mean_rev, vol_change, range_quality, grid_capacity, streak, direction,
                            tuple(history if history is not None else (trend,)), room)


def test_step1_low_range_quality_is_range_weak():
    v, f = classify(inputs(range_quality=29.9))
    assert v is Verdict.RANGE_WEAK and len(f) == 1 and f[0].step == 1 and f[0].passed


def test_step2_volatility_change_is_transition():
    v, f = classify(inputs(vol_change=CFG.transition_above + 0.1))
    assert v is Verdict.TRANSITION and [x.step for x in f] == [1, 2]
    v, _ = classify(inputs(vol_change=CFG.transition_above))  # strictly greater
    assert v is not Verdict.TRANSITION


def test_step3_trend_needs_confirmation():
    v, f = classify(inputs(trend=85, streak=1, history=(60, 85)))
    assert v is not Verdict.TREND
    v, f = classify(inputs(trend=85, streak=2, history=(80, 85)))
    assert v is Verdict.TREND and f[-1].step == 3 and f[-1].value == 2


def test_step4_range_ok_and_weak():
    assert classify(inputs(range_quality=60, mean_rev=CFG.range_ok_meanrev))[0] is Verdict.RANGE_OK
    assert classify(inputs(range_quality=59.9))[0] is Verdict.RANGE_WEAK
    assert classify(inputs(mean_rev=CFG.range_ok_meanrev - 0.1))[0] is Verdict.RANGE_WEAK


def test_step5_capacity_safety():
    v, f = classify(inputs(grid_capacity=4))
    assert v is Verdict.RANGE_WEAK and f[-1].step == 5
    assert classify(inputs(grid_capacity=5))[0] is Verdict.RANGE_OK


def test_optional_room_check():
    room_cfg = RegimeConfig(range_ok_min_room_atr=2.0)
    assert classify(inputs(room=0.5))[0] is Verdict.RANGE_OK  # off by default
    v, f = classify(inputs(room=1.9), room_cfg)
    assert v is Verdict.RANGE_WEAK and f[-1].check == "price_room" and f[-1].step == 5
    v, f = classify(inputs(room=2.0), room_cfg)
    assert v is Verdict.RANGE_OK and [x.check for x in f][-2:] == ["grid_capacity", "price_room"]
    assert classify(inputs(room=3, grid_capacity=2), room_cfg)[0] is Verdict.RANGE_WEAK


def test_step_order_low_range_quality_beats_everything():
    v, f = classify(inputs(range_quality=10, vol_change=99, trend=99, streak=5, history=(99, 99)))
    assert v is Verdict.RANGE_WEAK and len(f) == 1


def test_step_order_transition_beats_trend():
    v, _ = classify(inputs(vol_change=99, trend=99, streak=5, history=(99, 99)))
    assert v is Verdict.TRANSITION


def test_step_order_trend_beats_range_ok():
    v, _ = classify(inputs(trend=99, streak=3, history=(99, 99), mean_rev=100, range_quality=100))
    assert v is Verdict.TREND


def test_spec_thresholds_can_be_restored():
    spec = RegimeConfig(transition_above=70, range_ok_meanrev=50)
    assert classify(inputs(vol_change=71), spec)[0] is Verdict.TRANSITION
    assert classify(inputs(mean_rev=49), spec)[0] is Verdict.RANGE_WEAK


score = st.floats(0, 100, allow_nan=False)
classifier_inputs = st.builds(
    lambda t, m, v, r, cap, streak, d, prev, room: inputs(t, m, v, r, cap, streak, d, (prev, t), room),
    score, score, score, score, st.integers(0, 60), st.integers(0, 6), st.sampled_from([-1, 0, 1]), score,
    st.floats(-1, 20),
)
configs = st.sampled_from([CFG, RegimeConfig(range_ok_min_room_atr=1.5),
                           RegimeConfig(transition_above=70, range_ok_meanrev=50)])

OPS = {"<": operator.lt, "<=": operator.le, ">": operator.gt, ">=": operator.ge}


def _reference_verdict(x: ClassifierInputs, c: RegimeConfig) -> Verdict:
    """§5 written out as plain ifs."""
    if x.range_quality < c.range_weak_below:
        return Verdict.RANGE_WEAK
    if x.vol_change > c.transition_above:
        return Verdict.TRANSITION
    if x.trend_streak >= c.trend_confirm_bars:
        return Verdict.TREND
    if x.range_quality >= c.range_ok_quality and x.mean_rev >= c.range_ok_meanrev:
        if x.grid_capacity < c.min_grid_levels:
            return Verdict.RANGE_WEAK
        if c.range_ok_min_room_atr > 0 and not x.room_atr >= c.range_ok_min_room_atr:
            return Verdict.RANGE_WEAK
        return Verdict.RANGE_OK
    return Verdict.RANGE_WEAK


@given(classifier_inputs, configs)
def test_verdict_matches_plain_reference(x, cfg):
    assert classify(x, cfg)[0] is _reference_verdict(x, cfg)


@given(classifier_inputs, configs)
def test_decision_factors_reproduce_the_verdict(x, cfg):
    v, factors = classify(x, cfg)
    assert verdict_from_factors(factors) is v
    steps = [f.step for f in factors]
    assert steps == sorted(steps) and steps[0] == 1
    for f in factors:  # every stored comparison is what its numbers say
        assert OPS[f.operator](f.value, f.threshold) == f.passed
        assert 0.0 <= f.margin <= 1.0
    # every check before the last one let the hierarchy continue
    assert all(f.outcome is None for f in factors[:-1]) and factors[-1].outcome is v


@given(classifier_inputs, configs)
def test_competing_verdicts_exclude_primary_and_cover_the_rest(x, cfg):
    v, factors = classify(x, cfg)
    comp = competing_verdicts(v, factors, x)
    assert v not in {c.verdict for c in comp}
    assert {c.verdict for c in comp} | {v} == set(Verdict) and len(comp) == 3
    assert [c.support for c in comp] == sorted((c.support for c in comp), reverse=True)
    for c in comp:
        assert 0 <= c.support <= 100 and 1 <= c.ruled_out_at_step <= factors[-1].step


@given(classifier_inputs, st.floats(0, 1), st.integers(0, 60), st.integers(0, 50))
def test_confidence_in_unit_interval(x, fill, missing, gaps):
    _, factors = classify(x)
    c = confidence(factors, data_quality_factor(fill, missing, gaps))
    assert 0.0 <= c <= 1.0


@given(st.floats(-1, 2), st.floats(-1, 2))
def test_confidence_non_decreasing_in_margin(a, b):
    lo, hi = sorted((a, b))
    assert margin_confidence(lo) <= margin_confidence(hi)
    assert 0.5 <= margin_confidence(lo) <= 1.0


@given(score, score)
def test_confidence_non_decreasing_in_deciding_margin_through_classifier(a, b):
    # TRANSITION decided at step 2: moving vol_change further above the threshold never lowers it
    lo, hi = sorted((a, b))
    lo_vc, hi_vc = 90.01 + lo * 0.0999, 90.01 + hi * 0.0999
    _, f_lo = classify(inputs(vol_change=lo_vc, range_quality=100))
    _, f_hi = classify(inputs(vol_change=hi_vc, range_quality=100))
    assert deciding_margin(f_lo) <= deciding_margin(f_hi)
    assert confidence(f_lo, 1.0) <= confidence(f_hi, 1.0)


@given(st.floats(0, 1), st.floats(0, 1), st.integers(0, 60), st.integers(0, 60), st.integers(0, 100),
       st.integers(0, 100))
def test_missing_data_never_raises_confidence(f1, f2, m1, m2, g1, g2):
    # more missing data on every axis (lower fill, more missing minutes, more gaps) → factor not higher
    worse = data_quality_factor(min(f1, f2), max(m1, m2), max(g1, g2))
    better = data_quality_factor(max(f1, f2), min(m1, m2), min(g1, g2))
    assert worse <= better <= 1.0
    assert data_quality_factor(1.0, 0, 0) == 1.0
