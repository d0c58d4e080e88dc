"""cloudos coa list: the CoA outbox, what was queued, sent and answered.

Rows are the outbox's (coa_outbox, schema 0002 and 0008) under the names a NOC uses:
queued (pending, never sent), sent (pending, sent at least once and not answered yet: the
worker sends it again), acked, naked (the NAS answered ACK or NAK), timeout (a CoA no
answer came to after its attempts; it was escalated to a Disconnect), failed (it could not
be sent: its NAS removed, the secret unreadable, a socket error) and cancelled (moot: the
session closed, the subscriber is back within policy, or the NAS was removed).
"""

from __future__ import annotations

import argparse
from typing import Any

from cloudos import show
from cloudos.commands._common import INT4_MAX, Subparsers, int_arg, leaf, tenant_opt, username_arg
from cloudos.context import Ctx, table
from cloudos.store import coa as coa_store


def _row(r: Any) -> dict[str, Any]:
    attrs = r.attributes or {}
    status = coa_store.status_name(r.status, r.attempts)
    return {
        "id": r.id, "tenant": r.tenant, "kind": r.kind, "status": status, "username": attrs.get("User-Name"),
        "acct_session_id": attrs.get("Acct-Session-Id"), "framed_ip": attrs.get("Framed-IP-Address"),
        "rate_limit": attrs.get("Mikrotik-Rate-Limit"), "nas": r.nas, "nas_address": r.nas_address,
        "reason": r.reason, "attempts": r.attempts, "result": r.result, "created_at": show.utc(r.created_at),
        "next_attempt_at": show.utc(r.next_attempt_at) if r.status == "pending" else None,
        "done_at": show.utc(r.done_at),
    }


def list_(ctx: Ctx, args: argparse.Namespace) -> None:
    with ctx.read() as conn:
        tenant = ctx.tenant(conn, args.tenant)
        found = coa_store.listing(conn, tenant.id, status=args.status, username=args.user, limit=args.limit)
    rows = [_row(r) for r in found]
    tz = tenant.timezone
    human = [dict(r, created=show.local(f.created_at, tz), nas=r["nas"] or "(removed)",
                  done=show.local(f.done_at, tz), result=(r["result"] or "")[:60]) for r, f in zip(rows, found)]
    ctx.emit(rows, table(human, ["id", "created", "kind", "username", "nas", "reason", "status", "attempts", "done",
                                 "result"]))


def register(sub: Subparsers) -> None:
    g = sub.add_parser("coa", help="CoA and Disconnect requests: queued, sent, answered")
    s = g.add_subparsers(dest="action", required=True, metavar="ACTION")
    p = leaf(s, "list", "list the latest CoA/Disconnect requests, newest first", list_)
    tenant_opt(p)
    p.add_argument("--status", choices=coa_store.STATUSES,
                   help="queued (never sent), sent (sent, no answer yet), acked, naked, timeout, failed, cancelled")
    p.add_argument("--user", type=username_arg, metavar="U", help="only requests for this username")
    p.add_argument("--limit", type=int_arg(1, INT4_MAX), default=50, metavar="N", help="at most N rows (50)")
