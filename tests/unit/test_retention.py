"""The retention schedule (rlm_cloudos.policy.retention): cutoffs and whole months."""

from __future__ import annotations

from datetime import date, datetime, timezone

import pytest
from hypothesis import given
from hypothesis import strategies as st

from rlm_cloudos.policy.retention import (RetentionSettings, cutoffs, droppable, midnight_utc, month_start,
                                          months_ahead, months_before, next_month)

D = date


def test_months_before_clamps_to_the_months_end() -> None:
    assert months_before(D(2027, 3, 31), 1) == D(2027, 2, 28)
    assert months_before(D(2028, 3, 31), 1) == D(2028, 2, 29)
    assert months_before(D(2027, 1, 15), 12) == D(2026, 1, 15)
    assert months_before(D(2027, 1, 15), 1) == D(2026, 12, 15)


def test_the_policys_periods_are_the_defaults() -> None:
    c = cutoffs(RetentionSettings(), D(2028, 12, 2))
    utc = timezone.utc
    assert c.logs == c.notifications == datetime(2027, 12, 2, tzinfo=utc)
    assert c.support_resolved == datetime(2026, 12, 2, tzinfo=utc)
    assert c.billing_terminated == datetime(2023, 12, 2, tzinfo=utc)
    assert c.nonessential_terminated == datetime(2028, 11, 2, tzinfo=utc)


def test_a_month_goes_only_once_all_of_it_is_older_than_the_cutoff() -> None:
    cutoff = midnight_utc(D(2027, 12, 2))
    assert droppable(D(2027, 11, 1), cutoff)
    assert not droppable(D(2027, 12, 1), cutoff)  # its first day is 12 months old, the rest is not
    assert droppable(D(2027, 11, 1), midnight_utc(D(2027, 12, 1)))  # the boundary itself


@given(st.dates(D(2020, 1, 1), D(2040, 12, 31)), st.integers(12, 120))
def test_nothing_younger_than_the_period_is_ever_droppable(today: date, months: int) -> None:
    cutoff = cutoffs(RetentionSettings(log_months=months), today).logs
    # The month holding the cutoff, and every later one, stays.
    held = month_start(cutoff.date())
    assert not droppable(held, cutoff) and not droppable(next_month(held), cutoff)
    assert cutoff <= midnight_utc(months_before(today, months))


def test_the_partitions_made_ahead_cross_the_year() -> None:
    assert months_ahead(D(2026, 11, 20)) == [D(2026, 11, 1), D(2026, 12, 1), D(2027, 1, 1), D(2027, 2, 1)]


def test_what_is_kept_is_never_kept_shorter_and_what_is_purged_never_later() -> None:
    with pytest.raises(ValueError, match="log_months must be from 12"):
        RetentionSettings(log_months=11)
    with pytest.raises(ValueError, match="billing_years must be from 5"):
        RetentionSettings(billing_years=4)
    with pytest.raises(ValueError, match="nonessential_days must be from 0 to 30"):
        RetentionSettings(nonessential_days=31)
    RetentionSettings(log_months=24, nonessential_days=0)
