"""cloudos privacy request add/list/close | privacy holiday add/list/remove: data requests and their deadlines.

A request is answered within 14 business days counted from the day after its receipt
(rlm_cloudos.policy.privacy); Saturdays, Sundays and the tenant's listed holidays do not count.
The deadline is computed when listed, so a holiday added later moves it. Every change writes
its audit row in the same transaction.
"""

from __future__ import annotations

import argparse
from datetime import date
from typing import Any

from cloudos.commands._common import (Subparsers, _wrap, date_arg, int_arg, leaf, printable, require, tenant_opt,
                                      username_arg)
from cloudos.context import Ctx, table
from cloudos.errors import CliError
from cloudos.store import privacy as store
from cloudos.store import subscribers
from rlm_cloudos.policy.paid import local_date
from rlm_cloudos.policy.privacy import RequestKind, business_days_left, deadline


note_arg = _wrap(printable(500), "text")
holiday_name_arg = _wrap(printable(100), "name")


def _left(n: int) -> str:
    if n == 0:
        return "due today"
    if n > 0:
        return f"{n} business day{'s' if n != 1 else ''} left"
    return f"{-n} business day{'s' if n != -1 else ''} late"


def _view(r: Any, holidays: set[date], today: date, tenant: str) -> dict[str, Any]:
    due = deadline(r.received_on, holidays)
    return {"id": r.id, "tenant": tenant, "username": r.username, "kind": r.kind, "received_on": r.received_on,
            "due_on": due, "status": "open" if r.closed_at is None else "closed",
            "business_days_left": business_days_left(today, due, holidays) if r.closed_at is None else None,
            "note": r.note, "created_by": r.created_by, "closed_at": r.closed_at, "closed_by": r.closed_by,
            "outcome": r.outcome}


def request_add(ctx: Ctx, args: argparse.Namespace) -> None:
    with ctx.tx() as conn:
        tenant = ctx.tenant(conn, args.tenant)
        today = local_date(ctx.now, tenant.timezone)
        require(args.received <= today, f"--received {args.received} is after today ({today}, tenant time)")
        sub = subscribers.by_username(conn, tenant.id, args.username)
        if sub is None:
            raise CliError(f"no subscriber {args.username!r} in tenant {tenant.name}")
        row = store.add_request(conn, tenant.id, sub.id, kind=args.kind, received_on=args.received, note=args.note,
                                actor=ctx.actor)
        holidays = {h.day for h in store.holidays(conn, tenant.id)}
        view = _view(store.request_by_id(conn, tenant.id, row.id), holidays, today, tenant.name)
        ctx.audit(conn, action="privacy.request", target=f"privacy:{tenant.name}/{row.id}", tenant_id=tenant.id,
                  before=None, after={"username": args.username, "kind": args.kind, "received_on": args.received,
                                      "due_on": view["due_on"]})
    ctx.emit(view, f"request {row.id} ({args.kind}) for {args.username} received {args.received}: "
                   f"answer by {view['due_on']} ({_left(view['business_days_left'])})")


def request_list(ctx: Ctx, args: argparse.Namespace) -> None:
    with ctx.read() as conn:
        tenant = ctx.tenant(conn, args.tenant)
        today = local_date(ctx.now, tenant.timezone)
        holidays = {h.day for h in store.holidays(conn, tenant.id)}
        views = [_view(r, holidays, today, tenant.name) for r in store.requests(conn, tenant.id, open_only=args.due)]
    if args.due:
        views.sort(key=lambda v: (v["due_on"], v["id"]))
    human = [dict(v, user=v["username"], received=v["received_on"], due=v["due_on"],
                  left=_left(v["business_days_left"]) if v["status"] == "open" else f"closed {v['outcome']}")
             for v in views]
    ctx.emit(views, table(human, ["id", "user", "kind", "received", "due", "left"]))


