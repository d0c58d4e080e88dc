"""Server-side CPU and memory from /proc: radiusd plus the PostgreSQL and Redis processes serving it."""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

TICK = os.sysconf("SC_CLK_TCK")


def _stat(pid: int) -> tuple[int, int] | None:
    """(ppid, utime + stime in clock ticks) of a process, or None once it is gone."""
    try:
        raw = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return None
    fields = raw.rsplit(")", 1)[1].split()
    return int(fields[1]), int(fields[11]) + int(fields[12])


def descendants(root: int) -> set[int]:
    """``root`` and every process below it (PostgreSQL backends are children of the postmaster)."""
    children: dict[int, list[int]] = {}
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            st = _stat(int(entry))
            if st is not None:
                children.setdefault(st[0], []).append(int(entry))
    found, todo = set(), [root]
    while todo:
        pid = todo.pop()
        if pid not in found:
            found.add(pid)
            todo += children.get(pid, [])
    return found


def cpu_seconds(pids: set[int]) -> float:
    """CPU seconds (user + system) used so far by these processes (those still alive)."""
    total = 0
    for pid in pids:
        st = _stat(pid)
        if st is not None:
            total += st[1]
    return total / TICK


def rss_mib(pid: int) -> float:
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
    except OSError:
        pass
    return 0.0


@dataclass
class Meter:
    """CPU used by a server group between start() and stop(): radiusd (one or more), the postmaster
    tree, Redis."""

    radiusd: tuple[int, ...]
    postmaster: int
    redis: int | None

    def pids(self) -> set[int]:
        return set().union(*self.groups().values())

    def groups(self) -> dict[str, set[int]]:
        return {"radiusd": set().union(*(descendants(pid) for pid in self.radiusd)),
                "postgres": descendants(self.postmaster),
                "redis": {self.redis} if self.redis else set()}

    def start(self) -> None:
        # Backends born during the run are counted from zero: their CPU is all the run's.
        self._before = {pid: (_stat(pid) or (0, 0))[1] for pid in self.pids()}

    def stop(self) -> float:
        """CPU seconds used since start(), all groups; per group in ``self.last``."""
        self.last: dict[str, float] = {}
        for name, pids in self.groups().items():
            ticks = 0
            for pid in pids:
                st = _stat(pid)
                if st is not None:
                    ticks += st[1] - self._before.get(pid, 0)
            self.last[name] = ticks / TICK
        return sum(self.last.values())
