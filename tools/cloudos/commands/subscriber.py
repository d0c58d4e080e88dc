"""cloudos subscriber add | show | list | set | suspend | resume | terminate | unlock | set-plan | set-password | renew

Repeats are no-ops that say so (exit 0): suspending a suspended subscriber keeps the first
reason, resuming an active one changes nothing. suspend, resume and renew take ``--from-file``
(one username per line) and then change every one in a single transaction, or none.
"""

from __future__ import annotations

import argparse
import contextlib
import csv
import io
import secrets
import sys
from collections.abc import Callable
from datetime import datetime
from typing import Any

from sqlalchemy import Connection
from sqlalchemy.engine import Row

from cloudos import identity
from cloudos import show as when
from cloudos.commands._common import (Subparsers, _wrap, address_text_arg, check_password, date_arg, email_arg, leaf,
                                      mac_arg, name_text_arg, new_username_arg, phone_arg, printable, require,
                                      static_ip_arg, tenant_opt, username_arg)
from cloudos.audit import redact
from cloudos.context import Ctx, read_secret, table
from cloudos.files import write_new
from cloudos.errors import CliError, UsageError
from cloudos.store import billing, coa, consent, data_keys, plans, sessions, subscribers, usage
from rlm_cloudos.errors import DecryptError
from rlm_cloudos.policy import billing_period, expires_at_for_date
from rlm_cloudos.policy.billing import PROVINCES
from rlm_cloudos.policy.paid import local_date, next_paid_until, paid_until
from rlm_cloudos.policy.rates import format_size, usage_size

_AUDITED = ("id", "username", "plan_id", "status", "status_reason", "expires_at", "mac", "static_ip", "full_name",
            "phone", "email", "postal_address", "password_enc", "cnic_enc", "locked_until", "terminated_at",
            "province", "tax_exempt_until", "erased_at")
#: The statuses a list shows and filters on: ``expired`` is an active subscriber past paid-until.
STATUSES = ("active", "expired", "suspended", "terminated")
#: Most usernames --from-file takes at once, and the largest file it reads.
FROM_FILE_MAX = 100_000
FROM_FILE_BYTES = 10 * 10**6


def _audited(row: dict[str, Any] | None) -> dict[str, Any] | None:
    return None if row is None else {k: (str(row[k]) if k in ("mac", "static_ip") and row[k] is not None else row[k])
                                     for k in _AUDITED}


def status_of(row: Any, now: datetime) -> str:
    """active, expired (active but past its paid-until), suspended or terminated."""
    if row.status == "active" and row.expires_at is not None and now >= row.expires_at:
        return "expired"
    return str(row.status)


def _target(tenant: Row[Any], username: str) -> str:
    return f"subscriber:{tenant.name}/{username}"


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
            changes: dict[str, Any], *, stale: bool = True) -> dict[str, Any]:
    row = subscribers.change(conn, before.id, changes)
    after = dict(row._mapping)
    ctx.audit(conn, action=f"subscriber.{action}", target=_target(tenant, before.username),
              tenant_id=tenant.id, before=_audited(dict(before._mapping)), after=_audited(after))
    if stale:
        ctx.stale(tenant.id, before.username)
    return after


def _check_identity(conn: Connection, tenant: Row[Any], *, username: str | None, static_ip: str | None,
                    mac: str | None, self_id: int | None = None) -> None:
    """Refuse a username another subscriber has in another case and a static IP another has; warn
    (stderr) when the MAC is bound to another subscriber of the tenant."""
    if username is not None:
        other = subscribers.by_folded_username(conn, tenant.id, username)
        if other is not None:
            raise CliError(f"subscriber {other.username!r} already exists in tenant {tenant.name}"
                           + ("" if other.username == username else " (usernames are unique whatever their case)"))
    if static_ip is not None:
        holder = subscribers.holding_static_ip(conn, tenant.id, static_ip)
        if holder is not None and holder.id != self_id:
            raise CliError(f"static IP {static_ip} is already given to {holder.username} in tenant {tenant.name}")
    if mac is not None:
        bound = [r.username for r in subscribers.bound_to_mac(conn, tenant.id, mac) if r.id != self_id]
        if bound:
            shown = ", ".join(bound[:5]) + (f" and {len(bound) - 5} more" if len(bound) > 5 else "")
            print(f"cloudos: warning: MAC {mac} is also bound to {shown}: only one of them can log in "
                  "from that device", file=sys.stderr)


