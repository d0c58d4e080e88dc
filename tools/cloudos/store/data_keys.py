"""Subscribers' data keys (schema 0019): sealed under the key ring, one row each, deleted on erasure."""

from __future__ import annotations

from collections.abc import Sequence

from sqlalchemy import Connection, delete, select, text

from cloudos.store.tables import subscriber_key as k

_ADD = text("""
INSERT INTO subscriber_key (subscriber_id, tenant_id, key_enc)
SELECT * FROM unnest(CAST(:ids AS bigint[]), CAST(:tenants AS bigint[]), CAST(:keys AS bytea[]))
ON CONFLICT (subscriber_id) DO NOTHING
""")


def sealed(conn: Connection, subscriber_ids: Sequence[int]) -> dict[int, bytes]:
    """The sealed data key of each of these subscribers that has one."""
    rows = conn.execute(select(k.c.subscriber_id, k.c.key_enc).where(k.c.subscriber_id.in_(list(subscriber_ids))))
    return {int(sid): bytes(blob) for sid, blob in rows}


def add(conn: Connection, keys: Sequence[tuple[int, int, bytes]]) -> None:
    """Store (subscriber id, tenant id, sealed key) for subscribers that have none yet."""
    if keys:
        conn.execute(_ADD, {"ids": [s for s, _, _ in keys], "tenants": [t for _, t, _ in keys],
                            "keys": [b for _, _, b in keys]})


def destroy(conn: Connection, subscriber_id: int) -> bool:
    """Delete the subscriber's data key; whether there was one."""
    return conn.execute(delete(k).where(k.c.subscriber_id == subscriber_id)).rowcount > 0
