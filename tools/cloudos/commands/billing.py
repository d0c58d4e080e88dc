"""cloudos billing run | tax add/list | invoice list/show/void/pdf | payment record/list | ledger

One engine (rlm_cloudos.policy.billing) decides; tools/cloudos/store/billing.py writes. Every
change writes its audit row in its own transaction. ``billing run`` works one subscriber per
transaction, the subscriber's row locked and re-read first, so two runs at once (or a run
after a crash) never issue an invoice twice; ``--dry-run`` does the same work in one
transaction and rolls it back, so its report is what a run would print.
"""

from __future__ import annotations

import argparse
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from datetime import date, datetime
from decimal import Decimal, InvalidOperation
from typing import Any

from sqlalchemy import Connection
from sqlalchemy.engine import Row

from cloudos import show
from cloudos.commands._common import Subparsers, _wrap, date_arg, leaf, name_text_arg, require, tenant_opt, username_arg
from cloudos.context import Ctx, table
from cloudos.errors import CliError, UsageError
from cloudos.store import billing as store
from cloudos.store import coa, subscribers, tenants
from rlm_cloudos.policy.billing import (PROVINCES, ActionKind, Period, TaxBase, TaxKind, TaxRule, paisa,
                                        plan_account, plan_change, suspended_for_nonpayment)
from rlm_cloudos.policy.paid import local_date

METHODS = ("cash", "bank", "jazzcash", "easypaisa")


def _amount(text: str) -> int:
    """Rupees as typed (2500, 2,500, 2499.50) as integer paisa."""
    try:
        value = Decimal(text.replace(",", ""))
    except InvalidOperation:
        raise ValueError(f"invalid amount {text!r}: rupees, e.g. 2500 or 2499.50") from None
    if not value.is_finite() or value <= 0 or value > Decimal("100000000"):
        raise ValueError(f"invalid amount {text!r}: more than 0 and at most 100,000,000 rupees")
    return paisa(value)


def _rate(text: str) -> Decimal:
    try:
        value = Decimal(text.rstrip("%"))
    except InvalidOperation:
        raise ValueError(f"invalid rate {text!r}: a percentage, e.g. 19.5") from None
    if not value.is_finite() or value < 0 or value > 100 or value != round(value, 3):
        raise ValueError(f"invalid rate {text!r}: 0 to 100 percent, at most three decimals")
    return value


def _reference(text: str) -> str:
    value = text.strip()
    if not 1 <= len(value) <= 100 or any(ord(c) < 32 for c in value):
        raise ValueError("a reference is 1 to 100 printable characters")
    return value


amount_arg = _wrap(_amount, "amount")
rate_arg = _wrap(_rate, "rate")
reference_arg = _wrap(_reference, "reference")


def _tenant_today(ctx: Ctx, tenant: Row[Any], given: date | None = None) -> date:
    return given or local_date(ctx.now, tenant.timezone)


def _subscriber(conn: Connection, tenant: Row[Any], username: str, *, lock: bool = False) -> Row[Any]:
    row = subscribers.by_username(conn, tenant.id, username, lock=lock)
    if row is None:
        raise CliError(f"no subscriber {username!r} in tenant {tenant.name}")
    return row


def _invoice(conn: Connection, tenant: Row[Any], number: str, *, lock: bool = False) -> Row[Any]:
    inv = store.by_number(conn, tenant.id, number.strip().upper(), lock=lock)
    if inv is None:
        raise CliError(f"no invoice or credit note {number!r} in tenant {tenant.name}")
    return inv


# ---------------------------------------------------------------------------------- documents
def document(conn: Connection, tenant: Row[Any], inv: Row[Any], today: date) -> dict[str, Any]:
    """One invoice or credit note as `invoice show --json` gives it and the PDF prints it."""
    paid = store.paid_toward(conn, inv.id) if inv.kind == "invoice" else 0
    credits = None
    if inv.credits_id is not None:
        credits = store.number_of(conn, inv.credits_id)
    note = store.credit_note_for(conn, inv.id) if inv.kind == "invoice" else None
    status = inv.status
    if status == "open" and inv.due_on is not None and (today - inv.due_on).days > tenant.grace_days:
        status = "overdue"
    lines = store.lines_of(conn, inv.id)
    totals: dict[tuple[str, str, str], int] = {}
    for ln in lines:
        for t in ln["taxes"]:
            key = (t["name"], t["kind"], t["rate"])
            totals[key] = totals.get(key, 0) + t["amount_paisa"]
    seller = dict(inv.seller)
    return {
        "number": inv.number, "kind": inv.kind, "status": status, "tenant": tenant.name,
        "username": inv.buyer.get("username"), "credits": credits, "credited_by": note.number if note else None,
        "reason": inv.reason, "issued_on": inv.issued_on, "due_on": inv.due_on,
        "period_start": inv.period_start, "period_end": inv.period_end, "plan": inv.plan_name, "currency": "PKR",
        "seller": seller, "buyer": dict(inv.buyer), "lines": lines,
        "tax_totals": [{"name": n, "kind": k, "rate": r, "amount_paisa": a} for (n, k, r), a in totals.items()],
        "net_paisa": inv.net_paisa, "tax_paisa": inv.tax_paisa, "total_paisa": inv.total_paisa,
        "paid_paisa": paid, "due_paisa": inv.total_paisa - paid if inv.status == "open" else 0,
        "paid_at": inv.paid_at,
        "pay": {"iban": seller.get("bank_iban"), "reference": inv.number, "wallets": ["JazzCash", "EasyPaisa"],
                "pay_url": None},
    }


