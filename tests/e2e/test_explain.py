"""`cloudos explain` is the hot path's decision: what it says equals what radiusd answers.

pyrad plays the MikroTik NAS (logins and accounting over the wire, so a subscriber is
online the way a router makes him online); each case compares `cloudos explain --json`
with radiusd's reply to the login explain describes, and with the auth log's reason.
"""

from __future__ import annotations

import functools
import json
import time
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import psycopg
import pytest

from cloudos_stack import Stack
from rlm_cloudos.policy.sessions import stale_after
from tests.conftest import Cli, Radiusd, beside
from tests.fixtures.nas import Nas, Reply, journal_applied

NAS_ADDRESS = "127.0.0.150"
GARDEN_NAS_ADDRESS = "127.0.0.151"
SECRET = "explain-nas-shared-secret"
GARDEN_SECRET = "explain-garden-nas-secret"
TENANT = "explain-isp"
GARDEN_TENANT = "explain-garden-isp"
PASSWORD = "explain-pw-1"
MB = 10**6
#: The device a subscriber is online from, and another one.
ONLINE_MAC = "AA:BB:CC:15:01:01"
OTHER_MAC = "AA:BB:CC:15:01:02"


@dataclass
class Nases:
    main: Nas
    garden: Nas

    def of(self, tenant: str) -> Nas:
        return self.garden if tenant == GARDEN_TENANT else self.main


@pytest.fixture(scope="module")
def nases(radiusd: Radiusd, cli: Cli) -> Nases:
    for tenant, name, address, secret in ((TENANT, "explain-ccr", NAS_ADDRESS, SECRET),
                                          (GARDEN_TENANT, "garden-ccr", GARDEN_NAS_ADDRESS, GARDEN_SECRET)):
        assert cli("tenant", "add", tenant).code == 0
        r = cli("nas", "add", name, "--tenant", tenant, "--address", address, "--secret-stdin", stdin=secret + "\n")
        assert r.code == 0, r.err
        for argv in (("basic", "--rate-limit", "2M/8M", "--address-list", "pppoe-active", "--ip-pool", "pool-home"),
                     ("fup", "--rate-limit", "4M/16M", "--quota", "10MB", "--fup-rate-limit", "256k/512k"),
                     ("hard-cap", "--rate-limit", "4M/16M", "--quota", "10MB")):
            r = cli("plan", "add", *argv, "--tenant", tenant)
            assert r.code == 0, r.err
    r = cli("tenant", "set", GARDEN_TENANT, "--walled-garden-list", "unpaid", "--walled-garden-rate", "256k/256k")
    assert r.code == 0, r.err
    # Two wrong passwords lock a subscriber out (the default is five).
    assert cli("tenant", "set", TENANT, "--login-fail-limit", "2").code == 0
    return Nases(radiusd.nas(secret=SECRET, source=NAS_ADDRESS),
                 radiusd.nas(secret=GARDEN_SECRET, source=GARDEN_NAS_ADDRESS))


def add(cli: Cli, user: str, plan: str, *extra: str, tenant: str = TENANT) -> None:
    r = cli("subscriber", "add", user, "--tenant", tenant, "--plan", plan, "--password-stdin", *extra,
            stdin=PASSWORD + "\n")
    assert r.code == 0, r.err


def explain(cli: Cli, user: str, *extra: str, tenant: str = TENANT) -> dict[str, Any]:
    r = cli("explain", user, "--tenant", tenant, "--json", *extra)
    assert r.code == 0, r.err
    data: dict[str, Any] = json.loads(r.out)
    return data


def answered(reply: Reply) -> tuple[str, str | None]:
    """radiusd's reply as explain states it: accept or reject, and the Reply-Message."""
    return ("accept" if reply.accepted else "reject", reply.get("Reply-Message"))


def said(data: dict[str, Any]) -> tuple[str, str | None]:
    reply = {a["attribute"]: a["value"] for a in data["reply"]}
    return (data["decision"], reply.get("Reply-Message"))


def online_over_quota(nas: Nas, user: str, mac: str) -> None:
    """Logged in from ``mac``, online (a Start), and 20 MB into a 10 MB quota (an interim)."""
    assert nas.pap(user, PASSWORD, mac=mac).accepted
    nas.acct("Start", user, f"{user}-s", mac=mac)
    nas.acct("Interim-Update", user, f"{user}-s", mac=mac, input_octets=5 * MB, output_octets=15 * MB,
             session_time=300)


