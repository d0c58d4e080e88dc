"""Expiry arithmetic (policy.expiry) and how decide_access applies it at the edges of a day."""

from __future__ import annotations

from datetime import date, datetime, timedelta, timezone
from zoneinfo import ZoneInfo

import pytest
from freezegun import freeze_time

from rlm_cloudos.policy import (
    Outcome,
    Plan,
    Reason,
    Subscriber,
    SubscriberStatus,
    Tenant,
    decide_access,
    end_of_day,
    expires_at_for_date,
)
from rlm_cloudos.policy.expiry import seconds_left

UTC = timezone.utc
PKT = ZoneInfo("Asia/Karachi")
NY = ZoneInfo("America/New_York")

TENANT = Tenant(id=1, slug="isp1")
PLAN = Plan(id=10, name="home-8M", rate_limit="2M/8M")


def subscriber(expires_at: datetime | None) -> Subscriber:
    return Subscriber(id=42, username="ali", status=SubscriberStatus.ACTIVE, plan=PLAN, expires_at=expires_at)


def session_timeout(reply: tuple[tuple[str, str], ...]) -> int | None:
    values = [v for a, v in reply if a == "Session-Timeout"]
    assert len(values) <= 1, reply
    return int(values[0]) if values else None


# ----------------------------------------------------------------- expires_at_for_date


def test_paid_until_end_of_november_ends_at_karachi_midnight() -> None:
    expires = expires_at_for_date(date(2026, 11, 30), "Asia/Karachi")
    assert expires == datetime(2026, 12, 1, 0, 0, tzinfo=PKT)
    # PKT is UTC+5 all year (no DST since 2009).
    assert expires == datetime(2026, 11, 30, 19, 0, tzinfo=UTC)
    assert expires.utcoffset() == timedelta(hours=5)


@pytest.mark.parametrize(
    ("paid_until", "ends_local"),
    [
        (date(2028, 2, 28), datetime(2028, 2, 29, 0, 0)),  # 2028 is a leap year
        (date(2028, 2, 29), datetime(2028, 3, 1, 0, 0)),
        (date(2027, 2, 28), datetime(2027, 3, 1, 0, 0)),  # 2027 is not
        (date(2026, 12, 31), datetime(2027, 1, 1, 0, 0)),  # year end
        (date(2026, 4, 30), datetime(2026, 5, 1, 0, 0)),  # 30-day month
    ],
)
def test_paid_until_ends_at_the_next_local_midnight(paid_until: date, ends_local: datetime) -> None:
    expires = expires_at_for_date(paid_until, "Asia/Karachi")
    assert expires == ends_local.replace(tzinfo=PKT)
    assert expires.astimezone(UTC) == ends_local.replace(tzinfo=UTC) - timedelta(hours=5)


def test_tenant_time_zone_shifts_the_instant() -> None:
    karachi = expires_at_for_date(date(2026, 11, 30), "Asia/Karachi")
    new_york = expires_at_for_date(date(2026, 11, 30), "America/New_York")
    # 2026-12-01 00:00 EST (UTC-5) is 05:00 UTC, ten hours after Karachi's midnight.
    assert new_york == datetime(2026, 12, 1, 5, 0, tzinfo=UTC)
    assert new_york - karachi == timedelta(hours=10)


@pytest.mark.parametrize(
    ("paid_until", "ends_utc"),
    [
        # DST starts 2026-03-08 at 02:00 local: midnight that day is still EST (UTC-5).
        (date(2026, 3, 7), datetime(2026, 3, 8, 5, 0, tzinfo=UTC)),
        # The next midnight is EDT (UTC-4): that "day" was only 23 hours long.
        (date(2026, 3, 8), datetime(2026, 3, 9, 4, 0, tzinfo=UTC)),
        # DST ends 2026-11-01 at 02:00 local: midnight that day is still EDT.
        (date(2026, 10, 31), datetime(2026, 11, 1, 4, 0, tzinfo=UTC)),
        (date(2026, 11, 1), datetime(2026, 11, 2, 5, 0, tzinfo=UTC)),
    ],
)
def test_new_york_daylight_saving_moves_the_utc_instant(paid_until: date, ends_utc: datetime) -> None:
    assert expires_at_for_date(paid_until, "America/New_York") == ends_utc


