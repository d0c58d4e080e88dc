"""Accounting on local disk first, PostgreSQL right after.

The accounting hook appends each Accounting-Request to a journal file and returns:
radiusd answers the NAS once the record is on this host's disk, not once
PostgreSQL has committed it. A drainer thread applies the journal to PostgreSQL in
file order, as many records at a time as have arrived meanwhile (up to
``max_batch``), split by subscriber over ``parallel`` statements, and records how
far it got. Each statement hands PostgreSQL the lines as they are on disk
(cloudos_account_journal(), schema 0005). This is FreeRADIUS's own
decoupled-accounting pattern (the live server writes the ``detail`` file and
answers; a reader applies it), with three differences: the records are applied in
batches instead of one round trip each, the reader is a thread of the same
radiusd, and PostgreSQL being down is not a special path: the journal just grows
until it is back.

Like ``detail``, a record is written with ``write(2)`` and not fsynced: it survives
radiusd crashing or restarting (the kernel has it), not the host losing power.
Replaying a record twice is harmless: ``cloudos_account()`` counts a packet once
(a stopped session's row stays in ``session_open`` for two days, cloudos_reap_sessions()).

On disk, in ``directory``:

``acct-<seq>.log``  segments of one JSON array per line (``encode``); the writer
                    starts a new one at ``segment_bytes`` and at every start.
``applied``         ``<seq> <offset>``: everything before it is in PostgreSQL.
``lock``            held (flock) by the radiusd that owns the journal.

Segments the drainer has finished are deleted.
"""

from __future__ import annotations

import dataclasses
import fcntl
import json
import os
import re
import threading
import time
import zlib
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

from rlm_cloudos.errors import BackendUnavailable, Conflict, StatementRefused
from rlm_cloudos.requests import AcctRequest
from rlm_cloudos.store.pg import Database

_SEGMENT = re.compile(r"^acct-(\d{12})\.log$")
_FIELDS = tuple(f.name for f in dataclasses.fields(AcctRequest))
_DELAY = _FIELDS.index("delay")
#: Records about a whole NAS (every session on it closed): applied after everything before them.
NAS_WIDE = frozenset({"Accounting-On", "Accounting-Off"})
_POSITION = "{:012d} {:015d}\n"


def lane(req: AcctRequest) -> int:
    """Which statement of a batch the record goes to (``lane % parallel``): the same for every
    record of a subscriber; -1 for a record about a whole NAS, applied after all before it."""
    if req.status in NAS_WIDE:
        return -1
    return zlib.crc32(req.user_name.encode("utf-8", "replace")) & 0xFFFF


def encode(req: AcctRequest, received: float) -> bytes:
    """One journal line, a JSON array (so one line, whatever the attributes hold): when it was
    received, its lane, then the request's fields in AcctRequest's order. PostgreSQL reads the
    same layout (cloudos_account_journal(), schema 0005)."""
    return (json.dumps([round(received, 3), lane(req), *(getattr(req, f) for f in _FIELDS)], separators=(",", ":"))
            + "\n").encode()


def decode(line: bytes, now: float) -> AcctRequest:
    """The request a journal line holds, its Acct-Delay-Time grown by the time it spent in the
    journal (so cloudos_account() dates the event when it happened). Raises ValueError."""
    values = json.loads(line)
    if not isinstance(values, list) or len(values) != len(_FIELDS) + 2:
        raise ValueError("not a journal record")
    received, _lane, *fields = values
    fields[_DELAY] = int(fields[_DELAY]) + max(0, int(now - float(received)))
    return AcctRequest(*fields)


def _lane_of(line: bytes) -> int:
    """encode()'s lane, read without decoding the line (-1 when it cannot be read: alone, in order)."""
    try:
        start = line.index(b",") + 1
        return int(line[start:line.index(b",", start)])
    except ValueError:
        return -1


def _segment(directory: Path, seq: int) -> Path:
    return directory / f"acct-{seq:012d}.log"


def _segments(directory: Path) -> list[int]:
    return sorted(int(m.group(1)) for name in os.listdir(directory) if (m := _SEGMENT.match(name)))


def _read_position(directory: Path) -> tuple[int, int]:
    try:
        seq, offset = (directory / "applied").read_text().split()
        return int(seq), int(offset)
    except (OSError, ValueError):
        return 0, 0


def backlog(directory: Path) -> int:
    """Bytes of journal not yet applied to PostgreSQL (0: everything answered is stored)."""
    directory = Path(directory)
    if not directory.is_dir():
        return 0
    seq, offset = _read_position(directory)
    total = 0
    for s in _segments(directory):
        if s >= seq:
            try:
                total += _segment(directory, s).stat().st_size - (offset if s == seq else 0)
            except FileNotFoundError:
                pass
    return max(0, total)


