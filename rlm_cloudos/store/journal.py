"""Accounting on local disk first, PostgreSQL right after.

The accounting hook appends each Accounting-Request to a journal file and returns:
radiusd answers the NAS once the record is on this host's disk, not once
PostgreSQL has committed it. A drainer thread applies the journal to PostgreSQL in
file order, as many records at a time as have arrived meanwhile (up to
``max_batch``), split by subscriber over ``parallel`` statements, and records how
far it got. Each statement hands PostgreSQL the lines as they are on disk
(cloudos_account_journal(), schema 0006). This is FreeRADIUS's own
decoupled-accounting pattern (the live server writes the ``detail`` file and
answers; a reader applies it), with three differences: the records are applied in
batches instead of one round trip each, the reader is a thread of the same
radiusd, and PostgreSQL being down is not a special path: the journal just grows
until it is back.

Replaying a record twice is harmless: ``cloudos_account()`` counts a packet once
(a closed session's row stays in ``session_open`` until nothing has been heard of it for
two days, cloudos_reap_sessions()).

**How far it is applied.** The drainer records in PostgreSQL (``journal_node``, schema
0011, keyed by this host's name and the journal's directory) the time before which
every record this radiusd received is applied: when a read finds nothing waiting, the
time of that read; while a backlog drains, the receive time of the last record applied.
Both less ``ORDER_SLACK``: a record's receive time is read just before it is appended.
At most one write a second while records flow, one every ``IDLE_STATUS_SECONDS`` when
idle, none while PostgreSQL cannot take the records. The reaper's "now" is no later
than the oldest of these, so it never closes a session whose interims still wait here.
Closed with nothing waiting, the journal deletes its row.

The record format is store.journal_record; the directory (segments, position, lock)
is store.journal_files; this module is the drainer that applies them.
"""

from __future__ import annotations

import socket
import threading
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

from rlm_cloudos.errors import (BackendUnavailable, CloudOSError, Conflict, DrainerStalled, StatementRefused,
                                StatementTimedOut)
from rlm_cloudos.requests import AcctRequest
from rlm_cloudos.store.journal_files import JournalBusy, Segments
from rlm_cloudos.store.lifecycle import Service
from rlm_cloudos.store.journal_record import decode, encode, lane_of, received_of
from rlm_cloudos.store.pg import Database