def add(ctx: Ctx, args: argparse.Namespace) -> None:
    if not args.password_stdin:
        raise UsageError("the password is read from standard input: add --password-stdin")
    if args.cnic is not None:
        raise UsageError("--cnic VALUE would show the CNIC to every local user (ps, /proc): "
                         "use --cnic-stdin (the line after the password)")
    password = check_password(read_secret("subscriber password"))
    cnic = read_secret("CNIC") if args.cnic_stdin else None
    keyring = ctx.keyring
    with ctx.tx() as conn:
        tenant = ctx.tenant(conn, args.tenant)
        plan = _plan(conn, tenant.id, args.plan)
        _check_identity(conn, tenant, username=args.username, static_ip=args.static_ip, mac=args.mac)
        values = {
            "tenant_id": tenant.id, "username": args.username, "plan_id": plan.id,
            "password_enc": keyring.seal_password(password, tenant.id, args.username),
            "expires_at": expires_at_for_date(args.expires, tenant.timezone) if args.expires else None,
            "mac": args.mac, "static_ip": args.static_ip, "full_name": args.name, "phone": args.phone,
            "email": args.email, "postal_address": args.address,
        }
        row = subscribers.add(conn, values)
        if cnic:  # under the subscriber's own data key, which needs its id
            row = subscribers.change(conn, row.id, {"cnic_enc": identity.seal_cnic(conn, keyring, tenant.id, row.id,
                                                                                   cnic)})
        ctx.audit(conn, action="subscriber.add", target=_target(tenant, args.username),
                  tenant_id=tenant.id, before=None, after=_audited(dict(row._mapping)))
    until = paid_until(row.expires_at, tenant.timezone)
    ctx.emit({"id": row.id, "tenant": tenant.name, "username": args.username, "plan": plan.name,
              "paid_until": until.isoformat() if until else None, "expires_at": when.utc(row.expires_at)},
             f"subscriber {args.username} added to tenant {tenant.name} on plan {plan.name}"
             + (f", paid until {until} (service ends {when.local(row.expires_at, tenant.timezone)})"
                if until else ", no expiry"))


def _cnic_masked(ctx: Ctx, conn: Connection, blob: bytes | None) -> str | None:
    """The CNIC with all but its last digit hidden; ``masked`` for a login whose role may not read it."""
    if not subscribers.cnic_readable(conn):
        return "masked"
    if blob is None:
        return None
    try:
        cnic = identity.open_cnic(conn, ctx.keyring, blob)
    except DecryptError:
        return "(undecryptable)"
    return "*" * max(0, len(cnic) - 1) + cnic[-1:]


def _view(ctx: Ctx, conn: Connection, tenant: Row[Any], row: Row[Any]) -> dict[str, Any]:
    plan = plans.by_id(conn, row.plan_id) if row.plan_id else None
    start, end = billing_period(plan.period if plan else None, tenant.timezone, row.expires_at, ctx.now)
    counter = usage.of_period(conn, row.id, start)
    online = sessions.open_of_subscriber(conn, row.id)
    until = paid_until(row.expires_at, tenant.timezone)
    down, up = (counter.output_octets, counter.input_octets) if counter else (0, 0)
    locked = row.locked_until if row.locked_until is not None and row.locked_until > ctx.now else None
    return {
        "id": row.id,
        "tenant": tenant.name,
        "username": row.username,
        "status": status_of(row, ctx.now),
        "status_reason": row.status_reason,
        "plan": plan.name if plan else None,
        "rate_limit": plan.rate_limit if plan else None,
        "paid_until": until.isoformat() if until else None,
        "expires_at": when.utc(row.expires_at),
        "locked_until": when.utc(locked),
        "mac": str(row.mac).upper() if row.mac else None,
        "static_ip": str(row.static_ip) if row.static_ip else None,
        "name": row.full_name,
        "phone": row.phone,
        "email": row.email,
        "address": row.postal_address,
        "cnic": _cnic_masked(ctx, conn, row.cnic_enc),
        "province": row.province or tenant.province,
        "province_own": row.province is not None,
        "tax_exempt_until": row.tax_exempt_until.isoformat() if row.tax_exempt_until else None,
        "balance_paisa": billing.balance(conn, tenant.id, row.id),
        "consent": {purpose: None if c is None else {"granted": c.granted, "at": when.utc(c.at), "source": c.source}
                    for purpose, c in consent.current(conn, row.id).items()},
        "usage": {
            "period": when.period_name(start, end, tenant.timezone),
            "period_start": when.utc(start),
            "period_end": when.utc(end),
            "download_bytes": down,
            "upload_bytes": up,
            "total_bytes": down + up,
            "quota_bytes": plan.quota_bytes if plan else None,
            "session_seconds": counter.session_time if counter else 0,
        },
        "online_sessions": len(online),
        "sessions": [
            {"id": s.acct_unique_id, "acct_session_id": s.acct_session_id, "nas": s.nas,
             "started_at": when.utc(s.started_at),
             "updated_at": when.utc(s.updated_at), "framed_ip": s.framed_ip,
             "mac": s.calling_station_id, "download_bytes": s.output_octets, "upload_bytes": s.input_octets}
            for s in online
        ],
        "created_at": when.utc(row.created_at),
        "terminated_at": when.utc(row.terminated_at),
    }


def _balance(paisa: int, username: str) -> str:
    return (f"{when.rupees(paisa)} owed" if paisa > 0 else f"{when.rupees(-paisa)} credit" if paisa < 0
            else "zero") + f" (cloudos ledger {username})"


