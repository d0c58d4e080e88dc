"""The admin audit trail's rows: the chain lock, its last link, appending and walking.

The chain itself (keying, hashing, sealing personal data, verification) is
cloudos.audit's; this module only reads and writes admin_audit, which the
database keeps append-only and stamps with the login that wrote each row.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import Connection, Result, func, insert, or_, select
from sqlalchemy.engine import Row

from cloudos.store._util import driver_connection
from cloudos.store.tables import admin_audit as a
from cloudos.store.tables import tenant


def lock_chain(conn: Connection, key: int) -> None:
    """Take the transaction-scoped advisory lock ``key`` that serialises writers of the chain."""
    conn.execute(select(func.pg_advisory_xact_lock(key)))


def last_hash(conn: Connection) -> str | None:
    """The hash of the newest row, or None on an empty trail: through cloudos_audit_head() (schema
    0018), since row-level security shows an operator only its own tenant's rows, not the chain's head."""
    value = conn.execute(select(func.cloudos_audit_head())).scalar()
    return None if value is None else str(value)


def clock(conn: Connection) -> datetime:
    """The database's clock_timestamp(): each row's ``at`` comes from one clock for every writer."""
    at: datetime = conn.execute(select(func.clock_timestamp())).scalar_one()
    return at


def login(conn: Connection) -> str:
    """The PostgreSQL login of this connection (session_user): what the insert trigger stamps on the row."""
    return str(conn.execute(select(func.session_user())).scalar_one())


def append(conn: Connection, *, at: datetime, actor: str, db_user: str, tenant_id: int | None, action: str,
           target: str, before: dict[str, Any] | None, after: dict[str, Any] | None, changed: list[str],
           key_id: str, prev_hash: str, hash_: str) -> int:
    """Insert one version-2 row (a None before/after is SQL NULL); returns its id.
    ``db_user`` is overwritten by the database's trigger; a row signed for another login fails verify."""
    return int(conn.execute(
        insert(a)
        .values(at=at, actor=actor, db_user=db_user, tenant_id=tenant_id, action=action, target=target,
                before=before, after=after, changed=changed, version=2, key_id=key_id, prev_hash=prev_hash,
                hash=hash_)
        .returning(a.c.id)
    ).scalar_one())


@dataclass(frozen=True, slots=True)
class NewRow:
    """A version-2 row for :func:`append_many` (a None before/after is SQL NULL)."""

    at: datetime
    actor: str
    db_user: str
    tenant_id: int | None
    action: str
    target: str
    before: dict[str, Any] | None
    after: dict[str, Any] | None
    changed: list[str]
    key_id: str
    prev_hash: str
    hash: str


#: Rows per statement of append_many.
APPEND_BATCH = 5_000

APPEND_MANY = """
INSERT INTO admin_audit (at, actor, db_user, tenant_id, action, target, before, after, changed, version, key_id,
                         prev_hash, hash)
SELECT r.at, r.actor, r.db_user, r.tenant_id, r.action, r.target, r.before::jsonb, r.after::jsonb,
       ARRAY(SELECT jsonb_array_elements_text(r.changed::jsonb)), 2, r.key_id, r.prev_hash, r.hash
  FROM unnest(CAST(%(at)b AS timestamptz[]), CAST(%(actor)b AS text[]), CAST(%(db_user)b AS text[]),
              CAST(%(tenant_id)b AS bigint[]), CAST(%(action)b AS text[]), CAST(%(target)b AS text[]),
              CAST(%(before)b AS text[]), CAST(%(after)b AS text[]), CAST(%(changed)b AS text[]), CAST(%(key_id)b AS text[]),
              CAST(%(prev_hash)b AS text[]), CAST(%(hash)b AS text[]))
       WITH ORDINALITY AS r(at, actor, db_user, tenant_id, action, target, before, after, changed, key_id,
                            prev_hash, hash, n)
 ORDER BY r.n
"""


def append_many(conn: Connection, rows: Sequence[NewRow]) -> None:
    """Insert version-2 rows in the order given (ids follow it, as the chain links them),
    APPEND_BATCH per statement, the arrays in binary (see store.bulk). ``db_user`` is overwritten by the
    database's trigger, as in append()."""
    def js(v: Any) -> str | None:
        return None if v is None else json.dumps(v, ensure_ascii=False)

    cur = driver_connection(conn).cursor()
    for start in range(0, len(rows), APPEND_BATCH):
        batch = rows[start:start + APPEND_BATCH]
        cur.execute(APPEND_MANY, {
            "at": [r.at for r in batch], "actor": [r.actor for r in batch], "db_user": [r.db_user for r in batch],
            "tenant_id": [r.tenant_id for r in batch], "action": [r.action for r in batch],
            "target": [r.target for r in batch], "before": [js(r.before) for r in batch],
            "after": [js(r.after) for r in batch], "changed": [json.dumps(r.changed) for r in batch],
            "key_id": [r.key_id for r in batch], "prev_hash": [r.prev_hash for r in batch],
            "hash": [r.hash for r in batch],
        })
    cur.close()


