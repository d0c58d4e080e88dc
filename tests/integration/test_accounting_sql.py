"""cloudos_account() and its neighbours in a real PostgreSQL: deltas, periods, quota crossing, reaping."""

from __future__ import annotations

import itertools
from collections.abc import Iterator
from pathlib import Path
from dataclasses import dataclass
from datetime import date, datetime, timedelta, timezone
from typing import Any

import psycopg
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from cloudos_stack import Stack
from rlm_cloudos import coa
from rlm_cloudos.store import notices
from rlm_cloudos.policy import billing_period, expires_at_for_date
from tests.conftest import Cli
from tests.fixtures.pg import fetch_one
from tests.integration.world import ACCOUNT, MAC, NAS1, NAS2, World, build_world

UTC = timezone.utc
MB = 10**6
G = 2**32
T0 = datetime(2026, 11, 10, 12, 0, tzinfo=UTC)

_uids = itertools.count(1)


def new_uid() -> str:
    return f"uid-{next(_uids):06d}"


@dataclass
class AcctWorld(World):
    #: The feed text cloudos_account() returned for the last packet (what it announced on cloudos_authz).
    last_feed: str | None = None

    def account(self, uid: str, status: str, user: str | None, at: datetime, inp: int = 0, out: int = 0,
                secs: int = 0, *, nas: str = NAS1, ip: str | None = "100.64.0.7", session: str | None = None,
                cause: str | None = None) -> tuple[Any, ...]:
        """cloudos_account()'s answer without the feed (kept in last_feed)."""
        row = self.account_row(uid, status, user, at, inp, out, secs, nas=nas, ip=ip, session=session, cause=cause)
        self.last_feed = row[6]
        return row[:6]

    def usage(self, user: str) -> list[tuple[datetime, datetime, int, int, int]]:
        return [tuple(r) for r in self.conn.execute(
            "SELECT period_start, period_end, input_octets, output_octets, session_time FROM usage_counter "
            "WHERE subscriber_id = %s ORDER BY period_start", (self.subscribers[user],))]

    def totals(self, user: str) -> tuple[int, int, int]:
        rows = self.usage(user)
        return (sum(r[2] for r in rows), sum(r[3] for r in rows), sum(r[4] for r in rows))

    def open_row(self, uid: str) -> dict[str, Any]:
        cur = self.conn.execute("SELECT * FROM session_open WHERE acct_unique_id = %s", (uid,))
        names = [d.name for d in cur.description or ()]
        row = cur.fetchone()
        assert row is not None, uid
        return dict(zip(names, row))

    def history(self, uid: str) -> list[dict[str, Any]]:
        cur = self.conn.execute("SELECT * FROM session WHERE acct_unique_id = %s", (uid,))
        names = [d.name for d in cur.description or ()]
        return [dict(zip(names, r)) for r in cur.fetchall()]

    def outbox(self) -> list[dict[str, Any]]:
        cur = self.conn.execute("SELECT * FROM coa_outbox ORDER BY id")
        names = [d.name for d in cur.description or ()]
        return [dict(zip(names, r)) for r in cur.fetchall()]


@pytest.fixture
def world(fresh_db: str, cli: Cli) -> Iterator[AcctWorld]:
    yield from build_world(fresh_db, cli, AcctWorld)


