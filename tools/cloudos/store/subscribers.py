"""Subscribers: look-up, add, list with filters, partial update."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import Connection, cast, func, insert, or_, select, update
from sqlalchemy import Text
from sqlalchemy.dialects.postgresql import ARRAY, INET, MACADDR
from sqlalchemy.engine import Row

from cloudos.store._util import columns_of, hidden, readable
from cloudos.store.tables import plan, subscriber

#: Columns whose values arrive as text and are cast to the column's own PostgreSQL type.
_CASTS = {"mac": MACADDR, "static_ip": INET}


def cnic_readable(conn: Connection) -> bool:
    """Whether this login's role may read the CNIC's ciphertext (schema 0018: admin and platform only)."""
    return "cnic_enc" not in hidden(conn, subscriber)


def by_username(conn: Connection, tenant_id: int, username: str, *, lock: bool = False) -> Row[Any] | None:
    """Tenant ``tenant_id``'s subscriber ``username`` (``lock``: FOR UPDATE), or None."""
    q = select(*readable(conn, subscriber)).where(subscriber.c.tenant_id == tenant_id, subscriber.c.username == username)
    if lock:
        q = q.with_for_update()
    return conn.execute(q).first()


def by_usernames(conn: Connection, tenant_id: int, usernames: Sequence[str], *,
                 lock: bool = False) -> dict[str, Row[Any]]:
    """Tenant ``tenant_id``'s subscribers with these usernames, by username (``lock``: FOR UPDATE,
    taken in id order so two bulk changes cannot deadlock). One array parameter, whatever the count
    (a list of 100,000 would pass PostgreSQL's 65,535 parameters)."""
    q = (select(*readable(conn, subscriber)).where(subscriber.c.tenant_id == tenant_id,
                                  subscriber.c.username == func.any(cast(list(usernames), ARRAY(Text))))
         .order_by(subscriber.c.id))
    if lock:
        q = q.with_for_update()
    return {r.username: r for r in conn.execute(q)}


def by_folded_username(conn: Connection, tenant_id: int, username: str) -> Row[Any] | None:
    """The subscriber whose username is ``username`` in any case (schema 0013 allows one), or None."""
    return conn.execute(select(subscriber.c.id, subscriber.c.username).where(
        subscriber.c.tenant_id == tenant_id, func.lower(subscriber.c.username) == username.lower())).first()


def holding_static_ip(conn: Connection, tenant_id: int, static_ip: str) -> Row[Any] | None:
    """The subscriber (id, username) given ``static_ip`` in the tenant, or None."""
    return conn.execute(select(subscriber.c.id, subscriber.c.username).where(
        subscriber.c.tenant_id == tenant_id, subscriber.c.static_ip == cast(static_ip, INET))).first()


def bound_to_mac(conn: Connection, tenant_id: int, mac: str) -> Sequence[Row[Any]]:
    """The subscribers (id, username) of the tenant bound to ``mac``, by username."""
    return conn.execute(select(subscriber.c.id, subscriber.c.username).where(
        subscriber.c.tenant_id == tenant_id, subscriber.c.mac == cast(mac, MACADDR))
        .order_by(subscriber.c.username)).all()


def exists(conn: Connection, tenant_id: int, username: str) -> bool:
    """Whether tenant ``tenant_id`` has a subscriber ``username``."""
    return conn.execute(
        select(1).where(subscriber.c.tenant_id == tenant_id, subscriber.c.username == username)
    ).first() is not None


def add(conn: Connection, values: Mapping[str, Any]) -> Row[Any]:
    """Insert a subscriber with these columns (``mac`` and ``static_ip`` as text); returns the new row.
    Raises ValueError for a key that is no subscriber column, DataError for a value PostgreSQL refuses."""
    cols = {k: (cast(v, _CASTS[k]) if k in _CASTS else v) for k, v in columns_of(subscriber, values).items()}
    return conn.execute(insert(subscriber).values(cols).returning(subscriber)).one()


