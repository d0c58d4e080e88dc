"""decide_access over every status × expiry × MAC binding × walled garden combination, plus properties."""

from __future__ import annotations

import itertools
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone

import pytest
from hypothesis import given
from hypothesis import strategies as st

from rlm_cloudos.policy import (
    Decision,
    Outcome,
    Plan,
    Reason,
    Subscriber,
    SubscriberStatus,
    Tenant,
    WalledGarden,
    decide_access,
    interim_interval,
)
from rlm_cloudos.policy.access import MAX_SESSION_TIMEOUT
from rlm_cloudos.policy.types import REPLY_MESSAGES

UTC = timezone.utc
NOW = datetime(2026, 11, 15, 12, 0, 0, tzinfo=UTC)
GARDEN = WalledGarden(address_list="cloudos-expired", rate_limit="256k/256k")
BOUND_MAC = "AA:BB:CC:DD:EE:FF"
OTHER_MAC = "11:22:33:44:55:66"

EXPIRIES: dict[str, datetime | None] = {
    "no-expiry": None,
    "future": NOW + timedelta(days=15, seconds=7),
    "past": NOW - timedelta(seconds=1),
}
# (bound MAC on the subscriber, Calling-Station-Id in the request)
MACS: dict[str, tuple[str | None, str | None]] = {
    "unbound": (None, OTHER_MAC),
    "bound-match": (BOUND_MAC, BOUND_MAC),
    "bound-other": (BOUND_MAC, OTHER_MAC),
    "bound-no-mac": (BOUND_MAC, None),
}
GARDENS: dict[str, WalledGarden | None] = {"no-garden": None, "garden": GARDEN}


@dataclass(frozen=True)
class Shape:
    """A plan and the subscriber's static IP: decides which optional reply attributes appear."""

    plan: Plan
    static_ip: str | None


SHAPES: dict[str, Shape] = {
    "bare": Shape(Plan(id=1, name="basic", rate_limit="1M/4M"), None),
    "pool-and-list": Shape(
        Plan(id=2, name="home", rate_limit="2M/8M", address_list="home-users", ip_pool="pool-home"), None
    ),
    "static-ip": Shape(
        Plan(id=3, name="biz", rate_limit="4M/16M 8M/32M 3M/12M 10/10", address_list="biz", ip_pool="pool-biz"),
        "100.64.0.7",
    ),
}


def tenant(garden: WalledGarden | None, interim: int = 300) -> Tenant:
    return Tenant(id=7, slug="isp1", walled_garden=garden, interim_interval=interim)


def subscriber(
    status: SubscriberStatus,
    plan: Plan | None,
    expires_at: datetime | None = None,
    mac: str | None = None,
    static_ip: str | None = None,
    sub_id: int = 4242,
) -> Subscriber:
    return Subscriber(
        id=sub_id, username="ali", status=status, plan=plan, expires_at=expires_at, mac=mac, static_ip=static_ip
    )


def reject_of(reason: Reason) -> tuple[Outcome, Reason, list[tuple[str, str]]]:
    return Outcome.REJECT, reason, [("Reply-Message", REPLY_MESSAGES[reason])]


def expected_decision(
    t: Tenant, sub: Subscriber, calling: str | None, now: datetime
) -> tuple[Outcome, Reason, list[tuple[str, str]]]:
    """The documented order: terminated, no plan, suspended, expired, MAC binding.

    Suspended or expired go to the walled garden when the tenant has one (and are
    rejected for that reason when it has none); a MAC mismatch rejects even those
    who would have been let into the walled garden.
    """
    interim = ("Acct-Interim-Interval", str(interim_interval(t.interim_interval, sub.id)))
    if sub.status is SubscriberStatus.TERMINATED:
        return reject_of(Reason.TERMINATED)
    if sub.plan is None:
        return reject_of(Reason.NO_PLAN)
    lapse = None
    if sub.status is SubscriberStatus.SUSPENDED:
        lapse = Reason.SUSPENDED
    elif sub.expires_at is not None and now >= sub.expires_at:
        lapse = Reason.EXPIRED
    if lapse is not None and t.walled_garden is None:
        return reject_of(lapse)
    if sub.mac is not None and calling != sub.mac:
        return reject_of(Reason.MAC_MISMATCH)
    if lapse is not None:
        assert t.walled_garden is not None
        return Outcome.ACCEPT, lapse, sorted(
            [
                ("Mikrotik-Rate-Limit", t.walled_garden.rate_limit),
                ("Mikrotik-Address-List", t.walled_garden.address_list),
                interim,
            ]
        )
    plan = sub.plan
    reply = [("Mikrotik-Rate-Limit", plan.rate_limit)]
    if plan.address_list:
        reply.append(("Mikrotik-Address-List", plan.address_list))
    if sub.static_ip:
        reply.append(("Framed-IP-Address", sub.static_ip))
    elif plan.ip_pool:
        reply.append(("Framed-Pool", plan.ip_pool))
    if sub.expires_at is not None:
        reply.append(("Session-Timeout", str(int((sub.expires_at - now).total_seconds()))))
    reply.append(interim)
    return Outcome.ACCEPT, Reason.OK, sorted(reply)


