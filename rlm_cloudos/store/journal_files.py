"""The accounting journal's directory: segment files, the applied position, and the lock.

In ``directory``:

``acct-<seq>.log``  segments of one record per line (store.journal_record); the writer
                    starts a new one at ``segment_bytes`` and at every open.
``applied``         ``<seq> <offset>``: everything before it is in PostgreSQL.
``lock``            held (flock) by the radiusd that owns the journal.

Segments the drainer has finished are deleted. Like FreeRADIUS's ``detail`` file, a
record is written with ``write(2)`` and not fsynced: it survives radiusd crashing or
restarting (the kernel has it), not the host losing power.
"""

from __future__ import annotations

import fcntl
import os
import re
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any, ClassVar

from rlm_cloudos.errors import CloudOSError

_SEGMENT = re.compile(r"^acct-(\d{12})\.log$")
_POSITION = "{:012d} {:015d}\n"


class JournalBusy(CloudOSError):
    """Another process holds the journal directory."""

    level: ClassVar[str] = "warn"


def segment_path(directory: Path, seq: int) -> Path:
    return directory / f"acct-{seq:012d}.log"


def segments(directory: Path) -> list[int]:
    """The sequence numbers of the segments in ``directory``, oldest first."""
    return sorted(int(m.group(1)) for name in os.listdir(directory) if (m := _SEGMENT.match(name)))


def read_position(directory: Path) -> tuple[int, int]:
    try:
        seq, offset = (directory / "applied").read_text().split()
        return int(seq), int(offset)
    except (OSError, ValueError):
        return 0, 0


def backlog(directory: Path | str) -> int:
    """Bytes of journal not yet applied to PostgreSQL (0: everything answered is stored)."""
    directory = Path(directory)
    if not directory.is_dir():
        return 0
    seq, offset = read_position(directory)
    total = 0
    for s in segments(directory):
        if s >= seq:
            try:
                total += segment_path(directory, s).stat().st_size - (offset if s == seq else 0)
            except FileNotFoundError:
                pass
    return max(0, total)


def wait_applied(directory: Path | str, timeout: float, poll: float = 0.01) -> bool:
    """Wait until the journal in ``directory`` is all in PostgreSQL; False if ``timeout`` passed first."""
    deadline = time.monotonic() + timeout
    while backlog(directory):
        if time.monotonic() > deadline:
            return False
        time.sleep(poll)
    return True


class Segments:
    """The files of one journal directory, owned by this process while open.

    ``append`` is thread-safe; ``read`` and ``advance`` belong to the one drainer.
    """

    def __init__(self, directory: Path | str, log: Callable[..., Any], *, segment_bytes: int = 64 << 20,
                 chunk: int = 1 << 16) -> None:
        self.directory = Path(directory)
        self._log = log
        self._segment_bytes = segment_bytes
        self._chunk = chunk
        self._lock = threading.Lock()
        self._fd = -1
        self._lock_fd = -1
        self._pos_fd = -1
        self._size = 0
        self._wseq = 0
        self._rseq = 0
        self._roff = 0
        #: Records cut short by a crash or a full disk, skipped (never answered).
        self.torn = 0

    def open(self) -> None:
        """Take the directory and resume after what was applied. Raises JournalBusy when another
        process holds it, OSError when it cannot be used."""
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
        seqs = segments(self.directory)
        seq, offset = read_position(self.directory)
        for s in seqs:
            if s < seq:
                segment_path(self.directory, s).unlink()
        pending = [s for s in seqs if s >= seq]
        self._pos_fd = os.open(self.directory / "applied", os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, 0o600)
        # Always a new segment: the last one may end in a record torn by a crash.
        self._open_segment(max(seqs, default=0) + 1)
        if seq in pending:
            self._rseq, self._roff = seq, offset
        else:
            self._rseq, self._roff = (pending[0] if pending else self._wseq), 0
        self._save_position()

    def close(self) -> None:
        with self._lock:
            for fd in (self._fd, self._pos_fd, self._lock_fd):
                if fd >= 0:
                    os.close(fd)
            self._fd = self._pos_fd = self._lock_fd = -1

    def backlog(self) -> int:
        return backlog(self.directory)

    def _open_segment(self, seq: int) -> None:
        fd = os.open(segment_path(self.directory, seq), os.O_WRONLY | os.O_CREAT | os.O_APPEND | os.O_CLOEXEC, 0o600)
        if self._fd >= 0:
            os.close(self._fd)
        self._fd, self._wseq, self._size = fd, seq, 0

    def append(self, data: bytes) -> None:
        """Write one record; once this returns, the NAS may be answered. Raises OSError."""
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

    def read(self, max_records: int) -> tuple[list[bytes], int]:
        """Up to ``max_records`` whole records from the read position, and the offset after them;
        moves on to the next segment (deleting this one) when this one is finished."""
        while True:
            newer = self._rseq < self._wseq  # read before the data: once true, this segment is final
            try:
                fd = os.open(segment_path(self.directory, self._rseq), os.O_RDONLY | os.O_CLOEXEC)
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
                if len(lines) > max_records:
                    lines = lines[:max_records]
                    cut = sum(len(line) + 1 for line in lines)
                return lines, self._roff + cut
            if not newer:
                return [], self._roff
            if chunk:
                self.torn += 1
                self._log("warn", hook="accounting", event="journal_torn_record", segment=self._rseq,
                          bytes=len(chunk), detail="a record cut short by a crash or a full disk; never answered")
            try:
                segment_path(self.directory, self._rseq).unlink()
            except FileNotFoundError:
                pass
            self._rseq, self._roff = self._rseq + 1, 0
            self._save_position()

    def advance(self, offset: int) -> None:
        """Everything before ``offset`` in the current read segment is in PostgreSQL."""
        self._roff = offset
        self._save_position()

    def _save_position(self) -> None:
        # Under the lock close() takes: a drainer still running after close() must not write
        # to a descriptor number the process has meanwhile given to another file.
        with self._lock:
            if self._pos_fd >= 0:
                os.pwrite(self._pos_fd, _POSITION.format(self._rseq, self._roff).encode(), 0)
