"""The `cloudos` CLI against a real PostgreSQL: exit codes, one-line errors, secrets, audit."""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
from datetime import date, datetime, timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import psycopg
import pytest

from cloudos.cli import build_parser
from rlm_cloudos.crypto import KeyRing
from tests.conftest import open_cnic
from tests.conftest import run_cli as cli
from tests.fixtures.pg import fetch_one

CLOUDOS = str(Path(sys.executable).with_name("cloudos"))


def one_line(text: str) -> bool:
    return len(text.strip().splitlines()) == 1 and "Traceback" not in text


def walk(parser: argparse.ArgumentParser, prefix: tuple[str, ...] = ()) -> list[tuple[str, ...]]:
    found = [prefix]
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            for name, sub in action.choices.items():
                found += walk(sub, (*prefix, name))
    return found


@pytest.fixture
def tenant(fresh_db: str) -> str:
    r = cli("tenant", "add", "isp1")
    assert r.code == 0, r.err
    return "isp1"


@pytest.fixture
def plan(tenant: str) -> str:
    r = cli("plan", "add", "home", "--rate-limit", "2M/8M", "--quota", "50GB", "--fup-rate-limit", "512k/1M",
            "--price", "2500")
    assert r.code == 0, r.err
    return "home"


def audit_rows(url: str) -> list[tuple[Any, ...]]:
    with psycopg.connect(url) as conn:
        return conn.execute("SELECT id, actor, action, target, before, after FROM admin_audit ORDER BY id").fetchall()


# --------------------------------------------------------------------------- shape of the CLI
def test_every_subcommand_has_help() -> None:
    commands = walk(build_parser())
    assert len(commands) > 20
    for command in commands:
        r = cli(*command, "--help")
        assert r.code == 0, command
        assert "usage: cloudos" in r.out


def test_leaf_commands_take_json() -> None:
    leaves = [c for c in walk(build_parser()) if c and not any(c == d[:len(c)] and d != c for d in walk(build_parser()))]
    for command in leaves:
        assert "--json" in cli(*command, "--help").out, command


@pytest.mark.parametrize("argv", [
    ["nosuch"],
    ["plan", "add", "x", "--rate-limit", "fast"],
    ["plan", "add", "x"],
    ["plan", "add", "x", "--rate-limit", "1M/1M", "--quota", "lots"],
    ["tenant", "add", "bad name!"],
    ["tenant", "add", "x", "--timezone", "Mars/Olympus"],
    ["nas", "add", "n", "--address", "10.0.0.1/24", "--secret-stdin"],
    ["subscriber", "add", "u", "--plan", "p", "--password-stdin", "--mac", "nope"],
    ["subscriber", "add", "u", "--plan", "p", "--password-stdin", "--expires", "31-12-2026"],
    ["usage", "u", "--period", "2026-13"],
])
def test_bad_usage_is_one_line_and_exit_2(argv: list[str]) -> None:
    r = cli(*argv)
    assert r.code == 2
    assert r.out == ""
    assert one_line(r.err) and r.err.startswith("cloudos")


def test_entry_point_errors_without_traceback(tmp_path: Path) -> None:
    # Nothing listens on this port: the database is "down".
    env = dict(os.environ, CLOUDOS_DATABASE_URL="postgresql://cloudos@127.0.0.1:9/cloudos")
    r = subprocess.run([CLOUDOS, "tenant", "list"], env=env, capture_output=True, text=True, timeout=60)
    assert r.returncode == 1
    assert one_line(r.stderr) and "cannot use PostgreSQL" in r.stderr
    env.pop("CLOUDOS_DATABASE_URL")
    r = subprocess.run([CLOUDOS, "tenant", "list"], env=env, capture_output=True, text=True, timeout=60)
    assert r.returncode == 1 and one_line(r.stderr) and "CLOUDOS_DATABASE_URL" in r.stderr
    r = subprocess.run([CLOUDOS, "plan", "add", "x", "--rate-limit", "fast"], capture_output=True, text=True, timeout=60)
    assert r.returncode == 2 and one_line(r.stderr)


