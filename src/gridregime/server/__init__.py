"""The collection webhook (SPEC §9): a FastAPI app over :class:`~gridregime.collect.collector.MetricsCollector`.

Needs the ``server`` extra (``pip install 'gridregime[server]'``). :func:`create_app` builds the app;
:func:`serve` runs it under uvicorn after checking that it binds beyond loopback only with a token.
"""
from gridregime.server.app import ServerSettings, create_app, is_loopback, serve

__all__ = ["ServerSettings", "create_app", "is_loopback", "serve"]