def show(ctx: Ctx, args: argparse.Namespace) -> None:
    with ctx.read() as conn:
        tenant, row = _load(conn, ctx, args)
        view = _view(ctx, conn, tenant, row)
        online = sessions.open_of_subscriber(conn, row.id)
    tz = tenant.timezone
    u = view["usage"]
    quota = f" of {format_size(u['quota_bytes'])}" if u["quota_bytes"] else ""
    status = view["status"] + (f" ({view['status_reason']})" if view["status_reason"] else "")
    if row.terminated_at is not None:
        status += f" since {when.local(row.terminated_at, tz)}"
    lines = [
        f"{view['username']} ({view['tenant']})",
        f"  status      {status}",
    ]
    if view["locked_until"]:
        lines.append(f"  locked out  until {when.local(row.locked_until, tz)} (too many wrong passwords): "
                     f"cloudos subscriber unlock {row.username}")
    lines += [
        f"  plan        {view['plan']} ({view['rate_limit']})",
        f"  paid until  {view['paid_until'] or 'no expiry'}"
        + (f" (service ends {when.local(row.expires_at, tz)})" if row.expires_at else ""),
        f"  mac         {view['mac'] or '(not bound)'}",
        f"  static ip   {view['static_ip'] or '(pool)'}",
        f"  name        {view['name'] or ''}",
        f"  phone       {view['phone'] or ''}",
        f"  email       {view['email'] or ''}",
        f"  address     {view['address'] or ''}",
        f"  cnic        {view['cnic'] or ''}",
        f"  usage       {usage_size(u['total_bytes'])}{quota} in {u['period']} "
        f"(down {usage_size(u['download_bytes'])}, up {usage_size(u['upload_bytes'])})",
        f"  online      {view['online_sessions']} session(s)",
        f"  balance     {_balance(view['balance_paisa'], row.username)}",
        "  consent     " + "; ".join(f"{p} {_consent_text(c)}" for p, c in view["consent"].items()),
        f"  province    {view['province'] or '(none set)'}" + ("" if view["province_own"] else " (the tenant's)")
        + (f"; exempt from advance income tax until {view['tax_exempt_until']}" if view["tax_exempt_until"] else ""),
    ]
    lines += [f"    {s.acct_session_id} on {s.nas or '(removed NAS)'} since {when.local(s.started_at, tz)} "
              f"ip {s.framed_ip or '-'} mac {s.calling_station_id or '-'}" for s in online]
    lines.append(f"  created     {when.local(row.created_at, tz)}")
    ctx.emit(view, [line.rstrip() for line in lines])


_CSV_COLUMNS = ("id", "tenant", "username", "status", "status_reason", "plan", "paid_until", "mac", "static_ip",
                "name", "phone", "email")


def _csv_cell(value: Any) -> str:
    """A cell a spreadsheet shows as text: one starting = + - @ (or a tab or CR) would be read as a
    formula (CSV injection), so it gets a leading apostrophe."""
    text = "" if value is None else str(value)
    return "'" + text if text[:1] in ("=", "+", "-", "@", "\t", "\r") else text


def list_(ctx: Ctx, args: argparse.Namespace) -> None:
    with ctx.read() as conn:
        tenant = ctx.tenant(conn, args.tenant)
        rows = []
        for r in subscribers.listing(conn, tenant.id, status=args.status, plan_name=args.plan, now=ctx.now):
            until = paid_until(r.expires_at, tenant.timezone)
            rows.append({"id": r.id, "tenant": tenant.name, "username": r.username, "status": status_of(r, ctx.now),
                         "status_reason": r.status_reason, "plan": r.plan,
                         "paid_until": until.isoformat() if until else None,
                         "mac": str(r.mac).upper() if r.mac else None,
                         "static_ip": str(r.static_ip) if r.static_ip else None, "name": r.full_name,
                         "phone": r.phone, "email": r.email})
    if args.format == "csv":
        out = io.StringIO()
        w = csv.writer(out, lineterminator="\r\n")
        w.writerow(_CSV_COLUMNS)
        w.writerows([_csv_cell(r[c]) for c in _CSV_COLUMNS] for r in rows)
        sys.stdout.write(out.getvalue())
        return
    ctx.emit(rows, table(rows, ["username", "plan", "status", "paid_until", "mac", "name"]))


