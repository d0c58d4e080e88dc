"""cloudos audit verify | list"""

from __future__ import annotations

import argparse

from cloudos import audit
from cloudos.commands._common import Subparsers, leaf, positive_arg
from cloudos.context import Ctx, table
from cloudos.errors import CliError
from cloudos.store import audit as audit_store


def verify(ctx: Ctx, args: argparse.Namespace) -> None:
    with ctx.read() as conn:
        result = audit.verify(conn)
    data = {"rows": result.rows, "ok": result.ok, "first_bad_id": result.first_bad_id, "problem": result.problem}
    if not result.ok:
        if ctx.json:
            ctx.emit(data, "")
        raise CliError(f"audit chain broken at row {result.first_bad_id}: {result.problem}")
    ctx.emit(data, f"audit chain intact: {result.rows} rows")


def list_(ctx: Ctx, args: argparse.Namespace) -> None:
    with ctx.read() as conn:
        rows = [dict(r._mapping) for r in audit_store.latest(conn, args.limit)]
    ctx.emit(rows, table(rows, ["id", "at", "actor", "action", "target"]))


def register(sub: Subparsers) -> None:
    g = sub.add_parser("audit", help="the immutable admin audit trail")
    s = g.add_subparsers(dest="action", required=True, metavar="ACTION")
    leaf(s, "verify", "walk the hash chain and name the first row that does not match", verify)
    p = leaf(s, "list", "show the latest audit rows", list_)
    p.add_argument("--limit", type=positive_arg, default=20)
