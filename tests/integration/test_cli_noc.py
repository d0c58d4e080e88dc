"""The NOC's commands through the real CLI and a real PostgreSQL (issue 12): tenant, nas, plan,
session, usage, audit and coa; errors in the user's terms, output in the tenant's time zone."""

from __future__ import annotations

import json
import os
import time
from datetime import datetime, timedelta, timezone
from typing import Any
from zoneinfo import ZoneInfo

import psycopg
import pytest

from cloudos import show
from cloudos.commands import nas as nas_command
from cloudos_stack import free_port
from rlm_cloudos.crypto import KeyRing
from tests.conftest import run_cli as cli
from tests.fixtures.routeros import RouterOS


def one_line(text: str) -> bool:
    return len(text.strip().splitlines()) == 1 and "Traceback" not in text


@pytest.fixture
def tenant(fresh_db: str) -> str:
    r = cli("tenant", "add", "isp1")
    assert r.code == 0, r.err
    return "isp1"


def sql(url: str, query: str, *params: Any) -> list[tuple[Any, ...]]:
    with psycopg.connect(url, autocommit=True) as conn:
        cur = conn.execute(query, params)
        return cur.fetchall() if cur.description else []


# --------------------------------------------------------------------------- errors in the user's terms
@pytest.mark.parametrize(("argv", "words"), [
    # Issue 12: `violates check constraint "tenant_interim_interval_check"`, the range never stated.
    (["tenant", "add", "isp2", "--interim-interval", "5"], "from 60 to 86400"),
    (["tenant", "add", "isp2", "--interim-interval", "86401"], "from 60 to 86400"),
    # Issue 12: `integer out of range`.
    (["tenant", "add", "isp2", "--interim-interval", "999999999999"], "from 60 to 86400"),
    (["tenant", "set", "isp1", "--interim-interval", "5"], "from 60 to 86400"),
    (["tenant", "set", "isp1", "--login-fail-limit", "999999999999"], "from 1 to 2147483647"),
    (["tenant", "set", "isp1", "--backend-down-cache-seconds", "999999999999"], "from 0 to 2147483647"),
    (["plan", "add", "p", "--rate-limit", "1M/1M", "--simultaneous-use", "5000"], "from 1 to 1000"),
    (["plan", "add", "p", "--rate-limit", "1M/1M", "--simultaneous-use", "999999999999"], "from 1 to 1000"),
    # Issue 12: `bigint out of range`.
    (["plan", "add", "p", "--rate-limit", "1M/1M", "--quota", "99999999999999999999"], "at most 1000TB"),
    (["plan", "add", "p", "--rate-limit", "1M/1M", "--quota", "5000TB"], "at most 1000TB"),
    (["session", "list", "--limit", "999999999999"], "from 1 to 2147483647"),
    (["audit", "list", "--limit", "999999999999"], "from 1 to 2147483647"),
    (["coa", "list", "--limit", "999999999999"], "from 1 to 2147483647"),
    (["nas", "set", "core", "--coa-port", "999999999999"], "from 1 to 65535"),
    (["nas", "add", "x", "--address", "10.1.1.1", "--secret-stdin", "--coa-port", "0"], "from 1 to 65535"),
    # Issue 12: `--rate-limit 8m/2m` had no hint; 99999999999M/1M passed.
    (["plan", "add", "p", "--rate-limit", "8m/2m"], "RouterOS units are k and M (and G)"),
    (["plan", "add", "p", "--rate-limit", "99999999999M/1M"], "above 100G"),
    (["tenant", "set", "isp1", "--walled-garden-list", "garden", "--walled-garden-rate", "99999999999M/1M"],
     "above 100G"),
    # Issue 12: a 5,000-character address list was accepted and silently lost from the Access-Accept.
    (["plan", "add", "p", "--rate-limit", "1M/1M", "--address-list", "x" * 5000], "at most 247"),
    (["plan", "add", "p", "--rate-limit", "1M/1M", "--address-list", "x" * 248], "at most 247"),
    (["plan", "add", "p", "--rate-limit", "1M/1M", "--ip-pool", "p" * 254], "at most 253"),
    (["plan", "add", "p", "--rate-limit", "1M/1M", "--address-list", "bad\nname"], "printable"),
    (["tenant", "set", "isp1", "--walled-garden-list", "g" * 1000, "--walled-garden-rate", "256k/256k"],
     "at most 247"),
])
def test_out_of_range_options_are_refused_in_the_users_terms(tenant: str, argv: list[str], words: str) -> None:
    r = cli(*argv)
    assert r.code == 2, (argv, r.out, r.err)
    assert one_line(r.err) and words in r.err, r.err
    assert "constraint" not in r.err and "out of range:" not in r.err.split("error:")[0]