def _document_lines(doc: dict[str, Any]) -> list[str]:
    title = "credit note" if doc["kind"] == "credit_note" else "invoice"
    out = [f"{title} {doc['number']} ({doc['status']}) for {doc['username']}, issued {doc['issued_on']}"
           + (f", due {doc['due_on']}" if doc["due_on"] else "")]
    if doc["credits"]:
        out.append(f"  credits {doc['credits']}: {doc['reason']}")
    if doc["credited_by"]:
        out.append(f"  credited by credit note {doc['credited_by']}")
    out.append(f"  period {doc['period_start']} to {doc['period_end']}")
    for ln in doc["lines"]:
        out.append(f"  {ln['description']:<52} {show.rupees(ln['net_paisa']):>14}")
        for t in ln["taxes"]:
            out.append(f"    {t['name'] + ' @ ' + t['rate'] + '%':<50} {show.rupees(t['amount_paisa']):>14}")
    out.append(f"  {'total':<52} {show.rupees(doc['total_paisa']):>14}")
    if doc["kind"] == "invoice":
        out.append(f"  {'paid':<52} {show.rupees(doc['paid_paisa']):>14}")
        out.append(f"  {'due':<52} {show.rupees(doc['due_paisa']):>14}")
    return out


# ---------------------------------------------------------------------------------- billing run
@dataclass
class Report:
    date: dict[str, str] = field(default_factory=dict)
    invoices: list[dict[str, Any]] = field(default_factory=list)
    reminders: list[dict[str, Any]] = field(default_factory=list)
    suspensions: list[dict[str, Any]] = field(default_factory=list)
    reactivations: list[dict[str, Any]] = field(default_factory=list)
    paid_from_credit: list[dict[str, Any]] = field(default_factory=list)


def _target(tenant: Row[Any], username: str) -> str:
    return f"subscriber:{tenant.name}/{username}"


def _resume(ctx: Ctx, conn: Connection, tenant: Row[Any], sub: Row[Any], why: str) -> None:
    """Resume a subscriber suspended for non-payment: the Disconnects queued for the suspension are
    cancelled (the walled garden's sessions are released by _settle)."""
    row = subscribers.change(conn, sub.id, {"status": "active", "status_reason": None, "locked_until": None})
    ctx.audit(conn, action="subscriber.resume", target=_target(tenant, sub.username), tenant_id=tenant.id,
              before={"status": sub.status, "status_reason": sub.status_reason},
              after={"status": row.status, "status_reason": None, "why": why})
    ctx.stale(tenant.id, sub.username)
    coa.cancel_subscriber_disconnects(conn, sub.id, why)


def _settle(ctx: Ctx, conn: Connection, tenant: Row[Any], sub: Row[Any], today: date, *,
            payment_id: int | None = None) -> tuple[store.Settled, bool]:
    """Allocate what the subscriber holds; resume them if suspended for non-payment and nothing is
    overdue now; sessions held in the walled garden (suspended, or past paid-until) are sent back to
    the plan. Returns (settled, resumed)."""
    lapsed = sub.status == "suspended" or (sub.expires_at is not None and sub.expires_at <= ctx.now)
    settled = store.settle(conn, tenant, sub, ctx.now, payment_id=payment_id)
    for number in settled.invoices:
        ctx.audit(conn, action="invoice.paid", target=f"invoice:{tenant.name}/{number}", tenant_id=tenant.id,
                  before={"status": "open"}, after={"status": "paid", "paid_until": settled.paid_until})
    if settled.invoices:
        ctx.stale(tenant.id, sub.username)
    resumed = False
    current = _subscriber(conn, tenant, sub.username)
    if suspended_for_nonpayment(current.status, current.status_reason) and \
            not store.overdue_numbers(conn, tenant, sub.id, today):
        _resume(ctx, conn, tenant, current, "paid")
        resumed = True
    if lapsed and (resumed or settled.invoices):
        coa.release_walled_garden(conn, sub.id, ctx.now, "paid")
    return settled, resumed


