"""cloudos nas add | list | remove"""

from __future__ import annotations

import argparse
import ipaddress
import os
from typing import Any

from sqlalchemy.exc import IntegrityError

from cloudos.commands._common import Subparsers, as_dict, leaf, name_arg, network_arg, port_arg, tenant_opt
from cloudos.context import Ctx, read_secret, table
from cloudos.errors import CliError, UsageError
from cloudos.store import nas as nas_store
from rlm_cloudos.policy.clients import WIDEST_IPV4, WIDEST_IPV6, nas_address_problem, parse_networks

_PUBLIC = ("id", "name", "address", "coa_port", "nas_type", "description", "created_at")


def _public(row: dict[str, Any], tenant: str) -> dict[str, Any]:
    return {"tenant": tenant, **{k: (str(row[k]) if k == "address" else row[k]) for k in _PUBLIC}}


def _widest(name: str, default: int, most: int) -> int:
    text = os.environ.get(name, "")
    if not text:
        return default
    if not text.isdigit() or not 0 <= int(text) <= most:
        raise UsageError(f"{name} must be a prefix length from 0 to {most}, not {text!r}")
    return int(text)


def _check_address(address: str) -> None:
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
        raise UsageError(f"cannot add NAS: {problem}")


def add(ctx: Ctx, args: argparse.Namespace) -> None:
    if not args.secret_stdin:
        raise UsageError("the shared secret is read from standard input: add --secret-stdin")
    _check_address(args.address)
    secret = read_secret("NAS shared secret")
    if len(secret) < 12:
        raise UsageError("the shared secret must be at least 12 characters (RFC 2865 advises 16 or more)")
    sealed = ctx.keyring.encrypt(secret, "nas.secret")
    with ctx.tx() as conn:
        tenant = ctx.tenant(conn, args.tenant)
        if nas_store.exists(conn, tenant.id, args.name):
            raise CliError(f"NAS {args.name!r} already exists in tenant {tenant.name}")
        clash = nas_store.overlapping(conn, args.address)
        if clash:
            raise CliError(f"address {args.address} overlaps NAS {clash.name} ({clash.address}) of tenant {clash.tenant}")
        try:
            row = nas_store.add(conn, tenant_id=tenant.id, name=args.name, address=args.address, secret_enc=sealed,
                                coa_port=args.coa_port, description=args.description)
        except IntegrityError as exc:
            diag = getattr(exc.orig, "diag", None)
            why = getattr(diag, "message_primary", None) or str(exc.orig or exc)
            raise CliError(f"cannot add NAS {args.name}: {why}") from None
        after = _public(dict(row._mapping), tenant.name)
        ctx.audit(conn, action="nas.add", target=f"nas:{tenant.name}/{args.name}", tenant_id=tenant.id,
                  before=None, after={**after, "secret_enc": sealed})
    ctx.emit(after, f"NAS {args.name} added to tenant {tenant.name}: {args.address}, CoA port {args.coa_port}")


def list_(ctx: Ctx, args: argparse.Namespace) -> None:
    with ctx.read() as conn:
        tenant_id = ctx.tenant(conn, args.tenant).id if args.tenant else None
        rows = [_public(dict(r._mapping), r.tenant) for r in nas_store.listing(conn, tenant_id)]
    ctx.emit(rows, table(rows, ["tenant", "name", "address", "coa_port", "nas_type"]))


def remove(ctx: Ctx, args: argparse.Namespace) -> None:
    with ctx.tx() as conn:
        tenant = ctx.tenant(conn, args.tenant)
        row = nas_store.remove(conn, tenant.id, args.name)
        if row is None:
            raise CliError(f"no NAS named {args.name!r} in tenant {tenant.name}")
        before = _public(dict(row._mapping), tenant.name)
        ctx.audit(conn, action="nas.remove", target=f"nas:{tenant.name}/{args.name}", tenant_id=tenant.id,
                  before={**before, "secret_enc": row.secret_enc}, after=None)
    ctx.emit(before, f"NAS {args.name} removed from tenant {tenant.name}; running radiusd forget it "
                     "within CLOUDOS_CLIENT_LIFETIME seconds")


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
    p = leaf(s, "remove", "remove a NAS", remove)
    p.add_argument("name", type=name_arg, metavar="NAME")
    tenant_opt(p)