def listing(conn: Connection, tenant_id: int, *, now: datetime, status: str | None = None,
            plan_name: str | None = None) -> Sequence[Row[Any]]:
    """Tenant ``tenant_id``'s subscribers with their plan's name as ``plan``, by username;
    only those with this ``status`` and on the plan named ``plan_name`` when given. ``expired``
    is an active subscriber whose paid time ended by ``now``; ``active`` one whose has not."""
    q = (select(*readable(conn, subscriber), plan.c.name.label("plan"))
         .outerjoin(plan, plan.c.id == subscriber.c.plan_id)
         .where(subscriber.c.tenant_id == tenant_id))
    lapsed = subscriber.c.expires_at <= now
    if status == "expired":
        q = q.where(subscriber.c.status == "active", lapsed)
    elif status == "active":
        q = q.where(subscriber.c.status == "active", or_(subscriber.c.expires_at.is_(None), ~lapsed))
    elif status:
        q = q.where(subscriber.c.status == status)
    if plan_name:
        q = q.where(plan.c.name == plan_name)
    return conn.execute(q.order_by(subscriber.c.username)).all()


def with_plan_terms(conn: Connection, tenant_id: int, username: str) -> Row[Any] | None:
    """Subscriber ``username``'s id and expires_at with its plan's period and quota_bytes
    (both None without a plan), or None when there is no such subscriber."""
    return conn.execute(
        select(subscriber.c.id, subscriber.c.expires_at, plan.c.period, plan.c.quota_bytes)
        .outerjoin(plan, plan.c.id == subscriber.c.plan_id)
        .where(subscriber.c.tenant_id == tenant_id, subscriber.c.username == username)
    ).first()


def change(conn: Connection, subscriber_id: int, changes: Mapping[str, Any]) -> Row[Any]:
    """Set these columns of subscriber ``subscriber_id``; returns the row as it is now.
    Raises ValueError for a key that is no subscriber column, NoResultFound when there is no such subscriber."""
    return conn.execute(
        update(subscriber).where(subscriber.c.id == subscriber_id).values(columns_of(subscriber, changes))
        .returning(*readable(conn, subscriber))
    ).one()


#: The first bytes of a password ciphertext in the format before tenant and username were bound
#: into its associated data (rlm_cloudos.crypto: ``c1``; ``c2`` is bound).
UNBOUND_PREFIX = b"c1"


def count_unbound_passwords(conn: Connection) -> int:
    """How many subscriber passwords are still in the unbound ``c1`` format."""
    q = select(func.count()).select_from(subscriber).where(
        func.substr(subscriber.c.password_enc, 1, 2) == UNBOUND_PREFIX)
    return int(conn.execute(q).scalar_one())


def unbound_passwords(conn: Connection, *, after_id: int, limit: int) -> Sequence[Row[Any]]:
    """Up to ``limit`` subscribers (id, tenant_id, username, password_enc) past ``after_id`` whose
    password is in the unbound ``c1`` format, by id, locked FOR UPDATE."""
    q = (select(subscriber.c.id, subscriber.c.tenant_id, subscriber.c.username, subscriber.c.password_enc)
         .where(subscriber.c.id > after_id, func.substr(subscriber.c.password_enc, 1, 2) == UNBOUND_PREFIX)
         .order_by(subscriber.c.id).limit(limit).with_for_update())
    return conn.execute(q).all()


def count_ring_cnics(conn: Connection) -> int:
    """How many CNICs are still sealed under the key ring itself (``c1``, before schema 0019)."""
    q = select(func.count()).select_from(subscriber).where(func.substr(subscriber.c.cnic_enc, 1, 2) == UNBOUND_PREFIX)
    return int(conn.execute(q).scalar_one())


def ring_cnics(conn: Connection, *, after_id: int, limit: int) -> Sequence[Row[Any]]:
    """Up to ``limit`` subscribers (id, tenant_id, cnic_enc) past ``after_id`` whose CNIC is sealed under
    the key ring itself, by id, locked FOR UPDATE."""
    q = (select(subscriber.c.id, subscriber.c.tenant_id, subscriber.c.cnic_enc)
         .where(subscriber.c.id > after_id, func.substr(subscriber.c.cnic_enc, 1, 2) == UNBOUND_PREFIX)
         .order_by(subscriber.c.id).limit(limit).with_for_update())
    return conn.execute(q).all()


def replace_password_enc(conn: Connection, subscriber_id: int, old: bytes, new: bytes) -> bool:
    """Set a subscriber's password ciphertext to ``new`` if it is still ``old``; whether it was."""
    q = (update(subscriber).where(subscriber.c.id == subscriber_id, subscriber.c.password_enc == old)
         .values(password_enc=new))
    return conn.execute(q).rowcount == 1
