"""Billing in PostgreSQL: tax rules, invoices and credit notes, payments, the ledger (schema 0015).

Decisions are rlm_cloudos.policy.billing's; this module reads what they are made on and
writes what they decide, within the caller's transaction (the caller writes the audit row
in the same one). Money is integer paisa.

Numbers. ``next_number`` takes the next value of a (tenant, series, fiscal year) row with an
upsert: the row stays locked until the transaction ends, so a concurrent run waits for it,
and a rollback gives the number back. Numbers are therefore sequential with no gap and no
duplicate, at the price that documents of one tenant are numbered one transaction at a time.

Balances. The ledger holds every debit (an invoice, positive) and credit (a payment or a
credit note, negative). What an open invoice still needs is its total less what was
allocated to it. The credit a subscriber holds (paid but not yet allocated) is therefore
what the open invoices need less the balance: ``settle`` allocates it, oldest invoice first.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, datetime
from decimal import Decimal
from typing import Any

from sqlalchemy import Connection, and_, delete, exists, func, insert, select, update
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.engine import Row

from cloudos.store._util import readable
from cloudos.store.tables import (invoice, invoice_line, invoice_tax, ledger_entry, notification, number_series,
                                  payment, payment_allocation, plan, subscriber, tax_rule)
from rlm_cloudos.policy.billing import (Account, BillingSettings, Cycle, Draft, Line, OpenInvoice, Period, TaxAmount,
                                        TaxBase, TaxKind, TaxRule, allocate, document_number, fiscal_year)
from rlm_cloudos.policy.expiry import expires_at_for_date
from rlm_cloudos.policy.paid import local_date, paid_until


def settings_of(t: Row[Any]) -> BillingSettings:
    return BillingSettings(cycle=Cycle(t.billing_cycle), billing_day=t.billing_day,
                           invoice_lead_days=t.invoice_lead_days, grace_days=t.grace_days, province=t.province)


def seller_of(t: Row[Any]) -> dict[str, Any]:
    """What an invoice prints of the ISP, as on the day of issue."""
    return {"display_name": t.display_name, "legal_name": t.legal_name or t.display_name or t.name, "ntn": t.ntn,
            "strn": t.strn, "province": t.province, "bank_iban": t.bank_iban}


def buyer_of(s: Row[Any]) -> dict[str, Any]:
    return {"username": s.username, "full_name": s.full_name, "postal_address": s.postal_address, "phone": s.phone,
            "email": s.email}


# ---------------------------------------------------------------------------------- tax rules
def _rule(r: Row[Any]) -> TaxRule:
    return TaxRule(id=r.id, name=r.name, kind=TaxKind(r.kind), rate=Decimal(r.rate), valid_from=r.valid_from,
                   valid_to=r.valid_to, province=r.province, base=TaxBase(r.base), reference=r.reference)


def rules(conn: Connection, tenant_id: int) -> list[TaxRule]:
    rows = conn.execute(select(tax_rule).where(tax_rule.c.tenant_id == tenant_id)
                        .order_by(tax_rule.c.kind, tax_rule.c.province.nulls_first(), tax_rule.c.valid_from)).all()
    return [_rule(r) for r in rows]


def add_rule(conn: Connection, tenant_id: int, rule: TaxRule) -> TaxRule:
    row = conn.execute(insert(tax_rule).values(
        tenant_id=tenant_id, name=rule.name, kind=rule.kind.value, rate=rule.rate, province=rule.province,
        base=rule.base.value, valid_from=rule.valid_from, valid_to=rule.valid_to, reference=rule.reference,
    ).returning(tax_rule)).one()
    return _rule(row)


# ---------------------------------------------------------------------------------- accounts
_SUBSCRIBER_COLUMNS = (subscriber.c.id, subscriber.c.username, subscriber.c.status, subscriber.c.status_reason,
                       subscriber.c.expires_at, subscriber.c.created_at, subscriber.c.province,
                       subscriber.c.tax_exempt_until, subscriber.c.billing_anchor, subscriber.c.plan_id,
                       plan.c.name.label("plan_name"), plan.c.price, plan.c.period)


def _allocated() -> Any:
    return (select(func.coalesce(func.sum(payment_allocation.c.amount_paisa), 0))
            .where(payment_allocation.c.invoice_id == invoice.c.id).scalar_subquery())


def open_invoices(conn: Connection, tenant_id: int, subscriber_ids: Sequence[int] | None = None) -> dict[int, list[OpenInvoice]]:
    """Each subscriber's open invoices (what was allocated to them, whether reminded)."""
    reminded = exists().where(notification.c.invoice_id == invoice.c.id, notification.c.template == "invoice_due")
    q = (select(invoice.c.subscriber_id, invoice.c.number, invoice.c.period_start, invoice.c.period_end,
                invoice.c.due_on, invoice.c.total_paisa, _allocated().label("paid"), reminded.label("reminded"))
         .where(invoice.c.tenant_id == tenant_id, invoice.c.kind == "invoice", invoice.c.status == "open")
         .order_by(invoice.c.period_start))
    if subscriber_ids is not None:
        q = q.where(invoice.c.subscriber_id.in_(list(subscriber_ids)))
    out: dict[int, list[OpenInvoice]] = {}
    for r in conn.execute(q):
        out.setdefault(r.subscriber_id, []).append(OpenInvoice(
            r.number, Period(r.period_start, r.period_end), r.due_on, r.total_paisa, int(r.paid), bool(r.reminded)))
    return out