def set_(ctx: Ctx, args: argparse.Namespace) -> None:
    changes: dict[str, Any] = {}
    for opt, col in (("mac", "mac"), ("static_ip", "static_ip"), ("name", "full_name"), ("phone", "phone"),
                     ("email", "email"), ("address", "postal_address")):
        if getattr(args, opt) is not None:
            changes[col] = getattr(args, opt)
    for opt, col in (("province", "province"), ("tax_exempt_until", "tax_exempt_until")):
        if getattr(args, opt, None) is not None:
            changes[col] = getattr(args, opt)
    for opt, col in (("no_mac", "mac"), ("no_static_ip", "static_ip"), ("no_province", "province"),
                     ("no_tax_exemption", "tax_exempt_until")):
        if getattr(args, opt, False):
            require(col not in changes, f"--{opt.replace('_', '-')} contradicts --{col.replace('_', '-')}")
            changes[col] = None
    if args.cnic is not None:
        raise UsageError("--cnic VALUE would show the CNIC to every local user (ps, /proc): use --cnic-stdin")
    cnic = read_secret("CNIC") if args.cnic_stdin else None
    require(bool(changes) or cnic is not None, "nothing to change: give at least one option (see --help)")
    with ctx.tx() as conn:
        tenant, row = _load(conn, ctx, args, lock=True)
        require(row.status != "terminated", f"{args.username} is terminated: its details are kept as they were")
        if cnic is not None:
            changes["cnic_enc"] = identity.seal_cnic(conn, ctx.keyring, tenant.id, row.id, cnic)
        _check_identity(conn, tenant, username=None, static_ip=changes.get("static_ip"), mac=changes.get("mac"),
                        self_id=row.id)
        after = _update(ctx, conn, tenant, row, "set", changes)
    shown = sorted("cnic" if c == "cnic_enc" else c for c in changes)
    ctx.emit(redact(_audited(after)), f"{args.username} updated: {', '.join(shown)} (from the next login)")


#: One subscriber's change inside _apply: returns a note for a no-op, None for a change.
Change = Callable[[Connection, Row[Any], Row[Any], bool], str | None]


def _apply(ctx: Ctx, args: argparse.Namespace, one: Change) -> tuple[list[str], list[str]]:
    """Run ``one(conn, tenant, row, bulk)`` for USERNAME or for each username of --from-file, all in one
    transaction (an error in one changes none); returns the usernames changed and the notes of no-ops."""
    names = _names(args)
    bulk = args.from_file is not None
    changed: list[str] = []
    notes: list[str] = []
    with ctx.tx() as conn:
        tenant = ctx.tenant(conn, args.tenant)
        rows = subscribers.by_usernames(conn, tenant.id, names, lock=True)
        missing = [n for n in names if n not in rows]
        if missing:
            shown = ", ".join(missing[:10]) + (f" and {len(missing) - 10} more" if len(missing) > 10 else "")
            raise CliError(f"no subscriber {shown} in tenant {tenant.name}" + ("; nothing was changed" if bulk else ""))
        with ctx.batched_audit(conn) if bulk else contextlib.nullcontext():
            for name in names:
                note = one(conn, tenant, rows[name], bulk)
                (notes if note else changed).append(note or name)
        if bulk and changed:
            ctx.stale(tenant.id)  # one version bump for the tenant, not a Redis call per subscriber
    return changed, notes


def _summary(ctx: Ctx, action: str, changed: list[str], notes: list[str], extra: dict[str, Any]) -> None:
    """What --from-file did: counts, and each no-op's note."""
    ctx.emit({"action": action, "changed": len(changed), "unchanged": len(notes), "notes": notes, **extra},
             [f"{action}: {len(changed)} changed, {len(notes)} unchanged"
              + "".join(f", {v} {k.replace('_', ' ')}" for k, v in extra.items() if v)]
             + [f"  {n}" for n in notes])


def _noop(ctx: Ctx, username: str, note: str) -> None:
    ctx.emit({"username": username, "changed": False, "note": note}, note)


def _names(args: argparse.Namespace) -> list[str]:
    if args.from_file is None:
        require(args.username is not None, "give USERNAME or --from-file FILE")
        return [args.username]
    require(args.username is None, "give USERNAME or --from-file FILE, not both")
    try:
        if args.from_file == "-":
            text = sys.stdin.read(FROM_FILE_BYTES + 1)
        else:
            with open(args.from_file, encoding="utf-8-sig") as f:
                text = f.read(FROM_FILE_BYTES + 1)
    except (OSError, UnicodeDecodeError) as exc:
        raise UsageError(f"cannot read {args.from_file}: {exc}") from None
    require(len(text) <= FROM_FILE_BYTES, f"{args.from_file} is larger than {FROM_FILE_BYTES // 10**6} MB")
    names: list[str] = []
    seen: set[str] = set()
    for n, line in enumerate(text.splitlines(), 1):
        name = line.split(",", 1)[0].strip()
        if not name or name.startswith("#") or (n == 1 and name.lower() == "username"):
            continue
        try:
            username_arg(name)
        except argparse.ArgumentTypeError as exc:
            raise UsageError(f"{args.from_file} line {n}: {exc}") from None
        if name not in seen:
            seen.add(name)
            names.append(name)
    require(bool(names), f"{args.from_file} names no subscriber")
    require(len(names) <= FROM_FILE_MAX, f"{args.from_file} names {len(names)} subscribers: at most {FROM_FILE_MAX}")
    return names


