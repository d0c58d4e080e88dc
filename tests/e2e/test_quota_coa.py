"""Quota, FUP, CoA and Disconnect, simultaneous use and stale sessions, end to end.

pyrad plays the MikroTik NAS; a RouterOS stand-in listens for CoA/Disconnect on
the NAS's address; `cloudos worker` runs as it would in production.
"""

from __future__ import annotations

import json
import re
import subprocess
import time
from collections.abc import Iterator
from datetime import datetime, timedelta, timezone
from typing import Any
from zoneinfo import ZoneInfo

import psycopg
import pytest

from cloudos_stack import Stack, free_port
from tests.conftest import Cli, Radiusd, running_worker
from tests.fixtures.routeros import RouterOS

NAS_ADDRESS = "127.0.0.30"
SECRET = "coa-nas-shared-secret"
TENANT = "coa-isp"
MB = 10**6


@pytest.fixture(scope="module")
def router(radiusd: Radiusd, cli: Cli) -> Iterator[RouterOS]:
    port = free_port()
    stand_in = RouterOS(NAS_ADDRESS, port, SECRET)
    assert cli("tenant", "add", TENANT).code == 0
    r = cli("nas", "add", "ccr1", "--tenant", TENANT, "--address", NAS_ADDRESS, "--secret-stdin",
            "--coa-port", str(port), stdin=SECRET + "\n")
    assert r.code == 0, r.err
    assert cli("plan", "add", "fup-plan", "--tenant", TENANT, "--rate-limit", "4M/16M", "--quota", "10MB",
               "--fup-rate-limit", "256k/512k").code == 0
    assert cli("plan", "add", "hard-cap", "--tenant", TENANT, "--rate-limit", "4M/16M", "--quota", "10MB").code == 0
    assert cli("plan", "add", "single", "--tenant", TENANT, "--rate-limit", "2M/2M").code == 0
    assert cli("plan", "add", "big-quota", "--tenant", TENANT, "--rate-limit", "2M/2M", "--quota", "10GB").code == 0
    yield stand_in
    stand_in.close()


@pytest.fixture(scope="module")
def worker(router: RouterOS, stack: Stack) -> Iterator[subprocess.Popen[bytes]]:
    """`cloudos worker` as a process of its own, as in production."""
    with running_worker(stack, "worker.log", "--timeout", "0.5", "--max-attempts", "2") as proc:
        yield proc


def add(cli: Cli, user: str, plan: str, password: str = "coa-pw", *extra: str) -> None:
    r = cli("subscriber", "add", user, "--tenant", TENANT, "--plan", plan, "--password-stdin", *extra,
            stdin=password + "\n")
    assert r.code == 0, r.err


def outbox(stack: Stack, user: str) -> list[tuple[Any, ...]]:
    with psycopg.connect(stack.database_url) as conn:
        return conn.execute(
            "SELECT kind, reason, status, result FROM coa_outbox WHERE attributes->>'User-Name' = %s ORDER BY id",
            (user,)).fetchall()


def wait_outbox(stack: Stack, user: str, n: int, timeout: float = 10) -> list[tuple[Any, ...]]:
    deadline = time.monotonic() + timeout
    while True:
        rows = outbox(stack, user)
        if len([r for r in rows if r[2] != "pending"]) >= n or time.monotonic() > deadline:
            return rows
        time.sleep(0.1)


def test_login_is_told_the_quota_left(radiusd: Radiusd, router: RouterOS, cli: Cli, unique: str) -> None:
    add(cli, unique, "big-quota")
    nas = radiusd.nas(secret=SECRET, source=NAS_ADDRESS)
    reply = nas.pap(unique, "coa-pw")
    assert reply.accepted
    left = reply.one("Mikrotik-Total-Limit-Gigawords") * 2**32 + reply.one("Mikrotik-Total-Limit")
    assert left == 10 * 10**9
    nas.acct("Start", unique, f"{unique}-1", framed_ip="10.50.0.9")
    nas.acct("Stop", unique, f"{unique}-1", input_octets=2**32 + 5, output_octets=3 * 10**9, session_time=60)
    reply = nas.pap(unique, "coa-pw")
    assert "Mikrotik-Total-Limit-Gigawords" not in reply.attrs  # under 4 GiB left: octets alone
    assert reply.one("Mikrotik-Total-Limit") == 10 * 10**9 - (2**32 + 5) - 3 * 10**9


