"""AccountingJournal: answered once on disk, applied to PostgreSQL in order, exactly once, whatever happens."""

from __future__ import annotations

import dataclasses
import json
import os
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import TypedDict, Unpack

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from rlm_cloudos.errors import BackendUnavailable, Conflict, DrainerStalled, StatementRefused, StatementTimedOut
from rlm_cloudos.requests import AcctRequest
from rlm_cloudos.store.journal import AccountingJournal, open_journal
from rlm_cloudos.store.journal_files import JournalBusy, backlog
from rlm_cloudos.store.journal_record import KEYS, REQUEST_KEYS, decode, encode, lane, lane_of
from rlm_cloudos.store.pg import AcctResult, Database


def request(uid: str, user: str = "ali", delay: int = 0) -> AcctRequest:
    return AcctRequest(status="Interim-Update", user_name=user, nas_address="127.0.0.1", acct_unique_id=uid,
                       acct_session_id=uid, input_octets=1, output_octets=2, session_time=3, delay=delay,
                       framed_ip=None, calling_station_id=None, nas_port_id=None, terminate_cause=None)


def acct(uid: str, user: str, status: str = "Interim-Update") -> AcctRequest:
    return AcctRequest(status=status, user_name=user, nas_address="127.0.0.1", acct_unique_id=uid,
                       acct_session_id=uid, input_octets=1, output_octets=2, session_time=3, delay=0,
                       framed_ip=None, calling_station_id=None, nas_port_id=None, terminate_cause=None)


def ok(req: AcctRequest) -> AcctResult:
    return AcctResult("ok", 7, 42, 1, 2, 3, f"A 42 {req.acct_unique_id} 3 0 0 - - - - ")


@dataclass
class FakeDb(Database):
    """Database.account / account_journal over a list of what was applied, in order; ``gate`` holds statements back.
    A Database, so mypy holds the two to the real signatures; its own fields replace the pool."""

    applied: list[str] = field(default_factory=list)
    statements: list[list[str]] = field(default_factory=list)
    refuse: set[str] = field(default_factory=set)  # uids PostgreSQL refuses
    down: bool = False
    conflict_once: bool = False
    gate: threading.Event = field(default_factory=threading.Event)
    delays: dict[str, int] = field(default_factory=dict)
    #: Statements of more records than this run into statement_timeout (a slow database, not a dead one).
    fits: int | None = None
    #: Raised once by the next statement, as an unexpected bug would be.
    bug: Exception | None = None
    #: When each statement was tried (monotonic), applied or not.
    tries: list[float] = field(default_factory=list)
    #: journal_status writes: (node, caught_up, now); journal_closed: the nodes forgotten.
    status: list[tuple[str, float, float]] = field(default_factory=list)
    closed: list[str] = field(default_factory=list)

    def __post_init__(self) -> None:
        self.gate.set()

    def _check(self, req: AcctRequest) -> None:
        if self.down:
            raise BackendUnavailable("PostgreSQL: connection refused")
        if req.acct_unique_id in self.refuse:
            raise StatementRefused(f"PostgreSQL refused it: {req.acct_unique_id}")

    def _apply(self, reqs: list[AcctRequest]) -> list[AcctResult]:
        self.statements.append([r.acct_unique_id for r in reqs])
        self.applied += [r.acct_unique_id for r in reqs]
        self.delays.update({r.acct_unique_id: r.delay for r in reqs})
        return [ok(r) for r in reqs]

    def account(self, req: AcctRequest) -> AcctResult:
        self.gate.wait(5)
        self._check(req)
        return self._apply([req])[0]

    def journal_status(self, node: str, caught_up: float, now: float) -> None:
        if self.down:
            raise BackendUnavailable("PostgreSQL: connection refused")
        self.status.append((node, caught_up, now))

    def journal_closed(self, node: str) -> None:
        if self.down:
            raise BackendUnavailable("PostgreSQL: connection refused")
        self.closed.append(node)

    def account_journal(self, lines: list[bytes], now: float) -> list[tuple[int, str, str | None]]:
        self.gate.wait(5)
        self.tries.append(time.monotonic())
        if self.bug is not None:
            bug, self.bug = self.bug, None
            raise bug
        if self.fits is not None and len(lines) > self.fits:
            raise StatementTimedOut("PostgreSQL gave up on it: QueryCanceled (SQLSTATE 57014)")
        if self.conflict_once:
            self.conflict_once = False
            raise Conflict("PostgreSQL rolled it back: DeadlockDetected")
        try:
            reqs = [decode(line, now) for line in lines]
        except ValueError as exc:
            raise StatementRefused(f"PostgreSQL refused it: InvalidTextRepresentation: {exc}") from None
        for req in reqs:  # all or nothing
            self._check(req)
        results = self._apply(reqs)
        # As cloudos_account_journal(): a row for a result other than ok, and for an interim's feed.
        return [(i + 1, r.result, r.feed) for i, (req, r) in enumerate(zip(reqs, results))
                if r.result != "ok" or req.status in ("Interim-Update", "Alive")]


