"""How the CLI writes and reads times: human text in the tenant's zone, JSON in UTC.

Human output gives every instant in the tenant's time zone, to the minute, with the zone's
abbreviation (``2026-12-01 00:00 PKT`` for Asia/Karachi), and names a billing period as a NOC
says it (``November 2026``). ``--json`` gives ISO 8601 in UTC to the second (``…T19:00:00Z``)
and exact integers, whatever the zone.

The JSON vocabulary (the README's table lists it): the same thing has the same name in every
command. ``mac`` (never ``mac_binding`` or ``calling_station_id``), ``session_seconds``,
``period_start``/``period_end`` (two fields, plus ``period`` for its name), ``online_sessions``
a count and ``sessions`` a list, ``tenant`` the tenant's name and ``id`` the row's id in every
list, ``*_bytes`` integers, ``*_at`` UTC instants, ``paid_until`` a local date.
"""

from __future__ import annotations

from datetime import date, datetime, time, timedelta, timezone
from zoneinfo import ZoneInfo

from rlm_cloudos.policy.period import localize

__all__ = ["local", "local_date", "period_name", "read_local", "rupees", "utc"]


def utc(when: datetime | None) -> str | None:
    """``when`` for JSON: ISO 8601 in UTC to the second, ``Z`` for the offset (None stays None)."""
    if when is None:
        return None
    return when.astimezone(timezone.utc).replace(microsecond=0).isoformat().replace("+00:00", "Z")


def local(when: datetime | None, tz: str, *, seconds: bool = False) -> str:
    """``when`` for a person: the tenant's wall time to the minute (or second) and the zone's
    abbreviation, ``2026-12-01 05:00 PKT``; ``''`` for None."""
    if when is None:
        return ""
    at = when.astimezone(ZoneInfo(tz))
    return at.strftime("%Y-%m-%d %H:%M:%S %Z" if seconds else "%Y-%m-%d %H:%M %Z")


def local_date(day: date | None) -> str:
    """A local calendar day as ISO (``2026-12-31``), ``''`` for None."""
    return "" if day is None else day.isoformat()


def _fmt_day(day: date) -> str:
    return f"{day.day} {day.strftime('%b %Y')}"


def period_name(start: datetime, end: datetime, tz: str) -> str:
    """A billing period [start, end) as a NOC names it: ``November 2026`` for a calendar month in
    the tenant's zone, else its first and last day, ``15 Nov 2026 – 14 Dec 2026``."""
    zone = ZoneInfo(tz)
    first = start.astimezone(zone)
    last = (end.astimezone(zone) - timedelta(microseconds=1)).date()
    if first.time() == time(0) and first.day == 1 and last + timedelta(days=1) == _next_month(first.date()):
        return first.strftime("%B %Y")
    return f"{_fmt_day(first.date())} – {_fmt_day(last)}"


def _next_month(day: date) -> date:
    return date(day.year + 1, 1, 1) if day.month == 12 else date(day.year, day.month + 1, 1)


def read_local(text: str, tz: str) -> datetime:
    """An ISO 8601 time from the command line; without an offset it is the tenant's wall time
    (a time that occurs twice or never is read as PostgreSQL reads it). Raises ValueError."""
    try:
        when = datetime.fromisoformat(text)
    except ValueError:
        raise ValueError(f"invalid time {text!r}: ISO 8601, e.g. 2026-12-01T09:30 (tenant time) "
                         "or 2026-12-01T04:30:00+00:00") from None
    if when.tzinfo is None:
        return localize(when, ZoneInfo(tz))
    return when


def rupees(paisa: int) -> str:
    """Integer paisa as a NOC reads rupees, ``Rs 2,950.00`` (a credit as ``-Rs 50.00``)."""
    sign = "-" if paisa < 0 else ""
    whole, cents = divmod(abs(paisa), 100)
    return f"{sign}Rs {whole:,}.{cents:02d}"