def test_quota_50g_is_50gb_and_the_help_says_so(tenant: str) -> None:
    # Issue 12: `--quota 50G` was refused.
    r = cli("plan", "add", "home", "--rate-limit", "2M/8M", "--quota", "50G", "--json")
    assert r.code == 0, r.err
    assert json.loads(r.out)["quota_bytes"] == 50 * 10**9
    assert "50G = 50GB" in " ".join(cli("plan", "add", "--help").out.split())


def test_values_at_the_edges_of_their_ranges_pass(tenant: str) -> None:
    assert cli("tenant", "add", "isp2", "--interim-interval", "60").code == 0
    assert cli("tenant", "set", "isp2", "--interim-interval", "86400").code == 0
    r = cli("plan", "add", "p", "--tenant", "isp1", "--rate-limit", "100G/100G", "--quota", "1000TB",
            "--simultaneous-use", "1000", "--address-list", "x" * 247, "--ip-pool", "p" * 253)
    assert r.code == 0, r.err


# --------------------------------------------------------------------------- the lifecycle: tenant, NAS, plan
ACCOUNT = ("SELECT result FROM cloudos_account(%s::inet, %s, %s, %s, %s, %s, %s, %s, %s, %s::inet, %s, %s, %s)")
SECRET = "nas-secret-0123"


def online(url: str, nas: str, uid: str, user: str, *, status: str = "Start", down: int = 0, up: int = 0,
           secs: int = 0, ip: str = "100.64.0.7", at: datetime | None = None) -> None:
    """An Accounting-Request through the schema's own cloudos_account(), as radiusd applies it."""
    (row,) = sql(url, ACCOUNT, nas, uid, status, user, uid, at or datetime.now(timezone.utc), up, down, secs, ip,
                 "AA:BB:CC:DD:EE:01", "pppoe-1", None)
    assert row[0] in ("start", "interim", "stop", "ok"), row


@pytest.fixture
def coa_port() -> int:
    return free_port()


@pytest.fixture
def world(tenant: str, coa_port: int) -> str:
    """isp1 with NAS core (127.0.0.1, CoA to coa_port), plan home and subscribers ali and sara."""
    steps: list[tuple[tuple[str, ...], str | None]] = [
        (("nas", "add", "core", "--address", "127.0.0.1", "--coa-port", str(coa_port), "--secret-stdin",
          "--description", "Gulberg POP"), SECRET + "\n"),
        (("plan", "add", "home", "--rate-limit", "2M/8M", "--quota", "100GB", "--fup-rate-limit", "512k/1M"), None),
        (("subscriber", "add", "ali", "--plan", "home", "--password-stdin"), "pw-ali-123\n"),
        (("subscriber", "add", "sara", "--plan", "home", "--password-stdin"), "pw-sara-123\n"),
    ]
    for argv, stdin in steps:
        r = cli(*argv, stdin=stdin)
        assert r.code == 0, (argv, r.err)
    return tenant


def test_tenant_show(world: str) -> None:
    # Issue 12: there was no `tenant show`.
    r = cli("tenant", "show", "isp1", "--json")
    assert r.code == 0, r.err
    t = json.loads(r.out)
    assert (t["tenant"], t["name"], t["timezone"], t["interim_interval"]) == ("isp1", "isp1", "Asia/Karachi", 300)
    assert (t["nas"], t["plans"], t["subscribers"], t["online_sessions"]) == (1, 1, 2, 0)
    assert t["created_at"].endswith("Z") and "." not in t["created_at"]
    human = cli("tenant", "show", "isp1").out
    assert "PKT" in human and "Asia/Karachi" in human and "subscribers 2" in human
    assert cli("tenant", "show", "ghost").code == 1


