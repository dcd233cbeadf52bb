"""Open dashboard pages in a real headless Chromium: console errors, render time, screenshots.

A small client of the Chrome DevTools protocol over one WebSocket (``websocket-client``). Used by
the browser tests, ``tools/bench_dashboard.py`` and to take the README screenshot::

    with HeadlessChromium() as browser:
        page = browser.load(site / "index.html")
        assert not page.errors
        browser.screenshot("index.png")

:meth:`HeadlessChromium.load` waits until every chart of the page has rendered (``dashboard.js``
sets ``data-charts-rendered`` on ``<body>``) and collects, from before the page starts loading,
uncaught exceptions, ``console.error`` / ``console.assert`` calls and browser log entries of level
error (a script or file that fails to load).

The browser is Debian's ``chromium`` (or ``$GRIDREGIME_CHROMIUM``, or any of ``chromium-browser``,
``google-chrome`` on PATH), started with a throw-away profile and stopped on :meth:`close`.
"""
from __future__ import annotations

import base64
import json
import os
import shutil
import subprocess
import tempfile
import time
import urllib.request
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from gridregime.errors import GridRegimeError

BROWSER_NAMES = ("chromium", "chromium-browser", "google-chrome", "google-chrome-stable")


class BrowserError(GridRegimeError):
    """Chromium could not be found, started or driven; the message says which and why."""


def find_chromium() -> str | None:
    """Path of a Chromium executable: ``$GRIDREGIME_CHROMIUM``, else the first of BROWSER_NAMES on PATH."""
    env = os.environ.get("GRIDREGIME_CHROMIUM")
    if env:
        return env if Path(env).is_file() else shutil.which(env)
    for name in BROWSER_NAMES:
        found = shutil.which(name)
        if found:
            return found
    return None


@dataclass
class PageLoad:
    """What loading one page gave: errors (text), seconds to the rendered charts, chart count."""

    url: str
    errors: list[str] = field(default_factory=list)
    seconds: float = 0.0
    charts: int = 0


