"""``gridregime`` console script. Sub-commands live in :mod:`gridregime.commands`."""
from __future__ import annotations

import argparse
import importlib
import pkgutil
import sys

from gridregime import __version__
from gridregime.errors import GridRegimeError, InvalidParameterError


def describe_os_error(exc: OSError) -> str:
    """``"<path>: No space left on device (ENOSPC)"`` for an OS error (both paths of a rename)."""
    import errno

    name = errno.errorcode.get(exc.errno, "") if exc.errno is not None else ""
    reason = (exc.strerror or str(exc)) + (f" ({name})" if name else "")
    where = [p for p in (exc.filename, exc.filename2) if p is not None]
    return f"{' -> '.join(map(str, where))}: {reason}" if where else reason


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="gridregime",
        description="Market-regime verdicts, ranges and restart gates for grid market-makers.",
    )
    parser.add_argument("--version", action="version", version=f"gridregime {__version__}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    sub.required = True
    import gridregime.commands as pkg

    for info in sorted(pkgutil.iter_modules(pkg.__path__), key=lambda m: m.name):
        if info.name.startswith("_"):
            continue
        module = importlib.import_module(f"gridregime.commands.{info.name}")
        module.register(sub)
    return parser


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    try:
        return int(args.func(args) or 0)
    except InvalidParameterError as exc:  # usage: an option or a config value
        print(f"gridregime {args.command}: error: {exc}", file=sys.stderr)
        return 2
    except GridRegimeError as exc:  # data: a file of the store, a history, a source
        print(f"gridregime {args.command}: error: {exc}", file=sys.stderr)
        return 1
    except OSError as exc:  # the file system refused (EACCES, ENOSPC, EROFS, ...): one line, naming the path
        print(f"gridregime {args.command}: error: {describe_os_error(exc)}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        print("interrupted", file=sys.stderr)
        return 130


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