def _run_one(ctx: Ctx, conn: Connection, tenant: Row[Any], username: str, today: date, rules: list[TaxRule],
             report: Report) -> None:
    """Re-read and lock one subscriber, decide, and carry it out."""
    found = store.accounts(conn, tenant, usernames=[username], lock=True)
    if not found:
        return
    account = found[0]
    item = plan_account(store.settings_of(tenant), account, rules, today)
    sub = _subscriber(conn, tenant, username)
    for action in item.actions:
        if action.kind is ActionKind.ISSUE:
            assert action.draft is not None
            inv = store.issue(conn, tenant, sub, account, action.draft, actor=ctx.actor)
            doc = {"number": inv.number, "username": username, "total_paisa": inv.total_paisa,
                   "period_start": inv.period_start, "period_end": inv.period_end, "due_on": inv.due_on}
            ctx.audit(conn, action="invoice.issue", target=f"invoice:{tenant.name}/{inv.number}", tenant_id=tenant.id,
                      before=None, after={**doc, "net_paisa": inv.net_paisa, "tax_paisa": inv.tax_paisa})
            channel = store.queue_notice(conn, tenant.id, sub, inv.id, "invoice_issued",
                                         f"Invoice {inv.number}: {show.rupees(inv.total_paisa)} for "
                                         f"{inv.period_start} to {inv.period_end}, due {inv.due_on}.")
            report.invoices.append({**doc, "notified": channel})
            ctx.stale(tenant.id, username)
            settled, _ = _settle(ctx, conn, tenant, sub, today)
            for number in settled.invoices:
                report.paid_from_credit.append({"number": number, "username": username})
        elif action.kind is ActionKind.REMIND:
            assert action.invoice is not None
            inv_row = _invoice(conn, tenant, action.invoice)
            due = inv_row.total_paisa - store.paid_toward(conn, inv_row.id)
            channel = store.queue_notice(conn, tenant.id, sub, inv_row.id, "invoice_due",
                                         f"Reminder: invoice {inv_row.number}, {show.rupees(due)} due "
                                         f"{inv_row.due_on}. Service pauses after {tenant.grace_days} grace days.")
            ctx.audit(conn, action="invoice.remind", target=f"invoice:{tenant.name}/{inv_row.number}",
                      tenant_id=tenant.id, before=None, after={"channel": channel, "due_paisa": due})
            report.reminders.append({"number": inv_row.number, "username": username, "due_paisa": due,
                                     "channel": channel})
        elif action.kind is ActionKind.SUSPEND:
            assert action.reason is not None
            row = subscribers.change(conn, sub.id, {"status": "suspended", "status_reason": action.reason})
            ctx.audit(conn, action="subscriber.suspend", target=_target(tenant, username), tenant_id=tenant.id,
                      before={"status": sub.status, "status_reason": sub.status_reason},
                      after={"status": row.status, "status_reason": row.status_reason})
            ctx.stale(tenant.id, username)
            queued = coa.queue_subscriber_disconnect(conn, sub.id, "suspended")
            report.suspensions.append({"username": username, "number": action.invoice, "disconnects_queued": queued})
        elif action.kind is ActionKind.REACTIVATE:
            _resume(ctx, conn, tenant, sub, "nothing overdue")
            coa.release_walled_garden(conn, sub.id, ctx.now, "resumed")
            report.reactivations.append({"username": username})
        sub = _subscriber(conn, tenant, username)


