"""The compiled list → column converters of the snapshot reader, against a plain-Python twin."""
from __future__ import annotations

import math

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from gridregime._libs.columns import float64_column, int64_column

INT64 = st.integers(min_value=-(2**63), max_value=2**63 - 1)
# What a decoded JSON array may hold: ints, floats (orjson never yields NaN/inf, a hand-made list may),
# bools, strings, None, nested lists.
ANY = st.one_of(INT64, st.floats(allow_nan=True, allow_infinity=True), st.booleans(), st.text(max_size=3),
                st.none(), st.lists(st.integers(), max_size=2))


def twin_int(values):
    for i, v in enumerate(values):
        if type(v) is not int:
            return i
    return -1


def twin_float(values):
    for i, v in enumerate(values):
        if type(v) not in (int, float) or not math.isfinite(v):
            return i
    return -1


@given(st.lists(INT64, max_size=50))
def test_int64_good_lists_convert_exactly(values):
    arr, bad = int64_column(values)
    assert bad == -1
    assert arr.dtype == np.int64 and arr.tolist() == values


@given(st.lists(ANY, max_size=30))
def test_int64_first_bad_index_matches_twin(values):
    arr, bad = int64_column(values)
    assert bad == twin_int(values)
    if bad == -1:
        assert arr.tolist() == values


@given(st.lists(st.one_of(INT64, st.floats(allow_nan=False, allow_infinity=False)), max_size=50))
def test_float64_good_lists_convert_like_float(values):
    arr, bad = float64_column(values)
    assert bad == -1
    assert arr.dtype == np.float64
    assert arr.tolist() == [float(v) for v in values]


@given(st.lists(ANY, max_size=30))
def test_float64_first_bad_index_matches_twin(values):
    arr, bad = float64_column(values)
    assert bad == twin_float(values)


def test_bool_is_not_an_integer_or_a_number():
    # bool subclasses int: np.array([1, True], dtype=np.int64) would take it as 1
    assert int64_column([1, True])[1] == 1
    assert float64_column([1.0, False])[1] == 1


def test_float_is_not_an_integer():
    # np.array([1, 1.5], dtype=np.int64) would truncate 1.5 to 1
    assert int64_column([1, 1.5])[1] == 1
    assert int64_column([1, 2.0])[1] == 1


def test_out_of_range_integers_raise_overflow():
    with pytest.raises(OverflowError):
        int64_column([0, 2**63])
    with pytest.raises(OverflowError):
        float64_column([0, 10**400])


def test_empty_lists():
    for fn in (int64_column, float64_column):
        arr, bad = fn([])
        assert bad == -1 and arr.size == 0


def test_only_lists_are_accepted():
    with pytest.raises(TypeError):
        int64_column((1, 2))
