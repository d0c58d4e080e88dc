"""What the dynamic-client lookup remembers between packets: addresses no NAS covers, and its log.

FreeRADIUS 3.2 runs the dynamic_clients virtual server for a packet from an address
it does not know, in its network thread (src/main/listen.c, client_listener_find),
and rlm_cloudos looks the address up in PostgreSQL. Remembering nothing, a flood
from unknown addresses costs a query and a log line per packet while every NAS's
packets queue behind it (tests/e2e/test_flood.py measured 20,000 of each for 20,000
packets). So:

* ``NegativeCache`` remembers the answer "no NAS covers this address" for an
  interval. A NAS added meanwhile must not wait it out: the cloudos_authz feed's N
  message (or a reconnected feed, which may have missed one) calls ``forget_all``,
  and a lookup that was already reading when that happened does not store its answer
  (``begin`` hands out the token ``refuse`` checks).
* ``LogLimiter`` lets one line per address through per interval, at most
  ``per_interval`` lines in all, and counts the rest for a summary line.

Both are bounded (the oldest entries go first) and thread-safe; callers pass the time
(``time.monotonic()``), so the tests step through intervals without sleeping.
"""

from __future__ import annotations

import collections
import threading
from typing import NamedTuple

#: Addresses each structure remembers at most: a flood from more sources than this only
#: costs a few more lookups and log lines (still bounded by FreeRADIUS's rate_limit and
#: by ``per_interval``), never memory.
MEMORY = 100_000


class NegativeCache:
    """Source addresses PostgreSQL said no NAS covers, each remembered for ``seconds``."""

    def __init__(self, seconds: float, limit: int = MEMORY) -> None:
        self.seconds = seconds
        self.limit = max(1, limit)
        self._until: collections.OrderedDict[str, float] = collections.OrderedDict()
        self._generation = 0
        self._lock = threading.Lock()

    def __len__(self) -> int:
        return len(self._until)

    def refused(self, address: str, now: float) -> bool:
        """Whether ``address`` is known to be no NAS's (and so needs no lookup) at ``now``."""
        until = self._until.get(address)
        if until is None:
            return False
        if now < until:
            return True
        with self._lock:
            if self._until.get(address) == until:
                del self._until[address]
        return False

    def begin(self) -> int:
        """A token for a lookup about to read PostgreSQL (see ``refuse``)."""
        return self._generation

    def refuse(self, address: str, token: int, now: float) -> bool:
        """Remember that no NAS covers ``address``, as a lookup begun at ``token`` read, unless NAS
        changed since it began (then the answer may be stale: not kept). Returns whether it was kept."""
        with self._lock:
            if token != self._generation:
                return False
            self._until[address] = now + self.seconds
            self._until.move_to_end(address)
            while len(self._until) > self.limit:
                self._until.popitem(last=False)
            return True

    def forget_all(self) -> None:
        """A NAS may have been added or changed: forget every address, and every answer being read."""
        with self._lock:
            self._generation += 1
            self._until.clear()


class Suppressed(NamedTuple):
    """What a LogLimiter held back over ``seconds``."""

    lines: int
    #: Distinct keys among them (counted up to the limiter's memory).
    keys: int
    seconds: float


class LogLimiter:
    """One line per key per ``seconds``, at most ``per_interval`` lines per interval in all; the
    rest are counted, and ``summary`` reports them once the interval has passed."""

    def __init__(self, seconds: float, *, per_interval: int = 100, limit: int = MEMORY) -> None:
        self.seconds = seconds
        self.per_interval = per_interval
        self.limit = max(1, limit)
        self._last: collections.OrderedDict[str, float] = collections.OrderedDict()
        self._lock = threading.Lock()
        self._window: float | None = None  # when the current interval began (None: not yet)
        self._written = 0
        self._held = 0
        self._held_keys: set[str] = set()

    def allow(self, key: str, now: float) -> bool:
        """Whether a line about ``key`` may be written at ``now``; a refusal is counted."""
        with self._lock:
            if self._window is None:
                self._window = now
            last = self._last.get(key)
            if (last is not None and now - last < self.seconds) or self._written >= self.per_interval:
                self._held += 1
                if len(self._held_keys) < self.limit:
                    self._held_keys.add(key)
                return False
            self._written += 1
            self._last[key] = now
            self._last.move_to_end(key)
            while len(self._last) > self.limit:
                self._last.popitem(last=False)
            return True

    def summary(self, now: float, *, final: bool = False) -> Suppressed | None:
        """Once an interval has passed (or at once when ``final``): what was held back since the last
        summary, or None when nothing was. Starts the next interval."""
        with self._lock:
            start = self._window
            if start is None or (not final and now - start < self.seconds):
                return None
            held = Suppressed(self._held, len(self._held_keys), now - start)
            self._window = None
            self._written = self._held = 0
            self._held_keys = set()
            return held if held.lines else None
