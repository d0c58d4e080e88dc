"""Service plans: look-up, add, list, partial update."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from sqlalchemy import Connection, delete, func, insert, select, update
from sqlalchemy.engine import Row

from cloudos.store._util import columns_of
from cloudos.store.tables import plan, subscriber, tenant


def by_name(conn: Connection, tenant_id: int, name: str, *, lock: bool = False) -> Row[Any] | None:
    """Tenant ``tenant_id``'s plan ``name`` (``lock``: FOR UPDATE), or None."""
    q = select(plan).where(plan.c.tenant_id == tenant_id, plan.c.name == name)
    if lock:
        q = q.with_for_update()
    return conn.execute(q).first()


def by_id(conn: Connection, plan_id: int) -> Row[Any] | None:
    """Plan ``plan_id``, or None."""
    return conn.execute(select(plan).where(plan.c.id == plan_id)).first()


def exists(conn: Connection, tenant_id: int, name: str) -> bool:
    """Whether tenant ``tenant_id`` has a plan named ``name``."""
    return conn.execute(select(1).where(plan.c.tenant_id == tenant_id, plan.c.name == name)).first() is not None


def add(conn: Connection, tenant_id: int, name: str, values: Mapping[str, Any]) -> Row[Any]:
    """Insert a plan with these columns (the rest take the schema's defaults); returns the new row.
    Raises ValueError for a key that is no plan column."""
    return conn.execute(
        insert(plan).values(tenant_id=tenant_id, name=name, **columns_of(plan, values)).returning(plan)
    ).one()


def listing(conn: Connection, tenant_id: int | None = None) -> Sequence[Row[Any]]:
    """Plans with their tenant's name as ``tenant`` and time zone as ``timezone`` and how many
    subscribers are on each as ``subscribers``, by tenant and name; only tenant ``tenant_id``'s if given."""
    on_it = select(func.count()).select_from(subscriber).where(subscriber.c.plan_id == plan.c.id).scalar_subquery()
    q = (select(plan, tenant.c.name.label("tenant"), tenant.c.timezone, on_it.label("subscribers"))
         .join(tenant, tenant.c.id == plan.c.tenant_id))
    if tenant_id is not None:
        q = q.where(plan.c.tenant_id == tenant_id)
    return conn.execute(q.order_by(tenant.c.name, plan.c.name)).all()


def change(conn: Connection, plan_id: int, changes: Mapping[str, Any]) -> Row[Any]:
    """Set these columns of plan ``plan_id``; returns the row as it is now.
    Raises ValueError for a key that is no plan column, NoResultFound when there is no such plan."""
    return conn.execute(
        update(plan).where(plan.c.id == plan_id).values(columns_of(plan, changes)).returning(plan)
    ).one()


def subscribers_on(conn: Connection, plan_id: int) -> dict[str, int]:
    """How many subscribers plan ``plan_id`` has, by status (only statuses that occur)."""
    rows = conn.execute(select(subscriber.c.status, func.count()).where(subscriber.c.plan_id == plan_id)
                        .group_by(subscriber.c.status).order_by(subscriber.c.status)).all()
    return {str(status): int(n) for status, n in rows}


def remove(conn: Connection, plan_id: int) -> Row[Any] | None:
    """Delete plan ``plan_id``; returns the row it was, or None. Raises IntegrityError while a
    subscriber refers to it (check subscribers_on first)."""
    return conn.execute(delete(plan).where(plan.c.id == plan_id).returning(plan)).first()
