"""cloudos plan add | list | show | update | remove"""

from __future__ import annotations

import argparse
from typing import Any

from cloudos import show
from cloudos.commands._common import (Subparsers, address_list_arg, as_dict, int_arg, leaf, period_arg, pool_arg,
                                      price_arg, rate_arg, require, size_arg, tenant_opt)
from cloudos.context import Ctx, table
from cloudos.errors import CliError
from cloudos.store import plans
from rlm_cloudos.policy.rates import format_size

_PUBLIC = ("id", "name", "rate_limit", "quota_bytes", "fup_rate_limit", "period", "price", "simultaneous_use",
           "address_list", "ip_pool", "active", "created_at", "updated_at")
#: CLI option → column, for the options add and update share.
_FIELDS = {"rate_limit": "rate_limit", "quota": "quota_bytes", "fup_rate_limit": "fup_rate_limit",
           "period": "period", "price": "price", "simultaneous_use": "simultaneous_use",
           "address_list": "address_list", "ip_pool": "ip_pool"}


def _public(row: dict[str, Any], tenant: str) -> dict[str, Any]:
    out = {"tenant": tenant, **{k: row[k] for k in _PUBLIC}}
    out["price"] = None if row["price"] is None else str(row["price"])
    out["created_at"], out["updated_at"] = show.utc(row["created_at"]), show.utc(row["updated_at"])
    if "subscribers" in row:
        out["subscribers"] = int(row["subscribers"])
    return out


def _quota(row: dict[str, Any]) -> str:
    return f"{format_size(row['quota_bytes'])}/{row['period']}" if row["quota_bytes"] else ""


def _plan_name(text_: str) -> str:
    if not 1 <= len(text_) <= 64 or any(ord(c) < 0x20 for c in text_):
        raise argparse.ArgumentTypeError(f"invalid plan name {text_!r}: 1 to 64 printable characters")
    return text_


def _check_fup(values: dict[str, Any]) -> None:
    if values.get("fup_rate_limit") and not values.get("quota_bytes"):
        raise CliError("a FUP rate limit applies once a quota is used up: give --quota as well")


def add(ctx: Ctx, args: argparse.Namespace) -> None:
    values = {col: getattr(args, opt) for opt, col in _FIELDS.items()}
    _check_fup(values)
    with ctx.tx() as conn:
        tenant = ctx.tenant(conn, args.tenant)
        if plans.exists(conn, tenant.id, args.name):
            raise CliError(f"plan {args.name!r} already exists in tenant {tenant.name}")
        row = plans.add(conn, tenant.id, args.name, values)
        after = _public(dict(row._mapping), tenant.name)
        ctx.audit(conn, action="plan.add", target=f"plan:{tenant.name}/{args.name}", tenant_id=tenant.id,
                  before=None, after=after)
    quota = f", quota {_quota(after)}" if row.quota_bytes else ""
    ctx.emit(after, f"plan {args.name} added to tenant {tenant.name}: rate {row.rate_limit}{quota}")


def list_(ctx: Ctx, args: argparse.Namespace) -> None:
    with ctx.read() as conn:
        tenant_id = ctx.tenant(conn, args.tenant).id if args.tenant else None
        rows = [_public(dict(r._mapping), r.tenant) for r in plans.listing(conn, tenant_id)]
    human = [dict(r, quota=_quota(r), rate=r["rate_limit"], fup_rate=r["fup_rate_limit"], sessions=r["simultaneous_use"])
             for r in rows]
    ctx.emit(rows, table(human, ["id", "tenant", "name", "rate", "quota", "fup_rate", "price", "sessions",
                                 "subscribers"]))


def show_(ctx: Ctx, args: argparse.Namespace) -> None:
    with ctx.read() as conn:
        tenant = ctx.tenant(conn, args.tenant)
        row = plans.by_name(conn, tenant.id, args.name)
        if row is None:
            raise CliError(f"no plan named {args.name!r} in tenant {tenant.name}")
        on_it = plans.subscribers_on(conn, row.id)
    data = {**_public(dict(row._mapping), tenant.name), "subscribers": sum(on_it.values())}
    tz = tenant.timezone
    ctx.emit(data, [
        f"plan {row.name} (id {row.id}, tenant {tenant.name})" + ("" if row.active else " [inactive]"),
        f"  rate limit       {row.rate_limit}",
        f"  quota            {_quota(data) or 'none'}" + (f", then {row.fup_rate_limit}" if row.fup_rate_limit else ""),
        f"  price            {data['price'] or ''} {tenant.currency}".rstrip(),
        f"  sessions at once {row.simultaneous_use}",
        f"  address list     {row.address_list or 'none'}",
        f"  IP pool          {row.ip_pool or 'none (the NAS decides)'}",
        f"  subscribers      {_by_status(on_it)}",
        f"  added            {show.local(row.created_at, tz)}",
        f"  changed          {show.local(row.updated_at, tz)}",
    ])


def _by_status(on_it: dict[str, int]) -> str:
    total = sum(on_it.values())
    return f"{total}" + (f" ({', '.join(f'{n} {s}' for s, n in on_it.items())})" if total else "")


