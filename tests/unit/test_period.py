"""billing_period: calendar months and N-day periods in the tenant's zone, at their edges."""

from __future__ import annotations

from datetime import date, datetime, timedelta, timezone
from zoneinfo import ZoneInfo

import pytest
from freezegun import freeze_time
from hypothesis import given
from hypothesis import strategies as st

from rlm_cloudos.policy import billing_period, expires_at_for_date

UTC = timezone.utc
PKT = ZoneInfo("Asia/Karachi")
NY = ZoneInfo("America/New_York")
KARACHI = "Asia/Karachi"
NEW_YORK = "America/New_York"


def utc(year: int, month: int, day: int, hour: int = 0, minute: int = 0, second: int = 0,
        microsecond: int = 0) -> datetime:
    return datetime(year, month, day, hour, minute, second, microsecond, tzinfo=UTC)


def pkt(year: int, month: int, day: int, hour: int = 0, minute: int = 0, second: int = 0,
        microsecond: int = 0) -> datetime:
    return datetime(year, month, day, hour, minute, second, microsecond, tzinfo=PKT)


def local(instant: datetime, tz: ZoneInfo) -> datetime:
    """The wall-clock time of ``instant`` in ``tz``, naive."""
    return instant.astimezone(tz).replace(tzinfo=None)


# ----------------------------------------------------------------------- monthly, Asia/Karachi (UTC+5)
@pytest.mark.parametrize(("at", "start", "end"), [
    (utc(2026, 11, 30, 18, 59, 59), utc(2026, 10, 31, 19), utc(2026, 11, 30, 19)),
    (utc(2026, 11, 30, 18, 59, 59, 999999), utc(2026, 10, 31, 19), utc(2026, 11, 30, 19)),
    (utc(2026, 11, 30, 19, 0, 0), utc(2026, 11, 30, 19), utc(2026, 12, 31, 19)),
    (utc(2026, 10, 31, 19, 0, 0), utc(2026, 10, 31, 19), utc(2026, 11, 30, 19)),
    (utc(2026, 11, 1, 0, 0, 0), utc(2026, 10, 31, 19), utc(2026, 11, 30, 19)),
], ids=["last-second-of-november", "last-microsecond", "first-instant-of-december", "first-instant-of-november",
        "utc-midnight-is-5am-local"])
def test_monthly_in_karachi(at: datetime, start: datetime, end: datetime) -> None:
    assert billing_period("monthly", KARACHI, None, at) == (start, end)


def test_monthly_returns_local_midnights_in_the_tenant_zone() -> None:
    # Returned in UTC (PEP 495: aware times in a repeated hour never equal other zones' times).
    start, end = billing_period("monthly", KARACHI, None, utc(2026, 11, 15, 12))
    assert start.utcoffset() == end.utcoffset() == timedelta(0)
    assert start.astimezone(PKT).replace(tzinfo=None) == datetime(2026, 11, 1)
    assert end.astimezone(PKT).replace(tzinfo=None) == datetime(2026, 12, 1)


def test_none_period_is_monthly() -> None:
    at = utc(2026, 11, 15, 12)
    assert billing_period(None, KARACHI, None, at) == billing_period("monthly", KARACHI, None, at)


def test_monthly_ignores_the_expiry() -> None:
    at = utc(2026, 11, 15, 12)
    assert billing_period("monthly", KARACHI, pkt(2026, 11, 20), at) == billing_period("monthly", KARACHI, None, at)


def test_december_rolls_over_into_january() -> None:
    assert billing_period("monthly", KARACHI, None, pkt(2026, 12, 31, 23, 59, 59)) == (pkt(2026, 12, 1), pkt(2027, 1, 1))
    assert billing_period("monthly", KARACHI, None, pkt(2027, 1, 1)) == (pkt(2027, 1, 1), pkt(2027, 2, 1))
    assert billing_period("monthly", KARACHI, None, utc(2026, 12, 31, 19)) == (pkt(2027, 1, 1), pkt(2027, 2, 1))


def test_february_in_a_leap_year() -> None:
    start, end = billing_period("monthly", KARACHI, None, pkt(2028, 2, 29, 23, 59, 59))
    assert (start, end) == (pkt(2028, 2, 1), pkt(2028, 3, 1))
    assert end - start == timedelta(days=29)
    assert billing_period("monthly", KARACHI, None, pkt(2028, 3, 1))[0] == pkt(2028, 3, 1)
    start, end = billing_period("monthly", KARACHI, None, pkt(2027, 2, 28, 23, 59, 59))
    assert end - start == timedelta(days=28)


