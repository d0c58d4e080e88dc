"""`cloudos`: the admin CLI of CloudOS RADIUS.

Exit codes: 0 success, 1 a failed operation, 2 bad usage, 3 the audit trail or
its anchor shows tampering. Errors are one line on stderr; set CLOUDOS_DEBUG=1
for a traceback.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import traceback
from datetime import datetime, timezone
from typing import NoReturn

from sqlalchemy.exc import DBAPIError, SQLAlchemyError

from cloudos.commands import audit, coa, db, explain, nas, plan, session, subscriber, tenant
from cloudos.context import Ctx
from cloudos.errors import CliError


class ArgumentError(Exception):
    """The command line does not parse: exit 2, in the output form the user asked for."""


class Parser(argparse.ArgumentParser):
    def error(self, message: str) -> NoReturn:
        raise ArgumentError(f"{message} (see {self.prog} --help)")


def build_parser() -> argparse.ArgumentParser:
    ap = Parser(prog="cloudos", description="Administer CloudOS RADIUS: tenants, NAS, plans, subscribers, audit.",
                epilog="Environment: CLOUDOS_DATABASE_URL, CLOUDOS_KEYRING, CLOUDOS_ACTOR (for the audit trail).")
    sub = ap.add_subparsers(dest="group", required=True, metavar="COMMAND", parser_class=Parser)
    for mod in (db, tenant, nas, plan, subscriber, session, coa, explain, audit):
        mod.register(sub)
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
        args = build_parser().parse_args(argv)
    except ArgumentError as exc:
        return fail(str(exc), 2, as_json=as_json)
    # The one clock reading of this command: every statement and rule it runs is handed this instant.
    ctx = Ctx(now=datetime.now(timezone.utc), json=getattr(args, "json", False))
    try:
        args.func(ctx, args)
        return 0
    except CliError as exc:
        return fail(str(exc), exc.exit_code, as_json=as_json)
    except DBAPIError as exc:
        if exc.connection_invalidated or "connection" in type(getattr(exc, "orig", exc)).__name__.lower() \
                or type(getattr(exc, "orig", None)).__name__ == "OperationalError":
            return fail(f"cannot use PostgreSQL: {_db_message(exc)}", 1, as_json=as_json)
        return fail(_db_message(exc), 1, as_json=as_json)
    except SQLAlchemyError as exc:
        return fail(_db_message(exc), 1, as_json=as_json)
    except KeyboardInterrupt:
        print("cloudos: interrupted", file=sys.stderr)
        return 130
    except Exception as exc:  # the last line of defence: one line, never a traceback
        if os.environ.get("CLOUDOS_DEBUG"):
            traceback.print_exc()
        return fail(f"unexpected {type(exc).__name__}: {' '.join(str(exc).split())[:300]}", 1, as_json=as_json)
    finally:
        if ctx._engine is not None:
            ctx._engine.dispose()


if __name__ == "__main__":
    raise SystemExit(main())
