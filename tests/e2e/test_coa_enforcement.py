"""CoA enforcement that does not give up, end to end: PostgreSQL, radiusd, `cloudos worker`
and RouterOS stand-ins on loopback that require a valid Message-Authenticator.

Each test starts its own worker (so its timings are its own) and closes the sessions it
opened, so nothing it queued is left for the next one.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import psycopg
import pytest

from cloudos_stack import Stack, free_port
from tests.conftest import Cli, Radiusd
from tests.fixtures.routeros import Received, RouterOS

ANSWERING = "127.0.0.80"
BLACKHOLE = "127.0.0.81"
SECRET = "enforce-nas-shared-secret"
TENANT = "enforce-isp"
MB = 10**6

Worker = Callable[..., subprocess.Popen[bytes]]


@pytest.fixture(scope="module")
def routers(radiusd: Radiusd, cli: Cli) -> Iterator[dict[str, RouterOS]]:
    """Two NASes of one tenant: one that answers, one whose CoA port never does (a blackhole)."""
    assert cli("tenant", "add", TENANT).code == 0
    out = {}
    for name, address in (("ccr-a", ANSWERING), ("ccr-b", BLACKHOLE)):
        port = free_port()
        out[address] = RouterOS(address, port, SECRET)
        r = cli("nas", "add", name, "--tenant", TENANT, "--address", address, "--secret-stdin",
                "--coa-port", str(port), stdin=SECRET + "\n")
        assert r.code == 0, r.err
    out[BLACKHOLE].mode = "silent"
    assert cli("plan", "add", "e-fup", "--tenant", TENANT, "--rate-limit", "4M/16M", "--quota", "10MB",
               "--fup-rate-limit", "256k/512k").code == 0
    assert cli("plan", "add", "e-cap", "--tenant", TENANT, "--rate-limit", "4M/16M", "--quota", "10MB").code == 0
    assert cli("plan", "add", "e-single", "--tenant", TENANT, "--rate-limit", "2M/2M").code == 0
    yield out
    for router in out.values():
        router.close()


@pytest.fixture
def worker(stack: Stack, routers: dict[str, RouterOS]) -> Iterator[Worker]:
    """Start `cloudos worker` as its own process, as in production, with these options."""
    started: list[subprocess.Popen[bytes]] = []
    log = open(stack.state / "worker-enforce.log", "ab")

    def start(*args: str) -> subprocess.Popen[bytes]:
        cloudos = str(Path(sys.executable).with_name("cloudos"))
        # As in production: the worker's own login (cloudos_worker), not the CLI's.
        started.append(subprocess.Popen([cloudos, "worker", "--poll", "0.2", *args],
                                        env=dict(os.environ, CLOUDOS_DATABASE_URL=stack.worker_url),
                                        stdout=log, stderr=subprocess.STDOUT))
        return started[-1]

    yield start
    for proc in started:
        proc.terminate()
        proc.wait(10)
    log.close()
    for router in routers.values():
        router.modes.clear()
        while not router.received.empty():
            router.received.get()
    routers[ANSWERING].mode = "ack"


def add(cli: Cli, user: str, plan: str) -> None:
    r = cli("subscriber", "add", user, "--tenant", TENANT, "--plan", plan, "--password-stdin", stdin="pw-1234\n")
    assert r.code == 0, r.err


def outbox(stack: Stack, user: str) -> list[tuple[Any, ...]]:
    with psycopg.connect(stack.database_url) as conn:
        return conn.execute(
            "SELECT kind, reason, status, result, attempts FROM coa_outbox WHERE attributes->>'User-Name' = %s"
            " ORDER BY id", (user,)).fetchall()


def wait_for(what: Callable[[], Any], timeout: float = 15.0) -> Any:
    deadline = time.monotonic() + timeout
    while not (got := what()):
        assert time.monotonic() < deadline, "timed out"
        time.sleep(0.05)
    return got


def settled(stack: Stack, user: str, n: int) -> Callable[[], list[tuple[Any, ...]]]:
    def check() -> list[tuple[Any, ...]]:
        rows = outbox(stack, user)
        return rows if len([r for r in rows if r[2] != "pending"]) >= n else []
    return check


def expect(router: RouterOS, code: int, timeout: float = 10.0) -> Received:
    got = router.expect(timeout)
    assert got.code == code and got.signed and got.authentic, got
    return got


@pytest.mark.parametrize("coa_mode", ["nak", "silent"])
def test_coa_that_fails_escalates_to_disconnect(radiusd: Radiusd, routers: dict[str, RouterOS], worker: Worker,
                                                cli: Cli, unique: str, coa_mode: str) -> None:
    """A quota crossing on a FUP plan: the NAS NAKs the CoA (or never answers it, two sends), so the
    worker sends a Disconnect for the session instead, and the NAS ACKs that."""
    router = routers[ANSWERING]
    router.modes[43] = coa_mode
    worker("--timeout", "0.5", "--max-attempts", "2", "--backoff-cap", "0.5")
    add(cli, unique, "e-fup")
    nas = radiusd.nas(secret=SECRET, source=ANSWERING)
    sid = f"{unique}-s"
    nas.acct("Start", unique, sid, framed_ip="10.60.0.10")
    crossed = time.monotonic()
    nas.acct("Interim-Update", unique, sid, input_octets=2 * MB, output_octets=9 * MB, session_time=600)
    coas = [expect(router, 43) for _ in range(1 if coa_mode == "nak" else 2)]
    assert coas[0].one("Mikrotik-Rate-Limit") == "256k/512k"
    dm = expect(router, 40)
    took = dm.at - crossed
    assert (dm.one("User-Name"), dm.one("Acct-Session-Id")) == (unique, sid)
    assert "Mikrotik-Rate-Limit" not in dm.attrs
    rows = wait_for(settled(radiusd.stack, unique, 2))
    first = ("COA_NAK Error-Cause=503 (Session-Context-Not-Found); escalated to Disconnect" if coa_mode == "nak"
             else f"no answer from {ANSWERING}:{router.port} after 2 attempts; escalated to Disconnect")
    assert rows == [("coa", "quota_exhausted", "nak" if coa_mode == "nak" else "timeout", first,
                     1 if coa_mode == "nak" else 2),
                    ("disconnect", "quota_exhausted", "ack", "DISCONNECT_ACK", 1)]
    print(f"\n{coa_mode} CoA: crossing to Disconnect-Request at the NAS {took:.2f} s")
    assert took < (2.0 if coa_mode == "nak" else 5.0)
    nas.acct("Stop", unique, sid, input_octets=2 * MB, output_octets=9 * MB, session_time=610, cause="Admin-Reset")


def test_unanswered_disconnect_is_sent_until_the_session_stops(radiusd: Radiusd, routers: dict[str, RouterOS],
                                                               worker: Worker, cli: Cli, unique: str) -> None:
    """A Disconnect the NAS never answers is sent again and again (well past five sends), at most
    --backoff-cap apart, while the session is open; a Stop ends it, recorded as cancelled."""
    router = routers[ANSWERING]
    router.mode = "silent"
    worker("--timeout", "0.3", "--max-attempts", "2", "--backoff-cap", "0.5")
    add(cli, unique, "e-single")
    nas = radiusd.nas(secret=SECRET, source=ANSWERING)
    sid = f"{unique}-s"
    nas.acct("Start", unique, sid, framed_ip="10.60.0.11")
    assert cli("session", "disconnect", unique, "--tenant", TENANT).code == 0
    sends = [expect(router, 40, timeout=5) for _ in range(8)]
    gaps = [b.at - a.at for a, b in zip(sends, sends[1:])]
    assert all(s.one("Acct-Session-Id") == sid for s in sends)
    # timeout 0.3 s + backoff 1, 2, 4 … capped at 0.5 s: every gap 0.3 + min(2^n, 0.5) s, plus a round.
    assert max(gaps) < 1.5, gaps
    ((kind, reason, status, _result, attempts),) = outbox(radiusd.stack, unique)
    assert (kind, reason, status) == ("disconnect", "admin", "pending") and attempts >= 8
    nas.acct("Stop", unique, sid, session_time=30, cause="Lost-Carrier")
    stopped = time.monotonic()
    ((kind, reason, status, result, attempts),) = wait_for(settled(radiusd.stack, unique, 1), timeout=5)
    print(f"\n{attempts} sends, gaps {min(gaps):.2f}-{max(gaps):.2f} s; cancelled "
          f"{time.monotonic() - stopped:.2f} s after the Stop: {result}")
    assert (kind, reason, status) == ("disconnect", "admin", "cancelled")
    assert result.startswith(f"session closed after {attempts} attempts (last: no answer from {ANSWERING}")
    time.sleep(0.5)  # one in flight when the Stop came may still land; after that, silence
    while not router.received.empty():
        router.received.get()
    assert router.nothing(2.0)


def test_disconnect_stops_when_the_subscriber_is_resumed(radiusd: Radiusd, routers: dict[str, RouterOS],
                                                         worker: Worker, cli: Cli, unique: str) -> None:
    router = routers[ANSWERING]
    router.mode = "silent"
    worker("--timeout", "0.3", "--backoff-cap", "0.5")
    add(cli, unique, "e-single")
    nas = radiusd.nas(secret=SECRET, source=ANSWERING)
    nas.acct("Start", unique, f"{unique}-s", framed_ip="10.60.0.12")
    assert cli("subscriber", "suspend", unique, "--tenant", TENANT).code == 0
    for _ in range(3):
        expect(router, 40, timeout=5)
    assert cli("subscriber", "resume", unique, "--tenant", TENANT).code == 0
    ((kind, reason, status, result, attempts),) = wait_for(settled(radiusd.stack, unique, 1), timeout=5)
    assert (kind, reason, status) == ("disconnect", "suspended", "cancelled") and attempts >= 3
    assert result == "subscriber resumed"  # cancelled by the resume itself, not left for the worker to find
    nas.acct("Stop", unique, f"{unique}-s", session_time=30)


def test_login_that_raced_a_suspend_is_disconnected(radiusd: Radiusd, routers: dict[str, RouterOS],
                                                    worker: Worker, cli: Cli, unique: str) -> None:
    """The suspend found no open session (the login was authorized just before it, its Start came
    after): the worker's sweep finds the session and disconnects it."""
    router = routers[ANSWERING]
    worker("--timeout", "0.5")
    add(cli, unique, "e-single")
    nas = radiusd.nas(secret=SECRET, source=ANSWERING)
    assert nas.pap(unique, "pw-1234").accepted
    r = cli("subscriber", "suspend", unique, "--tenant", TENANT, "--json")
    assert r.code == 0 and json.loads(r.out)["disconnects_queued"] == 0
    sid = f"{unique}-late"
    started = time.monotonic()
    nas.acct("Start", unique, sid, framed_ip="10.60.0.13")
    dm = expect(router, 40)
    print(f"\nraced login disconnected {dm.at - started:.2f} s after its Start")
    assert dm.one("Acct-Session-Id") == sid and dm.at - started < 5
    assert wait_for(settled(radiusd.stack, unique, 1)) == [("disconnect", "suspended", "ack", "DISCONNECT_ACK", 1)]
    # Once: the session has had its Disconnect; the sweep does not queue another.
    assert router.nothing(2.5) and len(outbox(radiusd.stack, unique)) == 1
    nas.acct("Stop", unique, sid, session_time=3, cause="Admin-Reset")


