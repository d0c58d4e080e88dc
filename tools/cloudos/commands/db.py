"""cloudos db migrate | status"""

from __future__ import annotations

import argparse
import logging
from pathlib import Path

from alembic import command
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import text

from cloudos.commands._common import leaf
from cloudos.context import Ctx, database_url, sqlalchemy_url

SCHEMA = Path(__file__).resolve().parents[3] / "schema"


def _config() -> Config:
    cfg = Config()
    cfg.set_main_option("script_location", str(SCHEMA))
    cfg.set_main_option("sqlalchemy.url", sqlalchemy_url(database_url()).replace("%", "%%"))
    return cfg


def _current(ctx: Ctx) -> str | None:
    with ctx.read() as conn:
        return MigrationContext.configure(conn).get_current_revision()


def migrate(ctx: Ctx, args: argparse.Namespace) -> None:
    logging.getLogger("alembic").setLevel(logging.WARNING)
    cfg = _config()
    before = _current(ctx)
    command.upgrade(cfg, "head")
    after = _current(ctx)
    with ctx.tx() as conn:
        made = conn.execute(
            text("SELECT cloudos_ensure_month_partitions('session', (now() - interval '1 month')::date, 14)"
                 " + cloudos_ensure_month_partitions('auth_log', (now() - interval '1 month')::date, 14)")
        ).scalar_one()
        if before != after or made:
            ctx.audit(conn, action="db.migrate", target="schema", tenant_id=None,
                      before={"revision": before}, after={"revision": after, "partitions_created": made})
    ctx.emit({"from": before, "to": after, "partitions_created": made},
             f"schema at {after}" + (f" (was {before or 'empty'})" if before != after else " (up to date)")
             + (f", {made} partitions created" if made else ""))


def status(ctx: Ctx, args: argparse.Namespace) -> None:
    head = ScriptDirectory.from_config(_config()).get_current_head()
    current = _current(ctx)
    with ctx.read() as conn:
        version = conn.execute(text("SHOW server_version")).scalar_one()
    ctx.emit({"current": current, "head": head, "up_to_date": current == head, "server_version": version},
             [f"PostgreSQL {version}", f"schema revision {current or '(none)'}, head {head}",
              "up to date" if current == head else "migration needed: cloudos db migrate"])


def register(sub: argparse._SubParsersAction) -> None:  # type: ignore[type-arg]
    db = sub.add_parser("db", help="schema migrations")
    dsub = db.add_subparsers(dest="action", required=True, metavar="ACTION")
    leaf(dsub, "migrate", "bring the schema to the latest revision (idempotent)", migrate)
    leaf(dsub, "status", "show the schema revision", status)
