"""FastAPI app of the collection webhook.

Routes (``prefix`` defaults to ``/webhook``; n8n's own webhooks live under that path on the n8n
host, so a deployment next to n8n may choose another):

- ``POST {prefix}/collect`` ``{"trigger_time"?: ISO-8601, "symbols": [...]}`` → the collector's
  answer (``200``), or ``202`` with a run id when the work outlasts ``time_budget`` seconds;
- ``GET {prefix}/runs/{run_id}`` → the answer of a run (``202`` while it is running);
- ``GET {prefix}/results/{symbol}/{hour}`` → the stored outcome and YAML summary of an hour;
- ``GET /health``; ``GET /openapi.json``.

Security: a bearer token (compared with :func:`secrets.compare_digest`) on every route but
``/health`` and the schema when one is configured; an optional HMAC-SHA256 signature of
``"<timestamp>." + raw body`` in ``X-Signature`` (``sha256=<hex>``) with the Unix time in
``X-Signature-Timestamp`` (±5 minutes); a request-size limit. Errors are
``{"status": "error", "error": {"code", "message"}}``; an unexpected failure is logged and
answered ``500 internal_error`` without details.

Duplicate triggers are harmless: an ``Idempotency-Key`` replays the first answer (a different
body under the same key is ``409``), and (symbol, hour) idempotency in the collector answers a
repeated hour from the stored files.
"""
from __future__ import annotations

import asyncio
import hashlib
import hmac
import ipaddress
import logging
import re
import secrets
import time
import uuid
from collections import OrderedDict
from dataclasses import dataclass
from typing import Any, Literal

import orjson

from gridregime import __version__
from gridregime.collect.collector import (
    CollectReport,
    MetricsCollector,
    check_hour,
    closed_hour,
)
from gridregime.errors import GridRegimeError, InvalidParameterError
from gridregime.symbols import validate_symbol
from gridregime.timeutil import iso_z

try:
    from fastapi import FastAPI, Path, Request
    from fastapi.exceptions import RequestValidationError
    from fastapi.responses import JSONResponse
    from pydantic import BaseModel
    from starlette.concurrency import run_in_threadpool
    from starlette.exceptions import HTTPException as StarletteHTTPException
except ImportError as exc:  # pragma: no cover - depends on the optional extra
    raise ImportError("gridregime.server needs the optional extra: pip install 'gridregime[server]'") from exc

log = logging.getLogger("gridregime.server")

SIGNATURE_HEADER = "X-Signature"
TIMESTAMP_HEADER = "X-Signature-Timestamp"
SIGNATURE_TOLERANCE_S = 300
MAX_SYMBOLS = 200
_IDEMPOTENCY_KEY = re.compile(r"^[\x21-\x7e]{1,200}$")
_RUN_ID = re.compile(r"^[0-9a-f]{32}$")
_PREFIX = re.compile(r"^(/[A-Za-z0-9._~-]+)+$")


# -- response models (they make the published OpenAPI schema) ------------------------------------
class ErrorDetail(BaseModel):
    code: str
    message: str


class ErrorResponse(BaseModel):
    status: Literal["error"]
    error: ErrorDetail


class RangeOut(BaseModel):
    method: str | None
    lower: float | None
    upper: float | None


class Outcome(BaseModel):
    symbol: str
    hour: str
    status: Literal["ok", "insufficient_data", "incomplete", "error"]
    reason: str | None
    files: dict[str, str]
    verdict: str | None
    confidence: float | None
    range: RangeOut | None
    action: str | None
    actionable: bool
    grid_enabled: bool
    gate_phase: str | None
    time_floor_hours_left: int | None


class CollectResponse(BaseModel):
    status: Literal["ok"]
    hour: str
    results: list[Outcome]
    duration_ms: float


class RunAccepted(BaseModel):
    status: Literal["accepted", "running"]
    run_id: str
    location: str


class StoredResult(BaseModel):
    status: Literal["ok"]
    result: Outcome
    summary: dict[str, Any]


class Health(BaseModel):
    status: Literal["ok"]
    version: str