def run(ctx: Ctx, args: argparse.Namespace) -> None:
    with ctx.read() as conn:
        if args.tenant:
            chosen = [ctx.tenant(conn, args.tenant)]
        else:
            chosen = [t for t in tenants.all_by_name(conn) if t.terminated_at is None]
        work: list[tuple[Row[Any], date, list[TaxRule], list[str]]] = []
        for tenant in chosen:
            today = _tenant_today(ctx, tenant, args.date)
            rules = store.rules(conn, tenant.id)
            settings = store.settings_of(tenant)
            due = [a.username for a in store.accounts(conn, tenant)
                   if plan_account(settings, a, rules, today).actions]
            work.append((tenant, today, rules, due))
    report = Report()
    if args.dry_run:
        with ctx.engine.connect() as conn:
            trans = conn.begin()
            try:
                for tenant, today, rules, due in work:
                    report.date[tenant.name] = today.isoformat()
                    for username in due:
                        _run_one(ctx, conn, tenant, username, today, rules, report)
            finally:
                trans.rollback()
                ctx.discard_stale()
    else:
        for tenant, today, rules, due in work:
            report.date[tenant.name] = today.isoformat()
            for username in due:
                with ctx.tx() as conn:
                    _run_one(ctx, conn, tenant, username, today, rules, report)
    data = {"dry_run": bool(args.dry_run), "date": report.date, "invoices": report.invoices,
            "reminders": report.reminders, "suspensions": report.suspensions,
            "reactivations": report.reactivations, "paid_from_credit": report.paid_from_credit}
    head = ("dry run (nothing changed): " if args.dry_run else "") + (
        f"billing run for {', '.join(f'{t} ({d})' for t, d in report.date.items()) or 'no tenant'}: "
        f"{len(report.invoices)} invoice(s), {len(report.reminders)} reminder(s), "
        f"{len(report.suspensions)} suspension(s), {len(report.reactivations)} reactivation(s)")
    lines = [head]
    lines += [f"  issued    {i['number']}  {i['username']}  {show.rupees(i['total_paisa'])}  "
              f"{i['period_start']} to {i['period_end']}, due {i['due_on']}" for i in report.invoices]
    lines += [f"  reminded  {r['number']}  {r['username']}  {show.rupees(r['due_paisa'])} due"
              + ("" if r["channel"] else "  (no phone or email: not sent)") for r in report.reminders]
    lines += [f"  suspended {s['username']}  unpaid {s['number']}"
              + (f"; Disconnect-Request queued for {s['disconnects_queued']} session(s)" if s["disconnects_queued"] else "")
              for s in report.suspensions]
    lines += [f"  resumed   {r['username']}" for r in report.reactivations]
    lines += [f"  paid      {p['number']}  {p['username']}  from credit held" for p in report.paid_from_credit]
    ctx.emit(data, lines)


# ---------------------------------------------------------------------------------- plan changes
def prorate_plan_change(ctx: Ctx, conn: Connection, tenant: Row[Any], sub: Row[Any], old_plan: Row[Any],
                        new_plan: Row[Any]) -> dict[str, Any]:
    """`subscriber set-plan --prorate`, after the plan was changed on the locked row ``sub``: a credit
    note for the unused days of the invoice covering today, an invoice for those days on the new
    plan (paid from the credit where it reaches), and the old plan's invoices issued ahead voided
    (the next run invoices the new plan)."""
    today = _tenant_today(ctx, tenant)
    require(new_plan.price is not None, f"plan {new_plan.name} has no price: nothing to prorate")
    inv = store.covering(conn, tenant.id, sub.id, today)
    if inv is None:
        raise CliError(f"no invoice covers today ({today}) for {sub.username}: nothing to prorate "
                       "(without --prorate the plan changes from the next login)")
    if inv.status == "open":
        raise CliError(f"{inv.number}, which covers today, is unpaid: record its payment or void it first")
    note = store.credit_note_for(conn, inv.id)
    require(note is None, f"{inv.number} was credited already ({note.number if note else ''})")
    account = store.accounts(conn, tenant, usernames=[sub.username])[0]
    province = sub.province or tenant.province
    whole = store.covering(conn, tenant.id, sub.id, today, run_only=True) or inv
    change = plan_change(Period(whole.period_start, whole.period_end), Period(inv.period_start, inv.period_end),
                         store.issued_lines(conn, inv.id),
                         inv.plan_name or old_plan.name, new_plan.name, paisa(Decimal(new_plan.price)),
                         store.rules(conn, tenant.id), today, province, sub.tax_exempt_until,
                         sub.billing_anchor or inv.period_start.day)
    why = f"plan change from {old_plan.name} to {new_plan.name}"
    note = store.credit_note(conn, tenant, inv, change.credit, change.rest, reason=why, today=today, actor=ctx.actor)
    ctx.audit(conn, action="invoice.credit", target=f"invoice:{tenant.name}/{inv.number}", tenant_id=tenant.id,
              before=None, after={"credit_note": note.number, "total_paisa": note.total_paisa, "reason": why})
    voided = []
    for ahead in store.open_after(conn, tenant.id, sub.id, today):
        cn = store.void(conn, tenant, ahead, reason=why, today=today, actor=ctx.actor)
        ctx.audit(conn, action="invoice.void", target=f"invoice:{tenant.name}/{ahead.number}", tenant_id=tenant.id,
                  before={"status": "open"}, after={"status": "void", "credit_note": cn.number, "reason": why})
        voided.append(ahead.number)
    charged = store.issue(conn, tenant, sub, replace(account, plan_name=new_plan.name), change.draft,
                          actor=ctx.actor, reason=why)
    ctx.audit(conn, action="invoice.issue", target=f"invoice:{tenant.name}/{charged.number}", tenant_id=tenant.id,
              before=None, after={"number": charged.number, "username": sub.username,
                                  "total_paisa": charged.total_paisa, "period_start": charged.period_start,
                                  "period_end": charged.period_end, "reason": why})
    settled, _ = _settle(ctx, conn, tenant, sub, today)
    return {"credit_note": note.number, "credit_paisa": note.total_paisa, "invoice": charged.number,
            "invoice_paisa": charged.total_paisa, "voided": voided, "paid": charged.number in settled.invoices,
            "balance_paisa": store.balance(conn, tenant.id, sub.id)}


