"""The subscriber population every configuration serves, so their answers can be compared.

Deterministic from (count, seed): the same subscribers, plans, expiries,
suspensions and usage in the stock schema and in CloudOS's. About 7 % must be
rejected: 3 % expired, 2 % suspended, 2 % over quota on a plan without FUP.
"""

from __future__ import annotations

import random
from dataclasses import dataclass
from enum import Enum

GB = 10**9


@dataclass(frozen=True)
class BenchPlan:
    name: str
    rate_limit: str  # Mikrotik-Rate-Limit (rx/tx = upload/download)
    quota_bytes: int  # monthly data quota
    fup_rate_limit: str | None


PLANS = (
    BenchPlan("home-8m", "2M/8M", 100 * GB, "512k/1M"),
    BenchPlan("home-16m", "4M/16M", 200 * GB, "1M/2M"),
    BenchPlan("capped-4m", "1M/4M", 50 * GB, None),  # over quota here means a reject
)


class Fate(Enum):
    ACCEPT = "accept"
    EXPIRED = "expired"
    SUSPENDED = "suspended"
    OVER_QUOTA = "over_quota"


@dataclass(frozen=True)
class BenchSubscriber:
    username: str
    password: str
    plan: BenchPlan
    fate: Fate
    #: Bytes used this month (all of it in session history for the stock pipeline).
    used_bytes: int

    @property
    def accepted(self) -> bool:
        return self.fate is Fate.ACCEPT


def population(count: int, seed: int = 2026) -> list[BenchSubscriber]:
    """``count`` subscribers; exactly round(3 %, 2 %, 2 %) of them expired, suspended, over quota."""
    rng = random.Random(seed)
    expired = round(count * 0.03)
    suspended = round(count * 0.02)
    over = round(count * 0.02)
    fates = [Fate.EXPIRED] * expired + [Fate.SUSPENDED] * suspended + [Fate.OVER_QUOTA] * over
    fates += [Fate.ACCEPT] * (count - len(fates))
    rng.shuffle(fates)
    subs = []
    for i, fate in enumerate(fates):
        if fate is Fate.OVER_QUOTA:
            plan = PLANS[2]
            used = plan.quota_bytes + rng.randrange(1, 10 * GB)
        else:
            plan = PLANS[i % 2] if rng.random() < 0.8 else PLANS[2]
            used = rng.randrange(0, plan.quota_bytes // 2)
        subs.append(BenchSubscriber(f"user{i:06d}", f"pw-{i:06d}-{rng.randrange(10**6):06d}", plan, fate, used))
    return subs