Logs = list[tuple[str, dict[str, object]]]


@pytest.fixture
def logs() -> Logs:
    return []


class JournalOptions(TypedDict, total=False):
    """The keyword arguments of AccountingJournal the tests set."""

    max_batch: int
    parallel: int
    segment_bytes: int
    on_feed: Callable[[str], None] | None
    retry_seconds: float
    stall_seconds: float


def make(directory: Path, db: FakeDb, logs: Logs, **kw: Unpack[JournalOptions]) -> AccountingJournal:
    kw.setdefault("retry_seconds", 0.05)
    journal = AccountingJournal(directory, db, lambda level, **f: logs.append((level, f)), **kw)
    journal.open()
    return journal


def applied_together(tmp_path: Path, db: FakeDb, logs: Logs, reqs: list[AcctRequest],
                     **kw: Unpack[JournalOptions]) -> AccountingJournal:
    """A journal over ``db`` with ``reqs`` appended while PostgreSQL holds statements back (so they
    queue up as under load); returns it once they are all applied."""
    db.gate.clear()
    j = make(tmp_path, db, logs, **kw)
    for req in reqs:
        j.append(req)
    db.gate.set()
    eventually(lambda: backlog(tmp_path) == 0)
    return j


def eventually(condition: Callable[[], bool], timeout: float = 5.0) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, "condition not reached"
        time.sleep(0.005)


def events(logs: Logs) -> list[object]:
    return [f.get("event") for _, f in logs]


def test_records_are_applied_in_order_and_the_position_follows(tmp_path: Path, logs: Logs) -> None:
    db = FakeDb()
    j = make(tmp_path, db, logs)
    uids = [f"u{i}" for i in range(50)]
    for uid in uids:
        j.append(request(uid))
    eventually(lambda: backlog(tmp_path) == 0)
    assert db.applied == uids
    assert j.applied == 50
    j.close()


def test_what_arrives_during_a_statement_goes_into_the_next_one(tmp_path: Path, logs: Logs) -> None:
    db = FakeDb()
    j = make(tmp_path, db, logs, max_batch=500)
    db.gate.clear()
    j.append(request("u0"))
    time.sleep(0.1)  # the drainer is now held inside the statement for u0
    uids = [f"u{i}" for i in range(1, 40)]
    for uid in uids:
        j.append(request(uid))
    db.gate.set()
    eventually(lambda: backlog(tmp_path) == 0)
    assert db.statements == [["u0"], uids]
    j.close()


def test_max_batch_bounds_a_statement(tmp_path: Path, logs: Logs) -> None:
    db = FakeDb()
    uids = [f"u{i}" for i in range(30)]
    j = applied_together(tmp_path, db, logs, [request(uid) for uid in uids], max_batch=7)
    assert db.applied == uids and max(len(s) for s in db.statements) == 7
    j.close()


def test_a_batch_that_times_out_is_halved_until_it_fits_then_grows_back(tmp_path: Path, logs: Logs) -> None:
    """A slow database is not a dead one: the same 64-record batch retried for ever would never fit in
    statement_timeout; halved, it gets through, and once it does the batch grows back."""
    uids = [f"u{i}" for i in range(64)]
    before = make(tmp_path, FakeDb(down=True), [], max_batch=64)  # all 64 waiting on disk
    for uid in uids:
        before.append(request(uid))
    before.close()
    db = FakeDb(fits=10)
    j = make(tmp_path, db, logs, max_batch=64)
    eventually(lambda: backlog(tmp_path) == 0)
    assert db.applied == uids  # each once, in order
    halved = [f["batch"] for _, f in logs if f.get("event") == "journal_batch_halved"]
    assert halved == [32, 16, 8]  # and no more: 8 fits, and it is not doubled straight back into a timeout
    assert [f.get("reason") for _, f in logs if f.get("event") == "journal_waiting"] == ["timeout"]
    assert [len(s) for s in db.statements] == [8] * 8 and len(db.tries) == 11
    db.fits = None
    more: list[str] = []
    while j.batch < 64:  # GROW_AFTER statements that fit at each size: 8 → 16 → 32 → 64
        batch = [f"v{len(more) + i}" for i in range(j.batch)]
        more += batch
        db.gate.clear()
        for uid in batch:
            j.append(request(uid))
        db.gate.set()
        eventually(lambda: backlog(tmp_path) == 0)
        assert len(more) < 3 * 16 * 64
    assert db.applied == uids + more
    j.close()


