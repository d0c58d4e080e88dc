"""Billing periods: the Python twin of the schema's cloudos_period() (tests hold them equal).

'monthly' is the calendar month in the tenant's zone. 'Nd' is N local days
aligned on the subscriber's expiry (the paid period), or on 1970-01-01 local
when there is no expiry.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

EPOCH = datetime(1970, 1, 1)


def billing_period(period: str | None, timezone: str, expires_at: datetime | None,
                   at: datetime) -> tuple[datetime, datetime]:
    """[start, end) of the period containing ``at`` (aware); raises ValueError on a bad period."""
    tz = ZoneInfo(timezone)
    local = at.astimezone(tz).replace(tzinfo=None)
    if period is None or period == "monthly":
        start = local.replace(day=1, hour=0, minute=0, second=0, microsecond=0)
        end = start.replace(year=start.year + 1, month=1) if start.month == 12 else start.replace(month=start.month + 1)
        return start.replace(tzinfo=tz), end.replace(tzinfo=tz)
    if not period.endswith("d") or not period[:-1].isdigit() or int(period[:-1]) < 1:
        raise ValueError(f"bad period {period!r}")
    days = int(period[:-1])
    anchor = expires_at.astimezone(tz).replace(tzinfo=None) if expires_at is not None else EPOCH
    k = (local - anchor) // timedelta(days=days)
    start = anchor + timedelta(days=k * days)
    return start.replace(tzinfo=tz), (start + timedelta(days=days)).replace(tzinfo=tz)
