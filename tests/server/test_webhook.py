"""The webhook over a real uvicorn server on loopback, with a file source (the committed real slice)."""
from __future__ import annotations

import asyncio
import subprocess
import sys
import time
from datetime import UTC, datetime, timedelta

import httpx
import orjson
import pytest
import yaml

from gridregime.server.app import sign
from gridregime.snapshot import SnapshotReader
from gridregime.snapshot.paths import analysis_path, market_path, summary_path
from tests.server.conftest import HMAC_SECRET, TOKEN, running

SYMBOL = "ETH-USDT"
START = datetime(2021, 4, 19, tzinfo=UTC)


def trigger(hours: int) -> str:
    """A trigger a few seconds past the close of hour START + hours."""
    return (START + timedelta(hours=hours + 1, seconds=4)).strftime("%Y-%m-%dT%H:%M:%SZ")


def files_of(root, hour):
    return [market_path(root, SYMBOL, "1m", hour), market_path(root, SYMBOL, "1h", hour),
            analysis_path(root, SYMBOL, hour), summary_path(root, SYMBOL, hour)]


def post(server, body, headers, **kw):
    data = body if isinstance(body, bytes) else orjson.dumps(body)
    return httpx.post(server.base + "/webhook/collect", content=data,
                      headers={"Content-Type": "application/json", **headers}, timeout=60, **kw)


def assert_error(resp, status, code=None):
    assert resp.status_code == status, resp.text
    doc = resp.json()
    assert doc["status"] == "error" and set(doc["error"]) == {"code", "message"}
    assert "Traceback" not in resp.text and "/tmp" not in resp.text
    if code:
        assert doc["error"]["code"] == code
    return doc["error"]


def test_happy_path_writes_four_valid_files_and_answers_what_was_stored(server, auth):
    hour = START + timedelta(hours=2)
    resp = post(server, {"trigger_time": trigger(2), "symbols": [SYMBOL]}, auth)
    assert resp.status_code == 200, resp.text
    doc = resp.json()
    assert doc["status"] == "ok" and doc["hour"] == "2021-04-19T02:00:00Z" and doc["duration_ms"] >= 0
    (res,) = doc["results"]
    assert all(p.is_file() for p in files_of(server.root, hour))
    assert sorted(res["files"].values()) == sorted(p.relative_to(server.root).as_posix()
                                                   for p in files_of(server.root, hour))
    reader = SnapshotReader(server.root)
    reader.load_snapshot(SYMBOL, hour)  # both market files valid, cross-file rule included
    stored = reader.load_analysis(SYMBOL, hour)
    assert res["status"] == "ok" and res["verdict"] == stored["verdict"]
    assert res["confidence"] == round(stored["confidence"], 4)
    summary = yaml.safe_load(summary_path(server.root, SYMBOL, hour).read_text())
    assert summary["verdict"] == stored["verdict"] and summary["hour"] == res["hour"]
    assert res["gate_phase"] == summary["gates"]["phase"]
    # the stored result route gives the same outcome and the summary
    got = httpx.get(f"{server.base}/webhook/results/{SYMBOL}/2021-04-19T02:00:00Z", headers=auth, timeout=10)
    assert got.status_code == 200 and got.json()["result"] == res and got.json()["summary"] == summary


def test_health_and_openapi_need_no_token(server):
    assert httpx.get(server.base + "/health", timeout=10).json()["status"] == "ok"
    schema = httpx.get(server.base + "/openapi.json", timeout=10).json()
    assert "/webhook/collect" in schema["paths"]


@pytest.mark.parametrize("headers", [{}, {"Authorization": "Bearer wrong-token-0123456789"},
                                     {"Authorization": TOKEN}, {"Authorization": "Basic abc"}])
def test_401_without_or_with_a_wrong_token(server, headers):
    resp = post(server, {"trigger_time": trigger(3), "symbols": [SYMBOL]}, headers)
    assert_error(resp, 401, "unauthorized")
    assert not summary_path(server.root, SYMBOL, START + timedelta(hours=3)).exists()
    assert_error(httpx.get(f"{server.base}/webhook/results/{SYMBOL}/2021-04-19T00:00:00Z", headers=headers), 401)


@pytest.mark.parametrize("body, field", [
    (b"{not json", "body"),
    (b"", "body"),
    (b"[1, 2]", "body"),
    ({"symbols": ["DOGE-USDT"]}, "symbols"),
    ({"symbols": ["../../etc/passwd"]}, "symbols"),
    ({"symbols": ["ETH-USDT/../x"]}, "symbols"),
    ({"symbols": "ETH-USDT"}, "symbols"),
    ({"symbols": []}, "symbols"),
    ({"symbols": [42]}, "symbols"),
    ({"trigger_time": "yesterday", "symbols": [SYMBOL]}, "trigger_time"),
    ({"trigger_time": 1618800000000, "symbols": [SYMBOL]}, "trigger_time"),
    ({"trigger_time": "1999-01-01T00:00:00Z", "symbols": [SYMBOL]}, "trigger_time"),
    ({"trigger_time": "2999-01-01T00:00:00Z", "symbols": [SYMBOL]}, "trigger_time"),
    ({"symbols": [SYMBOL], "extra": 1}, "body"),
])
def test_400_on_bad_requests_naming_the_field(server, auth, body, field):
    err = assert_error(post(server, body, auth), 400)
    assert err["message"].startswith(f"{field}:"), err


