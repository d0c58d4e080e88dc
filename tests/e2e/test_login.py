"""PPPoE and Hotspot logins through a real freeradius -f, with pyrad as the MikroTik NAS."""

from __future__ import annotations

import json
import time
from datetime import date, datetime, timedelta, timezone
from typing import Any
from zoneinfo import ZoneInfo

import psycopg
import pytest

from cloudos_stack import Stack
from rlm_cloudos.policy import interim_interval
from tests.conftest import Cli, Radiusd

PKT = ZoneInfo("Asia/Karachi")


@pytest.fixture(scope="module")
def plans(radiusd: Radiusd, cli: Cli) -> dict[str, str]:
    r = cli("plan", "add", "home-8m", "--tenant", "e2e", "--rate-limit", "2M/8M", "--quota", "100GB",
            "--fup-rate-limit", "512k/1M", "--address-list", "pppoe-active", "--ip-pool", "pool-home", "--price", "2500")
    assert r.code == 0, r.err
    r = cli("plan", "add", "hotspot-day", "--tenant", "e2e", "--rate-limit", "1M/2M", "--period", "1d")
    assert r.code == 0, r.err
    return {"pppoe": "home-8m", "hotspot": "hotspot-day"}


def add_sub(cli: Cli, name: str, password: str, *extra: str, plan: str = "home-8m") -> int:
    r = cli("subscriber", "add", name, "--tenant", "e2e", "--plan", plan, "--password-stdin", *extra,
            stdin=password + "\n")
    assert r.code == 0, r.err
    shown = cli("subscriber", "show", name, "--tenant", "e2e", "--json")
    return int(json.loads(shown.out)["id"])


def auth_log_rows(stack: Stack, username: str, expect: int,
                  timeout: float = 5.0) -> list[tuple[Any, ...]]:
    """The auth-log rows of ``username`` once ``expect`` of them are written (the writer is asynchronous)."""
    deadline = time.monotonic() + timeout
    rows: list[tuple[Any, ...]] = []
    while time.monotonic() < deadline:
        with psycopg.connect(stack.database_url) as conn:
            rows = conn.execute(
                "SELECT outcome, reason, auth_method, calling_station_id, nas_port_type, walled_garden "
                "FROM auth_log WHERE username = %s ORDER BY at", (username,)).fetchall()
        if len(rows) >= expect:
            return rows
        time.sleep(0.1)
    return rows


def seconds_until_period_end() -> float:
    """Seconds to the next calendar month in Asia/Karachi: the end of a monthly quota period."""
    now = datetime.now(PKT)
    first = (now.replace(day=1) + timedelta(days=32)).replace(day=1, hour=0, minute=0, second=0, microsecond=0)
    return (first - now).total_seconds()


def seconds_until_midnight_after(day: date) -> float:
    end = datetime.combine(day + timedelta(days=1), datetime.min.time(), tzinfo=PKT)
    return (end - datetime.now(timezone.utc)).total_seconds()


@pytest.mark.parametrize("method", ["pap", "chap", "mschapv2"])
def test_pppoe_login_accepts_with_every_reply_attribute(radiusd: Radiusd, cli: Cli, plans: dict[str, str], unique: str, method: str) -> None:
    paid = date.today() + timedelta(days=20)
    sub_id = add_sub(cli, unique, "s3cret-Pw!", "--expires", paid.isoformat(), "--mac", "AA:BB:CC:00:00:01")
    # What is left is taken on both sides of the login: radiusd's clock reads between the two.
    most = min(seconds_until_midnight_after(paid), seconds_until_period_end())
    reply = getattr(radiusd.nas(), method)(unique, "s3cret-Pw!", mac="AA:BB:CC:00:00:01")
    least = min(seconds_until_midnight_after(paid), seconds_until_period_end())
    assert reply.accepted, reply.attrs
    assert reply.one("Mikrotik-Rate-Limit") == "2M/8M"
    assert reply.one("Mikrotik-Address-List") == "pppoe-active"
    assert reply.one("Framed-Pool") == "pool-home"
    assert "Framed-IP-Address" not in reply.attrs
    assert reply.one("Acct-Interim-Interval") == interim_interval(300, sub_id)
    # The quota plan's limits: all of 100 GB left, told to the NAS in Gigawords + octets.
    assert reply.one("Mikrotik-Total-Limit-Gigawords") * 2**32 + reply.one("Mikrotik-Total-Limit") == 100 * 10**9
    # Session-Timeout: the end of the paid day or of the quota period, whichever is first.
    assert least - 1 <= reply.one("Session-Timeout") <= most + 1  # rounded up
    assert "Reply-Message" not in reply.attrs
    if method == "mschapv2":
        assert reply.one("MS-CHAP2-Success")[1:3] == b"S="
    rows = auth_log_rows(radiusd.stack, unique, 1)
    assert rows == [("accept", "ok", method, "AA:BB:CC:00:00:01", "Ethernet", False)]


