"""The billing engine: periods, proration, taxes and what a billing run does, in integer paisa.

Pure: no database, no clock. Callers pass ``today``, the tenant's local date of their one
``now``, so a run at 23:59 and one at 00:01 Karachi time differ exactly as the calendar says.
The CLI's ``billing run``, ``payment record`` and (later) the payment gateways all decide here;
the store only carries out what is returned.

Money is integer paisa (PKR × 100) everywhere. Each line's taxes are rounded half-up to the
paisa on that line, and an invoice's total is the sum of its lines' totals: no paisa is created
or lost between what a line shows and what the invoice adds up to.

Periods. A subscriber is paid through ``paid_until`` (the last paid day, inclusive). The next
period starts the day after. Monthly periods keep the subscriber's anchor day (the day of the
month the first billed period started), clamped to short months: anchored on the 31st, periods
start 31 Jan, 28 Feb, 31 Mar, never drifting to the 28th for good. A tenant on the calendar
cycle renews everyone on its billing day; a period that starts on another day (a subscriber who
joined mid-cycle) runs to the next billing day and is charged by the day.

Taxes are rules with effective dates (rates change every budget on 1 July): the rule in force
on an invoice's issue day applies, a rule for the subscriber's province before one for every
province. Sales tax is on the net amount; advance income tax (Income Tax Ordinance 2001,
s.236) on the net, or on the net plus sales tax when its rule says so, and not charged while
the subscriber holds an exemption (s.236(4)) that runs through the issue day.
"""

from __future__ import annotations

import calendar
import re
from dataclasses import dataclass, field, replace
from datetime import date, timedelta
from decimal import Decimal
from enum import StrEnum
from fractions import Fraction

#: Provinces (and the capital territory) whose sales-tax regimes an ISP invoices under.
PROVINCES = ("punjab", "sindh", "kp", "balochistan", "ict")
PROVINCE_NAMES = {"punjab": "Punjab", "sindh": "Sindh", "kp": "Khyber Pakhtunkhwa", "balochistan": "Balochistan",
                  "ict": "Islamabad Capital Territory"}


class Cycle(StrEnum):
    #: Each subscriber renews on their own paid-until day.
    ANNIVERSARY = "anniversary"
    #: Everyone renews on the tenant's billing day.
    CALENDAR = "calendar"


class TaxKind(StrEnum):
    SALES = "sales"
    ADVANCE_INCOME = "advance_income"


class TaxBase(StrEnum):
    NET = "net"
    NET_PLUS_SALES = "net_plus_sales"


@dataclass(frozen=True, slots=True)
class BillingSettings:
    """A tenant's billing settings."""

    cycle: Cycle = Cycle.ANNIVERSARY
    #: The calendar cycle's renewal day, 1..28 (every month has it).
    billing_day: int = 1
    #: An invoice is issued this many days before paid-until (inclusive).
    invoice_lead_days: int = 5
    #: Days past paid-until that service continues while the invoice is unpaid.
    grace_days: int = 3
    province: str | None = None


@dataclass(frozen=True, slots=True)
class TaxRule:
    id: int
    name: str
    kind: TaxKind
    #: Percent, e.g. Decimal("19.5").
    rate: Decimal
    valid_from: date
    #: Last day in force (inclusive); None: open-ended.
    valid_to: date | None = None
    #: None: every province.
    province: str | None = None
    base: TaxBase = TaxBase.NET
    reference: str | None = None

    def in_force(self, on: date) -> bool:
        return self.valid_from <= on and (self.valid_to is None or on <= self.valid_to)

    def overlaps(self, other: TaxRule) -> bool:
        """Same kind, same province (or both for every province), and a day in common: two rules that
    would both apply to one invoice."""
        if self.kind != other.kind or self.province != other.province:
            return False  # (a rule for one province stands before the rule for every province)
        ends = [d for d in (self.valid_to, other.valid_to) if d is not None]
        return max(self.valid_from, other.valid_from) <= (min(ends) if ends else date.max)


@dataclass(frozen=True, slots=True)
class TaxAmount:
    """One tax on one line, with the rate it was computed at."""

    rule_id: int
    name: str
    kind: TaxKind
    rate: Decimal
    base_paisa: int
    amount_paisa: int
    reference: str | None = None


