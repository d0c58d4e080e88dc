"""cloudos explain USERNAME: what authorize would decide right now, and why.

It reads the same facts as the hot path (store.sql.EXPLAIN shares its columns
with store.sql.AUTHORIZE) and calls the same policy.decide_access. The one input
a login brings that explain has to assume is its Calling-Station-Id: --mac, else
the bound MAC, else the MAC of the subscriber's newest live session (a redial
from the device that is online, the login a NOC is asked about), else none. It
says which, and every fact that depends on the MAC is counted with that one.
"""

from __future__ import annotations

import argparse
from collections.abc import Sequence
from typing import Any, Literal

from cloudos.commands._common import Subparsers, leaf, mac_arg, tenant_opt, username_arg
from cloudos import show as when
from cloudos.context import Ctx
from cloudos.errors import UsageError
from cloudos.store import auth_log
from rlm_cloudos.policy import Subscriber, decide_access
from rlm_cloudos.policy.access import online_sessions, remaining
from rlm_cloudos.policy.paid import paid_until
from rlm_cloudos.policy.rates import usage_size
from rlm_cloudos.policy.sessions import LiveSession, live_sessions
from rlm_cloudos.requests import normalize_mac
from rlm_cloudos.store import sql
from rlm_cloudos.store.rows import access_context

#: Where the Calling-Station-Id explain decides for came from.
MacSource = Literal["--mac", "binding", "online_session", "none"]


def assumed_mac(given: str | None, sub: Subscriber | None, live: Sequence[LiveSession]) -> tuple[str | None, MacSource]:
    """The Calling-Station-Id to decide for (normalised, or None) and where it came from: ``given``
    (--mac), the bound MAC, the newest of the ``live`` sessions' (a redial), or none."""
    if given is not None:
        return given, "--mac"
    if sub is None:
        return None, "none"
    if sub.mac is not None:
        return sub.mac, "binding"
    if live:
        mac = normalize_mac(max(live, key=lambda s: s.updated).mac)
        if mac is not None:
            return mac, "online_session"
    return None, "none"


def _assumption(mac: str | None, source: MacSource, known: bool, online: bool) -> str:
    """The human line that says which MAC the decision is for."""
    if not known:
        return f"  login from       {mac or 'any MAC'} (unknown user: the MAC does not matter)"
    if source == "--mac":
        return f"  login from       {mac} (--mac)"
    if source == "binding":
        return f"  login from       {mac} (the bound MAC; --mac to evaluate another)"
    if source == "online_session":
        return f"  login from       {mac} (the device online now, redialling; --mac to evaluate another device)"
    if online:
        return "  login from       no MAC (his live session names none: decided as another device; try --mac)"
    return "  login from       no MAC (not bound, not online: any MAC gets this answer; --mac to evaluate one)"