def test_lists_give_id_and_tenant_and_times_in_utc(world: str) -> None:
    for group in ("tenant", "nas", "plan"):
        rows = json.loads(cli(group, "list", "--json").out)
        assert rows and all(isinstance(r["id"], int) and r["tenant"] == "isp1" for r in rows), (group, rows)
        assert all(r["created_at"].endswith("Z") for r in rows), rows
        human = cli(group, "list").out
        assert ("PKT" in human or group == "plan") and "+00:00" not in human and "T0" not in human, human


def test_nas_address_in_show_and_json(world: str, coa_port: int) -> None:
    # Issue 12: a NAS's address appeared in neither `show` nor --json.
    (row,) = json.loads(cli("nas", "list", "--json").out)
    assert row["address"] == "127.0.0.1" and row["online_sessions"] == 0
    r = cli("nas", "show", "core", "--json")
    assert r.code == 0, r.err
    shown = json.loads(r.out)
    assert (shown["address"], shown["coa_port"], shown["description"]) == ("127.0.0.1", coa_port, "Gulberg POP")
    assert SECRET not in r.out and "secret" not in shown
    human = cli("nas", "show", "core").out
    assert "127.0.0.1" in human and f"{coa_port}" in human and "IPv4Network" not in human
    assert cli("nas", "add", "edge", "--address", "10.9.0.0/24", "--secret-stdin", stdin=SECRET + "\n").code == 0
    assert json.loads(cli("nas", "show", "edge", "--json").out)["address"] == "10.9.0.0/24"


def test_nas_set_rotates_the_secret_sealed_and_audited_without_it(world: str, fresh_db: str) -> None:
    # Issue 12: no `nas set` to rotate a secret or change the CoA port.
    new = "rotated-secret-4567"
    r = cli("nas", "set", "core", "--secret-stdin", "--coa-port", "1700", "--description", "Gulberg POP 2",
            "--json", stdin=new + "\n")
    assert r.code == 0, r.err
    assert json.loads(r.out)["coa_port"] == 1700 and new not in r.out + r.err
    ((blob, port),) = sql(fresh_db, "SELECT secret_enc, coa_port FROM nas WHERE name = 'core'")
    assert KeyRing.load(os.environ["CLOUDOS_KEYRING"]).decrypt(bytes(blob), "nas.secret") == new and port == 1700
    ((action, before, after, changed),) = sql(
        fresh_db, "SELECT action, before, after, changed FROM admin_audit ORDER BY id DESC LIMIT 1")
    assert action == "nas.set" and "secret" in changed and "coa_port" in changed
    assert before["secret"] == after["secret"] == "[redacted]" and new not in json.dumps([before, after])
    assert cli("nas", "set", "core").code == 2  # nothing to change
    assert cli("nas", "set", "core", "--secret-stdin", stdin="short\n").code == 2
    assert cli("nas", "set", "ghost", "--coa-port", "1700").code == 1


def test_nas_set_address_is_checked_like_add(world: str) -> None:
    assert cli("nas", "add", "edge", "--address", "10.9.0.1", "--secret-stdin", stdin=SECRET + "\n").code == 0
    r = cli("nas", "set", "core", "--address", "10.9.0.0/24")
    assert r.code == 1 and "overlaps NAS edge" in r.err and one_line(r.err), r.err
    r = cli("nas", "set", "core", "--address", "0.0.0.0/0")
    assert r.code == 2 and "cannot change NAS" in r.err and one_line(r.err), r.err
    r = cli("nas", "set", "core", "--address", "10.9.0.2", "--json")
    assert r.code == 0 and json.loads(r.out)["address"] == "10.9.0.2", r.err
    assert cli("nas", "set", "edge", "--address", "10.9.0.1").code == 0  # its own address is no overlap