def test_end_of_day_is_the_next_local_midnight() -> None:
    # 23:59:59 PKT on 30 November is 18:59:59 UTC.
    now = datetime(2026, 11, 30, 18, 59, 59, tzinfo=UTC)
    assert end_of_day(now, "Asia/Karachi") == datetime(2026, 12, 1, tzinfo=PKT)
    # One second later it is already 1 December in Karachi.
    assert end_of_day(now + timedelta(seconds=1), "Asia/Karachi") == datetime(2026, 12, 2, tzinfo=PKT)
    # The same UTC instant is still the afternoon of 30 November in New York.
    assert end_of_day(now, "America/New_York") == datetime(2026, 12, 1, tzinfo=NY)


# ------------------------------------------------------------------------ seconds_left


def test_seconds_left_counts_whole_seconds_and_never_goes_negative() -> None:
    expires = datetime(2026, 11, 30, 19, 0, tzinfo=UTC)
    assert seconds_left(expires, expires - timedelta(hours=1)) == 3600
    assert seconds_left(expires, expires - timedelta(seconds=1)) == 1
    assert seconds_left(expires, expires) == 0
    assert seconds_left(expires, expires + timedelta(days=3)) == 0


def test_seconds_left_is_independent_of_the_zone_each_side_is_written_in() -> None:
    expires = expires_at_for_date(date(2026, 11, 30), "Asia/Karachi")
    now = datetime(2026, 11, 30, 13, 59, 59, tzinfo=NY)  # 18:59:59 UTC
    assert seconds_left(expires, now) == 1


@pytest.mark.parametrize(
    ("expires", "now"),
    [
        (datetime(2026, 12, 1), datetime(2026, 11, 30, 18, tzinfo=UTC)),
        (datetime(2026, 12, 1, tzinfo=UTC), datetime(2026, 11, 30, 18)),
    ],
)
def test_seconds_left_refuses_naive_datetimes(expires: datetime, now: datetime) -> None:
    with pytest.raises(ValueError, match="aware"):
        seconds_left(expires, now)


# --------------------------------------------------------------- decide_access at expiry

EXPIRES_NOV_30 = expires_at_for_date(date(2026, 11, 30), "Asia/Karachi")


def test_accepted_during_the_last_second_of_the_paid_day() -> None:
    now = datetime(2026, 11, 30, 18, 59, 59, tzinfo=UTC)  # 23:59:59 PKT
    decision = decide_access(TENANT, subscriber(EXPIRES_NOV_30), None, now)
    assert decision.outcome is Outcome.ACCEPT
    assert decision.reason is Reason.OK
    assert session_timeout(decision.reply) == 1


def test_rejected_as_expired_at_local_midnight() -> None:
    now = datetime(2026, 11, 30, 19, 0, 0, tzinfo=UTC)  # 00:00:00 PKT on 1 December
    decision = decide_access(TENANT, subscriber(EXPIRES_NOV_30), None, now)
    assert decision.outcome is Outcome.REJECT
    assert decision.reason is Reason.EXPIRED
    assert decision.reply == (("Reply-Message", "plan expired"),)


def test_rejected_as_expired_long_after_expiry() -> None:
    now = datetime(2027, 6, 1, tzinfo=UTC)
    decision = decide_access(TENANT, subscriber(EXPIRES_NOV_30), None, now)
    assert (decision.outcome, decision.reason) == (Outcome.REJECT, Reason.EXPIRED)


@pytest.mark.parametrize(
    ("now", "expected"),
    [
        (datetime(2026, 11, 30, 18, 0, 0, tzinfo=UTC), 3600),
        (datetime(2026, 11, 30, 18, 59, 0, tzinfo=UTC), 60),
        (datetime(2026, 11, 29, 19, 0, 0, tzinfo=UTC), 86400),
        (datetime(2026, 11, 30, 23, 59, 59, tzinfo=PKT), 1),  # the same instant written in PKT
    ],
)
def test_session_timeout_is_the_seconds_left_until_expiry(now: datetime, expected: int) -> None:
    decision = decide_access(TENANT, subscriber(EXPIRES_NOV_30), None, now)
    assert decision.accepted
    assert session_timeout(decision.reply) == expected