@pytest.mark.parametrize("method", ["pap", "chap", "mschapv2"])
def test_wrong_password_is_rejected_with_reason(radiusd: Radiusd, cli: Cli, plans: dict[str, str], unique: str, method: str) -> None:
    add_sub(cli, unique, "right-password")
    radiusd.log.mark()
    reply = getattr(radiusd.nas(), method)(unique, "wrong-password")
    assert reply.rejected
    assert reply.one("Reply-Message") == "wrong password"
    assert "Mikrotik-Rate-Limit" not in reply.attrs  # attr_filter.access_reject
    assert auth_log_rows(radiusd.stack, unique, 1)[0][:2] == ("reject", "wrong_password")
    log = radiusd.log.since()
    assert f"user={unique} reason=wrong_password" in log
    assert "right-password" not in log and "wrong-password" not in log


def test_hotspot_chap_login(radiusd: Radiusd, cli: Cli, plans: dict[str, str], unique: str) -> None:
    sub_id = add_sub(cli, unique, "hs-pass-1", "--static-ip", "10.5.50.20", plan="hotspot-day")
    reply = radiusd.nas().chap(unique, "hs-pass-1", hotspot=True, mac="AA:BB:CC:00:00:77", port_id="wlan1",
                               service="hotspot1",
                               extra={"Framed-IP-Address": "10.5.50.20", "Mikrotik-Host-IP": "10.5.50.20"})
    assert reply.accepted, reply.attrs
    assert reply.one("Mikrotik-Rate-Limit") == "1M/2M"
    assert reply.one("Framed-IP-Address") == "10.5.50.20"
    assert "Framed-Pool" not in reply.attrs and "Mikrotik-Address-List" not in reply.attrs
    assert "Session-Timeout" not in reply.attrs  # no expiry set
    assert reply.one("Acct-Interim-Interval") == interim_interval(300, sub_id)
    assert auth_log_rows(radiusd.stack, unique, 1) == [
        ("accept", "ok", "chap", "AA:BB:CC:00:00:77", "Wireless-802.11", False)]


def test_unknown_user(radiusd: Radiusd, plans: dict[str, str], unique: str) -> None:
    radiusd.log.mark()
    reply = radiusd.nas().pap(unique, "whatever")
    assert reply.rejected and reply.one("Reply-Message") == "unknown user"
    assert auth_log_rows(radiusd.stack, unique, 1)[0][:2] == ("reject", "unknown_user")
    assert f"user={unique} reason=unknown_user" in radiusd.log.since()


