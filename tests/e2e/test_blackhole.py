"""PostgreSQL and Redis that stop answering (not dying) under a running radiusd.

A dead backend refuses connections and finds missing retries; a blackholed one
accepts, holds every connection open and never answers, and finds missing
timeouts (STYLE.md, after psycopg's tests/fix_proxy.py). This module runs its own
``freeradius -f`` whose CLOUDOS_DATABASE_URL and CLOUDOS_REDIS_URL point at proxies
(tests/fixtures/proxy.py) in front of the session's PostgreSQL and Redis, then
blackholes each under it and measures how long every answer takes. The bounds are
derived from the configured timeouts, with margins for a busy 2-core machine, and
are far below the 30 s a hang would take.
"""

from __future__ import annotations

import concurrent.futures
import functools
import inspect
import re
import subprocess
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass

import psycopg
import pytest

from cloudos_stack import RADDB, Stack
from rlm_cloudos.store.authz import AuthzFeed
from rlm_cloudos.store.live import Live
from tests.conftest import CliResult, RadiusLog, beside
from tests.fixtures.nas import Nas, Reply, journal_applied, wait_accepted
from tests.fixtures.proxy import Proxy

REJECT_TENANT, REJECT_NAS, REJECT_SECRET = "bh-reject", "127.0.0.60", "bh-reject-nas-secret"
CACHED_TENANT, CACHED_NAS, CACHED_SECRET = "bh-cached", "127.0.0.61", "bh-cached-nas-secret"
PASSWORD = "bh-password"
UNAVAILABLE = "service temporarily unavailable"


def _setting(name: str) -> int:
    """A number from raddb/mods-enabled/cloudos, the module's settings as radiusd loads them."""
    found = re.search(rf"^\s*{name}\s*=\s*(\d+)\s*$", (RADDB / "mods-enabled" / "cloudos").read_text(), re.M)
    assert found, f"{name} not in raddb/mods-enabled/cloudos"
    return int(found.group(1))


#: The configured bounds (raddb/mods-enabled/cloudos; rlm_cloudos.store.live and .authz).
CONNECT_TIMEOUT = float(_setting("connect_timeout"))
STATEMENT_TIMEOUT = _setting("statement_timeout_ms") / 1000
REDIS_TIMEOUT: float = inspect.signature(Live.__init__).parameters["timeout"].default
FEED_PING: float = inspect.signature(AuthzFeed.__init__).parameters["ping_seconds"].default
#: What a busy 2-core machine may add to any bound: scheduling, radiusd's own queueing, pyrad.
SLACK = 2.0
#: One PostgreSQL wait: a statement on a silent connection (its bound is the statement
#: timeout plus a second), or a checkout from the pool (the connect timeout). A login may
#: wait out two: the dynamic-client lookup, then authorize on a lane another request holds.
PG_LOGIN_BOUND = 2 * (max(STATEMENT_TIMEOUT + 1.0, CONNECT_TIMEOUT)) + SLACK
#: A Redis call times out on its socket; one login makes at most two (snapshot, failure count).
REDIS_LOGIN_BOUND = 2 * 2 * REDIS_TIMEOUT + SLACK
#: The feed notices a silent connection at its next ping, bounded by the connect timeout.
FEED_LOST_BOUND = FEED_PING + CONNECT_TIMEOUT + 1.0 + SLACK
#: pyrad waits this long for each answer: far past every bound, so a slow answer is measured, not
#: retransmitted, and well short of the 30 s a hang would let the test wait.
NAS_TIMEOUT = 15.0


@dataclass
class Blackholed:
    """The module's radiusd, behind proxies of its own, and the facts the tests share."""

    stack: Stack
    pg: Proxy
    redis: Proxy
    log: RadiusLog
    reject_nas: Nas
    cached_nas: Nas
    cli: Callable[..., CliResult]

    def add(self, tenant: str, user: str) -> str:
        r = self.cli("subscriber", "add", user, "--tenant", tenant, "--plan", "p", "--password-stdin",
                     stdin=PASSWORD + "\n")
        assert r.code == 0, r.err
        return user

    def wait_log(self, needle: str, within: float) -> float:
        """Seconds until ``needle`` appears in the log since its mark; fails after ``within``."""
        started = time.monotonic()
        while needle not in self.log.since():
            assert time.monotonic() - started < within, f"{needle!r} not logged within {within:.1f} s"
            time.sleep(0.1)
        return time.monotonic() - started


def timed(fn: Callable[[], Reply]) -> tuple[Reply, float]:
    started = time.monotonic()
    reply = fn()
    return reply, time.monotonic() - started