def explain(ctx: Ctx, args: argparse.Namespace) -> None:
    with ctx.read() as conn:
        tenant = ctx.tenant(conn, args.tenant)
        tz = tenant.timezone
        try:
            now = when.read_local(args.at, tz) if args.at else ctx.now
        except ValueError as exc:
            raise UsageError(f"--at: {exc}") from None
        row = conn.exec_driver_sql(
            sql.EXPLAIN, {"tenant_id": tenant.id, "username": args.username, "now": now}).first()
        if row is None:
            raise UsageError(f"no tenant {tenant.name}")
        recent = auth_log.recent(conn, tenant.id, args.username, 5)
    ctx_ = access_context(tuple(row), args.username)
    sub = ctx_.subscriber
    live = live_sessions(ctx_.sessions, ctx_.tenant.interim_interval, now) if sub is not None else []
    mac, mac_source = assumed_mac(args.mac, sub, live)
    decision = decide_access(ctx_.tenant, sub, mac, now, ctx_.usage, ctx_.sessions)
    # Each fact as --json gives it, and as a person reads it.
    facts: dict[str, Any] = {"exists": sub is not None}
    shown: dict[str, Any] = {}
    if sub is not None:
        until = paid_until(sub.expires_at, tz)
        facts.update({
            "status": sub.status.value,
            "plan": sub.plan.name if sub.plan else None,
            "paid_until": until.isoformat() if until else None,
            "expires_at": when.utc(sub.expires_at),
            "locked_until": when.utc(sub.locked_until),
            "mac": sub.mac,
            # What simultaneous use counts for this very login: the live sessions, less the one
            # it redials (policy.sessions.count_online, with the MAC the decision is for).
            "online_sessions": online_sessions(ctx_.tenant, ctx_.sessions, mac, now),
            "live_sessions": len(live),
        })
        shown.update(expires_at=when.local(sub.expires_at, tz) or None, locked_until=when.local(sub.locked_until, tz)
                     or None, mac=sub.mac or "(not bound)", paid_until=facts["paid_until"] or "no expiry")
        if sub.plan is not None:
            facts["simultaneous_use"] = sub.plan.simultaneous_use
    usage = ctx_.usage
    if usage is not None and sub is not None and sub.plan is not None:
        left = remaining(sub.plan, usage)
        facts.update({
            "period": when.period_name(usage.period_start, usage.period_end, tz),
            "period_start": when.utc(usage.period_start),
            "period_end": when.utc(usage.period_end),
            "total_bytes": usage.total,
            "quota_left_bytes": left.total,
        })
        shown.update(period_start=None, period_end=None, total_bytes=usage_size(usage.total),
                     quota_left_bytes=None if left.total is None else
                     (usage_size(left.total) if left.total >= 0 else f"-{usage_size(-left.total)} (over)"))
    data = {
        "username": args.username,
        "tenant": tenant.name,
        "at": when.utc(now),
        "login_mac": mac,
        "login_mac_from": mac_source,
        "decision": decision.outcome.value,
        "reason": decision.reason.value,
        "message": decision.message,
        "walled_garden": decision.walled_garden,
        "reply": [{"attribute": a, "value": v} for a, v in decision.reply],
        "facts": facts,
        "recent_logins": [{"at": when.utc(r.at), "outcome": r.outcome, "reason": r.reason,
                           "method": r.auth_method, "mac": r.calling_station_id} for r in recent],
        "note": "the password itself is checked by radiusd (pap/chap/mschap) after this decision",
    }
    lines = [f"{args.username} ({tenant.name}) at {when.local(now, tz, seconds=True)}: "
             f"{decision.outcome.value.upper()} ({decision.reason.value}: {decision.message})"]
    lines.append(_assumption(mac, mac_source, sub is not None, bool(live)))
    for k, v in facts.items():
        v = shown.get(k, v)
        if k in shown and v is None:
            continue  # a fact a person reads elsewhere on the screen (the named period), or that is unset
        lines.append(f"  {k:<16} {v}")
    lines.append("  reply:" if decision.reply else "  reply: (none)")
    lines += [f"    {a} = {v}" for a, v in decision.reply]
    if recent:
        lines.append("  recent logins:")
        lines += [f"    {when.local(r.at, tz, seconds=True)} {r.outcome} {r.reason} {r.auth_method or ''} "
                  f"{r.calling_station_id or ''}".rstrip() for r in recent]
    lines.append("  (the password is checked after this decision: a wrong one shows as wrong_password above)")
    ctx.emit(data, lines)


def register(sub: Subparsers) -> None:
    p = leaf(sub, "explain", "what authorize would decide for USERNAME right now, and why", explain)
    p.add_argument("username", type=username_arg, metavar="USERNAME")
    tenant_opt(p)
    p.add_argument("--mac", type=mac_arg,
                   help="evaluate a login from this MAC (default: the bound MAC, else his live session's)")
    p.add_argument("--at", metavar="TIME",
                   help="evaluate at this ISO 8601 time instead of now; without an offset it is tenant time "
                        "(2026-12-31T23:59)")