def assert_decision(decision: Decision, expected: tuple[Outcome, Reason, list[tuple[str, str]]]) -> None:
    outcome, reason, reply = expected
    assert decision.outcome is outcome
    assert decision.reason is reason
    assert sorted(decision.reply) == reply
    assert decision.walled_garden == (outcome is Outcome.ACCEPT and reason is not Reason.OK)


def _lapsed_without_garden_and_wrong_mac(status: SubscriberStatus, expiry: str, mac: str, garden: str) -> bool:
    lapsed = status is SubscriberStatus.SUSPENDED or (status is SubscriberStatus.ACTIVE and expiry == "past")
    return lapsed and garden == "no-garden" and mac in ("bound-other", "bound-no-mac")


COMBINATIONS = [
    pytest.param(status, expiry, mac, garden, shape, id=f"{status.value}-{expiry}-{mac}-{garden}-{shape}")
    for status, expiry, mac, garden, shape in itertools.product(SubscriberStatus, EXPIRIES, MACS, GARDENS, SHAPES)
    if not _lapsed_without_garden_and_wrong_mac(status, expiry, mac, garden)
]


@pytest.mark.parametrize(("status", "expiry", "mac", "garden", "shape"), COMBINATIONS)
def test_every_combination_follows_the_documented_order(
    status: SubscriberStatus, expiry: str, mac: str, garden: str, shape: str
) -> None:
    bound, calling = MACS[mac]
    t = tenant(GARDENS[garden])
    sub = subscriber(status, SHAPES[shape].plan, EXPIRIES[expiry], bound, SHAPES[shape].static_ip)
    assert_decision(decide_access(t, sub, calling, NOW), expected_decision(t, sub, calling, NOW))


LAPSED_WRONG_MAC = [
    pytest.param(status, expiry, mac, id=f"{status.value}-{expiry}-{mac}")
    for status, expiry, mac in itertools.product(SubscriberStatus, EXPIRIES, MACS)
    if _lapsed_without_garden_and_wrong_mac(status, expiry, mac, "no-garden")
]


@pytest.mark.parametrize(("status", "expiry", "mac"), LAPSED_WRONG_MAC)
def test_lapse_is_reported_before_mac_mismatch_when_there_is_no_walled_garden(
    status: SubscriberStatus, expiry: str, mac: str
) -> None:
    # Without a walled garden the lapse is the reason the NOC needs to see, whatever
    # the MAC: suspended/expired comes before the MAC binding (decide_access's order).
    bound, calling = MACS[mac]
    t = tenant(None)
    sub = subscriber(status, SHAPES["bare"].plan, EXPIRIES[expiry], bound)
    decision = decide_access(t, sub, calling, NOW)
    lapse = Reason.SUSPENDED if status is SubscriberStatus.SUSPENDED else Reason.EXPIRED
    assert_decision(decision, reject_of(lapse))


def test_table_covers_every_combination() -> None:
    # The lapsed-without-garden-and-wrong-MAC cases are tested once, on the bare plan.
    assert len(LAPSED_WRONG_MAC) == 8
    assert len(COMBINATIONS) + len(LAPSED_WRONG_MAC) * len(SHAPES) == 3 * 3 * 4 * 2 * 3


# ------------------------------------------------------------------- the short-circuits


@pytest.mark.parametrize("garden", [None, GARDEN], ids=["no-garden", "garden"])
def test_unknown_user(garden: WalledGarden | None) -> None:
    decision = decide_access(tenant(garden), None, BOUND_MAC, NOW)
    assert_decision(decision, reject_of(Reason.UNKNOWN_USER))
    assert decision.message == "unknown user"


@pytest.mark.parametrize("status", list(SubscriberStatus))
@pytest.mark.parametrize("garden", [None, GARDEN], ids=["no-garden", "garden"])
def test_no_plan(status: SubscriberStatus, garden: WalledGarden | None) -> None:
    sub = subscriber(status, None, EXPIRIES["past"], BOUND_MAC)
    decision = decide_access(tenant(garden), sub, OTHER_MAC, NOW)
    expected = Reason.TERMINATED if status is SubscriberStatus.TERMINATED else Reason.NO_PLAN
    assert_decision(decision, reject_of(expected))


def test_terminated_is_never_let_into_the_walled_garden() -> None:
    sub = subscriber(SubscriberStatus.TERMINATED, SHAPES["bare"].plan, EXPIRIES["past"])
    decision = decide_access(tenant(GARDEN), sub, None, NOW)
    assert (decision.outcome, decision.reason) == (Outcome.REJECT, Reason.TERMINATED)


def test_walled_garden_message_names_the_lapse() -> None:
    sub = subscriber(SubscriberStatus.ACTIVE, SHAPES["bare"].plan, EXPIRIES["past"])
    decision = decide_access(tenant(GARDEN), sub, None, NOW)
    assert decision.accepted and decision.walled_garden
    assert decision.message == "walled garden: plan expired"


