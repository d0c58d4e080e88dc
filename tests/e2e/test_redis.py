"""What Redis carries between radiusd nodes: failed-login lockouts and authorize snapshots;
and what happens when Redis or PostgreSQL is away."""

from __future__ import annotations

import time

import pytest

from tests.conftest import Cli, Radiusd
from tests.fixtures.nas import Nas

NAS_ADDRESS = "127.0.0.40"
SECRET = "redis-nas-shared-secret"
TENANT = "redis-isp"


@pytest.fixture(scope="module")
def nas(radiusd: Radiusd, cli: Cli) -> Nas:
    assert cli("tenant", "add", TENANT).code == 0
    assert cli("tenant", "set", TENANT, "--login-fail-limit", "3", "--login-fail-window", "60",
               "--login-lockout", "4").code == 0
    assert cli("nas", "add", "r1", "--tenant", TENANT, "--address", NAS_ADDRESS, "--secret-stdin",
               stdin=SECRET + "\n").code == 0
    assert cli("plan", "add", "p", "--tenant", TENANT, "--rate-limit", "3M/6M").code == 0
    return radiusd.nas(secret=SECRET, source=NAS_ADDRESS)


def add(cli: Cli, user: str, password: str = "right-pw") -> None:
    r = cli("subscriber", "add", user, "--tenant", TENANT, "--plan", "p", "--password-stdin", stdin=password + "\n")
    assert r.code == 0, r.err


def test_wrong_passwords_lock_the_username_out_for_a_while(radiusd: Radiusd, nas: Nas, cli: Cli, unique: str) -> None:
    add(cli, unique)
    radiusd.log.mark()
    for _ in range(3):
        assert nas.pap(unique, "guess").one("Reply-Message") == "wrong password"
    reply = nas.chap(unique, "right-pw")
    assert reply.rejected and reply.one("Reply-Message") == "too many failed logins, try again later"
    log = radiusd.log.since()
    assert f"user={unique} event=locked_out failed_logins=3 seconds=4" in log
    assert f"user={unique} reason=throttled locked_until=" in log
    time.sleep(4.5)
    assert nas.pap(unique, "right-pw").accepted


def test_the_count_is_shared_and_an_admin_unlocks(radiusd: Radiusd, nas: Nas, cli: Cli, unique: str) -> None:
    add(cli, unique)
    for _ in range(2):
        assert nas.pap(unique, "guess").rejected
    assert nas.pap(unique, "right-pw").accepted  # two of three: not locked yet
    # The third, from another NAS of the tenant: the count lives in Redis, shared.
    other = "127.0.0.42"
    assert cli("nas", "add", "r2", "--tenant", TENANT, "--address", other, "--secret-stdin",
               stdin=SECRET + "\n").code == 0
    assert radiusd.nas(secret=SECRET, source=other).pap(unique, "guess").rejected
    assert nas.pap(unique, "right-pw").one("Reply-Message") == "too many failed logins, try again later"
    r = cli("subscriber", "set-password", unique, "--tenant", TENANT, "--password-stdin", stdin="new-pw\n")
    assert r.code == 0 and r.err == ""
    assert nas.pap(unique, "new-pw").accepted


def test_redis_down_authorize_carries_on_from_postgres(radiusd: Radiusd, nas: Nas, cli: Cli, unique: str) -> None:
    add(cli, unique)
    stack = radiusd.stack
    radiusd.log.mark()
    stack.stop_redis()
    try:
        started = time.monotonic()
        assert nas.pap(unique, "right-pw").accepted
        assert nas.pap(unique, "wrong").one("Reply-Message") == "wrong password"
        assert nas.pap(unique, "right-pw").accepted
        assert time.monotonic() - started < 3
        r = cli("subscriber", "suspend", unique, "--tenant", TENANT)
        assert r.code == 0 and "Redis unreachable" in r.err  # a warning, and the change is made
        assert nas.pap(unique, "right-pw").one("Reply-Message") == "account suspended"
        assert "hook=redis" in radiusd.log.since() and "reason=redis_unavailable" in radiusd.log.since()
    finally:
        stack.start_redis()
        time.sleep(3.5)  # radiusd tries Redis again once its breaker closes (3 s)


def test_cached_policy_serves_a_recent_snapshot_while_postgres_is_down(radiusd: Radiusd, nas: Nas, cli: Cli, unique: str) -> None:
    tenant = f"cache{unique}"
    address = "127.0.0.41"
    assert cli("tenant", "add", tenant).code == 0
    assert cli("tenant", "set", tenant, "--backend-down", "cached", "--backend-down-cache-seconds", "600").code == 0
    assert cli("nas", "add", "c1", "--tenant", tenant, "--address", address, "--secret-stdin",
               stdin="cache-nas-secret-1\n").code == 0
    assert cli("plan", "add", "p", "--tenant", tenant, "--rate-limit", "5M/10M").code == 0
    for user in ("seen", "suspended-later", "never-seen"):
        assert cli("subscriber", "add", user, "--tenant", tenant, "--plan", "p", "--password-stdin",
                   stdin="cache-pw\n").code == 0
    cached_nas = radiusd.nas(secret="cache-nas-secret-1", source=address, timeout=4, retries=1)
    assert cached_nas.pap("seen", "cache-pw").accepted
    assert cached_nas.pap("suspended-later", "cache-pw").accepted
    assert cli("subscriber", "suspend", "suspended-later", "--tenant", tenant).code == 0  # its snapshot goes stale
    stack = radiusd.stack
    radiusd.log.mark()
    stack.stop_postgres()
    try:
        time.sleep(stack.client_lifetime + 1)
        reply = cached_nas.pap("seen", "cache-pw")
        assert reply.accepted and reply.one("Mikrotik-Rate-Limit") == "5M/10M"
        assert cached_nas.pap("seen", "wrong").one("Reply-Message") == "wrong password"
        for user in ("suspended-later", "never-seen"):
            assert cached_nas.pap(user, "cache-pw").one("Reply-Message") == "service temporarily unavailable"
        log = radiusd.log.since()
        assert "hook=authorize user=seen event=served_from_snapshot" in log
    finally:
        stack.start_postgres()
