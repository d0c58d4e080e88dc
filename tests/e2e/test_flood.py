"""Floods from source addresses no NAS covers, under a running radiusd.

A packet from an unknown address makes FreeRADIUS run the dynamic_clients virtual
server, in its network thread, and rlm_cloudos look the address up in PostgreSQL.
The flood here is 20,000 Access-Requests from 2,000 random loopback addresses
(tests/fixtures/flood.py, in a process of its own) while a real NAS logs in. It runs
against two radiusd: the shipped configuration, where every packet reaches
rlm_cloudos (FreeRADIUS's ``rate_limit`` is off, raddb/clients.conf says why) and
its negative cache and log limit are what holds; and the same with
CLOUDOS_CLIENT_NETWORKS leaving the flood's addresses out. What is measured, through
the real path:

* the NAS's logins: every one answered on its first send, and how fast;
* PostgreSQL's NAS lookups, counted per source address from PostgreSQL's own
  statement log (``log_statement = 'all'`` for the duration, then reset): what the
  database really executed, not what the module says it did;
* the radiusd log, in lines and bytes, before and after.
"""

from __future__ import annotations

import collections
import ipaddress
import json
import re
import statistics
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import psycopg
import pytest
from pyrad.client import Timeout

from cloudos_stack import REPO, Stack
from tests.conftest import E2E_SECRET, Cli, RadiusLog, Radiusd, add_plan_and_subscriber, beside
from tests.fixtures.flood import FLOOD_NETWORK, access_request
from tests.fixtures.nas import Nas

PACKETS = 20_000
SOURCES = 2_000
#: How long the flood is spread over: 2,000 packets/s, more than one PostgreSQL lookup per
#: packet should ever be asked to serve from radiusd's one network thread.
SECONDS = 10.0
#: The negative-cache interval radiusd runs with (CLOUDOS_UNKNOWN_CLIENT_SECONDS unset).
INTERVAL = 60.0
#: Lines about the real NAS: its logins (log { auth = yes }) and its client, looked up again
#: every CLOUDOS_CLIENT_LIFETIME.
_REAL_NAS = re.compile(r"address=127\.0\.0\.1\b|client 127\.0\.0\.1/32|flood-steady")


@pytest.fixture(scope="module")
def user(radiusd: Radiusd, cli: Cli) -> tuple[str, str]:
    return add_plan_and_subscriber("flood-plan", "1M/1M", "flood-steady", "flood-pw")


@dataclass
class Server:
    """A radiusd under test: where it listens and logs (PostgreSQL and Redis are the session's)."""

    variant: str
    stack: Stack
    log: RadiusLog
    alive: Callable[[], bool]

    def nas(self, **kw: Any) -> Nas:
        return Nas(self.stack.host, self.stack.ports.auth, self.stack.ports.acct, E2E_SECRET, **kw)


