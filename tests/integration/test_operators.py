"""Operators with roles and tenants isolated by row-level security, on a real PostgreSQL (issue 14,
items 1 and 2). Two ISPs, alpha and bravo, each with a row in every tenant-scoped table; every
command runs as an operator's own login, so what is refused is refused by the database."""

from __future__ import annotations

import json
import random
import threading
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import date, datetime, timedelta, timezone
from pathlib import Path
from zoneinfo import ZoneInfo

import psycopg
import pytest
from sqlalchemy import create_engine, text

from cloudos.context import sqlalchemy_url
from tests.conftest import cli_json as js
from tests.conftest import cli_ok as ok
from tests.conftest import run_cli as cli
from tests.conftest import sql

PKT = ZoneInfo("Asia/Karachi")
#: Every table with a tenant's rows (schemas 0018 to 0021).
TENANT_TABLES = ("session_open", "plan", "subscriber", "usage_counter", "auth_log", "coa_outbox", "data_request",
                 "invoice", "invoice_line", "invoice_tax", "ledger_entry", "nas", "notification", "number_series",
                 "payment", "payment_allocation", "privacy_holiday", "session", "support_ticket", "tax_rule",
                 "admin_audit", "subscriber_key", "consent", "payment_gateway")
ACCOUNT = "SELECT result FROM cloudos_account(%s::inet, %s, %s, %s, %s, %s, 1000, 5000, 60, NULL, NULL, NULL, NULL)"
PASSWORD = "operator-pass-1234"


@dataclass
class Isps:
    owner: str  # the schema owner's URL (bypasses row-level security: the test's own looks)
    platform: str  # the platform operator's URL (the admin login)
    ids: dict[str, int]  # tenant name -> id
    ops: dict[str, str]  # "alpha-admin", "alpha-billing", … -> login name

    def url(self, who: str) -> str:
        login = self.ops[who]
        return self.owner.replace("//cloudos@", f"//{login}:{PASSWORD}@")


@pytest.fixture
def isps(fresh_admin: str, unique: str, monkeypatch: pytest.MonkeyPatch) -> Iterator[Isps]:
    import os

    platform = os.environ["CLOUDOS_DATABASE_URL"]
    paid = datetime.now(PKT).date() + timedelta(days=3)
    ids: dict[str, int] = {}
    for n, name in enumerate(("alpha", "bravo"), 1):
        ok("tenant", "add", name)
        ids[name] = js("tenant", "show", name)["id"]
        ok("tenant", "set", name, "--billing-cycle", "anniversary", "--invoice-lead-days", "5", "--province", "sindh")
        ok("nas", "add", f"{name}-nas", "--tenant", name, "--address", f"10.9.{n}.1", "--secret-stdin",
           stdin=f"{name}-secret-123\n")
        ok("plan", "add", f"{name}-home", "--tenant", name, "--rate-limit", "2M/8M", "--price", "2500")
        ok("tax", "add", f"{name} sales tax", "--tenant", name, "--kind", "sales", "--rate", "19.5",
           "--from", "2025-07-01")
        ok("subscriber", "add", f"{name}1", "--tenant", name, "--plan", f"{name}-home", "--password-stdin",
           "--cnic-stdin", "--expires", paid.isoformat(), "--phone", "03001234567",
           stdin=f"pw-{name}-1\n4210112345678\n")
        ok("billing", "run", "--tenant", name)
        ok("payment", "record", f"{name}1", "--tenant", name, "--amount", "100", "--method", "cash",
           "--reference", f"{name}-R1")
        ok("privacy", "request", "add", f"{name}1", "--tenant", name, "--kind", "access",
           "--received", date.today().isoformat())
        ok("privacy", "holiday", "add", "2026-12-25", "--tenant", name, "--name", "Quaid-e-Azam Day")
        ok("subscriber", "consent", f"{name}1", "--tenant", name, "--marketing", "yes", "--source", f"{name} form")
        ok("gateway", "set", "jazzcash", "--tenant", name, "--merchant-id", f"{name}-mc", "--base-url",
           "https://sandbox.jazzcash.com.pk", "--credentials-stdin",
           stdin=json.dumps({"password": f"{name}-jc-pass", "integrity_salt": f"{name}-salt"}))
        nas_ip = f"10.9.{n}.1"
        now = datetime.now(timezone.utc)
        with psycopg.connect(fresh_admin, autocommit=True) as conn:
            for uid, status in ((f"{name}-open", "Start"), (f"{name}-done", "Start"), (f"{name}-done", "Stop")):
                conn.execute(ACCOUNT, (nas_ip, uid, status, f"{name}1", uid, now))
            conn.execute("INSERT INTO auth_log (at, tenant_id, username, outcome, reason) VALUES (now(), %s, %s,"
                         " 'reject', 'bad_password')", (ids[name], f"{name}1"))
            conn.execute("INSERT INTO support_ticket (tenant_id, subject, body) VALUES (%s, %s, 'slow at night')",
                         (ids[name], f"{name} ticket"))
        ok("session", "disconnect", f"{name}1", "--tenant", name)
    ops = {}
    for tenant in ("alpha", "bravo"):
        for role in ("admin", "billing", "support", "auditor"):
            login = f"{unique}-{tenant[0]}-{role}"
            ok("operator", "add", login, "--tenant", tenant, "--role", role, "--password-stdin", stdin=PASSWORD + "\n")
            ops[f"{tenant}-{role}"] = login
    yield Isps(owner=fresh_admin, platform=platform, ids=ids, ops=ops)
    for login in ops.values():  # logins are global to the server: leave none behind
        cli("operator", "remove", login)


