"""`cloudos metrics` against a real PostgreSQL, as the metrics login, read back with Prometheus's own parser.

Sessions come from cloudos_account() (the accounting path), a Disconnect from
`cloudos session disconnect`; auth-log, settled-CoA and journal rows are written with SQL as
radiusd's writers and the worker write them. The output is parsed with prometheus_client's
text parser, not one written here to agree with the writer.
"""

from __future__ import annotations

import os
import stat
from collections.abc import Iterator
from datetime import datetime, timedelta, timezone
from pathlib import Path

import psycopg
import pytest
from prometheus_client.parser import text_string_to_metric_families

from cloudos.commands.metrics import day_start
from cloudos_stack import Stack
from tests.conftest import Cli
from tests.integration.world import NAS2, World, build_world

Samples = dict[tuple[str, frozenset[tuple[str, str]]], float]


def parse(text: str) -> tuple[Samples, dict[str, str]]:
    """Every sample by (name, labels), and each family's type."""
    samples: Samples = {}
    types: dict[str, str] = {}
    for family in text_string_to_metric_families(text):
        types[family.name] = family.type
        for s in family.samples:
            samples[s.name, frozenset(s.labels.items())] = s.value
    return samples, types


def at(samples: Samples, name: str, **labels: str) -> float:
    return samples[name, frozenset(labels.items())]


def metrics_url(stack: Stack, fresh_db: str) -> str:
    return stack.login_url("metrics").rsplit("/", 1)[0] + "/" + fresh_db.rsplit("/", 1)[1]


@pytest.fixture
def world(fresh_db: str, cli: Cli) -> Iterator[World]:
    """t1 with NAS n1 and n2 and a subscriber on each plan (tests/integration/world.py)."""
    yield from build_world(fresh_db, cli, World)


def test_metrics_count_sessions_logins_coa_and_journal_lag(world: World, cli: Cli, stack: Stack,
                                                           monkeypatch: pytest.MonkeyPatch) -> None:
    now = datetime.now(timezone.utc)
    conn = world.conn
    # One live session on n1, one on n2 silent for two hours (stale at a 300 s interim), one closed.
    world.account_row("m-live", "Start", "ali", now)
    world.account_row("m-stale", "Start", "fupper", now - timedelta(hours=2), nas=NAS2)
    world.account_row("m-done", "Start", "capped", now - timedelta(minutes=5))
    world.account_row("m-done", "Stop", "capped", now - timedelta(minutes=1), secs=240)
    r = cli("session", "disconnect", "ali")
    assert r.code == 0, r.err
    today = max(day_start(now), now - timedelta(minutes=1))
    yesterday = day_start(now) - timedelta(hours=1)
    for when, outcome, reason in ((today, "accept", "ok"),) * 3 + ((today, "reject", "wrong_password"),) * 2 + (
            (yesterday, "reject", "wrong_password"),):
        conn.execute("INSERT INTO auth_log (at, tenant_id, username, outcome, reason) VALUES (%s, %s, 'ali', %s, %s)",
                     (when, world.tenant, outcome, reason))
    for done in (today, yesterday):
        conn.execute("INSERT INTO coa_outbox (tenant_id, nas_id, kind, attributes, status, done_at) "
                     "VALUES (%s, %s, 'coa', '{}', 'ack', %s)", (world.tenant, world.nas["n1"], done))
    conn.execute("INSERT INTO journal_node (node, caught_up_at, seen_at) "
                 "VALUES ('radius1:/var/lib/cloudos-radius/spool/cloudos/journal', now() - interval '30 s', "
                 "now() - interval '5 s')")

    monkeypatch.setenv("CLOUDOS_DATABASE_URL", metrics_url(stack, world.url))
    r = cli("metrics")
    assert r.code == 0, r.err
    samples, types = parse(r.out)
    assert at(samples, "cloudos_sessions_online", tenant="t1", nas="n1") == 1
    assert at(samples, "cloudos_sessions_online", tenant="t1", nas="n2") == 0
    assert at(samples, "cloudos_sessions_stale", tenant="t1", nas="n2") == 1
    assert at(samples, "cloudos_sessions_stale", tenant="t1", nas="n1") == 0
    assert at(samples, "cloudos_auth_total", tenant="t1", outcome="accept", reason="ok") == 3
    assert at(samples, "cloudos_auth_total", tenant="t1", outcome="reject", reason="wrong_password") == 2
    assert at(samples, "cloudos_auth_total", tenant="t1", outcome="reject", reason="quota_exhausted") == 0
    assert at(samples, "cloudos_coa_pending", tenant="t1", kind="disconnect") == 1
    assert at(samples, "cloudos_coa_pending", tenant="t1", kind="coa") == 0
    assert 0 <= at(samples, "cloudos_coa_oldest_pending_seconds", tenant="t1", kind="disconnect") < 60
    assert at(samples, "cloudos_coa_settled_total", tenant="t1", kind="coa", status="ack") == 1
    assert at(samples, "cloudos_coa_settled_total", tenant="t1", kind="disconnect", status="timeout") == 0
    node = "radius1:/var/lib/cloudos-radius/spool/cloudos/journal"
    assert at(samples, "cloudos_journal_nodes") == 1
    assert 29 <= at(samples, "cloudos_journal_lag_seconds", node=node) < 90
    assert 4 <= at(samples, "cloudos_journal_report_age_seconds", node=node) < 60
    assert types["cloudos_auth"] == "counter" and types["cloudos_coa_settled"] == "counter"
    assert types["cloudos_sessions_online"] == "gauge"

    # A counter only grows through the day: one more reject, one more at the next run.
    conn.execute("INSERT INTO auth_log (at, tenant_id, username, outcome, reason) "
                 "VALUES (%s, %s, 'ali', 'reject', 'wrong_password')", (today, world.tenant))
    again, _ = parse(cli("metrics").out)
    assert at(again, "cloudos_auth_total", tenant="t1", outcome="reject", reason="wrong_password") == 3


