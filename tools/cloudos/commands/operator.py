"""cloudos operator add | list | set-role | set-password | remove | whoami: who may run the CLI, and as what.

An operator is a PostgreSQL login of its own, a member of one group role (schema 0018):
platform (every tenant, tenants and operators), or for one tenant admin, billing, support
or auditor. What each may do is enforced by the database's grants and row-level
security, not by this CLI: it connects as the operator (CLOUDOS_DATABASE_URL with the
operator's name as the user, the password from PGPASSWORD or a pgpass file), and each
audit row carries the login that wrote it. Only a platform operator manages operators.
"""

from __future__ import annotations

import argparse
import re
from typing import Any

from cloudos.commands._common import Subparsers, leaf
from cloudos.context import Ctx, read_secret, table
from cloudos.errors import CliError, UsageError
from cloudos.store import operators as store

#: What a login name may be (schema 0018's CHECK): lower case, no cloudos_/pg_ prefix.
LOGIN = re.compile(r"^[a-z][a-z0-9_.-]{1,62}$")
#: Shorter passwords are refused: an operator's login reaches every subscriber of its tenant.
MIN_PASSWORD = 12


def _login(text: str) -> str:
    if not LOGIN.match(text) or text.startswith(("cloudos_", "pg_")):
        raise argparse.ArgumentTypeError(
            f"operator name {text!r}: 2 to 63 of a-z 0-9 _ . -, starting with a letter, not cloudos_… or pg_…")
    return text


def _password() -> str:
    password = read_secret("operator password")
    if len(password) < MIN_PASSWORD:
        raise UsageError(f"the operator password is shorter than {MIN_PASSWORD} characters")
    return password


def _view(r: Any) -> dict[str, Any]:
    return {"login": r.login, "role": r.role, "tenant": r.tenant, "created_at": r.created_at,
            "created_by": r.created_by}


def add(ctx: Ctx, args: argparse.Namespace) -> None:
    if (args.role == "platform") == (args.tenant is not None):
        raise UsageError("a platform operator has no --tenant; every other role needs one" if args.tenant
                         else f"--role {args.role} needs --tenant T")
    if not args.password_stdin:
        raise UsageError("the password is read from standard input: add --password-stdin")
    password = _password()
    with ctx.tx() as conn:
        tenant = ctx.tenant(conn, args.tenant) if args.tenant else None
        if store.by_login(conn, args.name) is not None:
            raise CliError(f"operator {args.name!r} exists already (operator set-role, set-password)")
        store.add(conn, args.name, tenant.id if tenant else None, args.role, password)
        after = {"login": args.name, "role": args.role, "tenant": tenant.name if tenant else None}
        ctx.audit(conn, action="operator.add", target=f"operator:{args.name}", tenant_id=tenant.id if tenant else None,
                  before=None, after=after)
    ctx.emit(after, f"operator {args.name} added: {args.role}" + (f" of tenant {tenant.name}" if tenant else
                                                                   " (platform: every tenant)"))


def _existing(ctx: Ctx, conn: Any, name: str) -> Any:
    row = store.by_login(conn, name)
    if row is None:
        raise CliError(f"no operator named {name!r}")
    return row


def set_role(ctx: Ctx, args: argparse.Namespace) -> None:
    with ctx.tx() as conn:
        row = _existing(ctx, conn, args.name)
        if (row.role == "platform") != (args.role == "platform"):
            raise CliError("an operator cannot move between the platform and a tenant: remove it and add it again")
        if row.role == args.role:
            ctx.emit(_view(row), f"operator {args.name} is {args.role} already")
            return
        store.set_role(conn, args.name, args.role)
        ctx.audit(conn, action="operator.set_role", target=f"operator:{args.name}", tenant_id=row.tenant_id,
                  before={"role": row.role}, after={"role": args.role})
    ctx.emit({**_view(row), "role": args.role}, f"operator {args.name}: {row.role} → {args.role}")