class HeadlessChromium:
    """A headless Chromium driven over the DevTools protocol (one page, reused between loads).

    Parameters
    ----------
    executable : str, optional
        The browser; default :func:`find_chromium`.
    width, height : int
        Viewport in CSS pixels.
    timeout : float
        Seconds allowed for the browser to start and for each page to render.
    """

    def __init__(self, executable: str | None = None, *, width: int = 1400, height: int = 1000,
                 timeout: float = 30.0) -> None:
        try:
            import websocket
        except ImportError as exc:
            raise BrowserError("driving Chromium needs websocket-client: pip install websocket-client") from exc
        self.executable = executable or find_chromium()
        if not self.executable:
            raise BrowserError("no Chromium found: install Debian's chromium (apt-get install chromium) or set "
                               "GRIDREGIME_CHROMIUM to the browser's path")
        self.width, self.height, self.timeout = width, height, timeout
        self._profile = tempfile.mkdtemp(prefix="gridregime-chromium-")
        args = [self.executable, "--headless=new", "--remote-debugging-port=0", f"--user-data-dir={self._profile}",
                "--no-first-run", "--no-default-browser-check", "--disable-extensions", "--disable-gpu",
                "--disable-dev-shm-usage", "--hide-scrollbars", "--mute-audio", "--disable-background-networking",
                "--disable-component-update", "--disable-sync", "--metrics-recording-only", "about:blank"]
        if hasattr(os, "geteuid") and os.geteuid() == 0:
            args.insert(1, "--no-sandbox")  # Chromium refuses to run its sandbox as root
        self._proc = subprocess.Popen(args, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                                      stdin=subprocess.DEVNULL)
        self._events: list[dict[str, Any]] = []
        self._next_id = 0
        try:
            port = self._wait_port()
            with urllib.request.urlopen(f"http://127.0.0.1:{port}/json/list", timeout=self.timeout) as resp:
                targets = json.loads(resp.read())
            page = next(t for t in targets if t.get("type") == "page")
            self._ws = websocket.create_connection(page["webSocketDebuggerUrl"], timeout=self.timeout,
                                                   suppress_origin=True, enable_multithread=False)
            for domain in ("Page", "Runtime", "Log"):
                self.send(f"{domain}.enable")
            self.send("Emulation.setDeviceMetricsOverride", width=width, height=height, deviceScaleFactor=1,
                      mobile=False)
        except BaseException:
            self.close()
            raise

    # -- plumbing ------------------------------------------------------------------------------
    def _wait_port(self) -> int:
        path = Path(self._profile) / "DevToolsActivePort"
        deadline = time.monotonic() + self.timeout
        while time.monotonic() < deadline:
            if self._proc.poll() is not None:
                raise BrowserError(f"{self.executable} exited with code {self._proc.returncode} at start-up")
            try:
                text = path.read_text().split()
                if text:
                    return int(text[0])
            except (FileNotFoundError, ValueError):
                pass
            time.sleep(0.05)
        raise BrowserError(f"{self.executable} did not open its DevTools port within {self.timeout:.0f} s")

    def send(self, method: str, **params: Any) -> dict[str, Any]:
        """Call a DevTools method and return its result (events received meanwhile are kept)."""
        self._next_id += 1
        mid = self._next_id
        self._ws.send(json.dumps({"id": mid, "method": method, "params": params}))
        while True:
            msg = json.loads(self._ws.recv())
            if msg.get("id") == mid:
                if "error" in msg:
                    raise BrowserError(f"{method}: {msg['error'].get('message')}")
                return msg.get("result", {})
            if "method" in msg:
                self._events.append(msg)

    def _poll_events(self, seconds: float) -> None:
        self._ws.settimeout(seconds)
        try:
            while True:
                msg = json.loads(self._ws.recv())
                if "method" in msg:
                    self._events.append(msg)
        except Exception:  # the timeout: nothing more for now
            pass
        finally:
            self._ws.settimeout(self.timeout)

    def evaluate(self, expression: str) -> Any:
        """Evaluate JavaScript in the page (promises awaited) and return its JSON value."""
        res = self.send("Runtime.evaluate", expression=expression, returnByValue=True, awaitPromise=True)
        if "exceptionDetails" in res:
            raise BrowserError(f"evaluate: {res['exceptionDetails'].get('text')} in {expression[:80]!r}")
        return res.get("result", {}).get("value")

    @staticmethod
    def _error_text(msg: dict[str, Any]) -> str | None:
        method, p = msg.get("method"), msg.get("params", {})
        if method == "Runtime.exceptionThrown":
            d = p.get("exceptionDetails", {})
            desc = (d.get("exception") or {}).get("description") or d.get("text", "exception")
            return f"uncaught: {desc} ({d.get('url', '')}:{d.get('lineNumber', 0) + 1})"
        if method == "Runtime.consoleAPICalled" and p.get("type") in ("error", "assert"):
            args = " ".join(str(a.get("value", a.get("description", ""))) for a in p.get("args", []))
            return f"console.{p.get('type')}: {args}"
        if method == "Log.entryAdded" and p.get("entry", {}).get("level") == "error":
            e = p["entry"]
            return f"log ({e.get('source')}): {e.get('text')} {e.get('url', '')}".rstrip()
        return None

    # -- pages -----------------------------------------------------------------------------------
    def load(self, page: str | os.PathLike, *, wait_for_charts: bool = True, settle: float = 0.2) -> PageLoad:
        """Open ``page`` (a path or URL), wait for its charts, and report errors and render time."""
        url = page if isinstance(page, str) and "://" in page else Path(page).resolve().as_uri()
        self._events.clear()
        t0 = time.perf_counter()
        self.send("Page.navigate", url=url)
        deadline = time.monotonic() + self.timeout
        loaded = False
        while time.monotonic() < deadline and not loaded:
            self._poll_events(0.05)
            loaded = any(m.get("method") == "Page.loadEventFired" for m in self._events)
        if not loaded:
            raise BrowserError(f"{url}: the page did not load within {self.timeout:.0f} s")
        charts = 0
        if wait_for_charts:
            while True:
                value = self.evaluate("document.body && document.body.getAttribute('data-charts-rendered')")
                if value is not None:
                    charts = int(value)
                    break
                if any(self._error_text(m) for m in self._events) or time.monotonic() > deadline:
                    break
                self._poll_events(0.03)
        seconds = time.perf_counter() - t0
        self._poll_events(settle)  # late errors (hover handlers, resize) still count
        errors = [t for t in (self._error_text(m) for m in self._events) if t]
        return PageLoad(url, errors, seconds, charts)

    def full_height(self) -> int:
        return int(self.evaluate("Math.ceil(document.documentElement.scrollHeight)") or self.height)

    def screenshot(self, path: str | os.PathLike | None = None, *, full_page: bool = True,
                   clip: dict[str, float] | None = None) -> bytes:
        """A PNG of the page (the whole page by default, or ``clip`` in CSS pixels); written to ``path`` if given."""
        params: dict[str, Any] = {"format": "png", "captureBeyondViewport": full_page}
        if clip is not None:
            params["clip"] = {**clip, "scale": 1}
        elif full_page:
            params["clip"] = {"x": 0, "y": 0, "width": self.width, "height": self.full_height(), "scale": 1}
        data = base64.b64decode(self.send("Page.captureScreenshot", **params)["data"])
        if path is not None:
            Path(path).write_bytes(data)
        return data

    def close(self) -> None:
        ws = getattr(self, "_ws", None)
        if ws is not None:
            try:
                ws.close()
            except Exception:
                pass
            self._ws = None
        proc = getattr(self, "_proc", None)
        if proc is not None and proc.poll() is None:
            proc.terminate()
            try:
                proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()
        shutil.rmtree(self._profile, ignore_errors=True)

    def __enter__(self) -> HeadlessChromium:
        return self

    def __exit__(self, *exc: Any) -> None:
        self.close()
