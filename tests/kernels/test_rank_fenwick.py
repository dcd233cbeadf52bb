"""The Fenwick tree of csrc/gridregime/fenwick.h on its own, against numpy prefix sums."""
from __future__ import annotations

import numpy as np
from hypothesis import given
from hypothesis import strategies as st

from gridregime._libs.rank import _FenwickCounts


@given(
    counts=st.lists(st.integers(0, 5), min_size=1, max_size=70),
    updates=st.lists(st.tuples(st.integers(0, 69), st.integers(-3, 3)), max_size=40),
)
def test_fenwick_prefix_and_search_match_cumsum(counts, updates):
    plain = np.array(counts, dtype=np.int64)
    tree = _FenwickCounts(plain)
    for index, delta in updates:
        index %= len(plain)
        delta = max(delta, -int(plain[index]))  # counts never go negative
        plain[index] += delta
        tree.add(index + 1, delta)
    cumulative = np.cumsum(plain)
    assert [tree.prefix(i) for i in range(len(plain) + 1)] == [0, *cumulative.tolist()]
    for k in range(1, int(cumulative[-1]) + 1):
        position = int(np.searchsorted(cumulative, k)) + 1  # first 1-based i with prefix(i) >= k
        before = int(cumulative[position - 2]) if position > 1 else 0
        assert tree.search(k) == (position, k - before)
    assert tree.search(int(cumulative[-1]) + 1)[0] == len(plain) + 1
