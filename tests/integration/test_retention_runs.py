"""`cloudos retention run` through the CLI's own login (cloudos_admin) on a real PostgreSQL (issue 14,
item 7): whole monthly partitions of the logs dropped and nothing younger, the months ahead made,
old records purged on the policy's schedule, billing records kept for everyone else."""

from __future__ import annotations

import time
from datetime import date, datetime, timedelta, timezone

import psycopg
import pytest

from cloudos_stack import OWNER
from tests.conftest import cli_json as js
from tests.conftest import cli_ok as ok
from tests.conftest import sql
from tests.conftest import run_cli as cli

UTC = timezone.utc


def partitions(url: str, parent: str) -> list[str]:
    return [n for (n,) in sql(url, "SELECT c.relname::text FROM pg_inherits i JOIN pg_class c ON c.oid = i.inhrelid "
                                   "WHERE i.inhparent = %s::regclass AND c.relname <> %s ORDER BY 1",
                               parent, parent + "_default")]


def month_name(parent: str, d: date) -> str:
    return f"{parent}_y{d.year:04d}m{d.month:02d}"


@pytest.fixture
def owner(fresh_admin: str) -> str:
    """A tenant in a fresh database; the owner's URL (the CLI runs as the admin login)."""
    ok("tenant", "add", "isp1")
    return fresh_admin


def old_logs(owner: str, months_back: list[int], today: date) -> None:
    """A session and an auth-log row in each of these months before ``today`` (partitions made as
    `db migrate` makes them), and one stray old row in each default partition."""
    (tenant,) = sql(owner, "SELECT id FROM tenant WHERE name = 'isp1'")[0]
    for n in months_back:
        first = date(today.year, today.month, 1)
        for _ in range(n):
            first = (first - timedelta(days=1)).replace(day=1)
        sql(owner, "SELECT cloudos_ensure_month_partitions('session', %s, 1) "
                   "+ cloudos_ensure_month_partitions('auth_log', %s, 1)", first, first)
        at = datetime(first.year, first.month, 15, tzinfo=UTC)
        sql(owner, "INSERT INTO session (tenant_id, acct_unique_id, started_at, username, acct_session_id) "
                   "VALUES (%s, %s, %s, 'ali', 's')", tenant, f"u{n}", at)
        sql(owner, "INSERT INTO auth_log (at, tenant_id, username, outcome, reason) VALUES (%s, %s, 'ali', "
                   "'accept', 'ok')", at, tenant)
    stray = datetime(today.year - 5, 1, 1, tzinfo=UTC)
    sql(owner, "INSERT INTO session_default (tenant_id, acct_unique_id, started_at, username, acct_session_id) "
               "VALUES (%s, 'stray', %s, 'ali', 's')", tenant, stray)