def chain(conn: Connection) -> Result[Any]:
    """Every row in id order, as the chain links them."""
    return conn.execute(
        select(a.c.id, a.c.at, a.c.actor, a.c.db_user, a.c.tenant_id, a.c.action, a.c.target, a.c.before,
               a.c.after, a.c.changed, a.c.version, a.c.key_id, a.c.prev_hash, a.c.hash)
        .order_by(a.c.id)
    )


def head(conn: Connection, tenant_id: int | None) -> tuple[int, str, int] | None:
    """(id, hash, rows up to it) of the newest row, of one tenant's rows when ``tenant_id`` is given;
    None when there is no such row."""
    q = select(a.c.id, a.c.hash)
    if tenant_id is not None:
        q = q.where(a.c.tenant_id == tenant_id)
    row = conn.execute(q.order_by(a.c.id.desc()).limit(1)).first()
    if row is None:
        return None
    return int(row.id), str(row.hash), count(conn, tenant_id, int(row.id))


def count(conn: Connection, tenant_id: int | None, up_to: int) -> int:
    """How many rows (of one tenant's, when ``tenant_id`` is given) have an id up to ``up_to``."""
    q = select(func.count()).select_from(a).where(a.c.id <= up_to)
    if tenant_id is not None:
        q = q.where(a.c.tenant_id == tenant_id)
    return int(conn.execute(q).scalar_one())


def hash_of(conn: Connection, row_id: int, tenant_id: int | None) -> str | None:
    """The hash of row ``row_id`` (when it is one of tenant ``tenant_id``'s, if given); None if there is none."""
    q = select(a.c.hash).where(a.c.id == row_id)
    if tenant_id is not None:
        q = q.where(a.c.tenant_id == tenant_id)
    value = conn.execute(q).scalar()
    return None if value is None else str(value)


def latest(conn: Connection, limit: int) -> Sequence[Row[Any]]:
    """The newest ``limit`` rows, newest first (id, at, actor, db_user, action, target, changed)."""
    return conn.execute(
        select(a.c.id, a.c.at, a.c.actor, a.c.db_user, a.c.action, a.c.target, a.c.changed)
        .order_by(a.c.id.desc()).limit(limit)
    ).all()


#: The targets that name a subscriber: its own rows and the disconnects of its sessions by name.
USER_TARGETS = ("subscriber", "session")


def listing(conn: Connection, limit: int, *, tenant_id: int | None = None, action: str | None = None,
            user: str | None = None, since: datetime | None = None) -> Sequence[Row[Any]]:
    """The newest ``limit`` rows, newest first, as stored (before and after as the trail sealed them),
    with their tenant's name as ``tenant`` and time zone as ``timezone`` (None for rows of no tenant);
    only tenant ``tenant_id``'s, those whose action starts with ``action``, whose target is subscriber
    ``user`` (``subscriber:TENANT/USER`` or ``session:TENANT/USER``), at or after ``since``, when given."""
    q = (select(a.c.id, a.c.at, a.c.actor, a.c.db_user, a.c.tenant_id, tenant.c.name.label("tenant"),
                tenant.c.timezone, a.c.action, a.c.target, a.c.changed, a.c.before, a.c.after)
         .outerjoin(tenant, tenant.c.id == a.c.tenant_id))
    if tenant_id is not None:
        q = q.where(a.c.tenant_id == tenant_id)
    if action:
        q = q.where(a.c.action.startswith(action, autoescape=True))
    if user is not None:
        # Tenant names never hold '/' (tenant_name_check): what follows the first one is the username.
        name = func.substr(a.c.target, func.strpos(a.c.target, "/") + 1)
        q = q.where(func.strpos(a.c.target, "/") > 0, name == user,
                    or_(*(a.c.target.startswith(f"{kind}:") for kind in USER_TARGETS)))
    if since is not None:
        q = q.where(a.c.at >= since)
    return conn.execute(q.order_by(a.c.id.desc()).limit(limit)).all()
