"""The admin audit trail's rows: the chain lock, its last link, appending and walking.

The chain itself (keying, hashing, sealing personal data, verification) is
cloudos.audit's; this module only reads and writes admin_audit, which the
database keeps append-only and stamps with the login that wrote each row.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import Connection, Result, func, insert, or_, select
from sqlalchemy.engine import Row

from cloudos.store.tables import admin_audit as a
from cloudos.store.tables import tenant


def lock_chain(conn: Connection, key: int) -> None:
    """Take the transaction-scoped advisory lock ``key`` that serialises writers of the chain."""
    conn.execute(select(func.pg_advisory_xact_lock(key)))


def last_hash(conn: Connection) -> str | None:
    """The hash of the newest row, or None on an empty trail."""
    value = conn.execute(select(a.c.hash).order_by(a.c.id.desc()).limit(1)).scalar()
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
