"""The tools' store (tools/cloudos/store/) against a real PostgreSQL: the branches the CLI tests don't reach."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import datetime, timedelta, timezone

import psycopg
import pytest
from sqlalchemy import Connection, create_engine
from sqlalchemy.exc import NoResultFound
from sqlalchemy.pool import NullPool

from cloudos.context import sqlalchemy_url
from cloudos.store import audit, coa, nas, plans, sessions, subscribers, tenants, usage
from tests.conftest import run_cli as cli

UTC = timezone.utc
NOW = datetime(2026, 12, 1, tzinfo=UTC)


@pytest.fixture
def world(fresh_db: str) -> str:
    """Two tenants; isp1 with plans home (quota) and d30, subscribers ali (home), bob (d30, suspended)
    and cy (no plan); isp2 with one subscriber. ali has one open and one closed session, bob one closed."""
    steps: list[tuple[tuple[str, ...], str | None]] = [
        (("tenant", "add", "isp1"), None),
        (("tenant", "add", "isp2", "--timezone", "UTC"), None),
        (("nas", "add", "core1", "--tenant", "isp1", "--address", "10.9.0.1", "--secret-stdin"), "a-long-shared-secret\n"),
        (("plan", "add", "home", "--tenant", "isp1", "--rate-limit", "2M/8M", "--quota", "50GB"), None),
        (("plan", "add", "d30", "--tenant", "isp1", "--rate-limit", "1M/1M", "--period", "30d"), None),
        (("plan", "add", "other", "--tenant", "isp2", "--rate-limit", "1M/1M"), None),
        (("subscriber", "add", "ali", "--tenant", "isp1", "--plan", "home", "--password-stdin",
          "--mac", "aa:bb:cc:dd:ee:ff", "--static-ip", "100.64.0.9"), "pw-1234\n"),
        (("subscriber", "add", "bob", "--tenant", "isp1", "--plan", "d30", "--password-stdin"), "pw-1234\n"),
        (("subscriber", "suspend", "bob", "--tenant", "isp1"), None),
        (("subscriber", "add", "zed", "--tenant", "isp2", "--plan", "other", "--password-stdin"), "pw-1234\n"),
    ]
    for argv, stdin in steps:
        r = cli(*argv, stdin=stdin)
        assert r.code == 0, (argv, r.err)
    with psycopg.connect(fresh_db, autocommit=True) as c:
        # cy has no plan: the schema allows it (a plan deleted from under a subscriber is the real case).
        c.execute("INSERT INTO subscriber (tenant_id, username, password_enc) VALUES (1, 'cy', '\\x00')")
        account = ("SELECT * FROM cloudos_account('10.9.0.1', %s, %s, %s, %s, %s, %s, %s, %s, '100.64.0.9', NULL, "
                   "NULL, NULL)")
        now = datetime.now(UTC)
        c.execute(account, ("uid-a1", "Start", "ali", "a1", now - timedelta(minutes=10), 0, 0, 0))
        c.execute(account, ("uid-a1", "Interim-Update", "ali", "a1", now - timedelta(minutes=1), 100, 900, 540))
        c.execute(account, ("uid-a0", "Start", "ali", "a0", now - timedelta(hours=3), 0, 0, 0))
        c.execute(account, ("uid-a0", "Stop", "ali", "a0", now - timedelta(hours=2), 10, 20, 3600))
        c.execute(account, ("uid-b0", "Start", "bob", "b0", now - timedelta(hours=4), 0, 0, 0))
        c.execute(account, ("uid-b0", "Stop", "bob", "b0", now - timedelta(hours=4), 1, 2, 3))
    return fresh_db


@pytest.fixture
def conn(world: str) -> Iterator[Connection]:
    engine = create_engine(sqlalchemy_url(world), poolclass=NullPool)
    try:
        with engine.begin() as c:
            yield c
    finally:
        engine.dispose()


def names(rows: object, key: str = "username") -> list[str]:
    return [getattr(r, key) for r in rows]  # type: ignore[attr-defined]


def test_tenant_lookups(conn: Connection) -> None:
    assert [t.name for t in tenants.first(conn, 2)] == ["isp1", "isp2"]
    assert [t.name for t in tenants.first(conn, 1)] == ["isp1"]
    assert tenants.exists(conn, "isp2") and not tenants.exists(conn, "isp3")
    isp1 = tenants.by_name(conn, "isp1", lock=True)
    assert isp1 is not None and isp1.timezone == "Asia/Karachi" and isp1.currency == "PKR"
    assert tenants.by_name(conn, "nope") is None


def test_partial_updates_refuse_unknown_columns(conn: Connection) -> None:
    with pytest.raises(ValueError, match="not columns of tenant: nope"):
        tenants.change(conn, 1, {"nope": 1})
    with pytest.raises(ValueError, match="not columns of plan: speed"):
        plans.change(conn, 1, {"speed": "fast"})
    with pytest.raises(ValueError, match="not columns of subscriber: plan"):
        subscribers.change(conn, 1, {"plan": "home"})
    with pytest.raises(NoResultFound):
        tenants.change(conn, 999, {"display_name": "x"})
    row = tenants.change(conn, 2, {"display_name": "Two", "login_lockout_seconds": 60})
    assert (row.display_name, row.login_lockout_seconds, row.login_fail_limit) == ("Two", 60, 5)


def test_subscriber_list_filters(conn: Connection) -> None:
    assert names(subscribers.listing(conn, 1, now=NOW)) == ["ali", "bob", "cy"]
    assert names(subscribers.listing(conn, 2, now=NOW)) == ["zed"]
    assert names(subscribers.listing(conn, 1, now=NOW, status="suspended")) == ["bob"]
    assert names(subscribers.listing(conn, 1, now=NOW, status="active")) == ["ali", "cy"]
    assert names(subscribers.listing(conn, 1, now=NOW, status="terminated")) == []
    assert names(subscribers.listing(conn, 1, now=NOW, plan_name="home")) == ["ali"]
    assert names(subscribers.listing(conn, 1, now=NOW, plan_name="other")) == []  # isp2's plan
    assert names(subscribers.listing(conn, 1, now=NOW, status="active", plan_name="d30")) == []
    assert names(subscribers.listing(conn, 1, now=NOW, status="suspended", plan_name="d30")) == ["bob"]
    assert [r.plan for r in subscribers.listing(conn, 1, now=NOW)] == ["home", "d30", None]


def test_subscriber_add_casts_mac_and_address(conn: Connection) -> None:
    row = subscribers.add(conn, {"tenant_id": 2, "username": "new", "password_enc": b"\x00",
                                 "mac": "01:02:03:04:05:06", "static_ip": "192.0.2.7"})
    assert str(row.mac) == "01:02:03:04:05:06" and str(row.static_ip) == "192.0.2.7"
    assert subscribers.exists(conn, 2, "new") and not subscribers.exists(conn, 1, "new")
    with pytest.raises(ValueError, match="not columns of subscriber: password"):
        subscribers.add(conn, {"tenant_id": 2, "username": "x", "password": "pw"})


def test_plan_terms_without_a_plan(conn: Connection) -> None:
    cy = subscribers.with_plan_terms(conn, 1, "cy")
    assert cy is not None and cy.period is None and cy.quota_bytes is None
    ali = subscribers.with_plan_terms(conn, 1, "ali")
    assert ali is not None and (ali.period, ali.quota_bytes) == ("monthly", 50_000_000_000)
    assert subscribers.with_plan_terms(conn, 2, "ali") is None


def test_nas_and_plan_listings_with_and_without_a_tenant(conn: Connection) -> None:
    assert [(r.tenant, r.name) for r in plans.listing(conn)] == [("isp1", "d30"), ("isp1", "home"), ("isp2", "other")]
    assert [(r.tenant, r.name) for r in plans.listing(conn, 2)] == [("isp2", "other")]
    assert [(r.tenant, r.name) for r in nas.listing(conn)] == [("isp1", "core1")]
    assert list(nas.listing(conn, 2)) == []
    clash = nas.overlapping(conn, "10.9.0.0/16")
    assert clash is not None and (clash.name, clash.tenant) == ("core1", "isp1")
    assert nas.overlapping(conn, "10.10.0.0/16") is None
    assert nas.remove(conn, 2, "core1") is None  # another tenant's name: nothing removed
    assert plans.by_name(conn, 2, "home") is None and plans.by_id(conn, 999) is None


def test_session_list_filters(conn: Connection) -> None:
    every = sessions.listing(conn, 1)
    assert [r.acct_session_id for r in every] == ["a1", "a0", "b0"]  # newest first
    assert every[0].framed_ip == "100.64.0.9" and every[0].nas == "core1"
    assert [r.acct_session_id for r in sessions.listing(conn, 1, online=True)] == ["a1"]
    assert [r.acct_session_id for r in sessions.listing(conn, 1, username="bob")] == ["b0"]
    assert [r.acct_session_id for r in sessions.listing(conn, 1, online=True, username="bob")] == []
    assert [r.acct_session_id for r in sessions.listing(conn, 1, limit=2)] == ["a1", "a0"]
    assert list(sessions.listing(conn, 2)) == []


def test_open_sessions_match_by_user_or_either_session_id(conn: Connection) -> None:
    for target in ("ali", "a1", "uid-a1"):
        assert [r.acct_unique_id for r in sessions.open_matching(conn, 1, target)] == ["uid-a1"]
    assert list(sessions.open_matching(conn, 1, "a0")) == []  # closed
    assert list(sessions.open_matching(conn, 2, "ali")) == []  # another tenant
    ali = subscribers.by_username(conn, 1, "ali")
    assert ali is not None
    assert [r.acct_session_id for r in sessions.open_of_subscriber(conn, ali.id)] == ["a1"]


def test_usage_counter_of_now_and_of_a_period(conn: Connection) -> None:
    ali = subscribers.by_username(conn, 1, "ali")
    assert ali is not None
    now = datetime.now(UTC)
    cur = usage.current(conn, ali.id, now)
    # a1's 1000 bytes, and a0's 30 unless a new period began in the last three hours
    assert cur is not None and cur.input_octets + cur.output_octets in (1000, 1030)
    assert usage.current(conn, ali.id, cur.period_end) is None  # the period's end is the next one's start
    assert usage.current(conn, ali.id, cur.period_start) is not None
    assert usage.of_period(conn, ali.id, cur.period_start) is not None
    assert usage.of_period(conn, ali.id, cur.period_start - timedelta(days=1)) is None
    assert [h.period_start for h in usage.history(conn, ali.id, 1)] == [cur.period_start]


def test_reap_and_the_outbox(conn: Connection) -> None:
    ali = subscribers.by_username(conn, 1, "ali")
    assert ali is not None
    assert sessions.reap(conn, datetime.now(UTC))[:2] == (0, 0)  # a1 is fresh
    assert coa.queue_subscriber_disconnect(conn, ali.id, "test") == 1
    assert coa.queue_sessions_disconnect(conn, ["uid-a1", "uid-a0"], "test") == 1  # only open ones
    claimed = coa.claim(conn, 1)
    assert len(claimed) == 1
    cid, kind, attributes, attempts, reason, nas_address, *_ = claimed[0]
    assert (kind, attempts, reason, nas_address, attributes["User-Name"]) == ("disconnect", 1, "test", "10.9.0.1", "ali")
    assert len(coa.claim(conn, 10)) == 1  # the other; the first waits 2 s before it is due again
    coa.note(conn, cid, "no answer")
    coa.settle(conn, cid, "timeout", "gave up")
    assert nas.remove(conn, 1, "core1") is not None
    coa.fail_orphans(conn)
    assert coa.claim(conn, 10) == []
    # stale: nothing heard for two interim intervals (300 s) plus the margin
    assert sessions.reap(conn, datetime.now(UTC) + timedelta(days=1))[0] == 1


def test_audit_append_stores_no_change_as_sql_null(conn: Connection) -> None:
    audit.lock_chain(conn, 1)
    prev = audit.last_hash(conn)
    assert prev is not None  # the CLI steps above wrote rows
    at = audit.clock(conn)
    rid = audit.append(conn, at=at, actor="t", db_user="claimed-by-client", tenant_id=None, action="x.y",
                       target="t", before=None, after={"k": [1, None]}, changed=["k"], key_id="k1", prev_hash=prev,
                       hash_="f" * 64)
    assert audit.last_hash(conn) == "f" * 64
    assert [r.id for r in audit.latest(conn, 1)] == [rid]
    last = list(audit.chain(conn))[-1]
    assert (last.before, last.after, last.at) == (None, {"k": [1, None]}, at)
    # The login is the database's to say, whatever the client sent.
    assert last.db_user == audit.login(conn) != "claimed-by-client"
    assert conn.exec_driver_sql("SELECT count(*) FROM admin_audit WHERE before IS NULL AND id = %(i)s",
                                {"i": rid}).scalar_one() == 1
