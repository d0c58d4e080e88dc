"""cloudos tenant add | list | show | set"""

from __future__ import annotations

import argparse
import re
from typing import Any

from cloudos import identity, show
from cloudos.commands._common import (INT4_MAX, Subparsers, _wrap, address_list_arg, as_dict, int_arg, leaf, name_arg,
                                      name_text_arg, rate_arg, require, timezone_arg)
from cloudos.context import Ctx, table
from cloudos.files import write_new
from cloudos.errors import CliError
from cloudos.store import tenants
from rlm_cloudos.policy.billing import PROVINCE_NAMES, PROVINCES, normal_iban

_COLUMNS = ("id", "name", "display_name", "timezone", "currency", "interim_interval",
            "walled_garden_address_list", "walled_garden_rate_limit", "backend_down_policy",
            "backend_down_cache_seconds", "login_fail_limit", "login_fail_window_seconds", "login_lockout_seconds",
            "billing_cycle", "billing_day", "invoice_lead_days", "grace_days", "province", "legal_name", "ntn", "strn",
            "bank_iban", "created_at", "updated_at")


def _tax_number(text: str) -> str:
    value = text.strip()
    if not re.match(r"^[0-9A-Za-z-]{1,20}$", value):
        raise ValueError(f"invalid tax number {text!r}: up to 20 letters, digits and hyphens, e.g. 1234567-8")
    return value


iban_arg = _wrap(normal_iban, "IBAN")
tax_number_arg = _wrap(_tax_number, "tax number")

#: tenant_interim_interval_check (schema/current.sql): an interim update every 1 minute to 1 day.
_INTERIM = int_arg(60, 86400, "seconds")


def _public(row: dict[str, Any]) -> dict[str, Any]:
    """A tenant as every command gives it: ``tenant`` (its name, as in every list) and ``id`` first,
    instants in UTC (show.utc)."""
    out = {"tenant": row["name"], **{k: row[k] for k in _COLUMNS}}
    out["created_at"], out["updated_at"] = show.utc(row["created_at"]), show.utc(row["updated_at"])
    return out


def add(ctx: Ctx, args: argparse.Namespace) -> None:
    with ctx.tx() as conn:
        if tenants.exists(conn, args.name):
            raise CliError(f"tenant {args.name!r} already exists")
        row = tenants.add(conn, name=args.name, display_name=args.display_name, timezone=args.timezone,
                          interim_interval=args.interim_interval)
        after = _public(as_dict(row) or {})
        ctx.audit(conn, action="tenant.add", target=f"tenant:{args.name}", tenant_id=row.id, before=None, after=after)
    ctx.emit(after, f"tenant {args.name} added (id {row.id}, time zone {args.timezone})")


def list_(ctx: Ctx, args: argparse.Namespace) -> None:
    with ctx.read() as conn:
        found = tenants.all_by_name(conn)
    rows = [_public(dict(r._mapping)) for r in found]
    human = [dict(r, interim=r["interim_interval"], walled_garden=_garden(r), created=show.local(t.created_at, t.timezone))
             for r, t in zip(rows, found)]
    ctx.emit(rows, table(human, ["id", "name", "timezone", "interim", "walled_garden", "created"]))


def _garden(t: dict[str, Any]) -> str:
    if t["walled_garden_address_list"] is None:
        return "no (reject)"
    return f"{t['walled_garden_address_list']} at {t['walled_garden_rate_limit']}"


def show_(ctx: Ctx, args: argparse.Namespace) -> None:
    with ctx.read() as conn:
        row = tenants.by_name(conn, args.name)
        if row is None:
            raise CliError(f"no tenant named {args.name!r}")
        data = {**_public(dict(row._mapping)), **tenants.counts(conn, row.id)}
    tz = row.timezone
    ctx.emit(data, [
        f"tenant {row.name} (id {row.id})" + (f": {row.display_name}" if row.display_name else ""),
        f"  time zone        {tz} (now {show.local(ctx.now, tz)})",
        f"  currency         {row.currency}",
        f"  interim interval {row.interim_interval} s",
        f"  walled garden    {_garden(data)}",
        f"  backend down     {row.backend_down_policy}"
        + (f" (snapshots up to {row.backend_down_cache_seconds} s old)" if row.backend_down_policy == "cached" else ""),
        f"  login lockout    {row.login_fail_limit} wrong passwords in {row.login_fail_window_seconds} s "
        f"lock a username out for {row.login_lockout_seconds} s",
        f"  billing          {_billing(row)}",
        f"  invoices as      {row.legal_name or '(no legal name: cloudos tenant set --legal-name)'}"
        + (f", NTN {row.ntn}" if row.ntn else "") + (f", STRN {row.strn}" if row.strn else "")
        + (f", {PROVINCE_NAMES[row.province]}" if row.province else ""),
        f"  payments to      {row.bank_iban or '(no bank IBAN: cloudos tenant set --bank-iban)'}",
        f"  NAS {data['nas']}, plans {data['plans']}, subscribers {data['subscribers']}, "
        f"online sessions {data['online_sessions']}",
        f"  added            {show.local(row.created_at, tz)}",
    ])


