"""Accounting sessions as the tools see them: listing, matching for a disconnect, reaping."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any, NamedTuple

from sqlalchemy import Connection, func, or_, select, text
from sqlalchemy.engine import Row

from cloudos.store.tables import nas
from cloudos.store.tables import session_open as o

#: cloudos_reap_sessions (schema 0011): closes sessions silent for two interim intervals plus a margin
#: and purges closed ones not heard of for the keep time, as of ``now`` or, while a radiusd's journal
#: still holds accounting, as of when it was last caught up (``as_of``); forgets radiusd silent a day.
REAP = text("SELECT reaped, purged, as_of, forgotten FROM cloudos_reap_sessions(:now)")


class Reaped(NamedTuple):
    """What one reaper run did."""

    reaped: int
    purged: int
    #: The "now" staleness was judged at: earlier than the run's while a journal has a backlog.
    as_of: datetime
    #: radiusd journals (host:directory) not heard from for a day, no longer waited for.
    forgotten: tuple[str, ...]

_LISTED = (o.c.acct_unique_id, o.c.acct_session_id, o.c.username, o.c.started_at, o.c.updated_at, o.c.stopped_at,
           func.host(o.c.framed_ip).label("framed_ip"), o.c.calling_station_id, o.c.nas_port_id, o.c.input_octets,
           o.c.output_octets, o.c.session_time, o.c.terminate_cause, nas.c.name.label("nas"))


def listing(conn: Connection, tenant_id: int, *, online: bool = False, username: str | None = None,
            limit: int = 100) -> Sequence[Row[Any]]:
    """Tenant ``tenant_id``'s latest ``limit`` sessions, newest first, with their NAS's name as ``nas``
    and framed_ip as text; only open ones if ``online``, only ``username``'s if given."""
    q = select(*_LISTED).outerjoin(nas, nas.c.id == o.c.nas_id).where(o.c.tenant_id == tenant_id)
    if online:
        q = q.where(o.c.stopped_at.is_(None))
    if username:
        q = q.where(o.c.username == username)
    return conn.execute(q.order_by(o.c.started_at.desc()).limit(limit)).all()


def open_matching(conn: Connection, tenant_id: int, target: str, *, lock: bool = False) -> Sequence[Row[Any]]:
    """Tenant ``tenant_id``'s open sessions whose username, Acct-Session-Id or Acct-Unique-Session-Id
    is ``target`` (acct_unique_id, username, acct_session_id, subscriber_id); ``lock``: FOR UPDATE, so
    two disconnects of one session queue one request."""
    q = (select(o.c.acct_unique_id, o.c.username, o.c.acct_session_id, o.c.subscriber_id)
         .where(o.c.tenant_id == tenant_id, o.c.stopped_at.is_(None),
                or_(o.c.username == target, o.c.acct_session_id == target, o.c.acct_unique_id == target))
         .order_by(o.c.started_at))
    if lock:
        q = q.with_for_update()
    return conn.execute(q).all()


def open_of_subscriber(conn: Connection, subscriber_id: int) -> Sequence[Row[Any]]:
    """Subscriber ``subscriber_id``'s open sessions, oldest first, with their NAS's name as ``nas``
    and framed_ip as text."""
    return conn.execute(
        select(o.c.acct_unique_id, o.c.acct_session_id, o.c.started_at, o.c.updated_at,
               func.host(o.c.framed_ip).label("framed_ip"), o.c.calling_station_id, o.c.input_octets,
               o.c.output_octets, nas.c.name.label("nas"))
        .outerjoin(nas, nas.c.id == o.c.nas_id)
        .where(o.c.subscriber_id == subscriber_id, o.c.stopped_at.is_(None))
        .order_by(o.c.started_at)
    ).all()


def reap(conn: Connection, now: datetime) -> Reaped:
    """Close stale sessions and purge old closed ones as of ``now`` (or earlier: see REAP)."""
    row = conn.execute(REAP, {"now": now}).one()
    return Reaped(int(row.reaped), int(row.purged), row.as_of, tuple(row.forgotten))
