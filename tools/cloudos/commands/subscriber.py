"""cloudos subscriber add | show | list | suspend | resume | set-plan | set-password | renew"""

from __future__ import annotations

import argparse
from typing import Any

from sqlalchemy import Connection
from sqlalchemy.engine import Row

from cloudos.commands._common import (Subparsers, as_dict, date_arg, ip_arg, leaf, mac_arg, require, tenant_opt,
                                      username_arg)
from cloudos.audit import redact
from cloudos.context import Ctx, read_secret, table
from cloudos.errors import CliError, UsageError
from cloudos.store import coa, plans, sessions, subscribers, usage
from rlm_cloudos.errors import DecryptError
from rlm_cloudos.policy import expires_at_for_date
from rlm_cloudos.policy.paid import local_date, next_paid_until, paid_until
from rlm_cloudos.policy.rates import format_size, usage_size

_AUDITED = ("id", "username", "plan_id", "status", "status_reason", "expires_at", "mac", "static_ip", "full_name",
            "phone", "email", "postal_address", "password_enc", "cnic_enc", "locked_until")


def _audited(row: dict[str, Any] | None) -> dict[str, Any] | None:
    return None if row is None else {k: (str(row[k]) if k in ("mac", "static_ip") and row[k] is not None else row[k])
                                     for k in _AUDITED}


def _load(conn: Connection, ctx: Ctx, args: argparse.Namespace, *, lock: bool = False) -> tuple[Row[Any], Row[Any]]:
    tenant = ctx.tenant(conn, args.tenant)
    row = subscribers.by_username(conn, tenant.id, args.username, lock=lock)
    if row is None:
        raise CliError(f"no subscriber {args.username!r} in tenant {tenant.name}")
    return tenant, row


def _plan(conn: Connection, tenant_id: int, name: str) -> Row[Any]:
    plan = plans.by_name(conn, tenant_id, name)
    if plan is None:
        raise CliError(f"no plan named {name!r} in this tenant (cloudos plan list)")
    return plan


def _update(ctx: Ctx, conn: Connection, tenant: Row[Any], before: Row[Any], action: str,
            changes: dict[str, Any]) -> dict[str, Any]:
    row = subscribers.change(conn, before.id, changes)
    after = dict(row._mapping)
    ctx.audit(conn, action=f"subscriber.{action}", target=f"subscriber:{tenant.name}/{before.username}",
              tenant_id=tenant.id, before=_audited(dict(before._mapping)), after=_audited(after))
    ctx.stale(tenant.id, before.username)
    return after


def add(ctx: Ctx, args: argparse.Namespace) -> None:
    if not args.password_stdin:
        raise UsageError("the password is read from standard input: add --password-stdin")
    if args.cnic is not None:
        raise UsageError("--cnic VALUE would show the CNIC to every local user (ps, /proc): "
                         "use --cnic-stdin (the line after the password)")
    password = read_secret("subscriber password")
    cnic = read_secret("CNIC") if args.cnic_stdin else None
    keyring = ctx.keyring
    with ctx.tx() as conn:
        tenant = ctx.tenant(conn, args.tenant)
        plan = _plan(conn, tenant.id, args.plan)
        if subscribers.exists(conn, tenant.id, args.username):
            raise CliError(f"subscriber {args.username!r} already exists in tenant {tenant.name}")
        values = {
            "tenant_id": tenant.id, "username": args.username, "plan_id": plan.id,
            "password_enc": keyring.seal_password(password, tenant.id, args.username),
            "expires_at": expires_at_for_date(args.expires, tenant.timezone) if args.expires else None,
            "mac": args.mac, "static_ip": args.static_ip, "full_name": args.name, "phone": args.phone,
            "email": args.email, "postal_address": args.address,
            "cnic_enc": keyring.encrypt(cnic, "subscriber.cnic") if cnic else None,
        }
        row = subscribers.add(conn, values)
        ctx.audit(conn, action="subscriber.add", target=f"subscriber:{tenant.name}/{args.username}",
                  tenant_id=tenant.id, before=None, after=_audited(dict(row._mapping)))
    until = paid_until(row.expires_at, tenant.timezone)
    ctx.emit({"id": row.id, "username": args.username, "tenant": tenant.name, "plan": plan.name,
              "paid_until": until.isoformat() if until else None},
             f"subscriber {args.username} added to tenant {tenant.name} on plan {plan.name}"
             + (f", paid until {until} ({tenant.timezone})" if until else ", no expiry"))


def _cnic_masked(ctx: Ctx, blob: bytes | None) -> str | None:
    if blob is None:
        return None
    try:
        cnic = ctx.keyring.decrypt(blob, "subscriber.cnic")
    except DecryptError:
        return "(undecryptable)"
    return "*" * max(0, len(cnic) - 1) + cnic[-1:]