def accounts(conn: Connection, tenant: Row[Any], *, usernames: Sequence[str] | None = None,
             lock: bool = False) -> list[Account]:
    """Subscribers of ``tenant`` (terminated aside) as billing sees them (``lock``: FOR UPDATE of the
    subscriber rows, in username order)."""
    q = (select(*_SUBSCRIBER_COLUMNS).select_from(subscriber.outerjoin(plan, plan.c.id == subscriber.c.plan_id))
         .where(subscriber.c.tenant_id == tenant.id, subscriber.c.status != "terminated")
         .order_by(subscriber.c.username))
    if usernames is not None:
        q = q.where(subscriber.c.username.in_(list(usernames)))
    if lock:
        q = q.with_for_update(of=subscriber)
    subs = conn.execute(q).all()
    ids = [s.id for s in subs]
    invoiced = dict(conn.execute(
        select(invoice.c.subscriber_id, func.max(invoice.c.period_end))
        .where(invoice.c.tenant_id == tenant.id, invoice.c.kind == "invoice", invoice.c.status != "void",
               invoice.c.subscriber_id.in_(ids))
        .group_by(invoice.c.subscriber_id)).tuples().all()) if ids else {}
    opened = open_invoices(conn, tenant.id, ids) if ids else {}
    tz = tenant.timezone
    out = []
    for s in subs:
        mine = tuple(opened.get(s.id, ()))
        until = paid_until(s.expires_at, tz)
        if mine:  # service may run into the grace days of an open invoice: what is paid ends before it
            first = min(i.period.start for i in mine)
            until = min(until, date.fromordinal(first.toordinal() - 1)) if until else until
        out.append(Account(
            id=s.id, username=s.username, status=s.status, status_reason=s.status_reason, plan_name=s.plan_name,
            price_paisa=None if s.price is None else int(Decimal(s.price) * 100), plan_period=s.period or "monthly",
            paid_until=until, joined_on=local_date(s.created_at, tz), province=s.province,
            tax_exempt_until=s.tax_exempt_until, anchor_day=s.billing_anchor, invoiced_until=invoiced.get(s.id),
            open_invoices=mine))
    return out


# ---------------------------------------------------------------------------------- documents
def next_number(conn: Connection, tenant_id: int, series: str, on: date) -> str:
    """The next number of ``series`` for the fiscal year ``on`` falls in, e.g. INV-2026-27-000042."""
    year = fiscal_year(on)
    q = pg_insert(number_series).values(tenant_id=tenant_id, series=series, fiscal_year=year, last_value=1)
    q = q.on_conflict_do_update(index_elements=["tenant_id", "series", "fiscal_year"],
                                set_={"last_value": number_series.c.last_value + 1})
    n = conn.execute(q.returning(number_series.c.last_value)).scalar_one()
    return document_number(series, year, int(n))


def _ledger(conn: Connection, tenant_id: int, subscriber_id: int, kind: str, amount: int, description: str, *,
            invoice_id: int | None = None, payment_id: int | None = None, at: datetime | None = None) -> None:
    values: dict[str, Any] = dict(tenant_id=tenant_id, subscriber_id=subscriber_id, kind=kind, amount_paisa=amount,
                                  description=description, invoice_id=invoice_id, payment_id=payment_id)
    if at is not None:
        values["at"] = at
    conn.execute(insert(ledger_entry).values(**values))


