"""cloudos audit verify | anchor | list"""

from __future__ import annotations

import argparse
from typing import Any

from cloudos import audit, show
from cloudos.commands._common import INT4_MAX, Subparsers, int_arg, leaf, username_arg
from cloudos.context import Ctx, table
from cloudos.errors import TamperError, UsageError
from cloudos.store import audit as audit_store
from cloudos.store import tenants


def verify(ctx: Ctx, args: argparse.Namespace) -> None:
    ctx.require_whole_trail("audit verify")
    keys = audit.AuditKeys(ctx.keyring)
    anchor = audit.read_anchor(args.anchor, keys) if args.anchor else None
    with ctx.read() as conn:
        result = audit.verify(conn, keys)
        late = audit.check_anchor(conn, anchor) if anchor is not None and result.ok else None
    data = {"rows": result.rows, "ok": result.ok and late is None, "first_bad_id": result.first_bad_id,
            "problem": result.problem or late, "anchor": anchor.body() if anchor else None}
    if not result.ok or late is not None:
        if ctx.json:
            ctx.emit(data, "")
        if late is not None:
            raise TamperError(f"audit trail does not match anchor {args.anchor}: {late}")
        raise TamperError(f"audit chain broken at row {result.first_bad_id}: {result.problem}")
    ctx.emit(data, f"audit chain intact: {result.rows} rows"
             + (f"; anchor of {anchor.at} ({anchor.scope}, row {anchor.last_id}, {anchor.count} rows) holds"
                if anchor else ""))


def anchor(ctx: Ctx, args: argparse.Namespace) -> None:
    ctx.require_whole_trail("audit anchor")
    keys = audit.AuditKeys(ctx.keyring)
    with ctx.read() as conn:
        tenant = ctx.tenant(conn, args.tenant) if args.tenant else None
        head = audit.take_anchor(conn, keys, scope=tenant.name if tenant else "all",
                                 tenant_id=tenant.id if tenant else None, now=ctx.now)
    audit.write_anchor(args.out, keys, head)
    ctx.emit({**head.body(), "file": args.out},
             f"anchored {head.scope}: row {head.last_id}, {head.count} rows, at {head.at} -> {args.out} "
             "(keep it outside the database host)")


def _zone(conn: Any, tenant: Any) -> str:
    """The zone --since and the times of rows of no tenant are read in: the tenant's asked for, else
    the only tenant's, else UTC."""
    if tenant is not None:
        return str(tenant.timezone)
    only = tenants.first(conn, 2)
    return str(only[0].timezone) if len(only) == 1 else "UTC"


def _changed(row: dict[str, Any]) -> str:
    """What a row changed, for a person: every field of an add or a remove is no news."""
    if row["before"] is None and row["after"] is not None:
        return "(added)"
    if row["after"] is None and row["before"] is not None:
        return "(removed)"
    return ",".join(row["changed"] or [])


def list_(ctx: Ctx, args: argparse.Namespace) -> None:
    with ctx.read() as conn:
        tenant = ctx.tenant(conn, args.tenant) if args.tenant else None
        tz = _zone(conn, tenant)
        try:
            since = show.read_local(args.since, tz) if args.since else None
        except ValueError as exc:
            raise UsageError(f"--since: {exc}") from None
        found = audit_store.listing(conn, args.limit, tenant_id=tenant.id if tenant else None, action=args.action,
                                    user=args.user, since=since)
    rows = [{"id": r.id, "tenant": r.tenant, "at": show.utc(r.at), "actor": r.actor, "db_user": r.db_user,
             "action": r.action, "target": r.target, "changed": list(r.changed) if r.changed is not None else None,
             "before": r.before, "after": r.after} for r in found]
    human = [dict(r, at=show.local(f.at, f.timezone or tz, seconds=True), changed=_changed(r)) for r, f in zip(rows, found)]
    ctx.emit(rows, table(human, ["id", "at", "actor", "db_user", "action", "target", "changed"]))


def register(sub: Subparsers) -> None:
    g = sub.add_parser("audit", help="the immutable admin audit trail")
    s = g.add_subparsers(dest="action", required=True, metavar="ACTION")
    p = leaf(s, "verify", "walk the keyed hash chain and name the first row that does not match (exit 3)", verify)
    p.add_argument("--anchor", metavar="FILE", help="also prove that no row up to this anchor's head was removed")
    p = leaf(s, "anchor", "write the signed head of the trail to a new file (mode 0600), to keep elsewhere", anchor)
    p.add_argument("--out", required=True, metavar="FILE", help="the anchor file to create (never overwritten)")
    p.add_argument("--tenant", metavar="T", help="anchor only this tenant's rows (default: the whole trail)")
    p = leaf(s, "list", "show the latest audit rows (--json: with before and after as the trail stores them: "
                        "secrets as a marker, personal data as keyed digests)", list_)
    p.add_argument("--limit", type=int_arg(1, INT4_MAX), default=20, metavar="N", help="at most N rows (20)")
    p.add_argument("--tenant", metavar="T", help="only this tenant's rows")
    p.add_argument("--user", type=username_arg, metavar="USERNAME",
                   help="only rows about this subscriber (its changes and the disconnects of its sessions)")
    p.add_argument("--action", metavar="ACTION", help="only actions starting so: subscriber. or subscriber.suspend")
    p.add_argument("--since", metavar="TIME", help="only rows at or after this ISO time (tenant time without an offset)")
