"""Tenants (ISPs): look-up, add, list, partial update."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from sqlalchemy import Connection, func, insert, select, update
from sqlalchemy.engine import Row

from cloudos.store._util import columns_of
from cloudos.store.tables import nas, plan, session_open, subscriber, tenant


def by_name(conn: Connection, name: str, *, lock: bool = False) -> Row[Any] | None:
    """The tenant named ``name`` (``lock``: FOR UPDATE), or None."""
    q = select(tenant).where(tenant.c.name == name)
    if lock:
        q = q.with_for_update()
    return conn.execute(q).first()


def name_of(conn: Connection, tenant_id: int) -> str | None:
    """The name of tenant ``tenant_id``, or None (none such, or not visible to this login)."""
    value = conn.execute(select(tenant.c.name).where(tenant.c.id == tenant_id)).scalar()
    return None if value is None else str(value)


def first(conn: Connection, limit: int) -> Sequence[Row[Any]]:
    """Up to ``limit`` tenants in id order (two tell "the only one" from "several")."""
    return conn.execute(select(tenant).order_by(tenant.c.id).limit(limit)).all()


def exists(conn: Connection, name: str) -> bool:
    """Whether a tenant named ``name`` exists."""
    return conn.execute(select(1).where(tenant.c.name == name)).first() is not None


def add(conn: Connection, *, name: str, display_name: str | None, timezone: str, interim_interval: int) -> Row[Any]:
    """Insert a tenant (the other settings take the schema's defaults); returns the new row."""
    return conn.execute(
        insert(tenant)
        .values(name=name, display_name=display_name, timezone=timezone, interim_interval=interim_interval)
        .returning(tenant)
    ).one()


def all_by_name(conn: Connection) -> Sequence[Row[Any]]:
    """Every tenant, by name."""
    return conn.execute(select(tenant).order_by(tenant.c.name)).all()


def change(conn: Connection, tenant_id: int, changes: Mapping[str, Any]) -> Row[Any]:
    """Set these columns of tenant ``tenant_id``; returns the row as it is now.
    Raises ValueError for a key that is no tenant column, NoResultFound when there is no such tenant."""
    return conn.execute(
        update(tenant).where(tenant.c.id == tenant_id).values(columns_of(tenant, changes)).returning(tenant)
    ).one()


def counts(conn: Connection, tenant_id: int) -> dict[str, int]:
    """How many NAS, plans and subscribers tenant ``tenant_id`` has, and sessions open now
    (``nas``, ``plans``, ``subscribers``, ``online_sessions``)."""
    def n(table: Any, *where: Any) -> Any:
        return select(func.count()).select_from(table).where(table.c.tenant_id == tenant_id, *where).scalar_subquery()

    row = conn.execute(select(n(nas).label("nas"), n(plan).label("plans"), n(subscriber).label("subscribers"),
                              n(session_open, session_open.c.stopped_at.is_(None)).label("online_sessions"))).one()
    return {k: int(v) for k, v in row._mapping.items()}