def _write_lines(conn: Connection, tenant_id: int, invoice_id: int, draft_lines: Sequence[Any]) -> None:
    for position, line in enumerate(draft_lines, start=1):
        line_id = conn.execute(insert(invoice_line).values(
            tenant_id=tenant_id, invoice_id=invoice_id, position=position, description=line.description,
            net_paisa=line.net_paisa, tax_paisa=line.tax_paisa, total_paisa=line.total_paisa,
        ).returning(invoice_line.c.id)).scalar_one()
        for t in line.taxes:
            conn.execute(insert(invoice_tax).values(
                tenant_id=tenant_id, line_id=line_id, tax_rule_id=t.rule_id, name=t.name, kind=t.kind.value,
                rate=t.rate, base_paisa=t.base_paisa, amount_paisa=t.amount_paisa, reference=t.reference))


def issue(conn: Connection, tenant: Row[Any], sub: Row[Any], account: Account, draft: Draft, *,
          actor: str, reason: str | None = None) -> Row[Any]:
    """Write ``draft`` as an invoice with its number, lines, taxes and ledger debit. When it follows
    what is paid without a gap, the subscriber's service runs on through the tenant's grace days
    (so the invoice can be paid before service stops). ``reason``: why an invoice was issued outside
    the run (a plan change); such an invoice grants no grace, as it covers days already served."""
    number = next_number(conn, tenant.id, "INV", draft.issued_on)
    changes: dict[str, Any] = {"billing_anchor": draft.anchor_day}
    grace_until = None
    if tenant.grace_days and account.paid_until == draft.due_on and reason is None:
        grace_until = date.fromordinal(draft.due_on.toordinal() + tenant.grace_days)
        ends = expires_at_for_date(grace_until, tenant.timezone)
        if sub.expires_at is None or sub.expires_at < ends:
            changes["expires_at"] = ends
        else:
            grace_until = None
    row = conn.execute(insert(invoice).values(
        tenant_id=tenant.id, subscriber_id=sub.id, kind="invoice", number=number, plan_id=sub.plan_id,
        plan_name=account.plan_name, reason=reason, period_start=draft.period.start, period_end=draft.period.end,
        issued_on=draft.issued_on, due_on=draft.due_on, grace_until=grace_until, net_paisa=draft.net_paisa,
        tax_paisa=draft.tax_paisa, total_paisa=draft.total_paisa, status="open", seller=seller_of(tenant), buyer=buyer_of(sub),
        created_by=actor,
    ).returning(invoice)).one()
    _write_lines(conn, tenant.id, row.id, draft.lines)
    _ledger(conn, tenant.id, sub.id, "invoice", draft.total_paisa, f"invoice {number}", invoice_id=row.id)
    conn.execute(update(subscriber).where(subscriber.c.id == sub.id).values(**changes))
    return row


def by_number(conn: Connection, tenant_id: int, number: str, *, lock: bool = False) -> Row[Any] | None:
    q = select(invoice).where(invoice.c.tenant_id == tenant_id, invoice.c.number == number)
    if lock:
        q = q.with_for_update()
    return conn.execute(q).first()


def lines_of(conn: Connection, invoice_id: int) -> list[dict[str, Any]]:
    """An invoice's lines, each with its taxes, in order, as `invoice show --json` gives them."""
    return [{"description": ln.description, "net_paisa": ln.net_paisa, "total_paisa": ln.total_paisa,
             "taxes": [{"name": t.name, "kind": t.kind.value, "rate": str(t.rate.normalize()),
                        "base_paisa": t.base_paisa, "amount_paisa": t.amount_paisa, "reference": t.reference}
                       for t in ln.taxes]}
            for ln in issued_lines(conn, invoice_id)]


def paid_toward(conn: Connection, invoice_id: int) -> int:
    return int(conn.execute(select(func.coalesce(func.sum(payment_allocation.c.amount_paisa), 0))
                            .where(payment_allocation.c.invoice_id == invoice_id)).scalar_one())


def credit_note_for(conn: Connection, invoice_id: int) -> Row[Any] | None:
    return conn.execute(select(invoice).where(invoice.c.credits_id == invoice_id, invoice.c.kind == "credit_note")).first()


