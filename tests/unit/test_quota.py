"""decide_access with this period's Usage: byte and time quotas, FUP, simultaneous use, precedence."""

from __future__ import annotations

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
    Usage,
    WalledGarden,
    decide_access,
)
from rlm_cloudos.policy.access import remaining
from rlm_cloudos.policy.sessions import LiveSession

UTC = timezone.utc
G = 2**32
GB = 10**9
NOW = datetime(2026, 11, 15, 12, 0, 0, tzinfo=UTC)
# November 2026 in Asia/Karachi (UTC+5): the period NOW falls in.
PERIOD_START = datetime(2026, 10, 31, 19, 0, tzinfo=UTC)
PERIOD_END = datetime(2026, 11, 30, 19, 0, tzinfo=UTC)
TO_PERIOD_END = 15 * 86400 + 7 * 3600
GARDEN = WalledGarden(address_list="cloudos-expired", rate_limit="128k/128k")
MAC = "AA:BB:CC:DD:EE:FF"
BYTE_LIMITS = ("Mikrotik-Total-Limit", "Mikrotik-Xmit-Limit", "Mikrotik-Recv-Limit")

TENANT = Tenant(id=7, slug="isp1")
GARDEN_TENANT = Tenant(id=7, slug="isp1", walled_garden=GARDEN)


def plan(**kw: object) -> Plan:
    return Plan(id=1, name="home", rate_limit="2M/8M", **kw)  # type: ignore[arg-type]


def sub(p: Plan, *, status: SubscriberStatus = SubscriberStatus.ACTIVE, expires_at: datetime | None = None,
        mac: str | None = None) -> Subscriber:
    return Subscriber(id=4242, username="ali", status=status, plan=p, expires_at=expires_at, mac=mac)


def usage(upload: int = 0, download: int = 0, seconds: int = 0) -> Usage:
    return Usage(PERIOD_START, PERIOD_END, input_octets=upload, output_octets=download, session_time=seconds)


def online(n: int, *, age: float = 0.0, mac: str = "") -> tuple[LiveSession, ...]:
    """``n`` sessions without a Stop, last heard of ``age`` seconds before NOW, from ``mac`` ('' = each its own)."""
    return tuple(LiveSession(f"u-{i}", 3, NOW.timestamp() - age, mac or f"02:00:00:00:00:{i:02X}")
                 for i in range(n))


def attrs(decision: Decision) -> dict[str, str]:
    names = [a for a, _ in decision.reply]
    assert len(names) == len(set(names)), decision.reply
    return dict(decision.reply)


def byte_limit(reply: dict[str, str], name: str) -> int | None:
    """The limit the NAS reads: Gigawords × 2³² + the 32-bit attribute."""
    if name not in reply:
        assert name + "-Gigawords" not in reply
        return None
    octets = int(reply[name])
    assert 0 <= octets < G
    giga = reply.get(name + "-Gigawords")
    if giga is not None:
        assert int(giga) >= 1  # sent only when it carries something
    return int(giga or 0) * G + octets


def decide(s: Subscriber, u: Usage | None, *, t: Tenant = TENANT, calling: str | None = None,
           now: datetime = NOW, sessions: tuple[LiveSession, ...] = ()) -> Decision:
    return decide_access(t, s, calling, now, u, sessions)


# ----------------------------------------------------------------------- within quota
def test_total_quota_left_below_4_gib_is_one_attribute() -> None:
    d = decide(sub(plan(quota_bytes=10 * GB)), usage(upload=3 * GB, download=4 * GB))
    assert (d.outcome, d.reason, d.fup) == (Outcome.ACCEPT, Reason.OK, False)
    reply = attrs(d)
    assert reply["Mikrotik-Rate-Limit"] == "2M/8M"
    assert reply["Mikrotik-Total-Limit"] == str(3 * GB)
    assert "Mikrotik-Total-Limit-Gigawords" not in reply
    assert "Mikrotik-Xmit-Limit" not in reply and "Mikrotik-Recv-Limit" not in reply
    assert d.message == "accepted"