# ----------------------------------------------------------------------- (a) order and duplicates
@st.composite
def sessions(draw: st.DrawFn) -> tuple[list[tuple[str, int, int, int]], tuple[int, int, int]]:
    """Start, interims and Stop of one session with cumulative counters, delivered in any order with duplicates."""
    steps = draw(st.lists(st.tuples(st.integers(0, 2**36), st.integers(0, 2**36), st.integers(0, 3600)),
                          min_size=1, max_size=8))
    packets = [("Start", 0, 0, 0)]
    inp = out = secs = 0
    for d_in, d_out, d_secs in steps:
        inp, out, secs = inp + d_in, out + d_out, secs + d_secs
        packets.append(("Interim-Update", inp, out, secs))
    packets[-1] = ("Stop", inp, out, secs)
    dups = draw(st.lists(st.sampled_from(packets), max_size=len(packets)))
    return draw(st.permutations(packets + dups)), (inp, out, secs)


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(case=sessions())
def test_any_order_and_duplication_counts_the_final_counters_once(world: AcctWorld, case: Any) -> None:
    packets, final = case
    uid = new_uid()  # usage_counter is shared across examples: compare before and after
    before = world.totals("ali")
    deltas = [0, 0, 0]
    for status, inp, out, secs in packets:
        result, tenant_id, sub_id, d_in, d_out, d_time = world.account(uid, status, "ali", T0 + timedelta(seconds=secs),
                                                                       inp, out, secs)
        assert (result, sub_id) == ("ok", world.subscribers["ali"])
        assert d_in >= 0 and d_out >= 0 and d_time >= 0
        deltas = [deltas[0] + d_in, deltas[1] + d_out, deltas[2] + d_time]
    after = world.totals("ali")
    assert tuple(deltas) == final
    assert tuple(a - b for a, b in zip(after, before)) == final
    row = world.open_row(uid)
    assert (row["input_octets"], row["output_octets"], row["session_time"]) == final
    (hist,) = world.history(uid)
    assert (hist["input_octets"], hist["output_octets"], hist["session_time"]) == final
    assert hist["stopped_at"] == T0 + timedelta(seconds=final[2])


# ----------------------------------------------------------------------- (b) Gigawords
def test_counters_beyond_32_bits(world: AcctWorld) -> None:
    uid = new_uid()
    world.account(uid, "Start", "ali", T0)
    world.account(uid, "Interim-Update", "ali", T0 + timedelta(seconds=300), G - 10, 5 * G + 7, 300)
    r = world.account(uid, "Interim-Update", "ali", T0 + timedelta(seconds=600), G + 10, 6 * G, 600)
    assert r[3:] == (20, G - 7, 300)
    world.account(uid, "Stop", "ali", T0 + timedelta(seconds=900), 3 * G, 40 * G + 1, 900, cause="User-Request")
    assert world.totals("ali") == (3 * G, 40 * G + 1, 900)
    (hist,) = world.history(uid)
    assert (hist["input_octets"], hist["output_octets"]) == (3 * G, 40 * G + 1)


# ----------------------------------------------------------------------- (c) Stop without Start
def test_stop_without_start_records_the_session(world: AcctWorld) -> None:
    uid = new_uid()
    stop_at = T0 + timedelta(hours=1)
    r = world.account(uid, "Stop", "ali", stop_at, 1000, 5000, 3600, session="81a0000c", cause="Lost-Carrier")
    assert r == ("ok", r[1], world.subscribers["ali"], 1000, 5000, 3600)
    (hist,) = world.history(uid)
    assert hist["started_at"] == T0 and hist["stopped_at"] == stop_at
    assert (hist["input_octets"], hist["output_octets"], hist["session_time"]) == (1000, 5000, 3600)
    assert hist["terminate_cause"] == "Lost-Carrier" and hist["acct_session_id"] == "81a0000c"
    assert hist["subscriber_id"] == world.subscribers["ali"] and hist["nas_id"] == world.nas["n1"]
    assert world.totals("ali") == (1000, 5000, 3600)
    # The retransmitted Stop changes nothing.
    assert world.account(uid, "Stop", "ali", stop_at, 1000, 5000, 3600, cause="Lost-Carrier")[3:] == (0, 0, 0)
    assert len(world.history(uid)) == 1 and world.totals("ali") == (1000, 5000, 3600)