def issued_lines(conn: Connection, invoice_id: int) -> tuple[Line, ...]:
    """An invoice's lines and taxes as the engine's values, as they were issued."""
    lines = conn.execute(select(invoice_line).where(invoice_line.c.invoice_id == invoice_id)
                         .order_by(invoice_line.c.position)).all()
    taxes = conn.execute(select(invoice_tax).where(invoice_tax.c.line_id.in_([ln.id for ln in lines]))
                         .order_by(invoice_tax.c.id)).all() if lines else []
    return tuple(Line(ln.description, ln.net_paisa, tuple(
        TaxAmount(t.tax_rule_id, t.name, TaxKind(t.kind), Decimal(t.rate), t.base_paisa, t.amount_paisa, t.reference)
        for t in taxes if t.line_id == ln.id)) for ln in lines)


def credit_note(conn: Connection, tenant: Row[Any], inv: Row[Any], lines: Sequence[Line], period: Period, *,
                reason: str, today: date, actor: str) -> Row[Any]:
    """Issue a credit note (its own series) giving back ``lines`` of invoice ``inv`` for ``period``,
    with its ledger credit."""
    number = next_number(conn, tenant.id, "CN", today)
    net = sum(ln.net_paisa for ln in lines)
    tax = sum(ln.tax_paisa for ln in lines)
    note = conn.execute(insert(invoice).values(
        tenant_id=tenant.id, subscriber_id=inv.subscriber_id, kind="credit_note", number=number, credits_id=inv.id,
        reason=reason, plan_id=inv.plan_id, plan_name=inv.plan_name, period_start=period.start,
        period_end=period.end, issued_on=today, due_on=None, net_paisa=net, tax_paisa=tax, total_paisa=net + tax,
        status="issued", seller=seller_of(tenant), buyer=inv.buyer, created_by=actor,
    ).returning(invoice)).one()
    _write_lines(conn, tenant.id, note.id, lines)
    _ledger(conn, tenant.id, inv.subscriber_id, "credit_note", -(net + tax),
            f"credit note {number} for {inv.number}: {reason}", invoice_id=note.id)
    return note


def covering(conn: Connection, tenant_id: int, subscriber_id: int, day: date, *,
             run_only: bool = False) -> Row[Any] | None:
    """The latest invoice (void ones aside) whose period holds ``day`` (``run_only``: of those the
    run issued, for a whole period, not a plan change's rest of one)."""
    q = (select(invoice).where(invoice.c.tenant_id == tenant_id, invoice.c.subscriber_id == subscriber_id,
                               invoice.c.kind == "invoice", invoice.c.status != "void",
                               invoice.c.period_start <= day, invoice.c.period_end >= day)
         .order_by(invoice.c.period_start.desc(), invoice.c.id.desc()).limit(1))
    if run_only:
        q = q.where(invoice.c.reason.is_(None))
    return conn.execute(q).first()


def open_after(conn: Connection, tenant_id: int, subscriber_id: int, day: date) -> list[Row[Any]]:
    """Open invoices for periods that start after ``day``, oldest first."""
    return list(conn.execute(
        select(invoice).where(invoice.c.tenant_id == tenant_id, invoice.c.subscriber_id == subscriber_id,
                              invoice.c.kind == "invoice", invoice.c.status == "open", invoice.c.period_start > day)
        .order_by(invoice.c.period_start).with_for_update()).all())


def void(conn: Connection, tenant: Row[Any], inv: Row[Any], *, reason: str, today: date, actor: str) -> Row[Any]:
    """Issue a credit note for all of open invoice ``inv`` and mark it void. The grace days it
    granted are given back: service ends with its due day again, unless something else (a payment,
    an operator's renewal) moved paid-until since."""
    note = credit_note(conn, tenant, inv, issued_lines(conn, inv.id), Period(inv.period_start, inv.period_end),
                       reason=reason, today=today, actor=actor)
    conn.execute(update(invoice).where(invoice.c.id == inv.id).values(status="void"))
    if inv.grace_until is not None and inv.due_on is not None:
        granted = expires_at_for_date(inv.grace_until, tenant.timezone)
        conn.execute(update(subscriber).where(subscriber.c.id == inv.subscriber_id, subscriber.c.expires_at == granted)
                     .values(expires_at=expires_at_for_date(inv.due_on, tenant.timezone)))
    return note


# ---------------------------------------------------------------------------------- payments
@dataclass(frozen=True)
class Recorded:
    payment: Row[Any]
    #: False: this (method, reference) was recorded before; nothing was added.
    new: bool