def wait_applied(directory: Path, timeout: float, poll: float = 0.01) -> bool:
    """Wait until the journal in ``directory`` is all in PostgreSQL; False if ``timeout`` passed first."""
    deadline = time.monotonic() + timeout
    while backlog(directory):
        if time.monotonic() > deadline:
            return False
        time.sleep(poll)
    return True


class JournalBusy(Exception):
    """Another process holds the journal directory."""


class AccountingJournal:
    """See the module docstring. ``append`` is thread-safe; one drainer thread applies.

    Every ``STATS_SECONDS`` with traffic, and at close, the drainer logs ``event=journal_stats``:
    records applied and dropped, statements, and the bytes still waiting.

    ``on_feed(feed)`` is called by the drainer with what a stored record changed for authorize
    (cloudos_account()'s feed), for the records other radiusd are not told about by NOTIFY
    (interims), before the position moves past them.
    """

    STATS_SECONDS = 300.0

    def __init__(self, directory: Path | str, db: Database, log: Callable[..., None], *,
                 on_feed: Callable[[str], None] | None = None,
                 max_batch: int = 500, parallel: int = 1, segment_bytes: int = 64 << 20,
                 retry_seconds: float = 1.0) -> None:
        self.directory = Path(directory)
        self._db = db
        self._log = log
        self._on_feed = on_feed
        self._max = max_batch
        self._segment_bytes = segment_bytes
        self._retry = retry_seconds
        self._parallel = parallel
        self._pool = ThreadPoolExecutor(parallel - 1, thread_name_prefix="cloudos-acct-apply") if parallel > 1 else None
        # Enough for a batch of the longest records RADIUS attributes can make.
        self._chunk = max(1 << 16, max_batch * 512)
        self._lock = threading.Lock()
        self._wake = threading.Event()
        self._stop = threading.Event()
        self._fd = -1
        self._lock_fd = -1
        self._pos_fd = -1
        self._size = 0
        self._wseq = 0
        self._rseq = 0
        self._roff = 0
        self._thread: threading.Thread | None = None
        self._last_stats = 0.0
        self._reported = 0
        #: Statements written, records applied, records PostgreSQL refused or that could not be read.
        self.statements = 0
        self.applied = 0
        self.dropped = 0

    # ------------------------------------------------------------------ writer side

    def open(self) -> None:
        """Take the directory, resume after what was applied, start the drainer. Raises JournalBusy
        when another radiusd holds the directory, OSError when it cannot be used."""
        self.directory.mkdir(mode=0o700, parents=True, exist_ok=True)
        self._lock_fd = os.open(self.directory / "lock", os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, 0o600)
        try:
            fcntl.flock(self._lock_fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            os.close(self._lock_fd)
            self._lock_fd = -1
            raise JournalBusy(f"{self.directory} is in use by another process") from None
        os.ftruncate(self._lock_fd, 0)
        os.write(self._lock_fd, f"{os.getpid()}\n".encode())
        seqs = _segments(self.directory)
        seq, offset = _read_position(self.directory)
        for s in seqs:
            if s < seq:
                _segment(self.directory, s).unlink()
        pending = [s for s in seqs if s >= seq]
        self._pos_fd = os.open(self.directory / "applied", os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, 0o600)
        # Always a new segment: the last one may end in a record torn by a crash.
        self._open_segment(max(seqs, default=0) + 1)
        if seq in pending:
            self._rseq, self._roff = seq, offset
        else:
            self._rseq, self._roff = (pending[0] if pending else self._wseq), 0
        self._save_position()
        waiting = backlog(self.directory)
        if waiting:
            self._log("info", hook="accounting", event="journal_resumed", directory=str(self.directory),
                      bytes=waiting)
        self._thread = threading.Thread(target=self._run, name="cloudos-acct-journal", daemon=True)
        self._thread.start()

    def _open_segment(self, seq: int) -> None:
        fd = os.open(_segment(self.directory, seq), os.O_WRONLY | os.O_CREAT | os.O_APPEND | os.O_CLOEXEC, 0o600)
        if self._fd >= 0:
            os.close(self._fd)
        self._fd, self._wseq, self._size = fd, seq, 0

    def append(self, req: AcctRequest) -> None:
        """Write ``req`` to the journal; once this returns, the NAS may be answered. Raises OSError."""
        data = encode(req, time.time())
        with self._lock:
            if self._fd < 0:
                raise OSError("the accounting journal is closed")
            written = os.write(self._fd, data)
            self._size += written
            if written != len(data):
                # Disk full mid-record: end the segment here, so the torn record is the last
                # thing in it (the drainer drops it) and not glued to the next one.
                self._open_segment(self._wseq + 1)
                raise OSError(f"short write to the accounting journal ({written} of {len(data)} bytes)")
            if self._size >= self._segment_bytes:
                self._open_segment(self._wseq + 1)
        self._wake.set()

    def close(self, timeout: float = 3.0) -> None:
        """Apply what PostgreSQL takes within ``timeout``; the rest stays on disk for the next start."""
        self._stop.set()
        self._wake.set()
        if self._thread is not None:
            self._thread.join(timeout)
        if self._pool is not None:
            self._pool.shutdown(wait=False)
        self._stats("journal_closed")
        with self._lock:
            for fd in (self._fd, self._pos_fd, self._lock_fd):
                if fd >= 0:
                    os.close(fd)
            self._fd = self._pos_fd = self._lock_fd = -1

    # ------------------------------------------------------------------ drainer side

    def _stats(self, event: str) -> None:
        self._log("info", hook="accounting", event=event, applied=self.applied, dropped=self.dropped,
                  statements=self.statements, waiting_bytes=backlog(self.directory))

    def _maybe_stats(self, waiting: bool) -> None:
        """journal_stats every STATS_SECONDS, if records were applied since or some are waiting."""
        if time.monotonic() - self._last_stats >= self.STATS_SECONDS:
            if self.applied != self._reported or waiting:
                self._stats("journal_stats")
            self._last_stats, self._reported = time.monotonic(), self.applied

    def _run(self) -> None:
        outage_since: float | None = None
        self._last_stats, self._reported = time.monotonic(), self.applied
        while True:
            self._wake.wait(timeout=1.0)
            self._wake.clear()
            self._maybe_stats(outage_since is not None)
            while True:
                lines, end = self._read()
                if not lines:
                    break
                try:
                    self._apply(lines)
                except BackendUnavailable as exc:
                    if outage_since is None:
                        outage_since = time.monotonic()
                        self._log("error", hook="accounting", event="journal_waiting", reason="backend_unavailable",
                                  bytes=backlog(self.directory), detail=str(exc))
                    if self._stop.wait(self._retry):
                        return
                    self._maybe_stats(True)
                    continue
                self._roff = end
                self._save_position()
                self._maybe_stats(False)
                if outage_since is not None:
                    self._log("info", hook="accounting", event="journal_caught_up",
                              after=f"{time.monotonic() - outage_since:.0f}s")
                    outage_since = None
            if self._stop.is_set():
                return

    def _read(self) -> tuple[list[bytes], int]:
        """Up to max_batch whole records from the read position, and the offset after them;
        moves on to the next segment (deleting this one) when this one is finished."""
        while True:
            newer = self._rseq < self._wseq  # read before the data: once true, this segment is final
            try:
                fd = os.open(_segment(self.directory, self._rseq), os.O_RDONLY | os.O_CLOEXEC)
            except FileNotFoundError:
                chunk = b""
            else:
                try:
                    chunk = os.pread(fd, self._chunk, self._roff)
                finally:
                    os.close(fd)
            cut = chunk.rfind(b"\n") + 1
            if cut:
                lines = chunk[:cut].split(b"\n")[:-1]
                if len(lines) > self._max:
                    lines = lines[: self._max]
                    cut = sum(len(line) + 1 for line in lines)
                return lines, self._roff + cut
            if not newer:
                return [], self._roff
            if chunk:
                self.dropped += 1
                self._log("warn", hook="accounting", event="journal_torn_record", segment=self._rseq,
                          bytes=len(chunk), detail="a record cut short by a crash or a full disk; never answered")
            try:
                _segment(self.directory, self._rseq).unlink()
            except FileNotFoundError:
                pass
            self._rseq, self._roff = self._rseq + 1, 0
            self._save_position()

    def _apply(self, lines: list[bytes]) -> None:
        """Apply ``lines`` in order; raises BackendUnavailable when PostgreSQL cannot take them now."""
        start = 0
        for i, line in enumerate(lines):
            if _lane_of(line) < 0:
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
            groups[_lane_of(line) % self._parallel].append(line)
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
        try:
            rows = self._db.account_journal(lines, now)
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
            try:
                req = decode(line, now)
            except (ValueError, TypeError) as exc:
                self.dropped += 1
                self._log("error", hook="accounting", event="journal_unreadable_record",
                          record=line[:300].decode(errors="replace"), detail=str(exc))
                continue
            try:
                res = self._db.account(req)
            except StatementRefused as exc:
                # Applied again it would fail again, and hold up every record behind it.
                self.dropped += 1
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

    def _save_position(self) -> None:
        # Under the lock close() takes: a drainer still running after close() must not write
        # to a descriptor number the process has meanwhile given to another file.
        with self._lock:
            if self._pos_fd >= 0:
                os.pwrite(self._pos_fd, _POSITION.format(self._rseq, self._roff).encode(), 0)


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
        log("warn", hook="instantiate", event="journal_busy", detail=str(exc),
            consequence="accounting is written straight to PostgreSQL")
        return None
    return journal
