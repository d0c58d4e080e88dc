"""The billing engine (rlm_cloudos.policy.billing): periods, proration, taxes, the run's decisions."""

from __future__ import annotations

import calendar
from dataclasses import replace
from datetime import date, datetime, timedelta, timezone
from decimal import Decimal
from fractions import Fraction

import pytest
from hypothesis import given
from hypothesis import strategies as st

from rlm_cloudos.policy.billing import (
    Account, BillingSettings, Cycle, OpenInvoice, Period, TaxBase, TaxKind, TaxRule, allocate,
    document_number, fiscal_year, half_up, next_billing_day, next_period, normal_iban, paisa, plan_account,
    plan_change, priced_line, rule_in_force, split, suspended_for_nonpayment, tax_on,
)
from rlm_cloudos.policy.paid import local_date

D = date
ANNIV = BillingSettings(cycle=Cycle.ANNIVERSARY, invoice_lead_days=5, grace_days=3, province="punjab")
CAL = BillingSettings(cycle=Cycle.CALENDAR, billing_day=1, invoice_lead_days=5, grace_days=3, province="punjab")

PST_26 = TaxRule(1, "Punjab sales tax", TaxKind.SALES, Decimal("16"), D(2025, 7, 1), D(2026, 6, 30), "punjab")
PST_27 = TaxRule(2, "Punjab sales tax", TaxKind.SALES, Decimal("19.5"), D(2026, 7, 1), None, "punjab")
SST = TaxRule(3, "Sindh sales tax", TaxKind.SALES, Decimal("19.5"), D(2025, 7, 1), None, "sindh")
WHT = TaxRule(4, "Advance income tax u/s 236", TaxKind.ADVANCE_INCOME, Decimal("15"), D(2025, 7, 1), None, None,
              reference="ITO 2001 s.236(1)(d)")
RULES = (PST_26, PST_27, SST, WHT)


def account(**kw: object) -> Account:
    base = Account(id=1, username="ali", status="active", status_reason=None, plan_name="Home 10M",
                   price_paisa=2_500_00, plan_period="monthly", paid_until=D(2026, 12, 10), joined_on=D(2026, 1, 10))
    return replace(base, **kw)  # type: ignore[arg-type]


# ----------------------------------------------------------------------------------- arithmetic
def test_half_up_rounds_halves_away_from_zero() -> None:
    assert [half_up(Fraction(n, 2)) for n in (-5, -3, -1, 1, 3, 5)] == [-3, -2, -1, 1, 2, 3]
    assert half_up(Fraction(2499, 1000)) == 2 and half_up(Fraction(2500, 1000)) == 3


def test_tax_is_rounded_half_up_to_the_paisa() -> None:
    assert tax_on(2_500_00, Decimal("19.5")) == 48_750
    assert tax_on(99, Decimal("16")) == 16  # 15.84
    assert tax_on(25, Decimal("10")) == 3  # 2.5 exactly: up
    assert tax_on(0, Decimal("19.5")) == 0


@given(st.integers(0, 10**10), st.decimals(min_value=0, max_value=100, places=3, allow_nan=False))
def test_tax_is_within_half_a_paisa_of_the_exact_amount(base: int, rate: Decimal) -> None:
    exact = Fraction(base) * Fraction(rate) / 100
    assert abs(tax_on(base, rate) - exact) <= Fraction(1, 2)


def test_rupees_to_paisa_is_exact_or_refused() -> None:
    assert paisa(Decimal("2500")) == 250_000 and paisa(Decimal("0.01")) == 1
    with pytest.raises(ValueError):
        paisa(Decimal("0.005"))


@given(st.integers(0, 10**9), st.lists(st.integers(0, 400), min_size=1, max_size=12).filter(lambda w: sum(w) > 0))
def test_a_split_never_creates_or_loses_a_paisa(total: int, weights: list[int]) -> None:
    parts = split(total, weights)
    assert sum(parts) == total
    for part, w in zip(parts, weights):
        assert abs(part - Fraction(total * w, sum(weights))) < 1