class AccountingJournal(Service):
    """See the module docstring. ``append`` is thread-safe; one drainer thread applies.

    Every ``STATS_SECONDS`` with traffic, and at close, the drainer logs ``event=journal_stats``:
    records applied and dropped, statements, and the bytes still waiting.

    ``on_feed(feed)`` is called by the drainer with what a stored record changed for authorize
    (cloudos_account()'s feed), for the records other radiusd are not told about by NOTIFY
    (interims), before the position moves past them.
    """

    STATS_SECONDS = 300.0
    #: Longest wait between tries while PostgreSQL cannot take the records.
    RETRY_CAP_SECONDS = 8.0
    #: Statements in a row that fit before a halved batch is doubled again.
    GROW_AFTER = 16
    #: Fewest seconds between two status writes (journal_node) while records are applied.
    STATUS_SECONDS = 1.0
    #: Seconds between status writes while nothing arrives: the reaper waits for the oldest.
    IDLE_STATUS_SECONDS = 10.0
    #: Seconds a status write that failed (a schema without journal_node, a missing grant) waits.
    STATUS_RETRY_SECONDS = 60.0
    #: A record's receive time is read just before it is appended: one appended meanwhile by
    #: another lane may be older than the last record read, by at most this much.
    ORDER_SLACK = 1.0

    def __init__(self, directory: Path | str, db: Database, log: Callable[..., None], *,
                 on_feed: Callable[[str], None] | None = None,
                 max_batch: int = 500, parallel: int = 1, segment_bytes: int = 64 << 20,
                 retry_seconds: float = 1.0, stall_seconds: float = 60.0, node: str | None = None) -> None:
        self.directory = Path(directory)
        #: Who this journal is in journal_node: this host and the journal's directory.
        self.node = node or f"{socket.gethostname()}:{self.directory.resolve()}"
        #: Where the drainer applies the records (its own pool: see Runtime.start).
        self.db = db
        self._log = log
        self._on_feed = on_feed
        self._max = max_batch
        #: Records read per try: max_batch, halved on each statement timeout, doubled again after
        #: GROW_AFTER statements in a row that fit.
        self.batch = max_batch
        self._fitted = 0
        self._failures = 0
        self._outage_since: float | None = None
        #: When the drainer last showed it was running (monotonic); see append().
        self.beat = time.monotonic()
        #: Silence of the drainer after which append() refuses: far beyond any bounded wait it makes.
        self.stall_seconds = stall_seconds
        self._stalled = False
        self._retry = retry_seconds
        self._parallel = parallel
        # Enough for a batch of the longest records RADIUS attributes can make.
        self._files = Segments(self.directory, log, segment_bytes=segment_bytes, chunk=max(1 << 16, max_batch * 512))
        self._pool: ThreadPoolExecutor | None = None
        self._wake = threading.Event()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._last_stats = 0.0
        self._reported = 0
        self._status_at = -1e9  # time.monotonic() of the last status write (or the retry time after a failure)
        self._progressed = False  # records applied since the last status written from an idle read
        self._status_failed = False
        #: Statements written, records applied, records PostgreSQL refused or that could not be read.
        self.statements = 0
        self.applied = 0
        self._refused = 0

    @property
    def dropped(self) -> int:
        """Records never applied: refused by PostgreSQL, unreadable, or torn on disk."""
        return self._refused + self._files.torn

    # ------------------------------------------------------------------ writer side

    def open(self) -> None:
        """Take the directory, resume after what was applied, start the drainer. Raises JournalBusy
        when another radiusd holds the directory, OSError when it cannot be used."""
        self._files.open()
        waiting = self._files.backlog()
        if waiting:
            self._log("info", hook="accounting", event="journal_resumed", directory=str(self.directory),
                      bytes=waiting)
        if self._parallel > 1:
            self._pool = ThreadPoolExecutor(self._parallel - 1, thread_name_prefix="cloudos-acct-apply")
        self._thread = threading.Thread(target=self._run, name="cloudos-acct-journal", daemon=True)
        self._thread.start()

    def append(self, req: AcctRequest) -> None:
        """Write ``req`` to the journal; once this returns, the NAS may be answered. Raises OSError,
        or DrainerStalled when the drainer has stopped running: a journal no one applies must not
        go on answering NASes (unanswered, they retransmit or fail over to another radiusd)."""
        self._check_drainer()
        self._files.append(encode(req, time.time()))
        self._wake.set()

    def _check_drainer(self) -> None:
        if self._stop.is_set():
            return  # closing: the files say so themselves
        thread = self._thread
        silent = time.monotonic() - self.beat
        if thread is not None and thread.is_alive() and silent < self.stall_seconds:
            if self._stalled:
                self._stalled = False
                self._log("info", hook="accounting", event="journal_drainer_running")
            return
        if not self._stalled:
            self._stalled = True
            self._log("error", hook="accounting", event="journal_drainer_stalled",
                      alive=thread is not None and thread.is_alive(), silent=f"{silent:.0f}s",
                      bytes=self._files.backlog(), consequence="accounting is not answered")
        raise DrainerStalled(f"the journal drainer has not run for {silent:.0f}s")

    def close(self, timeout: float = 3.0) -> None:
        """Apply what PostgreSQL takes within ``timeout``; the rest stays on disk for the next start."""
        self._stop.set()
        self._wake.set()
        if self._thread is not None:
            self._thread.join(timeout)
        if self._pool is not None:
            self._pool.shutdown(wait=False)
        self._stats("journal_closed")
        if not self._files.backlog() and (self._thread is None or not self._thread.is_alive()):
            try:
                self.db.journal_closed(self.node)
            except CloudOSError:
                pass  # the row stays; the reaper forgets it in a day, and the next start overwrites it
        self._files.close()

    # ------------------------------------------------------------------ drainer side

    def _stats(self, event: str) -> None:
        self._log("info", hook="accounting", event=event, applied=self.applied, dropped=self.dropped,
                  statements=self.statements, waiting_bytes=self._files.backlog())

    def _maybe_stats(self, waiting: bool) -> None:
        """journal_stats every STATS_SECONDS, if records were applied since or some are waiting."""
        if time.monotonic() - self._last_stats >= self.STATS_SECONDS:
            if self.applied != self._reported or waiting:
                self._stats("journal_stats")
            self._last_stats, self._reported = time.monotonic(), self.applied

    def _report(self, caught_up: float, *, idle: bool) -> None:
        """Record in PostgreSQL that every record received before ``caught_up`` is applied, unless
        one was written less than STATUS_SECONDS ago (IDLE_STATUS_SECONDS with nothing applied since)."""
        since = time.monotonic() - self._status_at
        if since < self.STATUS_SECONDS or (idle and not self._progressed and since < self.IDLE_STATUS_SECONDS):
            return
        try:
            self.db.journal_status(self.node, caught_up - self.ORDER_SLACK, time.time())
        except BackendUnavailable as exc:
            sqlstate = getattr(exc.__cause__, "sqlstate", None)
            if not (isinstance(sqlstate, str) and sqlstate.startswith("42")):
                # PostgreSQL down, or silent: the records will find it so too. Said once, as for them.
                self._status_at = time.monotonic()
                self._waiting(exc)
                return
            self._status_failed_for(exc)  # no journal_node or no grant: not an outage
            return
        except Exception as exc:  # a status that cannot be written must not stop accounting
            self._status_failed_for(exc)
            return
        self._status_at, self._status_failed = time.monotonic(), False
        if idle:
            self._progressed = False  # written from a read that found nothing: as fresh as it gets
            self._caught_up()

    def _status_failed_for(self, exc: Exception) -> None:
        self._status_at = time.monotonic() + self.STATUS_RETRY_SECONDS - self.STATUS_SECONDS
        if not self._status_failed:
            self._status_failed = True
            self._log("warn", hook="accounting", event="journal_status_failed", node=self.node,
                      detail=str(exc), consequence="the reaper waits for this radiusd's last status")

    def _waiting(self, exc: BackendUnavailable) -> None:
        """PostgreSQL cannot take the journal's statements: logged once per outage."""
        if self._outage_since is None:
            self._outage_since = time.monotonic()
            self._log("error", hook="accounting", event="journal_waiting",
                      reason="timeout" if isinstance(exc, StatementTimedOut) else "backend_unavailable",
                      bytes=self._files.backlog(), detail=str(exc))

    def _caught_up(self) -> None:
        if self._outage_since is not None:
            self._log("info", hook="accounting", event="journal_caught_up",
                      after=f"{time.monotonic() - self._outage_since:.0f}s")
            self._outage_since = None

    def _run(self) -> None:
        """The drainer's loop; nothing it meets ends it but close(). An error no branch expects (a bug,
        a disk that fails to read) is logged and retried like an outage, never left to end the thread
        while the hook keeps answering NASes (and append() refuses once the loop stops beating)."""
        self._last_stats, self._reported = time.monotonic(), self.applied
        while not self._stop.is_set():
            self.beat = time.monotonic()
            self._wake.wait(timeout=1.0)
            self._wake.clear()
            self.beat = time.monotonic()
            self._maybe_stats(self._outage_since is not None)
            try:
                self._drain()
            except Exception as exc:
                self._log("error", hook="accounting", event="journal_drainer_error", error=type(exc).__name__,
                          detail=str(exc), bytes=self._files.backlog())
                self._stop.wait(self._backoff())

    def _drain(self) -> None:
        """Apply what the journal holds, ``self.batch`` records at a time, until it is empty or close()."""
        while not self._stop.is_set():
            self.beat = time.monotonic()
            read_at = time.time()
            lines, end = self._files.read(self.batch)
            if not lines:
                self._report(read_at, idle=True)  # everything received before the read is applied
                return
            try:
                self._apply(lines)
            except BackendUnavailable as exc:
                timed_out = isinstance(exc, StatementTimedOut)
                self._fitted = 0
                if timed_out and len(lines) > 1:
                    # Alive but slow: a statement of half as many records may fit in the bound.
                    self.batch = len(lines) // 2
                    self._log("warn", hook="accounting", event="journal_batch_halved", batch=self.batch,
                              detail=str(exc))
                self._waiting(exc)
                self._stop.wait(self._backoff())
                self._maybe_stats(True)
                continue
            # Said before the position moves: whoever waits for the journal to be applied then
            # finds the outage's end in the log too.
            self._caught_up()
            self._files.advance(end)
            self._progressed = True
            received = received_of(lines[-1])
            if received is not None:
                self._report(received, idle=False)
            self._failures = 0
            self._fitted += 1
            if self.batch < self._max and self._fitted >= self.GROW_AFTER:
                # Back towards full size, slowly: each try that times out costs the server a whole
                # statement_timeout of work it then throws away.
                self.batch, self._fitted = min(self._max, self.batch * 2), 0
            self._maybe_stats(False)

    def _backoff(self) -> float:
        """How long to wait before the next try: ``retry_seconds``, doubling per failure in a row
        up to RETRY_CAP_SECONDS (a struggling server is not hammered by every radiusd at once)."""
        self._failures += 1
        wait: float = min(self._retry * 2.0 ** (self._failures - 1), max(self._retry, self.RETRY_CAP_SECONDS))
        return wait

    def _apply(self, lines: list[bytes]) -> None:
        """Apply ``lines`` in order; raises BackendUnavailable when PostgreSQL cannot take them now."""
        start = 0
        for i, line in enumerate(lines):
            if lane_of(line) < 0:
                self._apply_parallel(lines[start:i])
                self._apply_group([line])
                start = i + 1
        self._apply_parallel(lines[start:])

    def _apply_parallel(self, lines: list[bytes]) -> None:
        """Apply ``lines`` as ``parallel`` statements at once, each subscriber's records in one of
        them and in order (what one subscriber's records do depends on their order; records of
        different subscribers touch different rows)."""
        if self._pool is None or len(lines) < 2 * self._parallel:
            self._apply_group(lines)
            return
        groups: list[list[bytes]] = [[] for _ in range(self._parallel)]
        for line in lines:
            groups[lane_of(line) % self._parallel].append(line)
        others = [self._pool.submit(self._apply_group, g) for g in groups[1:] if g]
        failed: BackendUnavailable | None = None
        try:
            self._apply_group(groups[0])
        except BackendUnavailable as exc:
            failed = exc
        for future in others:
            try:
                future.result()
            except BackendUnavailable as exc:
                failed = failed or exc
        if failed is not None:
            # All of them again later: the groups that were stored count nothing twice.
            raise failed

    def _apply_group(self, lines: list[bytes]) -> None:
        if not lines:
            return
        now = time.time()
        self.beat = time.monotonic()
        try:
            rows = self.db.account_journal(lines, now)
        except (StatementRefused, Conflict) as exc:
            # One record PostgreSQL refuses, or one that cannot be read, or a deadlock with
            # another radiusd: the same records one at a time.
            self._log("warn", hook="accounting", event="batch_replayed", packets=len(lines), detail=str(exc))
            self._apply_one_by_one(lines, now)
            return
        self.statements += 1
        self.applied += len(lines)
        for n, result, feed in rows:
            if feed and self._on_feed is not None:
                self._feed(feed)
            if result != "ok":
                try:
                    log_result(self._log, decode(lines[n - 1], now), result)
                except (ValueError, TypeError, IndexError):
                    self._log("warn", hook="accounting", event=result, record=n)

    def _apply_one_by_one(self, lines: list[bytes], now: float) -> None:
        for line in lines:
            self.beat = time.monotonic()
            try:
                req = decode(line, now)
            except (ValueError, TypeError) as exc:
                self._refused += 1
                self._log("error", hook="accounting", event="journal_unreadable_record",
                          record=line[:300].decode(errors="replace"), detail=str(exc))
                continue
            try:
                res = self.db.account(req)
            except StatementRefused as exc:
                # Applied again it would fail again, and hold up every record behind it.
                self._refused += 1
                log_refused(self._log, req, exc)
                continue
            self.statements += 1
            self.applied += 1
            if res.feed and self._on_feed is not None:
                self._feed(res.feed)
            if res.result != "ok":
                log_result(self._log, req, res.result)

    def _feed(self, feed: str) -> None:
        try:
            self._on_feed(feed)  # type: ignore[misc]
        except Exception as exc:  # a bug there must not stop accounting
            self._log("error", hook="accounting", event="feed_apply_failed", error=type(exc).__name__,
                      detail=str(exc))


