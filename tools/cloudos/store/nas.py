"""NAS (RADIUS clients): add, look-up, change, list, remove; address overlap across every tenant;
the sessions open on a NAS, and closing them when it goes."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import Connection, cast, delete, func, insert, select, text, update
from sqlalchemy.dialects.postgresql import CIDR
from sqlalchemy.engine import Row

from cloudos.store._util import columns_of, readable
from cloudos.store.tables import nas, tenant
from cloudos.store.tables import session_open as o

#: Close the NAS's open sessions as an Accounting-On from it would (schema 0001's cloudos_account:
#: closed_by 'nas_reset', so a later packet proving one alive reopens it), write each to the history
#: (cloudos_archive_session) and tell every radiusd's authorize cache (the feed's X message).
CLOSE_SESSIONS = text("""
    WITH closed AS (
      UPDATE session_open so
         SET stopped_at = :now, terminate_cause = 'Admin-Reset', closed_by = 'nas_reset'
       WHERE so.nas_id = :nas_id AND so.stopped_at IS NULL
      RETURNING so.*),
    archived AS (SELECT count(cloudos_archive_session(c)) AS n FROM closed c)
    SELECT n, pg_notify('cloudos_authz', 'X ' || :nas_id || ' ' || extract(epoch FROM CAST(:now AS timestamptz)))
      FROM archived
""")


def _online() -> Any:
    """How many sessions are open on the NAS of the row: a correlated count."""
    return (select(func.count()).select_from(o)
            .where(o.c.nas_id == nas.c.id, o.c.stopped_at.is_(None)).scalar_subquery())


def exists(conn: Connection, tenant_id: int, name: str) -> bool:
    """Whether tenant ``tenant_id`` has a NAS named ``name``."""
    return conn.execute(select(1).where(nas.c.tenant_id == tenant_id, nas.c.name == name)).first() is not None


def by_name(conn: Connection, tenant_id: int, name: str, *, lock: bool = False) -> Row[Any] | None:
    """Tenant ``tenant_id``'s NAS ``name`` with its open sessions as ``online_sessions`` (``lock``:
    FOR UPDATE of the NAS row), or None."""
    q = select(*readable(conn, nas), _online().label("online_sessions")).where(nas.c.tenant_id == tenant_id, nas.c.name == name)
    if lock:
        q = q.with_for_update(of=nas)
    return conn.execute(q).first()


def overlapping(conn: Connection, address: str, *, other_than: int | None = None) -> Row[Any] | None:
    """A NAS of any tenant (but ``other_than``) whose address overlaps ``address`` (name, tenant,
    address), or None."""
    q = (select(nas.c.name, tenant.c.name.label("tenant"), nas.c.address)
         .join(tenant, tenant.c.id == nas.c.tenant_id)
         .where(nas.c.address.bool_op("&&")(cast(address, CIDR))))
    if other_than is not None:
        q = q.where(nas.c.id != other_than)
    return conn.execute(q).first()


def add(conn: Connection, *, tenant_id: int, name: str, address: str, secret_enc: bytes, coa_port: int,
        description: str | None) -> Row[Any]:
    """Insert a NAS; returns the new row. Raises IntegrityError on a duplicate or an overlap."""
    return conn.execute(
        insert(nas)
        .values(tenant_id=tenant_id, name=name, address=cast(address, CIDR), secret_enc=secret_enc,
                coa_port=coa_port, description=description)
        .returning(nas)
    ).one()


def change(conn: Connection, nas_id: int, changes: Mapping[str, Any]) -> Row[Any]:
    """Set these columns of NAS ``nas_id`` (nas_touch sets updated_at); returns the row as it is now.
    Raises ValueError for a key that is no NAS column, IntegrityError on an overlap."""
    values = columns_of(nas, changes)
    if "address" in values:
        values["address"] = cast(values["address"], CIDR)
    return conn.execute(
        update(nas).where(nas.c.id == nas_id).values(values).returning(nas)
    ).one()


def listing(conn: Connection, tenant_id: int | None = None) -> Sequence[Row[Any]]:
    """NAS with their tenant's name as ``tenant`` and time zone as ``timezone`` and their open sessions
    as ``online_sessions``, by tenant and name; only tenant ``tenant_id``'s if given."""
    q = (select(*readable(conn, nas), tenant.c.name.label("tenant"), tenant.c.timezone, _online().label("online_sessions"))
         .join(tenant, tenant.c.id == nas.c.tenant_id))
    if tenant_id is not None:
        q = q.where(nas.c.tenant_id == tenant_id)
    return conn.execute(q.order_by(tenant.c.name, nas.c.name)).all()


def open_sessions(conn: Connection, nas_id: int) -> Sequence[Row[Any]]:
    """The sessions open on NAS ``nas_id`` as a Disconnect-Request names them (acct_unique_id,
    username, acct_session_id, framed_ip and nas_address as text), oldest first."""
    return conn.execute(
        select(o.c.acct_unique_id, o.c.username, o.c.acct_session_id, func.host(o.c.framed_ip).label("framed_ip"),
               func.host(o.c.nas_address).label("nas_address"))
        .where(o.c.nas_id == nas_id, o.c.stopped_at.is_(None))
        .order_by(o.c.started_at)
    ).all()


def close_sessions(conn: Connection, nas_id: int, now: datetime) -> int:
    """Close every session open on NAS ``nas_id`` as of ``now`` (see CLOSE_SESSIONS); returns how many."""
    return int(conn.execute(CLOSE_SESSIONS, {"nas_id": nas_id, "now": now}).scalar_one())


def remove(conn: Connection, tenant_id: int, name: str) -> Row[Any] | None:
    """Delete tenant ``tenant_id``'s NAS ``name``; returns the row it was, or None."""
    return conn.execute(
        delete(nas).where(nas.c.tenant_id == tenant_id, nas.c.name == name).returning(nas)
    ).first()