def test_fiscal_year_turns_on_the_first_of_july() -> None:
    assert fiscal_year(D(2026, 6, 30)) == "2025-26"
    assert fiscal_year(D(2026, 7, 1)) == "2026-27"
    assert fiscal_year(D(2099, 12, 31)) == "2099-00"
    assert document_number("INV", "2026-27", 42) == "INV-2026-27-000042"


@pytest.mark.parametrize("text,normal", [
    ("PK36SCBL0000001123456702", "PK36SCBL0000001123456702"),
    ("pk36 scbl 0000 0011 2345 6702", "PK36SCBL0000001123456702"),
    ("GB82WEST12345698765432", "GB82WEST12345698765432"),
])
def test_a_valid_iban_is_normalised(text: str, normal: str) -> None:
    assert normal_iban(text) == normal


@pytest.mark.parametrize("text", [
    "PK27MPBL1181017140122674",  # printed on a bank's page; its check digits fail
    "PK36HABB0001234567890123",
    "PK36SCBL0000001123456703",  # one digit mistyped
    "PK36SCBL000000112345670",  # one short
    "PK36SCB10000001123456702",  # the bank code is four letters
    "36SCBL0000001123456702",
    "",
])
def test_an_invalid_iban_is_refused(text: str) -> None:
    with pytest.raises(ValueError):
        normal_iban(text)


# ----------------------------------------------------------------------------------- periods
def test_monthly_periods_keep_their_anchor_day_through_short_months() -> None:
    p, share, anchor = next_period(ANNIV, D(2027, 1, 31), "monthly", None)
    assert (p, share, anchor) == (Period(D(2027, 1, 31), D(2027, 2, 27)), Fraction(1), 31)
    p2, _, _ = next_period(ANNIV, p.end + timedelta(days=1), "monthly", anchor)
    assert p2 == Period(D(2027, 2, 28), D(2027, 3, 30))
    p3, _, _ = next_period(ANNIV, p2.end + timedelta(days=1), "monthly", anchor)
    assert p3 == Period(D(2027, 3, 31), D(2027, 4, 29))


def test_a_leap_february() -> None:
    p, _, _ = next_period(ANNIV, D(2028, 1, 31), "monthly", None)
    assert p == Period(D(2028, 1, 31), D(2028, 2, 28))
    p, _, _ = next_period(ANNIV, D(2028, 1, 29), "monthly", 29)
    assert p.end == D(2028, 2, 28)
    p, _, _ = next_period(ANNIV, D(2028, 2, 29), "monthly", 29)
    assert p.end == D(2028, 3, 28)


def test_day_periods() -> None:
    p, share, _ = next_period(ANNIV, D(2026, 12, 30), "30d", None)
    assert p == Period(D(2026, 12, 30), D(2027, 1, 28)) and share == 1 and p.days == 30


def test_calendar_cycle_prorates_a_mid_cycle_start_by_the_day() -> None:
    p, share, _ = next_period(CAL, D(2026, 11, 15), "monthly", None)
    assert p == Period(D(2026, 11, 15), D(2026, 11, 30)) and share == Fraction(16, 30)
    p, share, _ = next_period(CAL, D(2026, 12, 1), "monthly", None)
    assert p == Period(D(2026, 12, 1), D(2026, 12, 31)) and share == 1
    p, share, _ = next_period(CAL, D(2027, 2, 15), "monthly", None)
    assert p == Period(D(2027, 2, 15), D(2027, 2, 28)) and share == Fraction(14, 28)
    on_20 = replace(CAL, billing_day=20)
    p, share, _ = next_period(on_20, D(2027, 1, 5), "monthly", None)
    assert p == Period(D(2027, 1, 5), D(2027, 1, 19)) and share == Fraction(15, 31)
    assert next_billing_day(D(2026, 12, 31), 1) == D(2027, 1, 1)


