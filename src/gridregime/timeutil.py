"""UTC hour handling. Every timestamp inside gridregime is an aware UTC datetime."""
from __future__ import annotations

from datetime import datetime, timedelta, timezone

from gridregime.errors import InvalidParameterError

UTC = timezone.utc
HOUR = timedelta(hours=1)
HOUR_MS = 3_600_000
MINUTE_MS = 60_000


def to_utc(value: object, *, name: str = "time") -> datetime:
    """Parse an ISO-8601 string, epoch milliseconds or datetime into an aware UTC datetime.

    Naive datetimes and strings without an offset are taken as UTC.
    """
    if isinstance(value, datetime):
        dt = value
    elif isinstance(value, str):
        text = value.strip()
        if text.endswith(("Z", "z")):
            text = text[:-1] + "+00:00"
        try:
            dt = datetime.fromisoformat(text)
        except ValueError:
            raise InvalidParameterError(
                f"{name}: expected an ISO-8601 time such as '2024-01-15T13:00:00Z', got {value!r}"
            ) from None
    elif isinstance(value, (int,)) and not isinstance(value, bool):
        dt = datetime.fromtimestamp(value / 1000, tz=UTC)
    else:
        raise InvalidParameterError(
            f"{name}: expected an ISO-8601 string, epoch milliseconds or datetime, "
            f"got {type(value).__name__}"
        )
    if dt.tzinfo is None:
        return dt.replace(tzinfo=UTC)
    return dt.astimezone(UTC)


def to_utc_hour(value: object, *, name: str = "hour") -> datetime:
    """Like :func:`to_utc`, but the time must fall exactly on an hour."""
    dt = to_utc(value, name=name)
    if dt.minute or dt.second or dt.microsecond:
        raise InvalidParameterError(f"{name}: expected a time on the hour (HH:00:00), got {dt.isoformat()}")
    return dt


def floor_hour(value: object, *, name: str = "time") -> datetime:
    dt = to_utc(value, name=name)
    return dt.replace(minute=0, second=0, microsecond=0)


def to_ms(dt: datetime) -> int:
    """Epoch milliseconds of an aware datetime."""
    return int(round(dt.timestamp() * 1000))


def from_ms(ms: int) -> datetime:
    return datetime.fromtimestamp(ms / 1000, tz=UTC)


def iso_z(dt: datetime, *, microseconds: bool = False) -> str:
    """The UTC time as ISO-8601 with a ``Z`` suffix: the one formatter of gridregime.

    ``microseconds=False`` (snapshots, results, messages): whole seconds,
    ``2024-01-15T13:00:00Z`` (``strftime``, so a year below 1000 is not zero-padded).
    ``microseconds=True`` (grid histories, whose times must round-trip exactly):
    ``datetime.isoformat`` with ``+00:00`` written ``Z``, i.e. ``2024-01-15T13:00:00.250000Z``
    when there is a fraction of a second and ``2024-01-15T13:00:00Z`` when there is none.
    """
    if microseconds:
        return dt.astimezone(UTC).isoformat().replace("+00:00", "Z")
    return dt.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def hour_bounds(start: object, end: object) -> tuple[datetime, datetime]:
    """``start`` and ``end`` as UTC hours with ``end >= start``; errors name the parameter."""
    start, end = to_utc_hour(start, name="start"), to_utc_hour(end, name="end")
    if end < start:
        raise InvalidParameterError(f"end: expected >= start ({iso_z(start)}), got {iso_z(end)}")
    return start, end


def hour_range(start: datetime, end: datetime):
    """Hours ``start, start+1h, ..., end`` (both inclusive)."""
    h = start
    while h <= end:
        yield h
        h += HOUR