# ----------------------------------------------------------------------- (d) Accounting-On
def test_accounting_on_closes_the_nas_open_sessions(world: AcctWorld) -> None:
    a, b, other, done = new_uid(), new_uid(), new_uid(), new_uid()
    world.account(a, "Interim-Update", "ali", T0, 100, 200, 60)
    world.account(b, "Start", "capped", T0)
    world.account(other, "Start", "fupper", T0, nas=NAS2)
    world.account(done, "Stop", "ali", T0, 1, 2, 3, cause="User-Request")
    reboot = T0 + timedelta(minutes=7)
    r = world.account(new_uid(), "Accounting-On", None, reboot, ip=None)
    assert r[0] == "nas_reset"
    for uid in (a, b):
        row = world.open_row(uid)
        assert (row["stopped_at"], row["terminate_cause"]) == (reboot, "NAS-Reboot")
        (hist,) = world.history(uid)
        assert (hist["stopped_at"], hist["terminate_cause"]) == (reboot, "NAS-Reboot")
        assert (hist["input_octets"], hist["output_octets"], hist["session_time"]) == (
            row["input_octets"], row["output_octets"], row["session_time"])
    assert world.history(a)[0]["input_octets"] == 100
    assert world.open_row(other)["stopped_at"] is None and world.history(other) == []
    assert world.open_row(done)["terminate_cause"] == "User-Request"
    assert world.open_row(done)["stopped_at"] == T0


def test_a_replayed_accounting_on_closes_only_what_the_reboot_ended(world: AcctWorld) -> None:
    """The journal replays a batch (one lane failed after another committed), or the NAS retransmits:
    the same Accounting-On arrives again after a new session has started. It must not close it."""
    before, after = new_uid(), new_uid()
    world.account(before, "Start", "ali", T0)
    world.account(before, "Interim-Update", "ali", T0 + timedelta(minutes=5), 100, 200, 300)
    reboot = T0 + timedelta(minutes=7)
    on = new_uid()
    assert world.account(on, "Accounting-On", None, reboot, ip=None)[0] == "nas_reset"
    assert world.open_row(before)["stopped_at"] == reboot
    world.account(after, "Start", "capped", reboot + timedelta(minutes=1))
    world.account(after, "Interim-Update", "capped", reboot + timedelta(minutes=6), 10, 20, 300)
    r = world.account_row(on, "Accounting-On", None, reboot, ip=None)  # the same On, replayed
    assert r[0] == "nas_reset"
    # The cache of every radiusd learns the event time with the message, and drops the same sessions.
    assert notices.parse(r[6]) == notices.NasReset(world.nas["n1"], reboot.timestamp())
    assert world.open_row(after)["stopped_at"] is None
    assert world.history(after) == []
    assert world.totals("capped") == (10, 20, 300)


# ----------------------------------------------------------------------- (e) the month boundary
def test_deltas_on_either_side_of_midnight_karachi_go_to_their_own_months(world: AcctWorld) -> None:
    uid = new_uid()
    world.account(uid, "Start", "ali", datetime(2026, 11, 30, 18, 0, tzinfo=UTC))
    world.account(uid, "Interim-Update", "ali", datetime(2026, 11, 30, 18, 59, tzinfo=UTC), 100, 200, 3540)
    world.account(uid, "Interim-Update", "ali", datetime(2026, 11, 30, 19, 1, tzinfo=UTC), 150, 300, 3660)
    assert world.usage("ali") == [
        (datetime(2026, 10, 31, 19, tzinfo=UTC), datetime(2026, 11, 30, 19, tzinfo=UTC), 100, 200, 3540),
        (datetime(2026, 11, 30, 19, tzinfo=UTC), datetime(2026, 12, 31, 19, tzinfo=UTC), 50, 100, 120),
    ]


# ----------------------------------------------------------------------- (f) SQL period == Python period
@pytest.fixture(scope="module")
def period_conn(stack: Stack) -> Iterator[psycopg.Connection[Any]]:
    with psycopg.connect(stack.database_url, autocommit=True) as conn:
        yield conn


def sql_period(conn: psycopg.Connection[Any], period: str, tz: str, expires: datetime | None,
               at: datetime) -> tuple[datetime, datetime]:
    row = conn.execute("SELECT period_start, period_end FROM cloudos_period(%s, %s, %s, %s)",
                       (period, tz, expires, at)).fetchone()
    assert row is not None
    return row[0], row[1]


