"""cloudos session list | disconnect | reap; cloudos usage; cloudos worker"""

from __future__ import annotations

import argparse
import logging
import sys
from datetime import date, datetime, time
from typing import Any
from zoneinfo import ZoneInfo

import psycopg

from cloudos import show, worker
from cloudos.commands._common import Subparsers, leaf, positive_arg, tenant_opt, username_arg
from cloudos.context import Ctx, database_url, table
from cloudos.errors import CliError
from cloudos.store import coa, sessions as session_store, subscribers, usage as usage_store
from rlm_cloudos.policy import billing_period
from rlm_cloudos.policy.rates import format_size, usage_size
from rlm_cloudos.requests import normalize_mac


def _session_row(r: Any, tenant: str) -> dict[str, Any]:
    """A session as every command gives it (cloudos.show's vocabulary): ``id`` is its
    Acct-Unique-Session-Id, ``mac`` the Calling-Station-Id (normalised when it is a MAC)."""
    return {
        "id": r.acct_unique_id, "tenant": tenant, "acct_session_id": r.acct_session_id, "username": r.username,
        "nas": r.nas, "online": r.stopped_at is None, "started_at": show.utc(r.started_at),
        "updated_at": show.utc(r.updated_at), "stopped_at": show.utc(r.stopped_at), "framed_ip": r.framed_ip,
        "mac": normalize_mac(r.calling_station_id) or r.calling_station_id, "download_bytes": r.output_octets,
        "upload_bytes": r.input_octets, "session_seconds": r.session_time, "terminate_cause": r.terminate_cause,
    }


def duration(seconds: int) -> str:
    """``3d04h05m`` / ``4h05m`` / ``5m``: how long, as a NOC reads it."""
    days, rest = divmod(max(0, int(seconds)), 86400)
    hours, minutes = rest // 3600, rest % 3600 // 60
    if days:
        return f"{days}d{hours:02d}h{minutes:02d}m"
    return f"{hours}h{minutes:02d}m" if hours else f"{minutes}m"


def list_(ctx: Ctx, args: argparse.Namespace) -> None:
    with ctx.read() as conn:
        tenant = ctx.tenant(conn, args.tenant)
        found = session_store.listing(conn, tenant.id, online=args.online, username=args.user, limit=args.limit)
    rows = [_session_row(r, tenant.name) for r in found]
    tz = tenant.timezone
    human = [dict(r, session=r["acct_session_id"], started=show.local(f.started_at, tz),
                  down=usage_size(r["download_bytes"]), up=usage_size(r["upload_bytes"]),
                  time=duration(r["session_seconds"]),
                  state="online" if f.stopped_at is None
                  else f"{r['terminate_cause'] or 'stopped'} {show.local(f.stopped_at, tz)}")
             for r, f in zip(rows, found)]
    ctx.emit(rows, table(human, ["username", "session", "nas", "framed_ip", "mac", "started", "down", "up", "time",
                                 "state"]))


def disconnect(ctx: Ctx, args: argparse.Namespace) -> None:
    with ctx.tx() as conn:
        tenant = ctx.tenant(conn, args.tenant)
        sessions = session_store.open_matching(conn, tenant.id, args.target, lock=True)
        if not sessions:
            raise CliError(f"no online session of user or with session id {args.target!r} in tenant {tenant.name}")
        # A Disconnect already pending (queued, or sent and unanswered: the worker sends it again until
        # the session closes) is the request: a second one would only be sent beside it.
        pending = coa.pending_disconnects(conn, [s.acct_unique_id for s in sessions])
        fresh = [s for s in sessions if s.acct_unique_id not in pending]
        queued = coa.queue_sessions_disconnect(conn, [s.acct_unique_id for s in fresh], "admin") if fresh else 0
        # One that a suspension queued is now the operator's too: a resume must not cancel it.
        adopted = coa.adopt_disconnects(conn, sorted(pending)) if pending else 0
        if queued or adopted:
            ctx.audit(conn, action="session.disconnect", target=f"session:{tenant.name}/{args.target}",
                      tenant_id=tenant.id, before={"sessions": [s.acct_session_id for s in sessions]},
                      after={"queued": queued, "adopted": adopted})
    data = {"queued": queued, "already_queued": len(pending), "sessions": [s.acct_session_id for s in sessions]}
    said = []
    if queued:
        said.append(f"Disconnect-Request queued for {queued} session(s) of {args.target}; `cloudos worker` sends it")
    if pending:
        said.append(f"a Disconnect-Request is already queued for {len(pending)} session(s) of {args.target}: "
                    "nothing new queued (see cloudos coa list)")
    ctx.emit(data, "; ".join(said))


