"""Schemathesis against the live OpenAPI schema of a real server: no 5xx, no response outside the schema."""
from __future__ import annotations

import subprocess
import sys

import pytest

from tests.server.conftest import TOKEN

pytest.importorskip("schemathesis")

CHECKS = "not_a_server_error,status_code_conformance,content_type_conformance,response_schema_conformance"


def test_schemathesis_finds_no_server_error_and_no_schema_violation(server, tmp_path):
    cmd = [sys.executable, "-m", "schemathesis.cli", "run", f"{server.base}/openapi.json", "--checks", CHECKS,
           "--max-examples", "25", "--seed", "1", "--header", f"Authorization: Bearer {TOKEN}",
           "--request-timeout", "30", "--no-color", "--workers", "1"]
    proc = subprocess.run(cmd, capture_output=True, text=True, timeout=300, check=False,
                          cwd=tmp_path)  # its example database stays out of the checkout
    tail = (proc.stdout + proc.stderr)[-4000:]
    assert proc.returncode == 0, tail
    assert " passed" in proc.stdout and "failed" not in proc.stdout.split("SUMMARY")[-1], tail