instants = st.datetimes(min_value=datetime(2010, 1, 1), max_value=datetime(2080, 1, 1), timezones=st.just(UTC))


@st.composite
def period_cases(draw: st.DrawFn) -> tuple[str, str, datetime | None, datetime]:
    tz = draw(st.sampled_from(["Asia/Karachi", "America/New_York"]))
    period = draw(st.sampled_from(["monthly", "30d", "7d", "1d", "365d"]))
    # Product expiries are local midnights; in Karachi (no DST since 2009) any instant may anchor.
    midnight = st.dates(date(2010, 1, 1), date(2079, 12, 31)).map(lambda d: expires_at_for_date(d, tz))
    expires = draw(st.one_of(st.none(), midnight, instants) if tz == "Asia/Karachi" else st.one_of(st.none(), midnight))
    at = draw(st.one_of(instants, st.just(expires) if expires is not None else instants))
    return period, tz, expires, at


@settings(max_examples=150, deadline=None)
@given(case=period_cases())
def test_sql_period_equals_python_period(period_conn: psycopg.Connection[Any], case: Any) -> None:
    period, tz, expires, at = case
    assert sql_period(period_conn, period, tz, expires, at) == billing_period(period, tz, expires, at)


@pytest.mark.parametrize(("period", "tz", "expires", "at"), [
    ("monthly", "Asia/Karachi", None, datetime(2026, 11, 30, 18, 59, 59, 999999, tzinfo=UTC)),
    ("monthly", "Asia/Karachi", None, datetime(2026, 11, 30, 19, tzinfo=UTC)),
    ("monthly", "America/New_York", None, datetime(2026, 11, 1, 3, 59, 59, tzinfo=UTC)),
    ("monthly", "America/New_York", None, datetime(2026, 11, 1, 4, tzinfo=UTC)),
    ("30d", "Asia/Karachi", datetime(2026, 12, 9, 19, tzinfo=UTC), datetime(2026, 12, 9, 19, tzinfo=UTC)),
    ("30d", "Asia/Karachi", datetime(2026, 12, 9, 19, tzinfo=UTC),
     datetime(2026, 12, 9, 18, 59, 59, 999999, tzinfo=UTC)),
    ("7d", "America/New_York", expires_at_for_date(date(2026, 3, 4), "America/New_York"),
     datetime(2026, 3, 12, 3, 59, 59, tzinfo=UTC)),
    ("7d", "Asia/Karachi", None, datetime(1969, 12, 31, 19, tzinfo=UTC)),
], ids=["karachi-last-microsecond", "karachi-december", "ny-last-second-of-october", "ny-november",
        "30d-at-expiry", "30d-before-expiry", "7d-across-dst", "7d-epoch"])
def test_sql_period_equals_python_period_at_the_edges(period_conn: psycopg.Connection[Any], period: str, tz: str,
                                                      expires: datetime | None, at: datetime) -> None:
    assert sql_period(period_conn, period, tz, expires, at) == billing_period(period, tz, expires, at)


@pytest.mark.parametrize(("period", "tz", "expires", "at"), [
    # Havana falls back at 01:00 -> 00:00 on 2026-11-01: local midnight happens twice.
    ("monthly", "America/Havana", None, datetime(2026, 11, 10, tzinfo=UTC)),
    # An anchor at 01:30 New York time meets the repeated hour of 2026-11-01.
    ("7d", "America/New_York", datetime(2026, 10, 25, 5, 30, tzinfo=UTC), datetime(2026, 11, 1, 12, tzinfo=UTC)),
], ids=["havana-monthly", "new-york-7d"])
def test_sql_and_python_agree_on_a_repeated_local_hour(period_conn: psycopg.Connection[Any], period: str, tz: str,
                                                       expires: datetime | None, at: datetime) -> None:
    # A wall time that occurs twice: PostgreSQL takes the later instant (standard time), and
    # billing_period() must too, or `cloudos usage` would look up a counter row an hour off.
    assert sql_period(period_conn, period, tz, expires, at) == billing_period(period, tz, expires, at)


