"""cloudos subscriber import FILE [--format cloudos|daloradius|usermanager] [--plan P] [--dry-run | --commit]

A dry run (the default) reads and checks every row and changes nothing; --commit adds every
subscriber of the file in one transaction, or none: one refused row and nothing is written.
Each subscriber gets the audit row `subscriber add` writes, and the import one more
(subscriber.import: the counts and the file's SHA-256). The formats are cloudos.bulk.formats',
the rules cloudos.bulk.rows'.
"""

from __future__ import annotations

import argparse
import hashlib
import os
import sys
from typing import Any

import psycopg

from sqlalchemy import Connection
from sqlalchemy.engine import Row as DbRow
from sqlalchemy.exc import IntegrityError

from cloudos import audit, identity
from cloudos.bulk import formats, rows
from cloudos.commands._common import Subparsers, leaf, tenant_opt
from cloudos.commands.subscriber import _audited
from cloudos.context import Ctx
from cloudos.errors import CliError, UsageError
from cloudos.store import bulk
from rlm_cloudos.policy import expires_at_for_date
from rlm_cloudos.policy.paid import local_date


def _read(path: str) -> bytes:
    """The file's bytes (``-``: standard input's); CliError when it cannot be read or is larger than
    formats.MAX_BYTES."""
    if path == "-":
        if sys.stdin is None or sys.stdin.isatty():
            raise UsageError("FILE is -, but standard input is a terminal or closed: pipe the file in")
        data = sys.stdin.buffer.read(formats.MAX_BYTES + 1)
        if len(data) > formats.MAX_BYTES:
            raise CliError(f"standard input: more than {formats.MAX_BYTES:,} bytes (50 MB): split the file")
        return data
    try:
        with open(path, "rb") as f:
            size = os.fstat(f.fileno()).st_size
            if size > formats.MAX_BYTES:
                raise CliError(f"{path}: the file is {size:,} bytes: at most {formats.MAX_BYTES:,} (50 MB) are "
                               "imported at once (split it)")
            return f.read(formats.MAX_BYTES + 1)
    except OSError as exc:
        raise CliError(f"{path}: {exc.strerror}") from None


def _known(ctx: Ctx, conn: Connection, tenant: DbRow[Any]) -> rows.Known:
    usernames, static_ips, macs = bulk.holders(conn, tenant.id)
    return rows.Known(plans=bulk.plan_ids(conn, tenant.id), usernames=usernames, static_ips=static_ips, macs=macs,
                      today=local_date(ctx.now, tenant.timezone))


def _write(ctx: Ctx, conn: Connection, tenant: DbRow[Any], good: tuple[rows.Row, ...]) -> int:
    """Seal, insert and audit the good rows, as `subscriber add` would one by one; how many were added."""
    keyring = ctx.keyring
    tz = tenant.timezone
    values = [{
        "username": r.username, "password_enc": keyring.seal_password(r.password, tenant.id, r.username),
        "plan_id": r.plan_id, "status": r.status, "status_reason": r.status_reason,
        "expires_at": expires_at_for_date(r.expires, tz) if r.expires else None,
        "mac": r.mac, "static_ip": r.static_ip, "full_name": r.name, "phone": r.phone, "email": r.email,
        "postal_address": r.address, "cnic_enc": None,
    } for r in good]
    added = bulk.insert_subscribers(conn, tenant.id, values)
    # CNICs under each subscriber's own data key, which needs its id: sealed once the rows exist.
    cnics = {r.username: r.cnic for r in good if r.cnic}
    with_cnic = [row for row in added if row["username"] in cnics]
    sealed = identity.seal_cnics(conn, keyring, [(tenant.id, row["id"], cnics[row["username"]]) for row in with_cnic])
    bulk.set_cnics(conn, [(row["id"], blob) for row, blob in zip(with_cnic, sealed)])
    for row, blob in zip(with_cnic, sealed):
        row["cnic_enc"] = blob
    audit.record_many(conn, ctx.audit_keys(conn), actor=ctx.actor, entries=[
        audit.Entry(tenant.id, "subscriber.add", f"subscriber:{tenant.name}/{row['username']}", None,
                    _audited(row)) for row in added])
    return len(added)