def _refuse_terminated(row: Row[Any], bulk: bool) -> None:
    if row.status == "terminated":
        raise CliError(f"{row.username} is terminated" + ("; nothing was changed" if bulk else ""))


def suspend(ctx: Ctx, args: argparse.Namespace) -> None:
    queued = 0

    def one(conn: Connection, tenant: Row[Any], row: Row[Any], bulk: bool) -> str | None:
        nonlocal queued
        _refuse_terminated(row, bulk)
        if row.status == "suspended":
            return f"{row.username} is already suspended" + (f" ({row.status_reason})" if row.status_reason else "")
        _update(ctx, conn, tenant, row, "suspend", {"status": "suspended", "status_reason": args.reason},
                stale=not bulk)
        queued += coa.queue_subscriber_disconnect(conn, row.id, "suspended")
        return None

    changed, notes = _apply(ctx, args, one)
    if args.from_file is not None:
        _summary(ctx, "suspend", changed, notes, {"disconnects_queued": queued})
    elif notes:
        _noop(ctx, args.username, notes[0])
    else:
        ctx.emit({"username": args.username, "status": "suspended", "status_reason": args.reason,
                  "disconnects_queued": queued},
                 f"{args.username} suspended" + (f": {args.reason}" if args.reason else "")
                 + (f"; Disconnect-Request queued for {queued} online session(s)" if queued else ""))


def resume(ctx: Ctx, args: argparse.Namespace) -> None:
    cancelled = 0

    def one(conn: Connection, tenant: Row[Any], row: Row[Any], bulk: bool) -> str | None:
        nonlocal cancelled
        _refuse_terminated(row, bulk)
        if row.status == "active":
            return f"{row.username} is not suspended: nothing to resume"
        _update(ctx, conn, tenant, row, "resume", {"status": "active", "status_reason": None, "locked_until": None},
                stale=not bulk)
        cancelled += coa.cancel_subscriber_disconnects(conn, row.id, "subscriber resumed")
        coa.release_walled_garden(conn, row.id, ctx.now, "resumed")
        return None

    changed, notes = _apply(ctx, args, one)
    if args.from_file is not None:
        _summary(ctx, "resume", changed, notes, {"disconnects_cancelled": cancelled})
    elif notes:
        _noop(ctx, args.username, notes[0])
    else:
        ctx.emit({"username": args.username, "status": "active", "disconnects_cancelled": cancelled},
                 f"{args.username} resumed"
                 + (f"; {cancelled} queued Disconnect-Request(s) cancelled" if cancelled else ""))


def renew(ctx: Ctx, args: argparse.Namespace) -> None:
    renewed: dict[str, datetime] = {}
    periods: dict[int | None, str | None] = {}  # plan id → its period, read once per plan
    zone = ""

    def one(conn: Connection, tenant: Row[Any], row: Row[Any], bulk: bool) -> str | None:
        nonlocal zone
        zone = tz = tenant.timezone
        today = local_date(ctx.now, tz)
        _refuse_terminated(row, bulk)
        if args.until:
            new_until = args.until
        else:
            if row.plan_id not in periods:
                plan = plans.by_id(conn, row.plan_id) if row.plan_id is not None else None
                periods[row.plan_id] = plan.period if plan is not None else None
            period = periods[row.plan_id]
            if period is None:
                raise CliError(f"{row.username} has no plan: cloudos subscriber set-plan first"
                               + ("; nothing was changed" if bulk else ""))
            new_until = next_paid_until(paid_until(row.expires_at, tz), today, period)
        require(new_until >= today, f"--until {new_until} is in the past")
        renewed[row.username] = expires_at_for_date(new_until, tz)
        _update(ctx, conn, tenant, row, "renew", {"expires_at": renewed[row.username], "locked_until": None},
                stale=not bulk)
        return None

    changed, notes = _apply(ctx, args, one)
    if args.from_file is not None:
        _summary(ctx, "renew", changed, notes, {})
        return
    ends = renewed[args.username]
    until = paid_until(ends, zone)
    ctx.emit({"username": args.username, "paid_until": until.isoformat() if until else None,
              "expires_at": when.utc(ends)},
             f"{args.username} paid until {until} (service ends {when.local(ends, zone)})")


def terminate(ctx: Ctx, args: argparse.Namespace) -> None:
    with ctx.tx() as conn:
        tenant, row = _load(conn, ctx, args, lock=True)
        if row.status == "terminated":
            _noop(ctx, args.username, f"{args.username} is already terminated "
                                      f"(since {when.local(row.terminated_at, tenant.timezone)})")
            return
        after = _update(ctx, conn, tenant, row, "terminate",
                        {"status": "terminated", "status_reason": args.reason, "terminated_at": ctx.now})
        queued = coa.queue_subscriber_disconnect(conn, row.id, "terminated")
    ctx.emit({**(redact(_audited(after)) or {}), "terminated_at": when.utc(ctx.now), "disconnects_queued": queued},
             f"{args.username} terminated: service ended, data kept for the retention periods"
             + (f"; Disconnect-Request queued for {queued} online session(s)" if queued else ""))


