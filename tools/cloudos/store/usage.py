"""Usage counters: one pre-aggregated row per subscriber per billing period."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import Connection, select
from sqlalchemy.engine import Row

from cloudos.store.tables import usage_counter as u


def current(conn: Connection, subscriber_id: int, now: datetime) -> Row[Any] | None:
    """The counter of the period containing ``now``, or None."""
    return conn.execute(
        select(u.c.period_start, u.c.period_end, u.c.input_octets, u.c.output_octets, u.c.session_time)
        .where(u.c.subscriber_id == subscriber_id, u.c.period_start <= now, u.c.period_end > now)
    ).first()


def of_period(conn: Connection, subscriber_id: int, period_start: datetime) -> Row[Any] | None:
    """The counter of the period starting at ``period_start``, or None."""
    return conn.execute(
        select(u.c.input_octets, u.c.output_octets, u.c.session_time)
        .where(u.c.subscriber_id == subscriber_id, u.c.period_start == period_start)
    ).first()


def history(conn: Connection, subscriber_id: int, limit: int = 12) -> Sequence[Row[Any]]:
    """The latest ``limit`` counters, newest first."""
    return conn.execute(
        select(u.c.period_start, u.c.period_end, u.c.input_octets, u.c.output_octets, u.c.session_time)
        .where(u.c.subscriber_id == subscriber_id)
        .order_by(u.c.period_start.desc())
        .limit(limit)
    ).all()
