"""Each program's database login can do what it needs and nothing more (schema 0012).

Every check connects with the URL the program is actually given: radiusd's environment
(Stack.radiusd_env), the worker's (CLOUDOS_WORKER_DATABASE_URL) and the CLI's
(CLOUDOS_DATABASE_URL), so a program left on the owner's login fails here.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any, LiteralString

import psycopg
import pytest
from psycopg import errors

from cloudos_stack import Stack
from tests.conftest import Cli

PERSONAL = ("cnic_enc", "phone", "email", "postal_address", "full_name")
#: What no program's login may do: each a statement and why it matters.
FORBIDDEN_TO_ALL = {
    "disable the audit trigger": "ALTER TABLE admin_audit DISABLE TRIGGER admin_audit_append_only",
    "create a table": "CREATE TABLE intruder (i integer)",
    "create a temporary table": "CREATE TEMPORARY TABLE intruder (i integer)",
    "create a function": "CREATE FUNCTION intruder() RETURNS integer LANGUAGE sql AS 'SELECT 1'",
    "run a program on the database host": "COPY (SELECT 1) TO PROGRAM 'true'",
    "read a server file": "SELECT pg_read_file('postgresql.conf')",
    "edit the audit trail": "UPDATE admin_audit SET actor = 'someone else'",
    "truncate a table": "TRUNCATE session_open",
}


def connect(url: str) -> psycopg.Connection[Any]:
    return psycopg.connect(url, autocommit=True, connect_timeout=5)


def refused(conn: psycopg.Connection[Any], statement: LiteralString) -> bool:
    try:
        conn.execute(statement)
    except errors.InsufficientPrivilege:
        return True
    return False


@pytest.fixture(scope="module")
def subscriber(stack: Stack, cli: Cli) -> Iterator[None]:
    """A subscriber with every personal field set, and an audit row, for the reads below to find."""
    for argv, stdin in (
        (("tenant", "add", "roles-isp"), None),
        (("plan", "add", "roles-plan", "--tenant", "roles-isp", "--rate-limit", "1M/1M"), None),
        (("subscriber", "add", "roles-sub", "--tenant", "roles-isp", "--plan", "roles-plan", "--password-stdin",
          "--phone", "+92 300 1234567", "--email", "a@example.pk", "--address", "1 Mall Road", "--name", "A B",
          "--cnic-stdin"), "pw-123456\n35202-1234567-1\n"),
    ):
        r = cli(*argv, stdin=stdin)
        assert r.code == 0, (argv, r.err)
    yield


@pytest.mark.parametrize("program", ["radiusd", "worker", "cli"])
def test_no_program_logs_in_as_a_superuser_or_the_owner(stack: Stack, program: str) -> None:
    url = {"radiusd": stack.radiusd_env()["CLOUDOS_DATABASE_URL"], "worker": stack.env()["CLOUDOS_WORKER_DATABASE_URL"],
           "cli": stack.env()["CLOUDOS_DATABASE_URL"]}[program]
    with connect(url) as conn:
        row = conn.execute("SELECT rolsuper, rolcreaterole, rolcreatedb, rolbypassrls, current_user = "
                           "(SELECT pg_get_userbyid(datdba) FROM pg_database WHERE datname = current_database()) "
                           "FROM pg_roles WHERE rolname = current_user").fetchone()
    assert row == (False, False, False, False, False), (program, url)


def test_radiusd_reads_what_authorize_needs_and_no_personal_data(stack: Stack, subscriber: None) -> None:
    with connect(stack.radiusd_env()["CLOUDOS_DATABASE_URL"]) as conn:
        row = conn.execute("SELECT id, username, password_enc, status, expires_at, mac, static_ip, locked_until, "
                           "plan_id FROM subscriber WHERE username = 'roles-sub'").fetchone()
        assert row is not None and row[1] == "roles-sub"
        leaked = [c for c in PERSONAL
                  if not refused(conn, f"SELECT {c} FROM subscriber WHERE username = 'roles-sub'")]
        assert leaked == []
        assert refused(conn, "SELECT * FROM subscriber")
        assert refused(conn, "SELECT * FROM admin_audit")
        assert refused(conn, "INSERT INTO admin_audit (at, actor, action, target, prev_hash, hash) "
                             "VALUES (now(), 'radiusd', 'x', 'y', '', 'forged')")
        assert refused(conn, "UPDATE subscriber SET status = 'active'")  # only locked_until
        assert refused(conn, "DELETE FROM usage_counter")
        assert refused(conn, "SELECT cloudos_reap_sessions(now())")  # the worker's, not radiusd's
        allowed = [s for s, st in FORBIDDEN_TO_ALL.items() if not refused(conn, st)]
        assert allowed == []


def test_the_worker_claims_coa_and_reads_nas_secrets_only(stack: Stack, subscriber: None) -> None:
    with connect(stack.env()["CLOUDOS_WORKER_DATABASE_URL"]) as conn:
        conn.execute("SELECT id, address, coa_port, secret_enc FROM nas").fetchall()
        conn.execute("UPDATE coa_outbox SET result = result WHERE false")
        conn.execute("SELECT * FROM cloudos_reap_sessions('1970-01-01')")
        assert refused(conn, "SELECT username FROM subscriber")
        assert refused(conn, "INSERT INTO admin_audit (at, actor, action, target, prev_hash, hash) "
                             "VALUES (now(), 'worker', 'x', 'y', '', 'forged')")
        assert refused(conn, "SELECT cloudos_account_journal('[]', 0)")
        allowed = [s for s, st in FORBIDDEN_TO_ALL.items() if not refused(conn, st)]
        assert allowed == []


def test_the_cli_administers_but_cannot_escape_the_schema(stack: Stack, subscriber: None) -> None:
    with connect(stack.env()["CLOUDOS_DATABASE_URL"]) as conn:
        assert conn.execute("SELECT cnic_enc IS NOT NULL FROM subscriber WHERE username = 'roles-sub'").fetchone() \
            == (True,)
        allowed = [s for s, st in FORBIDDEN_TO_ALL.items() if not refused(conn, st)]
        assert allowed == []


def test_public_may_execute_no_cloudos_function(stack: Stack) -> None:
    """PostgreSQL grants EXECUTE to PUBLIC on every new function: 0012 takes it back, also for later ones."""
    with connect(stack.database_url) as conn:
        open_to_all = conn.execute(
            "SELECT p.oid::regprocedure::text FROM pg_proc p JOIN pg_namespace n ON n.oid = p.pronamespace "
            "WHERE n.nspname = 'public' AND p.proname LIKE 'cloudos\\_%' "
            "AND (p.proacl IS NULL OR 'PUBLIC' IN (SELECT coalesce(nullif(a.grantee, 0)::regrole::text, 'PUBLIC') "
            "FROM aclexplode(p.proacl) a WHERE a.privilege_type = 'EXECUTE'))").fetchall()
        assert open_to_all == []
        conn.execute("BEGIN")
        try:
            conn.execute("CREATE FUNCTION cloudos_later() RETURNS integer LANGUAGE sql AS 'SELECT 1'")
            (later,) = conn.execute("SELECT has_function_privilege('cloudos_radius', 'cloudos_later()', 'EXECUTE')"
                                    ).fetchone() or (None,)
        finally:
            conn.execute("ROLLBACK")
        assert later is False


def test_create_login_refuses_bad_input_and_reads_no_password_from_argv(cli: Cli) -> None:
    r = cli("db", "create-login", "cloudos_superuser", "x", "--password-stdin", stdin="pw\n")
    assert r.code != 0 and "ROLE is one of" in r.err and r.err.count("\n") == 1
    r = cli("db", "create-login", "radius", "cloudos_admin", "--password-stdin", stdin="pw\n")
    assert r.code != 0 and "group role" in r.err
    r = cli("db", "create-login", "radius", "someone")
    assert r.code != 0 and "--password-stdin" in r.err


def test_the_cli_login_can_see_the_schema_revision(cli: Cli) -> None:
    """`cloudos db status` is the CLI's (as the admin login), not only the owner's."""
    r = cli("db", "status", "--json")
    assert r.code == 0, r.err