def _view(ctx: Ctx, conn: Connection, tenant: Row[Any], row: Row[Any]) -> dict[str, Any]:
    plan = plans.by_id(conn, row.plan_id) if row.plan_id else None
    counter = usage.current(conn, row.id, ctx.now)
    online = sessions.open_of_subscriber(conn, row.id)
    until = paid_until(row.expires_at, tenant.timezone)
    used = (counter.input_octets + counter.output_octets) if counter else 0
    return {
        "id": row.id,
        "tenant": tenant.name,
        "username": row.username,
        "status": row.status,
        "status_reason": row.status_reason,
        "plan": plan.name if plan else None,
        "rate_limit": plan.rate_limit if plan else None,
        "paid_until": until.isoformat() if until else None,
        "expires_at": row.expires_at.isoformat() if row.expires_at else None,
        "mac": str(row.mac).upper() if row.mac else None,
        "static_ip": str(row.static_ip) if row.static_ip else None,
        "name": row.full_name,
        "phone": row.phone,
        "email": row.email,
        "cnic": _cnic_masked(ctx, row.cnic_enc),
        "usage": {
            "period_start": counter.period_start.isoformat() if counter else None,
            "period_end": counter.period_end.isoformat() if counter else None,
            "download_bytes": counter.output_octets if counter else 0,
            "upload_bytes": counter.input_octets if counter else 0,
            "total_bytes": used,
            "quota_bytes": plan.quota_bytes if plan else None,
            "session_seconds": counter.session_time if counter else 0,
        },
        "online_sessions": [
            {"acct_session_id": s.acct_session_id, "started_at": s.started_at.isoformat(),
             "framed_ip": s.framed_ip, "calling_station_id": s.calling_station_id,
             "bytes": s.input_octets + s.output_octets} for s in online
        ],
        "created_at": row.created_at.isoformat(),
    }


def show(ctx: Ctx, args: argparse.Namespace) -> None:
    with ctx.read() as conn:
        tenant, row = _load(conn, ctx, args)
        view = _view(ctx, conn, tenant, row)
    u = view["usage"]
    quota = f" of {format_size(u['quota_bytes'])}" if u["quota_bytes"] else ""
    lines = [
        f"{view['username']} ({view['tenant']})",
        f"  status      {view['status']}" + (f" ({view['status_reason']})" if view["status_reason"] else ""),
        f"  plan        {view['plan']} ({view['rate_limit']})",
        f"  paid until  {view['paid_until'] or 'no expiry'}",
        f"  mac         {view['mac'] or '(not bound)'}",
        f"  static ip   {view['static_ip'] or '(pool)'}",
        f"  name        {view['name'] or ''}",
        f"  phone       {view['phone'] or ''}",
        f"  email       {view['email'] or ''}",
        f"  cnic        {view['cnic'] or ''}",
        f"  usage       {usage_size(u['total_bytes'])}{quota} this period "
        f"(down {usage_size(u['download_bytes'])}, up {usage_size(u['upload_bytes'])})",
        f"  online      {len(view['online_sessions'])} session(s)",
    ]
    lines += [f"    {s['acct_session_id']} since {s['started_at']} ip {s['framed_ip']} mac {s['calling_station_id']}"
              for s in view["online_sessions"]]
    ctx.emit(view, lines)


def list_(ctx: Ctx, args: argparse.Namespace) -> None:
    with ctx.read() as conn:
        tenant = ctx.tenant(conn, args.tenant)
        rows = []
        for r in subscribers.listing(conn, tenant.id, status=args.status, plan_name=args.plan):
            until = paid_until(r.expires_at, tenant.timezone)
            rows.append({"username": r.username, "plan": r.plan, "status": r.status,
                         "paid_until": until.isoformat() if until else None,
                         "mac": str(r.mac).upper() if r.mac else None, "name": r.full_name})
    ctx.emit(rows, table(rows, ["username", "plan", "status", "paid_until", "mac", "name"]))


def suspend(ctx: Ctx, args: argparse.Namespace) -> None:
    with ctx.tx() as conn:
        tenant, row = _load(conn, ctx, args, lock=True)
        require(row.status != "terminated", f"{args.username} is terminated")
        after = _update(ctx, conn, tenant, row, "suspend", {"status": "suspended", "status_reason": args.reason})
        queued = coa.queue_subscriber_disconnect(conn, row.id, "suspended")
    ctx.emit({**(redact(_audited(after)) or {}), "disconnects_queued": queued},
             f"{args.username} suspended" + (f": {args.reason}" if args.reason else "")
             + (f"; Disconnect-Request queued for {queued} online session(s)" if queued else ""))