# ---------------------------------------------------------------------------------- tax rules
def _rule_view(r: TaxRule) -> dict[str, Any]:
    return {"id": r.id, "name": r.name, "kind": r.kind.value, "rate": str(r.rate.normalize()),
            "province": r.province, "base": r.base.value, "valid_from": r.valid_from, "valid_to": r.valid_to,
            "reference": r.reference}


def tax_add(ctx: Ctx, args: argparse.Namespace) -> None:
    require(args.to is None or args.to >= args.from_, f"--to {args.to} is before --from {args.from_}")
    kind = TaxKind.SALES if args.kind == "sales" else TaxKind.ADVANCE_INCOME
    base = TaxBase.NET if args.base == "net" else TaxBase.NET_PLUS_SALES
    require(kind is TaxKind.ADVANCE_INCOME or base is TaxBase.NET, "--base applies to advance income tax only")
    rule = TaxRule(0, args.name, kind, args.rate, args.from_, args.to, args.province, base, args.reference)
    with ctx.tx() as conn:
        tenant = tenants.by_name(conn, ctx.tenant(conn, args.tenant).name, lock=True)  # serialises adds
        assert tenant is not None
        clash = [r for r in store.rules(conn, tenant.id) if r.overlaps(rule)]
        if clash:
            c = clash[0]
            raise CliError(f"overlaps tax rule {c.id} ({c.name}, {c.rate}% from {c.valid_from}"
                           f"{' to ' + str(c.valid_to) if c.valid_to else ''}"
                           f"{', ' + c.province if c.province else ', every province'}): end it first "
                           "(rules of one kind for one province may not overlap)")
        added = store.add_rule(conn, tenant.id, rule)
        view = _rule_view(added)
        ctx.audit(conn, action="tax.add", target=f"tax:{tenant.name}/{added.id}", tenant_id=tenant.id,
                  before=None, after=view)
    ctx.emit(view, f"tax rule {added.id} added: {added.name} {view['rate']}% ({args.kind}) from {added.valid_from}"
             + (f" to {added.valid_to}" if added.valid_to else "")
             + (f" in {added.province}" if added.province else " in every province"))


def tax_list(ctx: Ctx, args: argparse.Namespace) -> None:
    with ctx.read() as conn:
        tenant = ctx.tenant(conn, args.tenant)
        views = [{"tenant": tenant.name, **_rule_view(r)} for r in store.rules(conn, tenant.id)]
    rows = [dict(v, province=v["province"] or "every", to=v["valid_to"] or "", **{"from": v["valid_from"]})
            for v in views]
    ctx.emit(views, table(rows, ["id", "name", "kind", "rate", "province", "base", "from", "to", "reference"]))


# ---------------------------------------------------------------------------------- invoices
def invoice_list(ctx: Ctx, args: argparse.Namespace) -> None:
    with ctx.read() as conn:
        tenant = ctx.tenant(conn, args.tenant)
        today = _tenant_today(ctx, tenant)
        sub_id = _subscriber(conn, tenant, args.user).id if args.user else None
        kind = "credit_note" if args.credit_notes else "invoice"
        rows = store.listing(conn, tenant.id, subscriber_id=sub_id, status=args.status, today=today,
                             grace_days=tenant.grace_days, kind=kind)
    out = []
    for r in rows:
        status = r.status
        if status == "open" and r.due_on is not None and (today - r.due_on).days > tenant.grace_days:
            status = "overdue"
        out.append({"id": r.id, "tenant": tenant.name, "number": r.number, "kind": r.kind, "username": r.username,
                    "status": status,
                    "issued_on": r.issued_on, "due_on": r.due_on, "period_start": r.period_start,
                    "period_end": r.period_end, "total_paisa": r.total_paisa,
                    "paid_paisa": int(r.paid_paisa), "due_paisa": r.total_paisa - int(r.paid_paisa)
                    if r.status == "open" else 0})
    human = [dict(o, total=show.rupees(o["total_paisa"]), due=show.rupees(o["due_paisa"]),
                  period=f"{o['period_start']} to {o['period_end']}", user=o["username"], issued=o["issued_on"])
             for o in out]
    ctx.emit(out, table(human, ["number", "user", "status", "issued", "period", "total", "due"]))