def request_close(ctx: Ctx, args: argparse.Namespace) -> None:
    with ctx.tx() as conn:
        tenant = ctx.tenant(conn, args.tenant)
        row = store.request_by_id(conn, tenant.id, args.id, lock=True)
        if row is None:
            raise CliError(f"no data request {args.id} in tenant {tenant.name}")
        if row.closed_at is not None:
            ctx.emit({"id": row.id, "changed": False, "note": "closed already"},
                     f"request {row.id} was closed already ({row.outcome}): nothing changed")
            return
        store.close(conn, row.id, outcome=args.outcome, actor=ctx.actor, now=ctx.now)
        today = local_date(ctx.now, tenant.timezone)
        holidays = {h.day for h in store.holidays(conn, tenant.id)}
        due = deadline(row.received_on, holidays)
        ctx.audit(conn, action="privacy.close", target=f"privacy:{tenant.name}/{row.id}", tenant_id=tenant.id,
                  before={"status": "open"}, after={"status": "closed", "outcome": args.outcome,
                                                    "on_time": today <= due})
    ctx.emit({"id": row.id, "changed": True, "outcome": args.outcome, "due_on": due, "on_time": today <= due},
             f"request {row.id} closed: {args.outcome}" + ("" if today <= due else f" (after its deadline, {due})"))


def holiday_add(ctx: Ctx, args: argparse.Namespace) -> None:
    with ctx.tx() as conn:
        tenant = ctx.tenant(conn, args.tenant)
        added = store.add_holiday(conn, tenant.id, args.day, args.name)
        if added:
            ctx.audit(conn, action="privacy.holiday_add", target=f"holiday:{tenant.name}/{args.day}",
                      tenant_id=tenant.id, before=None, after={"day": args.day, "name": args.name})
    ctx.emit({"day": args.day, "name": args.name, "changed": added},
             f"{args.day} ({args.name}) " + ("added: not a business day" if added else "is listed already"))


def holiday_list(ctx: Ctx, args: argparse.Namespace) -> None:
    with ctx.read() as conn:
        tenant = ctx.tenant(conn, args.tenant)
        rows = [{"tenant": tenant.name, "day": h.day, "name": h.name} for h in store.holidays(conn, tenant.id)]
    ctx.emit(rows, table(rows, ["day", "name"]))


def holiday_remove(ctx: Ctx, args: argparse.Namespace) -> None:
    with ctx.tx() as conn:
        tenant = ctx.tenant(conn, args.tenant)
        gone = store.remove_holiday(conn, tenant.id, args.day)
        if gone:
            ctx.audit(conn, action="privacy.holiday_remove", target=f"holiday:{tenant.name}/{args.day}",
                      tenant_id=tenant.id, before={"day": args.day}, after=None)
    ctx.emit({"day": args.day, "changed": gone}, f"{args.day} " + ("removed" if gone else "was not listed"))


def register(sub: Subparsers) -> None:
    g = sub.add_parser("privacy", help="data requests under the privacy policy and their deadlines")
    groups = g.add_subparsers(dest="group", required=True, metavar="GROUP")
    r = groups.add_parser("request", help="a subscriber's request: access, rectify, erase, object, withdraw")
    s = r.add_subparsers(dest="action", required=True, metavar="ACTION")
    p = leaf(s, "add", "record a request; its deadline is 14 business days from the day after receipt", request_add)
    p.add_argument("username", type=username_arg, metavar="USERNAME")
    tenant_opt(p)
    p.add_argument("--kind", required=True, choices=[k.value for k in RequestKind])
    p.add_argument("--received", required=True, type=date_arg, metavar="YYYY-MM-DD", help="the day it was received")
    p.add_argument("--note", type=note_arg, metavar="TEXT", help="how and where it was made")
    p = leaf(s, "list", "requests with their deadlines", request_list)
    tenant_opt(p)
    p.add_argument("--due", action="store_true", help="open requests only, the nearest deadline first")
    p = leaf(s, "close", "close a request, saying how it was answered", request_close)
    p.add_argument("id", type=int_arg(1, 2**63 - 1), metavar="ID")
    tenant_opt(p)
    p.add_argument("--outcome", required=True, type=note_arg, metavar="TEXT", help="how it was answered")
    h = groups.add_parser("holiday", help="public holidays: not business days for the deadlines")
    s = h.add_subparsers(dest="action", required=True, metavar="ACTION")
    p = leaf(s, "add", "list a public holiday", holiday_add)
    p.add_argument("day", type=date_arg, metavar="YYYY-MM-DD")
    p.add_argument("--name", required=True, type=holiday_name_arg, metavar="NAME", help="e.g. Quaid-e-Azam Day")
    tenant_opt(p)
    p = leaf(s, "list", "the listed holidays", holiday_list)
    tenant_opt(p)
    p = leaf(s, "remove", "unlist a holiday", holiday_remove)
    p.add_argument("day", type=date_arg, metavar="YYYY-MM-DD")
    tenant_opt(p)
