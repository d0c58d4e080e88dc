"""`cloudos`: the admin CLI of CloudOS RADIUS.

Exit codes: 0 success, 1 a failed operation, 2 bad usage, 3 the audit trail or
its anchor shows tampering. Errors are one line on stderr; set CLOUDOS_DEBUG=1
for a traceback.
"""

from __future__ import annotations

import argparse
import os
import sys
import traceback
from datetime import datetime, timezone
from typing import NoReturn

from sqlalchemy.exc import DBAPIError, SQLAlchemyError

from cloudos.commands import audit, db, explain, nas, plan, session, subscriber, tenant
from cloudos.context import Ctx
from cloudos.errors import CliError


class Parser(argparse.ArgumentParser):
    def error(self, message: str) -> NoReturn:
        self.exit(2, f"{self.prog}: error: {message} (see {self.prog} --help)\n")


def build_parser() -> argparse.ArgumentParser:
    ap = Parser(prog="cloudos", description="Administer CloudOS RADIUS: tenants, NAS, plans, subscribers, audit.",
                epilog="Environment: CLOUDOS_DATABASE_URL, CLOUDOS_KEYRING, CLOUDOS_ACTOR (for the audit trail).")
    sub = ap.add_subparsers(dest="group", required=True, metavar="COMMAND", parser_class=Parser)
    for mod in (db, tenant, nas, plan, subscriber, session, explain, audit):
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


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    # The one clock reading of this command: every statement and rule it runs is handed this instant.
    ctx = Ctx(now=datetime.now(timezone.utc), json=getattr(args, "json", False))
    try:
        args.func(ctx, args)
        return 0
    except CliError as exc:
        print(f"cloudos: error: {exc}", file=sys.stderr)
        return exc.exit_code
    except DBAPIError as exc:
        if exc.connection_invalidated or "connection" in type(getattr(exc, "orig", exc)).__name__.lower() \
                or type(getattr(exc, "orig", None)).__name__ == "OperationalError":
            print(f"cloudos: error: cannot use PostgreSQL: {_db_message(exc)}", file=sys.stderr)
        else:
            print(f"cloudos: error: {_db_message(exc)}", file=sys.stderr)
        return 1
    except SQLAlchemyError as exc:
        print(f"cloudos: error: {_db_message(exc)}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        print("cloudos: interrupted", file=sys.stderr)
        return 130
    except Exception as exc:  # the last line of defence: one line, never a traceback
        if os.environ.get("CLOUDOS_DEBUG"):
            traceback.print_exc()
        print(f"cloudos: error: unexpected {type(exc).__name__}: {' '.join(str(exc).split())[:300]}", file=sys.stderr)
        return 1
    finally:
        if ctx._engine is not None:
            ctx._engine.dispose()


if __name__ == "__main__":
    raise SystemExit(main())
