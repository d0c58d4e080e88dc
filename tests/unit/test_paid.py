"""Paid-until arithmetic (policy.paid): month ends, leap days, 'Nd' periods, Karachi midnight."""

from __future__ import annotations

from datetime import date, datetime, timedelta, timezone

import pytest
from hypothesis import given
from hypothesis import strategies as st

from rlm_cloudos.policy import expires_at_for_date
from rlm_cloudos.policy.paid import add_months, local_date, next_paid_until, paid_until

UTC = timezone.utc
KHI = "Asia/Karachi"  # UTC+05:00 all year, no daylight saving


# --------------------------------------------------------------------------- add_months
@pytest.mark.parametrize(("d", "n", "expected"), [
    (date(2026, 1, 31), 1, date(2026, 2, 28)),   # 31 Jan + 1 month: the last day of February
    (date(2028, 1, 31), 1, date(2028, 2, 29)),   # ... in a leap year
    (date(2026, 3, 31), 1, date(2026, 4, 30)),
    (date(2026, 1, 15), 1, date(2026, 2, 15)),
    (date(2026, 12, 31), 1, date(2027, 1, 31)),  # across the year
    (date(2026, 11, 30), 2, date(2027, 1, 30)),
    (date(2028, 2, 29), 12, date(2029, 2, 28)),  # 29 Feb + a year: no 29 Feb in 2029
    (date(2028, 2, 29), 48, date(2032, 2, 29)),
    (date(2026, 3, 31), -1, date(2026, 2, 28)),
    (date(2026, 1, 10), 0, date(2026, 1, 10)),
])
def test_add_months_clamps_to_the_month_end(d: date, n: int, expected: date) -> None:
    assert add_months(d, n) == expected


# --------------------------------------------------------------------------- paid_until
def test_paid_until_is_the_day_before_the_local_midnight_that_ends_it() -> None:
    # 2026-12-31 paid: service ends 2027-01-01 00:00 Karachi = 2026-12-31 19:00 UTC.
    assert paid_until(datetime(2026, 12, 31, 19, 0, tzinfo=UTC), KHI) == date(2026, 12, 31)
    assert paid_until(datetime(2026, 12, 31, 19, 0, 0, 1, tzinfo=UTC), KHI) == date(2027, 1, 1)
    assert paid_until(None, KHI) is None


@given(st.dates(min_value=date(2000, 1, 1), max_value=date(2099, 12, 30)),
       st.sampled_from([KHI, "UTC", "America/New_York", "Asia/Kolkata", "Europe/London"]))
def test_paid_until_inverts_expires_at_for_date(day: date, tz: str) -> None:
    assert paid_until(expires_at_for_date(day, tz), tz) == day


# --------------------------------------------------------------------------- next_paid_until
@pytest.mark.parametrize(("current", "today", "period", "expected"), [
    # monthly: one calendar month after the current paid-until day
    (date(2026, 12, 31), date(2026, 12, 20), "monthly", date(2027, 1, 31)),
    (date(2026, 1, 31), date(2026, 1, 20), "monthly", date(2026, 2, 28)),   # starts 1 Feb, ends 28 Feb
    (date(2026, 1, 30), date(2026, 1, 20), "monthly", date(2026, 2, 27)),   # starts 31 Jan: +1 month = 28 Feb, -1 day
    (date(2028, 1, 30), date(2028, 1, 20), "monthly", date(2028, 2, 28)),   # leap year: 31 Jan + 1 month = 29 Feb, -1 day
    (date(2028, 2, 28), date(2028, 2, 1), "monthly", date(2028, 3, 28)),    # 29 Feb start in a leap year
    (date(2027, 2, 28), date(2027, 2, 1), "monthly", date(2027, 3, 31)),    # 1 Mar start in a non-leap year
    (date(2026, 11, 30), date(2026, 11, 1), "monthly", date(2026, 12, 31)),
    # 'Nd': N days including the first
    (date(2026, 12, 31), date(2026, 12, 20), "30d", date(2027, 1, 30)),
    (date(2028, 2, 28), date(2028, 2, 1), "1d", date(2028, 2, 29)),
    (date(2027, 2, 28), date(2027, 2, 1), "1d", date(2027, 3, 1)),
    (date(2026, 1, 1), date(2026, 1, 1), "365d", date(2027, 1, 1)),
    # lapsed: renews from today, not from the old paid-until day
    (date(2026, 10, 31), date(2026, 12, 15), "monthly", date(2027, 1, 14)),
    (date(2026, 10, 31), date(2026, 12, 15), "30d", date(2027, 1, 13)),
    (date(2026, 12, 14), date(2026, 12, 15), "monthly", date(2027, 1, 14)),  # lapsed yesterday
    (date(2026, 12, 15), date(2026, 12, 15), "monthly", date(2027, 1, 15)),  # paid through today: continues
    # never paid
    (None, date(2026, 12, 15), "monthly", date(2027, 1, 14)),
    (None, date(2026, 12, 15), "7d", date(2026, 12, 21)),
])
def test_next_paid_until(current: date | None, today: date, period: str, expected: date) -> None:
    assert next_paid_until(current, today, period) == expected


