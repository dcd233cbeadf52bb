"""The n8n workflow in docs/n8n.md imports: valid JSON, an hourly trigger past the hour, an HTTP Request to the
collect route with header auth and retries on."""
from __future__ import annotations

import json
import re
from pathlib import Path

DOC = Path(__file__).resolve().parents[2] / "docs" / "n8n.md"


def workflow() -> dict:
    blocks = re.findall(r"```json\n(.*?)```", DOC.read_text(), flags=re.DOTALL)
    docs = [json.loads(b) for b in blocks]
    return next(d for d in docs if "nodes" in d)


def test_the_documented_workflow_is_valid_and_wired():
    wf = workflow()
    nodes = {n["name"]: n for n in wf["nodes"]}
    trigger = next(n for n in nodes.values() if n["type"] == "n8n-nodes-base.scheduleTrigger")
    (rule,) = trigger["parameters"]["rule"]["interval"]
    second, minute, *rest = rule["expression"].split()
    assert 0 < int(second) < 60 and minute == "0" and rest == ["*"] * 4
    http = next(n for n in nodes.values() if n["type"] == "n8n-nodes-base.httpRequest")
    p = http["parameters"]
    assert p["method"] == "POST" and p["url"].endswith("/collect")
    assert p["genericAuthType"] == "httpHeaderAuth" and http["retryOnFail"] is True
    assert any(h["name"] == "Idempotency-Key" for h in p["headerParameters"]["parameters"])
    assert wf["connections"][trigger["name"]]["main"][0][0]["node"] == http["name"]
