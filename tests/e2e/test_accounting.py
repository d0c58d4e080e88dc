"""Accounting through a real freeradius -f: sessions recorded, usage counted once."""

from __future__ import annotations

import os
import time
from typing import Any

import psycopg
import pytest

from cloudos_stack import Stack
from tests.conftest import Cli, Radiusd, add_plan_and_subscriber
from tests.fixtures.nas import journal_applied
from tests.fixtures.pg import fetch_one

G = 2**32


@pytest.fixture(scope="module")
def subscriber(radiusd: Radiusd, cli: Cli) -> str:
    return add_plan_and_subscriber("acct-plan", "5M/5M", "acct-user", "acct-pw")[0]


def usage(stack: Stack, username: str) -> tuple[int, int, int]:
    with psycopg.connect(stack.database_url) as conn:
        row = fetch_one(conn.execute(
            "SELECT coalesce(sum(u.input_octets), 0), coalesce(sum(u.output_octets), 0), coalesce(sum(u.session_time), 0) "
            "FROM usage_counter u JOIN subscriber s ON s.id = u.subscriber_id WHERE s.username = %s",
            (username,)))
    return int(row[0]), int(row[1]), int(row[2])


def session(stack: Stack, session_id: str) -> tuple[Any, ...] | None:
    with psycopg.connect(stack.database_url) as conn:
        return conn.execute(
            "SELECT input_octets, output_octets, session_time, stopped_at IS NOT NULL, terminate_cause, host(framed_ip) "
            "FROM session WHERE acct_session_id = %s", (session_id,)).fetchone()


def test_start_interim_stop_with_gigawords(radiusd: Radiusd, subscriber: str, unique: str) -> None:
    nas = radiusd.nas()
    before = usage(radiusd.stack, subscriber)
    sid = f"S{unique}"
    nas.acct("Start", subscriber, sid, framed_ip="10.0.0.10")
    nas.acct("Interim-Update", subscriber, sid, input_octets=3 * G + 100, output_octets=5 * G + 7, session_time=300)
    nas.acct("Stop", subscriber, sid, input_octets=4 * G + 5, output_octets=6 * G, session_time=600,
             cause="User-Request")
    after = usage(radiusd.stack, subscriber)
    assert (after[0] - before[0], after[1] - before[1], after[2] - before[2]) == (4 * G + 5, 6 * G, 600)
    assert session(radiusd.stack, sid) == (4 * G + 5, 6 * G, 600, True, "User-Request", "10.0.0.10")


def test_duplicates_and_out_of_order_interims_add_nothing(radiusd: Radiusd, subscriber: str, unique: str) -> None:
    nas = radiusd.nas()
    before = usage(radiusd.stack, subscriber)
    sid = f"D{unique}"
    nas.acct("Start", subscriber, sid)
    nas.acct("Interim-Update", subscriber, sid, input_octets=1000, output_octets=9000, session_time=300)
    nas.acct("Interim-Update", subscriber, sid, input_octets=1000, output_octets=9000, session_time=300)  # resent
    nas.acct("Interim-Update", subscriber, sid, input_octets=3000, output_octets=20000, session_time=900)
    nas.acct("Interim-Update", subscriber, sid, input_octets=2000, output_octets=15000, session_time=600)  # late
    nas.acct("Stop", subscriber, sid, input_octets=3500, output_octets=21000, session_time=1000)
    nas.acct("Stop", subscriber, sid, input_octets=3500, output_octets=21000, session_time=1000)  # resent Stop
    after = usage(radiusd.stack, subscriber)
    assert (after[0] - before[0], after[1] - before[1], after[2] - before[2]) == (3500, 21000, 1000)


def test_stop_without_start_is_recorded(radiusd: Radiusd, subscriber: str, unique: str) -> None:
    before = usage(radiusd.stack, subscriber)
    sid = f"X{unique}"
    radiusd.nas().acct("Stop", subscriber, sid, input_octets=77, output_octets=88, session_time=30,
                       cause="Lost-Carrier")
    after = usage(radiusd.stack, subscriber)
    assert (after[0] - before[0], after[1] - before[1]) == (77, 88)
    row = session(radiusd.stack, sid)
    assert row is not None and row[:5] == (77, 88, 30, True, "Lost-Carrier")