def remove(ctx: Ctx, args: argparse.Namespace) -> None:
    with ctx.tx() as conn:
        tenant = ctx.tenant(conn, args.tenant)
        row = plans.by_name(conn, tenant.id, args.name, lock=True)
        if row is None:
            raise CliError(f"no plan named {args.name!r} in tenant {tenant.name}")
        on_it = plans.subscribers_on(conn, row.id)
        if on_it:
            detail = ", ".join(f"{n} {status}" for status, n in on_it.items())
            raise CliError(f"plan {args.name} has {sum(on_it.values())} subscriber(s) on it ({detail}): move them "
                           "to another plan first (cloudos subscriber set-plan USER PLAN)")
        plans.remove(conn, row.id)
        before = _public(dict(row._mapping), tenant.name)
        ctx.audit(conn, action="plan.remove", target=f"plan:{tenant.name}/{args.name}", tenant_id=tenant.id,
                  before=before, after=None)
    ctx.emit(before, f"plan {args.name} removed from tenant {tenant.name}")


def update(ctx: Ctx, args: argparse.Namespace) -> None:
    changes = {col: getattr(args, opt) for opt, col in _FIELDS.items() if getattr(args, opt) is not None}
    if args.new_name:
        changes["name"] = args.new_name
    if args.no_quota:
        require(args.quota is None, "--no-quota contradicts --quota")
        changes["quota_bytes"] = None
    if args.no_fup:
        require(args.fup_rate_limit is None, "--no-fup contradicts --fup-rate-limit")
        changes["fup_rate_limit"] = None
    require(bool(changes), "nothing to change: give at least one option (see --help)")
    with ctx.tx() as conn:
        tenant = ctx.tenant(conn, args.tenant)
        before = as_dict(plans.by_name(conn, tenant.id, args.name, lock=True))
        if before is None:
            raise CliError(f"no plan named {args.name!r} in tenant {tenant.name}")
        _check_fup({**before, **changes})
        if args.new_name and args.new_name != args.name and plans.exists(conn, tenant.id, args.new_name):
            raise CliError(f"plan {args.new_name!r} already exists in tenant {tenant.name}")
        row = plans.change(conn, before["id"], changes)
        after = _public(dict(row._mapping), tenant.name)
        ctx.audit(conn, action="plan.update", target=f"plan:{tenant.name}/{args.name}", tenant_id=tenant.id,
                  before=_public(before, tenant.name), after=after)
    said = [f"{k}={'none' if v is None else format_size(v) if k == 'quota_bytes' else v}" for k, v in changes.items()]
    ctx.emit(after, f"plan {args.name} updated: " + ", ".join(said))


def _plan_options(p: argparse.ArgumentParser, *, required_rate: bool) -> None:
    p.add_argument("--rate-limit", type=rate_arg, required=required_rate, metavar="RATE",
                   help="RouterOS rate limit, rx/tx = upload/download: '2M/8M' is 8M down, 2M up; units k, M, G "
                        "(bits/s), at most 100G")
    p.add_argument("--quota", type=size_arg, metavar="SIZE", help="data quota per period, up to 1000TB: bytes or e.g. 50GB, 1.5GiB; K, M, G and T "
                        "are SI as RouterOS writes them (50G = 50GB = 50×10⁹ bytes)")
    p.add_argument("--fup-rate-limit", type=rate_arg, metavar="RATE", help="rate once the quota is used up")
    p.add_argument("--period", type=period_arg, help="billing period: monthly or Nd (e.g. 30d)")
    p.add_argument("--price", type=price_arg, metavar="AMOUNT", help="price per period in the tenant's currency")
    p.add_argument("--simultaneous-use", type=int_arg(1, 1000), metavar="N",
                   help="sessions allowed at once, 1 to 1000")
    p.add_argument("--address-list", type=address_list_arg, metavar="NAME",
                   help="RouterOS address list for subscribers on this plan (Mikrotik-Address-List, 247 bytes)")
    p.add_argument("--ip-pool", type=pool_arg, metavar="NAME", help="RouterOS IP pool (Framed-Pool, 253 bytes)")


def register(sub: Subparsers) -> None:
    g = sub.add_parser("plan", help="service plans: speed, quota, price")
    s = g.add_subparsers(dest="action", required=True, metavar="ACTION")
    p = leaf(s, "add", "add a plan", add)
    p.add_argument("name", type=_plan_name, metavar="NAME")
    tenant_opt(p)
    _plan_options(p, required_rate=True)
    p.set_defaults(period="monthly", simultaneous_use=1)
    p = leaf(s, "list", "list plans", list_)
    tenant_opt(p)
    p = leaf(s, "show", "show a plan and how many subscribers are on it", show_)
    p.add_argument("name", type=_plan_name, metavar="NAME")
    tenant_opt(p)
    p = leaf(s, "remove", "remove a plan (refused while any subscriber is on it)", remove)
    p.add_argument("name", type=_plan_name, metavar="NAME")
    tenant_opt(p)
    p = leaf(s, "update", "change a plan (takes effect at each subscriber's next login)", update)
    p.add_argument("name", type=_plan_name, metavar="NAME")
    tenant_opt(p)
    _plan_options(p, required_rate=False)
    p.add_argument("--rename", dest="new_name", type=_plan_name, metavar="NEW_NAME")
    p.add_argument("--no-quota", action="store_true", help="remove the quota")
    p.add_argument("--no-fup", action="store_true", help="remove the FUP rate")