def _consent_text(c: dict[str, Any] | None) -> str:
    return "not asked (no)" if c is None else f"{'yes' if c['granted'] else 'no'} since {c['at']} ({c['source']})"


def consent_(ctx: Ctx, args: argparse.Namespace) -> None:
    """Record the subscriber's yes or no to marketing and/or analytics, with where it was said."""
    given = {p: getattr(args, p) for p in consent.PURPOSES if getattr(args, p) is not None}
    require(bool(given), "give --marketing yes|no and/or --analytics yes|no")
    with ctx.tx() as conn:
        tenant, row = _load(conn, ctx, args, lock=True)
        require(row.status != "terminated", f"{args.username} is terminated: nothing is sent to it any more")
        before = {p: (None if c is None else c.granted) for p, c in consent.current(conn, row.id).items()}
        for purpose, answer in given.items():
            consent.record(conn, tenant.id, row.id, purpose, answer == "yes", args.source)
        after = {**before, **{p: a == "yes" for p, a in given.items()}}
        ctx.audit(conn, action="subscriber.consent", target=_target(tenant, row.username), tenant_id=tenant.id,
                  before=before, after={**after, "source": args.source})
    ctx.emit({"username": args.username, "consent": after, "source": args.source},
             f"{args.username}: " + ", ".join(f"{p} {a}" for p, a in given.items()) + f" (source: {args.source})")


def erase(ctx: Ctx, args: argparse.Namespace) -> None:
    """The right to deletion: service ends, open sessions are disconnected, personal data goes now where
    no law needs it, and the subscriber's data key is destroyed, so no copy of its CNIC (a backup
    included) opens again. Billing records stay, with the name and address tax law needs, until
    retention's 5 years after termination; the username becomes ``erased-<id>``, which no NAS sends."""
    if not args.confirm:
        raise UsageError("erasure cannot be undone: add --confirm")
    with ctx.tx() as conn:
        tenant, row = _load(conn, ctx, args, lock=True)
        alias = f"erased-{row.id}"
        billed = billing.has_records(conn, row.id)
        queued = coa.queue_subscriber_disconnect(conn, row.id, "terminated")
        changes: dict[str, Any] = {
            "username": alias, "status": "terminated", "status_reason": "erased",
            # A password nobody knows, sealed to the new name: the column holds no clue to the old one.
            "password_enc": ctx.keyring.seal_password(secrets.token_urlsafe(32), tenant.id, alias),
            "terminated_at": row.terminated_at or ctx.now, "erased_at": ctx.now, "phone": None, "email": None,
            "cnic_enc": None, "mac": None, "static_ip": None, "locked_until": None,
        }
        if not billed:
            changes.update(full_name=None, postal_address=None)
        _update(ctx, conn, tenant, row, "erase", changes)
        invoices = billing.erase_identity(conn, row.id, alias) if billed else 0
        dropped, scrubbed = billing.erase_notifications(conn, row.id)
        shredded = data_keys.destroy(conn, row.id)
    kept = "name and address kept on its billing records for retention" if billed else "no billing record kept"
    ctx.emit({"username": args.username, "erased_as": alias, "disconnects_queued": queued,
              "data_key_destroyed": shredded, "invoices_scrubbed": invoices, "notifications_deleted": dropped,
              "notifications_scrubbed": scrubbed, "billing_identity_kept": billed},
             f"{args.username} erased (now {alias}): service ended, personal data removed, data key destroyed; "
             f"{kept}" + (f"; Disconnect-Request queued for {queued} online session(s)" if queued else ""))


def unlock(ctx: Ctx, args: argparse.Namespace) -> None:
    with ctx.tx() as conn:
        tenant, row = _load(conn, ctx, args, lock=True)
        locked = row.locked_until is not None and row.locked_until > ctx.now
        # Also when not locked: the wrong-password count in Redis starts again.
        _update(ctx, conn, tenant, row, "unlock", {"locked_until": None})
    ctx.emit({"username": args.username, "was_locked": locked},
             f"{args.username} unlocked" if locked else
             f"{args.username} was not locked out; its count of wrong passwords starts again")