def as_(isps: Isps, who: str, monkeypatch: pytest.MonkeyPatch) -> None:
    """The CLI runs as ``who`` from now on: "platform" or an operator of isps.ops."""
    monkeypatch.setenv("CLOUDOS_DATABASE_URL", isps.platform if who == "platform" else isps.url(who))


# --------------------------------------------------------------------------- isolation in SQL
def counts(url: str, tenant_id: int, *, forge: int | None = None) -> dict[str, int | None]:
    """Rows of ``tenant_id`` in each tenant table as ``url``'s login sees them, no WHERE of its own beyond
    that (what a buggy tool's query would get; None: the role may not read the table at all);
    ``forge``: claim that tenant with cloudos.tenant first."""
    found: dict[str, int | None] = {}
    with psycopg.connect(url, autocommit=True) as conn:
        if forge is not None:
            conn.execute("SELECT set_config('cloudos.tenant', %s, false)", (str(forge),))
        for t in (*TENANT_TABLES, "tenant"):
            key = "id" if t == "tenant" else "tenant_id"
            try:
                row = conn.execute(f"SELECT count(*) FROM {t} WHERE {key} = %s", (tenant_id,)).fetchone()
                found[t] = None if row is None else int(row[0])
            except psycopg.errors.InsufficientPrivilege:
                found[t] = None
    return found


def test_an_operator_of_alpha_sees_no_row_of_bravo_in_any_table(isps: Isps) -> None:
    alpha, bravo = isps.ids["alpha"], isps.ids["bravo"]
    # The control: bravo has rows in every table, and its own admin sees them all.
    held = counts(isps.owner, bravo)
    assert all(held.values()), held
    assert counts(isps.url("bravo-admin"), bravo) == held
    for role in ("admin", "billing", "support", "auditor"):
        url = isps.url(f"alpha-{role}")
        seen = {t: n for t, n in counts(url, bravo, forge=bravo).items() if n}
        assert seen == {}, (role, seen)  # not even with cloudos.tenant set to bravo's id
    mine = counts(isps.url("alpha-admin"), alpha)
    assert mine == counts(isps.owner, alpha) and all(mine.values())
    # The control that proves the count would see a leak: with subscriber's policy switched off,
    # the same query of alpha's admin counts bravo's subscriber.
    sql(isps.owner, "ALTER TABLE subscriber DISABLE ROW LEVEL SECURITY")
    try:
        assert counts(isps.url("alpha-admin"), bravo)["subscriber"] == 1
    finally:
        sql(isps.owner, "ALTER TABLE subscriber ENABLE ROW LEVEL SECURITY")
    assert counts(isps.url("alpha-admin"), bravo)["subscriber"] == 0
    # Partitions hold the rows without the parent's policies: no operator may read one directly.
    for part in ("auth_log_default", "session_default"):
        with pytest.raises(psycopg.errors.InsufficientPrivilege):
            sql(isps.url("alpha-admin"), f"SELECT count(*) FROM {part}")
    # Writing a row into bravo is refused by the policy's check.
    with pytest.raises(psycopg.errors.InsufficientPrivilege, match="row-level security"):
        sql(isps.url("alpha-admin"), "INSERT INTO support_ticket (tenant_id, subject, body) VALUES (%s, 'x', 'y')",
            bravo)