# ----------------------------------------------------------------------- (g) quota crossing
def test_crossing_the_quota_queues_one_coa_with_the_fup_rate(world: AcctWorld) -> None:
    listener = psycopg.connect(world.url, autocommit=True)
    listener.execute("LISTEN cloudos_coa")
    uid = new_uid()
    world.account(uid, "Start", "fupper", T0, ip="100.64.0.9", session="81a00001")
    world.account(uid, "Interim-Update", "fupper", T0 + timedelta(seconds=300), 1 * MB, 5 * MB, 300)
    assert world.outbox() == []
    # Exactly at the quota is over it (authorize says exhausted at 0 left).
    world.account(uid, "Interim-Update", "fupper", T0 + timedelta(seconds=600), 1 * MB, 9 * MB, 600)
    (row,) = world.outbox()
    assert row["kind"] == "coa" and row["reason"] == "quota_exhausted" and row["status"] == "pending"
    assert row["attributes"] == {"User-Name": "fupper", "Acct-Session-Id": "81a00001",
                                 "Framed-IP-Address": "100.64.0.9", "Mikrotik-Rate-Limit": "256k/256k"}
    assert (row["acct_unique_id"], row["subscriber_id"], row["nas_id"]) == (
        uid, world.subscribers["fupper"], world.nas["n1"])
    assert str(row["nas_address"]) == NAS1
    coa.encode_attributes(row["attributes"])  # what the worker will send can be sent
    notes = list(listener.notifies(timeout=2, stop_after=1))
    assert [(n.channel, n.payload) for n in notes] == [("cloudos_coa", str(world.subscribers["fupper"]))]
    listener.close()
    # Over the quota already: more traffic, duplicates and the Stop queue nothing.
    world.account(uid, "Interim-Update", "fupper", T0 + timedelta(seconds=600), 1 * MB, 9 * MB, 600)
    world.account(uid, "Interim-Update", "fupper", T0 + timedelta(seconds=900), 2 * MB, 12 * MB, 900)
    world.account(uid, "Stop", "fupper", T0 + timedelta(seconds=950), 2 * MB, 13 * MB, 950, cause="User-Request")
    second = new_uid()
    world.account(second, "Start", "fupper", T0 + timedelta(seconds=1000))
    world.account(second, "Interim-Update", "fupper", T0 + timedelta(seconds=1300), MB, MB, 300)
    assert len(world.outbox()) == 1


def test_crossing_without_fup_queues_a_disconnect_for_every_open_session(world: AcctWorld) -> None:
    a, b = new_uid(), new_uid()
    world.account(a, "Start", "capped", T0, ip="100.64.0.10", session="s-a")
    world.account(b, "Start", "capped", T0, nas=NAS2, ip="100.64.0.11", session="s-b")
    world.account(a, "Interim-Update", "capped", T0 + timedelta(seconds=300), 2 * MB, 6 * MB, 300)
    assert world.outbox() == []
    world.account(b, "Interim-Update", "capped", T0 + timedelta(seconds=310), 1 * MB, 2 * MB, 310)
    rows = world.outbox()
    assert len(rows) == 2
    by_session = {r["acct_unique_id"]: r for r in rows}
    assert by_session[a]["attributes"] == {"User-Name": "capped", "Acct-Session-Id": "s-a",
                                           "Framed-IP-Address": "100.64.0.10"}
    assert by_session[b]["attributes"] == {"User-Name": "capped", "Acct-Session-Id": "s-b",
                                           "Framed-IP-Address": "100.64.0.11"}
    assert {r["kind"] for r in rows} == {"disconnect"}
    assert (str(by_session[a]["nas_address"]), str(by_session[b]["nas_address"])) == (NAS1, NAS2)
    assert (by_session[a]["nas_id"], by_session[b]["nas_id"]) == (world.nas["n1"], world.nas["n2"])
    world.account(a, "Interim-Update", "capped", T0 + timedelta(seconds=600), 3 * MB, 9 * MB, 600)
    assert len(world.outbox()) == 2