def set_plan(ctx: Ctx, args: argparse.Namespace) -> None:
    prorated: dict[str, Any] | None = None
    with ctx.tx() as conn:
        tenant, row = _load(conn, ctx, args, lock=True)
        plan = _plan(conn, tenant.id, args.plan)
        if args.prorate:
            from cloudos.commands.billing import prorate_plan_change

            require(row.plan_id != plan.id, f"{args.username} is on plan {plan.name} already: nothing to prorate")
            old = plans.by_id(conn, row.plan_id)
            require(old is not None, f"{args.username} has no plan: nothing to prorate")
        after = _update(ctx, conn, tenant, row, "set_plan", {"plan_id": plan.id, "locked_until": None})
        if args.prorate:
            moved = subscribers.by_username(conn, tenant.id, row.username)
            assert moved is not None and old is not None
            prorated = prorate_plan_change(ctx, conn, tenant, moved, old, plan)
    data = redact(_audited(after)) or {}
    if prorated is None:
        ctx.emit(data, f"{args.username} moved to plan {plan.name} (from the next login)")
        return
    ctx.emit({**data, "prorated": prorated},
             f"{args.username} moved to plan {plan.name} (from the next login): credit note {prorated['credit_note']} "
             f"for {when.rupees(prorated['credit_paisa'])}, invoice {prorated['invoice']} for "
             f"{when.rupees(prorated['invoice_paisa'])}"
             + (", paid from the credit" if prorated["paid"] else "")
             + (f"; voided {', '.join(prorated['voided'])}" if prorated["voided"] else "")
             + (f"; balance {when.rupees(prorated['balance_paisa'])} owed" if prorated["balance_paisa"] > 0 else
                f"; {when.rupees(-prorated['balance_paisa'])} held as credit" if prorated["balance_paisa"] < 0
                else "; balance zero"))


def export(ctx: Ctx, args: argparse.Namespace) -> None:
    """Everything held about the subscriber in one file (JSON, or a zip of CSVs with a README),
    written 0600 to a new path, and audited with its digest."""
    import hashlib

    from cloudos.bulk import export as fmt
    from cloudos.store import export as gather

    with ctx.tx() as conn:
        tenant, row = _load(conn, ctx, args)
        plan = plans.by_id(conn, row.plan_id) if row.plan_id else None
        profile = {k: v for k, v in row._mapping.items() if k not in ("password_enc", "cnic_enc")}
        profile["plan"] = plan.name if plan else None
        until = paid_until(row.expires_at, tenant.timezone)
        profile["paid_until"] = until.isoformat() if until else None
        profile["cnic"] = None
        if row.cnic_enc is not None:
            try:
                profile["cnic"] = identity.open_cnic(conn, ctx.keyring, row.cnic_enc)
            except DecryptError:
                profile["cnic"] = "(undecryptable)"
        found = gather.sections(conn, tenant, row)
        doc = fmt.document({"tenant": tenant.name, "username": row.username, "exported_at": ctx.now}, profile, found)
        data = fmt.to_json(doc) if args.format == "json" else fmt.to_zip(doc, {"profile": list(profile),
                                                                               **gather.COLUMNS})
        write_new(args.out, data, what="export")
        digest = hashlib.sha256(data).hexdigest()
        counts = {name: len(rows) for name, rows in found.items()}
        ctx.audit(conn, action="subscriber.export", target=_target(tenant, row.username), tenant_id=tenant.id,
                  before=None, after={"format": args.format, "sha256": digest, "bytes": len(data), "rows": counts})
    ctx.emit({"username": row.username, "format": args.format, "out": args.out, "bytes": len(data),
              "sha256": digest, "rows": counts},
             f"{row.username}'s data written to {args.out} ({args.format}, {len(data)} bytes, mode 0600): "
             + ", ".join(f"{n} {name}" for name, n in counts.items() if n))


def set_password(ctx: Ctx, args: argparse.Namespace) -> None:
    if not args.password_stdin:
        raise UsageError("the password is read from standard input: add --password-stdin")
    password = check_password(read_secret("subscriber password"))
    keyring = ctx.keyring
    with ctx.tx() as conn:
        tenant, row = _load(conn, ctx, args, lock=True)
        sealed = keyring.seal_password(password, tenant.id, row.username)
        _update(ctx, conn, tenant, row, "set_password", {"password_enc": sealed, "locked_until": None})
    ctx.emit({"username": args.username, "password_changed": True}, f"password of {args.username} changed")