@dataclass(frozen=True, slots=True)
class Line:
    description: str
    net_paisa: int
    taxes: tuple[TaxAmount, ...] = ()

    @property
    def tax_paisa(self) -> int:
        return sum(t.amount_paisa for t in self.taxes)

    @property
    def total_paisa(self) -> int:
        return self.net_paisa + self.tax_paisa


@dataclass(frozen=True, slots=True)
class Period:
    """Days ``start`` through ``end``, both inclusive."""

    start: date
    end: date

    @property
    def days(self) -> int:
        return (self.end - self.start).days + 1


@dataclass(frozen=True, slots=True)
class Draft:
    """An invoice to issue: its period, its lines, when it is due."""

    period: Period
    lines: tuple[Line, ...]
    issued_on: date
    #: The last day to pay before service would lapse: the day before the period starts.
    due_on: date
    #: The anchor day to keep for the subscriber's following monthly periods.
    anchor_day: int

    @property
    def net_paisa(self) -> int:
        return sum(line.net_paisa for line in self.lines)

    @property
    def tax_paisa(self) -> int:
        return sum(line.tax_paisa for line in self.lines)

    @property
    def total_paisa(self) -> int:
        return sum(line.total_paisa for line in self.lines)


@dataclass(frozen=True, slots=True)
class OpenInvoice:
    """An issued invoice not yet settled, as the run sees it."""

    number: str
    period: Period
    due_on: date
    total_paisa: int
    paid_paisa: int = 0
    #: Whether its reminder has been queued already.
    reminded: bool = False

    @property
    def due_paisa(self) -> int:
        return self.total_paisa - self.paid_paisa


@dataclass(frozen=True, slots=True)
class Account:
    """A subscriber as billing sees them."""

    id: int
    username: str
    #: active, suspended or terminated.
    status: str
    status_reason: str | None
    plan_name: str | None
    #: The plan's price per period, paisa (None: not billed).
    price_paisa: int | None
    #: The plan's period, 'monthly' or 'Nd'.
    plan_period: str
    #: The last paid day (None: never paid, or no expiry).
    paid_until: date | None
    #: The day the account was created (tenant time).
    joined_on: date
    province: str | None = None
    tax_exempt_until: date | None = None
    #: The day of the month monthly periods start on (None: not billed yet).
    anchor_day: int | None = None
    #: The end of the last period invoiced (void invoices aside), if any.
    invoiced_until: date | None = None
    open_invoices: tuple[OpenInvoice, ...] = ()


class ActionKind(StrEnum):
    ISSUE = "issue"
    REMIND = "remind"
    SUSPEND = "suspend"
    REACTIVATE = "reactivate"


@dataclass(frozen=True, slots=True)
class Action:
    kind: ActionKind
    draft: Draft | None = None
    #: The invoice a reminder or a suspension is about.
    invoice: str | None = None
    #: The status reason a suspension sets.
    reason: str | None = None


@dataclass(frozen=True, slots=True)
class RunItem:
    """What the run does for one account, in order."""

    account: Account
    actions: tuple[Action, ...] = field(default=())


#: What a suspension for non-payment says, so that a payment resumes only those.
UNPAID_PREFIX = "unpaid "


def unpaid_reason(number: str) -> str:
    return UNPAID_PREFIX + number


def suspended_for_nonpayment(status: str, reason: str | None) -> bool:
    return status == "suspended" and reason is not None and reason.startswith(UNPAID_PREFIX)


# ---------------------------------------------------------------------------------- arithmetic
def half_up(value: Fraction) -> int:
    """``value`` rounded to the nearest integer, halves away from zero."""
    whole, rest = divmod(abs(value.numerator), value.denominator)
    if 2 * rest >= value.denominator:
        whole += 1
    return whole if value >= 0 else -whole


def tax_on(base_paisa: int, rate: Decimal) -> int:
    """``rate`` percent of ``base_paisa``, rounded half-up to the paisa."""
    return half_up(Fraction(base_paisa) * Fraction(rate) / 100)


def paisa(rupees: Decimal) -> int:
    """Rupees with at most two decimals as paisa; raises ValueError on a fraction of a paisa."""
    value = rupees * 100
    if value != value.to_integral_value():
        raise ValueError(f"{rupees} is not a whole number of paisa")
    return int(value)


