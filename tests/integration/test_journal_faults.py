"""The accounting journal against a real PostgreSQL that refuses for reasons other than the data."""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import psycopg
import pytest

from rlm_cloudos.requests import AcctRequest
from rlm_cloudos.store.journal import AccountingJournal
from rlm_cloudos.store.journal_files import backlog, wait_applied
from rlm_cloudos.store.pg import Database
from tests.integration.world import MAC, NAS1, World, build_world


@pytest.fixture
def world(fresh_db: str, cli: Callable[..., Any]) -> Iterator[World]:
    yield from build_world(fresh_db, cli, World)


def used(world: World, user: str) -> int:
    row = world.conn.execute("SELECT coalesce(sum(input_octets + output_octets), 0) FROM usage_counter "
                             "WHERE subscriber_id = %s", (world.subscribers[user],)).fetchone()
    assert row is not None
    return int(row[0])


def test_a_read_only_database_holds_the_journal_back_and_drops_nothing(world: World, tmp_path: Path) -> None:
    """A failover onto a standby makes PostgreSQL read-only for a while (SQLSTATE 25006). Records
    answered meanwhile used to be logged as refused and dropped; they wait in the journal instead,
    and are applied once the database takes writes again."""
    database = world.url.rsplit("/", 1)[1]
    with psycopg.connect(world.url, autocommit=True) as admin:
        admin.execute(f'ALTER DATABASE "{database}" SET default_transaction_read_only = on')
    logs: list[tuple[str, dict[str, Any]]] = []
    db = Database(world.url, size=1, connect_timeout=2)
    db.open()
    journal = AccountingJournal(tmp_path / "journal", db, lambda level, **f: logs.append((level, f)),
                                retry_seconds=0.2)
    uid = "ro-1"

    def req(status: str, inp: int, out: int) -> AcctRequest:
        return AcctRequest(status, "ali", NAS1, uid, uid, inp, out, 60, 0, "100.64.0.7", MAC, "pppoe-1", None)

    before = used(world, "ali")
    try:
        journal.open()
        for r in (req("Start", 0, 0), req("Interim-Update", 1000, 2000), req("Stop", 1500, 3_000_000)):
            journal.append(r)
        time.sleep(1.5)  # several retries against the read-only database
        assert backlog(tmp_path / "journal") > 0, "applied to a read-only database?"
        assert journal.dropped == 0 and not [f for _, f in logs if f.get("event") == "refused"], logs
        waiting = [f for level, f in logs if f.get("event") == "journal_waiting"]
        assert waiting and "ReadOnlySqlTransaction" in str(waiting[0]["detail"])
        assert "25006" in str(waiting[0]["detail"])
        with psycopg.connect(world.url, autocommit=True, options="-c default_transaction_read_only=off") as admin:
            admin.execute(f'ALTER DATABASE "{database}" RESET default_transaction_read_only')
            # The failover's end: the pool's sessions were opened read-only and are replaced.
            admin.execute("SELECT pg_terminate_backend(pid) FROM pg_stat_activity "
                          "WHERE application_name = 'rlm_cloudos' AND datname = current_database()")
        assert wait_applied(tmp_path / "journal", 15), logs
    finally:
        journal.close()
        db.close()
    assert used(world, "ali") - before == 1500 + 3_000_000
    assert journal.dropped == 0
    assert any(f.get("event") == "journal_caught_up" for _, f in logs)