@given(st.dates(min_value=D(2000, 1, 1), max_value=D(2099, 11, 30)), st.integers(1, 28))
def test_calendar_periods_tile_the_calendar(start: date, bday: int) -> None:
    settings = replace(CAL, billing_day=bday)
    p, share, _ = next_period(settings, start, "monthly", None)
    assert p.start == start and p.end.day == (next_billing_day(start, bday) - timedelta(days=1)).day
    assert 0 < share <= 1
    nxt, nshare, _ = next_period(settings, p.end + timedelta(days=1), "monthly", None)
    assert nshare == 1 and nxt.start.day == bday


@given(st.dates(min_value=D(2000, 1, 1), max_value=D(2099, 1, 1)))
def test_anniversary_periods_follow_each_other_without_a_gap(start: date) -> None:
    anchor: int | None = None
    for _ in range(14):
        p, share, anchor = next_period(ANNIV, start, "monthly", anchor)
        # Each period starts on the anchor day (the first one's), clamped to its month's last day.
        assert p.start.day == min(anchor, calendar.monthrange(p.start.year, p.start.month)[1])
        assert share == 1 and 28 <= p.days <= 31
        start = p.end + timedelta(days=1)


# ----------------------------------------------------------------------------------- taxes
def test_the_rule_in_force_on_the_issue_day_applies_and_rates_change_on_the_first_of_july() -> None:
    june = priced_line("x", 2_500_00, RULES, D(2026, 6, 30), "punjab")
    july = priced_line("x", 2_500_00, RULES, D(2026, 7, 1), "punjab")
    assert [(t.name, t.rate, t.amount_paisa) for t in june.taxes] == [
        ("Punjab sales tax", Decimal("16"), 40_000), ("Advance income tax u/s 236", Decimal("15"), 37_500)]
    assert [(t.rate, t.amount_paisa) for t in july.taxes] == [(Decimal("19.5"), 48_750), (Decimal("15"), 37_500)]
    assert july.total_paisa == 2_500_00 + 48_750 + 37_500


def test_the_province_decides_the_sales_tax() -> None:
    line = priced_line("x", 1_000_00, RULES, D(2026, 12, 1), "sindh")
    assert [t.name for t in line.taxes] == ["Sindh sales tax", "Advance income tax u/s 236"]
    line = priced_line("x", 1_000_00, RULES, D(2026, 12, 1), "kp")  # no KP rule: only the federal one
    assert [t.name for t in line.taxes] == ["Advance income tax u/s 236"]


def test_a_province_rule_stands_before_the_rule_for_every_province() -> None:
    general = TaxRule(9, "Sales tax", TaxKind.SALES, Decimal("15"), D(2025, 7, 1), None, None)
    assert rule_in_force((general, SST), TaxKind.SALES, D(2026, 12, 1), "sindh") == SST
    assert rule_in_force((general, SST), TaxKind.SALES, D(2026, 12, 1), "kp") == general
    assert not general.overlaps(SST) and general.overlaps(replace(general, id=10, valid_from=D(2026, 1, 1)))
    assert not PST_26.overlaps(PST_27)
    assert PST_26.overlaps(replace(PST_27, valid_from=D(2026, 6, 30)))


def test_advance_income_tax_on_net_plus_sales_and_its_exemption() -> None:
    on_both = replace(WHT, base=TaxBase.NET_PLUS_SALES)
    line = priced_line("x", 1_000_00, (PST_27, on_both), D(2026, 12, 1), "punjab")
    assert [(t.base_paisa, t.amount_paisa) for t in line.taxes] == [(1_000_00, 19_500), (1_195_00, 17_925)]
    exempt = priced_line("x", 1_000_00, RULES, D(2026, 12, 1), "punjab", exempt_until=D(2026, 12, 1))
    assert [t.kind for t in exempt.taxes] == [TaxKind.SALES]
    lapsed = priced_line("x", 1_000_00, RULES, D(2026, 12, 2), "punjab", exempt_until=D(2026, 12, 1))
    assert [t.kind for t in lapsed.taxes] == [TaxKind.SALES, TaxKind.ADVANCE_INCOME]


