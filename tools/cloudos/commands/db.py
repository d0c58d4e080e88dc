"""cloudos db migrate | status | schema | reencrypt | create-login | logins"""

from __future__ import annotations

import argparse
import glob
import logging
import os
import re
import shutil
import subprocess
from collections.abc import Callable, Iterator, Sequence
from pathlib import Path
from typing import Any

from psycopg.conninfo import conninfo_to_dict, make_conninfo

from alembic import command
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import Connection, text
from sqlalchemy.engine import Row

from cloudos.commands._common import Subparsers, leaf
from cloudos.context import Ctx, database_url, read_secret, sqlalchemy_url, table
from cloudos.errors import CliError, UsageError
from cloudos import identity
from cloudos.store import bulk, roles, subscribers
from rlm_cloudos.crypto import CNIC, PASSWORD
from rlm_cloudos.errors import DecryptError

SCHEMA = Path(__file__).resolve().parents[3] / "schema"
#: The schema as the migrations leave it, written by `cloudos db schema --write`.
CURRENT_SQL = SCHEMA / "current.sql"
#: Where Debian's PostgreSQL keeps pg_dump (the newest version dumps every older server).
PG_DUMP_GLOB = "/usr/lib/postgresql/*/bin/pg_dump"
#: Monthly partitions (cloudos_ensure_month_partitions: <parent>_yYYYYmMM) depend on the day the
#: schema was migrated; their parents and the default partitions are the schema.
_MONTH_PARTITIONS = "*_y[0-9][0-9][0-9][0-9]m[0-9][0-9]"
#: Subscribers re-encrypted per transaction by `cloudos db reencrypt`.
_REENCRYPT_BATCH = 500
#: What differs between runs and machines: session settings, versions, pg_dump's per-run
#: \restrict key (PostgreSQL 15.14+).
_NOISE = re.compile(r"^(SET |SELECT pg_catalog\.set_config\(|-- Dumped (from|by) |\\(un)?restrict )")


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
    # The audit row is keyed and old passwords are re-encrypted after the upgrade: without the key
    # ring, fail before migrating, not half-way.
    ctx.keyring
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
    with ctx.read() as conn:
        unbound = subscribers.count_unbound_passwords(conn)
        ring_cnics = subscribers.count_ring_cnics(conn)
    upgraded, failed = 0, list[int]()
    cnics = 0
    if ring_cnics:  # 0019: CNICs move under data keys, which the key ring seals (outside the database)
        cnics, unopened = _reencrypt_cnics(ctx)
        failed += unopened
    if unbound:
        # 0010 binds passwords to their tenant and username; sealing them again needs the key ring,
        # which the database never sees, so it happens here and not in the migration (the key
        # ring was loaded before anything was migrated).
        upgraded, unsealed = _reencrypt(ctx)
        failed += unsealed
    ctx.emit({"from": before, "to": after, "partitions_created": made, "passwords_reencrypted": upgraded,
              "cnics_moved": cnics},
             f"schema at {after}" + (f" (was {before or 'empty'})" if before != after else " (up to date)")
             + (f", {made} partitions created" if made else "")
             + (f", {upgraded} subscriber password(s) re-encrypted" if upgraded else "")
             + (f", {cnics} CNIC(s) moved under data keys" if cnics else ""))
    _refuse_failed(failed)


def _batches(ctx: Ctx, fetch: Callable[..., Sequence[Row[Any]]]) -> Iterator[tuple[Connection, Sequence[Row[Any]]]]:
    """Each batch ``fetch(conn, after_id=…, limit=…)`` gives (rows with an ``id``, by id), inside a
    transaction of its own that commits when the caller asks for the next one, until none is left."""
    after_id = 0
    while True:
        with ctx.tx() as conn:
            rows = fetch(conn, after_id=after_id, limit=_REENCRYPT_BATCH)
            if not rows:
                return
            after_id = rows[-1].id
            yield conn, rows


def _reencrypt(ctx: Ctx) -> tuple[int, list[int]]:
    """Seal every ``c1`` subscriber password again bound to its tenant and username, in batches
    (each one transaction, audited); (how many were upgraded, ids of those that would not open)."""
    keyring = ctx.keyring
    upgraded, failed = 0, list[int]()
    for conn, rows in _batches(ctx, subscribers.unbound_passwords):
        done = 0
        for row in rows:
            old = bytes(row.password_enc)
            try:
                password = keyring.decrypt(old, PASSWORD)
            except DecryptError:
                failed.append(row.id)
                continue
            if subscribers.replace_password_enc(conn, row.id, old,
                                                keyring.seal_password(password, row.tenant_id, row.username)):
                done += 1
                ctx.stale(row.tenant_id)  # the tenant's snapshots carry the old ciphertexts
        if done:
            ctx.audit(conn, action="db.reencrypt", target="subscriber.password_enc", tenant_id=None,
                      before={"format": "c1", "count": done}, after={"format": "c2", "count": done})
        upgraded += done
    return upgraded, failed