def test_usage_within_the_quota_queues_nothing(world: AcctWorld) -> None:
    uid = new_uid()
    world.account(uid, "Start", "capped", T0)
    world.account(uid, "Interim-Update", "capped", T0 + timedelta(seconds=300), 4 * MB, 6 * MB - 1, 300)
    world.account(uid, "Interim-Update", "ali", T0 + timedelta(seconds=300), 400 * MB, 600 * MB, 300)
    assert world.outbox() == []


# ----------------------------------------------------------------------- (h) reaping stale sessions
def test_reap_closes_stale_sessions_and_leaves_fresh_ones(world: AcctWorld) -> None:
    now = datetime(2026, 11, 15, 12, 0, tzinfo=UTC)
    (cutoff,) = fetch_one(world.conn.execute("SELECT cloudos_stale_cutoff(%s, 300)", (now,)))
    assert cutoff == now - timedelta(seconds=2 * 330 + 60)
    (wide,) = fetch_one(world.conn.execute("SELECT cloudos_stale_cutoff(%s, 600)", (now,)))
    assert wide == now - timedelta(seconds=2 * 660 + 60)
    stale, edge, fresh, old = new_uid(), new_uid(), new_uid(), new_uid()
    world.account(stale, "Interim-Update", "ali", cutoff - timedelta(seconds=1), 10, 20, 30)
    world.account(edge, "Start", "capped", cutoff)
    world.account(fresh, "Interim-Update", "fupper", now - timedelta(seconds=5), 1, 2, 3)
    world.account(old, "Stop", "ali", now - timedelta(days=3), 1, 1, 1, cause="User-Request")

    (reaped, purged) = fetch_one(world.conn.execute("SELECT reaped, purged FROM cloudos_reap_sessions(%s)",
                                                    (now,)))
    assert (reaped, purged) == (1, 1)
    row = world.open_row(stale)
    assert (row["stopped_at"], row["terminate_cause"]) == (cutoff - timedelta(seconds=1), "Stale")
    (hist,) = world.history(stale)
    assert (hist["terminate_cause"], hist["input_octets"], hist["output_octets"]) == ("Stale", 10, 20)
    for uid in (edge, fresh):
        assert world.open_row(uid)["stopped_at"] is None
        assert world.history(uid) == []
    # Closed long ago: gone from session_open, kept in the history.
    assert world.conn.execute("SELECT count(*) FROM session_open WHERE acct_unique_id = %s",
                              (old,)).fetchone() == (0,)
    assert len(world.history(old)) == 1
    # Reaping again finds nothing more.
    assert world.conn.execute("SELECT reaped, purged FROM cloudos_reap_sessions(%s)", (now,)).fetchone() == (0, 0)


def test_session_without_an_address_is_found_by_name_and_session_id(world: AcctWorld) -> None:
    uid = new_uid()
    world.account(uid, "Start", "capped", T0, ip=None)
    world.account(uid, "Interim-Update", "capped", T0 + timedelta(seconds=60), 0, 10 * MB, 60, ip=None)
    (row,) = world.outbox()
    assert row["attributes"] == {"User-Name": "capped", "Acct-Session-Id": uid}  # no null Framed-IP-Address


