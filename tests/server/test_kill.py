"""kill -9 of the server in the middle of a collection: no torn file, and the next trigger completes the hour."""
from __future__ import annotations

import threading
import time
from pathlib import Path

import httpx
import orjson
import yaml

from gridregime.grid.store import GridHistoryStore
from gridregime.grid.supervisor import GridSupervisor
from gridregime.snapshot import SnapshotReader
from gridregime.snapshot.paths import parse_market_file_name
from gridregime.snapshot.validate import read_market_file
from gridregime.timeutil import to_utc_hour
from tests.server.conftest import TOKEN, start_server

SYMBOLS = [f"S{k}-USDT" for k in range(16)]
TRIGGER = "2024-03-05T10:00:03Z"
HOUR = to_utc_hour("2024-03-05T09:00:00Z")


def check_no_torn_file(root: Path) -> int:
    """Every file under a final name is whole; returns how many files were checked."""
    checked = 0
    for path in root.rglob("*"):
        if not path.is_file() or path.name.startswith(".") or path.suffix == ".lock":
            continue
        data = path.read_bytes()
        if path.suffix == ".yaml":
            assert isinstance(yaml.safe_load(data), dict), path
        elif path.suffix == ".jsonl":
            symbol = path.name[: -len(".jsonl")]
            GridHistoryStore(path.parent).history(symbol)  # verifies the hash chain
        elif path.suffix == ".json":
            doc = orjson.loads(data)  # raises on a torn file
            parsed = parse_market_file_name(path.name)
            if parsed:
                read_market_file(path, symbol=parsed[0], timeframe=parsed[1], hour=HOUR)
            assert isinstance(doc, dict), path
        checked += 1
    return checked


def test_kill_9_during_collection_leaves_no_torn_file_and_the_next_trigger_completes(tmp_path):
    root = tmp_path / "store"
    auth = {"Authorization": f"Bearer {TOKEN}"}
    body = {"trigger_time": TRIGGER, "symbols": SYMBOLS}
    for delay in (0.4, 0.9, 0.9):
        server = start_server(root, "synthetic:5")
        try:
            def fire(base=server.base):
                try:
                    httpx.post(base + "/webhook/collect", json=body, headers=auth, timeout=60)
                except httpx.HTTPError:
                    pass  # the server dies under it

            thread = threading.Thread(target=fire)
            thread.start()
            time.sleep(delay)
        finally:
            server.kill()
        thread.join(timeout=30)
        check_no_torn_file(root)
        print("after kill at", delay, "s:", len(list(root.rglob("*.yaml"))), "of", len(SYMBOLS), "hours done")
    server = start_server(root, "synthetic:5")
    try:
        resp = httpx.post(server.base + "/webhook/collect", json=body, headers=auth, timeout=120)
    finally:
        server.kill()
    assert resp.status_code == 200, resp.text
    assert [r["status"] for r in resp.json()["results"]] == ["ok"] * len(SYMBOLS)
    assert check_no_torn_file(root) >= 4 * len(SYMBOLS)
    reader = SnapshotReader(root)
    for symbol in SYMBOLS:
        reader.load_snapshot(symbol, HOUR)
        assert reader.load_analysis(symbol, HOUR)["symbol"] == symbol
        assert GridSupervisor(symbol, store_dir=root / "grid").last_hour == HOUR