@pytest.fixture(scope="module", params=["shipped", "client_networks"])
def server(request: pytest.FixtureRequest, radiusd: Radiusd, stack: Stack,
           tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    # Each a radiusd of its own, even the shipped one: the flood fills the module's log allowance
    # for a minute, and the session's radiusd must still log the next test's unknown address.
    variant: str = request.param
    mine = beside(stack, tmp_path_factory.mktemp(variant))  # its own ports and state
    pid = mine.start_radiusd(env={"CLOUDOS_CLIENT_NETWORKS": "127.0.0.0/24, ::1/128"} if variant == "client_networks"
                             else {})
    try:
        yield Server(variant, mine, RadiusLog(mine.radius_log), lambda: mine.radiusd_pid() == pid and mine.radius_ready())
    finally:
        mine.stop_radiusd()


@contextmanager
def statements_logged(stack: Stack) -> Iterator[Path]:
    """PostgreSQL logs every statement, with its parameters, while inside; yields its log file."""
    with psycopg.connect(stack.database_url, autocommit=True) as conn:
        conn.execute("ALTER SYSTEM SET log_statement = 'all'")
        conn.execute("SELECT pg_reload_conf()")
    time.sleep(0.5)  # every backend reloads on its next command; give the signal time to land
    try:
        yield stack.pgdata.parent / "postgres.log"
    finally:
        with psycopg.connect(stack.database_url, autocommit=True) as conn:
            conn.execute("ALTER SYSTEM RESET log_statement")
            conn.execute("SELECT pg_reload_conf()")


_ENTRY = re.compile(r"^\S+ \S+ \S+ \[(\d+)\] ([A-Z]+):  (.*)$")
_PARAM = re.compile(r"^parameters: \$1 = '([^']*)'")


def nas_lookups(pg_log: str) -> collections.Counter[str]:
    """How many times PostgreSQL executed the dynamic-client lookup (rlm_cloudos.store.sql.LOOKUP_NAS),
    per source address, in this stretch of its log.

    Without a logging collector each backend writes a message (its continuation lines
    included) in one write, and the DETAIL with the parameters follows its statement.
    """
    counts: collections.Counter[str] = collections.Counter()
    statement: dict[str, str] = {}
    pid = ""
    for line in pg_log.splitlines():
        m = _ENTRY.match(line)
        if m is None:
            statement[pid] = statement.get(pid, "") + "\n" + line
            continue
        pid, kind, text = m.groups()
        if kind == "LOG":
            statement[pid] = text
        elif kind == "DETAIL":
            stmt = statement.pop(pid, "")
            p = _PARAM.match(text)
            if p and "FROM nas n JOIN tenant t" in stmt and "n.address >>= $1::inet" in stmt:
                counts[p.group(1)] += 1
    return counts


def read_from(path: Path, offset: int) -> str:
    with path.open("rb") as f:
        f.seek(offset)
        return f.read().decode(errors="replace")


def test_a_flood_from_unknown_sources_spares_postgresql_the_log_and_the_nas(
        server: Server, stack: Stack, user: tuple[str, str]) -> None:
    nas = server.nas(timeout=1.0, retries=1)  # one send: a login that needs a retransmit counts as lost
    assert nas.pap(*user).accepted
    with statements_logged(stack) as pg_log_path:
        pg_mark = pg_log_path.stat().st_size
        server.log.mark()
        log_bytes_before = server.stack.radius_log.stat().st_size
        sender = subprocess.Popen(
            [sys.executable, "-m", "tests.fixtures.flood", server.stack.host, str(server.stack.ports.auth),
             str(PACKETS), str(SOURCES), str(SECONDS)], cwd=REPO, stdout=subprocess.PIPE, text=True)
        answered: list[float] = []
        lost = 0
        try:
            while sender.poll() is None:
                started = time.monotonic()
                try:
                    reply = nas.pap(*user)
                except Timeout:
                    lost += 1
                    continue
                answered.append(time.monotonic() - started)
                assert reply.accepted, reply
                time.sleep(0.02)
        finally:
            out, _ = sender.communicate(timeout=60)
        sent = json.loads(out)
        time.sleep(1.5)  # the last packets' lookups and log lines
        pg_log = read_from(pg_log_path, pg_mark)
    log = server.log.since()
    log_bytes = server.stack.radius_log.stat().st_size - log_bytes_before

    flood_lookups = {a: n for a, n in nas_lookups(pg_log).items() if ipaddress.ip_address(a) in FLOOD_NETWORK}
    lines = log.splitlines()
    flood_lines = [ln for ln in lines if not _REAL_NAS.search(ln)]
    flood_bytes = sum(len(ln.encode()) + 1 for ln in flood_lines)
    figures = (f"{server.variant}: flood {sent}; NAS logins answered {len(answered)}, lost {lost}, answer time "
               f"median {statistics.median(answered) * 1000:.1f} ms, max {max(answered) * 1000:.1f} ms; PostgreSQL "
               f"NAS lookups for flood sources {sum(flood_lookups.values())} over {len(flood_lookups)} sources "
               f"(most for one source {max(flood_lookups.values(), default=0)}); radiusd log +{len(lines)} lines "
               f"(+{log_bytes} bytes), {len(flood_lines)} of them ({flood_bytes} bytes) not about the NAS")
    print("\n" + figures)
    assert sent["sent"] == PACKETS and sent["sources"] == SOURCES, figures
    assert server.alive(), "radiusd died under the flood"
    assert lost == 0, figures
    assert len(answered) >= 20, figures  # the NAS kept logging in while the flood ran
    # At most one lookup per source while the flood lasted, which is shorter than the interval.
    assert sent["seconds"] < INTERVAL
    assert max(flood_lookups.values(), default=0) <= 1, figures
    if server.variant == "client_networks":
        assert flood_lookups == {}, figures  # refused before any lookup
    # Not per packet: at most one line for every hundred packets, a hundred bytes each.
    assert len(flood_lines) <= PACKETS // 100, figures
    assert flood_bytes < PACKETS, figures


def test_an_unknown_source_is_looked_up_once_and_admitted_as_soon_as_it_is_added(
        radiusd: Radiusd, user: tuple[str, str], cli: Cli) -> None:
    stack = radiusd.stack
    source, secret = "127.201.0.7", "flood-late-nas-secret"
    prober = radiusd.nas(source=source, secret=secret)
    with statements_logged(stack) as pg_log_path:
        pg_mark = pg_log_path.stat().st_size
        radiusd.log.mark()
        for n in range(4):
            # Apart, as a router's retransmits are; all within the negative interval.
            assert prober.raw(access_request(n), stack.ports.auth, wait=0.1) is None
            time.sleep(1.2)
        pg_log = read_from(pg_log_path, pg_mark)
    ours = [ln for ln in radiusd.log.since().splitlines() if "hook=lookup_client" in ln and source in ln]
    lookups = nas_lookups(pg_log)[source]
    print(f"\n4 packets from {source}, 1.2 s apart: {lookups} PostgreSQL lookup(s), {len(ours)} rlm_cloudos line(s)")
    assert lookups == 1, (lookups, pg_log[-3000:])
    assert len(ours) == 1, ours

    # Added with the CLI: the cloudos_authz feed's N message drops the negative entry, so the
    # NAS does not wait out the interval.
    r = cli("nas", "add", "flood-late", "--tenant", "e2e", "--address", source, "--secret-stdin", stdin=secret + "\n")
    assert r.code == 0, r.err
    added = time.monotonic()
    nas = radiusd.nas(source=source, secret=secret, timeout=0.5, retries=1)
    while True:
        try:
            if nas.pap(*user).accepted:
                break
        except Timeout:
            pass
        assert time.monotonic() - added < 5, "a NAS added after its address was refused was not admitted"
    print(f"a refused address added as a NAS: first login accepted {time.monotonic() - added:.2f} s after the add "
          f"(the negative interval is {INTERVAL:.0f} s)")
    assert cli("nas", "remove", "flood-late", "--tenant", "e2e").code == 0


def test_routers_never_seen_before_are_let_in_together(radiusd: Radiusd, user: tuple[str, str], cli: Cli) -> None:
    """After a restart every NAS is new to radiusd. Five routers' first packets in the same second
    are each answered on their first send: nothing admits one new client per second (FreeRADIUS's
    rate_limit would drop four of them, and during a flood starve a new router altogether)."""
    routers = [(f"127.202.0.{i}", f"flood-new-nas-{i}") for i in range(1, 6)]
    for i, (address, secret) in enumerate(routers):
        r = cli("nas", "add", f"flood-new-{i}", "--tenant", "e2e", "--address", address, "--secret-stdin",
                stdin=secret + "\n")
        assert r.code == 0, r.err
    try:
        nases = [radiusd.nas(source=address, secret=secret, timeout=1.0, retries=1) for address, secret in routers]
        started = time.monotonic()
        with ThreadPoolExecutor(len(nases)) as pool:
            replies = list(pool.map(lambda nas: nas.pap(*user).accepted, nases))
        took = time.monotonic() - started
        print(f"\n{len(nases)} routers never seen before, at once: {sum(replies)} accepted on the first send "
              f"in {took:.2f} s")
        assert replies == [True] * len(nases)
    finally:
        for i in range(len(routers)):
            assert cli("nas", "remove", f"flood-new-{i}", "--tenant", "e2e").code == 0