def reap(ctx: Ctx, args: argparse.Namespace) -> None:
    with ctx.tx() as conn:
        reaped, purged, as_of, forgotten = session_store.reap(conn, ctx.now)
        if reaped or purged:
            ctx.audit(conn, action="session.reap", target="sessions", tenant_id=None, before=None,
                      after={"stale_closed": reaped, "purged": purged})
    behind = max(0, int((ctx.now - as_of).total_seconds()))
    ctx.emit({"stale_closed": reaped, "purged": purged, "as_of": show.utc(as_of), "forgotten": list(forgotten)},
             f"{reaped} stale session(s) closed, {purged} old closed session(s) purged"
             + (f"; as of {behind} s ago, while a radiusd's journal is applied" if behind >= 60 else "")
             + (f"; no longer waiting for {', '.join(forgotten)} (silent a day)" if forgotten else ""))


def _period_at(text: str | None, tz: str, now: datetime) -> datetime:
    """The instant whose billing period ``usage --period`` asks for, in the tenant's zone ``tz``:
    YYYY-MM (its 15th, noon), YYYY-MM-DD (noon) or an ISO time (show.read_local); now without one."""
    if text is None:
        return now
    if "T" in text or " " in text:
        return show.read_local(text, tz)
    day = date.fromisoformat(text + "-15" if len(text) == 7 else text)
    return datetime.combine(day, time(12), tzinfo=ZoneInfo(tz))


def _counter(start: datetime, end: datetime, tz: str, up: int, down: int, secs: int) -> dict[str, Any]:
    return {"period": show.period_name(start, end, tz), "period_start": show.utc(start), "period_end": show.utc(end),
            "download_bytes": down, "upload_bytes": up, "total_bytes": up + down, "session_seconds": secs}


def usage(ctx: Ctx, args: argparse.Namespace) -> None:
    with ctx.read() as conn:
        tenant = ctx.tenant(conn, args.tenant)
        sub = subscribers.with_plan_terms(conn, tenant.id, args.username)
        if sub is None:
            raise CliError(f"no subscriber {args.username!r} in tenant {tenant.name}")
        tz = tenant.timezone
        start, end = billing_period(sub.period, tz, sub.expires_at, _period_at(args.period, tz, ctx.now))
        row = usage_store.of_period(conn, sub.id, start)
        history = usage_store.history(conn, sub.id, 12)
    up, down, secs = (row.input_octets, row.output_octets, row.session_time) if row else (0, 0, 0)
    data = {
        "username": args.username, "tenant": tenant.name, **_counter(start, end, tz, up, down, secs),
        "quota_bytes": sub.quota_bytes,
        "history": [_counter(h.period_start, h.period_end, tz, h.input_octets, h.output_octets, h.session_time)
                    for h in history],
    }
    quota = f" of {format_size(sub.quota_bytes)}" if sub.quota_bytes else ""
    lines = [f"{args.username}: {usage_size(up + down)}{quota} in {data['period']} "
             f"({show.local(start, tz)} to {show.local(end, tz)})",
             f"  download {usage_size(down)}, upload {usage_size(up)}, online {duration(secs)}"]
    if len(history) > 1 or (history and history[0].period_start != start):
        lines.append("  history:")
        lines += [f"    {h['period']:<28} {usage_size(h['total_bytes']):>9}  online {duration(h['session_seconds'])}"
                  for h in data["history"]]
    ctx.emit(data, lines)