def _finding(f: rows.Finding) -> dict[str, Any]:
    return {"line": f.line, "username": f.username, "message": f.message}


def import_(ctx: Ctx, args: argparse.Namespace) -> None:
    data = _read(args.file)
    digest = hashlib.sha256(data).hexdigest()
    try:
        parsed = formats.parse(data, args.format)
    except formats.FileError as exc:
        raise CliError(f"{args.file}: {exc}") from None
    if not parsed.candidates:
        raise CliError(f"{args.file}: no subscriber rows")
    imported = 0
    try:
        with (ctx.tx() if args.commit else ctx.read()) as conn:
            tenant = ctx.tenant(conn, args.tenant)
            checked = rows.check(parsed.candidates, _known(ctx, conn, tenant), default_plan=args.plan)
            if args.commit and not checked.refused:
                imported = _write(ctx, conn, tenant, checked.good)
                ctx.audit(conn, action="subscriber.import", target=f"subscriber:{tenant.name}", tenant_id=tenant.id,
                          before=None, after={"file": "-" if args.file == "-" else os.path.basename(args.file),
                                              "sha256": digest,
                                              "format": parsed.format, "rows": checked.rows, "imported": imported,
                                              "warnings": len(checked.warnings)})
                # Once for the tenant, not once per subscriber: no authorize snapshot of it outlives the import.
                ctx.stale(tenant.id)
    except (IntegrityError, psycopg.errors.IntegrityError):
        raise CliError("a subscriber with one of these usernames or static IPs was added while the import ran: "
                       "nothing imported (run it again)") from None
    no_expiry = sum(1 for r in checked.good if r.expires is None)
    mode = "import" if args.commit else "dry run"
    summary = (f"{mode} of {args.file} ({parsed.format} format, sha256 {digest[:12]}…) into tenant {tenant.name}: "
               f"{checked.rows:,} rows, {len(checked.good):,} good, {len(checked.refused):,} refused, "
               f"{len(checked.warnings):,} warnings, {no_expiry:,} without expiry")
    if checked.refused:
        outcome = "nothing written: fix the refused rows and run it again"
    elif args.commit:
        outcome = f"{imported:,} subscribers added in one transaction"
    else:
        outcome = "nothing written: run it again with --commit to add them"
    lines = [f"line {f.line}: refused {f.username!r}: {f.message}" for f in checked.refused]
    lines += [f"line {f.line}: warning {f.username!r}: {f.message}" for f in checked.warnings]
    ctx.emit({"file": args.file, "format": parsed.format, "sha256": digest, "tenant": tenant.name,
              "dry_run": not args.commit, "rows": checked.rows, "good": len(checked.good),
              "refused": [_finding(f) for f in checked.refused], "warnings": [_finding(f) for f in checked.warnings],
              "without_expiry": no_expiry, "imported": imported},
             [*lines, f"{summary}; {outcome}"])
    if checked.refused:
        raise CliError(f"{len(checked.refused):,} of {checked.rows:,} rows refused: nothing imported")


def register(s: Subparsers) -> None:
    """`subscriber import`, under the `subscriber` group's subparsers ``s``."""
    p = leaf(s, "import", "add subscribers from a CSV file or an export of daloRADIUS or MikroTik User Manager: "
                          "a dry run unless --commit, all or nothing", import_)
    p.add_argument("file", metavar="FILE",
                   help="the file to import, - for standard input (UTF-8; at most 50 MB and 100,000 rows)")
    tenant_opt(p)
    p.add_argument("--format", choices=formats.FORMATS, default="cloudos",
                   help="cloudos: CSV with a header of username,password,plan,expires,mac,static_ip,name,phone,"
                        "email,address,cnic (default); daloradius: daloRADIUS's user CSV export; usermanager: "
                        "RouterOS 7 /user-manager export show-sensitive")
    p.add_argument("--plan", metavar="P", help="the plan of rows that name none (daloRADIUS exports never do)")
    mode = p.add_mutually_exclusive_group()
    mode.add_argument("--dry-run", action="store_true", help="check every row and change nothing (the default)")
    mode.add_argument("--commit", action="store_true", help="add every subscriber in one transaction, or none")