def record_payment(conn: Connection, tenant_id: int, subscriber_id: int, *, method: str, reference: str,
                   amount_paisa: int, received_at: datetime, actor: str) -> Recorded:
    """Record a payment once per (method, reference), with its ledger credit."""
    q = pg_insert(payment).values(tenant_id=tenant_id, subscriber_id=subscriber_id, method=method, reference=reference,
                                  amount_paisa=amount_paisa, status="received", received_at=received_at,
                                  created_by=actor)
    row = conn.execute(q.on_conflict_do_nothing(index_elements=["tenant_id", "method", "reference"])
                       .returning(payment)).first()
    if row is None:
        existing = conn.execute(select(payment).where(payment.c.tenant_id == tenant_id, payment.c.method == method,
                                                      payment.c.reference == reference)).one()
        return Recorded(existing, False)
    _ledger(conn, tenant_id, subscriber_id, "payment", -amount_paisa, f"payment {method} {reference}",
            payment_id=row.id, at=received_at)
    return Recorded(row, True)


def balance(conn: Connection, tenant_id: int, subscriber_id: int) -> int:
    """What the subscriber owes (positive) or holds as credit (negative)."""
    return int(conn.execute(select(func.coalesce(func.sum(ledger_entry.c.amount_paisa), 0))
                            .where(ledger_entry.c.tenant_id == tenant_id,
                                   ledger_entry.c.subscriber_id == subscriber_id)).scalar_one())


@dataclass(frozen=True)
class Settled:
    #: The invoices this settlement paid in full.
    invoices: tuple[str, ...]
    #: The last paid day after it (None: unchanged).
    paid_until: date | None


def settle(conn: Connection, tenant: Row[Any], sub: Row[Any], now: datetime, *,
           payment_id: int | None = None) -> Settled:
    """Allocate the credit the subscriber holds to their open invoices, oldest first; mark those paid in
    full as paid, and extend the service to the end of the last period paid for."""
    mine = open_invoices(conn, tenant.id, [sub.id]).get(sub.id, [])
    need = sum(i.due_paisa for i in mine)
    credit = need - balance(conn, tenant.id, sub.id)
    allocations, _ = allocate(credit, mine) if credit > 0 else ([], 0)
    ids = dict(conn.execute(select(invoice.c.number, invoice.c.id).where(
        invoice.c.tenant_id == tenant.id, invoice.c.number.in_([a.invoice for a in allocations]))).tuples().all()) \
        if allocations else {}
    settled = []
    for a in allocations:
        conn.execute(insert(payment_allocation).values(tenant_id=tenant.id, payment_id=payment_id,
                                                       invoice_id=ids[a.invoice], amount_paisa=a.amount_paisa))
        if a.settles:
            conn.execute(update(invoice).where(invoice.c.id == ids[a.invoice]).values(status="paid", paid_at=now))
            settled.append(a.invoice)
    if not settled:
        return Settled((), None)
    last = conn.execute(select(func.max(invoice.c.period_end)).where(
        invoice.c.tenant_id == tenant.id, invoice.c.subscriber_id == sub.id, invoice.c.kind == "invoice",
        invoice.c.status == "paid")).scalar_one()
    ends = expires_at_for_date(last, tenant.timezone)
    current = conn.execute(select(subscriber.c.expires_at).where(subscriber.c.id == sub.id)).scalar_one()
    if current is None or current < ends:
        conn.execute(update(subscriber).where(subscriber.c.id == sub.id).values(expires_at=ends, locked_until=None))
    return Settled(tuple(settled), last)


def overdue_numbers(conn: Connection, tenant: Row[Any], subscriber_id: int, today: date) -> list[str]:
    """Open invoices of the subscriber past their due day and the tenant's grace."""
    return [i.number for i in open_invoices(conn, tenant.id, [subscriber_id]).get(subscriber_id, [])
            if i.due_paisa > 0 and (today - i.due_on).days > tenant.grace_days]


def ledger(conn: Connection, tenant_id: int, subscriber_id: int) -> list[dict[str, Any]]:
    """Every entry, oldest first, with the running balance."""
    running = func.sum(ledger_entry.c.amount_paisa).over(order_by=(ledger_entry.c.at, ledger_entry.c.id))
    q = (select(ledger_entry.c.at, ledger_entry.c.kind, ledger_entry.c.description, ledger_entry.c.amount_paisa,
                running.label("balance_paisa"))
         .where(ledger_entry.c.tenant_id == tenant_id, ledger_entry.c.subscriber_id == subscriber_id)
         .order_by(ledger_entry.c.at, ledger_entry.c.id))
    return [dict(r._mapping) for r in conn.execute(q)]


