"""What the store modules share: checking a partial column set against its table, reading a
table whole as far as the login may (schema 0018), the psycopg connection underneath."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import psycopg
from sqlalchemy import Connection, Table, text
from sqlalchemy.sql import ColumnElement
from sqlalchemy.sql.expression import null

#: Columns that a restricted operator's group may not read (schema 0018's HIDDEN): secrets, the CNIC.
GUARDED = {"subscriber": ("password_enc", "cnic_enc"), "nas": ("secret_enc",), "payment_gateway": ("credentials_enc",)}
_UNREADABLE = text("SELECT c FROM unnest(CAST(:columns AS text[])) AS c"
                   " WHERE NOT has_column_privilege(CAST(:table AS text), c, 'SELECT')")


def columns_of(table: Table, values: Mapping[str, Any]) -> dict[str, Any]:
    """``values`` as a column set of ``table``; raises ValueError naming any key that is no column of it."""
    unknown = sorted(set(values) - set(table.c.keys()))
    if unknown:
        raise ValueError(f"not columns of {table.name}: {', '.join(unknown)}")
    return dict(values)


def driver_connection(conn: Connection) -> psycopg.Connection[Any]:
    """The psycopg connection under ``conn``, in its transaction: for statements whose parameters are
    large arrays, sent in binary (``%(name)b``), where SQLAlchemy would send them as text."""
    raw = conn.connection.driver_connection
    assert isinstance(raw, psycopg.Connection)
    return raw


def hidden(conn: Connection, table: Table) -> frozenset[str]:
    """The GUARDED columns of ``table`` that this login may not read (asked once per connection)."""
    key = f"cloudos.hidden.{table.name}"
    if key not in conn.info:
        guarded = list(GUARDED.get(table.name, ()))
        conn.info[key] = frozenset(conn.execute(_UNREADABLE, {"columns": guarded, "table": table.name}).scalars()
                                   if guarded else ())
    found: frozenset[str] = conn.info[key]
    return found


def readable(conn: Connection, table: Table) -> list[ColumnElement[Any]]:
    """Every column of ``table``, a column this login may not read (:func:`hidden`) as NULL under
    its own name: ``select(*readable(conn, t))`` is ``select(t)`` for a login that may read it all."""
    unreadable = hidden(conn, table)
    return [null().label(c.name) if c.name in unreadable else c for c in table.c]
