"""The dashboard site as files: what it holds, where it comes from, and how it fails."""
from __future__ import annotations

import re
import sys

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from gridregime.cli import main
from gridregime.dashboard import build_dashboard
from gridregime.errors import InvalidParameterError
from gridregime.timeutil import to_ms

from .conftest import END, SHORT_END, SHORT_START, SHORT_SYMBOL, START, SYMBOLS, figure, ribbon


def _read(path) -> str:
    return path.read_text(encoding="utf-8")


def test_site_layout_plotly_bundled_once(site_from_store):
    out = site_from_store.out
    assert site_from_store.index == out / "index.html"
    assert set(site_from_store.pages) == set(SYMBOLS)
    js = list(out.rglob("plotly*.js"))
    assert js == [out / "assets" / "plotly.min.js"]
    bundle = js[0].stat().st_size
    for page in [site_from_store.index, *site_from_store.pages.values()]:
        html = _read(page)
        scripts = re.findall(r'<script src="([^"]+)"', html)
        prefix = "" if page == site_from_store.index else "../"
        assert scripts == [f"{prefix}assets/plotly.min.js", f"{prefix}assets/dashboard.js"]
        assert "://" not in " ".join(scripts)  # nothing from a network
        assert page.stat().st_size < bundle / 4  # the library is not inlined
    assert site_from_store.site_bytes == sum(p.stat().st_size for p in out.rglob("*") if p.is_file())


def test_store_alone_and_store_plus_tables_show_the_same_verdicts(site_from_store, site_from_tables, tables):
    assert site_from_store.analysed_here and not site_from_tables.analysed_here
    results = pq.read_table(tables["results"]).to_pylist()
    for symbol in SYMBOLS:
        a = ribbon(figure(_read(site_from_store.pages[symbol])))
        b = ribbon(figure(_read(site_from_tables.pages[symbol])))
        assert a == b
        # and both are the batch's verdicts, hour by hour
        expected = {to_ms(r["hour"]): (r["verdict"] if r["status"] == "ok" else "no verdict")
                    for r in results if r["symbol"] == symbol}
        assert a == expected
        assert len(set(a.values())) >= 1
        # the grid events too: the supervisor run in the build equals the batch's
        events = lambda html: re.findall(r'<tr class="event-(\w+)">\s*<td class="nowrap">([^<]+)</td>', html)  # noqa: E731
        assert events(_read(site_from_store.pages[symbol])) == events(_read(site_from_tables.pages[symbol]))
    rows = lambda html: re.findall(r'<tr data-symbol="([^"]+)">\s*<td>.*?</td>\s*<td>(.*?)</td>', html, re.S)  # noqa: E731
    assert rows(_read(site_from_store.index)) == rows(_read(site_from_tables.index))


def test_symbol_page_charts_and_events(site_from_tables, tables):
    grid = pq.read_table(tables["grid"]).to_pylist()
    for symbol in SYMBOLS:
        html = _read(site_from_tables.pages[symbol])
        fig = figure(html)
        names = [t.get("name") for t in fig["data"]]
        assert names[:2] == ["hourly candles", "minute candles"]
        assert "discovered range" in names and "gate phase" in names and "restart readiness" in names
        minute = fig["data"][1]
        assert minute["visible"] is False and 60 * 66 <= len(minute["x"]) <= 72 * 60  # the last 3 days only
        assert fig["meta"]["minute_index"] == 1 and fig["meta"]["hourly_index"] == 0
        kinds = [k for r in grid if r["symbol"] == symbol for k in r["events"].split(",") if k]
        shown = re.findall(r'<tr class="event-(\w+)">', html)
        assert shown == [k for k in kinds if k != "gate_passed"]
        markers = {t["name"]: len(t["x"]) for t in fig["data"] if t.get("mode") == "markers"}
        for kind, label in (("stop", "stop"), ("reposition", "reposition"), ("gate_passed", "gate passed")):
            assert markers.get(label, 0) == kinds.count(kind), (symbol, kind)
        stopped = any(r["gate_phase"] != "ACTIVE" for r in grid if r["symbol"] == symbol)
        assert any(n and n.startswith("time floor") for n in names) == stopped
    assert "stop" in {k for r in grid for k in r["events"].split(",")}  # the data has one to show
    html = _read(site_from_tables.pages["SOL-USDT"])
    fig = figure(html)
    # grid levels: the count of the table spread between the bounds (arithmetic)
    levels = next(t for t in fig["data"] if t.get("name") == "grid levels")
    enabled = [r for r in grid if r["symbol"] == "SOL-USDT" and r["grid_enabled"] and r["grid_mode"] == "NORMAL"]
    first = enabled[0]
    ys = sorted({y for y in levels["y"] if y is not None})
    want = np.linspace(first["grid_lower"], first["grid_upper"], first["grid_levels"])
    assert all(np.isclose(ys, w, rtol=1e-6).any() for w in want)


