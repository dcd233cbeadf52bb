"""Option groups the sub-commands share, declared once so that every command spells them alike.

Each helper adds one group to a parser (or to a mutually exclusive group) with the option
names, defaults and help texts the commands have always had; the ``check_*`` helpers give
the errors that name the option.
"""
from __future__ import annotations

import argparse
from collections.abc import Callable, Collection, Iterator
from contextlib import contextmanager
from pathlib import Path

from gridregime.errors import InvalidParameterError


def add_command(subparsers, name: str, run: Callable[[argparse.Namespace], int], *, help: str,  # noqa: A002
                description: str, epilog: str | None = None) -> argparse.ArgumentParser:
    """The parser of sub-command ``name``, which runs ``run``.

    ``description`` is one paragraph, written as a triple-quoted block: its line breaks and
    indentation are folded into single spaces. An ``epilog`` is printed as written.
    """
    extra = {} if epilog is None else {"epilog": epilog, "formatter_class": argparse.RawDescriptionHelpFormatter}
    parser = subparsers.add_parser(name, help=help, description=" ".join(description.split()), **extra)
    parser.set_defaults(func=run)
    return parser


def add_root(parser, *, required: bool = True) -> None:
    """``--root``: an existing snapshot store (``required=False`` inside a required exclusive group)."""
    parser.add_argument("--root", required=required, help="snapshot root directory")


def add_created_root(parser) -> None:
    """``--root DIR`` of the commands that write a store (collect, serve)."""
    parser.add_argument("--root", required=True, metavar="DIR", help="snapshot store root (created if missing)")


def add_symbols_range(parser) -> None:
    """``--symbols``, ``--start`` and ``--end`` (inclusive) of the commands that re-read a store."""
    parser.add_argument("--symbols", required=True, nargs="+", help="symbols, e.g. ETH-USDT BTC-USDT")
    parser.add_argument("--start", required=True, help="first hour, ISO-8601 (UTC)")
    parser.add_argument("--end", required=True, help="last hour, ISO-8601 (UTC), inclusive")


def add_store_dir(parser) -> None:
    """The positional ``DIR`` of a store and ``--symbol`` (compact, validate)."""
    parser.add_argument("root", metavar="DIR", help="snapshot store root")
    parser.add_argument("--symbol", help="only this market, e.g. ETH-USDT")


def add_config(parser, help: str = "RegimeConfig TOML file") -> None:  # noqa: A002
    parser.add_argument("--config", default=None, help=help)


def add_grid_dir(parser) -> None:
    """``--grid-dir`` of the commands that step the grid supervisor live (collect, serve)."""
    parser.add_argument("--grid-dir", metavar="DIR", help="grid supervisor state (default ROOT/grid)")


def add_workers(parser, *, default: int = 1, purpose: str = "") -> None:
    """``--workers N`` worker processes (``purpose`` e.g. " for the analysis" joins the help)."""
    parser.add_argument("--workers", type=int, default=default, help=f"worker processes{purpose} (default {default})")


def add_quiet(parser, help: str = "no progress bar") -> None:  # noqa: A002
    parser.add_argument("--quiet", action="store_true", help=help)


def split_symbols(items: list[str], *, required: bool = True) -> list[str]:
    """``--symbols`` values, each possibly comma-separated, as one list of symbols."""
    symbols = [s for item in items for s in item.split(",") if s]
    if required and not symbols:
        raise InvalidParameterError("--symbols: expected at least one symbol such as ETH-USDT")
    return symbols


def check_workers(workers: int) -> None:
    if workers < 1:
        raise InvalidParameterError(f"--workers: expected an integer >= 1, got {workers}")


def check_store_root(root: str) -> None:
    if not Path(root).is_dir():
        raise InvalidParameterError(f"--root: expected a snapshot directory, got {root!r} (not a directory)")


def check_store_dir(root: str) -> None:
    """The positional ``DIR`` of :func:`add_store_dir` must be a directory."""
    if not Path(root).is_dir():
        raise InvalidParameterError(f"DIR: expected a snapshot store directory, got {root!r}")


@contextmanager
def named_as_options(names: Collection[str]) -> Iterator[None]:
    """Re-raise an error about keyword ``name`` (one of ``names``) as one about option ``--name``,
    so a user reads the option they typed, not the keyword argument behind it."""
    try:
        yield
    except InvalidParameterError as exc:
        name, sep, rest = str(exc).partition(":")
        if sep and name in names:
            raise InvalidParameterError(f"--{name.replace('_', '-')}:{rest}") from exc
        raise
