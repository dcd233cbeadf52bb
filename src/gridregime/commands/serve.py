"""``gridregime serve``: the collection webhook for n8n (FastAPI + uvicorn, extra ``server``)."""
from __future__ import annotations

import argparse
import os

from gridregime.commands._options import add_command, add_config, add_created_root, add_grid_dir
from gridregime.errors import InvalidParameterError

EPILOG = """\
routes (PREFIX defaults to /webhook):
  POST PREFIX/collect                {"trigger_time"?: ISO-8601, "symbols": [...]}
  GET  PREFIX/runs/RUN_ID            answer of a collection that outlasted --time-budget (202 before)
  GET  PREFIX/results/SYMBOL/HOUR    stored outcome and YAML summary of an hour
  GET  /health, GET /openapi.json

security:
  The token is read from the environment variable named by --token-env (default GRIDREGIME_TOKEN)
  and sent as 'Authorization: Bearer <token>'. Without a token the server binds only to loopback.
  With --hmac-env, POSTs must also carry X-Signature: sha256=HMAC(secret, "<ts>." + body) and
  X-Signature-Timestamp: <unix seconds> (within 5 minutes).

example:
  export GRIDREGIME_TOKEN=$(python -c 'import secrets; print(secrets.token_urlsafe(32))')
  gridregime serve --root /srv/snapshots --source ccxt:binance --prefix /gridregime
"""


def register(subparsers) -> None:
    p = add_command(
        subparsers, "serve", run,
        help="run the collection webhook (n8n / cron trigger over HTTP)",
        description="""
            Serve POST PREFIX/collect: each call stores, analyses and supervises the hour that just closed for
            the given symbols, exactly as 'gridregime collect' does.
        """,
        epilog=EPILOG,
    )
    add_created_root(p)
    p.add_argument("--source", required=True, metavar="KIND:PATH",
                   help="data source: ccxt:EXCHANGE, parquet:DIR, binance-csv:PATH, freqtrade:DIR, synthetic:SEED")
    p.add_argument("--host", default="127.0.0.1", help="address to bind (default 127.0.0.1)")
    p.add_argument("--port", default="8080", help="port (default 8080; 0 picks a free one)")
    p.add_argument("--prefix", default="/webhook", help="path prefix of the webhook routes (default /webhook)")
    p.add_argument("--token-env", default=None, metavar="NAME",
                   help="environment variable holding the bearer token (default GRIDREGIME_TOKEN if set)")
    p.add_argument("--hmac-env", default=None, metavar="NAME",
                   help="environment variable holding the HMAC-SHA256 signing secret (signatures required)")
    p.add_argument("--max-body", default="65536", metavar="BYTES", help="largest request body (default 65536)")
    p.add_argument("--time-budget", default="20", metavar="SECONDS",
                   help="answer 202 with a run id when a collection takes longer (default 20)")
    add_grid_dir(p)
    add_config(p)
    p.add_argument("--log-level", default="info", choices=("critical", "error", "warning", "info", "debug"))


def _int(text: str, option: str, low: int, high: int) -> int:
    try:
        value = int(text)
    except ValueError:
        value = low - 1
    if not low <= value <= high:
        raise InvalidParameterError(f"{option}: expected an integer in {low}..{high}, got {text!r}")
    return value


def _secret(option: str, name: str | None, default: str | None) -> str | None:
    if name is None:
        if default is None or not os.environ.get(default):
            return None
        name = default
    elif not name or not name.replace("_", "").isalnum():
        raise InvalidParameterError(f"{option}: expected an environment variable name, got {name!r}")
    value = os.environ.get(name)
    if not value:
        raise InvalidParameterError(f"{option}: the environment variable {name} is not set or empty")
    if len(value) < 16:
        raise InvalidParameterError(f"{option}: the secret in {name} must be at least 16 characters long")
    return value


def run(args: argparse.Namespace) -> int:
    try:
        from gridregime.server import ServerSettings, serve
    except ImportError as exc:
        raise InvalidParameterError(f"serve: {exc}") from None
    from gridregime.collect import open_source
    from gridregime.collect.collector import MetricsCollector
    from gridregime.commands._config import load_config_option as load_config

    port = _int(args.port, "--port", 0, 65535)
    max_body = _int(args.max_body, "--max-body", 256, 64 * 1024 * 1024)
    try:
        budget = float(args.time_budget)
    except ValueError:
        budget = -1.0
    if not 0 < budget <= 3600:
        raise InvalidParameterError(f"--time-budget: expected seconds in (0, 3600], got {args.time_budget!r}")
    token = _secret("--token-env", args.token_env, "GRIDREGIME_TOKEN")
    secret = _secret("--hmac-env", args.hmac_env, None)
    try:
        settings = ServerSettings(prefix=args.prefix, token=token, hmac_secret=secret, max_body=max_body,
                                  time_budget=budget)
    except InvalidParameterError as exc:
        name, _, rest = str(exc).partition(":")
        raise InvalidParameterError(f"--{name.replace('_', '-')}:{rest}") from None
    source = open_source(args.source, name="--source")
    collector = MetricsCollector(source, args.root, config=load_config(args.config), grid_dir=args.grid_dir)
    serve(collector, settings, host=args.host, port=port, log_level=args.log_level)
    return 0
