"""A subscriber's consent to marketing and to analytics (schema 0020): statements, newest first."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from sqlalchemy import Connection, insert, select
from sqlalchemy.engine import Row

from cloudos.store.tables import consent as c

PURPOSES = ("marketing", "analytics")


def record(conn: Connection, tenant_id: int, subscriber_id: int, purpose: str, granted: bool, source: str) -> Row[Any]:
    """A new statement (the time and the login are the database's); returns it."""
    return conn.execute(insert(c).values(tenant_id=tenant_id, subscriber_id=subscriber_id, purpose=purpose,
                                         granted=granted, source=source).returning(c)).one()


def history(conn: Connection, subscriber_id: int) -> Sequence[Row[Any]]:
    """Every statement of the subscriber, oldest first."""
    return conn.execute(select(c).where(c.c.subscriber_id == subscriber_id).order_by(c.c.at, c.c.id)).all()


def current(conn: Connection, subscriber_id: int) -> dict[str, Row[Any] | None]:
    """The newest statement per purpose (None: never asked, which is no consent)."""
    now: dict[str, Row[Any] | None] = dict.fromkeys(PURPOSES)
    for row in history(conn, subscriber_id):
        now[row.purpose] = row
    return now