def test_every_table_with_a_tenant_is_under_forced_row_level_security(fresh_db: str) -> None:
    """A table added later with a tenant_id and no policy would fail here, not leak."""
    rows = sql(fresh_db, "SELECT c.relname, c.relrowsecurity AND c.relforcerowsecurity FROM pg_class c "
                         "JOIN pg_namespace n ON n.oid = c.relnamespace AND n.nspname = 'public' "
                         "WHERE c.relkind IN ('r', 'p') AND NOT c.relispartition AND (c.relname = 'tenant' OR "
                         "EXISTS (SELECT 1 FROM pg_attribute a WHERE a.attrelid = c.oid AND a.attname = 'tenant_id'))")
    # ``operator`` is the platform's: no tenant's login has any grant on it (cloudos_tenant() reads it).
    assert sorted(rows) == sorted([*((t, True) for t in (*TENANT_TABLES, "tenant")), ("operator", False)])
    assert sql(fresh_db, "SELECT grantee FROM information_schema.role_table_grants "
                         "WHERE table_name = 'operator' AND grantee <> 'cloudos' "
                         "GROUP BY grantee") == [("cloudos_admin",)]  # besides the owner: the platform


# --------------------------------------------------------------------------- isolation through the CLI
#: Every command that reads, with what names alpha's rows (bravo's: the same with bravo).
READS: tuple[tuple[str, ...], ...] = (
    ("tenant", "list"), ("tenant", "show", "{t}"), ("nas", "list"), ("nas", "show", "{t}-nas"), ("plan", "list"),
    ("plan", "show", "{t}-home"), ("subscriber", "list"), ("subscriber", "show", "{t}1"), ("session", "list"),
    ("usage", "{t}1"), ("explain", "{t}1"), ("coa", "list"), ("audit", "list", "--limit", "200"), ("tax", "list"),
    ("invoice", "list"), ("payment", "list"), ("ledger", "{t}1"), ("privacy", "request", "list"),
    ("privacy", "holiday", "list"), ("gateway", "list"),
)