def test_the_textfile_is_replaced_whole_and_readable_by_node_exporter(world: World, cli: Cli, stack: Stack,
                                                                      monkeypatch: pytest.MonkeyPatch,
                                                                      tmp_path: Path) -> None:
    monkeypatch.setenv("CLOUDOS_DATABASE_URL", metrics_url(stack, world.url))
    path = tmp_path / "cloudos.prom"
    path.write_text("stale content that is no metric\n")
    old_umask = os.umask(0o077)  # a service's umask must not make the file unreadable to node_exporter
    try:
        r = cli("metrics", "--textfile", str(path))
    finally:
        os.umask(old_umask)
    assert r.code == 0, r.err
    assert stat.S_IMODE(path.stat().st_mode) == 0o644
    assert [p.name for p in tmp_path.iterdir()] == ["cloudos.prom"]  # no temporary file left behind
    samples, _ = parse(path.read_text())
    assert at(samples, "cloudos_sessions_online", tenant="t1", nas="n1") == 0

    r = cli("metrics", "--textfile", str(tmp_path / "no-such-dir" / "cloudos.prom"))
    assert r.code == 1 and r.err.startswith("cloudos: error: cannot write") and r.err.count("\n") == 1


def test_the_metrics_login_reads_counts_and_nothing_personal(world: World, stack: Stack) -> None:
    with psycopg.connect(metrics_url(stack, world.url), autocommit=True, connect_timeout=5) as conn:
        conn.execute("SELECT tenant_id, outcome, reason, at FROM auth_log").fetchall()
        for statement in ("SELECT username FROM auth_log", "SELECT calling_station_id FROM auth_log",
                          "SELECT secret_enc FROM nas", "SELECT address FROM nas", "SELECT * FROM subscriber",
                          "SELECT username FROM session_open", "SELECT attributes FROM coa_outbox",
                          "UPDATE coa_outbox SET status = 'ack' WHERE false", "DELETE FROM journal_node",
                          "SELECT * FROM admin_audit", "SELECT cloudos_reap_sessions(now())"):
            with pytest.raises(psycopg.errors.InsufficientPrivilege):
                conn.execute(statement)