def test_session_timeout_rounds_up_within_the_last_second() -> None:
    # A zero Session-Timeout reads as "no limit" to many NAS: half a second before
    # expiry the reply must say 1 (rounded up), never 0.
    now = datetime(2026, 11, 30, 18, 59, 59, 500_000, tzinfo=UTC)
    decision = decide_access(TENANT, subscriber(EXPIRES_NOV_30), None, now)
    assert decision.accepted
    assert session_timeout(decision.reply) == 1


def test_no_session_timeout_without_expiry() -> None:
    decision = decide_access(TENANT, subscriber(None), None, datetime(2026, 11, 30, tzinfo=UTC))
    assert decision.accepted
    assert session_timeout(decision.reply) is None


@pytest.mark.parametrize(
    ("paid_until", "last_second_utc"),
    [
        (date(2028, 2, 28), datetime(2028, 2, 28, 18, 59, 59, tzinfo=UTC)),
        (date(2028, 2, 29), datetime(2028, 2, 29, 18, 59, 59, tzinfo=UTC)),
    ],
)
def test_leap_day_boundaries(paid_until: date, last_second_utc: datetime) -> None:
    sub = subscriber(expires_at_for_date(paid_until, "Asia/Karachi"))
    last = decide_access(TENANT, sub, None, last_second_utc)
    assert last.accepted and session_timeout(last.reply) == 1
    after = decide_access(TENANT, sub, None, last_second_utc + timedelta(seconds=1))
    assert (after.outcome, after.reason) == (Outcome.REJECT, Reason.EXPIRED)


def test_new_york_tenant_expires_later_than_karachi_for_the_same_date() -> None:
    ny_tenant = Tenant(id=2, slug="nyc", timezone="America/New_York")
    sub = subscriber(expires_at_for_date(date(2026, 11, 30), ny_tenant.timezone))
    # Karachi's midnight has passed, New York's has not (05:00 UTC).
    now = datetime(2026, 11, 30, 19, 0, tzinfo=UTC)
    decision = decide_access(ny_tenant, sub, None, now)
    assert decision.accepted
    assert session_timeout(decision.reply) == 10 * 3600
    last = decide_access(ny_tenant, sub, None, datetime(2026, 12, 1, 4, 59, 59, tzinfo=UTC))
    assert last.accepted and session_timeout(last.reply) == 1
    gone = decide_access(ny_tenant, sub, None, datetime(2026, 12, 1, 5, 0, tzinfo=UTC))
    assert gone.reason is Reason.EXPIRED


# --------------------------------------------------------------------- the clock stays out


@freeze_time("2026-11-30 18:59:59", tz_offset=0)
def test_frozen_clock_feeds_now_at_the_last_second() -> None:
    now = datetime.now(timezone.utc)
    assert now == datetime(2026, 11, 30, 18, 59, 59, tzinfo=UTC)
    decision = decide_access(TENANT, subscriber(EXPIRES_NOV_30), None, now)
    assert decision.accepted and session_timeout(decision.reply) == 1


@freeze_time("2026-11-30 19:00:00")
def test_frozen_clock_feeds_now_at_midnight() -> None:
    decision = decide_access(TENANT, subscriber(EXPIRES_NOV_30), None, datetime.now(timezone.utc))
    assert decision.reason is Reason.EXPIRED


def test_policy_uses_the_given_now_not_the_clock() -> None:
    # The clock says the plan expired a year ago (and, the other way round, that it
    # has a year to run); the answer must follow the explicit now in both cases.
    sub = subscriber(EXPIRES_NOV_30)
    with freeze_time("2027-12-01 00:00:00"):
        before = decide_access(TENANT, sub, None, datetime(2026, 11, 30, 18, 59, 59, tzinfo=UTC))
    with freeze_time("2025-11-30 00:00:00"):
        after = decide_access(TENANT, sub, None, datetime(2026, 11, 30, 19, 0, tzinfo=UTC))
    assert before.accepted and session_timeout(before.reply) == 1
    assert (after.outcome, after.reason) == (Outcome.REJECT, Reason.EXPIRED)
