"""decide_access: the one authorize decision, shared by radiusd and `cloudos explain`."""

from __future__ import annotations

import zlib
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime

from rlm_cloudos.policy.expiry import seconds_left
from rlm_cloudos.policy.sessions import LiveSession, count_online
from rlm_cloudos.policy.types import (
    REPLY_MESSAGES,
    Decision,
    Outcome,
    Plan,
    Reason,
    Subscriber,
    SubscriberStatus,
    Tenant,
    Usage,
)

#: Largest Session-Timeout we send; RouterOS takes a 32-bit value, a year is plenty.
MAX_SESSION_TIMEOUT = 366 * 86400
_G = 2**32


def interim_interval(base: int, subscriber_id: int) -> int:
    """``base`` seconds plus a per-subscriber jitter of up to 10 %, so a mass reconnect
    after an outage does not synchronise every NAS's interim timers."""
    spread = max(1, base // 10)
    return base + zlib.crc32(subscriber_id.to_bytes(8, "big")) % spread


def online_sessions(tenant: Tenant, sessions: Sequence[LiveSession], calling_station_id: str | None,
                    now: datetime) -> int:
    """How many of ``sessions`` count against simultaneous use for a login from ``calling_station_id``."""
    return count_online(sessions, calling_station_id, tenant.interim_interval, now)


def reject(reason: Reason) -> Decision:
    return Decision(Outcome.REJECT, reason, (("Reply-Message", REPLY_MESSAGES[reason]),))


@dataclass(frozen=True, slots=True)
class Remaining:
    """What is left of each of a plan's quotas this period (None: no such quota)."""

    total: int | None
    download: int | None
    upload: int | None
    seconds: int | None

    @property
    def exhausted(self) -> bool:
        return any(v is not None and v <= 0 for v in (self.total, self.download, self.upload, self.seconds))

    @property
    def limited(self) -> bool:
        return any(v is not None for v in (self.total, self.download, self.upload, self.seconds))


def remaining(plan: Plan, usage: Usage | None) -> Remaining:
    """The plan's quotas minus this period's use (no usage row yet means nothing used)."""
    u_in = usage.input_octets if usage else 0
    u_out = usage.output_octets if usage else 0
    u_time = usage.session_time if usage else 0

    def left(quota: int | None, used: int) -> int | None:
        return None if quota is None else quota - used

    return Remaining(
        total=left(plan.quota_bytes, u_in + u_out),
        download=left(plan.quota_download_bytes, u_out),
        upload=left(plan.quota_upload_bytes, u_in),
        seconds=left(plan.time_quota_seconds, u_time),
    )


def decide_access(
    tenant: Tenant,
    sub: Subscriber | None,
    calling_station_id: str | None,
    now: datetime,
    usage: Usage | None = None,
    sessions: Sequence[LiveSession] = (),
) -> Decision:
    """Accept or reject ``sub`` logging in from ``calling_station_id`` (an upper-case MAC or None) at ``now``.

    Order: unknown user, terminated, locked out (too many wrong passwords, until
    ``locked_until``), no plan, suspended, expired, MAC binding, simultaneous use,
    quota. A suspended or expired subscriber gets the tenant's walled garden when it
    has one, and then only from the bound MAC. Over quota, the plan's FUP rate
    applies, or a reject when the plan has none. ``now`` must be timezone-aware;
    ``usage`` is this period's use (None: nothing used); ``sessions`` are the
    subscriber's sessions without a Stop, stale ones included: those live at ``now``
    count as online, except one from ``calling_station_id`` (a redial).
    """
    if sub is None:
        return reject(Reason.UNKNOWN_USER)
    if sub.status is SubscriberStatus.TERMINATED:
        return reject(Reason.TERMINATED)
    if sub.locked_until is not None and now < sub.locked_until:
        return reject(Reason.THROTTLED)
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
    if sessions and online_sessions(tenant, sessions, calling_station_id, now) >= plan.simultaneous_use:
        return reject(Reason.ALREADY_ONLINE)

    interim = ("Acct-Interim-Interval", str(interim_interval(tenant.interim_interval, sub.id)))
    if lapse is not None:
        garden = tenant.walled_garden
        assert garden is not None
        return Decision(
            Outcome.ACCEPT,
            lapse,
            (("Mikrotik-Rate-Limit", garden.rate_limit), ("Mikrotik-Address-List", garden.address_list), interim),
            walled_garden=True,
        )

    left = remaining(plan, usage)
    if left.exhausted:
        if plan.fup_rate_limit is None:
            return reject(Reason.QUOTA_EXHAUSTED)
        return Decision(Outcome.ACCEPT, Reason.QUOTA_EXHAUSTED,
                        accept_reply(sub, plan, plan.fup_rate_limit, None, usage, now) + (interim,), fup=True)
    return Decision(Outcome.ACCEPT, Reason.OK, accept_reply(sub, plan, plan.rate_limit, left, usage, now) + (interim,))


def _octets(name: str, n: int) -> list[tuple[str, str]]:
    """A byte limit as RouterOS wants it: the low 32 bits, and Gigawords when over 4 GiB."""
    out = [(name, str(n % _G))]
    if n >= _G:
        out.append((name + "-Gigawords", str(n // _G)))
    return out


def accept_reply(sub: Subscriber, plan: Plan, rate: str, left: Remaining | None, usage: Usage | None,
                 now: datetime) -> tuple[tuple[str, str], ...]:
    """The MikroTik reply attributes for an accepted subscriber on ``plan`` at ``rate``.

    With quota left, the NAS is told what remains (Mikrotik-Total/Xmit/Recv-Limit,
    rx = Recv = the subscriber's upload) so it stops at the limit by itself.
    """
    reply: list[tuple[str, str]] = [("Mikrotik-Rate-Limit", rate)]
    if plan.address_list:
        reply.append(("Mikrotik-Address-List", plan.address_list))
    if sub.static_ip:
        reply.append(("Framed-IP-Address", sub.static_ip))
    elif plan.ip_pool:
        reply.append(("Framed-Pool", plan.ip_pool))
    if left is not None:
        if left.total is not None:
            reply += _octets("Mikrotik-Total-Limit", left.total)
        if left.download is not None:
            reply += _octets("Mikrotik-Xmit-Limit", left.download)
        if left.upload is not None:
            reply += _octets("Mikrotik-Recv-Limit", left.upload)
    timeout = MAX_SESSION_TIMEOUT
    if sub.expires_at is not None:
        timeout = min(timeout, seconds_left(sub.expires_at, now))
    if left is not None and left.seconds is not None:
        timeout = min(timeout, left.seconds)
    quota_plan = any(q is not None for q in (plan.quota_bytes, plan.quota_download_bytes, plan.quota_upload_bytes,
                                              plan.time_quota_seconds))
    if quota_plan and usage is not None:
        # Quotas reset with the period: re-authorize then, at full speed with fresh limits.
        timeout = min(timeout, seconds_left(usage.period_end, now))
    if timeout < MAX_SESSION_TIMEOUT:
        reply.append(("Session-Timeout", str(timeout)))
    return tuple(reply)