def test_session_over_a_hard_quota_is_disconnected_by_the_sweep(radiusd: Radiusd, routers: dict[str, RouterOS],
                                                                worker: Worker, cli: Cli, unique: str) -> None:
    """The quota was crossed by a session's Stop (nothing open to disconnect then); a second session
    that was let in before it is found out of policy (cloudos_lapse: quota_exhausted) and cut."""
    router = routers[ANSWERING]
    worker("--timeout", "0.5")
    add(cli, unique, "e-cap")
    nas = radiusd.nas(secret=SECRET, source=ANSWERING)
    nas.acct("Start", unique, f"{unique}-1", framed_ip="10.60.0.14")
    nas.acct("Stop", unique, f"{unique}-1", input_octets=5 * MB, output_octets=6 * MB, session_time=60)
    assert outbox(radiusd.stack, unique) == []
    nas.acct("Start", unique, f"{unique}-2", framed_ip="10.60.0.15")
    dm = expect(router, 40)
    assert dm.one("Acct-Session-Id") == f"{unique}-2"
    assert wait_for(settled(radiusd.stack, unique, 1)) == [
        ("disconnect", "quota_exhausted", "ack", "DISCONNECT_ACK", 1)]
    nas.acct("Stop", unique, f"{unique}-2", session_time=3, cause="Admin-Reset")


