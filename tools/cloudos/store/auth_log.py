"""The auth log: what radiusd decided for each Access-Request."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from sqlalchemy import Connection, select
from sqlalchemy.engine import Row

from cloudos.store.tables import auth_log as a


def recent(conn: Connection, tenant_id: int, username: str, limit: int = 5) -> Sequence[Row[Any]]:
    """The latest ``limit`` logins of ``username``, newest first (at, outcome, reason, auth_method,
    calling_station_id)."""
    return conn.execute(
        select(a.c.at, a.c.outcome, a.c.reason, a.c.auth_method, a.c.calling_station_id)
        .where(a.c.tenant_id == tenant_id, a.c.username == username)
        .order_by(a.c.at.desc())
        .limit(limit)
    ).all()