def test_a_refusal_from_memory_is_confirmed_by_postgresql(radiusd: Radiusd, cli: Cli, plans: dict[str, str],
                                                          unique: str) -> None:
    """A renewal whose notification has not reached radiusd's cache yet (here: never, the feed's
    trigger held off for it) still lets the subscriber in on his very next attempt; the cache had
    refused him from memory."""
    yesterday = datetime.now(PKT).date() - timedelta(days=1)
    add_sub(cli, unique, "pw-memory-1", "--expires", yesterday.isoformat())
    for _ in range(2):  # the first refusal reads PostgreSQL and fills the cache, the second is from it
        reply = radiusd.nas().pap(unique, "pw-memory-1")
        assert reply.rejected and reply.one("Reply-Message") == "plan expired"
    with psycopg.connect(radiusd.stack.database_url) as conn:  # the owner: it may hold the trigger off
        conn.execute("ALTER TABLE subscriber DISABLE TRIGGER subscriber_authz")
        conn.execute("UPDATE subscriber SET expires_at = now() + interval '30 days' WHERE username = %s", (unique,))
        conn.execute("ALTER TABLE subscriber ENABLE TRIGGER subscriber_authz")
    assert radiusd.nas().pap(unique, "pw-memory-1").accepted
    assert radiusd.nas().pap(unique, "pw-memory-1").accepted  # and the cache holds the renewed row now


def test_suspended_then_resumed(radiusd: Radiusd, cli: Cli, plans: dict[str, str], unique: str) -> None:
    add_sub(cli, unique, "pw-suspend-1")
    assert cli("subscriber", "suspend", unique, "--tenant", "e2e", "--reason", "unpaid").code == 0
    reply = radiusd.nas().pap(unique, "pw-suspend-1")
    assert reply.rejected and reply.one("Reply-Message") == "account suspended"
    assert cli("subscriber", "resume", unique, "--tenant", "e2e").code == 0
    assert radiusd.nas().pap(unique, "pw-suspend-1").accepted
    rows = auth_log_rows(radiusd.stack, unique, 2)
    assert [r[:2] for r in rows] == [("reject", "suspended"), ("accept", "ok")]


def test_expired_plan_is_rejected_and_renewal_restores(radiusd: Radiusd, cli: Cli, plans: dict[str, str], unique: str) -> None:
    yesterday = datetime.now(PKT).date() - timedelta(days=1)
    add_sub(cli, unique, "pw-exp-1", "--expires", yesterday.isoformat())
    reply = radiusd.nas().chap(unique, "pw-exp-1")
    assert reply.rejected and reply.one("Reply-Message") == "plan expired"
    r = cli("subscriber", "renew", unique, "--tenant", "e2e", "--json")
    assert r.code == 0, r.err
    renewed_until = date.fromisoformat(json.loads(r.out)["paid_until"])
    # What is left is taken on both sides of the login: radiusd's clock reads between the two.
    most = min(seconds_until_midnight_after(renewed_until), seconds_until_period_end())
    reply = radiusd.nas().chap(unique, "pw-exp-1")
    least = min(seconds_until_midnight_after(renewed_until), seconds_until_period_end())
    assert reply.accepted
    assert least - 1 <= reply.one("Session-Timeout") <= most + 1


def test_session_timeout_capped_at_end_of_paid_day(radiusd: Radiusd, cli: Cli, plans: dict[str, str], unique: str) -> None:
    today = datetime.now(PKT).date()
    add_sub(cli, unique, "pw-today-1", "--expires", today.isoformat())
    most = seconds_until_midnight_after(today)
    reply = radiusd.nas().pap(unique, "pw-today-1")
    least = seconds_until_midnight_after(today)
    assert reply.accepted
    assert least - 1 <= reply.one("Session-Timeout") <= most + 1  # rounded up


def test_mac_binding(radiusd: Radiusd, cli: Cli, plans: dict[str, str], unique: str) -> None:
    add_sub(cli, unique, "pw-mac-1", "--mac", "aa-bb-cc-11-22-33")
    nas = radiusd.nas()
    assert nas.pap(unique, "pw-mac-1", mac="AA:BB:CC:11:22:33").accepted
    reply = nas.pap(unique, "pw-mac-1", mac="AA:BB:CC:11:22:34")
    assert reply.rejected and reply.one("Reply-Message") == "MAC address mismatch"
    reply = nas.pap(unique, "pw-mac-1", mac=None)
    assert reply.rejected and reply.one("Reply-Message") == "MAC address mismatch"
    assert [r[:2] for r in auth_log_rows(radiusd.stack, unique, 3)] == [
        ("accept", "ok"), ("reject", "mac_mismatch"), ("reject", "mac_mismatch")]


