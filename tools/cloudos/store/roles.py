"""Login roles for the programs: each a member of one group role (schema 0012), with a SCRAM password.

The password is hashed here into a SCRAM-SHA-256 verifier (RFC 5802, RFC 7677, as
PostgreSQL stores it), so the cleartext never reaches the server: not its statement
log, not pg_stat_activity.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import os
from collections.abc import Sequence
from typing import Any

from psycopg import sql as q
from sqlalchemy import Connection, text
from sqlalchemy.engine import Row

#: The group roles a login may join: radiusd, `cloudos worker`, the `cloudos` CLI, `cloudos metrics` (0014).
GROUPS = ("cloudos_radius", "cloudos_worker", "cloudos_admin", "cloudos_metrics")
#: PostgreSQL's default iteration count (scram_iterations).
SCRAM_ITERATIONS = 4096

ROLE = text("SELECT rolsuper, rolcanlogin FROM pg_roles WHERE rolname = :name")
CREATE = q.SQL("CREATE ROLE {} LOGIN NOSUPERUSER NOCREATEDB NOCREATEROLE NOREPLICATION INHERIT PASSWORD {}")
ALTER = q.SQL("ALTER ROLE {} LOGIN NOSUPERUSER NOCREATEDB NOCREATEROLE NOREPLICATION INHERIT PASSWORD {}")
JOIN = q.SQL("GRANT {} TO {}")
LOGINS = text("""
SELECT m.rolname AS login, g.rolname AS role
  FROM pg_auth_members a JOIN pg_roles g ON g.oid = a.roleid JOIN pg_roles m ON m.oid = a.member
 WHERE g.rolname IN ('cloudos_radius', 'cloudos_worker', 'cloudos_admin', 'cloudos_metrics') AND m.rolcanlogin
 ORDER BY g.rolname, m.rolname
""")


def scram_verifier(password: str, *, salt: bytes | None = None, iterations: int = SCRAM_ITERATIONS) -> str:
    """``SCRAM-SHA-256$<iterations>:<salt>$<StoredKey>:<ServerKey>``, as PostgreSQL keeps a password."""
    salt = os.urandom(16) if salt is None else salt
    salted = hashlib.pbkdf2_hmac("sha256", password.encode(), salt, iterations)
    client_key = hmac.digest(salted, b"Client Key", "sha256")
    stored_key = hashlib.sha256(client_key).digest()
    server_key = hmac.digest(salted, b"Server Key", "sha256")

    def b64(b: bytes) -> str:
        return base64.b64encode(b).decode()

    return f"SCRAM-SHA-256${iterations}:{b64(salt)}${b64(stored_key)}:{b64(server_key)}"


def existing(conn: Connection, name: str) -> Row[Any] | None:
    """The role ``name`` (rolsuper, rolcanlogin), or None."""
    return conn.execute(ROLE, {"name": name}).first()


def create_login(conn: Connection, group: str, name: str, password: str) -> bool:
    """Create login ``name`` in ``group`` with ``password`` (or set its password and membership when it
    exists); returns whether it was created. Raises ValueError for an unknown group."""
    if group not in GROUPS:
        raise ValueError(f"not a cloudos group role: {group}")
    created = existing(conn, name) is None
    driver = conn.connection.driver_connection
    statement = (CREATE if created else ALTER).format(q.Identifier(name), q.Literal(scram_verifier(password)))
    membership = JOIN.format(q.Identifier(group), q.Identifier(name))
    with driver.cursor() as cur:  # type: ignore[union-attr]
        cur.execute(statement)
        cur.execute(membership)
    return created


def logins(conn: Connection) -> Sequence[Row[Any]]:
    """Every login role that is a member of a cloudos group role: (login, role)."""
    return conn.execute(LOGINS).all()