# --------------------------------------------------------------------------- schema
def test_migrate_is_idempotent_and_makes_partitions(fresh_db: str) -> None:
    head = json.loads(cli("db", "status", "--json").out)["head"]
    assert head == sorted(p.name[:4] for p in Path("schema/versions").glob("0*.py"))[-1]
    r = cli("db", "migrate", "--json")
    assert r.code == 0 and json.loads(r.out) == {"from": head, "to": head, "partitions_created": 0,
                                                     "passwords_reencrypted": 0, "cnics_moved": 0}
    r = cli("db", "status", "--json")
    assert json.loads(r.out)["up_to_date"] is True
    month = datetime.now(ZoneInfo("UTC")).strftime("y%Ym%m")
    with psycopg.connect(fresh_db) as conn:
        parts = {r[0] for r in conn.execute(
            "SELECT c.relname FROM pg_inherits i JOIN pg_class c ON c.oid = i.inhrelid "
            "JOIN pg_class p ON p.oid = i.inhparent WHERE p.relname IN ('session', 'auth_log')")}
    assert f"session_{month}" in parts and f"auth_log_{month}" in parts
    assert {"session_default", "auth_log_default"} <= parts


# --------------------------------------------------------------------------- tenants
def test_tenant_may_be_omitted_only_when_there_is_one(tenant: str) -> None:
    assert cli("plan", "add", "p1", "--rate-limit", "1M/1M").code == 0
    assert cli("tenant", "add", "isp2", "--timezone", "Asia/Dubai").code == 0
    r = cli("plan", "add", "p2", "--rate-limit", "1M/1M")
    assert r.code == 2 and "--tenant" in r.err and one_line(r.err)
    assert cli("plan", "add", "p2", "--rate-limit", "1M/1M", "--tenant", "isp2").code == 0
    r = cli("tenant", "list", "--json")
    assert [t["name"] for t in json.loads(r.out)] == ["isp1", "isp2"]


def test_operation_failures_exit_1(tenant: str) -> None:
    for argv in (["tenant", "add", "isp1"], ["subscriber", "show", "ghost"], ["nas", "remove", "ghost"],
                 ["plan", "update", "ghost", "--price", "1"], ["tenant", "set", "ghost", "--timezone", "UTC"]):
        r = cli(*argv)
        assert r.code == 1, argv
        assert one_line(r.err), r.err


def test_walled_garden_needs_both_settings(tenant: str) -> None:
    r = cli("tenant", "set", "isp1", "--walled-garden-list", "unpaid")
    assert r.code == 2 and one_line(r.err)
    r = cli("tenant", "set", "isp1", "--walled-garden-list", "unpaid", "--walled-garden-rate", "256k/256k", "--json")
    assert r.code == 0 and json.loads(r.out)["walled_garden_rate_limit"] == "256k/256k"


# --------------------------------------------------------------------------- NAS and secrets
def test_nas_secret_is_read_from_stdin_and_stored_encrypted(tenant: str, fresh_db: str) -> None:
    secret = "Very-Secret-NAS-Key-42"
    r = cli("nas", "add", "core", "--address", "10.20.0.1", "--secret-stdin", "--coa-port", "1700",
            stdin=secret + "\n")
    assert r.code == 0, r.err
    assert secret not in r.out + r.err
    with psycopg.connect(fresh_db) as conn:
        (blob,) = fetch_one(conn.execute("SELECT secret_enc FROM nas WHERE name = 'core'"))
        audit_text = json.dumps(conn.execute("SELECT before, after FROM admin_audit").fetchall())
    assert secret.encode() not in bytes(blob)
    assert KeyRing.load(os.environ["CLOUDOS_KEYRING"]).decrypt(blob, "nas.secret") == secret
    assert secret not in audit_text and "[redacted]" in audit_text
    r = cli("nas", "list", "--json")
    assert json.loads(r.out)[0]["coa_port"] == 1700 and secret not in r.out
    assert cli("nas", "add", "x", "--address", "10.30.0.1", stdin=secret).code == 2  # no --secret-stdin
    assert cli("nas", "add", "x", "--address", "10.30.0.1", "--secret-stdin", stdin="short\n").code == 2
    assert cli("nas", "add", "x", "--address", "10.30.0.1", "--secret-stdin", stdin="").code == 2


def test_nas_addresses_never_overlap_across_tenants(tenant: str) -> None:
    assert cli("nas", "add", "a", "--address", "10.0.0.0/24", "--secret-stdin", stdin="secret-secret-1\n").code == 0
    assert cli("tenant", "add", "isp2").code == 0
    r = cli("nas", "add", "b", "--tenant", "isp2", "--address", "10.0.0.77", "--secret-stdin",
            stdin="secret-secret-2\n")
    assert r.code == 1 and "overlaps NAS a" in r.err and one_line(r.err)


