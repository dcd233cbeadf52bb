"""The site in a real headless Chromium, opened from file://: it renders, logs no errors, draws
the verdicts where the data puts them, and shows hostile strings as text."""
from __future__ import annotations

import io
import json
import time

import pyarrow.parquet as pq
import pytest
from PIL import Image

from gridregime.dashboard.figures import VERDICT_COLORS
from gridregime.timeutil import to_ms

from .conftest import HOSTILE, SYMBOLS

CHARTS_JS = """Array.from(document.querySelectorAll('[data-figure]')).map(el => ({
  id: el.id, rendered: el.getAttribute('data-rendered'),
  svgs: el.querySelectorAll('svg.main-svg').length,
  traces: (el._fullData || []).length,
  expected: JSON.parse(document.getElementById(el.getAttribute('data-figure')).textContent).data.length,
  drawn: el.querySelectorAll('g.trace path, g.point path, path.point').length}))"""


def _wait(browser, expression: str, seconds: float = 5.0):
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        value = browser.evaluate(expression)
        if value:
            return value
        time.sleep(0.05)
    return browser.evaluate(expression)


def _assert_rendered(browser, load, min_charts: int) -> None:
    assert load.errors == []
    charts = browser.evaluate(CHARTS_JS)
    assert load.charts == len(charts) >= min_charts
    for c in charts:
        assert c["rendered"] == "1", c
        assert c["svgs"] >= 1 and c["traces"] == c["expected"] and c["drawn"] > 0, c


def test_index_and_symbol_pages_render_without_errors(chromium, site_from_store, tmp_path):
    load = chromium.load(site_from_store.index)
    _assert_rendered(chromium, load, 1)
    links = chromium.evaluate("Array.from(document.querySelectorAll('table.markets a')).map(a => a.href)")
    assert [link.rsplit("/", 1)[1] for link in links] == [f"{s}.html" for s in SYMBOLS]
    png = chromium.screenshot(tmp_path / "index.png")
    assert png[:8] == b"\x89PNG\r\n\x1a\n" and (tmp_path / "index.png").stat().st_size > 5_000
    for symbol in SYMBOLS:
        load = chromium.load(site_from_store.pages[symbol])
        _assert_rendered(chromium, load, 1)
        chromium.screenshot(tmp_path / f"{symbol}.png")
        assert Image.open(tmp_path / f"{symbol}.png").size[0] == chromium.width


def test_equity_chart_renders(chromium, dash_store, tables, tmp_path):
    import pyarrow as pa

    from gridregime.dashboard import build_dashboard

    from .conftest import END, START

    hours = [to_ms(START) + k * 3_600_000 for k in range(72)]
    bt = tmp_path / "bt"
    bt.mkdir()
    pq.write_table(pa.table({"symbol": ["ETH-USDT"] * 144, "policy": ["ALWAYS"] * 72 + ["SUPERVISOR"] * 72,
                             "hour": pa.array(hours * 2, type=pa.int64()).cast(pa.timestamp("ms", tz="UTC")),
                             "equity": [1000.0 + k for k in range(144)]}), bt / "equity.parquet")
    report = build_dashboard(dash_store, ["ETH-USDT"], START, END, tmp_path / "site", results=tables["results"],
                             grid=tables["grid"], backtest=bt)
    load = chromium.load(report.pages["ETH-USDT"])
    _assert_rendered(chromium, load, 2)


@pytest.mark.parametrize("inject, expect", [
    ("<script>window.notDefinedAnywhere();</script>", "notDefinedAnywhere"),
    ("<script>console.error('deliberate failure');</script>", "deliberate failure"),
    ('<script src="../assets/no-such-file.js"></script>', "no-such-file.js"),
])
def test_console_errors_are_caught(chromium, site_from_store, inject, expect):
    page = site_from_store.pages["ETH-USDT"]
    broken = page.with_name("broken.html")
    broken.write_text(page.read_text(encoding="utf-8").replace("</body>", inject + "\n</body>"), encoding="utf-8")
    try:
        load = chromium.load(broken)
    finally:
        broken.unlink()
    assert any(expect in e for e in load.errors), load.errors