# --------------------------------------------------------------------------- issue 12, as reported
def test_online_without_a_bound_mac_over_a_hard_cap(nases: Nases, cli: Cli, unique: str) -> None:
    """Issue 12: explain said already_online (it decided for a login without a MAC, which no
    MikroTik sends); radiusd, asked by the device that is online, replied "quota exhausted"."""
    add(cli, unique, "hard-cap")
    online_over_quota(nases.main, unique, ONLINE_MAC)
    data = explain(cli, unique)
    reply = nases.main.pap(unique, PASSWORD, mac=ONLINE_MAC)
    assert answered(reply) == ("reject", "quota exhausted")
    assert said(data) == answered(reply), data
    assert (data["login_mac"], data["login_mac_from"]) == (ONLINE_MAC, "online_session")


def test_explain_counts_online_sessions_with_the_mac_it_decides_for(nases: Nases, cli: Cli, unique: str) -> None:
    """Issue 12 (ali, online from his bound MAC, at the FUP rate): the online_sessions fact was
    counted for a login without a MAC while the decision was for the bound MAC, "1" beside an
    accept that left his one session out as a redial."""
    add(cli, unique, "fup", "--mac", ONLINE_MAC)
    online_over_quota(nases.main, unique, ONLINE_MAC)
    data = explain(cli, unique)
    reply = nases.main.pap(unique, PASSWORD, mac=ONLINE_MAC)
    assert reply.accepted and reply.one("Mikrotik-Rate-Limit") == "256k/512k"
    assert (data["decision"], data["reason"], data["login_mac"]) == ("accept", "quota_exhausted", ONLINE_MAC)
    assert (data["facts"]["online_sessions"], data["facts"]["live_sessions"]) == (0, 1), data["facts"]


def test_a_redial_is_recognised_however_the_nas_spells_the_mac(nases: Nases, cli: Cli, unique: str) -> None:
    """The same-MAC rule compared the request's MAC, normalised (AA:BB:…), with the session's as
    PostgreSQL upper-cased it (AA-BB-…): the device that is online was refused as a second one."""
    mac = "aa-bb-cc-15-00-04"
    add(cli, unique, "hard-cap", "--mac", mac)
    assert nases.main.pap(unique, PASSWORD, mac=mac).accepted
    nases.main.acct("Start", unique, f"{unique}-s", mac=mac)
    data = explain(cli, unique)
    reply = nases.main.pap(unique, PASSWORD, mac=mac)
    assert reply.accepted, reply.attrs
    assert (data["decision"], data["facts"]["online_sessions"]) == ("accept", 0), data


def test_the_human_output_says_which_mac_it_decided_for(nases: Nases, cli: Cli, unique: str) -> None:
    bound, unbound, offline = f"{unique}b", f"{unique}u", f"{unique}o"
    add(cli, bound, "basic", "--mac", ONLINE_MAC)
    add(cli, unbound, "basic")
    add(cli, offline, "basic")
    for user in (bound, unbound):
        nases.main.acct("Start", user, f"{user}-s", mac=ONLINE_MAC)

    def human(*argv: str) -> str:
        r = cli("explain", *argv, "--tenant", TENANT)
        assert r.code == 0, r.err
        return r.out

    assert f"login from       {ONLINE_MAC} (the bound MAC;" in human(bound)
    assert f"login from       {ONLINE_MAC} (the device online now, redialling;" in human(unbound)
    assert f"login from       {OTHER_MAC} (--mac)" in human(unbound, "--mac", OTHER_MAC)
    assert "login from       no MAC (not bound, not online: any MAC gets this answer" in human(offline)
    assert "login from       any MAC (unknown user" in human(f"{unique}-nobody")


# --------------------------------------------------------------------------- a second radiusd
@pytest.fixture(scope="module")
def second(radiusd: Radiusd, nases: Nases, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Nas]:
    """The main NAS's route to a second radiusd on the same PostgreSQL and Redis (RouterOS lists
    several RADIUS servers): its own cache, kept current by the feed."""
    mine = beside(radiusd.stack, tmp_path_factory.mktemp("explain-second"))
    mine.start_radiusd()
    try:
        yield Nas(mine.host, mine.ports.auth, mine.ports.acct, SECRET, source=NAS_ADDRESS,
                  applied=functools.partial(journal_applied, mine.acct_journal))
    finally:
        mine.stop_radiusd()