def _billing(row: Any) -> str:
    cycle = ("each subscriber on their own paid-until day" if row.billing_cycle == "anniversary"
             else f"everyone on day {row.billing_day} of the month")
    return (f"{row.billing_cycle}: {cycle}; invoices {row.invoice_lead_days} days ahead, "
            f"{row.grace_days} grace days before suspension")


def set_(ctx: Ctx, args: argparse.Namespace) -> None:
    changes: dict[str, Any] = {}
    if args.timezone:
        changes["timezone"] = args.timezone
    if args.display_name is not None:
        changes["display_name"] = args.display_name
    if args.interim_interval:
        changes["interim_interval"] = args.interim_interval
    if args.backend_down:
        changes["backend_down_policy"] = args.backend_down
    for opt, col in (("backend_down_cache_seconds", "backend_down_cache_seconds"),
                     ("login_fail_limit", "login_fail_limit"),
                     ("login_fail_window", "login_fail_window_seconds"),
                     ("login_lockout", "login_lockout_seconds"),
                     ("billing_cycle", "billing_cycle"), ("billing_day", "billing_day"),
                     ("invoice_lead_days", "invoice_lead_days"), ("grace_days", "grace_days"),
                     ("province", "province"), ("legal_name", "legal_name"), ("ntn", "ntn"), ("strn", "strn"),
                     ("bank_iban", "bank_iban")):
        if getattr(args, opt) is not None:
            changes[col] = getattr(args, opt)
    if args.no_walled_garden:
        require(not (args.walled_garden_list or args.walled_garden_rate),
                "--no-walled-garden cannot be combined with --walled-garden-list/--walled-garden-rate")
        changes["walled_garden_address_list"] = None
        changes["walled_garden_rate_limit"] = None
    elif args.walled_garden_list or args.walled_garden_rate:
        require(bool(args.walled_garden_list and args.walled_garden_rate),
                "a walled garden needs both --walled-garden-list and --walled-garden-rate")
        changes["walled_garden_address_list"] = args.walled_garden_list
        changes["walled_garden_rate_limit"] = args.walled_garden_rate
    require(bool(changes), "nothing to change: give at least one option (see --help)")
    with ctx.tx() as conn:
        before = as_dict(tenants.by_name(conn, args.name, lock=True))
        if before is None:
            raise CliError(f"no tenant named {args.name!r}")
        row = tenants.change(conn, before["id"], changes)
        after = _public(dict(row._mapping))
        ctx.audit(conn, action="tenant.set", target=f"tenant:{args.name}", tenant_id=before["id"],
                  before=_public(before), after=after)
    ctx.emit(after, f"tenant {args.name} updated: " + ", ".join(f"{k}={'none' if v is None else v}"
                                                                for k, v in changes.items()))


def export(ctx: Ctx, args: argparse.Namespace) -> None:
    """A tenant's configuration, subscriber base (CNICs decrypted) and billing records in one file,
    written 0600 to a new path and audited with its digest. Session history and the auth log are
    logs, kept and dropped by retention, and not in it."""
    import hashlib

    from cloudos.bulk import export as fmt
    from cloudos.store import export as gather

    keyring = ctx.keyring
    with ctx.tx() as conn:
        row = ctx.tenant(conn, args.name)  # the rest of the transaction sees this tenant's rows only
        found = gather.tenant_sections(conn, row)
        blobs = [s.pop("cnic_enc") for s in found["subscribers"]]
        opened = iter(identity.open_cnics(conn, keyring, [b for b in blobs if b is not None]))
        for s, blob in zip(found["subscribers"], blobs):
            s["cnic"] = None if blob is None else next(opened) or "(undecryptable)"
        doc = fmt.tenant_document({"tenant": row.name, "exported_at": ctx.now}, found)
        columns = {**gather.TENANT_COLUMNS,
                   "subscribers": [c for c in gather.TENANT_COLUMNS["subscribers"] if c != "cnic_enc"] + ["cnic"]}
        data = fmt.to_json(doc) if args.format == "json" else fmt.tenant_zip(doc, columns)
        write_new(args.out, data, what="export")
        digest = hashlib.sha256(data).hexdigest()
        counts = {name: len(rows) for name, rows in found.items()}
        ctx.audit(conn, action="tenant.export", target=f"tenant:{row.name}", tenant_id=row.id, before=None,
                  after={"format": args.format, "sha256": digest, "bytes": len(data), "rows": counts})
    ctx.emit({"tenant": row.name, "format": args.format, "out": args.out, "bytes": len(data), "sha256": digest,
              "rows": counts},
             f"tenant {row.name} written to {args.out} ({args.format}, {len(data)} bytes, mode 0600): "
             + ", ".join(f"{n} {name}" for name, n in counts.items() if n))