def _reencrypt_cnics(ctx: Ctx) -> tuple[int, list[int]]:
    """Move every CNIC sealed under the key ring itself (``c1``) under its subscriber's data key
    (schema 0019), so that erasure shreds it; in batches, each one transaction, audited."""
    keyring = ctx.keyring
    moved, failed = 0, list[int]()
    for conn, rows in _batches(ctx, subscribers.ring_cnics):
        plain: list[tuple[int, int, str]] = []
        for row in rows:
            try:
                plain.append((row.tenant_id, row.id, keyring.decrypt(bytes(row.cnic_enc), CNIC)))
            except DecryptError:
                failed.append(row.id)
        sealed = identity.seal_cnics(conn, keyring, plain)
        bulk.set_cnics(conn, [(sid, blob) for (_, sid, _), blob in zip(plain, sealed)])
        if plain:
            ctx.audit(conn, action="db.reencrypt", target="subscriber.cnic_enc", tenant_id=None,
                      before={"format": "c1", "count": len(plain)}, after={"format": "d1", "count": len(plain)})
        moved += len(plain)
    return moved, failed


def reencrypt(ctx: Ctx, args: argparse.Namespace) -> None:
    upgraded, failed = _reencrypt(ctx)
    cnics, unopened = _reencrypt_cnics(ctx)
    with ctx.read() as conn:
        left = subscribers.count_unbound_passwords(conn)
    ctx.emit({"upgraded": upgraded, "undecryptable": failed, "remaining": left, "cnics_moved": cnics,
              "cnics_undecryptable": unopened},
             f"{upgraded} subscriber password(s) re-encrypted bound to tenant and username"
             + ("" if upgraded else " (none in the old format)")
             + (f"; {cnics} CNIC(s) moved under their subscriber's data key" if cnics else ""))
    _refuse_failed(failed + unopened)


def _refuse_failed(failed: list[int]) -> None:
    if failed:
        shown = ", ".join(map(str, failed[:10])) + (" …" if len(failed) > 10 else "")
        raise CliError(f"{len(failed)} password(s) would not open with this key ring (subscriber ids {shown}): "
                       "set them again with cloudos subscriber set-password")


def status(ctx: Ctx, args: argparse.Namespace) -> None:
    head = ScriptDirectory.from_config(_config()).get_current_head()
    current = _current(ctx)
    with ctx.read() as conn:
        version = conn.execute(text("SHOW server_version")).scalar_one()
    ctx.emit({"current": current, "head": head, "up_to_date": current == head, "server_version": version},
             [f"PostgreSQL {version}", f"schema revision {current or '(none)'}, head {head}",
              "up to date" if current == head else "migration needed: cloudos db migrate"])


def pg_dump_path() -> str:
    """The newest Debian pg_dump, else one on PATH; CliError when there is none."""
    found = sorted(glob.glob(PG_DUMP_GLOB), key=lambda p: [int(n) for n in re.findall(r"\d+", p)])
    path = found[-1] if found else shutil.which("pg_dump")
    if path is None:
        raise CliError(f"pg_dump not found (neither {PG_DUMP_GLOB} nor on PATH): install postgresql-client")
    return path


def _roles(ctx: Ctx, dump: str) -> list[str]:
    """CREATE ROLE for each role the dump's grants name: roles are global, so pg_dump leaves them out."""
    named = sorted(set(re.findall(r"^(?:GRANT|REVOKE) .* (?:TO|FROM) (\w+);$", dump, re.M)) - {"PUBLIC"})
    with ctx.read() as conn:
        rows = conn.execute(text("SELECT rolname, rolcanlogin, rolinherit, rolbypassrls FROM pg_roles"
                                 " WHERE rolname = ANY(:names) AND NOT rolsuper ORDER BY rolname"),
                            {"names": named}).all()
    return [f"CREATE ROLE {name} {'LOGIN' if login else 'NOLOGIN'}{'' if inherit else ' NOINHERIT'}"
            f"{' BYPASSRLS' if bypass else ''};" for name, login, inherit, bypass in rows]