def test_nas_remove_is_refused_while_sessions_are_online(world: str, fresh_db: str) -> None:
    # Issue 12: `nas remove` of a NAS with online sessions succeeded silently.
    online(fresh_db, "127.0.0.1", "u-ali-1", "ali")
    online(fresh_db, "127.0.0.1", "u-sara-1", "sara")
    r = cli("nas", "remove", "core")
    assert r.code == 1 and one_line(r.err), r.err
    assert "2 session(s) online" in r.err and "--force" in r.err
    assert sql(fresh_db, "SELECT count(*) FROM nas") == [(1,)]


def test_nas_remove_force_disconnects_first_and_leaves_nothing_queued(world: str, fresh_db: str,
                                                                       coa_port: int) -> None:
    # Issue 12: Disconnects were later queued to the deleted NAS.
    online(fresh_db, "127.0.0.1", "u-ali-1", "ali", ip="100.64.0.7")
    online(fresh_db, "127.0.0.1", "u-sara-1", "sara", ip="100.64.0.8")
    assert cli("session", "disconnect", "ali").code == 0  # queued, never sent: no worker runs
    router = RouterOS("127.0.0.1", coa_port, SECRET)
    try:
        r = cli("nas", "remove", "core", "--force", "--json")
        assert r.code == 0, r.err
        got = [router.expect(5), router.expect(5)]
    finally:
        router.close()
    assert all(g.authentic and g.code == 40 for g in got)  # Disconnect-Request, signed with the NAS's secret
    assert sorted(g.one("User-Name") for g in got) == ["ali", "sara"]
    assert sorted(g.one("Framed-IP-Address") for g in got) == ["100.64.0.7", "100.64.0.8"]
    out = json.loads(r.out)
    assert out["sessions_closed"] == 2 and out["disconnect"] == {"acked": 2, "naked": 0, "unanswered": 0}
    assert out["requests_cancelled"] == 1
    assert sql(fresh_db, "SELECT count(*) FROM nas") == [(0,)]
    assert sql(fresh_db, "SELECT count(*) FROM session_open WHERE stopped_at IS NULL") == [(0,)]
    assert sql(fresh_db, "SELECT count(*) FROM coa_outbox WHERE status = 'pending'") == [(0,)]
    assert sql(fresh_db, "SELECT status, result FROM coa_outbox") == [("cancelled", "NAS core removed")]
    # Nothing can be queued to it afterwards either: its sessions are closed.
    assert cli("session", "disconnect", "ali").code == 1


def test_nas_remove_force_with_a_silent_nas_still_removes_it(world: str, fresh_db: str, coa_port: int) -> None:
    online(fresh_db, "127.0.0.1", "u-ali-1", "ali")
    router = RouterOS("127.0.0.1", coa_port, SECRET)
    router.mode = "silent"
    try:
        r = cli("nas", "remove", "core", "--force")
    finally:
        router.close()
    assert r.code == 0 and "1 unanswered" in r.out, r.out + r.err
    assert sql(fresh_db, "SELECT count(*) FROM session_open WHERE stopped_at IS NULL") == [(0,)]


def test_plan_remove_is_refused_while_subscribers_are_on_it(world: str, fresh_db: str) -> None:
    # Issue 12: there was no plan delete.
    r = cli("plan", "remove", "home")
    assert r.code == 1 and one_line(r.err) and "2 subscriber(s)" in r.err and "2 active" in r.err, r.err
    assert cli("plan", "add", "spare", "--rate-limit", "1M/1M").code == 0
    shown = json.loads(cli("plan", "show", "home", "--json").out)
    assert shown["subscribers"] == 2 and shown["quota_bytes"] == 100 * 10**9
    assert "100GB/monthly" in cli("plan", "show", "home").out
    r = cli("plan", "remove", "spare", "--json")
    assert r.code == 0 and json.loads(r.out)["name"] == "spare", r.err
    assert [row[0] for row in sql(fresh_db, "SELECT name FROM plan")] == ["home"]
    assert sql(fresh_db, "SELECT action FROM admin_audit ORDER BY id DESC LIMIT 1") == [("plan.remove",)]
    assert cli("plan", "remove", "spare").code == 1


