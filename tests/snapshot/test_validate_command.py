"""``gridregime validate DIR``: summary, reasons, gaps, exit status."""
from __future__ import annotations

import orjson
import pytest

from gridregime.cli import main
from gridregime.snapshot import market_path
from tests.snapshot.fixtures import ETH_1M, build_store


@pytest.fixture(scope="module")
def eth_store(tmp_path_factory):
    root = tmp_path_factory.mktemp("eth")
    hours = build_store(root, symbol="ETH-USDT", source_file=ETH_1M, first=20, count=12, history_hours=30)
    return root, hours


def test_clean_store_passes_and_reports_gaps(eth_store, capsys):
    root, hours = eth_store
    assert main(["validate", str(root)]) == 0
    out = capsys.readouterr().out
    assert "files ok:  24" in out and "files bad: 0" in out
    # hours after the 2021-04-20 02:00-04:29 halt carry a history with two missing hours
    with_gaps = [h for h in hours if h.day == 20 and h.hour >= 5]
    assert f"hourly histories with gaps: {len(with_gaps)}" in out
    assert "2021-04-20T02:00Z .. 2021-04-20T03:00Z" in out


def test_each_bad_file_is_listed_and_exit_status_is_one(eth_store, tmp_path, capsys):
    import shutil

    src, hours = eth_store
    root = tmp_path / "s"
    shutil.copytree(src, root)
    truncated = market_path(root, "ETH-USDT", "1m", hours[0])
    truncated.write_bytes(truncated.read_bytes()[:-10])
    wrong_symbol = market_path(root, "ETH-USDT", "1h", hours[1])
    doc = orjson.loads(wrong_symbol.read_bytes())
    doc["metadata"]["symbol"] = "BTC-USDT"
    wrong_symbol.write_bytes(orjson.dumps(doc))
    market_path(root, "ETH-USDT", "1h", hours[2]).unlink()
    (truncated.parent / ".ETH-USDT_1m.json.abc.tmp").write_bytes(b"{")  # leftover of a killed write
    assert main(["validate", str(root)]) == 1
    out = capsys.readouterr().out
    assert "files bad: 3" in out
    assert f"{truncated}: <document>" in out
    assert f"{wrong_symbol}: metadata.symbol" in out
    assert f"{market_path(root, 'ETH-USDT', '1h', hours[2])}: missing" in out
    assert "temporary files left by interrupted writes: 1" in out
    # a range that avoids the bad hours passes
    assert main(["validate", str(root), "--symbol", "ETH-USDT", "--start", hours[3].isoformat(),
                 "--end", hours[-1].isoformat()]) == 0
    capsys.readouterr()
    assert main(["validate", str(root), "--symbol", "BTC-USDT"]) == 0
    assert "files ok:  0" in capsys.readouterr().out


def test_bad_arguments_are_clean_errors(tmp_path, capsys):
    assert main(["validate", str(tmp_path / "absent")]) == 2
    assert "DIR" in capsys.readouterr().err
    assert main(["validate", str(tmp_path), "--symbol", "../etc"]) == 2
    assert "--symbol" in capsys.readouterr().err


def test_stale_temporary_files_are_removed_fresh_ones_kept(eth_store, tmp_path, capsys):
    import os
    import shutil
    import time

    src, hours = eth_store
    root = tmp_path / "s"
    shutil.copytree(src, root)
    final = market_path(root, "ETH-USDT", "1m", hours[0])
    stale = final.parent / ".ETH-USDT_1m.json.killed.tmp"
    fresh = market_path(root, "ETH-USDT", "1h", hours[1]).parent / ".ETH-USDT_1h.json.live.tmp"
    stale.write_bytes(b"{")
    fresh.write_bytes(b"{")
    old = time.time() - 2 * 3600
    os.utime(stale, (old, old))
    before = final.read_bytes()

    assert main(["validate", str(root), "--remove-stale-tmp", "60"]) == 0
    out = capsys.readouterr().out
    assert not stale.exists() and fresh.exists()
    assert final.read_bytes() == before  # never a final name
    assert "stale temporary files removed: 1" in out
    assert "temporary files left by interrupted writes: 1" in out
    assert "--remove-stale-tmp" not in out  # no hint once the option is given

    assert main(["validate", str(root)]) == 0
    assert "(remove with --remove-stale-tmp MINUTES)" in capsys.readouterr().out


def test_remove_stale_tmp_needs_non_negative_minutes(eth_store, capsys):
    root, _ = eth_store
    assert main(["validate", str(root), "--remove-stale-tmp", "-5"]) == 2
    assert "--remove-stale-tmp" in capsys.readouterr().err
