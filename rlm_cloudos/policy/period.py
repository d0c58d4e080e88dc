"""Billing periods: the Python twin of the schema's cloudos_period() (tests hold them equal).

'monthly' is the calendar month in the tenant's zone. 'Nd' is N local days
aligned on the subscriber's expiry (the paid period), or on 1970-01-01 local
when there is no expiry.

Local wall times are read as PostgreSQL reads ``timestamp AT TIME ZONE``: a time
that occurs twice (clocks going back) is the later instant, and a time that does
not exist (clocks going forward) takes the offset from before the change.
"""

from __future__ import annotations

import re
from datetime import datetime, timedelta, timezone
from zoneinfo import ZoneInfo

EPOCH = datetime(1970, 1, 1)
_PERIOD = re.compile(r"^[1-9][0-9]{0,3}d$")


def localize(naive: datetime, tz: ZoneInfo) -> datetime:
    """The instant (in UTC) of a local wall time, as PostgreSQL resolves repeated and skipped times.

    UTC, because an aware datetime inside a repeated hour never compares equal to one in
    another zone (PEP 495), which would make equal instants look different.
    """
    first = naive.replace(tzinfo=tz, fold=0).astimezone(timezone.utc)
    second = naive.replace(tzinfo=tz, fold=1).astimezone(timezone.utc)
    if first == second:
        return first
    exists = first.astimezone(tz).replace(tzinfo=None) == naive
    if exists:  # repeated: the later instant
        return max(first, second)
    return first  # skipped: the offset in force before the change


def billing_period(period: str | None, tz_name: str, expires_at: datetime | None,
                   at: datetime) -> tuple[datetime, datetime]:
    """[start, end) in UTC of the period containing ``at`` (aware); raises ValueError on a bad period."""
    tz = ZoneInfo(tz_name)
    local = at.astimezone(tz).replace(tzinfo=None)
    if period is None or period == "monthly":
        start = local.replace(day=1, hour=0, minute=0, second=0, microsecond=0)
        end = start.replace(year=start.year + 1, month=1) if start.month == 12 else start.replace(month=start.month + 1)
        return localize(start, tz), localize(end, tz)
    if not _PERIOD.match(period):
        raise ValueError(f"bad period {period!r}")
    days = int(period[:-1])
    anchor = expires_at.astimezone(tz).replace(tzinfo=None) if expires_at is not None else EPOCH
    k = (local - anchor) // timedelta(days=days)

    def bounds(k: int) -> tuple[datetime, datetime]:
        start = anchor + timedelta(days=k * days)
        return localize(start, tz), localize(start + timedelta(days=days), tz)

    start, end = bounds(k)
    # A boundary inside a skipped hour resolves an hour late: step so the period contains ``at``.
    if at < start:
        start, end = bounds(k - 1)
    elif at >= end:
        start, end = bounds(k + 1)
    return start, end