def invoice_show(ctx: Ctx, args: argparse.Namespace) -> None:
    with ctx.read() as conn:
        tenant = ctx.tenant(conn, args.tenant)
        doc = document(conn, tenant, _invoice(conn, tenant, args.number), _tenant_today(ctx, tenant))
    ctx.emit(doc, _document_lines(doc))


def invoice_void(ctx: Ctx, args: argparse.Namespace) -> None:
    with ctx.tx() as conn:
        tenant = ctx.tenant(conn, args.tenant)
        inv = _invoice(conn, tenant, args.number, lock=True)
        if inv.kind != "invoice":
            raise CliError(f"{inv.number} is a credit note: it cannot be voided")
        if inv.status == "void":
            note = store.credit_note_for(conn, inv.id)
            raise CliError(f"{inv.number} is void already (credit note {note.number if note else '?'})")
        if inv.status == "paid":
            raise CliError(f"{inv.number} is paid: a paid invoice is not voided (refund the payment instead)")
        today = _tenant_today(ctx, tenant)
        note = store.void(conn, tenant, inv, reason=args.reason, today=today, actor=ctx.actor)
        ctx.audit(conn, action="invoice.void", target=f"invoice:{tenant.name}/{inv.number}", tenant_id=tenant.id,
                  before={"status": inv.status}, after={"status": "void", "credit_note": note.number,
                                                        "reason": args.reason})
        sub = store.subscriber_by_id(conn, inv.subscriber_id)
        ctx.stale(tenant.id, sub.username)  # its grace days may be given back
        _, resumed = _settle(ctx, conn, tenant, sub, today)
        paid_before = store.paid_toward(conn, inv.id)
    data = {"number": inv.number, "status": "void", "credit_note": note.number, "total_paisa": inv.total_paisa,
            "credit_paisa": paid_before, "resumed": resumed}
    ctx.emit(data, f"{inv.number} void: credit note {note.number} for {show.rupees(inv.total_paisa)}"
             + (f"; {show.rupees(paid_before)} already paid toward it is held as credit" if paid_before else "")
             + ("; subscriber resumed" if resumed else ""))


def invoice_pdf(ctx: Ctx, args: argparse.Namespace) -> None:
    with ctx.read() as conn:
        tenant = ctx.tenant(conn, args.tenant)
        doc = document(conn, tenant, _invoice(conn, tenant, args.number), _tenant_today(ctx, tenant))
    try:
        from cloudos.billing import pdf  # WeasyPrint is heavy: only this command loads it
    except OSError as exc:  # WeasyPrint loads Pango with ctypes when imported
        raise CliError(f"cannot print PDF: Pango is missing ({exc}); apt-get install libpango-1.0-0 "
                       "libpangoft2-1.0-0 fonts-dejavu-core") from None
    data = pdf.render_pdf(_plain(doc))
    try:
        with open(args.out, "wb") as f:
            f.write(data)
    except OSError as exc:
        raise CliError(f"cannot write {args.out}: {exc.strerror}") from None
    ctx.emit({"number": doc["number"], "out": args.out, "bytes": len(data)},
             f"{doc['number']} written to {args.out} ({len(data)} bytes)")


def _plain(doc: dict[str, Any]) -> dict[str, Any]:
    """The document with dates as ISO text, as `invoice show --json` prints it."""
    def conv(v: Any) -> Any:
        if isinstance(v, dict):
            return {k: conv(x) for k, x in v.items()}
        if isinstance(v, list):
            return [conv(x) for x in v]
        if isinstance(v, datetime):
            return show.utc(v)
        if isinstance(v, date):
            return v.isoformat()
        return v
    out: dict[str, Any] = conv(doc)
    return out