@given(st.lists(st.integers(0, 10**8), min_size=1, max_size=6),
       st.sampled_from([D(2026, 6, 30), D(2026, 7, 1)]), st.sampled_from(["punjab", "sindh", "kp", None]))
def test_an_invoice_adds_up_to_its_lines_and_each_line_to_its_taxes(nets: list[int], on: date,
                                                                    province: str | None) -> None:
    lines = [priced_line(f"l{i}", n, RULES, on, province) for i, n in enumerate(nets)]
    for line in lines:
        assert line.total_paisa == line.net_paisa + sum(t.amount_paisa for t in line.taxes)
        for t in line.taxes:
            assert abs(t.amount_paisa - Fraction(t.base_paisa) * Fraction(t.rate) / 100) <= Fraction(1, 2)
    assert sum(line.total_paisa for line in lines) == sum(nets) + sum(line.tax_paisa for line in lines)


# ----------------------------------------------------------------------------------- the run
def kinds(item: object) -> list[str]:
    return [a.kind.value for a in item.actions]  # type: ignore[attr-defined]


def test_the_invoice_is_issued_from_the_lead_day_inclusive() -> None:
    acc = account()  # paid until 10 Dec
    assert kinds(plan_account(ANNIV, acc, RULES, D(2026, 12, 4))) == []
    item = plan_account(ANNIV, acc, RULES, D(2026, 12, 5))
    assert kinds(item) == ["issue"]
    draft = item.actions[0].draft
    assert draft is not None
    assert draft.period == Period(D(2026, 12, 11), D(2027, 1, 10)) and draft.due_on == D(2026, 12, 10)
    assert draft.issued_on == D(2026, 12, 5) and draft.anchor_day == 11
    assert draft.total_paisa == 2_500_00 + 48_750 + 37_500
    # Once: with the period invoiced, a second run that day (or after a crash) issues nothing.
    again = replace(acc, invoiced_until=draft.period.end,
                    open_invoices=(OpenInvoice("INV-2026-27-000001", draft.period, draft.due_on, draft.total_paisa),))
    assert kinds(plan_account(ANNIV, again, RULES, D(2026, 12, 5))) == []


def test_remind_on_the_due_day_suspend_the_day_after_the_grace() -> None:
    inv = OpenInvoice("INV-2026-27-000001", Period(D(2026, 12, 11), D(2027, 1, 10)), D(2026, 12, 10), 3_362_50)
    acc = account(invoiced_until=inv.period.end, open_invoices=(inv,))
    assert kinds(plan_account(ANNIV, acc, RULES, D(2026, 12, 9))) == []
    assert kinds(plan_account(ANNIV, acc, RULES, D(2026, 12, 10))) == ["remind"]
    reminded = replace(acc, open_invoices=(replace(inv, reminded=True),))
    assert kinds(plan_account(ANNIV, reminded, RULES, D(2026, 12, 13))) == []  # the third grace day
    item = plan_account(ANNIV, reminded, RULES, D(2026, 12, 14))
    assert kinds(item) == ["suspend"] and item.actions[0].reason == "unpaid INV-2026-27-000001"
    # Partly paid is still unpaid; paid in full is not chased.
    part = replace(reminded, open_invoices=(replace(inv, reminded=True, paid_paisa=3_000_00),))
    assert kinds(plan_account(ANNIV, part, RULES, D(2026, 12, 14))) == ["suspend"]
    paid = replace(reminded, open_invoices=(replace(inv, reminded=True, paid_paisa=inv.total_paisa),))
    assert kinds(plan_account(ANNIV, paid, RULES, D(2026, 12, 14))) == []