# --------------------------------------------------------------------------- plans
def test_plan_add_list_update(plan: str) -> None:
    r = cli("plan", "list", "--json")
    (row,) = json.loads(r.out)
    assert row["quota_bytes"] == 50 * 10**9 and row["rate_limit"] == "2M/8M" and row["price"] == "2500.00"
    r = cli("plan", "update", "home", "--rate-limit", "4M/16M", "--simultaneous-use", "2", "--json")
    assert r.code == 0 and json.loads(r.out)["simultaneous_use"] == 2
    r = cli("plan", "update", "home", "--no-quota")
    assert r.code == 1 and "FUP" in r.err  # a FUP without a quota makes no sense
    assert cli("plan", "update", "home", "--no-quota", "--no-fup").code == 0
    assert cli("plan", "update", "home").code == 2


# --------------------------------------------------------------------------- subscribers
def test_a_cnic_on_argv_is_refused(plan: str, fresh_db: str) -> None:
    """A CNIC on the command line is in /proc/PID/cmdline for every local user to read."""
    r = cli("subscriber", "add", "argv", "--plan", "home", "--password-stdin", "--cnic", "35202-9876543-9",
            stdin="pw-1234\n")
    assert r.code == 2 and "--cnic-stdin" in r.err and r.err.count("\n") == 1, r.err
    assert cli("subscriber", "show", "argv").code != 0


def test_subscriber_lifecycle(plan: str, fresh_db: str) -> None:
    password = "Zx9-subscriber-pw"
    r = cli("subscriber", "add", "ali", "--plan", "home", "--password-stdin", "--expires", "2026-12-31",
            "--mac", "aa:bb:cc:dd:ee:ff", "--static-ip", "10.9.0.5", "--name", "Ali Khan", "--phone", "+923001234567",
            "--cnic-stdin", stdin=password + "\n35202-9876543-9\n")
    assert r.code == 0, r.err
    assert password not in r.out
    shown = json.loads(cli("subscriber", "show", "ali", "--json").out)
    assert shown["paid_until"] == "2026-12-31"
    assert shown["expires_at"] == "2026-12-31T19:00:00Z"  # midnight Asia/Karachi
    assert shown["mac"] == "AA:BB:CC:DD:EE:FF" and shown["static_ip"] == "10.9.0.5"
    assert shown["cnic"].endswith("9") and "9876543" not in shown["cnic"]
    assert shown["usage"]["quota_bytes"] == 50 * 10**9 and shown["online_sessions"] == 0 and shown["sessions"] == []
    with psycopg.connect(fresh_db) as conn:
        tenant_id, pw_blob, cnic_blob = fetch_one(conn.execute("SELECT tenant_id, password_enc, cnic_enc FROM subscriber"))
    ring = KeyRing.load(os.environ["CLOUDOS_KEYRING"])
    assert ring.open_password(pw_blob, tenant_id, "ali") == password  # sealed to its tenant and username
    assert bytes(cnic_blob)[:2] == b"d1" and open_cnic(fresh_db, cnic_blob) == "35202-9876543-9"  # its data key

    assert cli("subscriber", "suspend", "ali", "--reason", "unpaid").code == 0
    assert json.loads(cli("subscriber", "list", "--status", "suspended", "--json").out)[0]["username"] == "ali"
    r = cli("subscriber", "suspend", "ali", "--reason", "second")  # suspending again: a no-op that says so
    assert r.code == 0 and "already suspended (unpaid)" in r.out, r
    assert json.loads(cli("subscriber", "show", "ali", "--json").out)["status_reason"] == "unpaid"
    assert cli("subscriber", "resume", "ali").code == 0
    r = cli("subscriber", "resume", "ali")  # not suspended: a no-op too
    assert r.code == 0 and "not suspended" in r.out, r
    assert cli("plan", "add", "big", "--rate-limit", "10M/50M").code == 0
    assert cli("subscriber", "set-plan", "ali", "big").code == 0
    assert json.loads(cli("subscriber", "show", "ali", "--json").out)["plan"] == "big"
    assert cli("subscriber", "set-plan", "ali", "nosuch").code == 1
    assert cli("subscriber", "set-password", "ali", "--password-stdin", stdin="new-password-1\n").code == 0
    with psycopg.connect(fresh_db) as conn:
        (pw_blob,) = fetch_one(conn.execute("SELECT password_enc FROM subscriber"))
    assert ring.open_password(pw_blob, tenant_id, "ali") == "new-password-1"
    r = cli("subscriber", "renew", "ali", "--until", "2027-01-15", "--json")
    assert r.code == 0 and json.loads(r.out)["paid_until"] == "2027-01-15"

    actions = [row[2] for row in audit_rows(fresh_db)]
    assert actions == ["db.migrate", "tenant.add", "plan.add", "subscriber.add", "subscriber.suspend",
                       "subscriber.resume", "plan.add", "subscriber.set_plan",
                       "subscriber.set_password", "subscriber.renew"]
    everything = json.dumps([row[4:] for row in audit_rows(fresh_db)])
    assert password not in everything and "new-password-1" not in everything and "9876543" not in everything