# --------------------------------------------------------------------------- sessions and usage, as a NOC reads them
NOV = datetime(2026, 11, 20, 9, 0, tzinfo=timezone.utc)


def test_session_list_in_tenant_time_with_readable_sizes(world: str, fresh_db: str) -> None:
    # Issue 12: `session list` printed 107374183400B and UTC instants with microseconds.
    started = datetime.now(timezone.utc).replace(microsecond=123456) - timedelta(hours=2)
    online(fresh_db, "127.0.0.1", "u-ali-1", "ali", at=started)
    online(fresh_db, "127.0.0.1", "u-ali-1", "ali", status="Interim-Update", down=107_374_183_400, up=1_234_567,
           secs=7260, at=started + timedelta(seconds=7260))
    human = cli("session", "list").out
    assert "107.37GB" in human and "1.23MB" in human and "2h01m" in human, human
    assert show.local(started, "Asia/Karachi") in human and "PKT" in human and "+00:00" not in human, human
    assert "AA:BB:CC:DD:EE:01" in human and "online" in human
    (row,) = json.loads(cli("session", "list", "--json").out)
    assert row["id"] == "u-ali-1" and row["tenant"] == "isp1" and row["online"] is True
    assert row["mac"] == "AA:BB:CC:DD:EE:01" and "calling_station_id" not in row
    assert row["session_seconds"] == 7260 and "session_time" not in row
    assert (row["download_bytes"], row["upload_bytes"]) == (107_374_183_400, 1_234_567)
    assert row["started_at"] == started.replace(microsecond=0).isoformat().replace("+00:00", "Z")


def test_usage_names_the_period_in_tenant_time(world: str, fresh_db: str) -> None:
    # Issue 12: `usage` printed `113454184400B of 100GB` "from 2026-10-31T19:00:00+00:00".
    online(fresh_db, "127.0.0.1", "u-ali-nov", "ali", at=NOV)
    online(fresh_db, "127.0.0.1", "u-ali-nov", "ali", status="Stop", down=100_000_000_000, up=13_454_184_400,
           secs=3600, at=NOV + timedelta(hours=1))
    r = cli("usage", "ali", "--period", "2026-11")
    assert r.code == 0, r.err
    assert "ali: 113.45GB of 100GB in November 2026 (2026-11-01 00:00 PKT to 2026-12-01 00:00 PKT)" in r.out, r.out
    assert "download 100GB, upload 13.45GB, online 1h00m" in r.out, r.out
    u = json.loads(cli("usage", "ali", "--period", "2026-11", "--json").out)
    assert (u["period"], u["period_start"], u["period_end"]) == ("November 2026", "2026-10-31T19:00:00Z",
                                                                 "2026-11-30T19:00:00Z")
    assert (u["total_bytes"], u["session_seconds"], u["tenant"]) == (113_454_184_400, 3600, "isp1")
    assert u["history"][0]["period"] == "November 2026"
    # A time without an offset is the tenant's wall time: 23:30 on 30 November in Karachi is November
    # (read as UTC it would be 04:30 on 1 December in Karachi).
    late = json.loads(cli("usage", "ali", "--period", "2026-11-30T23:30", "--json").out)
    assert late["period"] == "November 2026" and late["total_bytes"] == 113_454_184_400
    early = json.loads(cli("usage", "ali", "--period", "2026-12-01T00:30", "--json").out)
    assert early["period"] == "December 2026" and early["total_bytes"] == 0
    r = cli("usage", "ali", "--period", "2026-11-31T10:00")
    assert r.code == 2 and one_line(r.err)


