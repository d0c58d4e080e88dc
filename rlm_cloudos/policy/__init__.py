"""Pure decisions: no database, no clock, no radiusd. Callers pass ``now``."""

from rlm_cloudos.policy.access import decide_access, interim_interval
from rlm_cloudos.policy.expiry import end_of_day, expires_at_for_date
from rlm_cloudos.policy.period import billing_period
from rlm_cloudos.policy.rates import parse_rate_limit, parse_size, RateLimitError, SizeError
from rlm_cloudos.policy.types import (
    Decision,
    Outcome,
    Plan,
    Reason,
    Subscriber,
    SubscriberStatus,
    Tenant,
    Usage,
    WalledGarden,
)

__all__ = [
    "Decision",
    "Outcome",
    "Plan",
    "RateLimitError",
    "Reason",
    "SizeError",
    "Subscriber",
    "SubscriberStatus",
    "Tenant",
    "Usage",
    "WalledGarden",
    "billing_period",
    "decide_access",
    "end_of_day",
    "expires_at_for_date",
    "interim_interval",
    "parse_rate_limit",
    "parse_size",
]