def test_a_session_alive_through_another_radiusd_counts_on_this_one(nases: Nases, second: Nas, cli: Cli,
                                                                     unique: str) -> None:
    """Only what changes a decision is announced (a Start, a Stop, a crossing): an interim is applied
    in place by the radiusd that stored it alone. Another radiusd's cache kept the session as its
    Start left it, saw it go stale two interim intervals later, and let a second device in while
    PostgreSQL, the radiusd that hears the session and explain all had him online."""
    add(cli, unique, "basic")
    assert second.pap(unique, PASSWORD, mac=ONLINE_MAC).accepted  # now in the second radiusd's cache
    # Started a little less than stale_after ago, then an interim now: alive, and known so only
    # through the first radiusd.
    margin = 4
    nases.main.acct("Start", unique, f"{unique}-s", mac=ONLINE_MAC,
                    extra={"Acct-Delay-Time": stale_after(300) - margin})
    nases.main.acct("Interim-Update", unique, f"{unique}-s", mac=ONLINE_MAC, session_time=stale_after(300))
    time.sleep(margin + 1)
    data = explain(cli, unique, "--mac", OTHER_MAC)
    assert (data["reason"], data["facts"]["live_sessions"]) == ("already_online", 1), data
    for nas in (nases.main, second):
        assert answered(nas.pap(unique, PASSWORD, mac=OTHER_MAC)) == said(data)


# --------------------------------------------------------------------------- every decision, both ways
@dataclass(frozen=True)
class Case:
    """A subscriber in one state, and the login explain is asked about."""

    reason: str  # what radiusd must answer (its auth-log reason)
    plan: str = "basic"
    tenant: str = TENANT
    add: tuple[str, ...] = ()
    #: Applied after he is online: suspend, terminate, no_plan (SQL: no command unsets a plan), lock
    #: (wrong passwords).
    state: str = ""
    over_quota: bool = False
    login_mac: str = ONLINE_MAC
    #: Passed as --mac (None: explain assumes, and must assume the login's MAC).
    explain_mac: str | None = None
    #: Two live sessions from ONLINE_MAC instead of one.
    two_sessions: bool = False
    exists: bool = True


def yesterday() -> str:
    return (datetime.now(ZoneInfo("Asia/Karachi")).date() - timedelta(days=1)).isoformat()


CASES: dict[str, Case] = {
    "unknown_user": Case("unknown_user", exists=False),
    "terminated": Case("terminated", state="terminate"),
    "locked_out": Case("throttled", state="lock"),
    "no_plan": Case("no_plan", state="no_plan"),
    "suspended": Case("suspended", state="suspend"),
    "expired": Case("expired", add=("--expires", "yesterday")),
    "mac_mismatch": Case("mac_mismatch", add=("--mac", ONLINE_MAC), login_mac=OTHER_MAC, explain_mac=OTHER_MAC),
    "already_online": Case("already_online", login_mac=OTHER_MAC, explain_mac=OTHER_MAC),
    "already_online_twice_from_the_bound_mac": Case("already_online", add=("--mac", ONLINE_MAC), two_sessions=True),
    "quota_exhausted": Case("quota_exhausted", plan="hard-cap", over_quota=True),
    "accept": Case("ok"),
    "accept_bound": Case("ok", add=("--mac", ONLINE_MAC)),
    "fup": Case("quota_exhausted", plan="fup", over_quota=True),
    "fup_bound": Case("quota_exhausted", plan="fup", over_quota=True, add=("--mac", ONLINE_MAC)),
    "walled_garden_suspended": Case("suspended", tenant=GARDEN_TENANT, state="suspend"),
    "walled_garden_expired": Case("expired", tenant=GARDEN_TENANT, add=("--expires", "yesterday")),
    "walled_garden_bound": Case("suspended", tenant=GARDEN_TENANT, state="suspend", add=("--mac", ONLINE_MAC)),
}
#: Only an online subscriber can be already online; an unknown one has no sessions.
ONLINE_ONLY = {"already_online", "already_online_twice_from_the_bound_mac"}
OFFLINE_ONLY = {"unknown_user"}
PARAMS = [pytest.param(name, online, id=f"{name}-{'online' if online else 'offline'}")
          for name in CASES for online in (False, True)
          if not (online and name in OFFLINE_ONLY) and not (not online and name in ONLINE_ONLY)]


