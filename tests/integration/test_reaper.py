"""cloudos_reap_sessions() and what comes after it, in a real PostgreSQL (schema 0011).

The reaper's "now" is bounded by the journals (journal_node); a closed row is purged on its
last update, not its stop time; a packet for a session whose row is gone counts only past
its history; a Stop replaces the reaper's guess and is final.
"""

from __future__ import annotations

import itertools
import socket
import time
from collections.abc import Iterator
from datetime import datetime, timedelta, timezone
from typing import Any

import pytest

from rlm_cloudos.store import sql
from tests.conftest import Cli
from tests.integration.test_accounting_sql import AcctWorld
from tests.integration.world import build_world

UTC = timezone.utc
NOW = datetime(2026, 11, 15, 12, 0, tzinfo=UTC)
DAY = 86_400

_uids = itertools.count(1)


def new_uid() -> str:
    return f"reap-{next(_uids):06d}"


@pytest.fixture
def world(fresh_db: str, cli: Cli) -> Iterator[AcctWorld]:
    yield from build_world(fresh_db, cli, AcctWorld)


def reap(world: AcctWorld, now: datetime) -> tuple[Any, ...]:
    """(reaped, purged, as_of, forgotten); as_of and forgotten are None before schema 0011."""
    cur = world.conn.execute("SELECT * FROM cloudos_reap_sessions(%s)", (now,))
    names = [d.name for d in cur.description or ()]
    row = cur.fetchone()
    assert row is not None
    got = dict(zip(names, row))
    return got["reaped"], got["purged"], got.get("as_of"), got.get("forgotten")


def count_open_rows(world: AcctWorld, uid: str) -> int:
    row = world.conn.execute("SELECT count(*) FROM session_open WHERE acct_unique_id = %s", (uid,)).fetchone()
    assert row is not None
    return int(row[0])


def test_a_closed_session_still_heard_from_keeps_its_row_and_counts_only_its_delta(world: AcctWorld) -> None:
    uid = new_uid()
    world.account(uid, "Start", "ali", NOW - timedelta(days=4))
    world.account(uid, "Stop", "ali", NOW - timedelta(days=3), 100, 200, DAY, cause="User-Request")
    # The NAS keeps reporting the session after its Stop (a replayed batch, a NAS bug).
    world.account(uid, "Interim-Update", "ali", NOW - timedelta(hours=1), 150, 250, DAY + 100)
    reaped, purged, _, _ = reap(world, NOW)
    # Stopped three days ago, last heard an hour ago: kept.
    assert (reaped, purged) == (0, 0) and count_open_rows(world, uid) == 1
    world.account(uid, "Interim-Update", "ali", NOW, 160, 260, DAY + 200)
    # 160 + 260 reported in all: each byte counted once (a re-inserted row would count them again).
    assert world.totals("ali")[:2] == (160, 260)
    # Nothing heard for the keep time: purged, whenever it stopped.
    assert reap(world, NOW + timedelta(days=2, seconds=1))[1] == 1 and count_open_rows(world, uid) == 0


def test_a_packet_for_a_purged_session_counts_only_past_its_history(world: AcctWorld) -> None:
    uid = new_uid()
    started = NOW - timedelta(days=3)
    world.account(uid, "Start", "ali", started)
    world.account(uid, "Interim-Update", "ali", started + timedelta(seconds=300), 1000, 2000, 300)
    reaped, purged, _, _ = reap(world, NOW)
    assert (reaped, purged) == (1, 1) and count_open_rows(world, uid) == 0  # silent three days: closed and gone
    (hist,) = world.history(uid)
    assert (hist["terminate_cause"], hist["input_octets"], hist["output_octets"]) == ("Stale", 1000, 2000)
    # Alive after all: its next interim carries the session's cumulative counters.
    result = world.account(uid, "Interim-Update", "ali", NOW, 1500, 2500, 3 * DAY)
    assert result[3:5] == (500, 500)
    assert world.totals("ali")[:2] == (1500, 2500)
    row = world.open_row(uid)
    assert (row["stopped_at"], row["input_octets"], row["started_at"]) == (None, 1500, started)
    (hist,) = world.history(uid)
    assert (hist["stopped_at"], hist["terminate_cause"]) == (None, None)


def test_a_stop_replaces_the_reapers_guess_and_is_final(world: AcctWorld) -> None:
    uid = new_uid()
    world.account(uid, "Interim-Update", "ali", NOW - timedelta(hours=1), 10, 20, 300)
    assert reap(world, NOW)[0] == 1
    assert world.open_row(uid)["terminate_cause"] == "Stale"
    world.account(uid, "Stop", "ali", NOW - timedelta(minutes=10), 30, 40, 3000, cause="Lost-Carrier")
    row = world.open_row(uid)
    assert (row["stopped_at"], row["terminate_cause"]) == (NOW - timedelta(minutes=10), "Lost-Carrier")
    assert row["closed_by"] == "stop"
    (hist,) = world.history(uid)
    assert (hist["stopped_at"], hist["terminate_cause"], hist["input_octets"]) == (
        NOW - timedelta(minutes=10), "Lost-Carrier", 30)
    # After a Stop nothing reopens it, however new.
    world.account(uid, "Interim-Update", "ali", NOW, 30, 40, 3600)
    assert world.open_row(uid)["closed_by"] == "stop"
    assert world.last_feed is not None and world.last_feed.split(" ")[5] == "1"


