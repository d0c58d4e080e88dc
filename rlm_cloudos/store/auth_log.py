"""The auth log: one row per login decision, written in batches off the request path."""

from __future__ import annotations

import collections
import itertools
import threading
import time
from collections.abc import Callable
from datetime import datetime
from typing import NamedTuple

from rlm_cloudos.store import sql
from rlm_cloudos.store.lifecycle import Service
from rlm_cloudos.store.pg import Database


class AuthLogEntry(NamedTuple):
    """One auth-log row, in INSERT_AUTH_LOG's column order (a NamedTuple: built on every login)."""

    at: datetime
    tenant_id: int
    nas_id: int | None
    subscriber_id: int | None
    username: str
    outcome: str
    reason: str
    auth_method: str | None
    calling_station_id: str | None
    nas_port_id: str | None
    nas_port_type: str | None
    framed_ip: str | None
    walled_garden: bool


class AuthLogWriter(Service):
    """Writes auth-log rows in batches from a background thread, off the request path.

    ``add`` is a deque append: no lock, no wake-up, almost no time under the GIL.
    The writer drains it every ``interval`` seconds with one INSERT of arrays. When PostgreSQL
    is slow the deque absorbs up to ``capacity`` rows; beyond that the oldest rows
    are dropped, counted and logged.

    An accept decided by authorize is *held* for ``hold`` seconds before it is
    written: if pap/chap/mschap then refuse the password, post-auth turns it into a
    reject (``refuse``). An accepted login thus costs radiusd one call into Python,
    not two; the password check itself takes microseconds, far inside the hold.
    """

    #: Accepts remembered after they were written, for late refusals.
    REMEMBER_WRITTEN = 10_000

    def __init__(self, db: Database, log: Callable[..., None], *, capacity: int = 100_000,
                 interval: float = 0.2, hold: float = 1.0) -> None:
        self._db = db
        self._log = log
        self._rows: collections.deque[AuthLogEntry] = collections.deque()
        self._held: dict[int, AuthLogEntry] = {}
        #: Accepts written lately, for a refusal that comes after its hold ran out.
        self._written: collections.OrderedDict[int, AuthLogEntry] = collections.OrderedDict()
        self._due: collections.deque[tuple[float, int]] = collections.deque()
        self._ids = itertools.count(1)
        self._hold = hold
        self._capacity = capacity
        self._interval = interval
        self._stop = threading.Event()
        self.dropped = 0
        self._thread: threading.Thread | None = None

    def open(self) -> None:
        """Start the writer thread."""
        self._thread = threading.Thread(target=self._run, name="cloudos-authlog", daemon=True)
        self._thread.start()

    def add(self, entry: AuthLogEntry) -> None:
        self._rows.append(entry)

    def hold(self, entry: AuthLogEntry) -> int:
        """Keep an accept back for the hold time; returns the id ``refuse`` takes."""
        log_id = next(self._ids) % 2**32 or next(self._ids)  # CloudOS-Log-Id is a 32-bit integer
        self._held[log_id] = entry
        self._due.append((time.monotonic() + self._hold, log_id))
        return log_id

    def refuse(self, log_id: int, reason: str) -> tuple[AuthLogEntry, bool] | None:
        """Write accept ``log_id`` as a reject for ``reason`` instead. Returns the accept and whether
        it had already been written (then the reject follows it in the log); None if unknown."""
        entry = self._held.pop(log_id, None)
        late = entry is None
        if entry is None:
            entry = self._written.pop(log_id, None)
            if entry is None:
                return None
        self._rows.append(entry._replace(outcome="reject", reason=reason, walled_garden=False))
        return entry, late

    def _release(self, everything: bool) -> None:
        """Move held accepts whose time is up (or all of them) to the rows to write."""
        now = time.monotonic()
        while self._due and (everything or self._due[0][0] <= now):
            _, log_id = self._due.popleft()
            entry = self._held.pop(log_id, None)
            if entry is not None:
                self._rows.append(entry)
                self._written[log_id] = entry
                if len(self._written) > self.REMEMBER_WRITTEN:
                    self._written.popitem(last=False)

    def close(self, timeout: float = 3.0) -> None:
        """Write what is queued and held (within ``timeout``) and stop the thread."""
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout)

    def _run(self) -> None:
        while True:
            stopping = self._stop.wait(self._interval)
            self._release(everything=stopping)
            overflow = len(self._rows) - self._capacity
            for _ in range(max(0, overflow)):
                self._rows.popleft()
            if overflow > 0:
                self.dropped += overflow
                self._log("error", hook="post_auth", event="auth_log_full", dropped=self.dropped)
            batch: list[AuthLogEntry] = []
            while self._rows and len(batch) < 5000:
                batch.append(self._rows.popleft())
            if batch:
                self._flush(batch)
            if stopping and not self._rows:
                return

    def _flush(self, rows: list[AuthLogEntry]) -> None:
        try:
            # watched: a silent connection would otherwise hold this thread (and rows) for ever.
            with self._db.pool.connection(timeout=5) as conn, self._db.watched(conn):
                # In a transaction of its own, though the pool is autocommit: an INSERT cut at the
                # bound may still reach PostgreSQL later (a network that held it), and without its
                # COMMIT it is rolled back there, not written beside the retry.
                with conn.transaction():
                    conn.execute(sql.INSERT_AUTH_LOG, [list(column) for column in zip(*rows)])
        except Exception as exc:  # PostgreSQL away: keep the rows for the next round
            self._rows.extendleft(reversed(rows))
            self._log("warn", hook="post_auth", event="auth_log_deferred", rows=len(rows), error=type(exc).__name__)
            self._stop.wait(1.0)