def test_total_quota_left_over_4_gib_splits_into_gigawords() -> None:
    left = 10 * GB - 1 * GB - 2 * GB  # 7×10⁹ = 1 × 2³² + 2 705 032 704
    reply = attrs(decide(sub(plan(quota_bytes=10 * GB)), usage(upload=1 * GB, download=2 * GB)))
    assert reply["Mikrotik-Total-Limit-Gigawords"] == "1"
    assert reply["Mikrotik-Total-Limit"] == str(left - G) == "2705032704"


@pytest.mark.parametrize(("left", "octets", "giga"), [
    (G - 1, G - 1, None),
    (G, 0, "1"),
    (G + 1, 1, "1"),
    (3 * G + 5, 5, "3"),
], ids=["4GiB-1", "4GiB", "4GiB+1", "12GiB+5"])
def test_gigawords_boundary(left: int, octets: int, giga: str | None) -> None:
    reply = attrs(decide(sub(plan(quota_bytes=left + 100)), usage(upload=40, download=60)))
    assert reply["Mikrotik-Total-Limit"] == str(octets)
    assert reply.get("Mikrotik-Total-Limit-Gigawords") == giga


def test_download_quota_is_output_octets_and_sent_as_xmit_limit() -> None:
    # Download is what the NAS transmits to the subscriber: Acct-Output-Octets, Mikrotik-Xmit-Limit.
    reply = attrs(decide(sub(plan(quota_download_bytes=5 * GB)), usage(upload=4 * GB, download=1 * GB)))
    assert byte_limit(reply, "Mikrotik-Xmit-Limit") == 4 * GB
    assert byte_limit(reply, "Mikrotik-Recv-Limit") is None
    assert byte_limit(reply, "Mikrotik-Total-Limit") is None