# ----------------------------------------------------------------------- batches
def test_a_batch_does_exactly_what_the_same_packets_do_one_by_one(world: AcctWorld) -> None:
    """cloudos_account_journal() against cloudos_account() on the same packets: first one by one in a
    transaction rolled back, then as one batch of journal records; the same answers, counters and
    sessions."""
    import dataclasses
    import time

    from rlm_cloudos.requests import AcctRequest
    from rlm_cloudos.store.journal_record import encode
    from rlm_cloudos.store.pg import Database

    def req(uid: str, status: str, user: str | None, inp: int = 0, out: int = 0, secs: int = 0,
            nas: str = NAS1, cause: str | None = None) -> AcctRequest:
        return AcctRequest(status=status, user_name=user or "", nas_address=nas, acct_unique_id=uid,
                           acct_session_id=uid, input_octets=inp, output_octets=out, session_time=secs, delay=0,
                           framed_ip="100.64.0.7", calling_station_id="AA:BB:CC:DD:EE:FF", nas_port_id="pppoe-1",
                           terminate_cause=cause)

    a, b, c = new_uid(), new_uid(), new_uid()
    packets = [
        req(a, "Start", "ali"), req(b, "Start", "capped"),
        req(a, "Interim-Update", "ali", 1000, 5000, 300),
        req(b, "Interim-Update", "capped", 4 * MB, 7 * MB, 300),  # crosses capped's 10 MB
        req(a, "Interim-Update", "ali", 1000, 5000, 300),  # a duplicate
        req(c, "Stop", "fupper", 10, 20, 30, cause="Lost-Carrier"),  # a Stop with no Start
        req(a, "Stop", "ali", 3 * G, 40 * G + 1, 900, cause="User-Request"),
        req(new_uid(), "Start", "nobody"),  # an unknown user
        req(new_uid(), "Start", "ali", nas="10.9.9.9"),  # an unknown NAS
    ]

    def state() -> tuple[Any, ...]:
        usage = world.conn.execute(
            "SELECT subscriber_id, input_octets, output_octets, session_time FROM usage_counter ORDER BY 1").fetchall()
        sessions = world.conn.execute(
            "SELECT acct_unique_id, input_octets, output_octets, session_time, stopped_at IS NULL FROM session_open "
            "WHERE acct_unique_id = ANY(%s) ORDER BY 1", ([a, b, c],)).fetchall()
        history = world.conn.execute("SELECT count(*) FROM session WHERE acct_unique_id = ANY(%s)",
                                     ([a, b, c],)).fetchone()
        outbox = world.conn.execute("SELECT kind, reason FROM coa_outbox ORDER BY id").fetchall()
        return usage, sessions, history, outbox

    db = Database(world.url, size=1)
    db.open()
    try:
        with world.conn.transaction(force_rollback=True):
            one_by_one = [fetch_one(world.conn.execute(ACCOUNT, (
                p.nas_address, p.acct_unique_id, p.status, p.user_name, p.acct_session_id, T0, p.input_octets,
                p.output_octets, p.session_time, p.framed_ip, p.calling_station_id, p.nas_port_id,
                p.terminate_cause))) for p in packets]
            expected = state()
        before = state()
        # Dated T0 like the packets above: Acct-Delay-Time reaches back from now to T0.
        now = time.time()
        records = [encode(dataclasses.replace(p, delay=int(now - T0.timestamp())), now) for p in packets]
        batch = db.account_journal(records, now)
    finally:
        db.close()
    # A row for each result other than ok, and for each interim that changed something.
    assert [(n, result, feed is not None) for n, result, feed in batch] == [
        (n, row[0], row[6] is not None) for n, (p, row) in enumerate(zip(packets, one_by_one), 1)
        if row[0] != "ok" or (row[6] is not None and p.status == "Interim-Update")]
    assert any(result != "ok" for _, result, _ in batch) and any(feed for _, _, feed in batch)
    assert state() == expected and state() != before


def test_a_journal_batch_with_an_unreadable_record_is_refused_whole(world: AcctWorld) -> None:
    """The drainer then replays the records one by one and drops only the unreadable one
    (rlm_cloudos.store.journal): PostgreSQL must refuse the batch, not skip the record."""
    import time

    from rlm_cloudos.errors import StatementRefused
    from rlm_cloudos.requests import AcctRequest
    from rlm_cloudos.store.journal_record import encode
    from rlm_cloudos.store.pg import Database

    uid = new_uid()
    good = encode(AcctRequest("Start", "ali", NAS1, uid, uid, 0, 0, 0, 0), time.time())
    db = Database(world.url, size=1)
    db.open()
    try:
        with pytest.raises(StatementRefused, match="json"):
            db.account_journal([good, b'{"not": "a journal record"'], time.time())
    finally:
        db.close()
    assert world.conn.execute("SELECT count(*) FROM session_open WHERE acct_unique_id = %s", (uid,)).fetchone() == (0,)


