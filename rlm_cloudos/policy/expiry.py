"""Expiry arithmetic in the tenant's time zone."""

from __future__ import annotations

from datetime import date, datetime, time, timedelta
from zoneinfo import ZoneInfo


def expires_at_for_date(day: date, timezone: str) -> datetime:
    """The instant a plan paid "until DAY" ends: midnight at the start of the next day, in the tenant's zone."""
    return datetime.combine(day + timedelta(days=1), time(0), tzinfo=ZoneInfo(timezone))


def end_of_day(now: datetime, timezone: str) -> datetime:
    """The next local midnight after ``now`` in ``timezone``; ``now`` must be aware."""
    local = now.astimezone(ZoneInfo(timezone))
    return expires_at_for_date(local.date(), timezone)


def seconds_left(expires_at: datetime, now: datetime) -> int:
    """Seconds from ``now`` until ``expires_at`` rounded up (a Session-Timeout of 0 means
    "no limit" to many NAS), never negative; raises ValueError on naive datetimes."""
    if expires_at.tzinfo is None or now.tzinfo is None:
        raise ValueError("expiry arithmetic needs aware datetimes")
    left = expires_at - now
    whole = left.days * 86400 + left.seconds
    return max(0, whole + (1 if left.microseconds else 0))
