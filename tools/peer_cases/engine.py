"""One-hour analysis: the engine versus a pandas/TA-Lib re-implementation of its feature, rank
and score stages (no range discovery, so the peer does less work than the engine)."""
from __future__ import annotations

from datetime import datetime, timedelta, timezone

import numpy as np

from compare_peers import Case

SYMBOL = "ETH-USDT"
HOUR = datetime(2024, 3, 1, 12, tzinfo=timezone.utc)


def _pandas_hour(df, talib):
    """Features of §5 over the history, the rank of each last value in its 720-value window,
    and the three rank-based scores, the straightforward pandas way."""
    import pandas as pd

    h, l, c = df["high"].to_numpy(), df["low"].to_numpy(), df["close"].to_numpy()
    s = df["close"]
    atr = pd.Series(talib.ATR(h, l, c, 14))
    adx = pd.Series(talib.ADX(h, l, c, 14))
    pdi, mdi = pd.Series(talib.PLUS_DI(h, l, c, 14)), pd.Series(talib.MINUS_DI(h, l, c, 14))
    r = np.log(s).diff()
    x = pd.Series(np.arange(48.0))
    slope = s.rolling(48).apply(lambda w: np.polyfit(x, w, 1)[0], raw=True)
    r2 = s.rolling(48).apply(lambda w: np.corrcoef(x, w)[0, 1] ** 2, raw=True)
    er = (s - s.shift(24)).abs() / s.diff().abs().rolling(24).sum()
    vol_ratio = r.rolling(24).std() / r.rolling(168).std()
    feats = {
        "adx": adx, "slope_r2": (slope / atr).abs() * r2, "er": er, "di_spread": (pdi - mdi).abs(),
        "vr": r.rolling(4).sum().rolling(48).var() / (4 * r.rolling(48).var()),
        "ac1": r.rolling(48).corr(r.shift(1)),
        "mid_cross": s.rolling(48).apply(lambda w: np.count_nonzero(np.diff(np.sign(w - w.mean())) != 0), raw=True),
        "vol_ratio": vol_ratio, "atr_change": atr / atr.shift(24),
    }
    p = {k: 100 * v.iloc[-720:].rank(pct=True).iloc[-1] for k, v in feats.items()}
    trend = 0.35 * p["adx"] + 0.25 * p["slope_r2"] + 0.25 * p["er"] + 0.15 * p["di_spread"]
    mean_rev = 0.3 * (100 - p["vr"]) + 0.2 * (100 - p["ac1"]) + 0.3 * p["mid_cross"] + 0.2 * (100 - p["er"])
    return trend, mean_rev, max(p["vol_ratio"], p["atr_change"])


def cases(n: int) -> list[Case]:
    from gridregime.analysis import RegimeEngine
    from gridregime.collect.sources.synthetic import SyntheticSource

    src = SyntheticSource(1)
    hourly = src.fetch_ohlcv(SYMBOL, "1h", HOUR - timedelta(hours=999), HOUR + timedelta(hours=1))
    minute = src.fetch_ohlcv(SYMBOL, "1m", HOUR, HOUR + timedelta(hours=1))
    engine = RegimeEngine()
    peers = {}
    try:
        import talib

        df = hourly.to_pandas()
        peers["pandas+talib (features, ranks, scores)"] = lambda: _pandas_hour(df, talib)
    except ImportError:  # pragma: no cover - peers are optional
        pass
    return [Case("analyze one hour (1000 h history)", lambda: engine.analyze_bars(SYMBOL, hourly, minute),
                 peers, n=1000, target="engine <= 2 ms per hour")]
