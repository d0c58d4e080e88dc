"""The privacy policy's retention schedule: what may go, as of a day (pure: no I/O, no clock).

CloudOS's privacy policy keeps session, system and access logs 12 months, support records 2
years after resolution, billing records 5 years after the account's termination, and purges
non-essential data 30 days after termination. The periods are settings (PTA rules may ask
longer of hotspot logs), the policy's values their defaults.

Logs live in monthly partitions by UTC month (cloudos_ensure_month_partitions): a month goes
whole once all of it is older than the cutoff, so what is kept always covers at least the
retention period (and at most one month more). Nothing is deleted row by row from a live month.
"""

from __future__ import annotations

import calendar
from dataclasses import dataclass
from datetime import date, datetime, time, timezone


@dataclass(frozen=True, slots=True)
class RetentionSettings:
    #: Session history and the auth log (the access log), in months.
    log_months: int = 12
    #: Notifications sent (or not), in months.
    notification_months: int = 12
    #: Support records, in years after resolution.
    support_years: int = 2
    #: Billing records, in years after the account's termination.
    billing_years: int = 5
    #: Non-essential data of a terminated account, in days after termination.
    nonessential_days: int = 30

    def __post_init__(self) -> None:
        # What is kept may be kept longer, never shorter; what is purged may go sooner, never later.
        for name, low, high in (("log_months", 12, 600), ("notification_months", 12, 600), ("support_years", 2, 50),
                                ("billing_years", 5, 50), ("nonessential_days", 0, 30)):
            if not low <= getattr(self, name) <= high:
                raise ValueError(f"{name} must be from {low} to {high}")


def months_before(day: date, months: int) -> date:
    """The same day ``months`` earlier, clamped to the month's end (31 March less one: 28/29 Feb)."""
    total = day.year * 12 + day.month - 1 - months
    year, month = divmod(total, 12)
    month += 1
    return date(year, month, min(day.day, calendar.monthrange(year, month)[1]))


def years_before(day: date, years: int) -> date:
    return months_before(day, 12 * years)


def midnight_utc(day: date) -> datetime:
    return datetime.combine(day, time(0), tzinfo=timezone.utc)


@dataclass(frozen=True, slots=True)
class Cutoffs:
    """Instants before which each kind of record may go (UTC)."""

    logs: datetime
    notifications: datetime
    support_resolved: datetime
    billing_terminated: datetime
    nonessential_terminated: datetime


def cutoffs(settings: RetentionSettings, today: date) -> Cutoffs:
    """What the schedule lets go as of ``today`` (a UTC day: the partitions are UTC months)."""
    return Cutoffs(
        logs=midnight_utc(months_before(today, settings.log_months)),
        notifications=midnight_utc(months_before(today, settings.notification_months)),
        support_resolved=midnight_utc(years_before(today, settings.support_years)),
        billing_terminated=midnight_utc(years_before(today, settings.billing_years)),
        nonessential_terminated=midnight_utc(date.fromordinal(today.toordinal() - settings.nonessential_days)),
    )


def month_start(day: date) -> date:
    return day.replace(day=1)


def next_month(day: date) -> date:
    return date(day.year + day.month // 12, day.month % 12 + 1, 1)


def droppable(month: date, cutoff: datetime) -> bool:
    """Whether the UTC month starting ``month`` lies wholly before ``cutoff``."""
    return midnight_utc(next_month(month)) <= cutoff


def months_ahead(today: date, months: int = 3) -> list[date]:
    """The first days of this month and of the ``months`` after it: the partitions a run makes, so
    that no row lands in a default partition."""
    out = [month_start(today)]
    for _ in range(months):
        out.append(next_month(out[-1]))
    return out
