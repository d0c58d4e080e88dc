"""Which open sessions count as online: the twin of cloudos_stale_cutoff() in the schema."""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime
from typing import NamedTuple


class LiveSession(NamedTuple):
    """An accounting session without a Stop, as authorize reads it."""

    acct_unique_id: str
    nas_id: int
    #: Its last accounting, in seconds since the epoch.
    updated: float
    #: Calling-Station-Id, upper-cased by PostgreSQL ('' when the NAS sent none).
    mac: str


def stale_after(interim_interval: int) -> int:
    """Seconds without accounting after which a session no longer counts: two interim
    intervals plus the 10 % jitter RouterOS adds, rounded up, and a minute of margin.
    Integer arithmetic, as PostgreSQL's numeric does it (in floats 100 * 1.1 is 110.00000000000001)."""
    return 2 * -(-interim_interval * 11 // 10) + 60


def count_online(sessions: Iterable[LiveSession], mac: str | None, interim_interval: int, now: datetime) -> int:
    """Sessions that are not stale at ``now``, leaving out at most one from ``mac``: a redial that
    replaces a dropped session must not be refused as a second login, but five live sessions
    from one (spoofed) MAC are still four more than the one being replaced."""
    cutoff = now.timestamp() - stale_after(interim_interval)
    live = 0
    redial = False
    for s in sessions:
        if s.updated > cutoff:
            live += 1
            redial = redial or s.mac == mac
    return live - 1 if redial else live
