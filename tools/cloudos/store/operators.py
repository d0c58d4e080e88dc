"""Operators: the people who run the CLI, each a PostgreSQL login in one group role (schema 0018).

Logins are made, re-roled and dropped by the schema's SECURITY DEFINER functions, which
touch only roles listed in ``operator``; a password reaches them as a SCRAM verifier
(store.roles), never in clear.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from sqlalchemy import Connection, select, text
from sqlalchemy.engine import Row

from cloudos.store.roles import scram_verifier
from cloudos.store.tables import operator, tenant

ROLES = ("platform", "admin", "billing", "support", "auditor")


def whoami(conn: Connection) -> Row[Any]:
    """This login: (login, role, tenant_id); role None for a login that is no operator (the owner, a program)."""
    return conn.execute(text("SELECT login, role, tenant_id FROM cloudos_whoami()")).one()


def by_login(conn: Connection, login: str) -> Row[Any] | None:
    q = (select(operator, tenant.c.name.label("tenant"))
         .outerjoin(tenant, tenant.c.id == operator.c.tenant_id).where(operator.c.login == login))
    return conn.execute(q).first()


def listing(conn: Connection, tenant_id: int | None = None) -> Sequence[Row[Any]]:
    """Operators with their tenant's name as ``tenant``, platform first, then by tenant and login."""
    q = (select(operator, tenant.c.name.label("tenant"))
         .outerjoin(tenant, tenant.c.id == operator.c.tenant_id)
         .order_by(operator.c.tenant_id.nulls_first(), operator.c.login))
    if tenant_id is not None:
        q = q.where(operator.c.tenant_id == tenant_id)
    return conn.execute(q).all()


def add(conn: Connection, login: str, tenant_id: int | None, role: str, password: str) -> None:
    conn.execute(text("SELECT cloudos_operator_add(:login, :tenant, :role, :verifier)"),
                 {"login": login, "tenant": tenant_id, "role": role, "verifier": scram_verifier(password)})


def set_role(conn: Connection, login: str, role: str) -> str:
    """The operator's role becomes ``role``; returns the old one."""
    return str(conn.execute(text("SELECT cloudos_operator_set_role(:login, :role)"),
                            {"login": login, "role": role}).scalar_one())


def set_password(conn: Connection, login: str, password: str) -> None:
    conn.execute(text("SELECT cloudos_operator_set_password(:login, :verifier)"),
                 {"login": login, "verifier": scram_verifier(password)})


def remove(conn: Connection, login: str) -> int:
    """Drop the operator's login; returns how many of its open connections were ended."""
    return int(conn.execute(text("SELECT cloudos_operator_remove(:login)"), {"login": login}).scalar_one())
