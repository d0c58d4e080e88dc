"""A tenant's world in a fresh database, made with the CLI, and cloudos_account() on it: what the
SQL-level tests (test_accounting_sql, test_authz_feed) share."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime
from typing import Any, TypeVar

import psycopg

from tests.conftest import Cli
from tests.fixtures.pg import fetch_one

NAS1, NAS2 = "10.1.1.1", "10.1.1.2"
MAC = "AA:BB:CC:DD:EE:FF"
ACCOUNT = ("SELECT result, tenant_id, subscriber_id, d_in, d_out, d_time, feed "
           "FROM cloudos_account(%s::inet, %s, %s, %s, %s, %s, %s, %s, %s, %s::inet, %s, %s, %s)")

#: Tenant t1 (Asia/Karachi, interim 300 s), NAS n1 and n2, plans home, fup (10 MB then
#: 256k) and cap (10 MB, no FUP), and a subscriber on each: ali, fupper, capped.
STEPS: tuple[tuple[tuple[str, ...], str | None], ...] = (
    (("tenant", "add", "t1"), None),
    (("nas", "add", "n1", "--address", NAS1, "--secret-stdin"), "secret-secret-1\n"),
    (("nas", "add", "n2", "--address", NAS2, "--secret-stdin"), "secret-secret-2\n"),
    (("plan", "add", "home", "--rate-limit", "2M/8M"), None),
    (("plan", "add", "fup", "--rate-limit", "4M/16M", "--quota", "10MB", "--fup-rate-limit", "256k/256k"), None),
    (("plan", "add", "cap", "--rate-limit", "4M/16M", "--quota", "10MB"), None),
    (("subscriber", "add", "ali", "--plan", "home", "--password-stdin"), "pw-ali\n"),
    (("subscriber", "add", "fupper", "--plan", "fup", "--password-stdin"), "pw-fupper\n"),
    (("subscriber", "add", "capped", "--plan", "cap", "--password-stdin"), "pw-capped\n"),
)


@dataclass
class World:
    url: str
    conn: psycopg.Connection[Any]
    tenant: int
    nas: dict[str, int]
    plans: dict[str, int]
    subscribers: dict[str, int]

    def account_row(self, uid: str, status: str, user: str | None, at: datetime, inp: int = 0, out: int = 0,
                    secs: int = 0, *, nas: str = NAS1, ip: str | None = "100.64.0.7", mac: str | None = MAC,
                    session: str | None = None, cause: str | None = None) -> tuple[Any, ...]:
        """One Accounting-Request through cloudos_account(): result, tenant_id, subscriber_id, the three
        deltas, and the feed text."""
        row = self.conn.execute(ACCOUNT, (nas, uid, status, user, session or uid, at, inp, out, secs, ip, mac,
                                          "pppoe-1", cause)).fetchone()
        assert row is not None
        return tuple(row)


W = TypeVar("W", bound=World)


def build_world(fresh_db: str, cli: Cli, cls: type[W]) -> Iterator[W]:
    """STEPS through the CLI into ``fresh_db``, then a ``cls`` over an autocommit connection to it."""
    for argv, stdin in STEPS:
        r = cli(*argv, stdin=stdin)
        assert r.code == 0, (argv, r.err)
    with psycopg.connect(fresh_db, autocommit=True) as conn:
        (tenant,) = fetch_one(conn.execute("SELECT id FROM tenant WHERE name = 't1'"))
        yield cls(
            fresh_db, conn, tenant,
            nas=dict(conn.execute("SELECT name, id FROM nas").fetchall()),
            plans=dict(conn.execute("SELECT name, id FROM plan").fetchall()),
            subscribers=dict(conn.execute("SELECT username, id FROM subscriber").fetchall()),
        )