def test_retries_back_off_while_postgresql_cannot_take_records(tmp_path: Path, logs: Logs,
                                                              monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(AccountingJournal, "RETRY_CAP_SECONDS", 0.2)
    db = FakeDb(down=True)
    j = make(tmp_path, db, logs, retry_seconds=0.05)
    j.append(request("u0"))
    eventually(lambda: len(db.tries) >= 7, timeout=10)
    gaps = [b - a for a, b in zip(db.tries, db.tries[1:])]
    # At least 0.05, 0.1, then 0.2 s for ever: doubling up to the cap (a wait never ends early).
    assert all(gap >= min(0.05 * 2 ** k, 0.2) - 0.005 for k, gap in enumerate(gaps)), gaps
    assert all(gap < 0.2 + 1.0 for gap in gaps[2:]), gaps  # capped, even on a busy machine
    db.down = False
    eventually(lambda: backlog(tmp_path) == 0, timeout=10)
    assert db.applied == ["u0"]
    j.close()


def test_an_unexpected_error_in_the_drainer_is_logged_and_accounting_goes_on(tmp_path: Path, logs: Logs) -> None:
    db = FakeDb(bug=RuntimeError("a bug nobody expected"))
    j = make(tmp_path, db, logs)
    j.append(request("u0"))
    eventually(lambda: backlog(tmp_path) == 0)
    j.append(request("u1"))
    eventually(lambda: backlog(tmp_path) == 0)
    assert db.applied == ["u0", "u1"]
    (error,) = [f for level, f in logs if f.get("event") == "journal_drainer_error"]
    assert error["error"] == "RuntimeError" and error["detail"] == "a bug nobody expected"
    j.close()


def test_a_stalled_drainer_stops_the_journal_answering_and_says_so_once(tmp_path: Path, logs: Logs) -> None:
    """A drainer stuck where no bound reaches: records written now would wait unapplied while NASes
    were told they are stored, so append() refuses (the hook then spools or leaves the NAS unanswered)."""
    db = FakeDb()
    j = make(tmp_path, db, logs, stall_seconds=0.5)
    stuck = threading.Event()
    db.gate.clear()
    db.gate.wait = lambda timeout=None: stuck.wait()  # type: ignore[method-assign]
    j.append(request("u0"))  # the drainer now hangs inside its statement
    time.sleep(0.7)
    for uid in ("u1", "u2"):
        with pytest.raises(DrainerStalled, match="has not run for"):
            j.append(request(uid))
    assert events(logs).count("journal_drainer_stalled") == 1
    stuck.set()
    eventually(lambda: backlog(tmp_path) == 0)
    j.append(request("u3"))  # running again: answered again
    eventually(lambda: backlog(tmp_path) == 0)
    assert db.applied == ["u0", "u3"] and "journal_drainer_running" in events(logs)
    j.close()


def test_postgresql_down_keeps_everything_until_it_is_back(tmp_path: Path, logs: Logs) -> None:
    db = FakeDb(down=True)
    j = make(tmp_path, db, logs)
    uids = [f"u{i}" for i in range(20)]
    for uid in uids:
        j.append(request(uid))
    time.sleep(0.3)  # several retries
    assert db.applied == [] and backlog(tmp_path) > 0
    assert events(logs).count("journal_waiting") == 1  # said once, not on every retry
    db.down = False
    eventually(lambda: backlog(tmp_path) == 0)
    assert db.applied == uids
    assert "journal_caught_up" in events(logs)
    j.close()


def test_a_refused_record_is_logged_whole_and_the_others_are_stored(tmp_path: Path, logs: Logs) -> None:
    db = FakeDb(refuse={"u3"})
    uids = [f"u{i}" for i in range(6)]
    j = applied_together(tmp_path, db, logs, [request(uid) for uid in uids])
    assert db.applied == [u for u in uids if u != "u3"]
    refused = [f for level, f in logs if f.get("event") == "refused"]
    assert len(refused) == 1 and refused[0]["unique"] == "u3" and refused[0]["input"] == 1
    assert j.dropped == 1
    j.close()


def test_a_deadlock_replays_the_batch_record_by_record(tmp_path: Path, logs: Logs) -> None:
    db = FakeDb(conflict_once=True)
    uids = [f"u{i}" for i in range(5)]
    j = applied_together(tmp_path, db, logs, [request(uid) for uid in uids])
    assert db.applied == uids  # each exactly once
    assert "batch_replayed" in events(logs)
    j.close()


def test_a_restart_applies_what_was_left_and_nothing_twice(tmp_path: Path, logs: Logs) -> None:
    db = FakeDb()
    j = make(tmp_path, db, logs)
    for i in range(10):
        j.append(request(f"a{i}"))
    eventually(lambda: backlog(tmp_path) == 0)
    db.down = True
    for i in range(10):
        j.append(request(f"b{i}"))
    time.sleep(0.1)
    j.close(timeout=0.5)  # radiusd stops while PostgreSQL is down
    assert backlog(tmp_path) > 0
    db.down = False
    j2 = make(tmp_path, db, logs)
    eventually(lambda: backlog(tmp_path) == 0)
    assert db.applied == [f"a{i}" for i in range(10)] + [f"b{i}" for i in range(10)]
    assert "journal_resumed" in events(logs)
    j2.close()


def test_finished_segments_are_deleted_and_order_holds_across_them(tmp_path: Path, logs: Logs) -> None:
    db = FakeDb()
    db.gate.clear()
    j = make(tmp_path, db, logs, segment_bytes=1000)
    uids = [f"u{i}" for i in range(100)]
    for uid in uids:
        j.append(request(uid))
    assert len(list(tmp_path.glob("acct-*.log"))) > 5
    db.gate.set()
    eventually(lambda: backlog(tmp_path) == 0)
    assert db.applied == uids
    eventually(lambda: len(list(tmp_path.glob("acct-*.log"))) == 1)  # only the one being written
    j.close()


def test_a_torn_record_and_an_unreadable_one_are_dropped_and_logged(tmp_path: Path, logs: Logs) -> None:
    # What a crash mid-write leaves: a segment ending in half a record, then one of garbage.
    (tmp_path / "acct-000000000001.log").write_bytes(
        encode(request("u0"), time.time()) + b"this is not json\n" + encode(request("u1"), time.time())
        + encode(request("torn"), time.time())[:20])
    db = FakeDb()
    j = make(tmp_path, db, logs)
    j.append(request("u2"))
    eventually(lambda: backlog(tmp_path) == 0)
    assert db.applied == ["u0", "u1", "u2"]
    assert {"journal_unreadable_record", "journal_torn_record"} <= set(events(logs))
    j.close()


def test_a_second_radiusd_on_the_same_directory_writes_straight_to_postgresql(tmp_path: Path, logs: Logs) -> None:
    j = make(tmp_path, FakeDb(), logs)
    with pytest.raises(JournalBusy):
        make(tmp_path, FakeDb(), logs)
    assert open_journal(str(tmp_path), FakeDb(), lambda level, **f: logs.append((level, f))) is None
    assert events(logs)[-1] == "journal_busy"
    j.close()


def test_interims_feed_this_radiusds_cache_even_if_one_apply_fails(tmp_path: Path, logs: Logs) -> None:
    seen: list[str] = []

    def on_feed(feed: str) -> None:
        uid = feed.split()[2]
        seen.append(uid)
        if uid == "u1":
            raise RuntimeError("bug")

    # The Start is announced by NOTIFY to every radiusd: not fed here.
    j = applied_together(tmp_path, FakeDb(), logs, [*(request(f"u{i}") for i in range(4)), acct("s0", "ali", "Start")],
                         on_feed=on_feed)
    assert seen == ["u0", "u1", "u2", "u3"]
    assert "feed_apply_failed" in events(logs)
    j.close()


def test_a_result_other_than_ok_is_logged_with_the_record(tmp_path: Path, logs: Logs) -> None:
    class Unknown(FakeDb):
        def account_journal(self, lines: list[bytes], now: float) -> list[tuple[int, str, str | None]]:
            super().account_journal(lines, now)
            return [(n, "unknown_subscriber", None) for n, line in enumerate(lines, 1)
                    if decode(line, now).user_name == "nobody"]

    j = applied_together(tmp_path, Unknown(), logs, [request("u0"), request("u1", user="nobody")])
    (warning,) = [f for level, f in logs if level == "warn"]
    assert warning["event"] == "unknown_subscriber" and warning["user"] == "nobody" and warning["session"] == "u1"
    j.close()


def test_a_subscribers_records_share_a_lane_and_a_nas_reset_has_its_own() -> None:
    assert lane(acct("a", "ali")) == lane(acct("b", "ali", "Stop")) >= 0
    assert lane(acct("on", "", "Accounting-On")) == lane(acct("off", "", "Accounting-Off")) == -1
    assert len({lane(acct("x", f"user{i}")) for i in range(100)}) > 90


def test_time_in_the_journal_is_added_to_acct_delay_time(tmp_path: Path) -> None:
    line = encode(request("u0", delay=5), received=1000.0)
    assert decode(line, now=1000.4).delay == 5
    assert decode(line, now=1090.9).delay == 95


def test_a_closed_journal_refuses_to_answer(tmp_path: Path, logs: Logs) -> None:
    j = make(tmp_path, FakeDb(), logs)
    j.close()
    with pytest.raises(OSError, match="closed"):
        j.append(request("u0"))


def test_files_are_private(tmp_path: Path, logs: Logs) -> None:
    directory = tmp_path / "journal"
    j = make(directory, FakeDb(), logs)
    j.append(request("u0"))
    assert directory.stat().st_mode & 0o777 == 0o700
    assert all(p.stat().st_mode & 0o077 == 0 for p in directory.iterdir())
    j.close()


text = st.text(st.characters(codec="utf-8"), max_size=260)


@settings(max_examples=200, deadline=None)
@given(user=text, session=text, cause=st.one_of(st.none(), text), counter=st.integers(0, 2**64 - 1))
def test_any_request_survives_the_journal_unchanged(user: str, session: str, cause: str | None, counter: int) -> None:
    req = AcctRequest(status="Stop", user_name=user, nas_address="10.0.0.1", acct_unique_id=session,
                      acct_session_id=session, input_octets=counter, output_octets=counter, session_time=7, delay=3,
                      framed_ip="100.64.0.1", calling_station_id=user, nas_port_id=user, terminate_cause=cause)
    line = encode(req, 1234.5)
    assert line.endswith(b"\n") and line.count(b"\n") == 1  # one record, one line
    assert decode(line, now=1234.5) == req
    record = json.loads(line)
    assert (record["v"], record["lane"], record["rcv"]) == (2, lane(req), 1234.5)
    assert lane_of(line) == lane(req)


# A version 1 record exactly as the journal wrote it before schema 0006 (a JSON array in the order
# of AcctRequest's fields at the time): a journal still on disk at an upgrade holds such lines.
V1_LINE = (b'[1794312000.5,4242,"Interim-Update","ali","10.0.0.1","uid-1","sess-1",1000,2000,300,2,'
           b'"100.64.0.9","AA:BB:CC:DD:EE:FF","pppoe-1",null]\n')


def test_a_version_1_record_still_reads() -> None:
    req = decode(V1_LINE, now=1794312010.0)
    assert req == AcctRequest(status="Interim-Update", user_name="ali", nas_address="10.0.0.1",
                              acct_unique_id="uid-1", acct_session_id="sess-1", input_octets=1000,
                              output_octets=2000, session_time=300, delay=2 + 9, framed_ip="100.64.0.9",
                              calling_station_id="AA:BB:CC:DD:EE:FF", nas_port_id="pppoe-1", terminate_cause=None)
    assert lane_of(V1_LINE) == 4242


def test_the_record_names_every_request_field_and_nothing_else() -> None:
    """Adding a field to AcctRequest fails here until the format (and cloudos_account_journal) carry it."""
    assert sorted(REQUEST_KEYS) == sorted(f.name for f in dataclasses.fields(AcctRequest))
    assert list(json.loads(encode(request("u0"), 1.0))) == ["v", "lane", "rcv", *KEYS.values()]


@pytest.mark.parametrize("line", [
    b'{"v":3,"lane":1,"rcv":1.0}\n',  # a version this radiusd does not know
    b'{"v":2,"lane":1,"rcv":1.0,"st":"Stop"}\n',  # keys missing
    b'[1.0,2,"Stop"]\n',  # a version 1 record cut short
    b'"Stop"\n', b'not json\n',
])
def test_anything_else_is_refused(line: bytes) -> None:
    with pytest.raises(ValueError):
        decode(line, now=1.0)
    assert lane_of(b"not json\n") == -1



def test_parallel_statements_keep_each_subscribers_order_and_wait_for_a_nas_reset(tmp_path: Path,
                                                                                   logs: Logs) -> None:
    db = FakeDb()
    sent = [acct(f"{u}-{k}", u) for k in range(5) for u in ("ali", "sana", "omar", "zara", "bilal")]
    reset = acct("on", "", "Accounting-On")
    after = [acct(f"{u}-late", u) for u in ("ali", "sana", "omar")]
    j = applied_together(tmp_path, db, logs, [*sent, reset, *after], parallel=3)
    assert sorted(db.applied) == sorted(r.acct_unique_id for r in [*sent, reset, *after])  # each once
    for user in ("ali", "sana", "omar", "zara", "bilal"):
        assert [u for u in db.applied if u.startswith(user + "-") and u[-1].isdigit()] == [
            f"{user}-{k}" for k in range(5)]
    at = db.applied.index("on")
    assert set(db.applied[:at]) == {r.acct_unique_id for r in sent}  # nothing after the reset went before it
    assert len(db.statements) > 2  # split over several statements
    j.close()


def test_a_parallel_statement_that_fails_retries_the_whole_batch_without_loss(tmp_path: Path, logs: Logs) -> None:
    db = FakeDb()

    class HalfDown(FakeDb):
        """PostgreSQL refuses connections for one subscriber's statement, the first time only."""

        failed = False

        def account_journal(self, lines: list[bytes], now: float) -> list[tuple[int, str, str | None]]:
            if not HalfDown.failed and any(decode(line, now).user_name == "sana" for line in lines):
                HalfDown.failed = True
                raise BackendUnavailable("PostgreSQL: connection refused")
            return db.account_journal(lines, now)

    sent = [acct(f"{u}-{k}", u) for k in range(5) for u in ("ali", "sana", "omar", "zara")]
    j = applied_together(tmp_path, HalfDown(), logs, sent, parallel=2)
    assert set(db.applied) == {r.acct_unique_id for r in sent}  # everything, after the retry
    assert "journal_waiting" in events(logs) and "journal_caught_up" in events(logs)
    j.close()


def test_the_drainer_reports_what_it_did_while_busy_and_at_close(tmp_path: Path, logs: Logs,
                                                                  monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(AccountingJournal, "STATS_SECONDS", 0.2)
    j = make(tmp_path, FakeDb(), logs)
    for i in range(3):
        j.append(request(f"u{i}"))
    eventually(lambda: "journal_stats" in events(logs))
    stats = [f for _, f in logs if f.get("event") == "journal_stats"]
    assert stats[0]["applied"] == 3 and stats[0]["waiting_bytes"] == 0
    time.sleep(0.6)  # nothing new: no more lines
    assert len([1 for _, f in logs if f.get("event") == "journal_stats"]) == len(stats)
    j.close()
    (closed,) = [f for _, f in logs if f.get("event") == "journal_closed"]
    assert (closed["applied"], closed["dropped"], closed["statements"]) == (3, 0, j.statements)


# ----------------------------------------------------------------------- how far it is applied (journal_node)
def test_the_applied_time_never_passes_a_record_still_waiting(tmp_path: Path, logs: Logs) -> None:
    db = FakeDb()
    j = make(tmp_path, db, logs)
    assert j.node.endswith(":" + str(tmp_path.resolve()))
    eventually(lambda: len(db.status) == 1)  # idle at start: everything (nothing) is applied
    j.append(request("u0"))
    eventually(lambda: backlog(tmp_path) == 0)
    db.down = True
    written = len(db.status)
    waiting_since = time.time()
    for i in range(1, 4):
        j.append(request(f"u{i}"))
    time.sleep(1.5)
    # Down: nothing written, and every time written so far is before the records that wait.
    assert len(db.status) == written
    assert all(caught_up < waiting_since for _, caught_up, _ in db.status)
    db.down = False
    eventually(lambda: backlog(tmp_path) == 0)
    eventually(lambda: db.status[-1][1] > waiting_since, timeout=3.0)
    # Never more than one write a second.
    nows = [now for _, _, now in db.status]
    assert all(b - a >= AccountingJournal.STATUS_SECONDS - 0.05 for a, b in zip(nows, nows[1:]))
    j.close()
    assert db.closed == [j.node]  # closed with nothing waiting: forgotten


def test_a_journal_closed_with_records_waiting_keeps_its_status(tmp_path: Path, logs: Logs) -> None:
    db = FakeDb(down=True)
    j = make(tmp_path, db, logs)
    j.append(request("u0"))
    time.sleep(0.2)
    j.close()
    assert db.status == [] and db.closed == []