def test_suspended_for_nonpayment_is_reactivated_once_nothing_is_overdue_and_no_one_else_is() -> None:
    unpaid = account(status="suspended", status_reason="unpaid INV-2026-27-000001")
    assert suspended_for_nonpayment(unpaid.status, unpaid.status_reason)
    assert kinds(plan_account(ANNIV, unpaid, RULES, D(2026, 12, 1))) == ["reactivate"]
    by_noc = account(status="suspended", status_reason="abuse complaint")
    assert kinds(plan_account(ANNIV, by_noc, RULES, D(2026, 12, 5))) == []  # no invoice either
    assert kinds(plan_account(ANNIV, account(status="terminated"), RULES, D(2026, 12, 5))) == []


def test_a_free_plan_and_no_plan_are_not_billed() -> None:
    assert kinds(plan_account(ANNIV, account(price_paisa=None), RULES, D(2026, 12, 5))) == []
    assert kinds(plan_account(ANNIV, account(plan_name=None, price_paisa=None), RULES, D(2026, 12, 5))) == []


def test_a_subscriber_lapsed_past_the_grace_or_never_paid_is_billed_from_today() -> None:
    item = plan_account(ANNIV, account(paid_until=D(2026, 10, 1)), RULES, D(2026, 12, 5))
    assert item.actions[0].draft is not None and item.actions[0].draft.period.start == D(2026, 12, 5)
    item = plan_account(ANNIV, account(paid_until=None), RULES, D(2026, 12, 5))
    assert item.actions[0].draft is not None and item.actions[0].draft.period.start == D(2026, 12, 5)


def test_calendar_tenant_prorates_the_first_invoice_of_a_mid_cycle_joiner() -> None:
    item = plan_account(CAL, account(paid_until=None, joined_on=D(2026, 11, 15)), RULES, D(2026, 11, 15))
    draft = item.actions[0].draft
    assert draft is not None and draft.period == Period(D(2026, 11, 15), D(2026, 11, 30))
    assert draft.net_paisa == half_up(Fraction(2_500_00 * 16, 30)) and "16 days, prorated" in draft.lines[0].description
    # The next one is a full cycle, issued five days before the billing day.
    nxt = account(paid_until=D(2026, 11, 30), anchor_day=1)
    assert kinds(plan_account(CAL, nxt, RULES, D(2026, 11, 24))) == []
    full = plan_account(CAL, nxt, RULES, D(2026, 11, 25)).actions[0].draft
    assert full is not None and full.period == Period(D(2026, 12, 1), D(2026, 12, 31)) and full.net_paisa == 2_500_00


def test_the_day_changes_at_karachi_midnight() -> None:
    # 18:59 UTC on 4 Dec is 23:59 in Karachi: still the 4th, no invoice; a minute later it is the 5th.
    before = local_date(datetime(2026, 12, 4, 18, 59, tzinfo=timezone.utc), "Asia/Karachi")
    after = local_date(datetime(2026, 12, 4, 19, 0, tzinfo=timezone.utc), "Asia/Karachi")
    assert (before, after) == (D(2026, 12, 4), D(2026, 12, 5))
    assert kinds(plan_account(ANNIV, account(), RULES, before)) == []
    assert kinds(plan_account(ANNIV, account(), RULES, after)) == ["issue"]


def test_a_payment_settles_the_oldest_invoices_first_and_keeps_the_rest_as_credit() -> None:
    old = OpenInvoice("INV-2026-27-000001", Period(D(2026, 11, 11), D(2026, 12, 10)), D(2026, 11, 10), 1_000_00,
                      paid_paisa=400_00)
    new = OpenInvoice("INV-2026-27-000007", Period(D(2026, 12, 11), D(2027, 1, 10)), D(2026, 12, 10), 1_000_00)
    allocations, left = allocate(1_000_00, [new, old])
    assert [(a.invoice, a.amount_paisa, a.settles) for a in allocations] == [
        ("INV-2026-27-000001", 600_00, True), ("INV-2026-27-000007", 400_00, False)]
    assert left == 0
    allocations, left = allocate(2_000_00, [new, old])
    assert left == 400_00 and all(a.settles for a in allocations)


