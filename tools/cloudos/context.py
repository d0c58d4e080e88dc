"""What every command shares: the database, the key ring, the actor, tenant resolution, output."""

from __future__ import annotations

import getpass
import json
import os
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import date, datetime
from typing import Any

from sqlalchemy import Connection, Engine, create_engine, text
from sqlalchemy.engine import Row
from sqlalchemy.exc import ArgumentError

from cloudos import audit, show
from cloudos.errors import CliError, UsageError
from cloudos.store import tenants
from rlm_cloudos.crypto import KeyRing
from rlm_cloudos.errors import KeyRingError


#: Narrow row-level security to one tenant until the transaction ends (transaction-local: safe
#: behind a transaction-pooling PgBouncer).
_SCOPE = text("SELECT set_config('cloudos.tenant', :tenant, true)")


@dataclass(frozen=True)
class Me:
    """The login the CLI runs as: an operator's role (platform, admin, billing, support, auditor) and
    tenant (None for the platform), or role None for a program's login or the schema owner."""

    login: str
    role: str | None
    tenant: str | None


#: Audited actions whose change can alter any subscriber's authorize decision.
TENANT_WIDE = frozenset({"tenant", "plan", "nas"})


def sqlalchemy_url(url: str) -> str:
    """postgresql://… → postgresql+psycopg://… (psycopg 3 driver)."""
    for prefix in ("postgresql://", "postgres://"):
        if url.startswith(prefix):
            return "postgresql+psycopg://" + url[len(prefix):]
    return url


def database_url() -> str:
    url = os.environ.get("CLOUDOS_DATABASE_URL", "")
    if not url:
        raise CliError("CLOUDOS_DATABASE_URL is not set (for the local stack: . .cloudos/stack.env)")
    return url