def listing(conn: Connection, tenant_id: int, *, subscriber_id: int | None = None, status: str | None = None,
            today: date | None = None, grace_days: int = 0, kind: str = "invoice") -> list[Row[Any]]:
    q = (select(invoice, subscriber.c.username, _allocated().label("paid_paisa"))
         .join(subscriber, subscriber.c.id == invoice.c.subscriber_id)
         .where(invoice.c.tenant_id == tenant_id, invoice.c.kind == kind)
         .order_by(invoice.c.issued_on, invoice.c.number))
    if subscriber_id is not None:
        q = q.where(invoice.c.subscriber_id == subscriber_id)
    if status == "overdue":
        assert today is not None
        q = q.where(invoice.c.status == "open", invoice.c.due_on < date.fromordinal(today.toordinal() - grace_days))
    elif status is not None:
        q = q.where(invoice.c.status == status)
    return list(conn.execute(q).all())


def queue_notice(conn: Connection, tenant_id: int, sub: Row[Any], invoice_id: int, template: str, body: str) -> str | None:
    """Queue a notice about an invoice on the subscriber's channel (WhatsApp to their phone, else email),
    once per invoice and template; returns the channel, or None when they have no contact."""
    if sub.phone:
        channel, recipient = "whatsapp", sub.phone
    elif sub.email:
        channel, recipient = "email", sub.email
    else:
        return None
    q = pg_insert(notification).values(tenant_id=tenant_id, subscriber_id=sub.id, channel=channel, template=template,
                                       recipient=recipient, body=body, invoice_id=invoice_id)
    conn.execute(q.on_conflict_do_nothing(index_elements=["invoice_id", "template", "channel"],
                                          index_where=and_(notification.c.invoice_id.isnot(None))))
    return channel


def subscriber_by_id(conn: Connection, subscriber_id: int) -> Row[Any]:
    return conn.execute(select(*readable(conn, subscriber)).where(subscriber.c.id == subscriber_id)).one()


def number_of(conn: Connection, invoice_id: int) -> str:
    return str(conn.execute(select(invoice.c.number).where(invoice.c.id == invoice_id)).scalar_one())


def payments(conn: Connection, tenant_id: int, subscriber_id: int | None = None) -> list[Row[Any]]:
    """Payments of the tenant (or one subscriber), oldest first, with the subscriber's username."""
    q = (select(payment, subscriber.c.username).join(subscriber, subscriber.c.id == payment.c.subscriber_id)
         .where(payment.c.tenant_id == tenant_id).order_by(payment.c.received_at, payment.c.id))
    if subscriber_id is not None:
        q = q.where(payment.c.subscriber_id == subscriber_id)
    return list(conn.execute(q).all())


def has_records(conn: Connection, subscriber_id: int) -> bool:
    """Whether any invoice or payment names the subscriber: tax law then keeps its name and address."""
    return bool(conn.execute(select(exists().where(invoice.c.subscriber_id == subscriber_id)
                                    | exists().where(payment.c.subscriber_id == subscriber_id))).scalar())


def erase_identity(conn: Connection, subscriber_id: int, alias: str) -> int:
    """The buyer's phone and e-mail off the subscriber's invoices, its username ``alias`` (schema 0019's
    cloudos_erase_billing_identity, the one way an issued invoice changes but its status); how many."""
    return int(conn.execute(select(func.cloudos_erase_billing_identity(subscriber_id, alias))).scalar_one())


def erase_notifications(conn: Connection, subscriber_id: int) -> tuple[int, int]:
    """Queued notifications to the subscriber deleted, the rest kept (for retention's 12 months) without
    recipient or text; (deleted, scrubbed)."""
    gone = conn.execute(delete(notification).where(notification.c.subscriber_id == subscriber_id,
                                                   notification.c.status == "queued")).rowcount
    scrubbed = conn.execute(update(notification).where(notification.c.subscriber_id == subscriber_id,
                                                       notification.c.recipient != "erased")
                            .values(recipient="erased", body="erased")).rowcount
    return int(gone), int(scrubbed)
