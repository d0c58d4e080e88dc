"""Data requests and the holidays their deadlines skip (schema 0017)."""

from __future__ import annotations

from datetime import date, datetime
from typing import Any

from sqlalchemy import Connection, insert, select, update
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.engine import Row

from cloudos.store.tables import data_request, privacy_holiday, subscriber


def add_request(conn: Connection, tenant_id: int, subscriber_id: int, *, kind: str, received_on: date,
                note: str | None, actor: str) -> Row[Any]:
    return conn.execute(insert(data_request).values(
        tenant_id=tenant_id, subscriber_id=subscriber_id, kind=kind, received_on=received_on, note=note,
        created_by=actor).returning(data_request)).one()


def requests(conn: Connection, tenant_id: int, *, open_only: bool = False) -> list[Row[Any]]:
    q = (select(data_request, subscriber.c.username)
         .join(subscriber, subscriber.c.id == data_request.c.subscriber_id)
         .where(data_request.c.tenant_id == tenant_id).order_by(data_request.c.received_on, data_request.c.id))
    if open_only:
        q = q.where(data_request.c.closed_at.is_(None))
    return list(conn.execute(q).all())


def request_by_id(conn: Connection, tenant_id: int, request_id: int, *, lock: bool = False) -> Row[Any] | None:
    q = (select(data_request, subscriber.c.username)
         .join(subscriber, subscriber.c.id == data_request.c.subscriber_id)
         .where(data_request.c.tenant_id == tenant_id, data_request.c.id == request_id))
    if lock:
        q = q.with_for_update(of=data_request)
    return conn.execute(q).first()


def close(conn: Connection, request_id: int, *, outcome: str, actor: str, now: datetime) -> None:
    conn.execute(update(data_request).where(data_request.c.id == request_id)
                 .values(closed_at=now, closed_by=actor, outcome=outcome))


def holidays(conn: Connection, tenant_id: int) -> list[Row[Any]]:
    return list(conn.execute(select(privacy_holiday).where(privacy_holiday.c.tenant_id == tenant_id)
                             .order_by(privacy_holiday.c.day)).all())


def add_holiday(conn: Connection, tenant_id: int, day: date, name: str) -> bool:
    """Add a holiday; False when the day is listed already."""
    row = conn.execute(pg_insert(privacy_holiday).values(tenant_id=tenant_id, day=day, name=name)
                       .on_conflict_do_nothing().returning(privacy_holiday.c.day)).first()
    return row is not None


def remove_holiday(conn: Connection, tenant_id: int, day: date) -> bool:
    gone = conn.execute(privacy_holiday.delete().where(privacy_holiday.c.tenant_id == tenant_id,
                                                       privacy_holiday.c.day == day)).rowcount
    return bool(gone)