def register(sub: Subparsers) -> None:
    g = sub.add_parser("tenant", help="ISPs served by this installation")
    s = g.add_subparsers(dest="action", required=True, metavar="ACTION")
    p = leaf(s, "add", "add a tenant (an ISP)", add)
    p.add_argument("name", type=name_arg, metavar="NAME")
    p.add_argument("--timezone", type=timezone_arg, default="Asia/Karachi", help="billing time zone (Asia/Karachi)")
    p.add_argument("--display-name", help="the ISP's name as customers know it")
    p.add_argument("--interim-interval", type=_INTERIM, default=300, metavar="SECONDS",
                   help="Acct-Interim-Interval, 60 to 86400 seconds (300)")
    leaf(s, "list", "list tenants", list_)
    p = leaf(s, "show", "show a tenant's settings and how many NAS, plans, subscribers and sessions it has", show_)
    p.add_argument("name", type=name_arg, metavar="NAME")
    p = leaf(s, "export", "a tenant's configuration, subscribers and billing records, as JSON or a zip of CSVs", export)
    p.add_argument("name", type=name_arg, metavar="NAME")
    p.add_argument("--format", required=True, choices=["json", "csv"], help="json: one document; csv: a zip of "
                   "CSV files with a README of their columns")
    p.add_argument("--out", required=True, metavar="PATH", help="a new file (never overwritten), written 0600")
    p = leaf(s, "set", "change a tenant's settings", set_)
    p.add_argument("name", type=name_arg, metavar="NAME")
    p.add_argument("--timezone", type=timezone_arg)
    p.add_argument("--display-name")
    p.add_argument("--interim-interval", type=_INTERIM, metavar="SECONDS",
                   help="Acct-Interim-Interval, 60 to 86400 seconds")
    p.add_argument("--walled-garden-list", type=address_list_arg, metavar="ADDRESS_LIST",
                   help="accept expired/suspended subscribers into this RouterOS address list")
    p.add_argument("--walled-garden-rate", type=rate_arg, metavar="RATE", help="their rate limit, e.g. 256k/256k")
    p.add_argument("--no-walled-garden", action="store_true", help="reject expired/suspended subscribers")
    p.add_argument("--backend-down", choices=["reject", "cached"],
                   help="authorize while PostgreSQL is unreachable: reject, or decide from a recent Redis snapshot")
    p.add_argument("--backend-down-cache-seconds", type=int_arg(0, INT4_MAX, "seconds"), metavar="N",
                   help="oldest snapshot --backend-down cached may use (900)")
    p.add_argument("--login-fail-limit", type=int_arg(1, INT4_MAX), metavar="N",
                   help="wrong passwords within the window that lock a username out (5)")
    p.add_argument("--login-fail-window", type=int_arg(1, INT4_MAX, "seconds"), metavar="SECONDS", help="the counting window (300)")
    p.add_argument("--login-lockout", type=int_arg(1, INT4_MAX, "seconds"), metavar="SECONDS", help="how long a lockout lasts (900)")
    p.add_argument("--billing-cycle", choices=["anniversary", "calendar"],
                   help="anniversary: each subscriber renews on their paid-until day; calendar: everyone on the "
                        "billing day, mid-cycle joiners prorated by the day")
    p.add_argument("--billing-day", type=int_arg(1, 28), metavar="DAY", help="the calendar cycle's day, 1 to 28 (1)")
    p.add_argument("--invoice-lead-days", type=int_arg(0, 60, "days"), metavar="N",
                   help="issue the next invoice N days before paid-until (5)")
    p.add_argument("--grace-days", type=int_arg(0, 60, "days"), metavar="N",
                   help="service continues N days past paid-until while the invoice is unpaid, then suspension (3)")
    p.add_argument("--province", choices=PROVINCES, help="where service is provided, for sales tax")
    p.add_argument("--legal-name", type=name_text_arg, metavar="TEXT", help="the ISP's registered name, on invoices")
    p.add_argument("--ntn", type=tax_number_arg, metavar="TEXT", help="National Tax Number, on invoices")
    p.add_argument("--strn", type=tax_number_arg, metavar="TEXT", help="sales tax registration number, on invoices")
    p.add_argument("--bank-iban", type=iban_arg, metavar="IBAN",
                   help="the account payments go to, checked by its ISO 13616 check digits")