def test_quota_crossed_sends_coa_with_the_fup_rate(radiusd: Radiusd, router: RouterOS, worker: subprocess.Popen[bytes], cli: Cli, unique: str) -> None:
    add(cli, unique, "fup-plan")
    nas = radiusd.nas(secret=SECRET, source=NAS_ADDRESS)
    reply = nas.pap(unique, "coa-pw")
    assert reply.accepted and reply.one("Mikrotik-Total-Limit") == 10 * MB
    sid = f"{unique}-s"
    nas.acct("Start", unique, sid, framed_ip="10.50.0.10")
    nas.acct("Interim-Update", unique, sid, input_octets=1 * MB, output_octets=4 * MB, session_time=300)
    assert router.nothing(0.5)  # 5 MB of 10: nothing yet
    crossed_at = time.monotonic()
    nas.acct("Interim-Update", unique, sid, input_octets=2 * MB, output_octets=9 * MB, session_time=600)
    coa = router.expect(timeout=5)
    assert time.monotonic() - crossed_at < 5
    assert coa.authentic and coa.code == 43  # CoA-Request
    assert coa.one("User-Name") == unique
    assert coa.one("Acct-Session-Id") == sid
    assert coa.one("Framed-IP-Address") == "10.50.0.10"
    assert coa.one("Mikrotik-Rate-Limit") == "256k/512k"
    assert wait_outbox(radiusd.stack, unique, 1) == [("coa", "quota_exhausted", "ack", "COA_ACK")]
    # Further interims over the quota send nothing more.
    nas.acct("Interim-Update", unique, sid, input_octets=3 * MB, output_octets=12 * MB, session_time=900)
    assert router.nothing(1.0)
    # The next login gets the FUP rate and no byte limit.
    reply = nas.pap(unique, "coa-pw")
    assert reply.accepted and reply.one("Mikrotik-Rate-Limit") == "256k/512k"
    assert "Mikrotik-Total-Limit" not in reply.attrs


def test_quota_crossed_without_fup_disconnects(radiusd: Radiusd, router: RouterOS, worker: subprocess.Popen[bytes], cli: Cli, unique: str) -> None:
    add(cli, unique, "hard-cap")
    nas = radiusd.nas(secret=SECRET, source=NAS_ADDRESS)
    sid = f"{unique}-s"
    nas.acct("Start", unique, sid, framed_ip="10.50.0.11")
    nas.acct("Interim-Update", unique, sid, input_octets=5 * MB, output_octets=6 * MB, session_time=300)
    dm = router.expect(timeout=5)
    assert dm.code == 40 and dm.authentic  # Disconnect-Request
    assert (dm.one("User-Name"), dm.one("Acct-Session-Id"), dm.one("Framed-IP-Address")) == (unique, sid, "10.50.0.11")
    assert "Mikrotik-Rate-Limit" not in dm.attrs
    assert wait_outbox(radiusd.stack, unique, 1) == [("disconnect", "quota_exhausted", "ack", "DISCONNECT_ACK")]
    nas.acct("Stop", unique, sid, input_octets=5 * MB, output_octets=6 * MB, session_time=310, cause="Admin-Reset")
    reply = nas.pap(unique, "coa-pw")
    assert reply.rejected and reply.one("Reply-Message") == "quota exhausted"


def test_suspend_disconnects_online_sessions(radiusd: Radiusd, router: RouterOS, worker: subprocess.Popen[bytes], cli: Cli, unique: str) -> None:
    add(cli, unique, "single")
    nas = radiusd.nas(secret=SECRET, source=NAS_ADDRESS)
    nas.acct("Start", unique, f"{unique}-s", framed_ip="10.50.0.12")
    r = cli("subscriber", "suspend", unique, "--tenant", TENANT, "--reason", "unpaid", "--json")
    assert r.code == 0 and json.loads(r.out)["disconnects_queued"] == 1
    dm = router.expect(timeout=5)
    assert dm.code == 40 and dm.one("User-Name") == unique and dm.one("Acct-Session-Id") == f"{unique}-s"
    assert wait_outbox(radiusd.stack, unique, 1) == [("disconnect", "suspended", "ack", "DISCONNECT_ACK")]