@dataclass
class Ctx:
    """What one command runs with. ``now`` (aware, UTC) is the command's one reading of the clock,
    taken by ``cloudos.cli.main``: everything below it is handed this instant, never reads its own."""

    now: datetime
    json: bool = False
    _engine: Engine | None = None
    _keyring: KeyRing | None = None
    _stale: set[tuple[int, str | None]] = field(default_factory=set)
    #: Audit rows held by ``batched_audit`` until its block ends (None: ``audit`` writes at once).
    _batch: list[audit.Entry] | None = None
    _whoami: Me | None = None

    def __post_init__(self) -> None:
        if self.now.tzinfo is None:
            raise ValueError("Ctx.now must be an aware datetime")

    @property
    def engine(self) -> Engine:
        if self._engine is None:
            url = database_url()
            if not url.startswith(("postgresql://", "postgres://", "postgresql+psycopg://")):
                raise CliError("CLOUDOS_DATABASE_URL is not a PostgreSQL URL: expected "
                               "postgresql://USER@HOST:PORT/DATABASE")
            try:
                self._engine = create_engine(
                    sqlalchemy_url(url),
                    pool_pre_ping=False,
                    connect_args={"connect_timeout": 5, "application_name": "cloudos-cli"},
                )
            except (ArgumentError, ValueError):
                raise CliError("CLOUDOS_DATABASE_URL is not a PostgreSQL URL: expected "
                               "postgresql://USER@HOST:PORT/DATABASE") from None
        return self._engine

    @property
    def keyring(self) -> KeyRing:
        if self._keyring is None:
            path = os.environ.get("CLOUDOS_KEYRING", "")
            if not path:
                raise CliError("CLOUDOS_KEYRING is not set (the 0600 key ring file)")
            try:
                self._keyring = KeyRing.load(path)
            except KeyRingError as exc:
                raise CliError(str(exc)) from None
        return self._keyring

    @property
    def whoami(self) -> Me:
        """This login as an operator (schema 0018): its role (None: no operator) and tenant."""
        if self._whoami is None:
            from cloudos.store import operators

            with self.read() as conn:
                me = operators.whoami(conn)
                name = tenants.name_of(conn, me.tenant_id) if me.tenant_id is not None else None
            self._whoami = Me(login=me.login, role=me.role, tenant=name)
        return self._whoami

    def require_whole_trail(self, what: str) -> None:
        """A tenant operator sees its own tenant's audit rows only: ``what`` needs them all."""
        me = self.whoami
        if me.tenant is not None:
            raise CliError(f"{what} needs the whole audit trail, which a {me.role} operator of tenant {me.tenant} "
                           "does not see: a platform operator runs it")

    @property
    def actor(self) -> str:
        actor = os.environ.get("CLOUDOS_ACTOR")
        if actor:
            return actor
        try:
            return getpass.getuser()
        except Exception:
            return f"uid:{os.getuid()}"

    @contextmanager
    def tx(self) -> Iterator[Connection]:
        """One transaction: the change and its audit row commit together or not at all.
        Once it has committed, the Redis snapshots it made stale are invalidated."""
        self._stale: set[tuple[int, str | None]] = set()
        with self.engine.begin() as conn:
            yield conn
        for tenant_id, username in sorted(self._stale, key=lambda x: (x[0], x[1] or "")):
            self.invalidate(tenant_id, username)
        self._stale = set()

    def discard_stale(self) -> None:
        """Forget what a rolled-back transaction (a dry run) marked as changed."""
        self._stale = set()

    def stale(self, tenant_id: int, username: str | None = None) -> None:
        """Mark a tenant (and one subscriber) as changed by the current transaction."""
        self._stale.add((tenant_id, username))

    @contextmanager
    def read(self) -> Iterator[Connection]:
        with self.engine.connect() as conn:
            yield conn

    def audit_keys(self, conn: Connection) -> audit.AuditKeys:
        """The trail's keys, opening CNICs under data keys on ``conn`` (the change's transaction)."""
        from cloudos import identity

        ring = self.keyring
        return audit.AuditKeys(ring, open_cnic=lambda blob: identity.open_cnic(conn, ring, blob))

    def audit(self, conn: Connection, *, action: str, target: str, tenant_id: int | None,
              before: dict[str, Any] | None, after: dict[str, Any] | None) -> None:
        if self._batch is not None:
            self._batch.append(audit.Entry(tenant_id=tenant_id, action=action, target=target, before=before,
                                           after=after))
        else:
            audit.record(conn, self.audit_keys(conn), actor=self.actor, tenant_id=tenant_id, action=action,
                         target=target, before=before, after=after)
        if tenant_id is not None and action.split(".")[0] in TENANT_WIDE:
            self.stale(tenant_id)

    @contextmanager
    def batched_audit(self, conn: Connection) -> Iterator[None]:
        """Within it, ``audit`` holds its rows; at the end they are written in order, in one go
        (audit.record_many: one lock, one clock reading), the chain as row-by-row writing leaves it."""
        self._batch = []
        try:
            yield
            audit.record_many(conn, self.audit_keys(conn), actor=self.actor, entries=self._batch)
        finally:
            self._batch = None

    def invalidate(self, tenant_id: int, username: str | None = None) -> None:
        """After a committed change: the subscriber's snapshot and lockout go (or, for a tenant-wide
        change, every snapshot of the tenant goes stale).
        Redis out of reach is a warning, not a failure: snapshots then expire on their own."""
        from rlm_cloudos.store import live  # only a change needs Redis (and its import)

        if not live.invalidate(os.environ.get("CLOUDOS_REDIS_URL", ""), tenant_id, username):
            print("cloudos: warning: Redis unreachable: cached authorize snapshots of this tenant expire on their "
                  "own (backend_down_cache_seconds)", file=sys.stderr)

    # ------------------------------------------------------------------ tenants
    def tenant(self, conn: Connection, name: str | None) -> Row[Any]:
        """The tenant named ``name``, or the only tenant when ``name`` is None (an operator of a
        tenant sees only its own). From here to the end of the transaction, row-level security
        shows this tenant's rows only (schema 0018's ``cloudos.tenant``)."""
        if name is not None:
            row = tenants.by_name(conn, name)
            if row is None:
                raise CliError(f"no tenant named {name!r}")
        else:
            rows = tenants.first(conn, 2)
            if not rows:
                raise CliError("no tenant exists yet: cloudos tenant add NAME")
            if len(rows) > 1:
                raise UsageError("more than one tenant exists: say which with --tenant NAME")
            row = rows[0]
        conn.execute(_SCOPE, {"tenant": str(row.id)})
        return row

    # ------------------------------------------------------------------ output
    def emit(self, data: Any, human: str | list[str]) -> None:
        """Print ``human`` text, or ``data`` as JSON under --json."""
        if self.json:
            print(json.dumps(data, indent=2, default=_json_value, ensure_ascii=False))
        else:
            print(human if isinstance(human, str) else "\n".join(human))


def _json_value(value: Any) -> Any:
    """What --json writes for a value json cannot: an instant as show.utc writes it (UTC, ``Z``),
    a day as ISO, anything else (Decimal, inet, macaddr) as its text."""
    if isinstance(value, datetime):
        return show.utc(value)
    if isinstance(value, date):
        return value.isoformat()
    return str(value)


def read_secret(what: str) -> str:
    """One secret from standard input (first line), never from argv; a prompt on a terminal."""
    if sys.stdin is None:
        raise UsageError(f"{what} is read from standard input, which is closed")
    if sys.stdin.isatty():
        value = getpass.getpass(f"{what}: ")
    else:
        value = sys.stdin.readline().rstrip("\r\n")
    if not value:
        raise UsageError(f"{what} on standard input is empty")
    if len(value) > 128:
        raise UsageError(f"{what} is longer than 128 characters (RADIUS PAP allows 128)")
    return value


def table(rows: list[dict[str, Any]], columns: list[str]) -> list[str]:
    """A plain aligned text table."""
    if not rows:
        return ["(none)"]
    cells = [[("" if r.get(c) is None else str(r.get(c))) for c in columns] for r in rows]
    widths = [max(len(c), *(len(row[i]) for row in cells)) for i, c in enumerate(columns)]
    lines = ["  ".join(c.upper().ljust(w) for c, w in zip(columns, widths)).rstrip()]
    lines += ["  ".join(v.ljust(w) for v, w in zip(row, widths)).rstrip() for row in cells]
    return lines
