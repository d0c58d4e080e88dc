"""cloudos nas add | list | show | set | remove"""

from __future__ import annotations

import argparse
import ipaddress
import os
from typing import Any

from sqlalchemy.exc import IntegrityError

from cloudos import show
from cloudos.commands._common import Subparsers, leaf, name_arg, network_arg, port_arg, tenant_opt
from cloudos.context import Ctx, read_secret, table
from cloudos.errors import CliError, UsageError
from cloudos.store import coa as coa_store
from cloudos.store import nas as nas_store
from rlm_cloudos import coa
from rlm_cloudos.errors import DecryptError
from rlm_cloudos.policy.clients import WIDEST_IPV4, WIDEST_IPV6, nas_address_problem, parse_networks

_PUBLIC = ("id", "name", "address", "coa_port", "nas_type", "description", "created_at", "updated_at")
#: How long `nas remove --force` waits for the NAS to answer its Disconnect-Requests, and how often
#: it sends each (the same packet again: RFC 5176 section 2.3, a retransmission is the same request).
FORCE_TIMEOUT = 2.0
FORCE_TRIES = 2
#: Disconnect-Requests `nas remove --force` has in flight at once.
FORCE_BATCH = 200


def address_text(value: Any) -> str:
    """A NAS's address as the operator wrote it: ``10.20.0.1`` for a host, ``10.0.0.0/24`` for a
    network (the cidr column gives an IPv4Network; its str, never its repr)."""
    net = ipaddress.ip_network(str(value), strict=False)
    return str(net.network_address) if net.prefixlen == net.max_prefixlen else str(net)


def _public(row: dict[str, Any], tenant: str) -> dict[str, Any]:
    out: dict[str, Any] = {"tenant": tenant, **{k: row.get(k) for k in _PUBLIC}}
    out["address"] = address_text(row["address"])
    out["created_at"], out["updated_at"] = show.utc(row["created_at"]), show.utc(row["updated_at"])
    if "online_sessions" in row:
        out["online_sessions"] = int(row["online_sessions"])
    return out


def _widest(name: str, default: int, most: int) -> int:
    text = os.environ.get(name, "")
    if not text:
        return default
    if not text.isdigit() or not 0 <= int(text) <= most:
        raise UsageError(f"{name} must be a prefix length from 0 to {most}, not {text!r}")
    return int(text)


def _check_address(address: str, doing: str = "add") -> None:
    """Refuse a NAS address wider than the operator allows (CLOUDOS_NAS_WIDEST_IPV4/6) or outside the
    networks radiusd accepts (CLOUDOS_CLIENT_NETWORKS, as radiusd reads it); raises UsageError."""
    try:
        networks = parse_networks(os.environ.get("CLOUDOS_CLIENT_NETWORKS", ""))
    except ValueError as exc:
        raise UsageError(f"CLOUDOS_CLIENT_NETWORKS: {exc}") from None
    problem = nas_address_problem(ipaddress.ip_network(address), networks,
                                  widest_ipv4=_widest("CLOUDOS_NAS_WIDEST_IPV4", WIDEST_IPV4, 32),
                                  widest_ipv6=_widest("CLOUDOS_NAS_WIDEST_IPV6", WIDEST_IPV6, 128))
    if problem is not None:
        raise UsageError(f"cannot {doing} NAS: {problem}")


def _read_nas_secret() -> str:
    secret = read_secret("NAS shared secret")
    if len(secret) < 12:
        raise UsageError("the shared secret must be at least 12 characters (RFC 2865 advises 16 or more)")
    return secret


def _integrity(exc: IntegrityError, what: str) -> CliError:
    diag = getattr(exc.orig, "diag", None)
    why = getattr(diag, "message_primary", None) or str(exc.orig or exc)
    return CliError(f"{what}: {why}")


