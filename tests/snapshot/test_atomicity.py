"""Writes are atomic: killing a writer with SIGKILL at random moments never leaves a partial
file under a final name, and a concurrent reader never sees a torn file."""
from __future__ import annotations

import multiprocessing
import random
import time
from datetime import timedelta

import pytest

from gridregime.bars import bars_table, bars_to_numpy
from gridregime.snapshot import SnapshotStorage, market_path
from gridregime.snapshot.validate import read_market_file
from tests.snapshot import _atomic_worker
from tests.snapshot.fixtures import complete_hours, hour_inputs, read_minutes

SYMBOL = "BTC-USDT"
KILLS = 50


def _scaled_volume(table, factor):
    c = bars_to_numpy(table)
    return bars_table(c["ts"], c["open"], c["high"], c["low"], c["close"], c["volume"] * factor)


@pytest.fixture(scope="module")
def ctx():
    # forkserver: children fork from a clean, single-threaded server with the modules preloaded,
    # so each writer starts in milliseconds without inheriting this process's threads
    context = multiprocessing.get_context("forkserver")
    context.set_forkserver_preload(["tests.snapshot._atomic_worker"])
    return context


def test_sigkill_never_leaves_a_torn_file(tmp_path, ctx):
    minutes = read_minutes()
    hour = complete_hours(minutes)[10]
    minute, hourly = hour_inputs(minutes, hour, 200)
    variants = [(minute, hourly), (_scaled_volume(minute, 2.0), _scaled_volume(hourly, 2.0))]
    collected_at = hour + timedelta(hours=1)
    SnapshotStorage(tmp_path).write_hour(SYMBOL, hour, *variants[0], source="test", collected_at=collected_at)
    finals = {tf: market_path(tmp_path, SYMBOL, tf, hour) for tf in ("1m", "1h")}

    stop, results = ctx.Event(), ctx.Queue()
    reader = ctx.Process(target=_atomic_worker.read_until, args=(tmp_path, SYMBOL, hour, stop, results))
    reader.start()
    rng = random.Random(76)
    try:
        for k in range(KILLS):
            writer = ctx.Process(target=_atomic_worker.write_forever,
                                 args=(tmp_path, SYMBOL, hour, variants, collected_at, k % 2))
            writer.start()
            time.sleep(rng.uniform(0.01, 0.15))
            writer.kill()  # SIGKILL: no cleanup handlers run
            writer.join()
            assert writer.exitcode == -9
            for tf, path in finals.items():
                read_market_file(path, symbol=SYMBOL, timeframe=tf, hour=hour)  # parses and validates
            names = {p.name for p in finals["1m"].parent.iterdir()}
            # leftovers of killed writes may exist, but only under temporary names
            assert {n for n in names if not n.startswith(".")} == {f"{SYMBOL}_1m.json", f"{SYMBOL}_1h.json"}
            assert all(n.endswith(".tmp") for n in names if n.startswith("."))
    finally:
        stop.set()
        reads, torn, n_torn, seen = results.get(timeout=30)
        reader.join(timeout=30)
    assert n_torn == 0, torn
    assert reads > 0
    first = float(bars_to_numpy(minute)["volume"][0])
    assert seen == sorted({first, first * 2.0})  # the reader saw both contents: writes really happened
