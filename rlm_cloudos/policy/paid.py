"""Paid-until arithmetic: the last paid day, and one more billing period after it.

Pure: no database, no clock. Callers pass ``today`` (the tenant's local date of
their one ``now``), so a renewal at 23:59 and one at 00:01 Karachi time differ
exactly as the calendar says.
"""

from __future__ import annotations

import calendar
from datetime import date, datetime, timedelta
from zoneinfo import ZoneInfo


def local_date(now: datetime, tz: str) -> date:
    """The calendar day ``now`` falls on in time zone ``tz``; raises ValueError on a naive ``now``."""
    if now.tzinfo is None:
        raise ValueError("local_date needs an aware datetime")
    return now.astimezone(ZoneInfo(tz)).date()


def paid_until(expires_at: datetime | None, tz: str) -> date | None:
    """The last paid day: ``expires_at`` is the local midnight that ends it (None: no expiry)."""
    if expires_at is None:
        return None
    return (expires_at.astimezone(ZoneInfo(tz)) - timedelta(microseconds=1)).date()


def add_months(d: date, months: int) -> date:
    """``d`` moved by ``months`` calendar months, the day clamped to the target month's last day
    (31 Jan + 1 month = 28 or 29 Feb); raises ValueError outside the years 1..9999."""
    y, m = divmod(d.month - 1 + months, 12)
    year, month = d.year + y, m + 1
    return date(year, month, min(d.day, calendar.monthrange(year, month)[1]))


def next_paid_until(current: date | None, today: date, period: str) -> date:
    """The last paid day after one more ``period`` ('monthly' or 'Nd'): it follows the current
    paid-until day, or starts ``today`` when that already lapsed (or there is none).
    Raises ValueError on a period that is neither."""
    start = max(current + timedelta(days=1), today) if current else today
    if period == "monthly":
        return add_months(start, 1) - timedelta(days=1)
    if not (period.endswith("d") and period[:-1].isdigit() and int(period[:-1]) >= 1):
        raise ValueError(f"invalid period {period!r}: 'monthly' or a number of days like '30d'")
    return start + timedelta(days=int(period[:-1]) - 1)