COLLECT_REQUEST_SCHEMA = {
    "type": "object",
    "required": ["symbols"],
    "additionalProperties": False,
    "properties": {
        "trigger_time": {
            "type": "string", "format": "date-time",
            "description": "When the trigger fired (UTC, ISO-8601; default now). The hour before it is collected.",
        },
        "symbols": {
            "type": "array", "minItems": 1, "maxItems": MAX_SYMBOLS,
            "items": {"type": "string", "pattern": r"^[A-Z0-9]{1,20}-[A-Z0-9]{1,20}$"},
        },
    },
}


def _errors(*codes: int) -> dict[int | str, dict[str, Any]]:
    text = {400: "Bad request", 401: "Missing or wrong credentials", 404: "Not found", 409: "Conflict",
            413: "Request too large", 500: "Internal error"}
    return {code: {"model": ErrorResponse, "description": text[code]} for code in codes}


class ApiError(Exception):
    def __init__(self, status: int, code: str, message: str, headers: dict[str, str] | None = None) -> None:
        super().__init__(message)
        self.status, self.code, self.message, self.headers = status, code, message, headers


def error_response(status: int, code: str, message: str, headers: dict[str, str] | None = None) -> JSONResponse:
    return JSONResponse({"status": "error", "error": {"code": code, "message": message}}, status_code=status,
                        headers=headers)


@dataclass(frozen=True)
class ServerSettings:
    """How the webhook behaves.

    ``token``: required bearer token (None: no authentication, loopback only). ``hmac_secret``:
    when set, every ``POST`` must carry a valid signature. ``max_body``: bytes. ``time_budget``:
    seconds a ``POST`` waits for the collection before answering ``202``.
    """

    prefix: str = "/webhook"
    token: str | None = None
    hmac_secret: str | None = None
    max_body: int = 64 * 1024
    time_budget: float = 20.0
    max_runs: int = 1000
    max_idempotency_keys: int = 10000

    def __post_init__(self) -> None:
        prefix = self.prefix.rstrip("/")
        if prefix and not _PREFIX.match(prefix):
            raise InvalidParameterError(f"prefix: expected a path such as '/webhook' or '/gridregime', got {self.prefix!r}")
        object.__setattr__(self, "prefix", prefix)
        if self.token is not None and (not isinstance(self.token, str) or len(self.token) < 16):
            raise InvalidParameterError("token: expected a secret of at least 16 characters")
        if self.hmac_secret is not None and (not isinstance(self.hmac_secret, str) or len(self.hmac_secret) < 16):
            raise InvalidParameterError("hmac_secret: expected a secret of at least 16 characters")
        if isinstance(self.max_body, bool) or not isinstance(self.max_body, int) or self.max_body < 256:
            raise InvalidParameterError(f"max_body: expected an integer >= 256 bytes, got {self.max_body!r}")
        if not isinstance(self.time_budget, (int, float)) or isinstance(self.time_budget, bool) \
                or not 0 < self.time_budget <= 3600:
            raise InvalidParameterError(f"time_budget: expected seconds in (0, 3600], got {self.time_budget!r}")


class _Runs:
    """Collections that outlasted the time budget, by run id (oldest forgotten first)."""

    def __init__(self, limit: int) -> None:
        self.limit = limit
        self.tasks: OrderedDict[str, asyncio.Task] = OrderedDict()

    def add(self, task: asyncio.Task) -> str:
        run_id = uuid.uuid4().hex
        self.tasks[run_id] = task
        while len(self.tasks) > self.limit:
            old_id, old = next(iter(self.tasks.items()))
            if not old.done():
                break
            del self.tasks[old_id]
        return run_id


class _Idempotency:
    """``Idempotency-Key`` → (body digest, the future answer)."""

    def __init__(self, limit: int) -> None:
        self.limit = limit
        self.entries: OrderedDict[str, tuple[str, asyncio.Future]] = OrderedDict()

    def claim(self, key: str, digest: str) -> tuple[bool, asyncio.Future]:
        """(True, future to fill) for a new key; (False, the first request's future) for a repeat."""
        entry = self.entries.get(key)
        if entry is not None:
            if entry[0] != digest:
                raise ApiError(409, "idempotency_key_reused",
                               "Idempotency-Key: already used with a different request body")
            return False, entry[1]
        fut = asyncio.get_running_loop().create_future()
        self.entries[key] = (digest, fut)
        while len(self.entries) > self.limit:
            self.entries.popitem(last=False)
        return True, fut

    def forget(self, key: str) -> None:
        self.entries.pop(key, None)


