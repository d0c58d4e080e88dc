"""Data-request deadlines (rlm_cloudos.policy.privacy): 14 business days from the day after receipt."""

from __future__ import annotations

from datetime import date, timedelta

import pytest
from hypothesis import given
from hypothesis import strategies as st

from rlm_cloudos.policy.privacy import business_days_left, deadline, is_business_day

D = date


def test_fourteen_business_days_from_the_day_after_receipt() -> None:
    # Received Monday 7 December 2026: Tue 8 is day 1; two weekends skipped; day 14 is Friday 25.
    assert deadline(D(2026, 12, 7)) == D(2026, 12, 25)
    # Received on a Friday: the weekend does not count, Monday is day 1.
    assert deadline(D(2026, 12, 4)) == D(2026, 12, 24)
    # Received on a Saturday: Monday is day 1, as for a Friday.
    assert deadline(D(2026, 12, 5)) == D(2026, 12, 24)


def test_the_operators_holidays_are_skipped() -> None:
    quaid_day = D(2026, 12, 25)  # Quaid-e-Azam Day, a Friday
    assert deadline(D(2026, 12, 7), {quaid_day}) == D(2026, 12, 28)
    assert deadline(D(2026, 12, 7), {D(2026, 12, 26)}) == D(2026, 12, 25)  # a Saturday holiday changes nothing


@given(st.dates(D(2020, 1, 1), D(2040, 1, 1)), st.sets(st.dates(D(2020, 1, 1), D(2040, 3, 1)), max_size=30))
def test_the_deadline_is_a_business_day_with_fourteen_before_it(received: date, holidays: set[date]) -> None:
    due = deadline(received, holidays)
    assert is_business_day(due, holidays)
    counted = sum(1 for n in range(1, (due - received).days + 1)
                  if is_business_day(received + timedelta(days=n), holidays))
    assert counted == 14
    assert business_days_left(received, due, holidays) == 14


def test_days_left_and_days_late() -> None:
    due = D(2026, 12, 25)
    assert business_days_left(D(2026, 12, 24), due) == 1
    assert business_days_left(due, due) == 0
    assert business_days_left(D(2026, 12, 28), due) == -1  # Monday after: one business day late
    with pytest.raises(ValueError):
        deadline(D(2026, 12, 7), days=0)