def test_400_on_bad_result_route_parameters_and_404_when_not_collected(server, auth):
    base = server.base + "/webhook/results"
    assert_error(httpx.get(f"{base}/eth-usdt/2021-04-19T00:00:00Z", headers=auth), 400)
    assert_error(httpx.get(f"{base}/{SYMBOL}/2021-04-19T00:30:00Z", headers=auth), 400)
    assert_error(httpx.get(f"{base}/{SYMBOL}/2021-04-21T23:00:00Z", headers=auth), 404, "not_found")
    assert_error(httpx.get(f"{server.base}/webhook/runs/{'0' * 32}", headers=auth), 404)
    assert_error(httpx.get(f"{server.base}/webhook/runs/nope", headers=auth), 400)


def test_413_on_oversized_bodies(server, auth):
    big = {"symbols": [SYMBOL], "trigger_time": trigger(4), "pad": "x" * 70_000}
    assert_error(post(server, big, auth), 413, "body_too_large")

    def chunks():  # no Content-Length: the limit holds while streaming
        for _ in range(100):
            yield b" " * 1024

    resp = httpx.post(server.base + "/webhook/collect", content=chunks(), headers=auth, timeout=30)
    assert_error(resp, 413)


def test_idempotency_key_replays_the_first_answer_with_one_write(server, auth):
    hour = START + timedelta(hours=5)
    body = {"trigger_time": trigger(5), "symbols": [SYMBOL]}
    first = post(server, body, {**auth, "Idempotency-Key": "hour-5"})
    assert first.status_code == 200
    stamps = [p.stat().st_mtime_ns for p in files_of(server.root, hour)]
    again = post(server, body, {**auth, "Idempotency-Key": "hour-5"})
    assert again.status_code == 200 and again.json() == first.json()
    assert again.headers.get("Idempotent-Replayed") == "true"
    assert [p.stat().st_mtime_ns for p in files_of(server.root, hour)] == stamps
    other = post(server, {"trigger_time": trigger(6), "symbols": [SYMBOL]}, {**auth, "Idempotency-Key": "hour-5"})
    assert_error(other, 409, "idempotency_key_reused")
    assert not summary_path(server.root, SYMBOL, START + timedelta(hours=6)).exists()


def test_50_concurrent_posts_for_one_hour_give_one_set_of_files_and_equal_answers(server, auth):
    hour = START + timedelta(hours=7)
    body = orjson.dumps({"trigger_time": trigger(7), "symbols": [SYMBOL]})

    async def fire():
        limits = httpx.Limits(max_connections=50)
        async with httpx.AsyncClient(base_url=server.base, headers=auth, timeout=60, limits=limits) as client:
            return await asyncio.gather(*(client.post("/webhook/collect", content=body) for _ in range(50)))

    responses = asyncio.run(fire())
    assert [r.status_code for r in responses] == [200] * 50
    answers = []
    for r in responses:
        doc = r.json()
        doc.pop("duration_ms")
        answers.append(doc)
    assert all(a == answers[0] for a in answers) and answers[0]["results"][0]["status"] == "ok"
    hour_dir = market_path(server.root, SYMBOL, "1m", hour).parent
    assert sorted(p.name for p in hour_dir.iterdir()) == ["ETH-USDT_1h.json", "ETH-USDT_1m.json",
                                                          "ETH-USDT_regime.json"]
    assert summary_path(server.root, SYMBOL, hour).is_file()
    # one supervisor step for the hour: the grid history and gate state moved exactly once
    state = orjson.loads((server.root / "grid" / "supervisor" / f"{SYMBOL}.json").read_bytes())
    assert state["gate_state"]["last_hour"].startswith("2021-04-19T07:00:00")


def test_incomplete_hour_answers_200_with_the_reason_and_writes_nothing(server, auth):
    halt = datetime(2021, 4, 20, 3, tzinfo=UTC)
    resp = post(server, {"trigger_time": "2021-04-20T04:00:05Z", "symbols": [SYMBOL]}, auth)
    assert resp.status_code == 200
    (res,) = resp.json()["results"]
    assert res["status"] == "incomplete" and "60 of 60 minutes missing" in res["reason"]
    assert not any(p.exists() for p in files_of(server.root, halt))


