"""Accounting under faults, end to end: the reaper and the journal, sessions that come back, the NAS's clock.

This module runs its own radiusd, with PostgreSQL behind a TCP proxy
(tests/fixtures/proxy.py) it can cut, and with the module's default settings
(the session's radiusd believes Acct-Delay-Time up to 35 days, for the month
boundary test). pyrad plays the NAS; the reaper is the worker's own function.
"""

from __future__ import annotations

import functools
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
from typing import Any
from zoneinfo import ZoneInfo

import psycopg
import pytest
from psycopg.rows import dict_row
from sqlalchemy import create_engine
from sqlalchemy.pool import NullPool

from cloudos import worker
from cloudos.context import sqlalchemy_url
from cloudos_stack import Stack
from rlm_cloudos.store.journal_files import backlog
from tests.conftest import Cli, RadiusLog, beside
from tests.fixtures.nas import Nas, journal_applied
from tests.fixtures.proxy import Proxy

TENANT = "faults"
NAS_ADDRESS = "127.0.0.90"
REBOOT_NAS_ADDRESS = "127.0.0.91"
SECRET = "faults-nas-secret"
PASSWORD = "faults-pw"
HOUR = 3600


@dataclass
class Faulty:
    """The module's radiusd behind a PostgreSQL proxy of its own."""

    stack: Stack
    pg: Proxy
    log: RadiusLog
    nas: Callable[..., Nas]
    #: The owner's, to look at everything; the reaper runs as the worker's login, as in production.
    database_url: str
    worker_url: str

    def add(self, cli: Cli, user: str) -> str:
        r = cli("subscriber", "add", user, "--tenant", TENANT, "--plan", "one", "--password-stdin",
                stdin=PASSWORD + "\n")
        assert r.code == 0, r.err
        return user

    def row(self, user: str) -> dict[str, Any]:
        with psycopg.connect(self.database_url, row_factory=dict_row) as conn:
            row = conn.execute("SELECT * FROM session_open WHERE username = %s", (user,)).fetchone()
        assert row is not None
        return row

    def history(self, user: str) -> list[dict[str, Any]]:
        with psycopg.connect(self.database_url, row_factory=dict_row) as conn:
            return conn.execute("SELECT * FROM session WHERE username = %s", (user,)).fetchall()

    def usage(self, user: str) -> list[tuple[datetime, int, int]]:
        with psycopg.connect(self.database_url) as conn:
            return [(p, int(i), int(o)) for p, i, o in conn.execute(
                "SELECT u.period_start, u.input_octets, u.output_octets FROM usage_counter u "
                "JOIN subscriber s ON s.id = u.subscriber_id WHERE s.username = %s ORDER BY 1", (user,))]

    def reap(self, now: datetime) -> tuple[int, int]:
        """The worker's reaper, as it runs every minute, with its clock at ``now``."""
        engine = create_engine(sqlalchemy_url(self.worker_url), poolclass=NullPool, isolation_level="AUTOCOMMIT")
        try:
            with engine.connect() as conn:
                return worker.reap(conn, now)
        finally:
            engine.dispose()


@pytest.fixture(scope="module")
def faulty(stack: Stack, cli: Cli, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Faulty]:
    assert cli("tenant", "add", TENANT).code == 0
    for name, address in (("core", NAS_ADDRESS), ("reboots", REBOOT_NAS_ADDRESS)):
        r = cli("nas", "add", name, "--tenant", TENANT, "--address", address, "--secret-stdin", stdin=SECRET + "\n")
        assert r.code == 0, r.err
    r = cli("plan", "add", "one", "--tenant", TENANT, "--rate-limit", "2M/8M", "--simultaneous-use", "1")
    assert r.code == 0, r.err
    mine = beside(stack, tmp_path_factory.mktemp("faults"))
    with Proxy("127.0.0.1", stack.ports.pg) as pg:
        # The module's defaults: no CLOUDOS_ACCT_MAX_DELAY from the session's radiusd.
        mine.start_radiusd(env={"CLOUDOS_DATABASE_URL": f"postgresql://radiusd@127.0.0.1:{pg.port}/cloudos",
                                "CLOUDOS_ACCT_MAX_DELAY": ""})
        try:
            nas = functools.partial(Nas, mine.host, mine.ports.auth, mine.ports.acct, SECRET, timeout=5.0,
                                    applied=functools.partial(journal_applied, mine.acct_journal))
            yield Faulty(mine, pg, RadiusLog(mine.radius_log), nas, stack.database_url, stack.worker_url)
        finally:
            pg.pass_()
            mine.stop_radiusd()


def wait_for(condition: Callable[[], bool], within: float, what: str) -> None:
    deadline = time.monotonic() + within
    while not condition():
        assert time.monotonic() < deadline, f"{what} not within {within:.0f} s"
        time.sleep(0.05)