def test_every_read_command_of_an_alpha_operator_shows_nothing_of_bravo(
        isps: Isps, monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    for argv in READS:
        as_(isps, "alpha-admin", monkeypatch)
        mine = ok(*(a.format(t="alpha") for a in argv), "--json").out
        assert "alpha" in mine and "bravo" not in mine, (argv, mine[:400])
        # The control: the same command as bravo's admin shows bravo's rows, so a leak into
        # alpha's answer would have been seen.
        as_(isps, "bravo-admin", monkeypatch)
        assert "bravo" in ok(*(a.format(t="bravo") for a in argv), "--json").out, argv
    as_(isps, "alpha-admin", monkeypatch)
    r = cli("subscriber", "list", "--tenant", "bravo")
    assert r.code == 1 and "no tenant named 'bravo'" in r.err
    out = tmp_path / "alpha.json"
    ok("tenant", "export", "alpha", "--format", "json", "--out", str(out))
    assert "bravo" not in out.read_text() and "alpha1" in out.read_text()


# --------------------------------------------------------------------------- one pool, both tenants
def test_thousands_of_interleaved_transactions_through_one_pool_never_cross(isps: Isps) -> None:
    """The platform login narrows each transaction to one tenant with set_config(…, true); 8 threads
    share a pool of 4 connections, so each connection serves both tenants in turn."""
    engine = create_engine(sqlalchemy_url(isps.platform), pool_size=4, max_overflow=0)
    ids = isps.ids
    crossings, done, lock = [], [0], threading.Lock()

    def work(seed: int, session_level: bool) -> None:
        rnd = random.Random(seed)
        for _ in range(250):
            name = rnd.choice(("alpha", "bravo"))
            unnamed = session_level and rnd.random() < 0.5  # the control's transactions that name no tenant
            with engine.begin() as conn:
                if not unnamed:
                    conn.execute(text("SELECT set_config('cloudos.tenant', :t, :local)"),
                                 {"t": str(ids[name]), "local": not session_level})
                seen = {r[0] for r in conn.execute(text(
                    "SELECT t.name FROM subscriber s JOIN tenant t ON t.id = s.tenant_id "
                    "UNION SELECT t.name FROM invoice i JOIN tenant t ON t.id = i.tenant_id"))}
            # A named transaction sees its tenant only; an unnamed one every tenant, unless a scope leaked in.
            if seen != ({"alpha", "bravo"} if unnamed else {name}):
                with lock:
                    crossings.append((name, unnamed, sorted(seen)))
            with lock:
                done[0] += 1

    def run(session_level: bool) -> int:
        crossings.clear()
        done[0] = 0
        threads = [threading.Thread(target=work, args=(i, session_level)) for i in range(8)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        return len(crossings)

    try:
        assert run(session_level=False) == 0, crossings[:5]
        assert done[0] == 2000
        # The control: the same run with a session-level setting (SET, not SET LOCAL) leaks one
        # transaction's tenant into the next transactions on that connection, and the test sees it.
        leaked = run(session_level=True)
        assert leaked > 0
        print(f"pool of 4, 8 threads: 2000 transactions, 0 crossings; control (session-level setting): "
              f"{leaked} of {done[0]} transactions saw another tenant's rows or none of theirs")
    finally:
        engine.dispose()


# --------------------------------------------------------------------------- what each role may do
def refused(*argv: str, stdin: str | None = None) -> str:
    r = cli(*argv, stdin=stdin)
    assert r.code != 0, argv
    assert len(r.err.strip().splitlines()) == 1 and "Traceback" not in r.err, r.err
    return r.err


def test_each_role_may_do_what_its_grants_allow_and_nothing_more(
        isps: Isps, monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    as_(isps, "alpha-billing", monkeypatch)
    assert js("operator", "whoami")["role"] == "billing"
    assert [i["username"] for i in js("invoice", "list")] == ["alpha1"]
    ok("payment", "record", "alpha1", "--amount", "50", "--method", "bank", "--reference", "alpha-R2")
    assert js("subscriber", "show", "alpha1")["cnic"] == "masked"
    assert "not allowed for this login's role" in refused("plan", "update", "alpha-home", "--price", "1")
    assert "not allowed" in refused("subscriber", "set-plan", "alpha1", "alpha-home")
    assert "not allowed" in refused("nas", "set", "alpha-nas", "--description", "moved")

    as_(isps, "alpha-support", monkeypatch)
    view = js("subscriber", "show", "alpha1")
    assert view["cnic"] == "masked" and view["phone"] == "+923001234567"
    ok("subscriber", "suspend", "alpha1", "--reason", "asked by the subscriber")
    ok("subscriber", "resume", "alpha1")
    assert [s["username"] for s in js("session", "list")] == ["alpha1", "alpha1"]
    assert js("explain", "alpha1")["decision"] in ("accept", "reject")
    assert "not allowed" in refused("plan", "update", "alpha-home", "--price", "1")
    assert "not allowed" in refused("subscriber", "set", "alpha1", "--phone", "03009999999")
    assert [i["username"] for i in js("invoice", "list")] == ["alpha1"]  # to answer a caller, not to change
    number = js("invoice", "list")[0]["number"]
    assert "not allowed" in refused("invoice", "void", number, "--reason", "caller disputes it")
    assert "not allowed" in refused("payment", "record", "alpha1", "--amount", "1", "--method", "cash",
                                    "--reference", "alpha-R3")
    assert "not allowed" in refused("nas", "set", "alpha-nas", "--description", "moved")

    as_(isps, "alpha-auditor", monkeypatch)
    rows = js("audit", "list", "--limit", "500")
    assert rows and {r["tenant"] for r in rows} == {"alpha"}
    assert {"subscriber.suspend", "payment.record"} <= {r["action"] for r in rows}
    assert "not allowed" in refused("subscriber", "suspend", "alpha1", "--reason", "x")
    assert "not allowed" in refused("privacy", "holiday", "add", "2026-12-31", "--name", "x")
    assert "a platform operator runs it" in refused("audit", "verify")

    assert "not allowed" in refused("subscriber", "export", "alpha1", "--format", "json",
                                    "--out", str(tmp_path / "aud.json"))

    as_(isps, "alpha-admin", monkeypatch)
    assert js("subscriber", "show", "alpha1")["cnic"] == "************8"  # the key ring's view: last digit
    ok("subscriber", "export", "alpha1", "--format", "json", "--out", str(tmp_path / "adm.json"))
    assert json.loads((tmp_path / "adm.json").read_text())["profile"]["cnic"] == "4210112345678"
    ok("plan", "update", "alpha-home", "--price", "2600")
    assert "not allowed" in refused("operator", "add", "x-new", "--tenant", "alpha", "--role", "support",
                                    "--password-stdin", stdin=PASSWORD + "\n")
    assert "not allowed" in refused("tenant", "add", "charlie")

    # Every row names the login that wrote it, and the chain is whole.
    logins = {r[0] for r in sql(isps.owner, "SELECT db_user FROM admin_audit WHERE tenant_id = %s",
                                isps.ids["alpha"])}
    assert {isps.ops["alpha-billing"], isps.ops["alpha-support"], isps.ops["alpha-admin"]} <= logins
    as_(isps, "platform", monkeypatch)
    assert js("audit", "verify")["ok"] is True


def test_the_platform_manages_operators_and_a_removed_one_cannot_log_in(
        isps: Isps, monkeypatch: pytest.MonkeyPatch, unique: str) -> None:
    listed = {o["login"]: o for o in js("operator", "list", "--tenant", "alpha")}
    assert {o["role"] for o in listed.values()} == {"admin", "billing", "support", "auditor"}
    assert all(o["tenant"] == "alpha" for o in listed.values())
    sup = isps.ops["alpha-support"]
    assert js("operator", "set-role", sup, "auditor")["role"] == "auditor"
    as_(isps, "alpha-support", monkeypatch)
    assert "not allowed" in refused("subscriber", "suspend", "alpha1", "--reason", "x")
    as_(isps, "platform", monkeypatch)
    assert "between the platform and a tenant" in refused("operator", "set-role", sup, "platform")
    # A name already taken on the server, a group's name, a short password, a role without its tenant.
    assert "exists already" in refused("operator", "add", "cloudos", "--role", "platform", "--password-stdin",
                                       stdin=PASSWORD + "\n")
    assert "cloudos_" in refused("operator", "add", "cloudos_admin", "--role", "platform", "--password-stdin",
                                 stdin=PASSWORD + "\n")
    assert "shorter than 12" in refused("operator", "add", f"{unique}-p", "--role", "platform",
                                        "--password-stdin", stdin="short\n")
    assert "needs --tenant" in refused("operator", "add", f"{unique}-p", "--role", "billing",
                                       "--password-stdin", stdin=PASSWORD + "\n")
    # A second platform operator manages operators too, and the password never reaches the trail.
    ok("operator", "add", f"{unique}-p", "--role", "platform", "--password-stdin", stdin=PASSWORD + "\n")
    ok("operator", "set-password", f"{unique}-p", "--password-stdin", stdin=PASSWORD + "-new\n")
    trail = json.dumps(sql(isps.owner, "SELECT before, after FROM admin_audit WHERE action LIKE 'operator.%%'"))
    assert PASSWORD not in trail and "SCRAM" not in trail
    # Removal ends the operator's open connection and its login.
    held = psycopg.connect(isps.url("alpha-billing"))
    try:
        assert js("operator", "remove", isps.ops["alpha-billing"])["connections_ended"] == 1
        with pytest.raises(psycopg.OperationalError):
            held.execute("SELECT 1")
    finally:
        held.close()
    with pytest.raises(psycopg.OperationalError, match="password authentication failed"):
        psycopg.connect(isps.url("alpha-billing")).close()
    cli("operator", "remove", f"{unique}-p")
