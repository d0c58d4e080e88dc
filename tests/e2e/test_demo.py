"""`bash scripts/demo` as the README gives it: idempotent, also on a stack that holds many tenants and plans."""

from __future__ import annotations

import os
import subprocess
from collections.abc import Iterator
from pathlib import Path

import psycopg
import pytest

from cloudos_stack import REPO, Stack
from tests.fixtures.pg import fetch_one

#: Enough rows that `cloudos … list --json` writes more than a pipe holds (64 KiB), and
#: sorted after the demo's own names, so a reader that stops at the first match (grep -q)
#: leaves the writer with unread output: the SIGPIPE that once took the add branch.
EXTRA_TENANTS = 150
EXTRA_PLANS = 400


def demo(state: Path, *args: str) -> subprocess.CompletedProcess[str]:
    # The session's CLOUDOS_* point at the test stack: the demo must find its own.
    env = {k: v for k, v in os.environ.items() if not k.startswith("CLOUDOS_")}
    env["CLOUDOS_DEMO_STATE"] = str(state)
    return subprocess.run(["bash", str(REPO / "scripts" / "demo"), *args], cwd=REPO, env=env, text=True,
                          capture_output=True, stdin=subprocess.DEVNULL, timeout=600)


@pytest.fixture
def demo_state(tmp_path: Path) -> Iterator[Path]:
    state = tmp_path / "demo"
    try:
        yield state
    finally:
        stopped = demo(state, "stop")
        assert stopped.returncode == 0, stopped.stderr
        stack = Stack.load_or_new(state)
        assert not stack.postgres_running() and stack.radiusd_pid() is None


def crowd(stack: Stack) -> None:
    """Many tenants and plans, named to sort after demo-isp and home-10m."""
    with psycopg.connect(stack.database_url, autocommit=True) as conn:
        (demo_isp,) = fetch_one(conn.execute("SELECT id FROM tenant WHERE name = 'demo-isp'"))
        conn.execute("INSERT INTO tenant (name, timezone) SELECT 'zz-isp-' || g, 'Asia/Karachi' "
                     "FROM generate_series(1, %s) g ON CONFLICT DO NOTHING", (EXTRA_TENANTS,))
        conn.execute("INSERT INTO plan (tenant_id, name, rate_limit, address_list, ip_pool) "
                     "SELECT %s, 'zz-plan-' || g, '2M/10M', 'an-address-list-long-enough-to-fill-a-pipe-' || g, "
                     "'a-pool-' || g FROM generate_series(1, %s) g ON CONFLICT DO NOTHING", (demo_isp, EXTRA_PLANS))


def test_the_demo_runs_three_times_in_a_row(demo_state: Path) -> None:
    runs = [demo(demo_state)]
    assert runs[0].returncode == 0, runs[0].stdout[-3000:] + runs[0].stderr[-3000:]
    stack = Stack.load_or_new(demo_state)
    crowd(stack)
    for _ in range(2):
        runs.append(demo(demo_state))
        assert runs[-1].returncode == 0, runs[-1].stdout[-3000:] + runs[-1].stderr[-3000:]
    for run in runs:
        assert "Received Access-Accept" in run.stdout
        assert run.stdout.count("Received Accounting-Response") == 2
        assert "already exists" not in run.stderr
    with psycopg.connect(stack.database_url) as conn:
        counts = conn.execute(
            "SELECT (SELECT count(*) FROM tenant WHERE name = 'demo-isp'), "
            "(SELECT count(*) FROM plan WHERE name = 'home-10m'), "
            "(SELECT count(*) FROM nas WHERE name = 'local-mikrotik'), "
            "(SELECT count(*) FROM subscriber WHERE username = 'demo'), "
            "(SELECT count(*) FROM tenant)").fetchone()
    assert counts == (1, 1, 1, 1, 1 + EXTRA_TENANTS)


def test_a_failing_lookup_stops_the_demo_instead_of_adding(demo_state: Path) -> None:
    """A list command that fails must not read as "absent" (the old pipeline into grep -q did)."""
    first = demo(demo_state)
    assert first.returncode == 0, first.stderr[-3000:]
    stack = Stack.load_or_new(demo_state)
    with psycopg.connect(stack.database_url, autocommit=True) as conn:
        conn.execute("ALTER TABLE plan RENAME TO plan_gone")
    try:
        broken = demo(demo_state)
    finally:
        with psycopg.connect(stack.database_url, autocommit=True) as conn:
            conn.execute("ALTER TABLE plan_gone RENAME TO plan")
    assert broken.returncode != 0
    assert "demo: cloudos plan list failed" in broken.stderr
    assert "already exists" not in broken.stderr
