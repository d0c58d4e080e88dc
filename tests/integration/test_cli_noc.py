"""The NOC's commands through the real CLI and a real PostgreSQL (issue 12): tenant, nas, plan,
session, usage, audit and coa; errors in the user's terms, output in the tenant's time zone."""

from __future__ import annotations

import json
import os
from datetime import datetime, timezone
from typing import Any

import psycopg
import pytest

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