def last_auth_log(stack: Stack, tenant: str, username: str, after: int) -> tuple[str, str, bool]:
    """(outcome, reason, walled_garden) of the login after the first ``after``, in the order authorize
    saw them (the writer is asynchronous: it waits for the row)."""
    deadline = time.monotonic() + 5
    while True:
        with psycopg.connect(stack.database_url) as conn:
            rows = conn.execute(
                "SELECT a.outcome, a.reason, a.walled_garden FROM auth_log a JOIN tenant t ON t.id = a.tenant_id "
                "WHERE t.name = %s AND a.username = %s ORDER BY a.at", (tenant, username)).fetchall()
        if len(rows) > after:
            outcome, reason, garden = rows[after]
            return str(outcome), str(reason), bool(garden)
        assert time.monotonic() < deadline, f"no auth-log row for {username}'s login"
        time.sleep(0.1)


def put_in_state(stack: Stack, cli: Cli, nas: Nas, case: Case, user: str) -> None:
    if case.state in ("suspend", "terminate"):
        r = cli("subscriber", case.state, user, "--tenant", case.tenant)
        assert r.code == 0, r.err
    elif case.state == "no_plan":
        with psycopg.connect(stack.database_url) as conn:
            conn.execute("UPDATE subscriber SET plan_id = NULL WHERE username = %s", (user,))
    elif case.state == "lock":
        for _ in range(2):
            assert nas.pap(user, "not-the-password", mac=case.login_mac).rejected
        deadline = time.monotonic() + 5
        while explain(cli, user, tenant=case.tenant)["reason"] != "throttled":
            assert time.monotonic() < deadline, "two wrong passwords did not lock him out"
            time.sleep(0.1)


def replies(data: dict[str, Any], reply: Reply) -> tuple[dict[str, list[str]], dict[str, list[str]]]:
    """explain's reply attributes and radiusd's, as strings, Session-Timeout (counted from each one's
    own now) checked to within two seconds and then left out; Message-Authenticator left out."""
    ours: dict[str, list[str]] = {}
    for a in data["reply"]:
        ours.setdefault(a["attribute"], []).append(a["value"])
    theirs = {k: [str(v) for v in vs] for k, vs in reply.attrs.items() if k != "Message-Authenticator"}
    if "Session-Timeout" in ours or "Session-Timeout" in theirs:
        (a,), (b,) = ours.pop("Session-Timeout", ["missing"]), theirs.pop("Session-Timeout", ["missing"])
        assert a.isdigit() and b.isdigit() and 0 <= int(a) - int(b) <= 2, (a, b)
    return ours, theirs


@pytest.mark.parametrize(("name", "online"), PARAMS)
def test_explain_equals_radiusd(radiusd: Radiusd, nases: Nases, cli: Cli, unique: str, name: str,
                                online: bool) -> None:
    case = CASES[name]
    nas = nases.of(case.tenant)
    user = unique
    if case.exists:
        extra = tuple(yesterday() if v == "yesterday" else v for v in case.add)
        add(cli, user, case.plan, *extra, tenant=case.tenant)
        # A first login (whatever its answer) puts him in radiusd's cache: the feed must keep it current.
        nas.pap(user, PASSWORD, mac=ONLINE_MAC)
        sessions = [f"{user}-a", f"{user}-b"] if case.two_sessions else [f"{user}-a"]
        for sid in sessions:
            nas.acct("Start", user, sid, mac=ONLINE_MAC)
        if case.over_quota or not online:
            used = (5 * MB, 15 * MB) if case.over_quota else (0, 0)
            nas.acct("Interim-Update" if online else "Stop", user, sessions[0], mac=ONLINE_MAC, session_time=300,
                     input_octets=used[0], output_octets=used[1])
        put_in_state(radiusd.stack, cli, nas, case, user)
    data = explain(cli, user, *(("--mac", case.explain_mac) if case.explain_mac else ()), tenant=case.tenant)
    before = (1 if case.exists else 0) + (2 if case.state == "lock" else 0)  # the logins above
    reply = nas.pap(user, PASSWORD, mac=case.login_mac)
    outcome, reason, garden = last_auth_log(radiusd.stack, case.tenant, user, before)

    assert reason == case.reason, (reason, reply.attrs)  # the case is the one it is named for
    assert (data["decision"], data["reason"], data["walled_garden"]) == (outcome, reason, garden), data
    assert data["decision"] == ("accept" if reply.accepted else "reject")
    ours, theirs = replies(data, reply)
    assert ours == theirs
    if case.exists:
        # The MAC explain decided for is the login's: given, bound, or the online device's; when he
        # is neither bound nor online, none (any MAC gets the same answer).
        bound = "--mac" in case.add
        assert data["login_mac"] == (case.login_mac if case.explain_mac or bound or online else None), data
        assert data["facts"]["live_sessions"] == (len(sessions) if online else 0), data["facts"]