def test_whole_months_older_than_twelve_go_and_nothing_younger(owner: str) -> None:
    today = datetime.now(UTC).date()
    old_logs(owner, [11, 12, 13, 14, 24], today)
    before = partitions(owner, "session")
    dry = js("retention", "run", "--dry-run")
    assert partitions(owner, "session") == before  # a dry run touches nothing
    real = js("retention", "run")
    assert real["logs"] == dry["logs"] and real["purged"] == dry["purged"]
    cutoff = datetime.fromisoformat(real["cutoffs"]["logs_before"])
    gone = set(before) - set(partitions(owner, "session"))
    assert gone == set(real["logs"]["session"]["dropped"])
    # Months 13, 14 and 24 back end before the cutoff; 12 back holds its last days after it (or is
    # the cutoff's own month): kept, as is 11.
    expect = set()
    for name in before:
        y, m = int(name[-7:-3]), int(name[-2:])
        end = datetime(y + m // 12, m % 12 + 1, 1, tzinfo=UTC)
        if end <= cutoff:
            expect.add(name)
    assert gone == expect and len(gone) >= 3
    kept = sql(owner, "SELECT count(*) FROM session WHERE started_at >= %s", cutoff)[0][0]
    assert kept >= 1 and sql(owner, "SELECT count(*) FROM session WHERE started_at < %s", cutoff) == [(0,)]
    assert sql(owner, "SELECT count(*) FROM auth_log WHERE at < %s", cutoff) == [(0,)]
    assert real["logs"]["session"]["default_rows_deleted"] == 1
    # The same day again: nothing more.
    again = js("retention", "run")
    assert again["logs"]["session"] == {"dropped": [], "created": 0, "default_rows_deleted": 0}
    assert [a for (a,) in sql(owner, "SELECT action FROM admin_audit WHERE action LIKE 'retention.%%'")] == [
        "retention.run", "retention.run"]


def test_a_run_two_years_ahead_makes_its_months_and_keeps_its_year(owner: str,
                                                                  monkeypatch: pytest.MonkeyPatch) -> None:
    ahead = datetime.now(UTC).date().replace(day=10) + timedelta(days=730)
    # The CLI's login may not run a day ahead: that would drop logs before their time.
    before = partitions(owner, "session")
    r0 = cli("retention", "run", "--date", ahead.isoformat())
    assert r0.code == 1 and "only the schema owner may run a day ahead" in r0.err and len(r0.err.splitlines()) == 1
    assert partitions(owner, "session") == before
    # The owner may rehearse it.
    monkeypatch.setenv("CLOUDOS_DATABASE_URL", owner)
    r = js("retention", "run", "--date", ahead.isoformat())
    names = partitions(owner, "session")
    first = ahead.replace(day=1)
    months = [first]
    for _ in range(3):
        months.append((months[-1] + timedelta(days=32)).replace(day=1))
    assert all(month_name("session", m) in names and month_name("auth_log", m) in partitions(owner, "auth_log")
               for m in months)
    # Everything migrate made (last month and 13 after it) ends more than 12 months before `ahead`
    # except what lies within the kept year.
    cutoff = datetime.fromisoformat(r["cutoffs"]["logs_before"])
    for name in names:
        y, m = int(name[-7:-3]), int(name[-2:])
        assert datetime(y + m // 12, m % 12 + 1, 1, tzinfo=UTC) > cutoff, name
    assert r["logs"]["session"]["dropped"]


def test_the_purge_follows_the_schedule(owner: str) -> None:
    ok("plan", "add", "home", "--rate-limit", "2M/8M", "--price", "1000")
    today = datetime.now(UTC).date()
    for name in ("gone6y", "gone2m", "active"):
        ok("subscriber", "add", name, "--plan", "home", "--password-stdin", "--expires",
           (today + timedelta(days=2)).isoformat(), "--phone", "03001234567", "--email", f"{name}@example.pk",
           "--name", f"Name {name}", "--address", "House 1", "--mac", f"AA:BB:CC:00:00:0{len(name)}",
           "--cnic-stdin", stdin=f"pw-{name}-123\n35202-1234567-{len(name) % 10}\n")
    run = js("billing", "run")
    assert len(run["invoices"]) == 3
    for name in ("gone6y", "gone2m"):
        js("payment", "record", name, "--amount", "1000", "--method", "cash", "--reference", f"R-{name}")
        ok("subscriber", "terminate", name, "--reason", "moved away")
    sql(owner, "UPDATE subscriber SET terminated_at = now() - interval '6 years' WHERE username = 'gone6y'")
    sql(owner, "UPDATE subscriber SET terminated_at = now() - interval '2 months' WHERE username = 'gone2m'")
    (tenant,) = sql(owner, "SELECT id FROM tenant WHERE name = 'isp1'")[0]
    sql(owner, "INSERT INTO notification (tenant_id, channel, template, recipient, body, created_at) VALUES "
               "(%s, 'sms', 'x', '+923001234567', 'old', now() - interval '13 months'), "
               "(%s, 'sms', 'x', '+923001234567', 'new', now() - interval '11 months')", tenant, tenant)
    sql(owner, "INSERT INTO support_ticket (tenant_id, subject, body, status, resolved_at) VALUES "
               "(%s, 'a', 'b', 'resolved', now() - interval '3 years'), "
               "(%s, 'a', 'b', 'resolved', now() - interval '1 year'), (%s, 'a', 'b', 'open', NULL)",
        tenant, tenant, tenant)
    # The CLI's login may not delete a billing record, not even with the purge's setting.
    with pytest.raises(psycopg.errors.InsufficientPrivilege):
        with psycopg.connect(owner.replace(f"//{OWNER}@", "//admin@")) as conn:
            conn.execute("SELECT set_config('cloudos.retention_purge', 'on', true)")
            conn.execute("DELETE FROM payment")
    # Nor purge before their time by calling the function itself: the database holds the schedule.
    with pytest.raises(psycopg.errors.InsufficientPrivilege, match="billing records before"):
        with psycopg.connect(owner.replace(f"//{OWNER}@", "//admin@")) as conn:
            conn.execute("SELECT cloudos_retention_purge(now() - interval '2 years', now() - interval '3 years', "
                         "now() - interval '31 days', now())")
    report = js("retention", "run")["purged"]
    assert report == {"notifications": 1, "support_tickets": 1, "nonessential_scrubbed": 2,
                      "billing_subscribers": 1, "invoices": 1, "payments": 1, "ledger_entries": 2}
    people = {u: rest for u, *rest in sql(owner, "SELECT username, phone, email, mac, full_name, postal_address, "
                                                 "cnic_enc IS NOT NULL FROM subscriber")}
    assert people["gone6y"] == [None, None, None, None, None, False]          # nothing personal left
    assert people["gone2m"] == [None, None, None, "Name gone2m", "House 1", True]  # what tax law needs stays
    assert people["active"][0] == "+923001234567" and people["active"][3] == "Name active"
    counts = dict(sql(owner, "SELECT s.username, count(i.id) FROM subscriber s LEFT JOIN invoice i "
                             "ON i.subscriber_id = s.id GROUP BY 1"))
    assert counts == {"gone6y": 0, "gone2m": 1, "active": 1}
    assert sql(owner, "SELECT body FROM notification WHERE template = 'x'") == [("new",)]
    assert sql(owner, "SELECT count(*) FROM support_ticket") == [(2,)]
    assert js("ledger", "gone2m")["balance_paisa"] == 0
    assert ok("audit", "verify").code == 0
    # Idempotent: a second run removes nothing.
    assert set(js("retention", "run")["purged"].values()) == {0}


def test_the_periods_are_settings_with_the_policys_defaults(owner: str) -> None:
    assert js("retention", "show") == {"log_months": 12, "notification_months": 12, "support_years": 2,
                                       "billing_years": 5, "nonessential_days": 30}
    js("retention", "set", "--log-months", "24")
    r = cli("retention", "set", "--log-months", "11")
    assert r.code == 2 and "from 12 to 600" in r.err
    r = cli("retention", "set", "--nonessential-days", "31")
    assert r.code == 2 and "from 0 to 30" in r.err
    today = datetime.now(UTC).date()
    cutoff = js("retention", "run", "--dry-run")["cutoffs"]["logs_before"]
    assert cutoff.startswith(today.replace(year=today.year - 2).isoformat() if (today.month, today.day) != (2, 29)
                             else date(today.year - 2, 2, 28).isoformat())
    assert sql(owner, "SELECT before->>'log_months', after->>'log_months' FROM admin_audit "
                      "WHERE action = 'retention.set'") == [("12", "24")]


def test_a_table_held_busy_fails_the_run_within_its_lock_timeout_and_changes_nothing(owner: str) -> None:
    """A session partition to drop while another transaction holds the session table (a long
    report, a stuck client): the run gives up after its 10 s lock timeout, in one line, and drops
    nothing, rather than wait for ever and hold radiusd's writes behind it."""
    today = datetime.now(UTC).date()
    old_logs(owner, [14], today)
    before = partitions(owner, "session")
    with psycopg.connect(owner) as holder:
        holder.execute("LOCK TABLE session IN ACCESS SHARE MODE")
        t = time.monotonic()
        r = cli("retention", "run")
        took = time.monotonic() - t
    assert r.code == 1 and "lock timeout" in r.err and len(r.err.strip().splitlines()) == 1, r.err
    assert 9 < took < 30, took
    assert partitions(owner, "session") == before
    assert sql(owner, "SELECT count(*) FROM admin_audit WHERE action = 'retention.run'") == [(0,)]
