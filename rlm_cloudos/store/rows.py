"""Rows of the AUTHORIZE / EXPLAIN statements → frozen policy values."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from rlm_cloudos.policy.types import Plan, Subscriber, SubscriberStatus, Tenant, Usage, WalledGarden


@dataclass(frozen=True, slots=True)
class AccessContext:
    """What authorize read: the NAS and tenant, the subscriber (None if unknown) with its
    sealed password, and this period's usage (None for an unknown subscriber)."""

    nas_id: int | None
    nas_name: str | None
    tenant: Tenant
    subscriber: Subscriber | None
    password_enc: bytes | None
    usage: Usage | None = None


def access_context(row: tuple[Any, ...], username: str) -> AccessContext:
    (nas_id, nas_name, tenant_id, tenant_name, tz, interim, wg_list, wg_rate,
     sub_id, password_enc, status, expires_at, mac, static_ip,
     plan_id, plan_name, rate_limit, quota, fup, period, simul, address_list, ip_pool,
     quota_down, quota_up, time_quota,
     period_start, period_end, used_in, used_out, used_time, online) = row
    tenant = Tenant(
        id=tenant_id,
        slug=tenant_name,
        timezone=tz,
        interim_interval=interim,
        walled_garden=WalledGarden(wg_list, wg_rate) if wg_list and wg_rate else None,
    )
    sub = None
    usage = None
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
            mac=mac,
            static_ip=static_ip,
        )
        if period_start is not None:
            usage = Usage(period_start, period_end, used_in or 0, used_out or 0, used_time or 0, online or 0)
    return AccessContext(nas_id, nas_name, tenant, sub, bytes(password_enc) if password_enc is not None else None,
                         usage)
