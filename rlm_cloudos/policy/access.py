"""decide_access: the one authorize decision, shared by radiusd and `cloudos explain`."""

from __future__ import annotations

import zlib
from datetime import datetime

from rlm_cloudos.policy.expiry import seconds_left
from rlm_cloudos.policy.types import (
    REPLY_MESSAGES,
    Decision,
    Outcome,
    Plan,
    Reason,
    Subscriber,
    SubscriberStatus,
    Tenant,
)

#: Largest Session-Timeout we send; RouterOS takes a 32-bit value, a year is plenty.
MAX_SESSION_TIMEOUT = 366 * 86400


def interim_interval(base: int, subscriber_id: int) -> int:
    """``base`` seconds plus a per-subscriber jitter of up to 10 %, so a mass reconnect
    after an outage does not synchronise every NAS's interim timers."""
    spread = max(1, base // 10)
    return base + zlib.crc32(subscriber_id.to_bytes(8, "big")) % spread


def reject(reason: Reason) -> Decision:
    return Decision(Outcome.REJECT, reason, (("Reply-Message", REPLY_MESSAGES[reason]),))


def decide_access(
    tenant: Tenant,
    sub: Subscriber | None,
    calling_station_id: str | None,
    now: datetime,
) -> Decision:
    """Accept or reject ``sub`` logging in from ``calling_station_id`` (an upper-case MAC or None) at ``now``.

    Order: unknown user, terminated, no plan, suspended, expired, MAC binding. A
    suspended or expired subscriber gets the tenant's walled garden when it has one,
    and then only from the bound MAC (a MAC mismatch rejects before the garden).
    ``now`` must be timezone-aware.
    """
    if sub is None:
        return reject(Reason.UNKNOWN_USER)
    if sub.status is SubscriberStatus.TERMINATED:
        return reject(Reason.TERMINATED)
    plan = sub.plan
    if plan is None:
        return reject(Reason.NO_PLAN)

    lapse: Reason | None = None
    if sub.status is SubscriberStatus.SUSPENDED:
        lapse = Reason.SUSPENDED
    elif sub.expires_at is not None and now >= sub.expires_at:
        lapse = Reason.EXPIRED

    if lapse is not None and tenant.walled_garden is None:
        return reject(lapse)
    # Checked before the walled garden: the garden admits the bound device only.
    if sub.mac is not None and calling_station_id != sub.mac:
        return reject(Reason.MAC_MISMATCH)

    if lapse is not None:
        garden = tenant.walled_garden
        assert garden is not None
        return Decision(
            Outcome.ACCEPT,
            lapse,
            (
                ("Mikrotik-Rate-Limit", garden.rate_limit),
                ("Mikrotik-Address-List", garden.address_list),
                ("Acct-Interim-Interval", str(interim_interval(tenant.interim_interval, sub.id))),
            ),
            walled_garden=True,
        )
    return Decision(Outcome.ACCEPT, Reason.OK, accept_reply(tenant, sub, plan, now))


def accept_reply(tenant: Tenant, sub: Subscriber, plan: Plan, now: datetime) -> tuple[tuple[str, str], ...]:
    """The MikroTik reply attributes for an accepted subscriber on ``plan``."""
    reply: list[tuple[str, str]] = [("Mikrotik-Rate-Limit", plan.rate_limit)]
    if plan.address_list:
        reply.append(("Mikrotik-Address-List", plan.address_list))
    if sub.static_ip:
        reply.append(("Framed-IP-Address", sub.static_ip))
    elif plan.ip_pool:
        reply.append(("Framed-Pool", plan.ip_pool))
    timeout = MAX_SESSION_TIMEOUT
    if sub.expires_at is not None:
        timeout = min(timeout, seconds_left(sub.expires_at, now))
    if timeout < MAX_SESSION_TIMEOUT:
        reply.append(("Session-Timeout", str(timeout)))
    reply.append(("Acct-Interim-Interval", str(interim_interval(tenant.interim_interval, sub.id))))
    return tuple(reply)