def auth_log_reasons(stack: Stack, username: str, rows: int, within: float = 10.0) -> list[str]:
    """The reasons of ``username``'s auth-log rows once ``rows`` are written (the writer is asynchronous),
    or what is there after ``within`` seconds; then a second more, so a row written twice would show."""
    deadline = time.monotonic() + within
    while True:
        with psycopg.connect(stack.database_url) as conn:
            reasons = [str(r) for (r,) in conn.execute(
                "SELECT reason FROM auth_log WHERE username = %s ORDER BY at", (username,))]
        if len(reasons) > rows or time.monotonic() > deadline:
            return reasons
        if len(reasons) == rows:
            deadline = min(deadline, time.monotonic() + 1.0)
        time.sleep(0.2)


def usage(stack: Stack, tenant: str, username: str) -> int:
    with psycopg.connect(stack.database_url) as conn:
        row = conn.execute(
            "SELECT coalesce(sum(u.input_octets + u.output_octets), 0) FROM usage_counter u "
            "JOIN subscriber s ON s.id = u.subscriber_id JOIN tenant t ON t.id = s.tenant_id "
            "WHERE t.name = %s AND s.username = %s", (tenant, username)).fetchone()
    assert row is not None
    return int(row[0])


@pytest.fixture(scope="module")
def bh(stack: Stack, cli: Callable[..., CliResult], tmp_path_factory: pytest.TempPathFactory) -> Iterator[Blackholed]:
    for tenant, address, secret in ((REJECT_TENANT, REJECT_NAS, REJECT_SECRET),
                                    (CACHED_TENANT, CACHED_NAS, CACHED_SECRET)):
        assert cli("tenant", "add", tenant).code == 0
        assert cli("nas", "add", "n", "--tenant", tenant, "--address", address, "--secret-stdin",
                   stdin=secret + "\n").code == 0
        assert cli("plan", "add", "p", "--tenant", tenant, "--rate-limit", "2M/4M").code == 0
    r = cli("tenant", "set", CACHED_TENANT, "--backend-down", "cached", "--backend-down-cache-seconds", "600")
    assert r.code == 0, r.err
    # Its own state (journal, log, raddb copy) and ports; the session's key ring, PostgreSQL and Redis.
    mine = beside(stack, tmp_path_factory.mktemp("blackhole"))
    with Proxy("127.0.0.1", stack.ports.pg) as pg, Proxy("127.0.0.1", stack.ports.redis) as redis:
        mine.start_radiusd(env={
            "CLOUDOS_DATABASE_URL": f"postgresql://radiusd@127.0.0.1:{pg.port}/cloudos",
            "CLOUDOS_REDIS_URL": f"redis://:{stack.passwords['redis']}@127.0.0.1:{redis.port}/0",
        })
        try:
            nas = functools.partial(Nas, mine.host, mine.ports.auth, mine.ports.acct, timeout=NAS_TIMEOUT,
                                    retries=1, applied=functools.partial(journal_applied, mine.acct_journal))
            yield Blackholed(mine, pg, redis, RadiusLog(mine.radius_log),
                             nas(REJECT_SECRET, source=REJECT_NAS), nas(CACHED_SECRET, source=CACHED_NAS), cli)
        finally:
            pg.pass_()
            redis.pass_()
            mine.stop_radiusd()


def status_answered(stack: Stack) -> float:
    """Seconds a Status-Server probe took; fails if radiusd did not answer it within the login bound
    (the caller holds the time to that bound too; radius_ready's one second is a readiness check,
    not a bound on a machine as busy as CI's)."""
    started = time.monotonic()
    r = subprocess.run(
        ["radclient", "-q", "-t", str(int(PG_LOGIN_BOUND)), "-r", "1", "-S", str(stack.status_secret_file),
         f"127.0.0.1:{stack.ports.status}", "status"],
        input="Message-Authenticator = 0x00\n", capture_output=True, text=True)
    assert r.returncode == 0, f"radiusd did not answer Status-Server: {r.stdout}{r.stderr}"
    return time.monotonic() - started