def test_index_summarises_each_symbol(site_from_tables, tables):
    html = _read(site_from_tables.index)
    results = pq.read_table(tables["results"]).to_pylist()
    grid = pq.read_table(tables["grid"]).to_pylist()
    for symbol in SYMBOLS:
        row = re.search(rf'<tr data-symbol="{symbol}">(.*?)</tr>', html, re.S).group(1)
        assert f'href="symbols/{symbol}.html"' in row
        last = [r for r in results if r["symbol"] == symbol and r["status"] == "ok"][-1]
        assert f">{last['verdict']}</span>" in row
        assert f"{last['confidence']:.2f}" in row
        g = [r for r in grid if r["symbol"] == symbol][-1]
        assert g["gate_phase"] in row
        assert ("running" in row) == bool(g["grid_enabled"])
        strip = re.search(r"<svg class=\"strip\".*?</svg>", row, re.S).group(0)
        widths = [int(w) for w in re.findall(r'<rect x="\d+" y="0" width="(\d+)" height="10" fill="#(?!f4f4f4)', strip)]
        # every hour of the results in the last 7 days (all of them here), in runs
        assert sum(widths) == sum(1 for r in results if r["symbol"] == symbol)


def test_hostile_strings_are_escaped(hostile_site):
    report, symbol = hostile_site
    html = _read(report.pages[symbol])
    assert "data-pwned" in html  # it is there, as text ...
    assert "<script>document" not in html and "<img src=x" not in html  # ... never as markup
    assert html.count("&lt;script&gt;document.body.setAttribute") == 2  # the reason and the factor
    fig = figure(html)
    stop = next(t for t in fig["data"] if t.get("name") == "stop")
    assert any("&lt;script&gt;" in h for h in stop["hovertext"])  # Plotly shows entities as text
    for block in re.findall(r'<script type="application/json"[^>]*>(.*?)</script>', html, re.S):
        assert "<" not in block


def test_grid_table_with_only_the_original_columns(dash_store, tables, tmp_path):
    grid = pq.read_table(tables["grid"])
    old = ("symbol", "hour", "verdict", "action", "actionable", "gate_phase", "readiness", "hours_stopped",
           "grid_enabled", "grid_mode", "grid_lower", "grid_upper", "grid_version", "events")
    pq.write_table(grid.select(list(old)), tmp_path / "grid.parquet")
    report = build_dashboard(dash_store, SYMBOLS, START, END, tmp_path / "site", results=tables["results"],
                             grid=tmp_path / "grid.parquet")
    fig = figure(_read(report.pages["SOL-USDT"]))
    levels = next(t for t in fig["data"] if t.get("name") == "grid levels")
    ys = {y for y in levels["y"] if y is not None}
    bounds = {round(v, 2) for r in grid.to_pylist() if r["symbol"] == "SOL-USDT" and r["grid_enabled"]
              and r["grid_mode"] == "NORMAL" for v in (r["grid_lower"], r["grid_upper"])}
    assert {round(y, 2) for y in ys} == bounds  # the bounds stand in for the levels


def test_grid_levels_as_prices_and_probationary_grid(dash_store, tables, tmp_path):
    rows = pq.read_table(tables["grid"]).to_pylist()
    for r in rows:  # a probationary grid with explicit level prices on the SOL rows
        if r["symbol"] == "SOL-USDT" and r["grid_enabled"]:
            r["grid_mode"] = "PROBATION"
            r["grid_levels"] = [r["grid_lower"], (r["grid_lower"] + r["grid_upper"]) / 2, r["grid_upper"]]
        else:
            r["grid_levels"] = None
    pq.write_table(pa.Table.from_pylist(rows), tmp_path / "grid.parquet")
    report = build_dashboard(dash_store, ["SOL-USDT"], START, END, tmp_path / "site",
                             results=tables["results"], grid=tmp_path / "grid.parquet")
    fig = figure(_read(report.pages["SOL-USDT"]))
    prob = next(t for t in fig["data"] if t.get("name") == "grid levels (probationary)")
    assert prob["line"]["dash"] == "dash"
    assert not any(t.get("name") == "grid levels" for t in fig["data"])
    assert len({y for y in prob["y"] if y is not None}) >= 3