def fiscal_year(on: date) -> str:
    """Pakistan's fiscal year (July–June) ``on`` falls in, as invoices print it: '2026-27'."""
    start = on.year if on.month >= 7 else on.year - 1
    return f"{start}-{(start + 1) % 100:02d}"


def document_number(series: str, year: str, n: int) -> str:
    return f"{series}-{year}-{n:06d}"


_IBAN = re.compile(r"^[A-Z]{2}[0-9]{2}[A-Z0-9]{11,30}$")


def normal_iban(text: str) -> str:
    """An IBAN as printed (spaces, lower case) in its electronic form; raises ValueError unless it is
    well formed and its ISO 13616 check digits hold (ISO 7064 MOD 97-10). A Pakistani IBAN is 24
    characters: PK, two check digits, a four-letter bank code and a sixteen-digit account."""
    iban = re.sub(r"\s+", "", text).upper()
    if not _IBAN.match(iban):
        raise ValueError("an IBAN is a country code, two check digits and 11 to 30 letters or digits")
    if iban.startswith("PK") and not re.match(r"^PK[0-9]{2}[A-Z]{4}[0-9]{16}$", iban):
        raise ValueError("a Pakistani IBAN is PK, two check digits, a four-letter bank code and 16 digits")
    rearranged = iban[4:] + iban[:4]
    if int("".join(str(int(c, 36)) for c in rearranged)) % 97 != 1:
        raise ValueError("its check digits do not match (ISO 13616 mod 97): a mistyped character")
    return iban


