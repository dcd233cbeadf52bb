"""Opening a data source from a ``KIND:PATH`` string (:func:`open_source`): the registry of kinds.

The sources themselves build on :mod:`gridregime.collect.sources.common`; this module sits
above them and is the only one that knows them all.
"""
from __future__ import annotations

from pathlib import Path

from gridregime.collect.sources.binance_csv import BinanceCsvSource
from gridregime.collect.sources.exchange import ExchangeSource
from gridregime.collect.sources.freqtrade import FreqtradeSource
from gridregime.collect.sources.parquet import ParquetDirSource
from gridregime.collect.sources.synthetic import SyntheticSource
from gridregime.errors import InvalidParameterError

#: Kinds accepted by :func:`open_source`, in the order they are listed in error messages.
SOURCE_KINDS = ("parquet", "binance-csv", "freqtrade", "synthetic", "ccxt")


def open_source(spec: object, *, name: str = "source"):
    """Open a source from a ``KIND:PATH`` string.

    Kinds: ``ccxt:EXCHANGE`` (a live exchange, extra ``exchange``), ``parquet:DIR``
    (``SYMBOL_TF_FIRST_LAST.parquet`` files), ``binance-csv:PATH`` (a
    Binance public-data kline CSV or zip, or a directory of them), ``freqtrade:DIR``
    (``PAIR-TF.json`` / ``.feather``) and ``synthetic:SEED`` (``synthetic`` alone is seed 0).

    Raises
    ------
    InvalidParameterError
        Naming ``name`` and listing the kinds when the spec is malformed or the path is missing.
    """
    kinds = ", ".join(SOURCE_KINDS)
    usage = f"expected KIND:PATH with KIND one of {kinds} (e.g. 'parquet:data/real', 'synthetic:42')"
    if not isinstance(spec, str) or not spec.strip():
        raise InvalidParameterError(f"{name}: {usage}, got {spec!r}")
    kind, sep, rest = spec.strip().partition(":")
    kind = kind.lower()
    if kind == "ccxt":
        if not sep or not rest.strip():
            raise InvalidParameterError(f"{name}: expected ccxt:EXCHANGE such as 'ccxt:binance', got {spec!r}")
        try:
            return ExchangeSource(rest.strip())
        except InvalidParameterError as exc:
            raise InvalidParameterError(f"{name}: {str(exc).partition(': ')[2]}") from None
    if kind == "synthetic":
        seed_text = rest.strip() if sep else "0"
        try:
            seed = int(seed_text or "0")
        except ValueError:
            raise InvalidParameterError(
                f"{name}: expected synthetic:SEED with an integer seed, got {spec!r}"
            ) from None
        if seed < 0:
            raise InvalidParameterError(f"{name}: expected a seed >= 0, got {seed}")
        return SyntheticSource(seed)
    if kind not in SOURCE_KINDS or not sep or not rest:
        raise InvalidParameterError(f"{name}: {usage}, got {spec!r}")
    path = Path(rest).expanduser()
    if not path.exists():
        raise InvalidParameterError(f"{name}: {kind} path {str(path)!r} does not exist")
    if kind == "parquet":
        return ParquetDirSource(path)
    if kind == "binance-csv":
        return BinanceCsvSource(path)
    return FreqtradeSource(path)


