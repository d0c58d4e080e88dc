"""The frozen values the policy reads and the Decision it returns."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum


class Outcome(StrEnum):
    ACCEPT = "accept"
    REJECT = "reject"


class Reason(StrEnum):
    """Why a request was decided as it was; stable strings for logs, the auth log and `cloudos explain`."""

    OK = "ok"
    UNKNOWN_USER = "unknown_user"
    WRONG_PASSWORD = "wrong_password"
    SUSPENDED = "suspended"
    EXPIRED = "expired"
    MAC_MISMATCH = "mac_mismatch"
    TERMINATED = "terminated"
    NO_PLAN = "no_plan"
    UNKNOWN_NAS = "unknown_nas"
    BAD_REQUEST = "bad_request"
    BACKEND_UNAVAILABLE = "backend_unavailable"
    INTERNAL_ERROR = "internal_error"
    QUOTA_EXHAUSTED = "quota_exhausted"
    ALREADY_ONLINE = "already_online"
    THROTTLED = "throttled"


#: What the NAS shows the subscriber (RouterOS logs Reply-Message) for each reject.
REPLY_MESSAGES: dict[Reason, str] = {
    Reason.UNKNOWN_USER: "unknown user",
    Reason.WRONG_PASSWORD: "wrong password",
    Reason.SUSPENDED: "account suspended",
    Reason.EXPIRED: "plan expired",
    Reason.MAC_MISMATCH: "MAC address mismatch",
    Reason.TERMINATED: "account terminated",
    Reason.NO_PLAN: "no plan assigned",
    Reason.UNKNOWN_NAS: "unknown NAS",
    Reason.BAD_REQUEST: "malformed request",
    Reason.BACKEND_UNAVAILABLE: "service temporarily unavailable",
    Reason.INTERNAL_ERROR: "service temporarily unavailable",
    Reason.QUOTA_EXHAUSTED: "quota exhausted",
    Reason.ALREADY_ONLINE: "already online",
    Reason.THROTTLED: "too many failed logins, try again later",
}


class SubscriberStatus(StrEnum):
    ACTIVE = "active"
    SUSPENDED = "suspended"
    TERMINATED = "terminated"


@dataclass(frozen=True, slots=True)
class WalledGarden:
    """Accept expired or suspended subscribers into a captive address list at a low rate."""

    address_list: str
    rate_limit: str


@dataclass(frozen=True, slots=True)
class Tenant:
    id: int
    slug: str
    timezone: str = "Asia/Karachi"
    walled_garden: WalledGarden | None = None
    interim_interval: int = 300
    #: When PostgreSQL is unreachable: "reject", or "cached" (a Redis snapshot no older than the bound).
    backend_down_policy: str = "reject"
    backend_down_cache_seconds: int = 900
    login_fail_limit: int = 5
    login_fail_window_seconds: int = 300
    login_lockout_seconds: int = 900


@dataclass(frozen=True, slots=True)
class Plan:
    id: int
    name: str
    rate_limit: str
    quota_bytes: int | None = None
    fup_rate_limit: str | None = None
    quota_download_bytes: int | None = None
    quota_upload_bytes: int | None = None
    time_quota_seconds: int | None = None
    period: str = "monthly"
    simultaneous_use: int = 1
    address_list: str | None = None
    ip_pool: str | None = None
    price: str | None = None


@dataclass(frozen=True, slots=True)
class Subscriber:
    id: int
    username: str
    status: SubscriberStatus
    plan: Plan | None
    expires_at: datetime | None = None
    #: Upper-case colon-separated MAC the subscriber is bound to, or None.
    mac: str | None = None
    static_ip: str | None = None
    #: Refused until then after too many wrong passwords (None: not locked).
    locked_until: datetime | None = None


@dataclass(frozen=True, slots=True)
class Usage:
    """Use in the current billing period."""

    period_start: datetime
    period_end: datetime
    input_octets: int = 0  # the subscriber's upload
    output_octets: int = 0  # the subscriber's download
    session_time: int = 0

    @property
    def total(self) -> int:
        return self.input_octets + self.output_octets


@dataclass(frozen=True, slots=True)
class Decision:
    """What authorize answers: accept or reject, why, and the reply attributes."""

    outcome: Outcome
    reason: Reason
    reply: tuple[tuple[str, str], ...] = ()
    walled_garden: bool = False
    #: Accepted at the plan's FUP rate because the quota is used up.
    fup: bool = False

    @property
    def accepted(self) -> bool:
        return self.outcome is Outcome.ACCEPT

    @property
    def message(self) -> str:
        """The human sentence for this decision (Reply-Message on a reject)."""
        if self.outcome is Outcome.ACCEPT:
            if self.walled_garden:
                return "walled garden: " + REPLY_MESSAGES[self.reason]
            return "FUP rate: " + REPLY_MESSAGES[self.reason] if self.fup else "accepted"
        return REPLY_MESSAGES[self.reason]