def test_hmac_signature_is_checked_with_a_timestamp_window(tmp_path, data_dir, auth):
    with running(tmp_path / "store", f"parquet:{data_dir}", extra=("--hmac-env", "GR_HMAC"),
                 env={"GR_HMAC": HMAC_SECRET}) as srv:
        body = orjson.dumps({"trigger_time": trigger(1), "symbols": [SYMBOL]})
        now = int(time.time())
        good = {**auth, "X-Signature-Timestamp": str(now), "X-Signature": sign(HMAC_SECRET, now, body)}
        assert post(srv, body, good).status_code == 200
        assert_error(post(srv, body, auth), 401, "bad_signature")
        tampered = body.replace(b"ETH", b"BTC")
        assert_error(post(srv, tampered, good), 401, "bad_signature")
        old = now - 600
        stale = {**auth, "X-Signature-Timestamp": str(old), "X-Signature": sign(HMAC_SECRET, old, body)}
        assert_error(post(srv, body, stale), 401, "bad_signature")


def test_work_over_the_time_budget_answers_202_and_the_run_gives_the_result(tmp_path, auth):
    # the synthetic source takes a while for a first hour (a long history to generate)
    with running(tmp_path / "store", "synthetic:7", extra=("--time-budget", "0.01", "--prefix", "/gr")) as srv:
        body = {"trigger_time": "2024-03-05T10:00:02Z", "symbols": ["AAA-USDT", "BBB-USDT"]}
        resp = httpx.post(srv.base + "/gr/collect", json=body, headers=auth, timeout=60)
        assert resp.status_code == 202, resp.text
        accepted = resp.json()
        assert accepted["status"] == "accepted" and accepted["location"] == f"/gr/runs/{accepted['run_id']}"
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            run = httpx.get(srv.base + accepted["location"], headers=auth, timeout=10)
            if run.status_code == 200:
                break
            assert run.status_code == 202 and run.json()["status"] == "running"
            time.sleep(0.05)
        doc = run.json()
        assert doc["status"] == "ok" and [r["status"] for r in doc["results"]] == ["ok", "ok"]
        stored = httpx.get(f"{srv.base}/gr/results/AAA-USDT/2024-03-05T09:00:00Z", headers=auth, timeout=10)
        assert stored.json()["result"] == doc["results"][0]
        assert httpx.post(srv.base + "/webhook/collect", json=body, headers=auth).status_code == 404


def test_the_server_refuses_to_bind_beyond_loopback_without_a_token(tmp_path, data_dir):
    env = {k: v for k, v in __import__("os").environ.items() if k != "GRIDREGIME_TOKEN"}
    proc = subprocess.run([sys.executable, "-m", "gridregime", "serve", "--root", str(tmp_path / "s"),
                           "--source", f"parquet:{data_dir}", "--host", "0.0.0.0", "--port", "0"],
                          capture_output=True, text=True, timeout=60, env=env, check=False)
    assert proc.returncode == 2
    assert "--host" in proc.stderr and "token" in proc.stderr
    proc = subprocess.run([sys.executable, "-m", "gridregime", "serve", "--root", str(tmp_path / "s"),
                           "--source", f"parquet:{data_dir}", "--token-env", "GR_NOT_SET_ANYWHERE"],
                          capture_output=True, text=True, timeout=60, env=env, check=False)
    assert proc.returncode == 2 and "--token-env" in proc.stderr


@pytest.mark.parametrize("argv, option", [
    (["--port", "http"], "--port"),
    (["--port", "70000"], "--port"),
    (["--prefix", "webhook"], "--prefix"),
    (["--time-budget", "0"], "--time-budget"),
    (["--max-body", "10"], "--max-body"),
    (["--hmac-env", "GR_NOT_SET_ANYWHERE"], "--hmac-env"),
    (["--source", "nosuch:x"], "--source"),
])
def test_serve_bad_options_exit_2_naming_the_option(argv, option, tmp_path, data_dir, capsys, monkeypatch):
    from gridregime.cli import main

    monkeypatch.delenv("GRIDREGIME_TOKEN", raising=False)
    base = {"--root": str(tmp_path / "s"), "--source": f"parquet:{data_dir}"}
    base.update(dict(zip(argv[::2], argv[1::2])))
    rc = main(["serve", *[x for kv in base.items() for x in kv]])
    assert rc == 2 and f"error: {option}:" in capsys.readouterr().err


def test_a_short_token_is_refused(tmp_path, data_dir, capsys, monkeypatch):
    from gridregime.cli import main

    monkeypatch.setenv("GRIDREGIME_TOKEN", "short")
    rc = main(["serve", "--root", str(tmp_path / "s"), "--source", f"parquet:{data_dir}"])
    err = capsys.readouterr().err
    assert rc == 2 and "--token-env: the secret in GRIDREGIME_TOKEN must be at least 16 characters" in err