def log_refused(log: Callable[..., Any], req: AcctRequest, exc: Exception) -> None:
    """A request PostgreSQL refused, acknowledged and dropped: the log line keeps everything it said."""
    log("error", hook="accounting", event="refused", nas=req.nas_address, user=req.user_name,
        session=req.acct_session_id, unique=req.acct_unique_id, status=req.status, input=req.input_octets,
        output=req.output_octets, time=req.session_time, detail=str(exc))


def log_result(log: Callable[..., Any], req: AcctRequest, result: str) -> None:
    """A stored request whose result is not ok (an unknown NAS or subscriber, ...): one warning."""
    log("warn", hook="accounting", event=result, nas=req.nas_address, user=req.user_name or None,
        session=req.acct_session_id or None, status=req.status)


def open_journal(directory: str, db: Database, log: Callable[..., Any], **kw: Any) -> AccountingJournal | None:
    """The journal in ``directory``, or None (logged) when another radiusd holds it: this one then
    writes accounting straight to PostgreSQL, slower but just as safe (``freeradius -C`` on a host
    where radiusd runs lands here too)."""
    journal = AccountingJournal(directory, db, log, **kw)
    try:
        journal.open()
    except JournalBusy as exc:
        log(exc.level, hook="instantiate", event="journal_busy", detail=str(exc),
            consequence="accounting is written straight to PostgreSQL")
        return None
    return journal
