"""A real uvicorn server in a subprocess on 127.0.0.1 and a free port, always killed afterwards."""
from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from contextlib import contextmanager
from pathlib import Path

import httpx
import pytest

pytest.importorskip("fastapi")
pytest.importorskip("uvicorn")

TOKEN = "test-token-0123456789abcdef"
HMAC_SECRET = "hmac-secret-0123456789abcdef"
STARTUP_TIMEOUT = 30.0


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class Server:
    def __init__(self, proc: subprocess.Popen, port: int, root: Path, log: Path) -> None:
        self.proc, self.port, self.root, self.log = proc, port, root, log
        self.base = f"http://127.0.0.1:{port}"

    def kill(self) -> None:
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGKILL)
            self.proc.wait(timeout=10)


def start_server(root: Path, source: str, *, extra: tuple[str, ...] = (), env: dict[str, str] | None = None,
                 token: str | None = TOKEN) -> Server:
    port = free_port()
    log = root.parent / f"server-{port}.log"
    full_env = {k: v for k, v in os.environ.items() if k not in ("GRIDREGIME_TOKEN",)}
    full_env.update(env or {})
    if token is not None:
        full_env["GRIDREGIME_TOKEN"] = token
    cmd = [sys.executable, "-m", "gridregime", "serve", "--root", str(root), "--source", source,
           "--host", "127.0.0.1", "--port", str(port), "--log-level", "warning", *extra]
    with open(log, "wb") as fh:
        proc = subprocess.Popen(cmd, stdout=fh, stderr=subprocess.STDOUT, env=full_env)
    server = Server(proc, port, root, log)
    deadline = time.monotonic() + STARTUP_TIMEOUT
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"server exited with {proc.returncode}: {log.read_text()[-2000:]}")
        try:
            if httpx.get(server.base + "/health", timeout=1.0).status_code == 200:
                return server
        except httpx.HTTPError:
            pass
        time.sleep(0.1)
    server.kill()
    raise RuntimeError(f"server did not start within {STARTUP_TIMEOUT} s: {log.read_text()[-2000:]}")


@contextmanager
def running(root: Path, source: str, **kwargs):
    server = start_server(root, source, **kwargs)
    try:
        yield server
    finally:
        server.kill()


@pytest.fixture(scope="module")
def server(tmp_path_factory, data_dir):
    """One server over the committed real slice, shared by a module's tests (each uses its own hours)."""
    root = tmp_path_factory.mktemp("webhook") / "store"
    with running(root, f"parquet:{data_dir}") as srv:
        yield srv


@pytest.fixture
def auth() -> dict[str, str]:
    return {"Authorization": f"Bearer {TOKEN}"}
