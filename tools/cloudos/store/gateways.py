"""A tenant's payment gateways (schema 0021): one row per tenant and gateway, secrets sealed."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from sqlalchemy import Connection, delete, select
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.engine import Row

from cloudos.store._util import readable
from cloudos.store.tables import payment_gateway as g
from cloudos.store.tables import tenant


def get(conn: Connection, tenant_id: int, gateway: str) -> Row[Any] | None:
    q = select(*readable(conn, g)).where(g.c.tenant_id == tenant_id, g.c.gateway == gateway)
    return conn.execute(q).first()


def put(conn: Connection, tenant_id: int, gateway: str, merchant_id: str, base_url: str,
        credentials_enc: bytes) -> Row[Any]:
    """Set the tenant's ``gateway`` (added, or replaced whole); returns the row as it is now."""
    values = {"merchant_id": merchant_id, "base_url": base_url, "credentials_enc": credentials_enc}
    q = pg_insert(g).values(tenant_id=tenant_id, gateway=gateway, **values)
    q = q.on_conflict_do_update(index_elements=[g.c.tenant_id, g.c.gateway],
                                set_={**values, "updated_at": q.excluded.updated_at,
                                      "updated_by": q.excluded.updated_by})
    return conn.execute(q.returning(g.c.tenant_id, g.c.gateway, g.c.merchant_id, g.c.base_url,
                                    g.c.updated_at, g.c.updated_by)).one()


def remove(conn: Connection, tenant_id: int, gateway: str) -> bool:
    return conn.execute(delete(g).where(g.c.tenant_id == tenant_id, g.c.gateway == gateway)).rowcount > 0


def listing(conn: Connection, tenant_id: int | None = None) -> Sequence[Row[Any]]:
    """The gateways with their tenant's name as ``tenant``, by tenant and gateway (credentials_enc NULL
    for a login that may not read it)."""
    q = (select(*readable(conn, g), tenant.c.name.label("tenant")).join(tenant, tenant.c.id == g.c.tenant_id)
         .order_by(tenant.c.name, g.c.gateway))
    if tenant_id is not None:
        q = q.where(g.c.tenant_id == tenant_id)
    return conn.execute(q).all()
