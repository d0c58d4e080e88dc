"""Rows of the AUTHORIZE / EXPLAIN statements → frozen policy values."""

from __future__ import annotations

import base64
from collections.abc import Sequence
from dataclasses import dataclass, fields, is_dataclass
from datetime import datetime
from typing import Any, cast

from rlm_cloudos.policy.sessions import LiveSession
from rlm_cloudos.policy.types import Plan, Subscriber, SubscriberStatus, Tenant, Usage, WalledGarden
from rlm_cloudos.store.sql import AccessRow


@dataclass(frozen=True, slots=True)
class AccessContext:
    """What authorize read: the NAS and tenant, the subscriber (None if unknown) with its
    sealed password, this period's usage (None for an unknown subscriber or one without a
    plan) and its sessions without a Stop, stale ones included (policy.decide_access
    counts those that are live for the request at hand)."""

    nas_id: int | None
    nas_name: str | None
    tenant: Tenant
    subscriber: Subscriber | None
    password_enc: bytes | None
    usage: Usage | None = None
    sessions: tuple[LiveSession, ...] = ()


def access_context(values: Sequence[Any], username: str) -> AccessContext:
    """An AUTHORIZE/EXPLAIN row (store.sql.AccessRow's columns, in its order) as policy values."""
    r = AccessRow._make(values)
    tenant = Tenant(
        id=r.tenant_id,
        slug=r.tenant_name,
        timezone=r.timezone,
        interim_interval=r.interim_interval,
        walled_garden=(WalledGarden(r.walled_garden_address_list, r.walled_garden_rate_limit)
                       if r.walled_garden_address_list and r.walled_garden_rate_limit else None),
        backend_down_policy=r.backend_down_policy,
        backend_down_cache_seconds=r.backend_down_cache_seconds,
        login_fail_limit=r.login_fail_limit,
        login_fail_window_seconds=r.login_fail_window_seconds,
        login_lockout_seconds=r.login_lockout_seconds,
    )
    sub = None
    usage = None
    sessions = tuple(LiveSession(uid, nas or 0, float(ts), m) for uid, nas, ts, m in r.open_sessions or ())
    if r.subscriber_id is not None:
        plan = None
        if r.plan_id is not None:
            plan = Plan(
                id=r.plan_id,
                name=r.plan_name,  # type: ignore[arg-type]  # set with plan_id
                rate_limit=r.rate_limit,  # type: ignore[arg-type]
                quota_bytes=r.quota_bytes,
                fup_rate_limit=r.fup_rate_limit,
                period=r.period,  # type: ignore[arg-type]
                simultaneous_use=r.simultaneous_use,  # type: ignore[arg-type]
                address_list=r.address_list,
                ip_pool=r.ip_pool,
                quota_download_bytes=r.quota_download_bytes,
                quota_upload_bytes=r.quota_upload_bytes,
                time_quota_seconds=r.time_quota_seconds,
            )
        sub = Subscriber(
            id=r.subscriber_id,
            username=username,
            status=SubscriberStatus(cast(str, r.status)),  # NOT NULL: set with subscriber_id
            plan=plan,
            expires_at=r.expires_at,
            mac=r.mac,
            static_ip=r.static_ip,
            locked_until=r.locked_until,
        )
        if r.period_start is not None and r.period_end is not None:
            usage = Usage(r.period_start, r.period_end, r.input_octets or 0, r.output_octets or 0,
                          r.session_time or 0)
    password = bytes(r.password_enc) if r.password_enc is not None else None
    return AccessContext(r.nas_id, r.nas_name, tenant, sub, password, usage, sessions)


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
    flat: dict[str, Any] = _flat(ctx)
    return flat


def decode_context(data: dict[str, Any]) -> AccessContext:
    """The inverse of encode_context; raises KeyError/TypeError/ValueError on a malformed body."""
    def build(cls: type, d: dict[str, Any] | None) -> Any:
        if d is None:
            return None
        # Only the fields this version has: a snapshot written by a radiusd of another
        # version (Usage once carried "online") still reads.
        names = {f.name for f in fields(cls)}
        return cls(**{k: _restore(v) for k, v in d.items() if k in names})

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