def test_admin_disconnect_and_nak_is_recorded(radiusd: Radiusd, router: RouterOS, worker: subprocess.Popen[bytes], cli: Cli, unique: str) -> None:
    add(cli, unique, "single")
    nas = radiusd.nas(secret=SECRET, source=NAS_ADDRESS)
    nas.acct("Start", unique, f"{unique}-s", framed_ip="10.50.0.13")
    router.mode = "nak"
    try:
        r = cli("session", "disconnect", unique, "--tenant", TENANT)
        assert r.code == 0, r.err
        assert router.expect(timeout=5).code == 40
        assert wait_outbox(radiusd.stack, unique, 1) == [
            ("disconnect", "admin", "nak", "DISCONNECT_NAK Error-Cause=503 (Session-Context-Not-Found)")]
    finally:
        router.mode = "ack"
    assert cli("session", "disconnect", "nobody-online", "--tenant", TENANT).code == 1


def test_simultaneous_use(radiusd: Radiusd, router: RouterOS, cli: Cli, unique: str) -> None:
    add(cli, unique, "single")
    nas = radiusd.nas(secret=SECRET, source=NAS_ADDRESS)
    assert nas.pap(unique, "coa-pw", mac="AA:00:00:00:00:01").accepted
    nas.acct("Start", unique, f"{unique}-a", mac="AA:00:00:00:00:01")
    reply = nas.pap(unique, "coa-pw", mac="AA:00:00:00:00:02")
    assert reply.rejected and reply.one("Reply-Message") == "already online"
    # The same device redialling after a drop is not a second user.
    assert nas.pap(unique, "coa-pw", mac="AA:00:00:00:00:01").accepted
    nas.acct("Stop", unique, f"{unique}-a", mac="AA:00:00:00:00:01", session_time=10)
    assert nas.pap(unique, "coa-pw", mac="AA:00:00:00:00:02").accepted


def test_stale_session_is_reaped(radiusd: Radiusd, router: RouterOS, cli: Cli, unique: str) -> None:
    add(cli, unique, "single")
    nas = radiusd.nas(secret=SECRET, source=NAS_ADDRESS)
    # A Start from an hour ago (Acct-Delay-Time), and no interim since: the NAS rebooted silently.
    nas.acct("Start", unique, f"{unique}-old", mac="AA:00:00:00:00:03", extra={"Acct-Delay-Time": 3600})
    reply = nas.pap(unique, "coa-pw", mac="AA:00:00:00:00:04")
    assert reply.accepted  # a stale session does not count as online
    r = cli("session", "reap", "--json")
    assert r.code == 0 and json.loads(r.out)["stale_closed"] >= 1
    r = cli("session", "list", "--tenant", TENANT, "--user", unique, "--json")
    (row,) = json.loads(r.out)
    assert row["terminate_cause"] == "Stale" and row["stopped_at"] is not None


def test_session_list_and_usage(radiusd: Radiusd, router: RouterOS, cli: Cli, unique: str) -> None:
    add(cli, unique, "big-quota")
    nas = radiusd.nas(secret=SECRET, source=NAS_ADDRESS)
    nas.acct("Start", unique, f"{unique}-l", framed_ip="10.50.0.20")
    nas.acct("Interim-Update", unique, f"{unique}-l", input_octets=1000, output_octets=5000, session_time=300)
    online = json.loads(cli("session", "list", "--tenant", TENANT, "--online", "--user", unique, "--json").out)
    assert [(s["acct_session_id"], s["framed_ip"], s["download_bytes"], s["upload_bytes"]) for s in online] == [
        (f"{unique}-l", "10.50.0.20", 5000, 1000)]
    usage = json.loads(cli("usage", unique, "--tenant", TENANT, "--json").out)
    assert (usage["download_bytes"], usage["upload_bytes"], usage["quota_bytes"]) == (5000, 1000, 10 * 10**9)
    shown = json.loads(cli("subscriber", "show", unique, "--tenant", TENANT, "--json").out)
    assert shown["usage"]["total_bytes"] == 6000 and shown["online_sessions"] == 1 and len(shown["sessions"]) == 1