@pytest.mark.parametrize("period", ["weekly", "0d", "d", "-3d", ""])
def test_next_paid_until_refuses_an_unknown_period(period: str) -> None:
    with pytest.raises(ValueError):
        next_paid_until(None, date(2026, 1, 1), period)


periods = st.one_of(st.just("monthly"), st.integers(1, 9999).map(lambda n: f"{n}d"))
days = st.dates(min_value=date(2000, 1, 1), max_value=date(2099, 12, 31))


@given(st.one_of(st.none(), days), days, periods)
def test_a_renewal_never_ends_before_today_nor_shortens_what_is_paid(current: date | None, today: date,
                                                                      period: str) -> None:
    new = next_paid_until(current, today, period)
    assert new >= today
    if current is not None:
        assert new > current
    start = max(current + timedelta(days=1), today) if current else today
    length = (new - start).days + 1
    if period == "monthly":
        assert 28 <= length <= 31
    else:
        assert length == int(period[:-1])


@given(days, periods)
def test_renewing_on_time_adds_exactly_one_period_after_the_last(current: date, period: str) -> None:
    """Renewing before the lapse, whatever the day, continues from the current paid-until day."""
    a = next_paid_until(current, current - timedelta(days=3), period)
    b = next_paid_until(current, current, period)
    assert a == b


# --------------------------------------------------------------------------- today from now
def test_today_flips_at_karachi_midnight_not_utc_midnight() -> None:
    before = datetime(2026, 12, 31, 18, 59, 59, 999999, tzinfo=UTC)  # 23:59:59.999999 in Karachi
    after = datetime(2026, 12, 31, 19, 0, 0, tzinfo=UTC)             # 00:00 on 1 Jan in Karachi
    assert local_date(before, KHI) == date(2026, 12, 31)
    assert local_date(after, KHI) == date(2027, 1, 1)
    assert local_date(after, "UTC") == date(2026, 12, 31)


def test_a_lapsed_renewal_a_second_apart_across_karachi_midnight() -> None:
    lapsed = date(2026, 11, 30)
    before = local_date(datetime(2026, 12, 31, 18, 59, 59, tzinfo=UTC), KHI)
    after = local_date(datetime(2026, 12, 31, 19, 0, 0, tzinfo=UTC), KHI)
    assert next_paid_until(lapsed, before, "monthly") == date(2027, 1, 30)
    assert next_paid_until(lapsed, after, "monthly") == date(2027, 1, 31)
    assert next_paid_until(lapsed, before, "30d") == date(2027, 1, 29)
    assert next_paid_until(lapsed, after, "30d") == date(2027, 1, 30)


def test_local_date_refuses_a_naive_now() -> None:
    with pytest.raises(ValueError):
        local_date(datetime(2026, 1, 1, 12, 0), KHI)