def _check_auth(request: Request, token: str | None) -> None:
    if token is None:
        return
    header = request.headers.get("authorization", "")
    scheme, _, given = header.partition(" ")
    if scheme.lower() != "bearer" or not given:
        raise ApiError(401, "unauthorized", "Authorization: expected 'Bearer <token>'",
                       {"WWW-Authenticate": "Bearer"})
    if not secrets.compare_digest(given.strip().encode("utf-8", "replace"), token.encode("utf-8")):
        raise ApiError(401, "unauthorized", "Authorization: the bearer token is not valid",
                       {"WWW-Authenticate": "Bearer"})


def sign(secret: str, timestamp: int | str, body: bytes) -> str:
    """The ``X-Signature`` value of ``body`` sent at ``timestamp`` (Unix seconds)."""
    mac = hmac.new(secret.encode("utf-8"), f"{timestamp}.".encode() + body, hashlib.sha256)
    return "sha256=" + mac.hexdigest()


def _check_signature(request: Request, secret: str | None, body: bytes) -> None:
    if secret is None:
        return
    ts_text = request.headers.get(TIMESTAMP_HEADER, "")
    given = request.headers.get(SIGNATURE_HEADER, "")
    if not ts_text.isdigit() or len(ts_text) > 12:
        raise ApiError(401, "bad_signature", f"{TIMESTAMP_HEADER}: expected the Unix time in seconds")
    if abs(time.time() - int(ts_text)) > SIGNATURE_TOLERANCE_S:
        raise ApiError(401, "bad_signature",
                       f"{TIMESTAMP_HEADER}: expected a time within {SIGNATURE_TOLERANCE_S} s of the server's clock")
    if not hmac.compare_digest(given.encode("utf-8", "replace"), sign(secret, ts_text, body).encode()):
        raise ApiError(401, "bad_signature",
                       f"{SIGNATURE_HEADER}: expected sha256=<hex HMAC-SHA256 of '<timestamp>.' + body>")


async def _read_body(request: Request, limit: int) -> bytes:
    declared = request.headers.get("content-length")
    if declared is not None:
        if not declared.isdigit():
            raise ApiError(400, "bad_request", "Content-Length: expected a number of bytes")
        if int(declared) > limit:
            raise ApiError(413, "body_too_large", f"body: expected at most {limit} bytes, got {declared}")
    chunks, size = [], 0
    async for chunk in request.stream():
        size += len(chunk)
        if size > limit:
            raise ApiError(413, "body_too_large", f"body: expected at most {limit} bytes")
        chunks.append(chunk)
    return b"".join(chunks)


def _parse_collect(body: bytes) -> tuple[Any, list[Any]]:
    try:
        doc = orjson.loads(body)
    except orjson.JSONDecodeError:
        raise ApiError(400, "malformed_json", "body: expected a JSON object such as "
                       '{"symbols": ["ETH-USDT"]}') from None
    if not isinstance(doc, dict):
        raise ApiError(400, "invalid_body", f"body: expected a JSON object, got {type(doc).__name__}")
    unknown = sorted(set(doc) - {"trigger_time", "symbols"})
    if unknown:
        raise ApiError(400, "invalid_body", f"body: unknown field(s) {', '.join(map(repr, unknown))}; "
                       "expected trigger_time and symbols")
    if "symbols" not in doc:
        raise ApiError(400, "invalid_body", "symbols: required (a list such as [\"ETH-USDT\"])")
    symbols = doc["symbols"]
    if not isinstance(symbols, list) or not symbols:
        raise ApiError(400, "invalid_body", "symbols: expected a non-empty list of strings such as [\"ETH-USDT\"]")
    if len(symbols) > MAX_SYMBOLS:
        raise ApiError(400, "invalid_body", f"symbols: expected at most {MAX_SYMBOLS}, got {len(symbols)}")
    trigger = doc.get("trigger_time")
    if trigger is not None and not isinstance(trigger, str):
        raise ApiError(400, "invalid_body", "trigger_time: expected an ISO-8601 string such as '2024-01-15T14:00:05Z'")
    return trigger, symbols