# ----------------------------------------------------------------------- item 3: the reaper and the journal
def test_the_reaper_does_not_outrun_interims_waiting_in_the_journal(faulty: Faulty, cli: Cli, unique: str) -> None:
    live, silent = faulty.add(cli, f"{unique}-live"), faulty.add(cli, f"{unique}-silent")
    nas = faulty.nas(source=NAS_ADDRESS)
    nas.acct("Start", live, f"{live}-s", mac="AA:00:00:00:01:01")
    nas.acct("Interim-Update", live, f"{live}-s", mac="AA:00:00:00:01:01", input_octets=1000, output_octets=2000,
             session_time=60)
    # The control: started an hour ago and silent since (the NAS lost power).
    nas.acct("Start", silent, f"{silent}-s", mac="AA:00:00:00:01:02", extra={"Acct-Delay-Time": HOUR})

    faulty.pg.cut()
    try:
        # PostgreSQL out of radiusd's reach: the interim is answered and waits in the journal.
        waiting = faulty.nas(source=NAS_ADDRESS, applied=None)
        reply = waiting.acct("Interim-Update", live, f"{live}-s", mac="AA:00:00:00:01:01", input_octets=3000,
                             output_octets=5000, session_time=120)
        assert reply.code == 5 and backlog(faulty.stack.acct_journal) > 0
        # The worker's clock an hour on (the outage lasted that long): the live session's last
        # stored packet is an hour old, but its interim is in the journal.
        later = datetime.now(timezone.utc) + timedelta(hours=1)
        reaped, _ = faulty.reap(later)
        assert faulty.row(live)["stopped_at"] is None, "the reaper closed a session whose interim waits in the journal"
        silent_row = faulty.row(silent)
        assert (silent_row["terminate_cause"], silent_row["closed_by"]) == ("Stale", "stale")
        assert reaped >= 1
    finally:
        faulty.pg.pass_()
    # Restored, and the reaper runs at once, before the drainer has caught up.
    faulty.reap(later)
    assert faulty.row(live)["stopped_at"] is None
    journal_applied(faulty.stack.acct_journal)
    row = faulty.row(live)
    assert (row["stopped_at"], row["input_octets"], row["output_octets"]) == (None, 3000, 5000)
    # Sent 8,000 bytes in all; counted once.
    assert sum(i + o for _, i, o in faulty.usage(live)) == 8000
    assert faulty.usage(silent) == []
    # Caught up, the reaper's "now" is the worker's again: the silent one would still be reaped
    # (it is), the live one is fresh.
    wait_for(lambda: faulty.reap(datetime.now(timezone.utc))[0] == 0 and faulty.row(live)["stopped_at"] is None,
             within=15, what="a reaper run that leaves the live session open")


# ----------------------------------------------------------------------- item 2: closed, then heard from again
def test_a_reaped_session_heard_from_again_is_back_online_and_counted_once(faulty: Faulty, cli: Cli,
                                                                           unique: str) -> None:
    user = faulty.add(cli, unique)
    nas = faulty.nas(source=NAS_ADDRESS)
    sid = f"{unique}-s"
    nas.acct("Start", user, sid, mac="AA:00:00:00:02:01", extra={"Acct-Delay-Time": HOUR})
    nas.acct("Interim-Update", user, sid, mac="AA:00:00:00:02:01", input_octets=1000, output_octets=1000,
             session_time=100, extra={"Acct-Delay-Time": HOUR - 100})
    wait_for(lambda: faulty.reap(datetime.now(timezone.utc))[0] >= 1 and faulty.row(user)["stopped_at"] is not None,
             within=15, what="the silent session reaped")
    (hist,) = faulty.history(user)
    assert hist["terminate_cause"] == "Stale"
    # Another device may log in: the session is closed.
    assert faulty.nas(source=NAS_ADDRESS).pap(user, PASSWORD, mac="AA:00:00:00:02:99").accepted

    with psycopg.connect(faulty.database_url, autocommit=True) as listener:
        listener.execute("LISTEN cloudos_authz")
        # It was alive all along (a NAS cut off for an hour): an interim with grown counters.
        nas.acct("Interim-Update", user, sid, mac="AA:00:00:00:02:01", input_octets=1500, output_octets=3000,
                 session_time=HOUR)
        heard = [n.payload for n in listener.notifies(timeout=2.0, stop_after=50)]
    row = faulty.row(user)
    assert (row["stopped_at"], row["terminate_cause"]) == (None, None), "still closed after an interim"
    assert row["closed_by"] is None
    (hist,) = faulty.history(user)
    assert (hist["stopped_at"], hist["terminate_cause"], hist["input_octets"]) == (None, None, 1500)
    # Every radiusd's cache is told: an A message with stopped 0.
    mine = [p for p in heard if p.startswith("A ") and f" {row['acct_unique_id']} " in p]
    assert mine and mine[-1].split(" ")[5] == "0", heard
    # Counted once: 1,500 + 3,000 sent in all, not the 2,000 of before plus the whole 4,500 again.
    assert sum(i + o for _, i, o in faulty.usage(user)) == 4500
    # Online again: one session allowed, so another device is refused.
    reply = faulty.nas(source=NAS_ADDRESS).pap(user, PASSWORD, mac="AA:00:00:00:02:98")
    assert reply.rejected and reply.one("Reply-Message") == "already online"

    # A Stop is final: an interim after it (newer) does not reopen the session.
    nas.acct("Stop", user, sid, mac="AA:00:00:00:02:01", input_octets=2000, output_octets=4000,
             session_time=HOUR + 60, cause="User-Request")
    nas.acct("Interim-Update", user, sid, mac="AA:00:00:00:02:01", input_octets=2000, output_octets=4000,
             session_time=HOUR + 60)
    row = faulty.row(user)
    assert (row["terminate_cause"], row["closed_by"]) == ("User-Request", "stop") and row["stopped_at"] is not None
    assert sum(i + o for _, i, o in faulty.usage(user)) == 6000
    assert faulty.nas(source=NAS_ADDRESS).pap(user, PASSWORD, mac="AA:00:00:00:02:98").accepted


