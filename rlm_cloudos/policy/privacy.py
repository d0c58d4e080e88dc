"""Data requests under the privacy policy: their kinds and deadlines (pure: no I/O, no clock).

A subscriber's request (access, rectification, erasure, objection, withdrawal of consent) is
answered within 14 business days, counted from the day after it was received: Saturdays,
Sundays and the public holidays the operator lists are not counted.
"""

from __future__ import annotations

from collections.abc import Collection
from datetime import date, timedelta
from enum import StrEnum

#: Business days to answer a request in.
BUSINESS_DAYS = 14


class RequestKind(StrEnum):
    ACCESS = "access"
    RECTIFY = "rectify"
    ERASE = "erase"
    OBJECT = "object"
    WITHDRAW = "withdraw"


def is_business_day(day: date, holidays: Collection[date]) -> bool:
    return day.weekday() < 5 and day not in holidays


def deadline(received: date, holidays: Collection[date] = (), days: int = BUSINESS_DAYS) -> date:
    """The last day to answer a request received on ``received``: the ``days``-th business day
    after it (the day of receipt itself is not counted)."""
    if days < 1:
        raise ValueError("a deadline is at least one business day")
    day, counted = received, 0
    while counted < days:
        day += timedelta(days=1)
        if is_business_day(day, holidays):
            counted += 1
    return day


def business_days_left(today: date, due: date, holidays: Collection[date] = ()) -> int:
    """Business days from tomorrow through ``due`` (0 on the day itself; negative once late, counting
    the business days since)."""
    if today <= due:
        return sum(1 for n in range(1, (due - today).days + 1)
                   if is_business_day(today + timedelta(days=n), holidays))
    return -sum(1 for n in range(0, (today - due).days)
                if is_business_day(due + timedelta(days=n + 1), holidays))
