"""cloudos metrics [--textfile PATH]: Prometheus text exposition (format 0.0.4) read from PostgreSQL.

Run it as the metrics login (schema 0014's cloudos_metrics), every minute, from
deploy/systemd/cloudos-metrics.timer: ``--textfile`` writes the file node_exporter's
textfile collector reads (``--collector.textfile.directory``), atomically (written
beside it, then renamed), so a scrape never reads half a file. Without it the text goes
to standard output.

What Prometheus users expect, and why each metric is the type it is:

- Logins and settled CoA requests are events, so they are **counters** (``_total``), for
  ``rate()`` and ``increase()``. PostgreSQL keeps the rows, not a running total, so a
  counter here is the number of rows since 00:00 UTC today: it only grows during the
  day (a row written late, such as an auth-log row held a second, still counts, at the
  next run), costs one day's rows per run, and drops to zero at midnight, which
  Prometheus reads as a counter reset. What is lost is what arrived between the last
  run before midnight and midnight: at most one run's interval a day. A gauge of "the
  last N minutes" would instead count twice or miss whenever a run is late, and could
  not be summed.
- Online sessions, pending requests and journal lag are states, so they are **gauges**.
- Every known label combination is written, zeros included (each reason and outcome
  for each tenant, each NAS of each tenant), so a series exists before its first event
  and ``increase()`` sees that event.
"""

from __future__ import annotations

import argparse
import json
import os
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path

from cloudos.commands._common import Subparsers, leaf
from cloudos.context import Ctx
from cloudos.errors import CliError
from cloudos.store import metrics as store
from rlm_cloudos.policy.types import Reason

#: coa_outbox's kinds and the statuses a request settles in (the schema's CHECKs, 0001 and 0008).
COA_KINDS = ("coa", "disconnect")
COA_SETTLED = ("ack", "nak", "timeout", "failed", "cancelled")
OUTCOMES = ("accept", "reject")


@dataclass(frozen=True, slots=True)
class Family:
    """One metric: its name, type, help line and samples (labels, value)."""

    name: str
    type: str
    help: str
    samples: tuple[tuple[tuple[tuple[str, str], ...], float], ...]


def _escape(value: str) -> str:
    # The exposition format's label value escapes: backslash, double quote and line feed.
    return value.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n")


def _value(v: float) -> str:
    return str(int(v)) if float(v).is_integer() else repr(float(v))


def render(families: Iterable[Family]) -> str:
    """The Prometheus text exposition format (0.0.4) of ``families``, one HELP and TYPE line each."""
    lines: list[str] = []
    for f in families:
        lines.append(f"# HELP {f.name} {f.help}")
        lines.append(f"# TYPE {f.name} {f.type}")
        for labels, value in f.samples:
            text = ",".join(f'{k}="{_escape(v)}"' for k, v in labels)
            lines.append(f"{f.name}{{{text}}} {_value(value)}" if text else f"{f.name} {_value(value)}")
    return "\n".join(lines) + "\n"


def day_start(now: datetime) -> datetime:
    """00:00 UTC of ``now``'s day: where today's counters start."""
    utc = now.astimezone(timezone.utc)
    return utc.replace(hour=0, minute=0, second=0, microsecond=0)