def test_redis_blackholed_logins_answered_within_the_socket_timeout(bh: Blackholed, unique: str) -> None:
    seen = bh.add(CACHED_TENANT, f"{unique}-seen")
    assert bh.cached_nas.pap(seen, PASSWORD).accepted  # the NAS and the subscriber are known
    bh.log.mark()
    bh.redis.blackhole()
    times: dict[str, float] = {}
    try:
        # A first login reads PostgreSQL and saves its snapshot to Redis, which never answers.
        new = bh.add(CACHED_TENANT, f"{unique}-new")
        reply, times["snapshot"] = timed(lambda: bh.cached_nas.pap(new, PASSWORD))
        assert reply.accepted and reply.one("Mikrotik-Rate-Limit") == "2M/4M"
        bh.wait_log("reason=redis_unavailable", within=SLACK)
        # A wrong password is counted in Redis toward the lockout: still refused in time.
        reply, times["wrong_password"] = timed(lambda: bh.cached_nas.pap(seen, "wrong"))
        assert reply.rejected and reply.one("Reply-Message") == "wrong password"
        # Many at once, past the breaker's first failure: none waits on Redis.
        others = [bh.add(REJECT_TENANT, f"{unique}-r{i}") for i in range(12)]
        with concurrent.futures.ThreadPoolExecutor(12) as pool:
            futures = [pool.submit(timed, functools.partial(bh.reject_nas.pap, u, PASSWORD)) for u in others]
            times["status"] = status_answered(bh.stack)
            results = [f.result() for f in futures]
        assert all(r.accepted for r, _ in results), [r.attrs for r, _ in results]
        times["concurrent_max"] = max(t for _, t in results)
        print(f"\nRedis blackholed: answer times {times} (bound {REDIS_LOGIN_BOUND:.1f} s)")
        assert max(times.values()) < REDIS_LOGIN_BOUND, times
        log = bh.log.since()
        assert "hook=redis op=save_snapshot reason=redis_unavailable" in log
    finally:
        bh.redis.pass_()
    time.sleep(3.5)  # Live's breaker (3 s) closes; Redis is tried again