def register(sub: Subparsers) -> None:
    g = sub.add_parser("subscriber", help="subscribers: the people who log in")
    s = g.add_subparsers(dest="action", required=True, metavar="ACTION")

    def user(p: argparse.ArgumentParser) -> None:
        p.add_argument("username", type=username_arg, metavar="USERNAME")
        tenant_opt(p)

    def users(p: argparse.ArgumentParser) -> None:
        p.add_argument("username", type=username_arg, metavar="USERNAME", nargs="?")
        p.add_argument("--from-file", metavar="FILE",
                       help="every username in FILE (one per line, or a CSV's first column; - for standard input), "
                            "in one transaction: all change or none")
        tenant_opt(p)

    def details(p: argparse.ArgumentParser) -> None:
        p.add_argument("--mac", type=mac_arg, help="bind logins to this MAC (Calling-Station-Id)")
        p.add_argument("--static-ip", type=static_ip_arg, metavar="IPV4",
                       help="Framed-IP-Address instead of the plan's pool: one IPv4 address, unique in the tenant")
        p.add_argument("--name", type=name_text_arg, help="full name")
        p.add_argument("--phone", type=phone_arg, help="mobile number, e.g. 03001234567 (stored as +923001234567)")
        p.add_argument("--email", type=email_arg)
        p.add_argument("--address", type=address_text_arg, help="postal address")
        p.add_argument("--cnic-stdin", action="store_true",
                       help="read the national identity card number (stored encrypted) from standard input"
                            + (", on the line after the password" if p.prog.endswith(" add") else ""))
        p.add_argument("--cnic", help=argparse.SUPPRESS)  # refused: argv is visible to every local user

    p = leaf(s, "add", "add a subscriber; the password is read from standard input", add)
    p.add_argument("username", type=new_username_arg, metavar="USERNAME",
                   help="1 to 64 letters, digits and . _ - @ +; unique in the tenant whatever its case")
    tenant_opt(p)
    p.add_argument("--plan", required=True, metavar="P")
    p.add_argument("--password-stdin", action="store_true",
                   help="read the password (6 to 128 characters) from standard input")
    p.add_argument("--expires", type=date_arg, metavar="DATE",
                   help="last paid day, YYYY-MM-DD (service ends at the following midnight, tenant time)")
    details(p)
    p = leaf(s, "show", "show a subscriber with usage this period, lockout and online sessions", show)
    user(p)
    p = leaf(s, "list", "list subscribers", list_)
    tenant_opt(p)
    p.add_argument("--status", choices=STATUSES, help="expired: active but past the paid-until day")
    p.add_argument("--plan", metavar="P")
    p.add_argument("--format", choices=["table", "csv"], default="table",
                   help="csv: every column, for a spreadsheet (cells that would be formulas start with ')")
    p = leaf(s, "set", "change a subscriber's MAC, static IP or contact details", set_)
    user(p)
    details(p)
    p.add_argument("--no-mac", action="store_true", help="unbind the MAC (any device may log in)")
    p.add_argument("--no-static-ip", action="store_true", help="take the address from the plan's pool again")
    p.add_argument("--province", choices=PROVINCES,
                   help="where the service is provided, for sales tax (default: the tenant's province)")
    p.add_argument("--no-province", action="store_true", help="use the tenant's province again")
    p.add_argument("--tax-exempt-until", type=date_arg, metavar="DATE",
                   help="no advance income tax (s.236) on invoices issued through DATE: an exemption certificate")
    p.add_argument("--no-tax-exemption", action="store_true", help="end the exemption")
    p = leaf(s, "suspend", "suspend (logins rejected, or walled garden; online sessions disconnected)", suspend)
    users(p)
    p.add_argument("--reason", help="why, for the NOC and the audit log")
    p = leaf(s, "resume", "lift a suspension; queued Disconnect-Requests are cancelled", resume)
    users(p)
    p = leaf(s, "terminate", "end the service for good: sessions disconnected, data kept for retention", terminate)
    user(p)
    p.add_argument("--reason", help="why, for the NOC and the audit log")
    p = leaf(s, "consent", "record a subscriber's yes or no to marketing and to analytics, with its source",
             consent_)
    user(p)
    p.add_argument("--marketing", choices=("yes", "no"), help="messages beyond the service's own (offers, news)")
    p.add_argument("--analytics", choices=("yes", "no"), help="use of the subscriber's data to study usage")
    p.add_argument("--source", required=True, type=_wrap(printable(200), "source"), metavar="TEXT",
                   help="where and how it was said, e.g. 'signed form at the Gulberg office' or 'call, ticket 42'")
    p = leaf(s, "erase", "the right to deletion: end the service, remove personal data, destroy the data key",
             erase)
    user(p)
    p.add_argument("--confirm", action="store_true", help="required: erasure cannot be undone")
    p = leaf(s, "unlock", "lift a lockout after too many wrong passwords", unlock)
    user(p)
    p = leaf(s, "set-plan", "move a subscriber to another plan", set_plan)
    user(p)
    p.add_argument("plan", metavar="PLAN")
    p.add_argument("--prorate", action="store_true",
                   help="credit the unused days of the paid period and charge them at the new plan's price "
                        "(a credit note and an invoice)")
    p = leaf(s, "export", "everything held about a subscriber, as JSON or a zip of CSV files (privacy: access)", export)
    user(p)
    p.add_argument("--format", required=True, choices=["json", "csv"], help="json: one document; csv: a zip of "
                   "CSV files with a README of their columns")
    p.add_argument("--out", required=True, metavar="PATH", help="a new file (never overwritten), written 0600")
    p = leaf(s, "set-password", "change a subscriber's password (read from standard input)", set_password)
    user(p)
    p.add_argument("--password-stdin", action="store_true", help="read the password from standard input")
    p = leaf(s, "renew", "extend by one plan period, or to --until DATE", renew)
    users(p)
    p.add_argument("--until", type=date_arg, metavar="DATE", help="new last paid day, YYYY-MM-DD")
    from cloudos.commands import subscriber_import  # here: it imports this module's _audited
    subscriber_import.register(s)