def split(total_paisa: int, weights: list[int]) -> list[int]:
    """``total_paisa`` shared in proportion to ``weights`` (days, say), each part within one paisa of
    its exact share and the parts summing to the total exactly (largest remainders get the paisa
    left over, earlier parts first on a tie)."""
    whole = sum(weights)
    if total_paisa < 0 or whole <= 0 or any(w < 0 for w in weights):
        raise ValueError("a total of zero or more, weights non-negative and not all zero")
    exact = [Fraction(total_paisa * w, whole) for w in weights]
    parts = [e.numerator // e.denominator for e in exact]
    order = sorted(range(len(weights)), key=lambda i: (-(exact[i] - parts[i]), i))
    for i in order[:total_paisa - sum(parts)]:
        parts[i] += 1
    return parts


# ---------------------------------------------------------------------------------- periods
def _month_day(year: int, month: int, day: int) -> date:
    return date(year, month, min(day, calendar.monthrange(year, month)[1]))


def _next_month(d: date, anchor: int) -> date:
    year, month = (d.year + 1, 1) if d.month == 12 else (d.year, d.month + 1)
    return _month_day(year, month, anchor)


def next_billing_day(after: date, billing_day: int) -> date:
    """The first billing day strictly after ``after``."""
    candidate = _month_day(after.year, after.month, billing_day)
    return candidate if candidate > after else _next_month(after, billing_day)


def period_days(plan_period: str) -> int | None:
    """Days in a 'Nd' period; None for 'monthly'. Raises ValueError on anything else."""
    if plan_period == "monthly":
        return None
    if plan_period.endswith("d") and plan_period[:-1].isdigit() and int(plan_period[:-1]) >= 1:
        return int(plan_period[:-1])
    raise ValueError(f"invalid period {plan_period!r}: 'monthly' or a number of days like '30d'")


def next_period(settings: BillingSettings, start: date, plan_period: str, anchor: int | None) -> tuple[Period, Fraction, int]:
    """The period that starts on ``start``: (period, the share of a full period it is, anchor day).

    Anniversary: a full period from ``start`` (monthly periods end the day before the anchor day
    of the next month). Calendar (monthly plans): up to the day before the next billing day, a
    share below 1 when ``start`` is not a billing day (proration by day)."""
    days = period_days(plan_period)
    if days is not None:
        return Period(start, start + timedelta(days=days - 1)), Fraction(1), start.day
    if settings.cycle is Cycle.CALENDAR:
        bday = settings.billing_day
        end = next_billing_day(start, bday) - timedelta(days=1)
        if start.day == bday:
            return Period(start, end), Fraction(1), bday
        # The full cycle this start falls in: from the billing day on or before it to the next one.
        cycle_start = _month_day(start.year, start.month, bday)
        if cycle_start > start:
            year, month = (start.year - 1, 12) if start.month == 1 else (start.year, start.month - 1)
            cycle_start = _month_day(year, month, bday)
        full = (end - cycle_start).days + 1
        part = Period(start, end)
        return part, Fraction(part.days, full), bday
    day = anchor or start.day
    return Period(start, _next_month(start, day) - timedelta(days=1)), Fraction(1), day


# ---------------------------------------------------------------------------------- taxes
def rule_in_force(rules: tuple[TaxRule, ...] | list[TaxRule], kind: TaxKind, on: date,
                  province: str | None) -> TaxRule | None:
    """The rule of ``kind`` that applies ``on`` in ``province``: the province's own before one for
    every province."""
    candidates = [r for r in rules if r.kind is kind and r.in_force(on) and r.province in (province, None)]
    candidates.sort(key=lambda r: (r.province is None, r.valid_from, r.id))
    return candidates[0] if candidates else None


def priced_line(description: str, net_paisa: int, rules: tuple[TaxRule, ...] | list[TaxRule], on: date,
                province: str | None, exempt_until: date | None = None) -> Line:
    """A line with the taxes in force ``on``, each rounded half-up on this line."""
    taxes: list[TaxAmount] = []
    sales = rule_in_force(rules, TaxKind.SALES, on, province)
    if sales is not None:
        taxes.append(TaxAmount(sales.id, sales.name, sales.kind, sales.rate, net_paisa,
                               tax_on(net_paisa, sales.rate), sales.reference))
    advance = rule_in_force(rules, TaxKind.ADVANCE_INCOME, on, province)
    if advance is not None and not (exempt_until is not None and on <= exempt_until):
        base = net_paisa + (sum(t.amount_paisa for t in taxes) if advance.base is TaxBase.NET_PLUS_SALES else 0)
        taxes.append(TaxAmount(advance.id, advance.name, advance.kind, advance.rate, base,
                               tax_on(base, advance.rate), advance.reference))
    return Line(description, net_paisa, tuple(taxes))


def describe(plan_name: str, period: Period, share: Fraction) -> str:
    text = f"{plan_name}, {period.start:%d %b %Y} to {period.end:%d %b %Y}"
    if share != 1:
        text += f" ({period.days} days, prorated)"
    return text


def draft_invoice(settings: BillingSettings, account: Account, rules: tuple[TaxRule, ...] | list[TaxRule],
                  start: date, today: date) -> Draft:
    """The invoice for the period starting ``start``, issued ``today``."""
    assert account.price_paisa is not None and account.plan_name is not None
    period, share, anchor = next_period(settings, start, account.plan_period, account.anchor_day)
    net = half_up(Fraction(account.price_paisa) * share)
    province = account.province or settings.province
    line = priced_line(describe(account.plan_name, period, share), net, rules, today, province,
                       account.tax_exempt_until)
    return Draft(period, (line,), today, start - timedelta(days=1), anchor)


# ---------------------------------------------------------------------------------- the run
def next_start(settings: BillingSettings, account: Account, today: date) -> date:
    """The first day of the next period to invoice: the day after what was invoiced or paid. A
    subscriber who lapsed longer ago than the grace (or was never paid) starts today."""
    covered = max((d for d in (account.invoiced_until, account.paid_until) if d is not None), default=None)
    if covered is None or covered + timedelta(days=settings.grace_days) < today:
        return today
    return covered + timedelta(days=1)


def plan_account(settings: BillingSettings, account: Account, rules: tuple[TaxRule, ...] | list[TaxRule],
                 today: date) -> RunItem:
    """What a billing run on ``today`` does for ``account``: issue the next invoice once it is
    within the lead days (and none covers it yet), remind on the due day, suspend the day after
    the grace ends, and reactivate one suspended for non-payment who owes nothing overdue."""
    if account.status == "terminated":
        return RunItem(account)
    actions: list[Action] = []
    overdue = [inv for inv in account.open_invoices
               if inv.due_paisa > 0 and today > inv.due_on + timedelta(days=settings.grace_days)]
    nonpayment = suspended_for_nonpayment(account.status, account.status_reason)
    if nonpayment and not overdue:
        actions.append(Action(ActionKind.REACTIVATE))
    billable = account.price_paisa is not None and account.plan_name is not None
    # At most one invoice ahead of what is paid: an unpaid one is chased, not joined by another.
    ahead = account.invoiced_until is not None and (account.paid_until is None
                                                    or account.invoiced_until > account.paid_until)
    if billable and account.status == "active" and not ahead:
        start = next_start(settings, account, today)
        if today >= start - timedelta(days=1 + settings.invoice_lead_days):
            actions.append(Action(ActionKind.ISSUE, draft=draft_invoice(settings, account, rules, start, today)))
    for inv in account.open_invoices:
        if inv.due_paisa > 0 and not inv.reminded and today >= inv.due_on:
            actions.append(Action(ActionKind.REMIND, invoice=inv.number))
    if overdue and account.status == "active":
        first = min(overdue, key=lambda inv: inv.period.start)
        actions.append(Action(ActionKind.SUSPEND, invoice=first.number, reason=unpaid_reason(first.number)))
    return RunItem(account, tuple(actions))


# ---------------------------------------------------------------------------------- plan changes
def credited_line(line: Line, share: Fraction, description: str) -> Line:
    """``share`` of an issued line as a credit note gives it back: the net and each tax's base
    prorated half-up, each tax recomputed on its base at the rate the line was issued with."""
    taxes = []
    for t in line.taxes:
        base = half_up(Fraction(t.base_paisa) * share)
        taxes.append(replace(t, base_paisa=base, amount_paisa=tax_on(base, t.rate)))
    return Line(description, half_up(Fraction(line.net_paisa) * share), tuple(taxes))


@dataclass(frozen=True, slots=True)
class PlanChange:
    """A prorated plan change: what the credit note gives back and the invoice that charges."""

    rest: Period
    credit: tuple[Line, ...]
    draft: Draft


def plan_change(period: Period, credited: Period, issued: tuple[Line, ...] | list[Line], old_plan: str,
                new_plan: str, new_price_paisa: int, rules: tuple[TaxRule, ...] | list[TaxRule], today: date,
                province: str | None, exempt_until: date | None, anchor_day: int) -> PlanChange:
    """Changing plan on ``today``, inside the billing ``period``: the invoice for ``credited`` (the
    period itself, or its rest after an earlier change), whose lines were ``issued``, gives back its
    unused days (today through its end) at the rates it was issued with, and the same days are
    charged at the new plan's price for ``period`` with the taxes in force today, due today."""
    if not credited.start <= today <= credited.end or not period.start <= credited.start <= credited.end <= period.end:
        raise ValueError(f"{today} is outside the period {credited.start} to {credited.end}")
    rest = Period(today, credited.end)
    note = f"{old_plan}, {rest.start:%d %b %Y} to {rest.end:%d %b %Y}: {rest.days} unused days credited"
    credit = tuple(credited_line(ln, Fraction(rest.days, credited.days), note) for ln in issued)
    share = Fraction(rest.days, period.days)
    line = priced_line(describe(new_plan, rest, share), half_up(Fraction(new_price_paisa) * share), rules, today,
                       province, exempt_until)
    return PlanChange(rest, credit, Draft(rest, (line,), today, today, anchor_day))


# ---------------------------------------------------------------------------------- payments
@dataclass(frozen=True, slots=True)
class Allocation:
    invoice: str
    amount_paisa: int
    settles: bool


def allocate(amount_paisa: int, invoices: tuple[OpenInvoice, ...] | list[OpenInvoice]) -> tuple[list[Allocation], int]:
    """Apply ``amount_paisa`` to the oldest open invoices first: (allocations, what is left over as
    credit)."""
    left = amount_paisa
    out: list[Allocation] = []
    for inv in sorted(invoices, key=lambda i: (i.period.start, i.number)):
        if left <= 0:
            break
        if inv.due_paisa <= 0:
            continue
        take = min(left, inv.due_paisa)
        out.append(Allocation(inv.number, take, take == inv.due_paisa))
        left -= take
    return out, left