# ----------------------------------------------------------------------- the journal record format
def _v1_line(req: Any, received: float) -> bytes:
    """A record as the journal wrote it before schema 0006: a JSON array in AcctRequest's field order
    of the time (written out here, not derived: it is a file format on disk, frozen)."""
    import json

    from rlm_cloudos.store.journal_record import lane

    return (json.dumps([round(received, 3), lane(req), req.status, req.user_name, req.nas_address,
                        req.acct_unique_id, req.acct_session_id, req.input_octets, req.output_octets,
                        req.session_time, req.delay, req.framed_ip, req.calling_station_id, req.nas_port_id,
                        req.terminate_cause], separators=(",", ":")) + "\n").encode()


def test_a_journal_written_before_the_upgrade_is_applied_after_it(world: AcctWorld, tmp_path: Path) -> None:
    """radiusd stopped with version 1 records on disk, the schema and rlm_cloudos were upgraded, the
    new radiusd appends version 2 records behind them: the drainer applies both, each counted once."""
    import time

    from rlm_cloudos.requests import AcctRequest
    from rlm_cloudos.store.journal import AccountingJournal
    from rlm_cloudos.store.journal_files import segment_path, wait_applied
    from rlm_cloudos.store.pg import Database

    uid = new_uid()

    def req(status: str, inp: int, out: int) -> AcctRequest:
        return AcctRequest(status, "ali", NAS1, uid, uid, inp, out, 60, 0, "100.64.0.7", MAC, "pppoe-1", None)

    before = sum(world.totals("ali")[:2])
    now = time.time()
    directory = tmp_path / "journal"
    directory.mkdir(mode=0o700)
    segment_path(directory, 1).write_bytes(
        _v1_line(req("Start", 0, 0), now) + _v1_line(req("Interim-Update", 1000, 7000), now)
        + _v1_line(req("Interim-Update", 1000, 7000), now))  # a retransmit: nothing twice
    logs: list[tuple[str, dict[str, Any]]] = []
    db = Database(world.url, size=1)
    db.open()
    journal = AccountingJournal(directory, db, lambda level, **f: logs.append((level, f)))
    try:
        journal.open()
        journal.append(req("Stop", 3000, 9000))
        assert wait_applied(directory, 10)
    finally:
        journal.close()
        db.close()
    assert sum(world.totals("ali")[:2]) - before == 3000 + 9000
    assert journal.applied == 4 and journal.dropped == 0, logs
    row = world.conn.execute("SELECT stopped_at IS NOT NULL FROM session_open WHERE acct_unique_id = %s",
                             (uid,)).fetchone()
    assert row == (True,)


def test_cloudos_account_journal_reads_the_keys_the_writer_writes(world: AcctWorld) -> None:
    """The record format is defined in rlm_cloudos.store.journal_record; the SQL reads it by name."""
    import re

    from rlm_cloudos.store.journal_record import KEYS

    (source,) = fetch_one(world.conn.execute(
        "SELECT pg_get_functiondef('cloudos_account_journal(jsonb, double precision)'::regprocedure)"))
    read = set(re.findall(r"r->>'(\w+)'", source))
    assert read == {"v", "rcv", *KEYS.values()}


def test_a_record_of_an_unknown_version_is_refused(world: AcctWorld) -> None:
    import json
    import time

    from rlm_cloudos.errors import StatementRefused
    from rlm_cloudos.requests import AcctRequest
    from rlm_cloudos.store.journal_record import encode
    from rlm_cloudos.store.pg import Database

    uid = new_uid()
    record = json.loads(encode(AcctRequest("Start", "ali", NAS1, uid, uid, 0, 0, 0, 0), time.time()))
    record["v"] = 3
    db = Database(world.url, size=1)
    db.open()
    try:
        with pytest.raises(StatementRefused, match="version 3"):
            db.account_journal([json.dumps(record).encode()], time.time())
    finally:
        db.close()
