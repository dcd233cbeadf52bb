"""The compiled many-hour range discovery equals the per-window NumPy path, candidate for candidate.

Property 75 compares the batch and one-hour paths, which now share the compiled code; this test
keeps the compiled code tied to ``discover_ranges`` (itself checked against the slow reference)."""
from __future__ import annotations

from datetime import UTC, datetime, timedelta

import numpy as np
import pyarrow.parquet as pq
from hypothesis import given
from hypothesis import strategies as st

from gridregime.analysis import features as F
from gridregime.analysis import ranges as R
from gridregime.collect import SyntheticSource
from gridregime.config import RegimeConfig


def _check(cols: dict[str, np.ndarray], cfg: RegimeConfig) -> int:
    feats = F.compute_features(cols["high"], cols["low"], cols["close"], cfg)
    lo_b, hi_b = R.percentile_bands(cols["close"], cfg)
    n = cols["close"].size
    atr = feats["atr"]
    fast = R.discover_ranges_at(cols["high"], cols["low"], cols["close"], cols["volume"], np.arange(n), atr,
                                lo_b, hi_b, cfg)
    checked = 0
    for i in range(n):
        lo = max(0, i - cfg.range_lookback + 1)
        try:
            slow = R.discover_ranges(cols["high"][lo:i + 1], cols["low"][lo:i + 1], cols["close"][lo:i + 1],
                                     cols["volume"][lo:i + 1], float(atr[i]), cfg,
                                     percentile=(float(lo_b[i]), float(hi_b[i])))
        except (ValueError, ArithmeticError) as exc:
            slow = exc
        if fast[i] is None:  # the compiled path hands these back to the checked per-window path
            assert isinstance(slow, Exception) or not np.isfinite(atr[i]), (i, slow)
            continue
        assert not isinstance(slow, Exception), (i, slow)
        assert [c.to_dict() for c in fast[i]] == [c.to_dict() for c in slow], i
        checked += 1
    return checked


def _arrays(high, low, close, volume):
    return {k: np.ascontiguousarray(v, dtype=np.float64)
            for k, v in (("high", high), ("low", low), ("close", close), ("volume", volume))}


@given(seed=st.integers(0, 2**32 - 1), decimals=st.sampled_from([0, 1, 3]), zero_share=st.sampled_from([0.0, 0.3]),
       n=st.integers(20, 260), lookback=st.sampled_from([12, 30, 72]), order=st.integers(1, 3),
       bins=st.sampled_from([5, 7, 24]))
def test_compiled_discovery_equals_numpy_path_with_ties(seed, decimals, zero_share, n, lookback, order, bins):
    rng = np.random.default_rng(seed)
    close = np.round(100 * np.exp(np.cumsum(rng.normal(0, 0.01, n))), decimals)  # rounding makes ties
    high = close + np.round(np.abs(rng.normal(0, 0.3, n)), decimals)
    low = close - np.round(np.abs(rng.normal(0, 0.3, n)), decimals)
    volume = np.where(rng.random(n) < zero_share, 0.0, np.round(rng.random(n) * 10, 1))
    cfg = RegimeConfig(range_lookback=lookback, pivot_order=order, volume_profile_bins=bins)
    _check(_arrays(high, low, close, volume), cfg)


def test_compiled_discovery_equals_numpy_path_on_real_and_synthetic_bars(data_dir):
    t = pq.read_table(data_dir / "ETH-USDT_1h_2021-01-20_2021-04-21.parquet").slice(0, 400)
    assert _check(_arrays(*(t.column(c).to_numpy() for c in ("high", "low", "close", "volume"))),
                  RegimeConfig()) > 300
    end = datetime(2024, 3, 1, tzinfo=UTC)
    h = SyntheticSource(3).fetch_ohlcv("ETH-USDT", "1h", end - timedelta(hours=300), end)
    assert _check(_arrays(*(h.column(c).to_numpy() for c in ("high", "low", "close", "volume"))),
                  RegimeConfig()) > 200