def dump_schema(ctx: Ctx) -> str:
    """The database's schema as `pg_dump --schema-only --no-owner` prints it, without what varies
    between runs and machines, and with the roles its grants name. CliError if pg_dump fails."""
    params = conninfo_to_dict(database_url())
    env = dict(os.environ)
    password = params.pop("password", None)
    if password is not None:  # in the environment, not in argv where ps shows it
        env["PGPASSWORD"] = str(password)
    env.setdefault("PGCONNECT_TIMEOUT", "10")
    r = subprocess.run([pg_dump_path(), "--schema-only", "--no-owner", f"--exclude-table={_MONTH_PARTITIONS}",
                        "--dbname", make_conninfo("", **params)],
                       env=env, capture_output=True, text=True, stdin=subprocess.DEVNULL)
    if r.returncode != 0:
        lines = (r.stderr or r.stdout).strip().splitlines() or ["(no output)"]
        raise CliError(f"pg_dump failed ({r.returncode}): {lines[0]}")
    kept = [line for line in r.stdout.splitlines() if not _NOISE.match(line)]
    body = re.sub(r"\n{3,}", "\n\n", "\n".join(kept)).strip("\n")
    roles = _roles(ctx, body)
    head = ["-- The schema as schema/versions leave it: `cloudos db schema --write` writes this file,",
            "-- and tests/integration/test_schema_current.py holds it equal to a freshly migrated database.",
            "-- Monthly partitions (<parent>_yYYYYmMM) are left out: which exist depends on the day.",
            "", "--", "-- Roles named by the grants below (global objects, created by 0001)", "--", "", *roles, ""]
    return "\n".join(head) + "\n" + body + "\n"


def schema(ctx: Ctx, args: argparse.Namespace) -> None:
    sql_text = dump_schema(ctx)
    if args.write:
        changed = not CURRENT_SQL.exists() or CURRENT_SQL.read_text() != sql_text
        CURRENT_SQL.write_text(sql_text)
        ctx.emit({"path": str(CURRENT_SQL), "changed": changed},
                 f"{'wrote' if changed else 'unchanged:'} {CURRENT_SQL}")
    elif ctx.json:
        ctx.emit({"sql": sql_text}, sql_text)
    else:
        print(sql_text, end="")


def create_login(ctx: Ctx, args: argparse.Namespace) -> None:
    group = args.role if args.role.startswith("cloudos_") else f"cloudos_{args.role}"
    if group not in roles.GROUPS:
        raise UsageError(f"ROLE is one of {', '.join(roles.GROUPS)} (or radius, worker, admin, metrics), "
                         f"not {args.role!r}")
    if group == args.name or args.name in roles.GROUPS:
        raise UsageError(f"{args.name!r} is a group role: name the login something else")
    if not args.password_stdin:
        raise UsageError("the password is read from standard input: add --password-stdin")
    password = read_secret("login password")
    with ctx.tx() as conn:
        found = roles.existing(conn, args.name)
        if found is not None and found.rolsuper:
            raise CliError(f"role {args.name!r} is a superuser: a program's login must not be one")
        created = roles.create_login(conn, group, args.name, password)
        ctx.audit(conn, action="db.create_login", target=f"role:{args.name}", tenant_id=None,
                  before=None if created else {"login": args.name},
                  after={"login": args.name, "role": group})
    ctx.emit({"login": args.name, "role": group, "created": created},
             f"login {args.name} {'created' if created else 'updated'}, member of {group}")


def logins(ctx: Ctx, args: argparse.Namespace) -> None:
    with ctx.read() as conn:
        rows = [dict(r._mapping) for r in roles.logins(conn)]
    ctx.emit(rows, table(rows, ["login", "role"]))


def register(sub: Subparsers) -> None:
    db = sub.add_parser("db", help="schema migrations")
    dsub = db.add_subparsers(dest="action", required=True, metavar="ACTION")
    leaf(dsub, "migrate", "bring the schema to the latest revision (idempotent)", migrate)
    leaf(dsub, "status", "show the schema revision", status)
    leaf(dsub, "reencrypt", "seal old-format subscriber passwords again, bound to tenant and username, and move "
         "old-format CNICs under their subscriber's data key (idempotent; cloudos db migrate runs it)", reencrypt)
    p = leaf(dsub, "schema", "print the schema as pg_dump shows it, stable across runs (schema/current.sql)",
             schema)
    p.add_argument("--write", action="store_true", help="write it to schema/current.sql instead")
    p = leaf(dsub, "create-login", "create (or re-password) a program's login role in a cloudos group role; "
             "run as the database owner", create_login)
    p.add_argument("role", metavar="ROLE", help="cloudos_radius, cloudos_worker, cloudos_admin or cloudos_metrics "
                                                "(or radius, worker, admin, metrics)")
    p.add_argument("name", metavar="NAME", help="the login role's name")
    p.add_argument("--password-stdin", action="store_true", help="read the password from standard input")
    leaf(dsub, "logins", "list the login roles of the cloudos group roles", logins)
