"""Rows of the AUTHORIZE statement → frozen policy values."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from rlm_cloudos.policy.types import Plan, Subscriber, SubscriberStatus, Tenant, WalledGarden


@dataclass(frozen=True, slots=True)
class AccessContext:
    """What authorize read: the NAS and tenant, and the subscriber (None if unknown) with its sealed password."""

    nas_id: int | None
    nas_name: str | None
    tenant: Tenant
    subscriber: Subscriber | None
    password_enc: bytes | None


def access_context(row: tuple[Any, ...], username: str) -> AccessContext:
    (nas_id, nas_name, tenant_id, tenant_name, tz, interim, wg_list, wg_rate,
     sub_id, password_enc, status, expires_at, mac, static_ip,
     plan_id, plan_name, rate_limit, quota, fup, period, simul, address_list, ip_pool) = row
    tenant = Tenant(
        id=tenant_id,
        slug=tenant_name,
        timezone=tz,
        interim_interval=interim,
        walled_garden=WalledGarden(wg_list, wg_rate) if wg_list and wg_rate else None,
    )
    sub = None
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
    return AccessContext(nas_id, nas_name, tenant, sub, bytes(password_enc) if password_enc is not None else None)
