"""The admin audit trail's rows: the chain lock, its last link, appending and walking.

The chain itself (hashing, redaction, verification) is cloudos.audit's; this
module only reads and writes admin_audit, which the database keeps append-only.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import Connection, Result, func, insert, select
from sqlalchemy.engine import Row

from cloudos.store.tables import admin_audit as a


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


def append(conn: Connection, *, at: datetime, actor: str, tenant_id: int | None, action: str, target: str,
           before: dict[str, Any] | None, after: dict[str, Any] | None, prev_hash: str, hash_: str) -> int:
    """Insert one row (a None before/after is SQL NULL); returns its id."""
    return int(conn.execute(
        insert(a)
        .values(at=at, actor=actor, tenant_id=tenant_id, action=action, target=target, before=before, after=after,
                prev_hash=prev_hash, hash=hash_)
        .returning(a.c.id)
    ).scalar_one())


def chain(conn: Connection) -> Result[Any]:
    """Every row in id order, as the chain links them."""
    return conn.execute(
        select(a.c.id, a.c.at, a.c.actor, a.c.tenant_id, a.c.action, a.c.target, a.c.before, a.c.after,
               a.c.prev_hash, a.c.hash)
        .order_by(a.c.id)
    )


def latest(conn: Connection, limit: int) -> Sequence[Row[Any]]:
    """The newest ``limit`` rows, newest first (id, at, actor, action, target)."""
    return conn.execute(
        select(a.c.id, a.c.at, a.c.actor, a.c.action, a.c.target).order_by(a.c.id.desc()).limit(limit)
    ).all()
