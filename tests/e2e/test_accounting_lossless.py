"""PostgreSQL stopped in the middle of an accounting stream from several NAS: nothing lost, nothing twice.

The NAS keep being answered while the database is down (the records wait in
radiusd's on-disk journal); once it is back the journal is applied and every
subscriber's usage equals exactly what the NAS reported.
"""

from __future__ import annotations

import random
import time
from collections import defaultdict

import psycopg
import pytest

from cloudos_stack import Stack
from tests.conftest import E2E_SECRET, Cli, Radiusd
from tests.fixtures.nas import Nas
from tests.fixtures.pg import fetch_one

SUBSCRIBERS = 30
SESSIONS_PER_SUBSCRIBER = 2
INTERIMS = 50


@pytest.fixture(scope="module")
def fleet(radiusd: Radiusd, cli: Cli) -> list[tuple[Nas, str, str]]:
    """Three NAS (two tenants) and their subscribers."""
    assert cli("tenant", "add", "bulk").code == 0
    assert cli("plan", "add", "bulk-plan", "--tenant", "bulk", "--rate-limit", "10M/10M").code == 0
    assert cli("plan", "add", "bulk-e2e", "--tenant", "e2e", "--rate-limit", "10M/10M").code == 0
    nases = [(radiusd.nas(secret=E2E_SECRET, source="127.0.0.1", applied=None), "e2e", "bulk-e2e")]
    for i, address in enumerate(("127.0.0.21", "127.0.0.22")):
        secret = f"bulk-nas-secret-{i}"
        r = cli("nas", "add", f"bulk{i}", "--tenant", "bulk", "--address", address, "--secret-stdin",
                stdin=secret + "\n")
        assert r.code == 0, r.err
        nases.append((radiusd.nas(secret=secret, source=address, applied=None), "bulk", "bulk-plan"))
    users = []
    for n in range(SUBSCRIBERS):
        nas, tenant, plan = nases[n % len(nases)]
        name = f"bulk{n:03d}"
        r = cli("subscriber", "add", name, "--tenant", tenant, "--plan", plan, "--password-stdin", stdin="pw-1234\n")
        assert r.code == 0, r.err
        users.append((nas, tenant, name))
    return users


def usage_by_user(stack: Stack) -> dict[str, int]:
    with psycopg.connect(stack.database_url) as conn:
        rows = conn.execute(
            "SELECT s.username, sum(u.input_octets + u.output_octets) FROM usage_counter u "
            "JOIN subscriber s ON s.id = u.subscriber_id WHERE s.username LIKE 'bulk%%' GROUP BY 1").fetchall()
    return {name: int(total) for name, total in rows}


def test_postgres_outage_mid_stream_loses_and_doubles_nothing(radiusd: Radiusd,
                                                               fleet: list[tuple[Nas, str, str]]) -> None:
    rng = random.Random(7)
    # Each session's cumulative counters grow by a random step per interim; some
    # steps are large enough to carry into Gigawords.
    sessions = []
    for nas, _tenant, user in fleet:
        for k in range(SESSIONS_PER_SUBSCRIBER):
            steps = [(rng.randrange(10**5, 4 * 10**8), rng.randrange(10**5, 4 * 10**8)) for _ in range(INTERIMS)]
            sessions.append((nas, user, f"{user}-s{k}", steps))

    # The stream: Start, INTERIMS interims, Stop for every session, interleaved,
    # with some packets sent twice (a NAS retransmitting after a lost answer).
    packets: list[tuple[int, Nas, str, str, str, int, int]] = []
    totals: dict[str, int] = defaultdict(int)
    for nas, user, sid, steps in sessions:
        packets.append((0, nas, "Start", user, sid, 0, 0))
    for r in range(INTERIMS):
        for nas, user, sid, steps in sessions:
            inp = sum(s[0] for s in steps[: r + 1])
            out = sum(s[1] for s in steps[: r + 1])
            status = "Stop" if r == INTERIMS - 1 else "Interim-Update"
            packets.append((r + 1, nas, status, user, sid, inp, out))
            if r == INTERIMS - 1:
                totals[user] += inp + out
    duplicates = rng.sample(range(len(packets)), len(packets) // 20)
    for i in sorted(duplicates, reverse=True):
        packets.insert(i + 1, packets[i])

    stack = radiusd.stack
    down_at, up_at = len(packets) // 4, 3 * len(packets) // 4
    answered = 0
    outage_started = outage = 0.0
    started = time.monotonic()
    try:
        for i, (r, nas, status, user, sid, inp, out) in enumerate(packets):
            if i == down_at:
                stack.stop_postgres()
                outage_started = time.monotonic()
            if i == up_at:
                stack.start_postgres()
                outage = time.monotonic() - outage_started
            reply = nas.acct(status, user, sid, input_octets=inp, output_octets=out, session_time=r * 300)
            assert reply.code == 5, f"packet {i} ({status} {sid}) not acknowledged"
            answered += 1
    finally:
        if not stack.postgres_running():
            stack.start_postgres()
    sent_for = time.monotonic() - started

    deadline = time.monotonic() + 120
    while True:
        got = usage_by_user(stack)
        if got == dict(totals) or time.monotonic() > deadline:
            break
        time.sleep(0.5)
    replayed_after = time.monotonic() - started - sent_for
    lost = sum(max(0, totals[u] - got.get(u, 0)) for u in totals)
    doubled = sum(max(0, got.get(u, 0) - totals[u]) for u in totals)
    print(f"\nlossless: packets sent={len(packets)} (duplicates {len(duplicates)}) from {len({id(s[0]) for s in sessions})} NAS, "
          f"answered={answered}, PostgreSQL down {outage:.1f}s during a {sent_for:.1f}s stream, "
          f"replay finished {replayed_after:.1f}s after the last packet; bytes lost={lost}, bytes double-counted={doubled}")
    assert answered == len(packets)
    assert got == dict(totals), f"lost {lost} bytes, double-counted {doubled} bytes"
    with psycopg.connect(stack.database_url) as conn:
        open_count, stopped = fetch_one(conn.execute(
            "SELECT count(*) FILTER (WHERE stopped_at IS NULL), count(*) FILTER (WHERE stopped_at IS NOT NULL) "
            "FROM session_open WHERE username LIKE 'bulk%%'"))
    assert (open_count, stopped) == (0, len(sessions))
