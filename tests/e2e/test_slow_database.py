"""A slow PostgreSQL is not a dead one: accounting that runs into its timeouts leaves logins alone.

The drainer applies the journal on a pool of its own, with a breaker of its own. Here
its statements run into lock_timeout (another transaction holds usage_counter, as a
long report or a VACUUM FULL would) for several seconds while subscribers nothing in
memory knows log in: each of those logins reads PostgreSQL, and every one is accepted.
With one pool and one breaker (before issue 11 item 5), each failed batch made logins
fail fast for the next second, and a batch waiting on its lock held the half-open
probe, so most of them were refused "service temporarily unavailable".
"""

from __future__ import annotations

import time

import psycopg

from tests.conftest import Cli, Radiusd, add_plan_and_subscriber
from tests.fixtures.nas import journal_applied, wait_accepted

#: How long usage_counter stays locked: several statement timeouts (2 s each, raddb/mods-enabled/cloudos).
LOCKED_SECONDS = 7.0


def usage(radiusd: Radiusd, username: str) -> tuple[int, int]:
    with psycopg.connect(radiusd.stack.database_url) as conn:
        row = conn.execute("SELECT coalesce(sum(u.input_octets), 0), coalesce(sum(u.output_octets), 0) "
                           "FROM usage_counter u JOIN subscriber s ON s.id = u.subscriber_id "
                           "WHERE s.username = %s", (username,)).fetchone()
    assert row is not None
    return int(row[0]), int(row[1])


def test_accounting_timing_out_does_not_refuse_logins(radiusd: Radiusd, cli: Cli, unique: str) -> None:
    user, password = add_plan_and_subscriber(f"{unique}-p", "4M/4M", f"{unique}-acct", "slow-pw")
    cold = [f"{unique}-c{i}" for i in range(20)]
    for name in cold:
        r = cli("subscriber", "add", name, "--tenant", "e2e", "--plan", f"{unique}-p", "--password-stdin",
                stdin="slow-pw\n")
        assert r.code == 0, r.err
    nas = radiusd.nas(timeout=10, retries=1)
    wait_accepted(nas, user, password)  # a test before may have just restarted PostgreSQL
    assert nas.acct("Start", user, f"{unique}-s", framed_ip="10.77.0.1").code == 5
    journaled = radiusd.nas(timeout=10, retries=1, applied=None)
    radiusd.log.mark()
    answers: list[tuple[str, float]] = []
    with psycopg.connect(radiusd.stack.database_url) as locker:
        locker.execute("LOCK TABLE usage_counter IN EXCLUSIVE MODE")  # reads go on; writes wait
        locked_at = time.monotonic()
        for i in range(1, 4):  # cumulative counters: 3,000 in and 30,000 out in all
            assert journaled.acct("Interim-Update", user, f"{unique}-s", input_octets=1_000 * i,
                                  output_octets=10_000 * i, session_time=60 * i).code == 5
        for name in cold:
            started = time.monotonic()
            reply = nas.pap(name, "slow-pw")
            said = "accepted" if reply.accepted else reply.attrs.get("Reply-Message", ["rejected"])[0]
            answers.append((said, time.monotonic() - started))
            time.sleep(max(0.0, (LOCKED_SECONDS - 1) / len(cold) - answers[-1][1]))
        while time.monotonic() - locked_at < LOCKED_SECONDS:
            time.sleep(0.1)
        log = radiusd.log.since()
        assert usage(radiusd, user) == (0, 0)  # nothing could be applied meanwhile
        locker.rollback()
    print(f"\nusage_counter locked {LOCKED_SECONDS:.0f} s: {len(answers)} cold logins, slowest "
          f"{max(t for _, t in answers):.2f} s, {sum(a != 'accepted' for a, _ in answers)} not accepted")
    assert [a for a, _ in answers] == ["accepted"] * len(cold), answers
    assert "hook=accounting event=journal_waiting reason=timeout" in log
    assert "journal_batch_halved" in log
    assert "reason=backend_unavailable" not in log  # no login was refused for the drainer's trouble
    journal_applied(radiusd.stack.acct_journal, timeout=30)
    assert usage(radiusd, user) == (3_000, 30_000)  # every interim, counted once