# --------------------------------------------------------------------------- repeats and the CoA queue
def test_a_second_disconnect_queues_nothing_new(world: str, fresh_db: str) -> None:
    # Issue 12: three `session disconnect` calls queued three requests.
    online(fresh_db, "127.0.0.1", "u-ali-1", "ali")
    first = cli("session", "disconnect", "ali", "--json")
    assert first.code == 0 and json.loads(first.out)["queued"] == 1, first.err
    second = cli("session", "disconnect", "ali")
    assert second.code == 0 and "already queued" in second.out, second.out + second.err
    assert json.loads(cli("session", "disconnect", "u-ali-1", "--json").out) == {
        "queued": 0, "already_queued": 1, "sessions": ["u-ali-1"]}
    # Sent and unanswered is still the request: the worker sends it again until the session closes.
    sql(fresh_db, "UPDATE coa_outbox SET attempts = 3, result = 'no answer'")
    assert json.loads(cli("session", "disconnect", "ali", "--json").out)["queued"] == 0
    assert sql(fresh_db, "SELECT count(*) FROM coa_outbox") == [(1,)]
    assert [a for (a,) in sql(fresh_db, "SELECT action FROM admin_audit")].count("session.disconnect") == 1
    # Once the NAS answered and the session is still there, a new request is a new request.
    sql(fresh_db, "UPDATE coa_outbox SET status = 'nak', done_at = now()")
    assert json.loads(cli("session", "disconnect", "ali", "--json").out)["queued"] == 1


def test_coa_list_names_the_states_honestly(world: str, fresh_db: str) -> None:
    # Issue 12: no way to list queued/sent CoA requests.
    for uid, user in (("u-ali-1", "ali"), ("u-sara-1", "sara")):
        online(fresh_db, "127.0.0.1", uid, user)
    for _ in range(7):
        sql(fresh_db, "SELECT cloudos_queue_coa_sessions(%s, 'disconnect', NULL, 'admin')", ["u-ali-1"])
    sql(fresh_db, "SELECT cloudos_queue_coa_sessions(%s, 'coa', '512k/1M', 'quota_exhausted')", ["u-sara-1"])
    ids = [i for (i,) in sql(fresh_db, "SELECT id FROM coa_outbox ORDER BY id")]
    for i, (status, attempts) in zip(ids[1:], [("pending", 2), ("ack", 1), ("nak", 1), ("timeout", 5),
                                                ("failed", 1), ("cancelled", 2)]):
        sql(fresh_db, "UPDATE coa_outbox SET status = %s, attempts = %s, done_at = CASE WHEN %s <> 'pending' "
                      "THEN now() END, result = 'r' WHERE id = %s", status, attempts, status, i)
    rows = json.loads(cli("coa", "list", "--json").out)
    assert [r["id"] for r in rows] == ids[::-1]
    assert [r["status"] for r in rows] == ["queued", "cancelled", "failed", "timeout", "naked", "acked", "sent",
                                           "queued"]
    top = rows[0]
    assert (top["kind"], top["username"], top["rate_limit"], top["nas"], top["tenant"], top["reason"]) == (
        "coa", "sara", "512k/1M", "core", "isp1", "quota_exhausted")
    assert top["created_at"].endswith("Z") and top["next_attempt_at"].endswith("Z") and top["done_at"] is None
    for name, want in (("queued", 2), ("sent", 1), ("acked", 1), ("naked", 1), ("failed", 1), ("timeout", 1),
                       ("cancelled", 1)):
        got = json.loads(cli("coa", "list", "--status", name, "--json").out)
        assert len(got) == want and {r["status"] for r in got} == {name}, (name, got)
    assert [r["username"] for r in json.loads(cli("coa", "list", "--user", "sara", "--json").out)] == ["sara"]
    assert len(json.loads(cli("coa", "list", "--limit", "3", "--json").out)) == 3
    human = cli("coa", "list", "--status", "queued").out
    assert "PKT" in human and "sara" in human and "disconnect" in human, human
    assert cli("coa", "list", "--status", "pending").code == 2


