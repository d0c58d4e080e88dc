"""cloudos session list | disconnect | reap; cloudos usage; cloudos worker"""

from __future__ import annotations

import argparse
import logging
import sys
from datetime import date, datetime, time, timezone
from typing import Any
from zoneinfo import ZoneInfo

import psycopg

from cloudos import worker
from cloudos.commands._common import Subparsers, leaf, positive_arg, tenant_opt, username_arg
from cloudos.context import Ctx, database_url, table
from cloudos.errors import CliError
from cloudos.store import coa, sessions as session_store, subscribers, usage as usage_store
from rlm_cloudos.policy import billing_period
from rlm_cloudos.policy.rates import format_size, usage_size

def _session_row(r: Any) -> dict[str, Any]:
    return {
        "acct_session_id": r.acct_session_id, "acct_unique_id": r.acct_unique_id, "username": r.username,
        "nas": r.nas, "started_at": r.started_at.isoformat(), "updated_at": r.updated_at.isoformat(),
        "stopped_at": r.stopped_at.isoformat() if r.stopped_at else None, "framed_ip": r.framed_ip,
        "calling_station_id": r.calling_station_id, "download_bytes": r.output_octets,
        "upload_bytes": r.input_octets, "session_time": r.session_time, "terminate_cause": r.terminate_cause,
    }


def list_(ctx: Ctx, args: argparse.Namespace) -> None:
    with ctx.read() as conn:
        tenant = ctx.tenant(conn, args.tenant)
        rows = [_session_row(r) for r in session_store.listing(conn, tenant.id, online=args.online,
                                                               username=args.user, limit=args.limit)]
    human = [dict(r, down=usage_size(r["download_bytes"]), up=usage_size(r["upload_bytes"]),
                  state="online" if r["stopped_at"] is None else (r["terminate_cause"] or "stopped")) for r in rows]
    ctx.emit(rows, table(human, ["username", "acct_session_id", "nas", "framed_ip", "started_at", "down", "up",
                                 "state"]))


def disconnect(ctx: Ctx, args: argparse.Namespace) -> None:
    with ctx.tx() as conn:
        tenant = ctx.tenant(conn, args.tenant)
        sessions = session_store.open_matching(conn, tenant.id, args.target)
        if not sessions:
            raise CliError(f"no online session of user or with session id {args.target!r} in tenant {tenant.name}")
        queued = coa.queue_sessions_disconnect(conn, [s.acct_unique_id for s in sessions], "admin")
        ctx.audit(conn, action="session.disconnect", target=f"session:{tenant.name}/{args.target}",
                  tenant_id=tenant.id, before={"sessions": [s.acct_session_id for s in sessions]},
                  after={"queued": queued})
    ctx.emit({"queued": queued, "sessions": [s.acct_session_id for s in sessions]},
             f"Disconnect-Request queued for {queued} session(s) of {args.target}; `cloudos worker` sends it")


def reap(ctx: Ctx, args: argparse.Namespace) -> None:
    with ctx.tx() as conn:
        reaped, purged, as_of, forgotten = session_store.reap(conn, ctx.now)
        if reaped or purged:
            ctx.audit(conn, action="session.reap", target="sessions", tenant_id=None, before=None,
                      after={"stale_closed": reaped, "purged": purged})
    behind = max(0, int((ctx.now - as_of).total_seconds()))
    ctx.emit({"stale_closed": reaped, "purged": purged, "as_of": as_of.isoformat(), "forgotten": list(forgotten)},
             f"{reaped} stale session(s) closed, {purged} old closed session(s) purged"
             + (f"; as of {behind} s ago, while a radiusd's journal is applied" if behind >= 60 else "")
             + (f"; no longer waiting for {', '.join(forgotten)} (silent a day)" if forgotten else ""))


def usage(ctx: Ctx, args: argparse.Namespace) -> None:
    with ctx.read() as conn:
        tenant = ctx.tenant(conn, args.tenant)
        sub = subscribers.with_plan_terms(conn, tenant.id, args.username)
        if sub is None:
            raise CliError(f"no subscriber {args.username!r} in tenant {tenant.name}")
        at = (datetime.combine(args.period, time(12), tzinfo=ZoneInfo(tenant.timezone)) if args.period
              else ctx.now)
        start, end = billing_period(sub.period, tenant.timezone, sub.expires_at, at)
        row = usage_store.of_period(conn, sub.id, start)
        history = usage_store.history(conn, sub.id, 12)
    up, down, secs = (row.input_octets, row.output_octets, row.session_time) if row else (0, 0, 0)
    data = {
        "username": args.username, "period_start": start.isoformat(), "period_end": end.isoformat(),
        "download_bytes": down, "upload_bytes": up, "total_bytes": up + down, "session_seconds": secs,
        "quota_bytes": sub.quota_bytes,
        "history": [{"period_start": h.period_start.isoformat(), "total_bytes": h.input_octets + h.output_octets,
                     "session_seconds": h.session_time} for h in history],
    }
    quota = f" of {format_size(sub.quota_bytes)}" if sub.quota_bytes else ""
    ctx.emit(data, [f"{args.username}: {usage_size(up + down)}{quota} from {start.isoformat()} to {end.isoformat()}",
                    f"  download {usage_size(down)}, upload {usage_size(up)}, online {secs // 3600}h{secs % 3600 // 60:02d}m"])


def _period_day(text: str) -> date:
    """YYYY-MM (its 15th) or YYYY-MM-DD: a day inside the wanted period."""
    try:
        return date.fromisoformat(text + "-15" if len(text) == 7 else text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"invalid period {text!r}: YYYY-MM or YYYY-MM-DD") from None


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
    p.add_argument("--limit", type=positive_arg, default=100)
    p = leaf(s, "disconnect", "send a Disconnect-Request for a user's sessions or one session", disconnect)
    p.add_argument("target", metavar="USER|SESSION", help="a username, an Acct-Session-Id or an Acct-Unique-Session-Id")
    tenant_opt(p)
    leaf(s, "reap", "close sessions with no accounting for two interim intervals (NAS rebooted silently)", reap)

    p = leaf(sub, "usage", "a subscriber's use in a billing period", usage)
    p.add_argument("username", type=username_arg, metavar="USER")
    tenant_opt(p)
    p.add_argument("--period", type=_period_day, metavar="YYYY-MM|DATE",
                   help="the period containing this month or day (default: now)")

    p = leaf(sub, "worker", "send queued CoA/Disconnect requests and reap stale sessions", run_worker)
    p.add_argument("--once", action="store_true", help="one pass over what is due, then exit")
    p.add_argument("--poll", type=float, default=1.0, help="seconds between polls when idle (NOTIFY wakes it sooner)")
    p.add_argument("--timeout", type=float, default=2.0, help="seconds to wait for a NAS's answer (2)")
    p.add_argument("--max-attempts", type=positive_arg, default=worker.MAX_ATTEMPTS,
                   help=f"sends of a CoA before it becomes a Disconnect-Request ({worker.MAX_ATTEMPTS}); "
                        "a Disconnect is sent until its session closes")
    p.add_argument("--backoff-cap", type=_seconds, default=worker.BACKOFF_CAP,
                   help=f"most seconds between two sends of one request ({worker.BACKOFF_CAP:g})")
