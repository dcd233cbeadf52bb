"""Market symbols (``BASE-QUOTE``), checked before they reach any file path."""
from __future__ import annotations

import re

from gridregime.errors import InvalidParameterError

SYMBOL_RE = re.compile(r"^[A-Z0-9]{1,20}-[A-Z0-9]{1,20}$")


def validate_symbol(symbol: object, *, name: str = "symbol") -> str:
    """Return ``symbol`` unchanged if it matches ``^[A-Z0-9]{1,20}-[A-Z0-9]{1,20}$``."""
    if not isinstance(symbol, str) or not SYMBOL_RE.fullmatch(symbol):
        raise InvalidParameterError(
            f"{name}: expected BASE-QUOTE in upper-case letters and digits "
            f"(e.g. 'ETH-USDT'), got {symbol!r}"
        )
    return symbol
