"""`cloudos`: the admin CLI of CloudOS RADIUS.

Exit codes: 0 success, 1 a failed operation, 2 bad usage, 3 the audit trail or
its anchor shows tampering. Errors are one line on stderr; set CLOUDOS_DEBUG=1
for a traceback.

A command imports only its own group's module (``GROUPS``): ``cloudos --help`` loads
neither SQLAlchemy nor Alembic, and ``cloudos subscriber show`` no Alembic or Redis.
"""

from __future__ import annotations

import argparse
import importlib
import json
import os
import sys
import traceback
from datetime import datetime, timezone
from typing import TYPE_CHECKING, Any, NoReturn

from cloudos.errors import CliError

if TYPE_CHECKING:
    from sqlalchemy.exc import SQLAlchemyError

#: Each top-level command: the module whose register() adds it, and its one-line help, which
#: `cloudos --help` shows without importing the module (a test holds the two equal).
GROUPS: dict[str, tuple[str, str]] = {
    "db": ("cloudos.commands.db", "schema migrations"),
    "tenant": ("cloudos.commands.tenant", "ISPs served by this installation"),
    "nas": ("cloudos.commands.nas", "routers (RADIUS clients) allowed to talk to radiusd"),
    "plan": ("cloudos.commands.plan", "service plans: speed, quota, price"),
    "subscriber": ("cloudos.commands.subscriber", "subscribers: the people who log in"),
    "session": ("cloudos.commands.session", "accounting sessions: who is online, disconnect, reap"),
    "usage": ("cloudos.commands.session", "a subscriber's use in a billing period"),
    "worker": ("cloudos.commands.session", "send queued CoA/Disconnect requests and reap stale sessions"),
    "explain": ("cloudos.commands.explain", "what authorize would decide for USERNAME right now, and why"),
    "coa": ("cloudos.commands.coa", "CoA and Disconnect requests: queued, sent, answered"),
    "audit": ("cloudos.commands.audit", "the immutable admin audit trail"),
    "metrics": ("cloudos.commands.metrics", "Prometheus metrics: sessions online, logins, CoA requests, journal lag"),
    "billing": ("cloudos.commands.billing",
                "billing runs: invoices ahead of paid-until, reminders, suspension for non-payment"),
    "tax": ("cloudos.commands.billing", "tax rules: sales tax and advance income tax, with effective dates"),
    "invoice": ("cloudos.commands.billing", "invoices and credit notes"),
    "payment": ("cloudos.commands.billing", "payments: record one (once per reference), list them"),
    "ledger": ("cloudos.commands.billing",
               "a subscriber's invoices, payments and credit notes with the running balance"),
    "retention": ("cloudos.commands.retention",
                  "the privacy policy's retention schedule: drop old logs, purge old records"),
    "privacy": ("cloudos.commands.privacy", "data requests under the privacy policy and their deadlines"),
    "operator": ("cloudos.commands.operator", "operators: who may run this CLI, for which tenant, in which role"),
    "gateway": ("cloudos.commands.gateway", "payment gateways per tenant: JazzCash and EasyPaisa merchant settings"),
}


class ArgumentError(Exception):
    """The command line does not parse: exit 2, in the output form the user asked for."""


class Parser(argparse.ArgumentParser):
    def error(self, message: str) -> NoReturn:
        raise ArgumentError(f"{message} (see {self.prog} --help)")


def build_parser(argv: list[str] | None = None) -> argparse.ArgumentParser:
    """The whole parser; given ``argv``, only the group it names is built in full (the others are
    names and help), so only that group's module is imported."""
    ap = Parser(prog="cloudos", description="Administer CloudOS RADIUS: tenants, NAS, plans, subscribers, audit.",
                epilog="Environment: CLOUDOS_DATABASE_URL, CLOUDOS_KEYRING, CLOUDOS_ACTOR (for the audit trail).")
    sub = ap.add_subparsers(dest="group", required=True, metavar="COMMAND", parser_class=Parser)
    wanted = None if argv is None else next((a for a in argv if not a.startswith("-")), "")
    modules = list(dict.fromkeys(m for m, _ in GROUPS.values()))
    if wanted is not None:
        modules = [GROUPS[wanted][0]] if wanted in GROUPS else []
    built: set[str] = set()
    for name in modules:
        before = set(sub.choices)
        importlib.import_module(name).register(sub)
        built |= set(sub.choices) - before
    placeholders = {name: help_ for name, (_, help_) in GROUPS.items() if name not in built}
    for name, help_ in placeholders.items():
        sub.add_parser(name, help=help_)
    # `cloudos --help` lists the groups in GROUPS's order, whichever were built in full.
    sub._choices_actions.sort(key=lambda a: list(GROUPS).index(a.dest) if a.dest in GROUPS else len(GROUPS))
    return ap