def test_renew_by_period_from_today_when_lapsed(plan: str) -> None:
    tz = ZoneInfo("Asia/Karachi")
    lapsed = datetime.now(tz).date() - timedelta(days=40)
    assert cli("subscriber", "add", "u1", "--plan", "home", "--password-stdin", "--expires", lapsed.isoformat(),
               stdin="pw-12345\n").code == 0
    r = cli("subscriber", "renew", "u1", "--json")
    today = datetime.now(tz).date()
    month_later = (today.replace(day=1) + timedelta(days=32)).replace(day=1)
    assert date.fromisoformat(json.loads(r.out)["paid_until"]) >= month_later - timedelta(days=4)
    assert cli("subscriber", "renew", "u1", "--until", "2001-01-01").code == 2


def test_password_must_come_from_stdin(plan: str) -> None:
    r = cli("subscriber", "add", "u2", "--plan", "home")
    assert r.code == 2 and "--password-stdin" in r.err
    r = cli("subscriber", "add", "u2", "--plan", "home", "--password-stdin", stdin="\n")
    assert r.code == 2 and "empty" in r.err
    r = cli("subscriber", "add", "u2", "--plan", "home", "--password-stdin", "--json", stdin="pw-u2-x\n")
    assert r.code == 0 and json.loads(r.out)["username"] == "u2"


def test_explain_uses_the_policy(plan: str) -> None:
    tz = ZoneInfo("Asia/Karachi")
    assert cli("subscriber", "add", "e1", "--plan", "home", "--password-stdin", "--expires", "2026-12-31",
               "--mac", "AA:BB:CC:00:00:01", stdin="pw-1234\n").code == 0
    r = cli("explain", "e1", "--at", "2026-12-31T23:59:59+05:00", "--json")
    data = json.loads(r.out)
    assert data["decision"] == "accept" and data["reason"] == "ok"
    assert {"attribute": "Session-Timeout", "value": "1"} in data["reply"]
    r = cli("explain", "e1", "--at", datetime(2027, 1, 1, tzinfo=tz).isoformat(), "--json")
    assert json.loads(r.out)["reason"] == "expired"
    r = cli("explain", "e1", "--mac", "AA:BB:CC:00:00:02", "--at", "2026-12-01T00:00:00+05:00", "--json")
    assert json.loads(r.out)["reason"] == "mac_mismatch"
    r = cli("explain", "nobody", "--json")
    assert json.loads(r.out)["reason"] == "unknown_user"
    # Without an offset, --at is the tenant's wall time: one second before Karachi's midnight.
    r = cli("explain", "e1", "--at", "2026-12-31T23:59:59", "--json")
    assert {"attribute": "Session-Timeout", "value": "1"} in json.loads(r.out)["reply"]
    assert json.loads(r.out)["at"] == "2026-12-31T18:59:59Z"
    r = cli("explain", "e1", "--at", "2027-01-01T00:00")
    assert r.code == 0 and "at 2027-01-01 00:00:00 PKT: REJECT (expired" in r.out, r.out
    r = cli("explain", "e1", "--at", "yesterday")
    assert r.code == 2 and one_line(r.err)


# --------------------------------------------------------------------------- audit
def test_audit_table_refuses_update_delete_truncate(tenant: str, fresh_db: str) -> None:
    with psycopg.connect(fresh_db, autocommit=True) as conn:
        for sql in ("UPDATE admin_audit SET actor = 'mallory'", "DELETE FROM admin_audit",
                    "TRUNCATE admin_audit"):
            with pytest.raises(psycopg.errors.InsufficientPrivilege, match="append-only"):
                conn.execute(sql)
    assert cli("audit", "verify").code == 0