# ----------------------------------------------------------------------- N days, aligned on the expiry
EXPIRES = pkt(2026, 12, 10)  # paid until 2026-12-09: service ends at midnight


@pytest.mark.parametrize(("at", "start", "end"), [
    (pkt(2026, 11, 15), pkt(2026, 11, 10), pkt(2026, 12, 10)),
    (pkt(2026, 11, 10), pkt(2026, 11, 10), pkt(2026, 12, 10)),
    (pkt(2026, 12, 9, 23, 59, 59), pkt(2026, 11, 10), pkt(2026, 12, 10)),
    (EXPIRES, pkt(2026, 12, 10), pkt(2027, 1, 9)),
    (EXPIRES - timedelta(microseconds=1), pkt(2026, 11, 10), pkt(2026, 12, 10)),
    (pkt(2027, 1, 20), pkt(2027, 1, 9), pkt(2027, 2, 8)),
    (pkt(2026, 6, 1), pkt(2026, 5, 14), pkt(2026, 6, 13)),
], ids=["mid-period", "first-instant", "last-second", "at-expiry", "just-before-expiry", "after-expiry",
        "seven-periods-earlier"])
def test_thirty_days_aligned_on_the_expiry(at: datetime, start: datetime, end: datetime) -> None:
    assert billing_period("30d", KARACHI, EXPIRES, at) == (start, end)


def test_expiry_given_in_another_zone_is_read_in_the_tenant_zone() -> None:
    assert billing_period("30d", KARACHI, utc(2026, 12, 9, 19), pkt(2026, 11, 15)) == (pkt(2026, 11, 10), pkt(2026, 12, 10))


@pytest.mark.parametrize(("period", "start", "end"), [
    ("7d", pkt(2026, 11, 12), pkt(2026, 11, 19)),  # 1970-01-01 was a Thursday, so is 2026-11-12
    ("30d", pkt(2026, 11, 3), pkt(2026, 12, 3)),
    ("1d", pkt(2026, 11, 15), pkt(2026, 11, 16)),
])
def test_no_expiry_is_anchored_on_1970_01_01_local(period: str, start: datetime, end: datetime) -> None:
    assert billing_period(period, KARACHI, None, pkt(2026, 11, 15, 12)) == (start, end)


def test_epoch_anchor_is_local_not_utc() -> None:
    # 1970-01-01 00:00 in Karachi is 1969-12-31 19:00 UTC: the local day starts the period.
    assert billing_period("1d", KARACHI, None, utc(2026, 11, 15, 19)) == (pkt(2026, 11, 16), pkt(2026, 11, 17))
    assert billing_period("1d", KARACHI, None, utc(2026, 11, 15, 18, 59, 59))[0] == pkt(2026, 11, 15)


# ----------------------------------------------------------------------- a zone with DST
def test_monthly_in_new_york_keeps_local_midnights_across_dst() -> None:
    # 2026-11-01 00:00 is EDT (UTC-4); 2026-12-01 00:00 is EST (UTC-5): 30 days and 1 hour.
    start, end = billing_period("monthly", NEW_YORK, None, utc(2026, 11, 15, 12))
    assert (start, end) == (utc(2026, 11, 1, 4), utc(2026, 12, 1, 5))
    assert local(start, NY) == datetime(2026, 11, 1) and local(end, NY) == datetime(2026, 12, 1)
    # March 2026 loses an hour (DST starts 2026-03-08).
    start, end = billing_period("monthly", NEW_YORK, None, utc(2026, 3, 20))
    assert (start, end) == (utc(2026, 3, 1, 5), utc(2026, 4, 1, 4))
    # 2026-11-01 03:59:59Z is still October in New York.
    assert billing_period("monthly", NEW_YORK, None, utc(2026, 11, 1, 3, 59, 59))[1] == utc(2026, 11, 1, 4)


def test_n_days_in_new_york_keep_local_midnights_across_dst() -> None:
    expires = expires_at_for_date(date(2026, 3, 4), NEW_YORK)  # 2026-03-05 00:00 EST
    start, end = billing_period("7d", NEW_YORK, expires, utc(2026, 3, 10, 12))
    assert (start, end) == (utc(2026, 3, 5, 5), utc(2026, 3, 12, 4))
    assert local(start, NY) == datetime(2026, 3, 5) and local(end, NY) == datetime(2026, 3, 12)