def add(ctx: Ctx, args: argparse.Namespace) -> None:
    if not args.secret_stdin:
        raise UsageError("the shared secret is read from standard input: add --secret-stdin")
    _check_address(args.address)
    sealed = ctx.keyring.encrypt(_read_nas_secret(), "nas.secret")
    with ctx.tx() as conn:
        tenant = ctx.tenant(conn, args.tenant)
        if nas_store.exists(conn, tenant.id, args.name):
            raise CliError(f"NAS {args.name!r} already exists in tenant {tenant.name}")
        clash = nas_store.overlapping(conn, args.address)
        if clash:
            raise CliError(f"address {args.address} overlaps NAS {clash.name} ({address_text(clash.address)}) "
                           f"of tenant {clash.tenant}")
        try:
            row = nas_store.add(conn, tenant_id=tenant.id, name=args.name, address=args.address, secret_enc=sealed,
                                coa_port=args.coa_port, description=args.description)
        except IntegrityError as exc:
            raise _integrity(exc, f"cannot add NAS {args.name}") from None
        after = _public(dict(row._mapping), tenant.name)
        ctx.audit(conn, action="nas.add", target=f"nas:{tenant.name}/{args.name}", tenant_id=tenant.id,
                  before=None, after={**after, "secret_enc": sealed})
    ctx.emit(after, f"NAS {args.name} added to tenant {tenant.name}: {after['address']}, CoA port {args.coa_port}")


def list_(ctx: Ctx, args: argparse.Namespace) -> None:
    with ctx.read() as conn:
        tenant_id = ctx.tenant(conn, args.tenant).id if args.tenant else None
        found = nas_store.listing(conn, tenant_id)
    rows = [_public(dict(r._mapping), r.tenant) for r in found]
    human = [dict(r, online=r["online_sessions"], created=show.local(f.created_at, f.timezone))
             for r, f in zip(rows, found)]
    ctx.emit(rows, table(human, ["id", "tenant", "name", "address", "coa_port", "online", "description",
                                 "created"]))


def show_(ctx: Ctx, args: argparse.Namespace) -> None:
    with ctx.read() as conn:
        tenant = ctx.tenant(conn, args.tenant)
        row = nas_store.by_name(conn, tenant.id, args.name)
        if row is None:
            raise CliError(f"no NAS named {args.name!r} in tenant {tenant.name}")
    data = _public(dict(row._mapping), tenant.name)
    tz = tenant.timezone
    ctx.emit(data, [
        f"NAS {data['name']} (id {data['id']}, tenant {tenant.name})",
        f"  address          {data['address']}",
        f"  CoA port         {data['coa_port']}",
        f"  type             {data['nas_type']}",
        f"  description      {data['description'] or 'none'}",
        f"  online sessions  {data['online_sessions']}",
        f"  added            {show.local(row.created_at, tz)}",
        f"  changed          {show.local(row.updated_at, tz)}",
    ])


def set_(ctx: Ctx, args: argparse.Namespace) -> None:
    changes: dict[str, Any] = {}
    if args.coa_port is not None:
        changes["coa_port"] = args.coa_port
    if args.description is not None:
        changes["description"] = args.description or None
    if args.address is not None:
        _check_address(args.address, "change")
        changes["address"] = args.address
    if args.secret_stdin:
        changes["secret_enc"] = ctx.keyring.encrypt(_read_nas_secret(), "nas.secret")
    if not changes:
        raise UsageError("nothing to change: give --secret-stdin, --coa-port, --address or --description")
    with ctx.tx() as conn:
        tenant = ctx.tenant(conn, args.tenant)
        old = nas_store.by_name(conn, tenant.id, args.name, lock=True)
        if old is None:
            raise CliError(f"no NAS named {args.name!r} in tenant {tenant.name}")
        if "address" in changes:
            clash = nas_store.overlapping(conn, args.address, other_than=old.id)
            if clash:
                raise CliError(f"address {args.address} overlaps NAS {clash.name} ({address_text(clash.address)}) "
                               f"of tenant {clash.tenant}")
        try:
            row = nas_store.change(conn, old.id, changes)
        except IntegrityError as exc:
            raise _integrity(exc, f"cannot change NAS {args.name}") from None
        before = _public(dict(old._mapping), tenant.name)
        after = {**_public(dict(row._mapping), tenant.name), "online_sessions": before["online_sessions"]}
        # The secret goes into the trail as a marker only (cloudos.audit.seal): that it changed, never what.
        ctx.audit(conn, action="nas.set", target=f"nas:{tenant.name}/{args.name}", tenant_id=tenant.id,
                  before={**before, "secret_enc": old.secret_enc}, after={**after, "secret_enc": row.secret_enc})
    said = [("secret" if k == "secret_enc" else f"{k}={after[k] if k == 'address' else v}")
            for k, v in changes.items()]
    ctx.emit(after, f"NAS {args.name} updated: {', '.join(said)}")


