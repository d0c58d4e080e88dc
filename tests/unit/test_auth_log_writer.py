"""AuthLogWriter's held accepts: written after the hold, or turned into a reject by refuse()."""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from datetime import datetime, timezone
from typing import Any

from rlm_cloudos.store.auth_log import AuthLogEntry, AuthLogWriter


class FakeDb:
    """Just enough of Database for the writer: a pool whose INSERT of arrays keeps the rows it is given."""

    def __init__(self) -> None:
        self.rows: list[tuple[Any, ...]] = []
        self.pool = self

    @contextlib.contextmanager
    def connection(self, timeout: float | None = None) -> Iterator[Any]:
        yield self

    @contextlib.contextmanager
    def watched(self, conn: Any) -> Iterator[None]:  # Database bounds the INSERT's round trip
        yield

    @contextlib.contextmanager
    def transaction(self) -> Iterator[None]:
        yield

    def execute(self, statement: str, columns: list[list[Any]]) -> None:
        assert statement.lstrip().startswith("INSERT INTO auth_log")
        assert len({len(c) for c in columns}) == 1  # one array per column, all of one length
        self.rows += list(zip(*columns))


def entry(user: str, outcome: str = "accept", reason: str = "ok", garden: bool = False) -> AuthLogEntry:
    return AuthLogEntry(datetime(2026, 11, 29, tzinfo=timezone.utc), 7, 3, 42, user, outcome, reason, "pap",
                        "AA:BB:CC:DD:EE:FF", "ether2", "Ethernet", None, garden)


def writer(hold: float) -> tuple[AuthLogWriter, FakeDb]:
    db = FakeDb()
    # An interval of an hour: the background thread stays asleep until close().
    w = AuthLogWriter(db, lambda *a, **k: None, interval=3600, hold=hold)  # type: ignore[arg-type]
    w.open()
    return w, db


def written(db: FakeDb) -> list[tuple[str, str, str, bool]]:
    return [(r[4], r[5], r[6], r[12]) for r in db.rows]


def test_a_refused_accept_is_written_once_as_a_reject() -> None:
    w, db = writer(hold=3600)
    kept = w.hold(entry("ali", garden=True))
    other = w.hold(entry("bilal"))
    assert kept != other
    assert w.refuse(kept, "wrong_password") is not None
    assert w.refuse(kept, "wrong_password") is None  # once only
    w.close()  # writes everything still held
    # A refused walled-garden accept is not a garden admission any more.
    assert sorted(written(db)) == [("ali", "reject", "wrong_password", False), ("bilal", "accept", "ok", False)]


def test_held_accepts_are_released_when_their_time_is_up_and_not_before() -> None:
    w, db = writer(hold=0.0)
    first = w.hold(entry("ali"))
    w._release(everything=False)
    refused = w.refuse(first, "wrong_password")  # already on its way as an accept: the reject follows it
    assert refused is not None and refused[1] is True
    assert w.refuse(first, "wrong_password") is None  # once only
    w2, db2 = writer(hold=3600)
    w2.hold(entry("bilal"))
    w2._release(everything=False)
    assert not w2._rows
    w.close()
    w2.close()
    assert written(db) == [("ali", "accept", "ok", False), ("ali", "reject", "wrong_password", False)]
    assert written(db2) == [("bilal", "accept", "ok", False)]