def test_period_starting_inside_a_dst_gap_still_contains_its_instant() -> None:
    # An anchor at 02:30 New York time lands, 7 days later, in the 02:00-03:00 gap of
    # 2026-03-08, which resolves to 07:30Z: the instant 07:00Z (03:00 EDT) must still get
    # the period that contains it (the previous one).
    expires = datetime(2026, 3, 1, 2, 30, tzinfo=NY)
    at = utc(2026, 3, 8, 7, 0)
    start, end = billing_period("7d", NEW_YORK, expires, at)
    assert start <= at < end, (start.astimezone(UTC), end.astimezone(UTC))


# ----------------------------------------------------------------------- bad periods
@pytest.mark.parametrize("period", ["", "d", "0d", "-7d", "7", "weekly", "7days", "1.5d", "7 d", " 7d", "7d ",
                                    "Monthly", "MONTHLY", "30D", "+7d", "d7"])
def test_invalid_period_raises_value_error(period: str) -> None:
    with pytest.raises(ValueError, match="bad period"):
        billing_period(period, KARACHI, None, utc(2026, 11, 15))


# ----------------------------------------------------------------------- the clock at midnight
def test_frozen_clock_crossing_midnight_on_the_last_day_of_the_month() -> None:
    with freeze_time(datetime(2026, 11, 30, 23, 59, 59, tzinfo=PKT)) as frozen:
        at = datetime.now(PKT)
        assert at.replace(tzinfo=None) == datetime(2026, 11, 30, 23, 59, 59)
        assert billing_period("monthly", KARACHI, None, at) == (pkt(2026, 11, 1), pkt(2026, 12, 1))
        frozen.tick(timedelta(seconds=1))
        at = datetime.now(PKT)
        assert at.replace(tzinfo=None) == datetime(2026, 12, 1, 0, 0, 0)
        assert billing_period("monthly", KARACHI, None, at) == (pkt(2026, 12, 1), pkt(2027, 1, 1))
        # The same instant read from the UTC clock gives the same period.
        assert billing_period("monthly", KARACHI, None, datetime.now(UTC)) == (pkt(2026, 12, 1), pkt(2027, 1, 1))


# ----------------------------------------------------------------------- properties
# Zones whose DST transitions never touch local midnight (so product expiries, which are
# local midnights, never fall in a gap or a repeated hour), and fixed-offset zones where any
# instant may be an anchor.
DST_ZONES = ["America/New_York", "Europe/London", "Australia/Sydney"]
FIXED_ZONES = ["Asia/Karachi", "Asia/Kolkata", "UTC"]
instants = st.datetimes(min_value=datetime(2010, 1, 1), max_value=datetime(2090, 1, 1), timezones=st.just(UTC))
periods = st.one_of(st.just("monthly"), st.integers(1, 9999).map(lambda n: f"{n}d"))


@st.composite
def zone_and_expiry(draw: st.DrawFn) -> tuple[str, datetime | None]:
    tz = draw(st.sampled_from(DST_ZONES + FIXED_ZONES))
    midnight = st.dates(date(2010, 1, 1), date(2089, 12, 31)).map(lambda d: expires_at_for_date(d, tz))
    choices = [st.none(), midnight] + ([instants] if tz in FIXED_ZONES else [])
    return tz, draw(st.one_of(*choices))


@given(period=periods, zone=zone_and_expiry(), at=instants)
def test_period_contains_its_instant_and_has_the_right_length(
    period: str, zone: tuple[str, datetime | None], at: datetime
) -> None:
    tz_name, expires = zone
    tz = ZoneInfo(tz_name)
    start, end = billing_period(period, tz_name, expires, at)
    assert start <= at < end
    s, e = local(start, tz), local(end, tz)
    if period == "monthly":
        assert s == datetime(s.year, s.month, 1)
        assert e == (datetime(s.year + 1, 1, 1) if s.month == 12 else datetime(s.year, s.month + 1, 1))
    else:
        days = int(period[:-1])
        assert e - s == timedelta(days=days)
        anchor = local(expires, tz) if expires is not None else datetime(1970, 1, 1)
        assert (s - anchor) % timedelta(days=days) == timedelta(0)
    # Periods tile time: the next one starts where this one ends, and the start maps to itself.
    assert billing_period(period, tz_name, expires, end)[0] == end
    assert billing_period(period, tz_name, expires, start) == (start, end)