def families(snap: store.Snapshot) -> Iterator[Family]:
    """The metrics of one snapshot, in a fixed order (pure: no I/O, no clock)."""
    yield Family("cloudos_sessions_online", "gauge",
                 "Open sessions heard from within the stale cutoff (as authorize and the reaper count them), "
                 "per tenant and NAS.",
                 tuple(((("tenant", s.tenant), ("nas", s.nas)), s.online) for s in snap.sessions))
    yield Family("cloudos_sessions_stale", "gauge",
                 "Open sessions silent past the stale cutoff: the worker's reaper closes them.",
                 tuple(((("tenant", s.tenant), ("nas", s.nas)), s.stale) for s in snap.sessions))
    auth = {(a.tenant, a.outcome, a.reason): a.count for a in snap.auth}
    known = {(t, o, r.value) for t in snap.tenants for o in OUTCOMES for r in Reason
             if (o == "accept") == (r is Reason.OK)}
    yield Family("cloudos_auth_total", "counter",
                 "Access-Requests decided since 00:00 UTC today (the auth log), by outcome and reason; "
                 "resets at midnight UTC.",
                 tuple(((("tenant", t), ("outcome", o), ("reason", r)), auth.get((t, o, r), 0))
                       for t, o, r in sorted(known | set(auth))))
    settled = {(c.tenant, c.kind, c.status): c.count for c in snap.coa_settled}
    known_coa = {(t, k, s) for t in snap.tenants for k in COA_KINDS for s in COA_SETTLED}
    yield Family("cloudos_coa_settled_total", "counter",
                 "CoA and Disconnect requests settled since 00:00 UTC today, by kind and outcome "
                 "(ack, nak, timeout, failed, cancelled); resets at midnight UTC.",
                 tuple(((("tenant", t), ("kind", k), ("status", s)), settled.get((t, k, s), 0))
                       for t, k, s in sorted(known_coa | set(settled))))
    pending = {(p.tenant, p.kind): p for p in snap.coa_pending}
    keys = sorted({(t, k) for t in snap.tenants for k in COA_KINDS} | set(pending))
    yield Family("cloudos_coa_pending", "gauge",
                 "CoA and Disconnect requests queued and not yet settled (cloudos worker sends them).",
                 tuple(((("tenant", t), ("kind", k)), pending[t, k].count if (t, k) in pending else 0)
                       for t, k in keys))
    yield Family("cloudos_coa_oldest_pending_seconds", "gauge",
                 "Age of the oldest queued CoA or Disconnect request (0 with none queued).",
                 tuple(((("tenant", t), ("kind", k)), pending[t, k].oldest_seconds if (t, k) in pending else 0)
                       for t, k in keys))
    yield Family("cloudos_journal_nodes", "gauge",
                 "radiusd accounting journals reporting their progress (journal_node rows).",
                 (((), len(snap.journal)),))
    yield Family("cloudos_journal_lag_seconds", "gauge",
                 "How far each radiusd's accounting journal is behind: accounting it received before "
                 "now minus this is all in PostgreSQL.",
                 tuple(((("node", j.node),), j.lag_seconds) for j in snap.journal))
    yield Family("cloudos_journal_report_age_seconds", "gauge",
                 "Seconds since each radiusd last reported its journal (every 10 s when idle).",
                 tuple(((("node", j.node),), j.report_age_seconds) for j in snap.journal))
    yield Family("cloudos_metrics_generated_timestamp_seconds", "gauge",
                 "When cloudos metrics read these figures (Unix time).",
                 (((), snap.now.timestamp()),))


def write_atomically(path: Path, text: str) -> None:
    """Replace ``path`` with ``text`` in one rename (a reader sees the old file or the new one,
    never part of one), mode 0644 for node_exporter; raises OSError."""
    # Not named *.prom: the textfile collector reads only those, and would read this one half-written.
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o644)
    try:
        os.fchmod(fd, 0o644)
        with os.fdopen(fd, "w", encoding="utf-8") as f:
            fd = -1
            f.write(text)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except BaseException:
        if fd >= 0:
            os.close(fd)
        tmp.unlink(missing_ok=True)
        raise


def metrics(ctx: Ctx, args: argparse.Namespace) -> None:
    since = day_start(ctx.now)
    with ctx.read() as conn:
        # One snapshot: every figure as of the same instant of the database.
        conn.exec_driver_sql("SET TRANSACTION ISOLATION LEVEL REPEATABLE READ, READ ONLY")
        snap = store.read(conn, ctx.now, since)
    fams = list(families(snap))
    if args.textfile is not None:
        try:
            write_atomically(args.textfile, render(fams))
        except OSError as exc:
            raise CliError(f"cannot write {args.textfile}: {exc.strerror or exc}") from None
        ctx.emit({"textfile": str(args.textfile), "metrics": len(fams)},
                 f"wrote {sum(len(f.samples) for f in fams)} samples to {args.textfile}")
    elif ctx.json:
        print(json.dumps([{"name": f.name, "type": f.type, "samples": [{"labels": dict(labels), "value": value}
                                                                       for labels, value in f.samples]}
                          for f in fams], indent=2))
    else:
        print(render(fams), end="")


def register(sub: Subparsers) -> None:
    p = leaf(sub, "metrics", "Prometheus metrics: sessions online, logins, CoA requests, journal lag", metrics)
    p.add_argument("--textfile", type=Path, metavar="PATH",
                   help="write them to PATH (atomically, for node_exporter's textfile collector) "
                        "instead of standard output")
