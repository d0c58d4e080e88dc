"""NAS (RADIUS clients): add, list, remove; address overlap across every tenant."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from sqlalchemy import Connection, cast, delete, insert, select
from sqlalchemy.dialects.postgresql import CIDR
from sqlalchemy.engine import Row

from cloudos.store.tables import nas, tenant


def exists(conn: Connection, tenant_id: int, name: str) -> bool:
    """Whether tenant ``tenant_id`` has a NAS named ``name``."""
    return conn.execute(select(1).where(nas.c.tenant_id == tenant_id, nas.c.name == name)).first() is not None


def overlapping(conn: Connection, address: str) -> Row[Any] | None:
    """A NAS of any tenant whose address overlaps ``address`` (name, tenant, address), or None."""
    return conn.execute(
        select(nas.c.name, tenant.c.name.label("tenant"), nas.c.address)
        .join(tenant, tenant.c.id == nas.c.tenant_id)
        .where(nas.c.address.bool_op("&&")(cast(address, CIDR)))
    ).first()


def add(conn: Connection, *, tenant_id: int, name: str, address: str, secret_enc: bytes, coa_port: int,
        description: str | None) -> Row[Any]:
    """Insert a NAS; returns the new row. Raises IntegrityError on a duplicate or an overlap."""
    return conn.execute(
        insert(nas)
        .values(tenant_id=tenant_id, name=name, address=cast(address, CIDR), secret_enc=secret_enc,
                coa_port=coa_port, description=description)
        .returning(nas)
    ).one()


def listing(conn: Connection, tenant_id: int | None = None) -> Sequence[Row[Any]]:
    """NAS with their tenant's name as ``tenant``, by tenant and name; only tenant ``tenant_id``'s if given."""
    q = select(nas, tenant.c.name.label("tenant")).join(tenant, tenant.c.id == nas.c.tenant_id)
    if tenant_id is not None:
        q = q.where(nas.c.tenant_id == tenant_id)
    return conn.execute(q.order_by(tenant.c.name, nas.c.name)).all()


def remove(conn: Connection, tenant_id: int, name: str) -> Row[Any] | None:
    """Delete tenant ``tenant_id``'s NAS ``name``; returns the row it was, or None."""
    return conn.execute(
        delete(nas).where(nas.c.tenant_id == tenant_id, nas.c.name == name).returning(nas)
    ).first()