def test_audit_verify_names_the_first_tampered_row(tenant: str, fresh_db: str) -> None:
    for name in ("p1", "p2", "p3"):
        assert cli("plan", "add", name, "--rate-limit", "1M/1M").code == 0
    r = cli("audit", "verify", "--json")
    assert r.code == 0 and json.loads(r.out)["rows"] == 5
    rows = audit_rows(fresh_db)
    victim = rows[3][0]
    # Only a superuser that disables the trigger can change a row; verify still notices.
    with psycopg.connect(fresh_db, autocommit=True) as conn:
        conn.execute("ALTER TABLE admin_audit DISABLE TRIGGER admin_audit_append_only")
        conn.execute("UPDATE admin_audit SET actor = 'mallory' WHERE id = %s", (victim,))
        conn.execute("ALTER TABLE admin_audit ENABLE TRIGGER admin_audit_append_only")
    r = cli("audit", "verify")
    assert r.code == 3 and one_line(r.err)
    assert f"row {victim}" in r.err and "altered" in r.err


def test_audit_verify_notices_a_removed_row(tenant: str, fresh_db: str) -> None:
    for name in ("p1", "p2"):
        assert cli("plan", "add", name, "--rate-limit", "1M/1M").code == 0
    rows = audit_rows(fresh_db)
    with psycopg.connect(fresh_db, autocommit=True) as conn:
        conn.execute("ALTER TABLE admin_audit DISABLE TRIGGER admin_audit_append_only")
        conn.execute("DELETE FROM admin_audit WHERE id = %s", (rows[2][0],))
        conn.execute("ALTER TABLE admin_audit ENABLE TRIGGER admin_audit_append_only")
    r = cli("audit", "verify")
    assert r.code == 3 and f"row {rows[3][0]}" in r.err and "removed" in r.err


def test_failed_command_writes_no_audit_row(tenant: str, fresh_db: str) -> None:
    before = len(audit_rows(fresh_db))
    assert cli("tenant", "add", "isp1").code == 1
    assert cli("subscriber", "add", "x", "--plan", "nosuch", "--password-stdin", stdin="pw-1234\n").code == 1
    assert len(audit_rows(fresh_db)) == before


def test_actor_comes_from_the_environment(tenant: str, fresh_db: str, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("CLOUDOS_ACTOR", "noc-karachi")
    assert cli("plan", "add", "p", "--rate-limit", "1M/1M").code == 0
    assert audit_rows(fresh_db)[-1][1] == "noc-karachi"


def test_key_ring_that_others_can_read_is_refused(plan: str, tmp_path: Path,
                                                  monkeypatch: pytest.MonkeyPatch) -> None:
    ring = tmp_path / "ring.json"
    KeyRing.create(ring)
    ring.chmod(0o644)
    monkeypatch.setenv("CLOUDOS_KEYRING", str(ring))
    r = cli("subscriber", "add", "k1", "--plan", "home", "--password-stdin", stdin="pw-1234\n")
    assert r.code == 1 and one_line(r.err) and "0600" in r.err


def test_cloudos_help_names_each_group_as_its_module_does() -> None:
    """`cloudos --help` lists GROUPS without importing the modules: each line must say what the
    module's own register() says, and every group a module registers must be in GROUPS."""
    from cloudos.cli import GROUPS

    (full,) = [a for a in build_parser()._actions if isinstance(a, argparse._SubParsersAction)]
    registered = {a.dest: a.help for a in full._choices_actions}
    assert registered == {name: help_ for name, (_, help_) in GROUPS.items()}
    (lazy,) = [a for a in build_parser([])._actions if isinstance(a, argparse._SubParsersAction)]
    assert [a.dest for a in lazy._choices_actions] == list(GROUPS)


def test_a_command_imports_only_its_own_group() -> None:
    code = ("import sys; from cloudos.cli import main\n"
            "try:\n    main(sys.argv[1:])\nexcept SystemExit:\n    pass\n"
            "print(sorted(m for m in ('sqlalchemy', 'alembic', 'redis', 'psycopg') if m in sys.modules))")
    def loaded(*argv: str) -> str:
        r = subprocess.run([sys.executable, "-c", code, *argv], capture_output=True, text=True, timeout=60,
                           env={**os.environ, "CLOUDOS_DATABASE_URL": "postgresql://nobody@127.0.0.1:1/none"})
        return r.stdout.strip().splitlines()[-1]

    assert loaded("--help") == "[]"
    assert "alembic" not in loaded("subscriber", "--help") and "redis" not in loaded("subscriber", "--help")
    assert "alembic" not in loaded("subscriber", "show", "x") and "redis" not in loaded("subscriber", "show", "x")