def test_verdict_ribbon_colours_where_the_data_puts_them(chromium, site_from_tables, tables, tmp_path):
    results = pq.read_table(tables["results"]).to_pylist()
    seen = set()
    for symbol in SYMBOLS:
        verdict = {to_ms(r["hour"]): r["verdict"] for r in results
                   if r["symbol"] == symbol and r["status"] == "ok" and not r.get("warming_up")}  # (drawn paler)
        # hours inside runs of one verdict (a bar's edges blend with its neighbours')
        hours = sorted(h for h, v in verdict.items()
                       if verdict.get(h - 3_600_000) == v and verdict.get(h + 3_600_000) == v)
        assert hours
        load = chromium.load(site_from_tables.pages[symbol])
        assert load.errors == []
        where = chromium.evaluate(f"""(() => {{
          const gd = document.getElementById('chart-main'), fl = gd._fullLayout, box = gd.getBoundingClientRect();
          const xa = fl.xaxis2, ya = fl.yaxis2;
          return {{y: box.top + window.scrollY + ya._offset + ya._length / 2,
                   xs: {json.dumps(hours)}.map(h => box.left + window.scrollX + xa._offset + xa.l2p(h))}};
        }})()""")
        image = Image.open(io.BytesIO(chromium.screenshot(tmp_path / f"{symbol}.png"))).convert("RGB")
        for hour, x in zip(hours, where["xs"]):
            want = VERDICT_COLORS[verdict[hour]]
            rgb = tuple(int(want[i:i + 2], 16) for i in (1, 3, 5))
            got = image.getpixel((round(x), round(where["y"])))
            assert max(abs(a - b) for a, b in zip(got, rgb)) <= 6, (symbol, hour, verdict[hour], got, rgb)
            seen.add(verdict[hour])
    assert len(seen) >= 3  # the data of the two symbols has three verdicts in runs


def test_hostile_reason_is_shown_as_text_never_run(chromium, hostile_site):
    report, symbol = hostile_site
    load = chromium.load(report.pages[symbol])
    assert load.errors == []  # an executed <img onerror> would also fail to load "x"
    assert chromium.evaluate("document.body.getAttribute('data-pwned')") is None
    cells = chromium.evaluate("Array.from(document.querySelectorAll('tr.event-stop td')).map(td => td.textContent)")
    assert any(HOSTILE in c for c in cells)
    assert chromium.evaluate("document.querySelectorAll('table.events script, table.events img').length") == 0
    # the hover text of the stop marker, shown by Plotly
    chromium.evaluate("""(() => { const gd = document.getElementById('chart-main');
      const i = gd.data.findIndex(t => t.name === 'stop');
      Plotly.Fx.hover(gd, [{curveNumber: i, pointNumber: 0}]); return i; })()""")
    text = _wait(chromium, "(document.querySelector('#chart-main .hoverlayer') || {}).textContent")
    assert "<script>document.body.setAttribute" in text
    assert chromium.evaluate("document.body.getAttribute('data-pwned')") is None
    assert chromium.load(report.index).errors == []


def test_minute_bars_when_zoomed_into_the_last_days(chromium, site_from_store):
    load = chromium.load(site_from_store.pages["SOL-USDT"])
    assert load.errors == []
    visible = "(() => { const d = document.getElementById('chart-main').data; return [d[0].visible, d[1].visible]; })()"
    assert chromium.evaluate(visible) == [True, False]
    chromium.evaluate("document.querySelector('button[data-zoom=minute]').click()")
    assert _wait(chromium, f"JSON.stringify({visible}) === '[false,true]'")
    chromium.evaluate("document.querySelector('button[data-zoom=all]').click()")
    assert _wait(chromium, f"JSON.stringify({visible}) === '[true,false]'")
    assert chromium.load(site_from_store.pages["SOL-USDT"]).errors == []