def test_a_session_an_accounting_on_closed_comes_back_with_its_next_interim(faulty: Faulty, cli: Cli,
                                                                            unique: str) -> None:
    user = faulty.add(cli, unique)
    nas = faulty.nas(source=REBOOT_NAS_ADDRESS)
    sid = f"{unique}-s"
    nas.acct("Start", user, sid, mac="AA:00:00:00:03:01", extra={"Acct-Delay-Time": 900})
    nas.acct("Interim-Update", user, sid, mac="AA:00:00:00:03:01", input_octets=100, output_octets=100,
             session_time=300, extra={"Acct-Delay-Time": 600})
    # An Accounting-On dated five minutes ago (a bogus or replayed one): it closes the session.
    nas.acct("Accounting-On", extra={"Acct-Delay-Time": 300})
    assert faulty.row(user)["terminate_cause"] == "NAS-Reboot"
    # An interim from before the On, late: proves nothing after it, the session stays closed.
    nas.acct("Interim-Update", user, sid, mac="AA:00:00:00:03:01", input_octets=200, output_octets=200,
             session_time=400, extra={"Acct-Delay-Time": 500})
    assert faulty.row(user)["stopped_at"] is not None
    # One after it: the session is alive.
    nas.acct("Interim-Update", user, sid, mac="AA:00:00:00:03:01", input_octets=300, output_octets=300,
             session_time=900)
    row = faulty.row(user)
    assert (row["stopped_at"], row["input_octets"]) == (None, 300), "still closed after an interim newer than the On"
    assert (row["closed_by"], row["terminate_cause"]) == (None, None)
    assert sum(i + o for _, i, o in faulty.usage(user)) == 600
    reply = faulty.nas(source=REBOOT_NAS_ADDRESS).pap(user, PASSWORD, mac="AA:00:00:00:03:99")
    assert reply.rejected and reply.one("Reply-Message") == "already online"


# ----------------------------------------------------------------------- item 6: the NAS's word on time
def test_an_acct_delay_time_of_forty_days_is_clamped_to_one(faulty: Faulty, cli: Cli, unique: str) -> None:
    user = faulty.add(cli, unique)
    nas = faulty.nas(source=NAS_ADDRESS)
    sid = f"{unique}-s"
    faulty.log.mark()
    forty_days = 40 * 86_400
    before = datetime.now(timezone.utc)
    nas.acct("Start", user, sid, mac="AA:00:00:00:04:01", extra={"Acct-Delay-Time": forty_days})
    nas.acct("Interim-Update", user, sid, mac="AA:00:00:00:04:01", input_octets=1000, output_octets=2000,
             session_time=300, extra={"Acct-Delay-Time": forty_days})
    after = datetime.now(timezone.utc)
    karachi = ZoneInfo("Asia/Karachi")

    def month(at: datetime) -> datetime:
        return at.astimezone(karachi).replace(day=1, hour=0, minute=0, second=0, microsecond=0)

    # Booked a day back (the bound), never forty days back.
    (period, inp, out), = faulty.usage(user)
    assert (inp, out) == (1000, 2000)
    assert period in {month(before - timedelta(days=1)), month(after - timedelta(days=1))}
    assert period != month(before - timedelta(days=40))
    row = faulty.row(user)
    assert before - timedelta(days=1, seconds=5) <= row["updated_at"] <= after - timedelta(days=1) + timedelta(seconds=5)
    # Logged once per packet, with the NAS and the user.
    lines = [line for line in faulty.log.since().splitlines() if "event=acct_delay_clamped" in line]
    assert len(lines) == 2, lines
    for line in lines:
        for needle in (f"nas={NAS_ADDRESS}", f"user={user}", f"delay={forty_days}", "used=86400"):
            assert needle in line, (needle, line)