def test_plain_accept_message() -> None:
    decision = decide_access(tenant(None), subscriber(SubscriberStatus.ACTIVE, SHAPES["bare"].plan), None, NOW)
    assert decision.accepted and not decision.walled_garden
    assert decision.message == "accepted"


def test_mac_comparison_expects_the_normalised_upper_case_form() -> None:
    # radattrs normalises Calling-Station-Id to upper case; the policy compares exactly.
    sub = subscriber(SubscriberStatus.ACTIVE, SHAPES["bare"].plan, mac=BOUND_MAC)
    assert decide_access(tenant(None), sub, BOUND_MAC, NOW).accepted
    assert decide_access(tenant(None), sub, BOUND_MAC.lower(), NOW).reason is Reason.MAC_MISMATCH


def test_acct_interim_interval_uses_the_tenant_base() -> None:
    t = tenant(None, interim=600)
    sub = subscriber(SubscriberStatus.ACTIVE, SHAPES["bare"].plan, sub_id=99)
    reply = dict(decide_access(t, sub, None, NOW).reply)
    assert reply["Acct-Interim-Interval"] == str(interim_interval(600, 99))
    assert 600 <= int(reply["Acct-Interim-Interval"]) <= 660


# ------------------------------------------------------------------------- properties

aware_datetimes = st.datetimes(
    min_value=datetime(2000, 1, 1), max_value=datetime(2100, 1, 1), timezones=st.timezones()
)
mac_text = st.one_of(st.none(), st.just(BOUND_MAC), st.text(max_size=40))
plans = st.one_of(
    st.none(),
    st.builds(
        Plan,
        id=st.integers(1, 10**6),
        name=st.text(min_size=1, max_size=20),
        rate_limit=st.sampled_from(["2M/8M", "512k/2M", "10M"]),
        address_list=st.one_of(st.none(), st.text(max_size=20)),
        ip_pool=st.one_of(st.none(), st.text(max_size=20)),
    ),
)
subscribers = st.one_of(
    st.none(),
    st.builds(
        Subscriber,
        id=st.integers(1, 2**63 - 1),
        username=st.text(min_size=1, max_size=30),
        status=st.sampled_from(SubscriberStatus),
        plan=plans,
        expires_at=st.one_of(st.none(), aware_datetimes),
        mac=mac_text,
        static_ip=st.one_of(st.none(), st.just("100.64.0.9")),
    ),
)
tenants = st.builds(
    Tenant,
    id=st.integers(1, 10**6),
    slug=st.just("isp1"),
    walled_garden=st.one_of(st.none(), st.just(GARDEN)),
    interim_interval=st.integers(1, 86400),
)


@given(tenants, subscribers, mac_text, aware_datetimes)
def test_decide_access_is_total_and_its_replies_are_well_formed(
    t: Tenant, sub: Subscriber | None, calling: str | None, now: datetime
) -> None:
    decision = decide_access(t, sub, calling, now)  # never raises
    assert isinstance(decision.reason, Reason)
    messages = [v for a, v in decision.reply if a == "Reply-Message"]
    if decision.outcome is Outcome.REJECT:
        assert messages == [REPLY_MESSAGES[decision.reason]]
        assert len(decision.reply) == 1
        return
    assert messages == []
    assert sub is not None and sub.plan is not None
    assert sub.status is not SubscriberStatus.TERMINATED
    assert sub.mac is None or calling == sub.mac
    lapsed = sub.status is SubscriberStatus.SUSPENDED or (sub.expires_at is not None and now >= sub.expires_at)
    # An expired or suspended subscriber is only ever accepted into the walled garden.
    assert decision.walled_garden == lapsed
    if lapsed:
        assert t.walled_garden is not None
    timeouts = [int(v) for a, v in decision.reply if a == "Session-Timeout"]
    assert len(timeouts) <= 1
    for timeout in timeouts:
        assert 0 <= timeout <= MAX_SESSION_TIMEOUT
        assert sub.expires_at is not None
        assert timeout <= (sub.expires_at - now).total_seconds() + 1
    if not timeouts and not lapsed and sub.expires_at is not None:
        # Left out only when the expiry is beyond the largest timeout we send.
        assert (sub.expires_at - now).total_seconds() >= MAX_SESSION_TIMEOUT - 1
    interim = [int(v) for a, v in decision.reply if a == "Acct-Interim-Interval"]
    assert interim == [interim_interval(t.interim_interval, sub.id)]


@given(st.integers(1, 7 * 86400), st.integers(0, 2**63 - 1))
def test_interim_interval_jitter_stays_within_ten_percent(base: int, sub_id: int) -> None:
    value = interim_interval(base, sub_id)
    assert base <= value <= base + base // 10
    assert interim_interval(base, sub_id) == value  # deterministic per subscriber


def test_interim_interval_actually_spreads_subscribers() -> None:
    values = {interim_interval(300, sub_id) for sub_id in range(1, 2001)}
    assert min(values) >= 300 and max(values) <= 330
    assert len(values) >= 20  # a mass reconnect is spread over most of the 30 s window
