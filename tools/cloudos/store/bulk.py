"""Bulk subscriber import: what the tenant already holds, read once, and many subscribers inserted
with one statement per batch.

The insert is ``INSERT … SELECT FROM unnest(arrays)``: one round trip and one plan per
batch of rows, where an INSERT per row would cost a round trip each. The arrays go in
binary: psycopg's text form of an array escapes every element in Python, which cost more
than the rest of the import (measured with ``bash bench/import_subscribers --profile``).
COPY would need a staging table to give the new rows back, and the admin login may not
create temporary tables (migration 0012).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from psycopg.rows import dict_row
from sqlalchemy import Connection, select

from cloudos.store._util import driver_connection
from cloudos.store.tables import plan, subscriber

#: Rows per INSERT: big enough that round trips vanish, small enough to keep each statement's
#: arrays in a few MB.
BATCH = 5_000

INSERT_SUBSCRIBERS = """
INSERT INTO subscriber (tenant_id, username, password_enc, plan_id, status, status_reason, expires_at, mac,
                        static_ip, full_name, phone, email, postal_address, cnic_enc)
SELECT %(tenant_id)s, u.username, u.password_enc, u.plan_id, u.status, u.status_reason, u.expires_at,
       u.mac::macaddr, u.static_ip::inet, u.full_name, u.phone, u.email, u.postal_address, u.cnic_enc
  FROM unnest(CAST(%(username)b AS text[]), CAST(%(password_enc)b AS bytea[]), CAST(%(plan_id)b AS bigint[]),
              CAST(%(status)b AS text[]), CAST(%(status_reason)b AS text[]), CAST(%(expires_at)b AS timestamptz[]),
              CAST(%(mac)b AS text[]), CAST(%(static_ip)b AS text[]), CAST(%(full_name)b AS text[]), CAST(%(phone)b AS text[]),
              CAST(%(email)b AS text[]), CAST(%(postal_address)b AS text[]), CAST(%(cnic_enc)b AS bytea[]))
       WITH ORDINALITY AS u(username, password_enc, plan_id, status, status_reason, expires_at, mac, static_ip,
                            full_name, phone, email, postal_address, cnic_enc, n)
 ORDER BY u.n
RETURNING *
"""

#: The columns each inserted subscriber gives, in INSERT_SUBSCRIBERS's order (tenant_id is one value).
COLUMNS = ("username", "password_enc", "plan_id", "status", "status_reason", "expires_at", "mac", "static_ip",
           "full_name", "phone", "email", "postal_address", "cnic_enc")


def plan_ids(conn: Connection, tenant_id: int) -> dict[str, int]:
    """Tenant ``tenant_id``'s plans: id by name."""
    return {r.name: int(r.id) for r in conn.execute(select(plan.c.name, plan.c.id).where(plan.c.tenant_id == tenant_id))}


def holders(conn: Connection, tenant_id: int) -> tuple[dict[str, str], dict[str, str], dict[str, str]]:
    """Who holds what in tenant ``tenant_id``: (username by its lower-case form, username by static IP,
    username by MAC in upper case), from one scan of its subscribers."""
    usernames: dict[str, str] = {}
    static_ips: dict[str, str] = {}
    macs: dict[str, str] = {}
    q = select(subscriber.c.username, subscriber.c.static_ip, subscriber.c.mac).where(
        subscriber.c.tenant_id == tenant_id)
    for r in conn.execute(q):
        usernames.setdefault(r.username.lower(), r.username)
        if r.static_ip is not None:
            static_ips.setdefault(str(r.static_ip), r.username)
        if r.mac is not None:
            macs.setdefault(str(r.mac).upper(), r.username)
    return usernames, static_ips, macs


def insert_subscribers(conn: Connection, tenant_id: int,
                       rows: Sequence[Mapping[str, Any]]) -> list[dict[str, Any]]:
    """Insert subscribers of tenant ``tenant_id`` (each a mapping with the keys of COLUMNS; mac and
    static_ip as text), BATCH per statement; returns the new rows (every column) in the order given.
    Raises psycopg's IntegrityError when a username (or a unique static IP) is taken meanwhile."""
    out: list[dict[str, Any]] = []
    with driver_connection(conn).cursor(row_factory=dict_row) as cur:
        for start in range(0, len(rows), BATCH):
            batch = rows[start:start + BATCH]
            params: dict[str, Any] = {c: [r[c] for r in batch] for c in COLUMNS}
            params["tenant_id"] = tenant_id
            cur.execute(INSERT_SUBSCRIBERS, params)
            out += cur.fetchall()
    return out



_SET_CNICS = """
UPDATE subscriber s SET cnic_enc = u.cnic_enc
  FROM unnest(CAST(%(ids)b AS bigint[]), CAST(%(blobs)b AS bytea[])) AS u(id, cnic_enc)
 WHERE s.id = u.id
"""


def set_cnics(conn: Connection, sealed: Sequence[tuple[int, bytes]]) -> None:
    """Each (subscriber id, sealed CNIC): the subscriber's cnic_enc, BATCH per statement."""
    with driver_connection(conn).cursor() as cur:
        for start in range(0, len(sealed), BATCH):
            batch = sealed[start:start + BATCH]
            cur.execute(_SET_CNICS, {"ids": [i for i, _ in batch], "blobs": [b for _, b in batch]})