def _db_message(exc: SQLAlchemyError) -> str:
    orig = getattr(exc, "orig", None)
    if orig is not None:
        diag = getattr(orig, "diag", None)
        primary = getattr(diag, "message_primary", None) if diag else None
        text = primary or str(orig)
    else:
        text = str(exc)
    return " ".join(text.split())[:300]


def fail(message: str, code: int, *, as_json: bool) -> int:
    """Report an error on stderr, one line: ``cloudos: error: …``, or under --json the object
    ``{"error": …, "exit_code": …}``; returns ``code``."""
    if as_json:
        print(json.dumps({"error": message, "exit_code": code}, ensure_ascii=False), file=sys.stderr)
    else:
        print(f"cloudos: error: {message}", file=sys.stderr)
    return code


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    as_json = "--json" in argv
    for i, arg in enumerate(argv, 1):
        try:
            arg.encode()
        except UnicodeEncodeError:
            return fail(f"argument {i} is not valid UTF-8 text: {arg.encode(errors='surrogateescape')!r}", 2,
                        as_json=as_json)
    try:
        args = build_parser(argv).parse_args(argv)
    except ArgumentError as exc:
        return fail(str(exc), 2, as_json=as_json)
    if not hasattr(args, "func"):  # a group whose module did not build (only an unknown one can get here)
        return fail(f"unknown command {args.group!r} (see cloudos --help)", 2, as_json=as_json)
    from cloudos.context import Ctx

    # The one clock reading of this command: every statement and rule it runs is handed this instant.
    ctx = Ctx(now=datetime.now(timezone.utc), json=getattr(args, "json", False))
    try:
        args.func(ctx, args)
        return 0
    except CliError as exc:
        return fail(str(exc), exc.exit_code, as_json=as_json)
    except KeyboardInterrupt:
        print("cloudos: interrupted", file=sys.stderr)
        return 130
    except Exception as exc:  # the last line of defence: one line, never a traceback
        database = _database_error(exc)
        if database is not None:
            return fail(database, 1, as_json=as_json)
        if os.environ.get("CLOUDOS_DEBUG"):
            traceback.print_exc()
        return fail(f"unexpected {type(exc).__name__}: {' '.join(str(exc).split())[:300]}", 1, as_json=as_json)
    finally:
        if ctx._engine is not None:
            ctx._engine.dispose()


def _database_error(exc: BaseException) -> str | None:
    """The one-line message of a SQLAlchemy error, or None for any other exception (SQLAlchemy is
    looked at only if the command loaded it)."""
    sa: Any = sys.modules.get("sqlalchemy.exc")
    if sa is None or not isinstance(exc, sa.SQLAlchemyError):
        return None
    if isinstance(exc, sa.DBAPIError) and (
            exc.connection_invalidated or "connection" in type(getattr(exc, "orig", exc)).__name__.lower()
            or type(getattr(exc, "orig", None)).__name__ == "OperationalError"):
        return f"cannot use PostgreSQL: {_db_message(exc)}"
    if getattr(getattr(exc, "orig", None), "sqlstate", None) in _NOT_ALLOWED:
        return f"not allowed for this login's role ({_db_message(exc)}): see cloudos operator whoami"
    return _db_message(exc)


#: insufficient_privilege, and a row refused by a row-level security policy.
_NOT_ALLOWED = frozenset({"42501"})


if __name__ == "__main__":
    raise SystemExit(main())
