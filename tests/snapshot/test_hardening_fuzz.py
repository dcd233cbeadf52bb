"""Fuzz: random byte-level mutations of valid snapshot files never raise anything but the
package's own errors, and never hang (every call runs under a time limit).

The default suite runs a few hundred examples; the named slow job (``task test:fuzz``, or
``pytest -m slow tests/snapshot/test_hardening_fuzz.py``) runs 2,500.
"""
from __future__ import annotations

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from gridregime.errors import GridRegimeError
from gridregime.snapshot import SnapshotReader, market_path, read_market_file
from gridregime.snapshot.audit import audit_store
from tests.limits import time_limit
from tests.snapshot.fixtures import build_store

SYMBOL = "BTC-USDT"
TIME_LIMIT_S = 20




@pytest.fixture(scope="module")
def fuzz_store(tmp_path_factory):
    root = tmp_path_factory.mktemp("fuzz")
    hours = build_store(root, count=3, history_hours=8)
    originals = {(tf, h): market_path(root, SYMBOL, tf, h).read_bytes() for tf in ("1m", "1h") for h in hours}
    return root, hours, originals


_TOKENS = [b"-", b"0", b"9", b".", b"e", b"E", b"+", b",", b"[", b"]", b"{", b"}", b'"', b":", b" ", b"\n",
           b"\x00", b"\xff", b"\xef\xbb\xbf", b"null", b"true", b"NaN", b"Infinity", b"1e308", b"1e999",
           b"-1", b"99999999999999999999", b'"ts"', b'"bars"', b'"metadata"', b'"1m"', b'"1h"']

mutation = st.one_of(
    st.tuples(st.just("flip"), st.integers(0, 1 << 30), st.integers(1, 255)),
    st.tuples(st.just("insert"), st.integers(0, 1 << 30), st.sampled_from(_TOKENS)),
    st.tuples(st.just("replace"), st.integers(0, 1 << 30), st.sampled_from(_TOKENS)),
    st.tuples(st.just("delete"), st.integers(0, 1 << 30), st.integers(1, 64)),
    st.tuples(st.just("truncate"), st.integers(0, 1 << 30), st.just(0)),
    st.tuples(st.just("duplicate"), st.integers(0, 1 << 30), st.integers(1, 200)),
    st.tuples(st.just("digit"), st.integers(0, 1 << 30), st.integers(0, 9)),
)


def mutate(data: bytes, ops) -> bytes:
    buf = bytearray(data)
    for kind, pos, arg in ops:
        if not buf:
            buf = bytearray(b"{")
        i = pos % len(buf)
        if kind == "flip":
            buf[i] ^= arg
        elif kind == "insert":
            buf[i:i] = arg
        elif kind == "replace":
            buf[i:i + len(arg)] = arg
        elif kind == "delete":
            del buf[i:i + arg]
        elif kind == "truncate":
            del buf[i:]
        elif kind == "duplicate":
            buf[i:i] = buf[i:i + arg]
        elif kind == "digit":  # change a digit: the kind of edit that stays valid JSON
            digits = [k for k in range(i, len(buf)) if 48 <= buf[k] <= 57] or \
                     [k for k in range(len(buf)) if 48 <= buf[k] <= 57]
            if digits:
                buf[digits[0]] = 48 + arg
    return bytes(buf)


def _exercise(root, hours, target_tf, target_hour):
    """Every read path over the store: one file, one hour, the bulk range (with the history
    checks), the audit of validate. Only the package's own errors may escape."""
    path = market_path(root, SYMBOL, target_tf, target_hour)
    with time_limit(TIME_LIMIT_S):
        try:
            read_market_file(path, symbol=SYMBOL, timeframe=target_tf, hour=target_hour)
        except GridRegimeError:
            pass
        reader = SnapshotReader(root)
        try:
            reader.load_snapshot(SYMBOL, target_hour)
        except GridRegimeError:
            pass
        loaded = reader.load_range(SYMBOL, hours[0], hours[-1], history_hours=8)
        assert set(loaded.hours) | {p.hour for p in loaded.problems} == set(hours)
        audit_store(root)


def _check(fuzz_store, which, ops):
    root, hours, originals = fuzz_store
    tf, k = which
    hour = hours[k]
    path = market_path(root, SYMBOL, tf, hour)
    path.write_bytes(mutate(originals[(tf, hour)], ops))
    try:
        _exercise(root, hours, tf, hour)
    finally:
        path.write_bytes(originals[(tf, hour)])


targets = st.tuples(st.sampled_from(["1m", "1h"]), st.integers(0, 2))
FUZZ_SETTINGS = {"deadline": None,
                 "suppress_health_check": [HealthCheck.function_scoped_fixture, HealthCheck.too_slow]}


@given(which=targets, ops=st.lists(mutation, min_size=1, max_size=4))
@settings(max_examples=300, **FUZZ_SETTINGS)
def test_fuzz_mutated_snapshot_files_raise_only_package_errors(fuzz_store, which, ops):
    _check(fuzz_store, which, ops)


@pytest.mark.slow
@given(which=targets, ops=st.lists(mutation, min_size=1, max_size=8))
@settings(max_examples=2500, **FUZZ_SETTINGS)
def test_fuzz_slow_mutated_snapshot_files_raise_only_package_errors(fuzz_store, which, ops):
    _check(fuzz_store, which, ops)


def test_fuzz_store_is_restored_after_examples(fuzz_store):
    root, _, originals = fuzz_store
    assert all(market_path(root, SYMBOL, tf, h).read_bytes() == data for (tf, h), data in originals.items())
    assert audit_store(root).ok