def test_postgres_blackholed(bh: Blackholed, unique: str) -> None:
    stack = bh.stack
    known = bh.add(REJECT_TENANT, f"{unique}-known")
    cached = bh.add(CACHED_TENANT, f"{unique}-cached")
    unseen = bh.add(REJECT_TENANT, f"{unique}-unseen")
    suspended = bh.add(REJECT_TENANT, f"{unique}-suspended")
    crowd = [bh.add(REJECT_TENANT, f"{unique}-c{i}") for i in range(24)]
    barred = bh.add(REJECT_TENANT, f"{unique}-barred")
    assert bh.cli("subscriber", "suspend", barred, "--tenant", REJECT_TENANT).code == 0
    for _ in range(2):  # read from PostgreSQL, then refused from memory (and confirmed by PostgreSQL)
        reply = bh.reject_nas.pap(barred, PASSWORD)
        assert reply.rejected and reply.one("Reply-Message") == "account suspended"
    assert bh.reject_nas.pap(known, PASSWORD).accepted
    assert bh.cached_nas.pap(cached, PASSWORD).accepted  # held in memory and in a Redis snapshot
    assert bh.reject_nas.pap(suspended, PASSWORD).accepted  # held in memory, current while the feed is heard
    acct = bh.reject_nas
    assert acct.acct("Start", known, f"{unique}-s", framed_ip="10.9.0.1").code == 5
    assert acct.acct("Interim-Update", known, f"{unique}-s", input_octets=1_000, output_octets=20_000,
                     session_time=60).code == 5
    assert usage(stack, REJECT_TENANT, known) == 21_000
    times: dict[str, float] = {}
    bh.log.mark()
    bh.pg.blackhole()
    try:
        # 1. A login nothing in memory answers reads PostgreSQL on a pooled connection that has
        #    gone silent: the reject tenant refuses it within the statement's bound.
        #    A refusal from memory is confirmed by PostgreSQL before it is sent: that read waits on the
        #    silent connection within the same bound, and the refusal stands as the cache gave it.
        reply, times["barred"] = timed(lambda: bh.reject_nas.pap(barred, PASSWORD))
        assert reply.rejected and reply.one("Reply-Message") == "account suspended"
        reply, times["unseen"] = timed(lambda: bh.reject_nas.pap(unseen, PASSWORD))
        assert reply.rejected and reply.one("Reply-Message") == UNAVAILABLE
        # 2. Accounting is answered from the journal and waits there.
        journaled = Nas(stack.host, stack.ports.auth, stack.ports.acct, REJECT_SECRET, source=REJECT_NAS,
                        timeout=NAS_TIMEOUT, retries=1)
        for octets in (5_000, 9_000):  # cumulative
            reply, times[f"acct_{octets}"] = timed(lambda: journaled.acct(
                "Interim-Update", known, f"{unique}-s", input_octets=1_000 + octets, output_octets=20_000 + octets,
                session_time=120))
            assert reply.code == 5
        reply, times["acct_stop"] = timed(lambda: journaled.acct(
            "Stop", known, f"{unique}-s", input_octets=1_000 + 9_500, output_octets=20_000 + 9_500,
            session_time=180, cause="User-Request"))
        assert reply.code == 5
        # The NOC suspends a subscriber (the CLI reaches PostgreSQL; this radiusd's feed does not
        # hear it): the cached decision that he may log in is stale from now on.
        assert bh.cli("subscriber", "suspend", suspended, "--tenant", REJECT_TENANT).code == 0
        # 3. The authorize feed notices its silent connection: the cache stops serving as current.
        times["feed_lost"] = bh.wait_log("hook=authz_feed event=feed_lost", within=FEED_LOST_BOUND)
        # Once that bound has passed, the stale "may log in" is not served for the suspended subscriber.
        reply, times["suspended"] = timed(lambda: bh.reject_nas.pap(suspended, PASSWORD))
        assert reply.rejected and reply.one("Reply-Message") == UNAVAILABLE
        # 4. Now a subscriber seen before: the reject tenant refuses, the cached tenant serves
        #    what it held when the feed was lost.
        reply, times["known"] = timed(lambda: bh.reject_nas.pap(known, PASSWORD))
        assert reply.rejected and reply.one("Reply-Message") == UNAVAILABLE
        reply, times["cached"] = timed(lambda: bh.cached_nas.pap(cached, PASSWORD))
        assert reply.accepted and reply.one("Mikrotik-Rate-Limit") == "2M/4M"
        # 5. Many logins, each needing PostgreSQL, spread over several breaker periods so that
        #    some wait on the pool or a silent connection while the others arrive; meanwhile
        #    Status-Server and the cached tenant keep being answered: no lane and no thread is
        #    held for good.
        def staggered(i: int, user: str) -> tuple[Reply, float]:
            time.sleep(i * 0.2)
            return timed(lambda: bh.reject_nas.pap(user, PASSWORD))

        with concurrent.futures.ThreadPoolExecutor(len(crowd)) as pool:
            futures = [pool.submit(staggered, i, u) for i, u in enumerate(crowd)]
            statuses: list[float] = []
            served: list[float] = []
            while not all(f.done() for f in futures):
                statuses.append(status_answered(stack))
                reply, took = timed(lambda: bh.cached_nas.pap(cached, PASSWORD))
                assert reply.accepted
                served.append(took)
                time.sleep(0.3)
            results = [f.result() for f in futures]
        assert all(r.one("Reply-Message") == UNAVAILABLE for r, _ in results), [r.attrs for r, _ in results]
        times["crowd_max"] = max(t for _, t in results)
        times["status_max"] = max(statuses)
        times["cached_max"] = max(served)
        assert usage(stack, REJECT_TENANT, known) == 21_000  # nothing applied yet
        print(f"\nPostgreSQL blackholed: answer times { {k: round(v, 2) for k, v in times.items()} } "
              f"(login bound {PG_LOGIN_BOUND:.1f} s, feed bound {FEED_LOST_BOUND:.1f} s)")
        logins = {k: v for k, v in times.items() if k != "feed_lost"}
        assert max(logins.values()) < PG_LOGIN_BOUND, times
        log = bh.log.since()
        assert f"hook=authorize user={unseen} reason=backend_unavailable" in log
        assert f"hook=authorize user={known} reason=backend_unavailable" in log
        assert f"hook=authorize user={cached} event=served_from_snapshot" in log
        # The drainer's statement on a silent connection is cut at its round-trip bound: a timeout.
        assert "hook=accounting event=journal_waiting reason=timeout" in log
        # The auth log's INSERT on a silent connection is cut the same way, and its rows are kept.
        assert "hook=post_auth event=auth_log_deferred" in log
        assert "Unresponsive child" not in log  # radiusd's own word for a request past max_request_time
    finally:
        bh.pg.pass_()
    # 6. Back: logins read PostgreSQL again, and the journal is applied exactly once.
    wait_accepted(bh.reject_nas, known, PASSWORD, what="radiusd did not recover after PostgreSQL answered again")
    journal_applied(stack.acct_journal, timeout=20)
    assert usage(stack, REJECT_TENANT, known) == 1_000 + 9_500 + 20_000 + 9_500
    # The refusal from memory while PostgreSQL was silent reaches the auth log once it answers, once,
    # after the two made before. (A backend_unavailable refusal has no tenant to log it under.)
    assert auth_log_reasons(stack, barred, rows=3) == ["suspended"] * 3
    assert stack.radius_ready()