def test_usage_and_sessions_read_as_a_noc_reads_them(radiusd: Radiusd, router: RouterOS, cli: Cli,
                                                      unique: str) -> None:
    """Counters are never round: the human output shortens them anyway (issue 12 saw
    `113454184400B of 100GB`), while --json keeps every byte."""
    add(cli, unique, "big-quota")
    nas = radiusd.nas(secret=SECRET, source=NAS_ADDRESS)
    nas.acct("Start", unique, f"{unique}-h", framed_ip="10.50.0.21")
    nas.acct("Interim-Update", unique, f"{unique}-h", input_octets=1_234_567, output_octets=5_678_901_234,
             session_time=300)
    usage = cli("usage", unique, "--tenant", TENANT).out
    listed = cli("session", "list", "--tenant", TENANT, "--online", "--user", unique).out
    shown = cli("subscriber", "show", unique, "--tenant", TENANT).out
    assert f"{unique}: 5.68GB of 10GB in " in usage and "download 5.68GB, upload 1.23MB" in usage, usage
    assert "5.68GB" in listed and "1.23MB" in listed, listed
    month = datetime.now(ZoneInfo("Asia/Karachi")).strftime("%B %Y")
    assert f"5.68GB of 10GB in {month} (down 5.68GB, up 1.23MB)" in shown, shown
    assert not re.search(r"\d{5,}B\b", usage + listed + shown)  # no raw byte counts
    assert json.loads(cli("usage", unique, "--tenant", TENANT, "--json").out)["download_bytes"] == 5_678_901_234


def test_month_boundary_in_karachi_starts_a_new_quota_period(radiusd: Radiusd, router: RouterOS, cli: Cli, unique: str) -> None:
    add(cli, unique, "big-quota")
    nas = radiusd.nas(secret=SECRET, source=NAS_ADDRESS)
    now = datetime.now(timezone.utc)
    month_start = now.astimezone(ZoneInfo("Asia/Karachi")).replace(day=1, hour=0, minute=0, second=0, microsecond=0)
    before_midnight = int((now - month_start).total_seconds()) + 60  # Acct-Delay-Time: 23:59:00 PKT last month
    sid = f"{unique}-m"
    nas.acct("Start", unique, sid, extra={"Acct-Delay-Time": before_midnight + 240})
    nas.acct("Interim-Update", unique, sid, input_octets=10**9, output_octets=2 * 10**9, session_time=240,
             extra={"Acct-Delay-Time": before_midnight})
    nas.acct("Interim-Update", unique, sid, input_octets=10**9 + 400, output_octets=2 * 10**9 + 600,
             session_time=300 + before_midnight)
    with psycopg.connect(radiusd.stack.database_url) as conn:
        periods = conn.execute(
            "SELECT u.period_start, u.input_octets + u.output_octets FROM usage_counter u JOIN subscriber s "
            "ON s.id = u.subscriber_id WHERE s.username = %s ORDER BY 1", (unique,)).fetchall()
    previous = (month_start - timedelta(days=1)).replace(day=1)
    assert [(p.astimezone(ZoneInfo("Asia/Karachi")), total) for p, total in periods] == [
        (previous, 3 * 10**9), (month_start, 1000)]
    last_month = json.loads(cli("usage", unique, "--tenant", TENANT, "--period", previous.strftime("%Y-%m"),
                                "--json").out)
    assert last_month["total_bytes"] == 3 * 10**9
    assert json.loads(cli("usage", unique, "--tenant", TENANT, "--json").out)["total_bytes"] == 1000
    reply = nas.pap(unique, "coa-pw", mac="AA:BB:CC:00:00:01")
    assert reply.accepted  # a redial of the same device
    assert reply.one("Mikrotik-Total-Limit-Gigawords") * 2**32 + reply.one("Mikrotik-Total-Limit") == 10 * 10**9 - 1000