# --------------------------------------------------------------------------- the audit trail
def test_audit_list_gives_before_and_after_as_stored_and_filters(world: str, fresh_db: str) -> None:
    # Issue 12: `audit list --json` had no before/after and no filters.
    assert cli("subscriber", "add", "zara", "--plan", "home", "--password-stdin", "--name", "Zara Khan",
               "--phone", "+923001234567", stdin="pw-zara-123\n").code == 0
    assert cli("subscriber", "suspend", "ali", "--reason", "unpaid").code == 0
    online(fresh_db, "127.0.0.1", "u-sara-1", "sara")
    assert cli("session", "disconnect", "sara").code == 0
    rows = json.loads(cli("audit", "list", "--limit", "100", "--json").out)
    stored = {i: (b, a) for i, b, a in sql(fresh_db, "SELECT id, before, after FROM admin_audit")}
    assert all((r["before"], r["after"]) == stored[r["id"]] for r in rows)  # exactly as the trail holds them
    zara = next(r for r in rows if r["action"] == "subscriber.add" and r["target"].endswith("/zara"))
    assert zara["after"]["full_name"].startswith("hmac-sha256:") and "Zara" not in json.dumps(rows)
    assert zara["after"]["password"] == "[redacted]" and zara["tenant"] == "isp1" and zara["at"].endswith("Z")
    nas_add = next(r for r in rows if r["action"] == "nas.add")
    assert nas_add["after"]["secret"] == "[redacted]" and SECRET not in json.dumps(rows)

    def actions(*argv: str) -> list[str]:
        r = cli("audit", "list", "--json", *argv)
        assert r.code == 0, r.err
        return [x["action"] for x in json.loads(r.out)]

    assert actions("--user", "ali") == ["subscriber.suspend", "subscriber.add"]
    assert actions("--user", "sara") == ["session.disconnect", "subscriber.add"]
    assert actions("--user", "sara", "--tenant", "isp1") == ["session.disconnect", "subscriber.add"]
    assert set(actions("--action", "subscriber.")) == {"subscriber.add", "subscriber.suspend"}
    assert actions("--action", "subscriber.suspend") == ["subscriber.suspend"]
    assert actions("--action", "subscriber_") == []  # a prefix, not a LIKE pattern
    assert len(actions("--tenant", "isp1")) == len([r for r in rows if r["tenant"] == "isp1"]) == len(rows) - 1
    # --since without an offset is Karachi's wall time: a minute ago there includes the latest rows,
    # and read as UTC it would be five hours ahead and include none.
    karachi = datetime.now(ZoneInfo("Asia/Karachi")).replace(tzinfo=None) - timedelta(minutes=1)
    assert "session.disconnect" in actions("--since", karachi.isoformat(timespec="seconds"))
    assert actions("--since", (karachi + timedelta(hours=1)).isoformat(timespec="seconds")) == []
    r = cli("audit", "list", "--since", "yesterday")
    assert r.code == 2 and "--since" in r.err and one_line(r.err)
    human = cli("audit", "list", "--user", "ali").out
    assert "PKT" in human and "subscriber.suspend" in human and "+00:00" not in human, human


def test_change_messages_read_as_set(world: str) -> None:
    r = cli("plan", "update", "home", "--quota", "1.5GiB")
    assert r.code == 0 and "quota_bytes=1.5GiB" in r.out, r.out + r.err
    r = cli("tenant", "set", "isp1", "--walled-garden-list", "unpaid", "--walled-garden-rate", "256k/256k")
    assert r.code == 0 and "walled_garden_address_list=unpaid" in r.out
    r = cli("tenant", "set", "isp1", "--no-walled-garden")
    assert r.code == 0 and "walled_garden_address_list=none" in r.out, r.out


def test_plan_rename_onto_another_plan_is_refused_in_the_users_terms(world: str) -> None:
    assert cli("plan", "add", "spare", "--rate-limit", "1M/1M").code == 0
    r = cli("plan", "update", "spare", "--rename", "home")
    assert r.code == 1 and one_line(r.err) and "plan 'home' already exists" in r.err, r.err
    assert "duplicate key" not in r.err


