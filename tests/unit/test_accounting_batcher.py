"""AccountingBatcher: group commit in arrival order, one bad record cannot sink the others, nobody hangs."""

from __future__ import annotations

import threading
import time
from dataclasses import dataclass, field

import pytest

from rlm_cloudos.errors import BackendUnavailable, Conflict, StatementRefused
from rlm_cloudos.radattrs import AcctRequest
from rlm_cloudos.store.pg import AccountingBatcher, AcctResult


def request(uid: str, user: str = "ali") -> AcctRequest:
    return AcctRequest(status="Interim-Update", user_name=user, nas_address="127.0.0.1", acct_unique_id=uid,
                       acct_session_id=uid, input_octets=1, output_octets=2, session_time=3, delay=0,
                       framed_ip=None, calling_station_id=None, nas_port_id=None, terminate_cause=None)


def ok(req: AcctRequest) -> AcctResult:
    return AcctResult("ok", 7, 42, 1, 2, 3, f"A 42 {req.acct_unique_id} 3 0 0 - - - - ")


@dataclass
class FakeDb:
    """Database.account / account_many over a list of what was applied, in order; ``gate`` holds a batch back."""

    applied: list[str] = field(default_factory=list)
    statements: list[list[str]] = field(default_factory=list)
    refuse: set[str] = field(default_factory=set)  # uids PostgreSQL refuses
    down: bool = False
    conflict_once: bool = False
    gate: threading.Event = field(default_factory=threading.Event)

    def __post_init__(self) -> None:
        self.gate.set()

    def _check(self, req: AcctRequest) -> None:
        if self.down:
            raise BackendUnavailable("PostgreSQL: connection refused")
        if req.acct_unique_id in self.refuse:
            raise StatementRefused(f"PostgreSQL refused it: {req.acct_unique_id}")

    def account(self, req: AcctRequest) -> AcctResult:
        self.gate.wait(5)
        self._check(req)
        self.statements.append([req.acct_unique_id])
        self.applied.append(req.acct_unique_id)
        return ok(req)

    def account_many(self, reqs: list[AcctRequest]) -> list[AcctResult]:
        self.gate.wait(5)
        if self.conflict_once:
            self.conflict_once = False
            raise Conflict("PostgreSQL rolled it back: DeadlockDetected")
        for req in reqs:  # all or nothing
            self._check(req)
        self.statements.append([r.acct_unique_id for r in reqs])
        self.applied += [r.acct_unique_id for r in reqs]
        return [ok(r) for r in reqs]


def submit_behind_a_held_statement(db: FakeDb, batcher: AccountingBatcher,
                                   uids: list[str]) -> dict[str, AcctResult | Exception]:
    """submit_all while the first statement is held up for 0.2 s, so the rest queue behind it."""
    db.gate.clear()
    threading.Timer(0.2, db.gate.set).start()
    return submit_all(batcher, uids)


def submit_all(batcher: AccountingBatcher, uids: list[str]) -> dict[str, AcctResult | Exception]:
    """Each uid from its own thread (as radiusd's lanes do), in order; the outcome of each."""
    out: dict[str, AcctResult | Exception] = {}

    def one(uid: str) -> None:
        try:
            out[uid] = batcher.account(request(uid))
        except Exception as exc:  # noqa: BLE001 - the outcome under test
            out[uid] = exc

    threads = []
    for uid in uids:
        t = threading.Thread(target=one, args=(uid,))
        t.start()
        threads.append(t)
        time.sleep(0.002)  # arrival order
    for t in threads:
        t.join(10)
    return out


@pytest.fixture
def logs() -> list[tuple[str, dict[str, object]]]:
    return []


def make(db: FakeDb, logs: list[tuple[str, dict[str, object]]], **kw: object) -> AccountingBatcher:
    return AccountingBatcher(db, lambda level, **f: logs.append((level, f)), **kw)  # type: ignore[arg-type]


def test_a_lone_packet_is_written_at_once(logs: list) -> None:  # noqa: ANN001
    db = FakeDb()
    b = make(db, logs, writers=1)
    assert b.account(request("u1")) == ok(request("u1"))
    assert db.statements == [["u1"]]
    b.close()


def test_packets_arriving_during_a_write_share_the_next_statement_in_arrival_order(logs: list) -> None:  # noqa: ANN001
    db = FakeDb()
    b = make(db, logs, writers=1, max_batch=64)
    uids = [f"u{i}" for i in range(10)]
    out = submit_behind_a_held_statement(db, b, uids)
    assert all(out[u] == ok(request(u)) for u in uids)
    assert db.applied == uids
    assert db.statements[0] == ["u0"] and db.statements[1] == uids[1:]
    assert (b.statements, b.packets) == (2, 10)
    b.close()


def test_max_batch_bounds_a_statement(logs: list) -> None:  # noqa: ANN001
    db = FakeDb()
    b = make(db, logs, writers=1, max_batch=3)
    uids = [f"u{i}" for i in range(8)]
    submit_behind_a_held_statement(db, b, uids)
    assert db.applied == uids and max(len(s) for s in db.statements) == 3
    b.close()


def test_a_refused_record_is_replayed_alone_and_the_others_are_stored(logs: list) -> None:  # noqa: ANN001
    db = FakeDb(refuse={"u3"})
    b = make(db, logs, writers=1)
    uids = [f"u{i}" for i in range(6)]
    out = submit_behind_a_held_statement(db, b, uids)
    assert isinstance(out["u3"], StatementRefused)
    assert all(out[u] == ok(request(u)) for u in uids if u != "u3")
    assert sorted(db.applied) == sorted(u for u in uids if u != "u3")
    assert [f["event"] for _, f in logs] == ["batch_replayed"]
    b.close()


def test_a_deadlock_replays_the_batch_packet_by_packet(logs: list) -> None:  # noqa: ANN001
    db = FakeDb(conflict_once=True)
    b = make(db, logs, writers=1)
    uids = [f"u{i}" for i in range(5)]
    out = submit_behind_a_held_statement(db, b, uids)
    assert all(out[u] == ok(request(u)) for u in uids)
    assert sorted(db.applied) == uids  # each exactly once
    b.close()


def test_postgresql_down_fails_every_packet_of_the_batch_so_each_is_spooled(logs: list) -> None:  # noqa: ANN001
    db = FakeDb(down=True)
    b = make(db, logs, writers=1)
    out = submit_behind_a_held_statement(db, b, [f"u{i}" for i in range(5)])
    assert all(isinstance(v, BackendUnavailable) for v in out.values()) and len(out) == 5
    assert db.applied == []
    b.close()


def test_a_writer_that_never_answers_cannot_hang_radiusd(logs: list) -> None:  # noqa: ANN001
    db = FakeDb()
    db.gate.clear()  # PostgreSQL hangs (the fake gives up after 5 s)
    b = make(db, logs, writers=1, timeout=0.3)
    started = time.monotonic()
    with pytest.raises(BackendUnavailable, match="not committed within"):
        b.account(request("u1"))
    assert time.monotonic() - started < 2
    db.gate.set()
    b.close()


def test_a_closed_batcher_refuses_new_packets(logs: list) -> None:  # noqa: ANN001
    db = FakeDb()
    b = make(db, logs, writers=1)
    b.close()
    with pytest.raises(BackendUnavailable, match="stopped"):
        b.account(request("u1"))
