"""PostgreSQL stopped under a running radiusd: no crash, no hang, clear refusals, recovery."""

from __future__ import annotations

import time

import psycopg
import pytest

from cloudos_stack import Stack
from tests.conftest import Cli, Radiusd, add_plan_and_subscriber
from tests.fixtures.nas import wait_accepted


@pytest.fixture(scope="module")
def user(radiusd: Radiusd, cli: Cli) -> tuple[str, str]:
    return add_plan_and_subscriber("outage-plan", "1M/1M", "outage-user", "outage-pw")


def test_postgres_down_then_back(radiusd: Radiusd, user: tuple[str, str]) -> None:
    stack = radiusd.stack
    nas = radiusd.nas(timeout=4, retries=1)
    assert nas.pap(*user).accepted  # the NAS is known to this radiusd
    radiusd.log.mark()
    stack.stop_postgres()
    try:
        # Past the dynamic-client lifetime: the NAS must be re-looked-up while the database is gone.
        time.sleep(stack.client_lifetime + 1)
        started = time.monotonic()
        reply = nas.pap(*user)
        assert time.monotonic() - started < 4
        assert reply.rejected and reply.one("Reply-Message") == "service temporarily unavailable"
        # Accounting is acknowledged from the on-disk journal and stored once PostgreSQL is back.
        assert radiusd.nas(timeout=3, retries=1, applied=None).acct("Start", user[0], "outage-session",
                                                                    framed_ip="10.1.1.1").code == 5
        assert radiusd.alive()
        log = radiusd.log.since()
        # The NAS's client was renewed from memory (the feed announced no NAS change before it was
        # lost): FreeRADIUS runs that lookup in its network thread, and it did not wait on PostgreSQL.
        assert "hook=lookup_client event=client_added tenant=e2e nas=loopback address=127.0.0.1" in log
        assert "hook=lookup_client address=127.0.0.1 reason=backend_unavailable" not in log
        assert "hook=authorize user=outage-user reason=backend_unavailable" in log
        deadline = time.monotonic() + 10
        while "hook=accounting event=journal_waiting reason=backend_unavailable" not in log:
            assert time.monotonic() < deadline, "no log line says the journal waits for PostgreSQL"
            time.sleep(0.2)
            log = radiusd.log.since()
    finally:
        stack.start_postgres()
    wait_accepted(nas, *user, what="radiusd did not recover after PostgreSQL came back")
    deadline = time.monotonic() + 20
    while not journaled_session_stored(stack):
        assert time.monotonic() < deadline, "the journaled Start was not applied"
        time.sleep(0.3)
    assert radiusd.pid == stack.radiusd_pid()


def journaled_session_stored(stack: Stack) -> bool:
    with psycopg.connect(stack.database_url) as conn:
        row = conn.execute("SELECT host(framed_ip) FROM session_open WHERE acct_session_id = 'outage-session'").fetchone()
    return row == ("10.1.1.1",)