def create_app(collector: MetricsCollector, settings: ServerSettings | None = None) -> FastAPI:
    """The webhook app over ``collector``."""
    settings = ServerSettings() if settings is None else settings
    prefix = settings.prefix
    app = FastAPI(title="gridregime collection webhook", version=__version__,
                  description="Hourly snapshot collection, analysis and grid supervision (SPEC §9).")
    runs = _Runs(settings.max_runs)
    keys = _Idempotency(settings.max_idempotency_keys)
    app.state.collector, app.state.settings = collector, settings

    @app.exception_handler(ApiError)
    async def _api_error(request: Request, exc: ApiError):
        return error_response(exc.status, exc.code, exc.message, exc.headers)

    @app.exception_handler(RequestValidationError)
    async def _validation_error(request: Request, exc: RequestValidationError):
        errs = exc.errors()
        where = ".".join(str(p) for p in errs[0].get("loc", ())) if errs else "request"
        what = errs[0].get("msg", "invalid") if errs else "invalid"
        return error_response(400, "bad_request", f"{where}: {what}")

    @app.exception_handler(StarletteHTTPException)
    async def _http_error(request: Request, exc: StarletteHTTPException):
        codes = {404: "not_found", 405: "method_not_allowed"}
        message = {404: "no such route", 405: "method not allowed"}.get(exc.status_code, "request refused")
        return error_response(exc.status_code, codes.get(exc.status_code, "http_error"), message,
                              getattr(exc, "headers", None))

    @app.exception_handler(Exception)
    async def _internal_error(request: Request, exc: Exception):
        log.exception("unexpected error on %s %s", request.method, request.url.path)
        return error_response(500, "internal_error", "internal error; see the server log")

    @app.get("/health", response_model=Health, responses=_errors(500))
    async def health() -> dict[str, Any]:
        return {"status": "ok", "version": __version__}

    async def _collect(hour, symbols) -> tuple[int, dict[str, Any]]:
        stored = collector.stored_report(hour, symbols)  # a repeat: answered without a worker thread
        if stored is not None:
            return 200, stored.to_dict()
        task = asyncio.ensure_future(run_in_threadpool(collector.collect_hour, hour, symbols))
        try:
            report: CollectReport = await asyncio.wait_for(asyncio.shield(task), settings.time_budget)
        except TimeoutError:
            run_id = runs.add(task)
            return 202, {"status": "accepted", "run_id": run_id, "location": f"{prefix}/runs/{run_id}"}
        return 200, report.to_dict()

    @app.post(f"{prefix}/collect", response_model=CollectResponse,
              responses={202: {"model": RunAccepted, "description": "Still running; poll the location"},
                         **_errors(400, 401, 409, 413, 500)},
              openapi_extra={"requestBody": {"required": True, "content": {
                  "application/json": {"schema": COLLECT_REQUEST_SCHEMA}}},
                  "parameters": [{"name": "Idempotency-Key", "in": "header", "required": False,
                                  "schema": {"type": "string", "pattern": r"^[\x21-\x7e]{1,200}$"}}]})
    async def collect(request: Request):
        """Collect, store, analyse and supervise the hour before ``trigger_time`` for ``symbols``."""
        _check_auth(request, settings.token)
        key = request.headers.get("idempotency-key")
        if key is not None and not _IDEMPOTENCY_KEY.match(key):
            raise ApiError(400, "bad_request", "Idempotency-Key: expected 1 to 200 printable ASCII characters")
        body = await _read_body(request, settings.max_body)
        _check_signature(request, settings.hmac_secret, body)
        trigger, raw_symbols = _parse_collect(body)
        try:
            hour = check_hour(closed_hour(trigger), name="trigger_time")
            symbols = collector.check_symbols(raw_symbols)
        except InvalidParameterError as exc:
            raise ApiError(400, "invalid_parameter", str(exc)) from None
        except GridRegimeError as exc:  # the source could not say which symbols it has
            log.error("symbols could not be checked: %s", exc)
            raise ApiError(500, "source_unavailable", "the data source did not answer; see the server log") from None
        if key is None:
            status, payload = await _collect(hour, symbols)
            return JSONResponse(payload, status_code=status)
        digest = hashlib.sha256(orjson.dumps({"hour": iso_z(hour), "symbols": symbols})).hexdigest()
        first, fut = keys.claim(key, digest)
        if first:
            try:
                fut.set_result(await _collect(hour, symbols))
            except BaseException as exc:
                keys.forget(key)
                fut.set_exception(exc)
                fut.exception()  # retrieved: a failed first attempt must not log "never retrieved"
                raise
        status, payload = await asyncio.shield(fut)
        return JSONResponse(payload, status_code=status, headers=None if first else {"Idempotent-Replayed": "true"})

    @app.get(f"{prefix}/runs/{{run_id}}", response_model=CollectResponse,
             responses={202: {"model": RunAccepted, "description": "Still running"}, **_errors(400, 401, 404, 500)})
    async def run_status(request: Request, run_id: str = Path(pattern=r"^[0-9a-f]{32}$")):
        """The answer of a collection that outlasted the time budget."""
        _check_auth(request, settings.token)
        if not _RUN_ID.match(run_id):
            raise ApiError(400, "bad_request", "run_id: expected 32 lower-case hex digits")
        task = runs.tasks.get(run_id)
        if task is None:
            raise ApiError(404, "not_found", f"run_id: no run {run_id}")
        if not task.done():
            return JSONResponse({"status": "running", "run_id": run_id, "location": f"{prefix}/runs/{run_id}"},
                                status_code=202)
        exc = task.exception()
        if exc is not None:
            log.error("run %s failed: %r", run_id, exc)
            raise ApiError(500, "internal_error", "the run failed; see the server log")
        return JSONResponse(task.result().to_dict())

    @app.get(f"{prefix}/results/{{symbol}}/{{hour}}", response_model=StoredResult,
             responses=_errors(400, 401, 404, 500))
    async def stored_result(request: Request,
                            symbol: str = Path(pattern=r"^[A-Z0-9]{1,20}-[A-Z0-9]{1,20}$"),
                            hour: str = Path(pattern=r"^\d{4}-\d{2}-\d{2}T\d{2}(:00(:00)?)?Z?$")):
        """The stored outcome and YAML summary of (symbol, hour); ``hour`` like ``2024-01-15T13:00:00Z``."""
        _check_auth(request, settings.token)
        try:
            symbol = validate_symbol(symbol)
            h = check_hour(hour)
        except InvalidParameterError as exc:
            raise ApiError(400, "invalid_parameter", str(exc)) from None
        try:
            outcome = collector.stored(symbol, h)
            summary = collector.stored_summary(symbol, h) if outcome is not None else None
        except GridRegimeError as exc:
            raise ApiError(500, "unreadable", f"the stored summary of {symbol} {iso_z(h)} is unreadable") from exc
        if outcome is None or summary is None:
            raise ApiError(404, "not_found", f"{symbol} {iso_z(h)}: not collected")
        return JSONResponse({"status": "ok", "result": outcome.to_dict(), "summary": summary})

    return app


def is_loopback(host: str) -> bool:
    """True for ``localhost`` and loopback addresses (127.0.0.0/8, ::1)."""
    if host.strip().lower() == "localhost":
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False


def serve(collector: MetricsCollector, settings: ServerSettings, *, host: str = "127.0.0.1", port: int = 8080,
          log_level: str = "info", access_log: bool = True) -> None:
    """Run the webhook under uvicorn until interrupted; refuses a non-loopback host without a token."""
    import uvicorn

    if not is_loopback(host) and settings.token is None:
        raise InvalidParameterError(f"--host: {host} is beyond loopback; a token is required (set --token-env)")
    if isinstance(port, bool) or not isinstance(port, int) or not 0 <= port <= 65535:
        raise InvalidParameterError(f"--port: expected 0..65535, got {port!r}")
    app = create_app(collector, settings)
    uvicorn.run(app, host=host, port=port, log_level=log_level, access_log=access_log,
                timeout_graceful_shutdown=10)