def test_walled_garden_accepts_expired_and_suspended(radiusd: Radiusd, cli: Cli, plans: dict[str, str], unique: str) -> None:
    # A tenant of its own on another loopback address, so the e2e tenant keeps rejecting.
    tenant = f"wg{unique}"
    assert cli("tenant", "add", tenant).code == 0
    r = cli("nas", "add", "wg-nas", "--tenant", tenant, "--address", "127.0.0.2", "--secret-stdin",
            stdin="walled-garden-secret\n")
    assert r.code == 0, r.err
    assert cli("tenant", "set", tenant, "--walled-garden-list", "unpaid", "--walled-garden-rate", "256k/256k").code == 0
    assert cli("plan", "add", "basic", "--tenant", tenant, "--rate-limit", "4M/4M").code == 0
    yesterday = datetime.now(PKT).date() - timedelta(days=1)
    for user, extra in (("expired1", ("--expires", yesterday.isoformat())), ("suspended1", ())):
        r = cli("subscriber", "add", user, "--tenant", tenant, "--plan", "basic", "--password-stdin", *extra,
                stdin="garden-pw\n")
        assert r.code == 0, r.err
    assert cli("subscriber", "suspend", "suspended1", "--tenant", tenant).code == 0
    nas = radiusd.nas(secret="walled-garden-secret", source="127.0.0.2")
    for user in ("expired1", "suspended1"):
        reply = nas.pap(user, "garden-pw")
        assert reply.accepted, reply.attrs
        assert reply.one("Mikrotik-Address-List") == "unpaid"
        assert reply.one("Mikrotik-Rate-Limit") == "256k/256k"
        assert "Framed-Pool" not in reply.attrs
        # A wrong password is still a wrong password inside the garden.
        assert nas.pap(user, "not-it").rejected
    with psycopg.connect(radiusd.stack.database_url) as conn:
        deadline = time.monotonic() + 5
        while True:
            rows = conn.execute(
                "SELECT a.username, a.outcome, a.reason, a.walled_garden FROM auth_log a JOIN tenant t "
                "ON t.id = a.tenant_id WHERE t.name = %s ORDER BY a.at", (tenant,)).fetchall()
            if len(rows) >= 4 or time.monotonic() > deadline:
                break
            time.sleep(0.1)
    assert rows == [("expired1", "accept", "expired", True), ("expired1", "reject", "wrong_password", False),
                    ("suspended1", "accept", "suspended", True), ("suspended1", "reject", "wrong_password", False)]


def test_same_username_in_two_tenants_is_two_subscribers(radiusd: Radiusd, cli: Cli, plans: dict[str, str], unique: str) -> None:
    tenant = f"other{unique}"
    assert cli("tenant", "add", tenant).code == 0
    assert cli("nas", "add", "n1", "--tenant", tenant, "--address", "127.0.0.3", "--secret-stdin",
               stdin="other-tenant-secret\n").code == 0
    assert cli("plan", "add", "p", "--tenant", tenant, "--rate-limit", "9M/9M").code == 0
    assert cli("subscriber", "add", unique, "--tenant", tenant, "--plan", "p", "--password-stdin",
               stdin="tenant-b-pw\n").code == 0
    add_sub(cli, unique, "tenant-a-pw")
    a = radiusd.nas()
    b = radiusd.nas(secret="other-tenant-secret", source="127.0.0.3")
    assert a.pap(unique, "tenant-a-pw").one("Mikrotik-Rate-Limit") == "2M/8M"
    assert b.pap(unique, "tenant-b-pw").one("Mikrotik-Rate-Limit") == "9M/9M"
    assert a.pap(unique, "tenant-b-pw").rejected
    assert b.pap(unique, "tenant-a-pw").rejected