def _disconnect_all(ctx: Ctx, row: Any, sessions: Any) -> dict[str, int]:
    """Send a Disconnect-Request for each session to the NAS itself, now, and wait for the answers:
    the NAS's row and secret are about to go, and with them the worker's way to reach it. At most
    FORCE_BATCH are in flight at once (a BRAS with thousands of sessions gets no burst of thousands,
    and the tool no thousands of sockets); a wave that gets no answer at all means the NAS is not
    answering, and the rest are not sent. Returns ACKs, NAKs and unanswered (or unsent)."""
    try:
        secret = ctx.keyring.decrypt(row.secret_enc, "nas.secret")
    except DecryptError as exc:
        raise CliError(f"cannot read NAS {row.name}'s secret to disconnect its sessions: {exc}") from None
    todo = []
    for s in sessions:
        attrs: dict[str, str | int] = {"User-Name": s.username, "Acct-Session-Id": s.acct_session_id}
        if s.framed_ip:
            attrs["Framed-IP-Address"] = s.framed_ip
        # Where the worker would send it: the address the session's accounting came from, else the NAS's.
        host = s.nas_address or str(ipaddress.ip_network(str(row.address), strict=False).network_address)
        todo.append(coa.Request(host, row.coa_port, coa.Code.DISCONNECT_REQUEST, attrs, secret))
    acked = naked = 0
    with coa.Exchange[int]() as flights:
        while todo:
            wave, todo = todo[:FORCE_BATCH], todo[FORCE_BATCH:]
            for i, req in enumerate(wave):
                flights.send(i, req, timeout=FORCE_TIMEOUT, tries=FORCE_TRIES)
            heard = 0
            while flights:
                for _, answer in flights.poll(FORCE_TIMEOUT):
                    if answer is not None:
                        heard += 1
                        acked += answer.acked
                        naked += not answer.acked
            if not heard:
                break
    return {"acked": acked, "naked": naked, "unanswered": len(sessions) - acked - naked}