def test_the_reaper_waits_for_the_oldest_journal_and_forgets_a_silent_node(world: AcctWorld) -> None:
    nodes = [("radius-a:/var/lib/j", NOW - timedelta(minutes=30), NOW - timedelta(minutes=1)),
             ("radius-b:/var/lib/j", NOW - timedelta(minutes=5), NOW),
             ("decommissioned:/var/lib/j", NOW - timedelta(days=10), NOW - timedelta(days=1, seconds=1))]
    for node, caught_up, seen in nodes:
        world.conn.execute("INSERT INTO journal_node (node, caught_up_at, seen_at) VALUES (%s, %s, %s)",
                           (node, caught_up, seen))
    # Stale at NOW (silent 20 minutes, the cutoff is 12), not as of radius-a's 30 minutes ago.
    fresh_then, stale_then = new_uid(), new_uid()
    world.account(fresh_then, "Interim-Update", "ali", NOW - timedelta(minutes=20), 1, 1, 1)
    world.account(stale_then, "Interim-Update", "fupper", NOW - timedelta(minutes=50), 1, 1, 1)
    reaped, _, as_of, forgotten = reap(world, NOW)
    assert (reaped, as_of, forgotten) == (1, NOW - timedelta(minutes=30), ["decommissioned:/var/lib/j"])
    assert world.open_row(fresh_then)["stopped_at"] is None
    assert world.open_row(stale_then)["closed_by"] == "stale"
    assert [r[0] for r in world.conn.execute("SELECT node FROM journal_node ORDER BY 1")] == [
        "radius-a:/var/lib/j", "radius-b:/var/lib/j"]
    # radius-a caught up: the reaper's now is the worker's again.
    world.conn.execute("UPDATE journal_node SET caught_up_at = %s", (NOW + timedelta(minutes=1),))
    assert reap(world, NOW)[:3] == (1, 0, NOW)


def test_radiusd_role_records_and_forgets_its_journal_status(world: AcctWorld) -> None:
    node = f"{socket.gethostname()}:/tmp/test-journal"
    world.conn.execute("SET ROLE cloudos_radius")
    try:
        now = time.time()
        world.conn.execute(sql.JOURNAL_STATUS, {"node": node, "caught_up": now - 30, "now": now})
        world.conn.execute(sql.JOURNAL_STATUS, {"node": node, "caught_up": now - 20, "now": now})
        row = world.conn.execute("SELECT now() - caught_up_at, now() - seen_at FROM journal_node WHERE node = %s",
                                 (node,)).fetchone()
        assert row is not None
        assert timedelta(seconds=19) <= row[0] <= timedelta(seconds=25) and row[1] < timedelta(seconds=5)
        world.conn.execute(sql.JOURNAL_CLOSED, {"node": node})
        assert world.conn.execute("SELECT count(*) FROM journal_node").fetchone() == (0,)
    finally:
        world.conn.execute("RESET ROLE")


def test_the_worker_logs_a_forgotten_node_and_a_reaper_held_back(world: AcctWorld,
                                                                 caplog: pytest.LogCaptureFixture) -> None:
    from sqlalchemy import create_engine
    from sqlalchemy.pool import NullPool

    from cloudos import worker
    from cloudos.context import sqlalchemy_url

    for node, caught_up, seen in (("radius-a:/j", NOW - timedelta(minutes=5), NOW),
                                  ("gone:/j", NOW - timedelta(days=3), NOW - timedelta(days=2))):
        world.conn.execute("INSERT INTO journal_node (node, caught_up_at, seen_at) VALUES (%s, %s, %s)",
                           (node, caught_up, seen))
    engine = create_engine(sqlalchemy_url(world.url), poolclass=NullPool, isolation_level="AUTOCOMMIT")
    try:
        with engine.connect() as conn, caplog.at_level("INFO", logger="cloudos.worker"):
            assert worker.reap(conn, NOW) == (0, 0)
            assert worker.reap(conn, NOW) == (0, 0)
    finally:
        engine.dispose()
    forgotten = [r.getMessage() for r in caplog.records if "event=journal_node_forgotten" in r.getMessage()]
    assert len(forgotten) == 1 and "nodes=gone:/j" in forgotten[0]  # once: the row is gone after it
    held = [r.getMessage() for r in caplog.records if "event=reaper_waits_for_journal" in r.getMessage()]
    assert len(held) == 2 and "behind=300s" in held[0]