def test_upload_quota_is_input_octets_and_sent_as_recv_limit() -> None:
    reply = attrs(decide(sub(plan(quota_upload_bytes=2 * GB)), usage(upload=GB // 2, download=9 * GB)))
    assert byte_limit(reply, "Mikrotik-Recv-Limit") == GB + GB // 2
    assert byte_limit(reply, "Mikrotik-Xmit-Limit") is None
    assert byte_limit(reply, "Mikrotik-Total-Limit") is None


def test_all_three_byte_quotas_at_once() -> None:
    p = plan(quota_bytes=100 * GB, quota_download_bytes=80 * GB, quota_upload_bytes=20 * GB)
    reply = attrs(decide(sub(p), usage(upload=5 * GB, download=30 * GB)))
    assert byte_limit(reply, "Mikrotik-Total-Limit") == 65 * GB
    assert byte_limit(reply, "Mikrotik-Xmit-Limit") == 50 * GB
    assert byte_limit(reply, "Mikrotik-Recv-Limit") == 15 * GB


def test_no_usage_row_yet_means_the_whole_quota() -> None:
    p = plan(quota_bytes=3 * GB, time_quota_seconds=7200)
    reply = attrs(decide(sub(p), None))
    assert byte_limit(reply, "Mikrotik-Total-Limit") == 3 * GB
    assert reply["Session-Timeout"] == "7200"  # no usage: the period end is unknown, the time quota is not
    left = remaining(p, None)
    assert (left.total, left.download, left.upload, left.seconds) == (3 * GB, None, None, 7200)
    assert left.limited and not left.exhausted
    assert not remaining(plan(), None).limited


# ----------------------------------------------------------------------- Session-Timeout
@pytest.mark.parametrize(("expires_in", "time_left", "expected"), [
    (None, None, TO_PERIOD_END),
    (3 * 86400 + 1, None, 3 * 86400 + 1),
    (3 * 86400, 3600, 3600),
    (None, TO_PERIOD_END + 10, TO_PERIOD_END),
    (20 * 86400, None, TO_PERIOD_END),
    (20 * 86400, 99, 99),
], ids=["period-end", "expiry", "time-quota", "period-end-before-time-quota", "period-end-before-expiry",
        "time-quota-first"])
def test_session_timeout_is_the_earliest_of_expiry_time_quota_and_period_end(
    expires_in: int | None, time_left: int | None, expected: int
) -> None:
    used_time = 500
    p = plan(quota_bytes=50 * GB, time_quota_seconds=None if time_left is None else time_left + used_time)
    expires_at = None if expires_in is None else NOW + timedelta(seconds=expires_in)
    reply = attrs(decide(sub(p, expires_at=expires_at), usage(download=GB, seconds=used_time)))
    assert reply["Session-Timeout"] == str(expected)


def test_time_quota_alone_also_ends_the_session_at_the_period_end() -> None:
    p = plan(time_quota_seconds=40 * 86400)
    reply = attrs(decide(sub(p), usage(seconds=86400)))
    assert reply["Session-Timeout"] == str(TO_PERIOD_END)
    assert not any(name in reply for name in BYTE_LIMITS)


def test_plan_without_quota_is_not_cut_at_the_period_end() -> None:
    reply = attrs(decide(sub(plan()), usage(download=500 * GB, seconds=10**6)))
    assert "Session-Timeout" not in reply
    assert not any(name in reply for name in BYTE_LIMITS)
    expires_at = NOW + timedelta(days=30)
    reply = attrs(decide(sub(plan(), expires_at=expires_at), usage()))
    assert reply["Session-Timeout"] == str(30 * 86400)


# ----------------------------------------------------------------------- exhausted
EXHAUSTED = {
    "total-exact": (dict(quota_bytes=10 * GB), usage(upload=4 * GB, download=6 * GB)),
    "total-over": (dict(quota_bytes=10 * GB), usage(upload=4 * GB, download=6 * GB + 1)),
    "download-exact": (dict(quota_download_bytes=5 * GB), usage(upload=GB, download=5 * GB)),
    "upload-exact": (dict(quota_upload_bytes=GB), usage(upload=GB, download=0)),
    "time-exact": (dict(time_quota_seconds=3600), usage(seconds=3600)),
    "download-only-of-three": (
        dict(quota_bytes=100 * GB, quota_download_bytes=5 * GB, quota_upload_bytes=5 * GB),
        usage(upload=GB, download=5 * GB),
    ),
}


@pytest.mark.parametrize("case", EXHAUSTED)
def test_exhausted_without_fup_is_rejected(case: str) -> None:
    quotas, u = EXHAUSTED[case]
    d = decide(sub(plan(**quotas)), u)
    assert (d.outcome, d.reason, d.fup) == (Outcome.REJECT, Reason.QUOTA_EXHAUSTED, False)
    assert d.reply == (("Reply-Message", "quota exhausted"),)


@pytest.mark.parametrize("case", EXHAUSTED)
def test_exhausted_with_fup_is_accepted_at_the_fup_rate(case: str) -> None:
    quotas, u = EXHAUSTED[case]
    d = decide(sub(plan(fup_rate_limit="256k/512k", **quotas)), u)
    assert (d.outcome, d.reason, d.fup, d.walled_garden) == (Outcome.ACCEPT, Reason.QUOTA_EXHAUSTED, True, False)
    reply = attrs(d)
    assert reply["Mikrotik-Rate-Limit"] == "256k/512k"
    assert not any(name.startswith(BYTE_LIMITS) for name in reply), reply
    # Back at full speed with fresh limits when the period resets.
    assert reply["Session-Timeout"] == str(TO_PERIOD_END)
    assert "Reply-Message" not in reply
    assert d.message == "FUP rate: quota exhausted"


def test_one_byte_before_the_quota_is_still_within_it() -> None:
    d = decide(sub(plan(quota_bytes=10 * GB, fup_rate_limit="256k/256k")), usage(upload=4 * GB, download=6 * GB - 1))
    assert (d.reason, d.fup) == (Reason.OK, False)
    reply = attrs(d)
    assert reply["Mikrotik-Rate-Limit"] == "2M/8M" and reply["Mikrotik-Total-Limit"] == "1"


def test_fup_keeps_the_plan_extras_and_the_expiry_timeout() -> None:
    p = plan(quota_bytes=GB, fup_rate_limit="256k/256k", address_list="home-users", ip_pool="pool-home")
    d = decide(sub(p, expires_at=NOW + timedelta(hours=2)), usage(download=2 * GB))
    reply = attrs(d)
    assert reply["Mikrotik-Address-List"] == "home-users" and reply["Framed-Pool"] == "pool-home"
    assert reply["Session-Timeout"] == "7200"


# ----------------------------------------------------------------------- simultaneous use
@pytest.mark.parametrize(("limit", "count", "accepted"), [
    (1, 0, True), (1, 1, False), (1, 2, False), (2, 1, True), (2, 2, False), (3, 2, True),
])
def test_simultaneous_use(limit: int, count: int, accepted: bool) -> None:
    d = decide(sub(plan(simultaneous_use=limit)), usage(), sessions=online(count))
    assert d.accepted is accepted
    if accepted:
        assert d.reason is Reason.OK
    else:
        assert d.reason is Reason.ALREADY_ONLINE
        assert d.reply == (("Reply-Message", "already online"),)


def test_already_online_is_decided_before_the_quota() -> None:
    d = decide(sub(plan(quota_bytes=GB, fup_rate_limit="256k/256k")), usage(download=2 * GB), sessions=online(1))
    assert (d.outcome, d.reason) == (Outcome.REJECT, Reason.ALREADY_ONLINE)


def test_stale_sessions_and_a_redial_from_the_same_mac_do_not_count() -> None:
    """decide_access counts online itself (policy.sessions.stale_after: 2 × 330 + 60 s at a 300 s interval)."""
    one = sub(plan(simultaneous_use=1))
    assert decide(one, usage(), sessions=online(1, age=719)).reason is Reason.ALREADY_ONLINE
    assert decide(one, usage(), sessions=online(1, age=721)).accepted  # stale: its NAS stopped reporting
    assert decide(one, usage(), sessions=online(1, mac=MAC), calling=MAC).accepted  # the redial replaces it
    assert decide(one, usage(), sessions=online(1, mac=MAC), calling="11:22:33:44:55:66").reason is (
        Reason.ALREADY_ONLINE)
    # The redial replaces one session, not all of them: a MAC shared (or spoofed) by several live
    # sessions does not make them vanish.
    two = sub(plan(simultaneous_use=2))
    assert decide(two, usage(), sessions=online(2, mac=MAC), calling=MAC).accepted
    assert decide(two, usage(), sessions=online(3, mac=MAC), calling=MAC).reason is Reason.ALREADY_ONLINE
    assert decide(one, usage(), sessions=online(5, mac=MAC), calling=MAC).reason is Reason.ALREADY_ONLINE
    slow = Tenant(id=7, slug="isp1", interim_interval=600)  # stale only after 2 × 660 + 60 s
    assert decide(one, usage(), t=slow, sessions=online(1, age=721)).reason is Reason.ALREADY_ONLINE


# ----------------------------------------------------------------------- precedence
OVER = usage(download=20 * GB)
FIVE_ONLINE = online(5)
HARD_CAP = plan(quota_bytes=10 * GB)


@pytest.mark.parametrize(("status", "expires_at", "reason"), [
    (SubscriberStatus.SUSPENDED, None, Reason.SUSPENDED),
    (SubscriberStatus.ACTIVE, NOW, Reason.EXPIRED),
    (SubscriberStatus.ACTIVE, NOW - timedelta(days=3), Reason.EXPIRED),
])
def test_lapse_without_walled_garden_beats_quota_and_simultaneous_use(
    status: SubscriberStatus, expires_at: datetime | None, reason: Reason
) -> None:
    d = decide(sub(HARD_CAP, status=status, expires_at=expires_at), OVER, sessions=FIVE_ONLINE)
    assert (d.outcome, d.reason) == (Outcome.REJECT, reason)


@pytest.mark.parametrize(("status", "expires_at", "reason"), [
    (SubscriberStatus.SUSPENDED, None, Reason.SUSPENDED),
    (SubscriberStatus.ACTIVE, NOW - timedelta(seconds=1), Reason.EXPIRED),
])
def test_walled_garden_beats_the_quota(status: SubscriberStatus, expires_at: datetime | None, reason: Reason) -> None:
    # Over quota on a plan without FUP would be a reject; a lapsed subscriber goes to the garden instead.
    d = decide(sub(HARD_CAP, status=status, expires_at=expires_at), usage(download=20 * GB), t=GARDEN_TENANT)
    assert (d.outcome, d.reason, d.walled_garden, d.fup) == (Outcome.ACCEPT, reason, True, False)
    reply = attrs(d)
    assert reply["Mikrotik-Rate-Limit"] == GARDEN.rate_limit
    assert reply["Mikrotik-Address-List"] == GARDEN.address_list
    assert not any(name.startswith(BYTE_LIMITS) for name in reply)
    assert "Session-Timeout" not in reply


def test_mac_binding_beats_simultaneous_use_and_quota() -> None:
    d = decide(sub(HARD_CAP, mac=MAC), OVER, calling="11:22:33:44:55:66", sessions=FIVE_ONLINE)
    assert (d.outcome, d.reason) == (Outcome.REJECT, Reason.MAC_MISMATCH)


@pytest.mark.parametrize(("s", "reason"), [
    (None, Reason.UNKNOWN_USER),
    (sub(HARD_CAP, status=SubscriberStatus.TERMINATED), Reason.TERMINATED),
    (Subscriber(id=1, username="ali", status=SubscriberStatus.ACTIVE, plan=None), Reason.NO_PLAN),
], ids=["unknown", "terminated", "no-plan"])
def test_identity_checks_come_first(s: Subscriber | None, reason: Reason) -> None:
    d = decide_access(GARDEN_TENANT, s, None, NOW, OVER, FIVE_ONLINE)
    assert (d.outcome, d.reason) == (Outcome.REJECT, reason)


# ----------------------------------------------------------------------- properties
_sizes = st.integers(min_value=0, max_value=2**50)
_kinds = st.sampled_from([
    ("quota_bytes", "Mikrotik-Total-Limit"),
    ("quota_download_bytes", "Mikrotik-Xmit-Limit"),
    ("quota_upload_bytes", "Mikrotik-Recv-Limit"),
])


@given(quota=st.integers(min_value=1, max_value=2**50), upload=_sizes, download=_sizes, kind=_kinds,
       fup=st.booleans())
def test_byte_limit_sent_is_exactly_what_is_left(quota: int, upload: int, download: int,
                                                 kind: tuple[str, str], fup: bool) -> None:
    field, attribute = kind
    used = {"quota_bytes": upload + download, "quota_download_bytes": download, "quota_upload_bytes": upload}[field]
    p = plan(**{field: quota}, fup_rate_limit="256k/256k" if fup else None)
    d = decide(sub(p), usage(upload=upload, download=download))
    reply = attrs(d) if d.accepted else {}
    if quota - used > 0:
        assert d.reason is Reason.OK
        assert byte_limit(reply, attribute) == quota - used
        assert (attribute + "-Gigawords" in reply) == (quota - used >= G)
    else:
        assert d.reason is Reason.QUOTA_EXHAUSTED
        assert d.accepted is fup
        assert not any(name.startswith(BYTE_LIMITS) for name in reply)