def set_password(ctx: Ctx, args: argparse.Namespace) -> None:
    if not args.password_stdin:
        raise UsageError("the password is read from standard input: add --password-stdin")
    password = _password()
    with ctx.tx() as conn:
        row = _existing(ctx, conn, args.name)
        store.set_password(conn, args.name, password)
        ctx.audit(conn, action="operator.set_password", target=f"operator:{args.name}", tenant_id=row.tenant_id,
                  before={"password": "set"}, after={"password": "set"})
    ctx.emit({"login": args.name}, f"operator {args.name}: password changed")


def remove(ctx: Ctx, args: argparse.Namespace) -> None:
    with ctx.tx() as conn:
        row = _existing(ctx, conn, args.name)
        ended = store.remove(conn, args.name)
        ctx.audit(conn, action="operator.remove", target=f"operator:{args.name}", tenant_id=row.tenant_id,
                  before={"login": row.login, "role": row.role, "tenant": row.tenant}, after=None)
    ctx.emit({"login": args.name, "connections_ended": ended},
             f"operator {args.name} removed" + (f", {ended} open connection(s) ended" if ended else ""))


def list_(ctx: Ctx, args: argparse.Namespace) -> None:
    with ctx.read() as conn:
        tenant = ctx.tenant(conn, args.tenant) if args.tenant else None
        rows = [_view(r) for r in store.listing(conn, tenant.id if tenant else None)]
    ctx.emit(rows, table([{**r, "tenant": r["tenant"] or "(platform)"} for r in rows],
                         ["login", "role", "tenant", "created_at", "created_by"]))


def whoami(ctx: Ctx, args: argparse.Namespace) -> None:
    me = ctx.whoami
    ctx.emit({"login": me.login, "role": me.role, "tenant": me.tenant},
             f"{me.login}: " + (f"{me.role} of tenant {me.tenant}" if me.tenant else
                                "platform operator" if me.role == "platform" else
                                "no operator (a program's login or the schema owner)"))


def register(sub: Subparsers) -> None:
    g = sub.add_parser("operator", help="operators: who may run this CLI, for which tenant, in which role")
    s = g.add_subparsers(dest="action", required=True, metavar="ACTION")
    p = leaf(s, "add", "add an operator: a PostgreSQL login of its own in its role's group", add)
    p.add_argument("name", type=_login, metavar="NAME", help="the login name (global to the PostgreSQL server)")
    p.add_argument("--tenant", metavar="T", help="the operator's tenant: needed for every role but platform")
    p.add_argument("--role", required=True, choices=store.ROLES,
                   help="platform (no tenant: every tenant, tenants, operators); admin (all of its tenant); "
                        "billing (invoices, payments, ledger); support (subscribers with the CNIC masked, their "
                        "balance and invoices, suspend/resume, sessions, explain); auditor (read-only, its "
                        "tenant's audit rows)")
    p.add_argument("--password-stdin", action="store_true", help=f"read the password (at least {MIN_PASSWORD} "
                                                                 "characters) from the first line of standard input")
    p = leaf(s, "list", "list operators with their role and tenant", list_)
    p.add_argument("--tenant", metavar="T", help="only this tenant's operators (default: all, platform first)")
    p = leaf(s, "set-role", "give an operator another role in its tenant", set_role)
    p.add_argument("name", type=_login, metavar="NAME", help="the operator's login")
    p.add_argument("role", choices=store.ROLES, metavar="ROLE",
                   help="admin, billing, support or auditor (platform stays platform)")
    p = leaf(s, "set-password", "change an operator's password", set_password)
    p.add_argument("name", type=_login, metavar="NAME")
    p.add_argument("--password-stdin", action="store_true", help="read the new password from standard input")
    p = leaf(s, "remove", "remove an operator: its login is dropped and its open connections end", remove)
    p.add_argument("name", type=_login, metavar="NAME")
    leaf(s, "whoami", "this connection's login, role and tenant", whoami)
