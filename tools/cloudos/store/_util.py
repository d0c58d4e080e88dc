"""What the store modules share: checking a partial column set against its table."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import psycopg
from sqlalchemy import Connection, Table


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
