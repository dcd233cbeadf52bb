"""``gridregime validate DIR``: check every snapshot file of a store and report."""
from __future__ import annotations

import argparse

from gridregime.commands._options import add_command, add_store_dir, check_store_dir


def register(subparsers) -> None:
    p = add_command(subparsers, "validate", run, help="check every snapshot file of a store",
                    description="""
                        Validate every market file under DIR against format v1 (SPEC §3), the cross-file rule
                        of every hour, and the analysis files. Prints files ok, files bad with the reason, and
                        hours whose hourly history has gaps. Exit status 1 if any file is bad.
                    """)
    add_store_dir(p)
    p.add_argument("--start", help="first hour (ISO-8601 UTC, e.g. 2024-01-15T13:00Z)")
    p.add_argument("--end", help="last hour (inclusive)")
    p.add_argument("--remove-stale-tmp", type=float, default=None, metavar="MINUTES",
                   help="delete temporary files of interrupted writes (.*.tmp) older than MINUTES")
    p.add_argument("--max-listed", type=int, default=50, metavar="N",
                   help="list at most N bad files and N gap reports (default 50)")


def run(args: argparse.Namespace) -> int:
    from pathlib import Path

    from gridregime.errors import InvalidParameterError
    from gridregime.snapshot.audit import audit_store

    check_store_dir(args.root)
    root = Path(args.root)
    stale = args.remove_stale_tmp
    if stale is not None and not stale >= 0:
        raise InvalidParameterError(f"--remove-stale-tmp: expected minutes >= 0, got {stale!r}")
    report = audit_store(root, symbol=args.symbol, start=args.start, end=args.end,
                         remove_stale_tmp=None if stale is None else 60.0 * stale)
    limit = max(args.max_listed, 0)
    print(f"checked {report.hours} hour directories, symbols: {', '.join(sorted(report.symbols)) or '-'}")
    print(f"files ok:  {report.files_ok}")
    print(f"files bad: {len(report.bad)}")
    for _, reason in report.bad[:limit]:
        print(f"  {reason}")
    if len(report.bad) > limit:
        print(f"  ... and {len(report.bad) - limit} more")
    print(f"hourly histories with gaps: {len(report.gaps)}")
    for path, gaps in report.gaps[:limit]:
        print(f"  {path}: {len(gaps)} missing hour(s), {gaps[0]:%Y-%m-%dT%H:%MZ} .. {gaps[-1]:%Y-%m-%dT%H:%MZ}")
    if report.temporary:
        hint = "" if stale is not None else " (remove with --remove-stale-tmp MINUTES)"
        print(f"temporary files left by interrupted writes: {report.temporary}{hint}")
    if report.temporary_removed:
        print(f"stale temporary files removed: {len(report.temporary_removed)}")
    return 0 if report.ok else 1