# ---------------------------------------------------------------------------------- payments
def payment_record(ctx: Ctx, args: argparse.Namespace) -> None:
    with ctx.tx() as conn:
        tenant = ctx.tenant(conn, args.tenant)
        sub = _subscriber(conn, tenant, args.username, lock=True)
        require(sub.status != "terminated", f"{args.username} is terminated")
        try:
            received = show.read_local(args.received_at, tenant.timezone) if args.received_at else ctx.now
        except ValueError as exc:
            raise UsageError(f"--received-at: {exc}") from None
        require(received <= ctx.now, f"--received-at {args.received_at} is in the future")
        rec = store.record_payment(conn, tenant.id, sub.id, method=args.method, reference=args.reference,
                                   amount_paisa=args.amount, received_at=received, actor=ctx.actor)
        if not rec.new:
            p = rec.payment
            if p.subscriber_id != sub.id or p.amount_paisa != args.amount:
                other = store.subscriber_by_id(conn, p.subscriber_id)
                raise CliError(f"{args.method} reference {args.reference!r} was recorded already, for "
                               f"{other.username} and {show.rupees(p.amount_paisa)}: not recorded again")
            already = {"username": args.username, "method": args.method, "reference": args.reference,
                       "amount_paisa": p.amount_paisa, "already_recorded": True}
        else:
            ctx.audit(conn, action="payment.record", target=f"payment:{tenant.name}/{args.method}/{args.reference}",
                      tenant_id=tenant.id, before=None,
                      after={"username": args.username, "amount_paisa": args.amount, "method": args.method,
                             "reference": args.reference, "received_at": received})
            today = local_date(ctx.now, tenant.timezone)
            settled, resumed = _settle(ctx, conn, tenant, sub, today, payment_id=rec.payment.id)
            owed = store.balance(conn, tenant.id, sub.id)
    if not rec.new:
        ctx.emit(already, f"{args.method} payment {args.reference} was already recorded "
                 f"({show.rupees(already['amount_paisa'])} for {args.username}): nothing changed")
        return
    data = {"username": args.username, "method": args.method, "reference": args.reference,
            "amount_paisa": args.amount, "already_recorded": False, "settled": list(settled.invoices),
            "paid_until": settled.paid_until, "resumed": resumed, "balance_paisa": owed}
    ctx.emit(data, f"{show.rupees(args.amount)} recorded for {args.username} ({args.method} {args.reference})"
             + (f"; paid {', '.join(settled.invoices)}" if settled.invoices else "")
             + (f"; paid until {settled.paid_until}" if settled.paid_until else "")
             + ("; resumed" if resumed else "")
             + (f"; balance {show.rupees(owed)} owed" if owed > 0 else
                f"; {show.rupees(-owed)} held as credit" if owed < 0 else "; balance zero"))


def payment_list(ctx: Ctx, args: argparse.Namespace) -> None:
    with ctx.read() as conn:
        tenant = ctx.tenant(conn, args.tenant)
        sub_id = _subscriber(conn, tenant, args.user).id if args.user else None
        rows = [{"id": p.id, "tenant": tenant.name, "username": p.username, "method": p.method, "reference": p.reference,
                 "amount_paisa": p.amount_paisa, "status": p.status, "received_at": p.received_at}
                for p in store.payments(conn, tenant.id, sub_id)]
    human = [dict(r, amount=show.rupees(r["amount_paisa"]), received=show.local(r["received_at"], tenant.timezone),
                  user=r["username"]) for r in rows]
    ctx.emit(rows, table(human, ["id", "user", "method", "reference", "amount", "received"]))


def ledger(ctx: Ctx, args: argparse.Namespace) -> None:
    with ctx.read() as conn:
        tenant = ctx.tenant(conn, args.tenant)
        sub = _subscriber(conn, tenant, args.username)
        entries = store.ledger(conn, tenant.id, sub.id)
    owed = entries[-1]["balance_paisa"] if entries else 0
    data = {"username": args.username, "entries": entries, "balance_paisa": int(owed)}
    human = [dict(e, at=show.local(e["at"], tenant.timezone), amount=show.rupees(e["amount_paisa"]),
                  balance=show.rupees(int(e["balance_paisa"]))) for e in entries]
    ctx.emit(data, table(human, ["at", "kind", "description", "amount", "balance"])
             + [f"balance: {show.rupees(int(owed))}" + (" owed" if owed > 0 else " credit" if owed < 0 else "")])


# ---------------------------------------------------------------------------------- parsers
def _group(sub: Subparsers, name: str, help: str) -> Any:
    g = sub.add_parser(name, help=help)
    return g.add_subparsers(dest="action", required=True, metavar="ACTION")


