"""``timeutil.iso_z``, the one ISO formatter: each of its two forms equals the formatter it replaces."""
from __future__ import annotations

from datetime import datetime, timedelta, timezone

from hypothesis import given
from hypothesis import strategies as st

from gridregime.timeutil import iso_z

TIMES = st.datetimes(min_value=datetime(1, 1, 2), max_value=datetime(9999, 12, 30),
                     timezones=st.sampled_from([timezone.utc, timezone(timedelta(hours=5, minutes=30))]))


@given(TIMES)
def test_iso_z_with_microseconds_round_trips_exactly(dt):
    """The grid histories' form: parsing it back gives the same instant, to the microsecond."""
    text = iso_z(dt, microseconds=True)
    assert text.endswith("Z") and "+" not in text
    assert datetime.fromisoformat(text[:-1] + "+00:00") == dt
    assert ("." in text) == (dt.microsecond != 0)


@given(TIMES)
def test_iso_z_whole_seconds_is_the_snapshot_form(dt):
    utc = dt.astimezone(timezone.utc)
    assert iso_z(dt) == utc.strftime("%Y-%m-%dT%H:%M:%S") + "Z"


def test_the_two_forms_agree_on_whole_seconds_and_differ_on_fractions():
    hour = datetime(2024, 1, 15, 13, tzinfo=timezone.utc)
    assert iso_z(hour) == iso_z(hour, microseconds=True) == "2024-01-15T13:00:00Z"
    assert iso_z(hour.replace(microsecond=250000), microseconds=True) == "2024-01-15T13:00:00.250000Z"
    assert iso_z(hour.replace(microsecond=250000)) == "2024-01-15T13:00:00Z"