# ----------------------------------------------------------------------------------- plan changes
def test_a_plan_change_credits_the_unused_days_and_charges_them_at_the_new_price() -> None:
    period = Period(D(2026, 12, 5), D(2027, 1, 4))  # 31 days
    issued = (priced_line("Home 10M", 2_500_00, RULES, D(2026, 12, 1), "punjab"),)
    change = plan_change(period, period, issued, "Home 10M", "Home 20M", 4_000_00, RULES, D(2026, 12, 20), "punjab", None, 5)
    assert change.rest == Period(D(2026, 12, 20), D(2027, 1, 4)) and change.rest.days == 16
    [credit] = change.credit
    assert credit.net_paisa == half_up(Fraction(2_500_00 * 16, 31)) == 1_290_32
    # Credited at the rates it was issued with, on the prorated bases.
    assert [(t.rate, t.base_paisa, t.amount_paisa) for t in credit.taxes] == [
        (Decimal("19.5"), 1_290_32, tax_on(1_290_32, Decimal("19.5"))), (Decimal("15"), 1_290_32, 19_355)]
    [line] = change.draft.lines
    assert line.net_paisa == half_up(Fraction(4_000_00 * 16, 31)) == 2_064_52
    assert change.draft.due_on == change.draft.issued_on == D(2026, 12, 20)
    assert change.draft.period == change.rest and change.draft.anchor_day == 5
    assert "16 days, prorated" in line.description


def test_a_plan_change_on_the_first_day_credits_the_whole_period() -> None:
    period = Period(D(2026, 12, 5), D(2027, 1, 4))
    issued = (priced_line("Home 10M", 2_500_00, RULES, D(2026, 12, 1), "punjab"),)
    change = plan_change(period, period, issued, "Home 10M", "Home 20M", 4_000_00, RULES, D(2026, 12, 5), "punjab", None, 5)
    assert change.credit[0].total_paisa == issued[0].total_paisa
    assert change.draft.lines[0].net_paisa == 4_000_00
    with pytest.raises(ValueError, match="outside the period"):
        plan_change(period, period, issued, "a", "b", 1, RULES, D(2027, 1, 5), "punjab", None, 5)


@given(st.integers(1, 10**7), st.integers(0, 10**7), st.integers(0, 30))
def test_a_credit_never_gives_back_more_than_was_charged(old: int, new: int, used: int) -> None:
    period = Period(D(2026, 12, 1), D(2026, 12, 31))
    issued = (priced_line("a", old, RULES, D(2026, 12, 1), "punjab"),)
    change = plan_change(period, period, issued, "a", "b", new, RULES, D(2026, 12, 1) + timedelta(days=used), "punjab",
                         None, 1)
    [credit] = change.credit
    assert 0 <= credit.total_paisa <= issued[0].total_paisa
    assert all(0 <= c.amount_paisa <= t.amount_paisa for c, t in zip(credit.taxes, issued[0].taxes))


def test_a_second_change_credits_the_first_changes_invoice_and_prices_by_the_whole_period() -> None:
    period = Period(D(2026, 12, 5), D(2027, 1, 4))  # 31 days
    first = plan_change(period, period, (priced_line("a", 2_500_00, RULES, D(2026, 12, 1), "punjab"),), "a", "b",
                        4_000_00, RULES, D(2026, 12, 20), "punjab", None, 5)
    second = plan_change(period, first.rest, first.draft.lines, "b", "a", 2_500_00, RULES, D(2026, 12, 25),
                         "punjab", None, 5)
    assert second.rest == Period(D(2026, 12, 25), D(2027, 1, 4))
    # 11 of the first change's 16 days given back; 11 of the period's 31 days charged.
    assert second.credit[0].net_paisa == half_up(Fraction(first.draft.lines[0].net_paisa * 11, 16))
    assert second.draft.lines[0].net_paisa == half_up(Fraction(2_500_00 * 11, 31))
