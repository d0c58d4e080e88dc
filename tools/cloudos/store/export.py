"""Everything held about one subscriber, section by section, for `cloudos subscriber export`, and a
tenant's whole configuration and subscriber base for `cloudos tenant export` (the privacy policy's
access and portability). Rows as stored; the caller decides what to decrypt."""

from __future__ import annotations

from typing import Any

from sqlalchemy import Connection, Table, select
from sqlalchemy.engine import Row

from cloudos.store.tables import (admin_audit, auth_log, coa_outbox, consent, data_request, invoice, invoice_line, invoice_tax,
                                  ledger_entry, nas, notification, payment, payment_allocation, plan, privacy_holiday,
                                  session, session_open, subscriber, tax_rule, usage_counter)
from cloudos.store.tables import tenant as tenant_table


def _rows(conn: Connection, table: Table, *where: Any, order: Any, leave: tuple[str, ...] = ()) -> list[dict[str, Any]]:
    columns = [c for c in table.c if c.name not in leave]
    return [dict(r._mapping) for r in conn.execute(select(*columns).where(*where).order_by(*order))]


#: Each section's columns (a CSV header even when it has no row).
COLUMNS: dict[str, list[str]] = {
    "sessions": [c.name for c in session_open.c],
    "usage": [c.name for c in usage_counter.c],
    "auth_log": [c.name for c in auth_log.c],
    "invoices": [c.name for c in invoice.c],
    "invoice_lines": [c.name for c in invoice_line.c],
    "invoice_taxes": [c.name for c in invoice_tax.c],
    "payments": [c.name for c in payment.c],
    "payment_allocations": [c.name for c in payment_allocation.c],
    "ledger": [c.name for c in ledger_entry.c],
    "notifications": [c.name for c in notification.c],
    "coa_requests": [c.name for c in coa_outbox.c],
    "data_requests": [c.name for c in data_request.c],
    "consents": [c.name for c in consent.c],
    "audit": [c.name for c in admin_audit.c if c.name not in ("prev_hash", "hash")],
}


def sections(conn: Connection, tenant: Row[Any], sub: Row[Any]) -> dict[str, list[dict[str, Any]]]:
    """Each table's rows about the subscriber, oldest first (the keys of COLUMNS). Passwords and other
    secrets are not sections; the audit trail's rows are as sealed (personal fields as keyed digests)."""
    sid, tid = sub.id, tenant.id
    live = _rows(conn, session_open, session_open.c.subscriber_id == sid, order=(session_open.c.started_at,))
    seen = {s["acct_unique_id"] for s in live}
    history = [s for s in _rows(conn, session, session.c.tenant_id == tid, session.c.subscriber_id == sid,
                                order=(session.c.started_at,)) if s["acct_unique_id"] not in seen]
    invoices = select(invoice.c.id).where(invoice.c.tenant_id == tid, invoice.c.subscriber_id == sid)
    lines = select(invoice_line.c.id).where(invoice_line.c.invoice_id.in_(invoices))
    target = f"subscriber:{tenant.name}/{sub.username}"
    return {
        "sessions": sorted(history + live, key=lambda s: (s["started_at"], s["acct_unique_id"])),
        "usage": _rows(conn, usage_counter, usage_counter.c.subscriber_id == sid, order=(usage_counter.c.period_start,)),
        "auth_log": _rows(conn, auth_log, auth_log.c.tenant_id == tid, auth_log.c.subscriber_id == sid,
                          order=(auth_log.c.at,)),
        "invoices": _rows(conn, invoice, invoice.c.id.in_(invoices), order=(invoice.c.issued_on, invoice.c.id)),
        "invoice_lines": _rows(conn, invoice_line, invoice_line.c.invoice_id.in_(invoices),
                               order=(invoice_line.c.invoice_id, invoice_line.c.position)),
        "invoice_taxes": _rows(conn, invoice_tax, invoice_tax.c.line_id.in_(lines), order=(invoice_tax.c.id,)),
        "payments": _rows(conn, payment, payment.c.tenant_id == tid, payment.c.subscriber_id == sid,
                          order=(payment.c.received_at, payment.c.id)),
        "payment_allocations": _rows(conn, payment_allocation, payment_allocation.c.invoice_id.in_(invoices),
                                     order=(payment_allocation.c.invoice_id, payment_allocation.c.payment_id)),
        "ledger": _rows(conn, ledger_entry, ledger_entry.c.tenant_id == tid, ledger_entry.c.subscriber_id == sid,
                        order=(ledger_entry.c.at, ledger_entry.c.id)),
        "notifications": _rows(conn, notification, notification.c.tenant_id == tid,
                               notification.c.subscriber_id == sid, order=(notification.c.created_at,)),
        "coa_requests": _rows(conn, coa_outbox, coa_outbox.c.subscriber_id == sid, order=(coa_outbox.c.id,)),
        "data_requests": _rows(conn, data_request, data_request.c.tenant_id == tid,
                               data_request.c.subscriber_id == sid, order=(data_request.c.id,)),
        "consents": _rows(conn, consent, consent.c.tenant_id == tid, consent.c.subscriber_id == sid,
                          order=(consent.c.at, consent.c.id)),
        "audit": _rows(conn, admin_audit, admin_audit.c.tenant_id == tid,
                       admin_audit.c.target.in_([target, f"session:{tenant.name}/{sub.username}"]),
                       order=(admin_audit.c.id,), leave=("prev_hash", "hash")),
    }


#: A tenant's export: each section's table and the columns left out (secrets).
_TENANT_TABLES: dict[str, tuple[Table, tuple[str, ...]]] = {
    "nas": (nas, ("secret_enc",)),
    "plans": (plan, ()),
    "tax_rules": (tax_rule, ()),
    "subscribers": (subscriber, ("password_enc",)),
    "usage": (usage_counter, ()),
    "invoices": (invoice, ()),
    "invoice_lines": (invoice_line, ()),
    "invoice_taxes": (invoice_tax, ()),
    "payments": (payment, ()),
    "payment_allocations": (payment_allocation, ()),
    "ledger": (ledger_entry, ()),
    "data_requests": (data_request, ()),
    "consents": (consent, ()),
    "privacy_holidays": (privacy_holiday, ()),
}
TENANT_COLUMNS: dict[str, list[str]] = {
    "tenant": [c.name for c in tenant_table.c],
    **{name: [c.name for c in t.c if c.name not in leave] for name, (t, leave) in _TENANT_TABLES.items()},
}


def tenant_sections(conn: Connection, tenant: Row[Any]) -> dict[str, list[dict[str, Any]]]:
    """A tenant's configuration, subscriber base and billing records, each table's rows in key order
    (the keys of TENANT_COLUMNS); NAS secrets and passwords left out, CNICs still sealed."""
    out: dict[str, list[dict[str, Any]]] = {"tenant": [dict(tenant._mapping)]}
    for name, (t, leave) in _TENANT_TABLES.items():
        key = list(t.primary_key.columns) or [t.c[n] for n in TENANT_COLUMNS[name]]
        out[name] = _rows(conn, t, t.c.tenant_id == tenant.id, order=key, leave=leave)
    return out