def test_nas_remove_force_sends_in_waves_and_stops_at_a_silent_nas(world: str, fresh_db: str, coa_port: int,
                                                                    monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(nas_command, "FORCE_BATCH", 2)
    for i in range(5):
        online(fresh_db, "127.0.0.1", f"u-ali-{i}", "ali", ip=f"100.64.0.{i + 10}")
    router = RouterOS("127.0.0.1", coa_port, SECRET)
    try:
        r = cli("nas", "remove", "core", "--force", "--json")
        got = [router.expect(5) for _ in range(5)]
    finally:
        router.close()
    assert r.code == 0 and json.loads(r.out)["disconnect"] == {"acked": 5, "naked": 0, "unanswered": 0}, r.err
    assert len({g.one("Acct-Session-Id") for g in got}) == 5

    assert cli("nas", "add", "core", "--address", "127.0.0.1", "--coa-port", str(coa_port), "--secret-stdin",
               stdin=SECRET + "\n").code == 0
    for i in range(5):
        online(fresh_db, "127.0.0.1", f"u-sara-{i}", "sara", ip=f"100.64.1.{i + 10}")
    router = RouterOS("127.0.0.1", coa_port, SECRET)
    router.mode = "silent"
    try:
        started = time.monotonic()
        r = cli("nas", "remove", "core", "--force", "--json")
        took = time.monotonic() - started
        assert router.expect(1) and router.expect(1)  # the first wave, sent twice each (tries)
    finally:
        router.close()
    assert r.code == 0 and json.loads(r.out)["disconnect"] == {"acked": 0, "naked": 0, "unanswered": 5}, r.err
    assert took < 2 * nas_command.FORCE_TIMEOUT * nas_command.FORCE_TRIES, took  # one wave's wait, not three
    assert json.loads(r.out)["sessions_closed"] == 5


def test_the_new_commands_work_under_the_clis_own_login(world: str, fresh_db: str, coa_port: int,
                                                         monkeypatch: pytest.MonkeyPatch) -> None:
    """The CLI logs in as cloudos_admin (schema 0012), not as the owner the other tests use."""
    admin = fresh_db.replace("postgresql://cloudos@", "postgresql://admin@")
    assert admin != fresh_db
    monkeypatch.setenv("CLOUDOS_DATABASE_URL", admin)
    online(fresh_db, "127.0.0.1", "u-ali-1", "ali")
    for argv in (("tenant", "show", "isp1"), ("nas", "show", "core"), ("plan", "show", "home"),
                 ("session", "list"), ("usage", "ali"), ("session", "disconnect", "ali"),
                 ("session", "disconnect", "ali"), ("coa", "list", "--status", "queued"),
                 ("audit", "list", "--user", "ali", "--since", "2026-01-01T00:00"),
                 ("nas", "set", "core", "--description", "x"), ("plan", "add", "spare", "--rate-limit", "1M/1M"),
                 ("plan", "remove", "spare")):
        r = cli(*argv, "--json")
        assert r.code == 0, (argv, r.err)
    assert sql(fresh_db, "SELECT db_user FROM admin_audit ORDER BY id DESC LIMIT 1") == [("admin",)]
    router = RouterOS("127.0.0.1", coa_port, SECRET)
    try:
        r = cli("nas", "remove", "core", "--force", "--json")
        router.expect(5)
    finally:
        router.close()
    assert r.code == 0, r.err
    assert json.loads(r.out)["sessions_closed"] == 1


def test_nas_remove_force_also_disconnects_a_login_that_raced_it(world: str, fresh_db: str, coa_port: int,
                                                                  monkeypatch: pytest.MonkeyPatch) -> None:
    online(fresh_db, "127.0.0.1", "u-ali-1", "ali")
    send = nas_command._disconnect_all
    calls: list[int] = []

    def racing(ctx: Any, row: Any, sessions: Any) -> dict[str, int]:
        calls.append(len(sessions))
        if len(calls) == 1:  # sara logs in while the first Disconnects are in flight
            online(fresh_db, "127.0.0.1", "u-sara-1", "sara")
        return send(ctx, row, sessions)

    monkeypatch.setattr(nas_command, "_disconnect_all", racing)
    router = RouterOS("127.0.0.1", coa_port, SECRET)
    try:
        r = cli("nas", "remove", "core", "--force", "--json")
        got = sorted(router.expect(5).one("User-Name") for _ in range(2))
    finally:
        router.close()
    assert r.code == 0, r.err
    assert calls == [1, 1] and got == ["ali", "sara"]
    out = json.loads(r.out)
    assert out["sessions_closed"] == 2 and out["disconnect"] == {"acked": 2, "naked": 0, "unanswered": 0}
