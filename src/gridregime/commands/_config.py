"""The ``--config`` option of the commands: a TOML file checked before it becomes a RegimeConfig
(and, for the commands that supervise grids, the supervisor's settings).

Everything a hand-written file can get wrong is one error naming the file (and the option):
not a regular file, unreadable, not UTF-8, not TOML, a section that is not a table.
"""
from __future__ import annotations

import os
import tomllib
from collections.abc import Mapping

from gridregime.config import SUPERVISOR_SECTIONS, RegimeConfig
from gridregime.grid.settings import SupervisorSettings
from gridregime.errors import InvalidParameterError

#: A configuration is a few kilobytes; anything far larger is not one.
MAX_CONFIG_BYTES = 1 << 20


def load_config_option(path: str | None, option: str = "--config") -> RegimeConfig:
    """The defaults without ``path``; else the configuration in the TOML file ``path``."""
    return RegimeConfig() if path is None else RegimeConfig.from_mapping(_read(path, option), source=os.fspath(path))


def load_settings_option(path: str | None, option: str = "--config") -> tuple[RegimeConfig, SupervisorSettings]:
    """The analysis configuration and the supervisor's settings (``[gates]``, ``[grid]``) of one file."""
    if path is None:
        return RegimeConfig(), SupervisorSettings()
    doc, source = _read(path, option), os.fspath(path)
    return RegimeConfig.from_mapping(doc, source=source), SupervisorSettings.from_mapping(doc, source=source)


def _read(path: str, option: str) -> dict:
    from gridregime.snapshot.errors import SnapshotNotFoundError
    from gridregime.snapshot.fileio import SnapshotReadError, read_snapshot_bytes

    where = f"{option}: {path}"
    try:
        data = read_snapshot_bytes(path, max_bytes=MAX_CONFIG_BYTES)
    except SnapshotNotFoundError:
        raise InvalidParameterError(f"{where}: config file not found") from None
    except SnapshotReadError as exc:
        raise InvalidParameterError(f"{where}: {exc.reason}") from None
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise InvalidParameterError(f"{where}: expected UTF-8 text, got byte 0x{data[exc.start]:02x} at "
                                    f"offset {exc.start}") from None
    try:
        doc = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise InvalidParameterError(f"{where}: invalid TOML: {exc}") from None
    for section in ("regime", "symbols", *SUPERVISOR_SECTIONS):
        if section in doc and not isinstance(doc[section], Mapping):
            raise InvalidParameterError(f"{where}: [{section}]: expected a table, got {type(doc[section]).__name__} "
                                        f"{doc[section]!r}")
    for symbol, table in dict(doc.get("symbols", {})).items():
        if not isinstance(table, Mapping):
            raise InvalidParameterError(f"{where}: [symbols.{symbol}]: expected a table of overrides, got "
                                        f"{type(table).__name__} {table!r}")
    return doc