def register_billing(sub: Subparsers) -> None:
    s = _group(sub, "billing", "billing runs: invoices ahead of paid-until, reminders, suspension for non-payment")
    p = leaf(s, "run", "issue due invoices, queue reminders, suspend the unpaid past their grace days", run)
    p.add_argument("--date", type=date_arg, metavar="YYYY-MM-DD", help="run as of this day (default: today, tenant time)")
    p.add_argument("--dry-run", action="store_true", help="report what a run would do and change nothing")
    p.add_argument("--tenant", metavar="T", help="one tenant (default: every tenant)")


def register_tax(sub: Subparsers) -> None:
    s = _group(sub, "tax", "tax rules: sales tax and advance income tax, with effective dates")
    p = leaf(s, "add", "add a tax rule", tax_add)
    p.add_argument("name", type=name_text_arg, metavar="NAME", help='as printed on invoices, e.g. "Punjab sales tax"')
    tenant_opt(p)
    p.add_argument("--kind", required=True, choices=["sales", "advance-income"])
    p.add_argument("--rate", required=True, type=rate_arg, metavar="PERCENT", help="e.g. 19.5")
    p.add_argument("--from", dest="from_", required=True, type=date_arg, metavar="DATE", help="first day in force")
    p.add_argument("--to", type=date_arg, metavar="DATE", help="last day in force (default: until replaced)")
    p.add_argument("--province", choices=PROVINCES, help="only there (default: every province)")
    p.add_argument("--base", choices=["net", "net-plus-sales"], default="net",
                   help="advance income tax on the net amount (default) or the net plus sales tax")
    p.add_argument("--reference", type=_wrap(lambda t: _reference(t), "reference"), metavar="TEXT",
                   help="the legal reference, e.g. an SRO or the Act's section")
    p = leaf(s, "list", "list tax rules", tax_list)
    tenant_opt(p)


def register_invoice(sub: Subparsers) -> None:
    s = _group(sub, "invoice", "invoices and credit notes")
    p = leaf(s, "list", "list invoices (or credit notes)", invoice_list)
    tenant_opt(p)
    p.add_argument("--user", type=username_arg, metavar="USERNAME")
    p.add_argument("--status", choices=["open", "paid", "overdue", "void"])
    p.add_argument("--credit-notes", action="store_true", help="list credit notes instead")
    p = leaf(s, "show", "an invoice or credit note with its lines, taxes, totals and status", invoice_show)
    p.add_argument("number", metavar="NUMBER")
    tenant_opt(p)
    p = leaf(s, "void", "void an open invoice by issuing a credit note for it", invoice_void)
    p.add_argument("number", metavar="NUMBER")
    p.add_argument("--reason", required=True, type=_wrap(lambda t: _reference(t), "reason"), metavar="TEXT")
    tenant_opt(p)
    p = leaf(s, "pdf", "write an invoice or credit note as PDF", invoice_pdf)
    p.add_argument("number", metavar="NUMBER")
    p.add_argument("--out", required=True, metavar="FILE")
    tenant_opt(p)


def register_payment(sub: Subparsers) -> None:
    s = _group(sub, "payment", "payments: record one (once per reference), list them")
    p = leaf(s, "record", "record a payment: settles the oldest open invoices, renews and resumes", payment_record)
    p.add_argument("username", type=username_arg, metavar="USERNAME")
    tenant_opt(p)
    p.add_argument("--amount", required=True, type=amount_arg, metavar="PKR", help="rupees, e.g. 2950 or 2949.50")
    p.add_argument("--method", required=True, choices=METHODS)
    p.add_argument("--reference", required=True, type=reference_arg, metavar="REF",
                   help="receipt number, bank transaction id or wallet reference: recorded once")
    p.add_argument("--received-at", metavar="DATETIME", help="when it was received (default: now; tenant time)")
    p = leaf(s, "list", "list payments", payment_list)
    tenant_opt(p)
    p.add_argument("--user", type=username_arg, metavar="USERNAME")


def register_ledger(sub: Subparsers) -> None:
    p = sub.add_parser("ledger", help="a subscriber's invoices, payments and credit notes with the running balance")
    p.add_argument("username", type=username_arg, metavar="USERNAME")
    p.add_argument("--json", action="store_true", help="machine-readable output")
    tenant_opt(p)
    p.set_defaults(func=ledger)


REGISTER: dict[str, Callable[[Subparsers], None]] = {
    "billing": register_billing, "tax": register_tax, "invoice": register_invoice, "payment": register_payment,
    "ledger": register_ledger,
}


def register(sub: Subparsers) -> None:
    for fn in REGISTER.values():
        fn(sub)