def test_accounting_on_closes_the_nas_sessions(radiusd: Radiusd, subscriber: str, cli: Cli, unique: str) -> None:
    tenant = f"acct{unique}"
    assert cli("tenant", "add", tenant).code == 0
    assert cli("nas", "add", "reboots", "--tenant", tenant, "--address", "127.0.0.5", "--secret-stdin",
               stdin="rebooting-nas-secret\n").code == 0
    nas = radiusd.nas(secret="rebooting-nas-secret", source="127.0.0.5")
    for i in range(3):
        nas.acct("Start", f"user{i}", f"R{unique}{i}")
    nas.acct("Accounting-On")
    with psycopg.connect(radiusd.stack.database_url) as conn:
        open_rows = conn.execute(
            "SELECT count(*) FILTER (WHERE stopped_at IS NULL), count(*) FROM session_open o JOIN tenant t "
            "ON t.id = o.tenant_id WHERE t.name = %s", (tenant,)).fetchone()
        history = conn.execute(
            "SELECT count(*) FROM session s JOIN tenant t ON t.id = s.tenant_id WHERE t.name = %s "
            "AND s.terminate_cause = 'NAS-Reboot'", (tenant,)).fetchone()
    assert open_rows == (0, 3)
    assert history == (3,)


def test_malformed_accounting_is_acknowledged_and_logged(radiusd: Radiusd, subscriber: str) -> None:
    radiusd.log.mark()
    reply = radiusd.nas().acct("Interim-Update", subscriber, "")  # no Acct-Session-Id
    assert reply.code == 5  # Accounting-Response: nothing to retry, it can never be stored
    assert "event=malformed attribute=Acct-Session-Id problem=missing" in radiusd.log.since()


def test_counters_no_database_can_hold_are_acknowledged_and_logged(radiusd: Radiusd, subscriber: str, unique: str) -> None:
    # Acct-Output-Gigawords 0xFFFFFFFF: past what a bigint sum holds. Refused by name, acknowledged
    # (spooled, it would fail on every replay), and accounting carries on.
    radiusd.log.mark()
    reply = radiusd.nas().acct("Interim-Update", subscriber, f"G{unique}", output_octets=(2**32 - 1) << 32)
    assert reply.code == 5
    assert "event=malformed attribute=Acct-Output-Gigawords problem=\"out of range\"" in radiusd.log.since()
    before = usage(radiusd.stack, subscriber)
    radiusd.nas().acct("Stop", subscriber, f"G{unique}-ok", input_octets=10, output_octets=20, session_time=5)
    assert usage(radiusd.stack, subscriber)[:2] == (before[0] + 10, before[1] + 20)


def test_the_detail_spool_is_replayed_into_postgresql(radiusd: Radiusd, subscriber: str, unique: str) -> None:
    """The second line behind the journal: when the journal cannot be written (a full disk), the
    accounting section appends the request to the detail spool, and the cloudos_spool server
    replays it through rlm_cloudos. Here an entry is put there as rlm_detail writes one."""
    now = time.time()
    spool = radiusd.stack.radius_state / "spool" / "cloudos"
    entry = (
        time.strftime("%a %b %d %H:%M:%S %Y", time.localtime(now)) + "\n"
        "\tAcct-Status-Type = Stop\n"
        f'\tUser-Name = "{subscriber}"\n'
        f'\tAcct-Session-Id = "P{unique}"\n'
        "\tNAS-IP-Address = 127.0.0.1\n"
        "\tFramed-IP-Address = 10.9.8.7\n"
        "\tAcct-Input-Octets = 1234\n"
        "\tAcct-Output-Octets = 5678\n"
        "\tAcct-Session-Time = 60\n"
        '\tCloudOS-NAS-Address = "127.0.0.1"\n'
        f'\tAcct-Unique-Session-Id = "spool-{unique}"\n'
        f"\tTimestamp = {int(now)}\n\n")
    before = usage(radiusd.stack, subscriber)
    detail = spool / f"detail-{time.strftime('%Y%m%d%H', time.gmtime(now))}-test"
    detail.write_text(entry)
    os.chown(detail, spool.stat().st_uid, spool.stat().st_gid)  # radiusd's, as rlm_detail would leave it
    deadline = time.monotonic() + 20
    while session(radiusd.stack, f"P{unique}") is None:
        assert time.monotonic() < deadline, "the spooled entry was not replayed"
        time.sleep(0.2)
    journal_applied(radiusd.stack.acct_journal)
    assert session(radiusd.stack, f"P{unique}") == (1234, 5678, 60, True, None, "10.9.8.7")
    after = usage(radiusd.stack, subscriber)
    assert (after[0] - before[0], after[1] - before[1]) == (1234, 5678)


def test_stack_applied_returns_once_postgresql_has_what_radiusd_answered(radiusd: Radiusd, subscriber: str,
                                                                              unique: str) -> None:
    """What scripts/demo runs before showing the session: ``python -m cloudos_stack applied``."""
    from cloudos_stack.stack import main

    nas = radiusd.nas(applied=None)
    for k in range(20):
        assert nas.acct("Stop", subscriber, f"L{unique}-{k}", input_octets=k, session_time=1).code == 5
    assert main(["applied", str(radiusd.stack.state)]) == 0
    assert all(session(radiusd.stack, f"L{unique}-{k}") is not None for k in range(20))