def remove(ctx: Ctx, args: argparse.Namespace) -> None:
    with ctx.read() as conn:
        tenant = ctx.tenant(conn, args.tenant)
        row = nas_store.by_name(conn, tenant.id, args.name)
        if row is None:
            raise CliError(f"no NAS named {args.name!r} in tenant {tenant.name}")
        sessions = nas_store.open_sessions(conn, row.id)
    if sessions and not args.force:
        raise CliError(f"NAS {args.name} has {len(sessions)} session(s) online: they would stay up unbilled with "
                       "no way to disconnect them; `cloudos nas remove --force` disconnects them first")
    # Outside any transaction: no lock is held while the NAS is waited for.
    answers = _disconnect_all(ctx, row, sessions) if sessions else {"acked": 0, "naked": 0, "unanswered": 0}
    with ctx.tx() as conn:
        locked = nas_store.by_name(conn, tenant.id, args.name, lock=True)
        if locked is None:
            raise CliError(f"no NAS named {args.name!r} in tenant {tenant.name}")
        if locked.online_sessions and not args.force:
            raise CliError(f"NAS {args.name} has {locked.online_sessions} session(s) online (new since the check); "
                           "`cloudos nas remove --force` disconnects them first")
        if args.force:
            # A login that raced the sends above: its session is disconnected too, before it is closed.
            sent = {s.acct_unique_id for s in sessions}
            late = [s for s in nas_store.open_sessions(conn, locked.id) if s.acct_unique_id not in sent]
            if late:
                more = _disconnect_all(ctx, locked, late)
                answers = {k: answers[k] + more[k] for k in answers}
        closed = nas_store.close_sessions(conn, locked.id, ctx.now) if args.force else 0
        # Nothing may stay queued for a NAS that is gone: the worker could never send it.
        cancelled = coa_store.cancel_for_nas(conn, locked.id, f"NAS {args.name} removed")
        gone = nas_store.remove(conn, tenant.id, args.name)
        assert gone is not None  # locked above
        before = _public(dict(locked._mapping), tenant.name)
        result = {"sessions_closed": closed, "requests_cancelled": cancelled, "disconnect": answers}
        ctx.audit(conn, action="nas.remove", target=f"nas:{tenant.name}/{args.name}", tenant_id=tenant.id,
                  before={**before, "secret_enc": gone.secret_enc}, after=None)
    told = ""
    if closed:
        told = (f"; {closed} session(s) disconnected first: {answers['acked']} ACK, {answers['naked']} NAK, "
                f"{answers['unanswered']} unanswered (closed here either way)")
    if cancelled:
        told += f"; {cancelled} queued request(s) to it cancelled"
    ctx.emit({**before, **result}, f"NAS {args.name} removed from tenant {tenant.name}{told}; running radiusd forget "
                                   "it within CLOUDOS_CLIENT_LIFETIME seconds")


def register(sub: Subparsers) -> None:
    g = sub.add_parser("nas", help="routers (RADIUS clients) allowed to talk to radiusd")
    s = g.add_subparsers(dest="action", required=True, metavar="ACTION")
    p = leaf(s, "add", "add a NAS; the shared secret is read from standard input", add)
    p.add_argument("name", type=name_arg, metavar="NAME")
    tenant_opt(p)
    p.add_argument("--address", type=network_arg, required=True, metavar="IP_OR_CIDR",
                   help="the source address (or network) the NAS sends RADIUS from")
    p.add_argument("--secret-stdin", action="store_true", help="read the shared secret from standard input")
    p.add_argument("--coa-port", type=port_arg, default=3799, help="UDP port for CoA/Disconnect (3799; old RouterOS 1700)")
    p.add_argument("--description")
    p = leaf(s, "list", "list NAS", list_)
    tenant_opt(p)
    p = leaf(s, "show", "show a NAS: address, CoA port, sessions online", show_)
    p.add_argument("name", type=name_arg, metavar="NAME")
    tenant_opt(p)
    p = leaf(s, "set", "change a NAS: rotate its secret (from standard input), CoA port, address, description", set_)
    p.add_argument("name", type=name_arg, metavar="NAME")
    tenant_opt(p)
    p.add_argument("--secret-stdin", action="store_true", help="read the new shared secret from standard input")
    p.add_argument("--coa-port", type=port_arg, metavar="PORT", help="UDP port for CoA/Disconnect")
    p.add_argument("--address", type=network_arg, metavar="IP_OR_CIDR", help="the new source address (or network)")
    p.add_argument("--description", help="a new description ('' clears it)")
    p = leaf(s, "remove", "remove a NAS (refused while sessions are online on it, unless --force)", remove)
    p.add_argument("name", type=name_arg, metavar="NAME")
    tenant_opt(p)
    p.add_argument("--force", action="store_true",
                   help="disconnect its online sessions first (Disconnect-Requests sent now, "
                        f"{FORCE_BATCH} at a time, each wave waited for up to {FORCE_TIMEOUT * FORCE_TRIES:g} s; "
                        "a NAS that answers none of a wave is sent no more), close them, then remove it")