def test_a_blackholed_nas_does_not_delay_another(radiusd: Radiusd, routers: dict[str, RouterOS], worker: Worker,
                                                 cli: Cli, unique: str) -> None:
    """Disconnects for a NAS that never answers, then one for a NAS that does: the answering NAS
    gets its request at once, not after the 3 s timeout the blackholed ones wait out."""
    worker("--timeout", "3", "--backoff-cap", "1")
    stuck = [f"{unique}b{i}" for i in range(3)]
    for user in [*stuck, unique]:
        add(cli, user, "e-single")
    dark = radiusd.nas(secret=SECRET, source=BLACKHOLE)
    for i, user in enumerate(stuck):
        dark.acct("Start", user, f"{user}-s", framed_ip=f"10.60.1.{i + 1}")
        assert cli("session", "disconnect", user, "--tenant", TENANT).code == 0
    for _ in stuck:
        expect(routers[BLACKHOLE], 40, timeout=5)  # in flight now, each waiting for 3 s
    lit = radiusd.nas(secret=SECRET, source=ANSWERING)
    lit.acct("Start", unique, f"{unique}-s", framed_ip="10.60.1.9")
    queued = time.monotonic()
    assert cli("session", "disconnect", unique, "--tenant", TENANT).code == 0
    dm = expect(routers[ANSWERING], 40, timeout=5)
    served = dm.at - queued
    rows = wait_for(settled(radiusd.stack, unique, 1), timeout=5)
    recorded = time.monotonic() - queued
    print(f"\nanswering NAS got its Disconnect {served:.2f} s after it was queued, outcome recorded "
          f"{recorded:.2f} s after (3 blackholed requests in flight, timeout 3 s)")
    assert rows == [("disconnect", "admin", "ack", "DISCONNECT_ACK", 1)]
    assert served < 1.0 and recorded < 1.5
    assert [r[2] for user in stuck for r in outbox(radiusd.stack, user)] == ["pending"] * 3
    for user in stuck:
        dark.acct("Stop", user, f"{user}-s", session_time=5)
    lit.acct("Stop", unique, f"{unique}-s", session_time=5)