def _period_text(text: str) -> str:
    """YYYY-MM, YYYY-MM-DD (a day inside the wanted period) or an ISO time, checked here; read in the
    tenant's zone once the tenant is known."""
    try:
        if "T" in text or " " in text:
            datetime.fromisoformat(text)
        else:
            date.fromisoformat(text + "-15" if len(text) == 7 else text)
    except ValueError:
        raise argparse.ArgumentTypeError(
            f"invalid period {text!r}: YYYY-MM, YYYY-MM-DD or a time like 2026-11-30T23:30 (tenant time)") from None
    return text


def _seconds(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"invalid seconds {text!r}") from None
    if not 0 < value < 86400:
        raise argparse.ArgumentTypeError(f"seconds must be above 0 and below 86400, not {text}")
    return value


def run_worker(ctx: Ctx, args: argparse.Namespace) -> None:
    logging.basicConfig(stream=sys.stderr, level=logging.INFO, format="%(asctime)s cloudos-worker %(message)s")
    url = database_url()
    keyring = ctx.keyring
    try:
        total = worker.run(url, keyring, once=args.once, poll=args.poll, timeout=args.timeout,
                           max_attempts=args.max_attempts, backoff_cap=args.backoff_cap)
    except psycopg.OperationalError as exc:
        raise CliError(f"cannot use PostgreSQL: {' '.join(str(exc).split())[:200]}") from None
    ctx.emit(vars(total), f"sent {total.sent}: {total.acked} ACK, {total.naked} NAK, {total.timed_out} timed out, "
                          f"{total.retrying} to retry, {total.failed} failed, {total.escalated} escalated to Disconnect, "
                          f"{total.cancelled} cancelled, {total.swept} queued by the sweep; "
                          f"{total.reaped} stale sessions closed")


def register(sub: Subparsers) -> None:
    g = sub.add_parser("session", help="accounting sessions: who is online, disconnect, reap")
    s = g.add_subparsers(dest="action", required=True, metavar="ACTION")
    p = leaf(s, "list", "list recent sessions", list_)
    tenant_opt(p)
    p.add_argument("--online", action="store_true", help="only sessions still open")
    p.add_argument("--user", type=username_arg, metavar="U")
    p.add_argument("--limit", type=positive_arg, default=100, metavar="N", help="at most N sessions (100)")
    p = leaf(s, "disconnect", "send a Disconnect-Request for a user's sessions or one session", disconnect)
    p.add_argument("target", metavar="USER|SESSION", help="a username, an Acct-Session-Id or an Acct-Unique-Session-Id")
    tenant_opt(p)
    leaf(s, "reap", "close sessions with no accounting for two interim intervals (NAS rebooted silently)", reap)

    p = leaf(sub, "usage", "a subscriber's use in a billing period", usage)
    p.add_argument("username", type=username_arg, metavar="USER")
    tenant_opt(p)
    p.add_argument("--period", type=_period_text, metavar="YYYY-MM|DATE|TIME",
                   help="the period containing this month, day or time, read in the tenant's time zone "
                        "(default: now)")

    p = leaf(sub, "worker", "send queued CoA/Disconnect requests and reap stale sessions", run_worker)
    p.add_argument("--once", action="store_true", help="one pass over what is due, then exit")
    p.add_argument("--poll", type=_seconds, default=1.0, help="seconds between polls when idle (NOTIFY wakes it sooner)")
    p.add_argument("--timeout", type=_seconds, default=2.0, help="seconds to wait for a NAS's answer (2)")
    p.add_argument("--max-attempts", type=positive_arg, default=worker.MAX_ATTEMPTS,
                   help=f"sends of a CoA before it becomes a Disconnect-Request ({worker.MAX_ATTEMPTS}); "
                        "a Disconnect is sent until its session closes")
    p.add_argument("--backoff-cap", type=_seconds, default=worker.BACKOFF_CAP,
                   help=f"most seconds between two sends of one request ({worker.BACKOFF_CAP:g})")
