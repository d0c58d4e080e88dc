"""Rows of the AUTHORIZE / EXPLAIN statements → frozen policy values."""

from __future__ import annotations

import base64
from dataclasses import dataclass, fields, is_dataclass
from datetime import datetime
from typing import Any

from rlm_cloudos.policy.sessions import LiveSession, count_online
from rlm_cloudos.policy.types import Plan, Subscriber, SubscriberStatus, Tenant, Usage, WalledGarden


@dataclass(frozen=True, slots=True)
class AccessContext:
    """What authorize read: the NAS and tenant, the subscriber (None if unknown) with its
    sealed password, this period's usage (None for an unknown subscriber or one without a
    plan) and its sessions without a Stop, stale ones included: ``usage.online`` counts
    those that are live for the request at hand."""

    nas_id: int | None
    nas_name: str | None
    tenant: Tenant
    subscriber: Subscriber | None
    password_enc: bytes | None
    usage: Usage | None = None
    sessions: tuple[LiveSession, ...] = ()


def access_context(row: tuple[Any, ...], username: str, mac: str | None, now: datetime) -> AccessContext:
    """The AUTHORIZE/EXPLAIN row as policy values, online sessions counted for a request from ``mac`` at ``now``."""
    (nas_id, nas_name, tenant_id, tenant_name, tz, interim, wg_list, wg_rate,
     down_policy, down_cache, fail_limit, fail_window, lockout,
     sub_id, password_enc, status, expires_at, bound_mac, static_ip, locked_until,
     plan_id, plan_name, rate_limit, quota, fup, period, simul, address_list, ip_pool,
     quota_down, quota_up, time_quota,
     period_start, period_end, used_in, used_out, used_time, open_sessions) = row
    tenant = Tenant(
        id=tenant_id,
        slug=tenant_name,
        timezone=tz,
        interim_interval=interim,
        walled_garden=WalledGarden(wg_list, wg_rate) if wg_list and wg_rate else None,
        backend_down_policy=down_policy,
        backend_down_cache_seconds=down_cache,
        login_fail_limit=fail_limit,
        login_fail_window_seconds=fail_window,
        login_lockout_seconds=lockout,
    )
    sub = None
    usage = None
    sessions = tuple(LiveSession(uid, nas or 0, float(ts), m) for uid, nas, ts, m in open_sessions or ())
    if sub_id is not None:
        plan = None
        if plan_id is not None:
            plan = Plan(
                id=plan_id,
                name=plan_name,
                rate_limit=rate_limit,
                quota_bytes=quota,
                fup_rate_limit=fup,
                period=period,
                simultaneous_use=simul,
                address_list=address_list,
                ip_pool=ip_pool,
                quota_download_bytes=quota_down,
                quota_upload_bytes=quota_up,
                time_quota_seconds=time_quota,
            )
        sub = Subscriber(
            id=sub_id,
            username=username,
            status=SubscriberStatus(status),
            plan=plan,
            expires_at=expires_at,
            mac=bound_mac,
            static_ip=static_ip,
            locked_until=locked_until,
        )
        if period_start is not None:
            online = count_online(sessions, mac, tenant.interim_interval, now)
            usage = Usage(period_start, period_end, used_in or 0, used_out or 0, used_time or 0, online)
    return AccessContext(nas_id, nas_name, tenant, sub, bytes(password_enc) if password_enc is not None else None,
                         usage, sessions)


# --------------------------------------------------------------------------- snapshots (Redis)
def _plain(value: Any) -> Any:
    if isinstance(value, datetime):
        return {"$t": value.isoformat()}
    if isinstance(value, bytes):
        return {"$b": base64.b64encode(value).decode()}
    if isinstance(value, SubscriberStatus):
        return value.value
    return value


def _restore(value: Any) -> Any:
    if isinstance(value, dict) and "$t" in value:
        return datetime.fromisoformat(value["$t"])
    if isinstance(value, dict) and "$b" in value:
        return base64.b64decode(value["$b"])
    return value


def _flat(obj: Any) -> Any:
    if obj is None:
        return None
    return {f.name: (_flat(getattr(obj, f.name)) if is_dataclass(getattr(obj, f.name))
                     else _plain(getattr(obj, f.name))) for f in fields(obj)}


def encode_context(ctx: AccessContext) -> dict[str, Any]:
    """A JSON-safe form of ``ctx`` (the password stays a ciphertext)."""
    return _flat(ctx)


def decode_context(data: dict[str, Any]) -> AccessContext:
    """The inverse of encode_context; raises KeyError/TypeError/ValueError on a malformed body."""
    def build(cls: type, d: dict[str, Any] | None) -> Any:
        if d is None:
            return None
        return cls(**{k: _restore(v) for k, v in d.items()})

    t = dict(data["tenant"])
    t["walled_garden"] = build(WalledGarden, t.get("walled_garden"))
    tenant = build(Tenant, t)
    sub = None
    if data.get("subscriber") is not None:
        s = dict(data["subscriber"])
        s["plan"] = build(Plan, s.get("plan"))
        s["status"] = SubscriberStatus(s["status"])
        sub = build(Subscriber, s)
    return AccessContext(
        nas_id=data["nas_id"], nas_name=data["nas_name"], tenant=tenant, subscriber=sub,
        password_enc=_restore(data["password_enc"]), usage=build(Usage, data.get("usage")),
        sessions=tuple(LiveSession(*s) for s in data.get("sessions", ())),
    )