def test_backtest_equity_curves_and_tolerance(dash_store, tables, tmp_path):
    hours = [START.timestamp() * 1000 + k * 3_600_000 for k in range(72)]
    policies = ["ALWAYS", "SUPERVISOR", "HOLD"]
    table = pa.table({
        "symbol": ["SOL-USDT"] * 72 * 3, "policy": [p for p in policies for _ in hours],
        "hour": pa.array([int(h) for _ in policies for h in hours], type=pa.int64()).cast(pa.timestamp("ms", tz="UTC")),
        "equity": [1000.0 + i for i in range(72 * 3)]})
    bt = tmp_path / "bt"
    bt.mkdir()
    pq.write_table(table, bt / "equity.parquet")
    (bt / "report.json").write_text("{}")
    report = build_dashboard(dash_store, SYMBOLS, START, END, tmp_path / "site", results=tables["results"],
                             grid=tables["grid"], backtest=bt)
    fig = figure(_read(report.pages["SOL-USDT"]), "equity")
    assert sorted(t["name"] for t in fig["data"]) == sorted(policies)
    assert all(len(t["x"]) == 72 for t in fig["data"])
    assert 'id="chart-equity"' not in _read(report.pages["ETH-USDT"])
    assert "no equity curves for this symbol" in _read(report.pages["ETH-USDT"])
    # lacking columns, or no file at all: a note, and the site still builds
    pq.write_table(table.drop_columns(["policy"]), bt / "equity.parquet")
    report = build_dashboard(dash_store, ["SOL-USDT"], START, END, tmp_path / "site2", results=tables["results"],
                             grid=tables["grid"], backtest=bt)
    assert any("lacks column(s) policy" in n for n in report.notes)
    (bt / "equity.parquet").unlink()
    report = build_dashboard(dash_store, ["SOL-USDT"], START, END, tmp_path / "site3", results=tables["results"],
                             grid=tables["grid"], backtest=bt)
    assert any("equity.parquet not found" in n for n in report.notes)
    assert "<p class=\"note\">--backtest: equity.parquet not found" in _read(report.index)


def test_hours_without_verdict(dash_store, tmp_path):
    report = build_dashboard(dash_store, [SHORT_SYMBOL], SHORT_START, SHORT_END, tmp_path / "site")
    fig = figure(_read(report.pages[SHORT_SYMBOL]))
    assert set(ribbon(fig).values()) == {"no verdict"}
    assert "no grid" in _read(report.index)


def test_cli_builds_the_site_and_prints_the_index(dash_store, tables, tmp_path, capsys):
    out = tmp_path / "site"
    code = main(["dashboard", "--root", str(dash_store), "--symbols", *SYMBOLS, "--start", START.isoformat(),
                 "--end", END.isoformat(), "--out", str(out), "--results", str(tables["results"]),
                 "--grid", str(tables["grid"]), "--quiet"])
    assert code == 0
    assert capsys.readouterr().out.strip() == str(out / "index.html")
    assert (out / "symbols" / "ETH-USDT.html").is_file()


@pytest.mark.parametrize("change, message", [
    ({"--root": "missing-dir"}, "--root: expected a snapshot directory"),
    ({"--symbols": "DOGE-USDT"}, "--symbols: no snapshots of DOGE-USDT"),
    ({"--symbols": "eth/usdt"}, "--symbols:"),
    ({"--end": "2021-04-18T00:00Z"}, "--end: expected >= start"),
    ({"--results": "missing.parquet"}, "--results: expected the results table"),
    ({"--results": "GRID"}, "--results: "),
    ({"--grid": "RESULTS"}, "--grid: "),
    ({"--backtest": "missing-dir"}, "--backtest: expected a backtest report directory"),
])
def test_cli_errors_name_the_option(dash_store, tables, tmp_path, capsys, change, message):
    args = {"--root": str(dash_store), "--symbols": "ETH-USDT", "--start": START.isoformat(),
            "--end": END.isoformat(), "--out": str(tmp_path / "site")}
    for k, v in change.items():
        args[k] = {"GRID": str(tables["grid"]), "RESULTS": str(tables["results"])}.get(v, v)
        if v.startswith("missing"):
            args[k] = str(tmp_path / v)
    argv = ["dashboard", "--quiet"] + [x for kv in args.items() for x in kv]
    assert main(argv) == 2
    err = capsys.readouterr().err
    assert message in err
    if change.get("--results") == "GRID":
        assert "lacks column(s) confidence" in err
    if change.get("--grid") == "RESULTS":
        assert "lacks column(s) gate_phase" in err


def test_missing_libraries_say_how_to_install(monkeypatch, dash_store, tmp_path):
    from gridregime.dashboard.build import DashboardDependencyError

    monkeypatch.setitem(sys.modules, "plotly", None)
    monkeypatch.setitem(sys.modules, "plotly.offline", None)
    with pytest.raises(DashboardDependencyError, match=r'pip install "gridregime\[dashboard\]"'):
        build_dashboard(dash_store, ["ETH-USDT"], START, END, tmp_path / "site")
    with pytest.raises(InvalidParameterError):  # parameters are still checked by the library API
        monkeypatch.undo()
        build_dashboard(dash_store, [], START, END, tmp_path / "site")


def test_analysis_in_worker_processes_gives_the_same_site(dash_store, site_from_store, tmp_path):
    report = build_dashboard(dash_store, SYMBOLS, START, END, tmp_path / "site", workers=2)
    for symbol in SYMBOLS:
        a, b = _read(site_from_store.pages[symbol]), _read(report.pages[symbol])
        assert figure(a) == figure(b)
        assert re.findall(r"<tbody>.*?</tbody>", a, re.S) == re.findall(r"<tbody>.*?</tbody>", b, re.S)