def resume(ctx: Ctx, args: argparse.Namespace) -> None:
    with ctx.tx() as conn:
        tenant, row = _load(conn, ctx, args, lock=True)
        require(row.status == "suspended", f"{args.username} is {row.status}, not suspended")
        after = _update(ctx, conn, tenant, row, "resume", {"status": "active", "status_reason": None,
                                                           "locked_until": None})
    ctx.emit(redact(_audited(after)), f"{args.username} resumed")


def set_plan(ctx: Ctx, args: argparse.Namespace) -> None:
    with ctx.tx() as conn:
        tenant, row = _load(conn, ctx, args, lock=True)
        plan = _plan(conn, tenant.id, args.plan)
        after = _update(ctx, conn, tenant, row, "set_plan", {"plan_id": plan.id})
    ctx.emit(redact(_audited(after)), f"{args.username} moved to plan {plan.name} (from the next login)")


def set_password(ctx: Ctx, args: argparse.Namespace) -> None:
    if not args.password_stdin:
        raise UsageError("the password is read from standard input: add --password-stdin")
    password = read_secret("subscriber password")
    keyring = ctx.keyring
    with ctx.tx() as conn:
        tenant, row = _load(conn, ctx, args, lock=True)
        sealed = keyring.seal_password(password, tenant.id, row.username)
        _update(ctx, conn, tenant, row, "set_password", {"password_enc": sealed, "locked_until": None})
    ctx.emit({"username": args.username, "password_changed": True}, f"password of {args.username} changed")


def renew(ctx: Ctx, args: argparse.Namespace) -> None:
    with ctx.tx() as conn:
        tenant, row = _load(conn, ctx, args, lock=True)
        tz = tenant.timezone
        today = local_date(ctx.now, tz)
        if args.until:
            new_until = args.until
        else:
            plan = plans.by_id(conn, row.plan_id) if row.plan_id is not None else None
            require(plan is not None, f"{args.username} has no plan: cloudos subscriber set-plan first")
            new_until = next_paid_until(paid_until(row.expires_at, tz), today, plan.period)  # type: ignore[union-attr]
        require(new_until >= today, f"--until {new_until} is in the past")
        after = _update(ctx, conn, tenant, row, "renew", {"expires_at": expires_at_for_date(new_until, tz)})
    ctx.emit({**(redact(_audited(after)) or {}), "paid_until": new_until.isoformat()},
             f"{args.username} paid until {new_until} (service ends at midnight, {tz})")


def register(sub: Subparsers) -> None:
    g = sub.add_parser("subscriber", help="subscribers: the people who log in")
    s = g.add_subparsers(dest="action", required=True, metavar="ACTION")

    def user(p: argparse.ArgumentParser) -> None:
        p.add_argument("username", type=username_arg, metavar="USERNAME")
        tenant_opt(p)

    p = leaf(s, "add", "add a subscriber; the password is read from standard input", add)
    user(p)
    p.add_argument("--plan", required=True, metavar="P")
    p.add_argument("--password-stdin", action="store_true", help="read the password from standard input")
    p.add_argument("--expires", type=date_arg, metavar="DATE",
                   help="last paid day, YYYY-MM-DD (service ends at the following midnight, tenant time)")
    p.add_argument("--mac", type=mac_arg, help="bind logins to this MAC (Calling-Station-Id)")
    p.add_argument("--static-ip", type=ip_arg, metavar="IP", help="Framed-IP-Address instead of the plan's pool")
    p.add_argument("--name", help="full name")
    p.add_argument("--phone")
    p.add_argument("--email")
    p.add_argument("--address", help="postal address")
    p.add_argument("--cnic-stdin", action="store_true",
                   help="read the national identity card number (stored encrypted) from standard input, "
                        "on the line after the password")
    p.add_argument("--cnic", help=argparse.SUPPRESS)  # refused: argv is visible to every local user
    p = leaf(s, "show", "show a subscriber with usage this period and online sessions", show)
    user(p)
    p = leaf(s, "list", "list subscribers", list_)
    tenant_opt(p)
    p.add_argument("--status", choices=["active", "suspended", "terminated"])
    p.add_argument("--plan", metavar="P")
    p = leaf(s, "suspend", "suspend a subscriber (logins rejected, or walled garden)", suspend)
    user(p)
    p.add_argument("--reason", help="why, for the NOC and the audit log")
    p = leaf(s, "resume", "lift a suspension", resume)
    user(p)
    p = leaf(s, "set-plan", "move a subscriber to another plan", set_plan)
    user(p)
    p.add_argument("plan", metavar="PLAN")
    p = leaf(s, "set-password", "change a subscriber's password (read from standard input)", set_password)
    user(p)
    p.add_argument("--password-stdin", action="store_true", help="read the password from standard input")
    p = leaf(s, "renew", "extend by one plan period, or to --until DATE", renew)
    user(p)
    p.add_argument("--until", type=date_arg, metavar="DATE", help="new last paid day, YYYY-MM-DD")
