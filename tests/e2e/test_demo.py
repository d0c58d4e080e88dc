"""`bash scripts/demo` as the README gives it: idempotent, also on a stack that holds many tenants and plans."""

from __future__ import annotations

import os
import subprocess
import time
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
    env = {k: v for k, v in os.environ.items() if not k.startswith(("CLOUDOS_", "PG"))}
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
        assert not stack.postgres_running() and stack.radiusd_pid() is None and stack.worker_pid() is None


def crowd(stack: Stack) -> None:
    """Many tenants and plans, named to sort after demo-isp and home-10m."""
    with psycopg.connect(stack.database_url, passfile=str(stack.pgpass), autocommit=True) as conn:
        (demo_isp,) = fetch_one(conn.execute("SELECT id FROM tenant WHERE name = 'demo-isp'"))
        conn.execute("INSERT INTO tenant (name, timezone) SELECT 'zz-isp-' || g, 'Asia/Karachi' "
                     "FROM generate_series(1, %s) g ON CONFLICT DO NOTHING", (EXTRA_TENANTS,))
        conn.execute("INSERT INTO plan (tenant_id, name, rate_limit, address_list, ip_pool) "
                     "SELECT %s, 'zz-plan-' || g, '2M/10M', 'an-address-list-long-enough-to-fill-a-pipe-' || g, "
                     "'a-pool-' || g FROM generate_series(1, %s) g ON CONFLICT DO NOTHING", (demo_isp, EXTRA_PLANS))


def worker_connections(stack: Stack) -> int:
    """Connections to PostgreSQL as the worker login: only `cloudos worker` uses it in the demo."""
    with psycopg.connect(stack.database_url, passfile=str(stack.pgpass)) as conn:
        (n,) = fetch_one(conn.execute("SELECT count(*) FROM pg_stat_activity WHERE usename = 'worker'"))
        return int(n)


def handled_by_the_worker(stack: Stack, timeout: float = 20.0) -> bool:
    """Queue a Disconnect-Request for a session that is not open, as the CLI or accounting would,
    and wait for a worker to settle it (sent, or cancelled as moot): nothing else takes it."""
    with psycopg.connect(stack.database_url, passfile=str(stack.pgpass), autocommit=True) as conn:
        (cid,) = fetch_one(conn.execute(
            "INSERT INTO coa_outbox (tenant_id, nas_id, nas_address, acct_unique_id, kind, reason, attributes) "
            "SELECT tenant_id, id, '127.0.0.1', 'no-such-session', 'disconnect', 'test', '{}' FROM nas "
            "WHERE name = 'local-mikrotik' RETURNING id"))
        conn.execute("NOTIFY cloudos_coa")
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            status, attempts = fetch_one(conn.execute("SELECT status, attempts FROM coa_outbox WHERE id = %s", (cid,)))
            if status != "pending" or attempts > 0:
                return True
            time.sleep(0.2)
    return False


def test_the_demo_runs_three_times_in_a_row(demo_state: Path) -> None:
    runs = [demo(demo_state)]
    assert runs[0].returncode == 0, runs[0].stdout[-3000:] + runs[0].stderr[-3000:]
    stack = Stack.load_or_new(demo_state)
    worker = stack.worker_pid()
    assert worker is not None, runs[0].stdout[-2000:]
    crowd(stack)
    for _ in range(2):
        runs.append(demo(demo_state))
        assert runs[-1].returncode == 0, runs[-1].stdout[-3000:] + runs[-1].stderr[-3000:]
    # One worker, the first run's, left running (a rerun starts none), as the worker login and not as root.
    assert stack.worker_pid() == worker
    assert b"cloudos\0worker" in Path(f"/proc/{worker}/cmdline").read_bytes()
    status = Path(f"/proc/{worker}/status").read_text()
    uids = next(line for line in status.splitlines() if line.startswith("Uid:")).split()[1:]
    assert "0" not in uids
    assert worker_connections(stack) >= 1
    assert handled_by_the_worker(stack)
    for run in runs:
        assert "Received Access-Accept" in run.stdout
        assert run.stdout.count("Received Accounting-Response") == 2
        assert "already exists" not in run.stderr
    with psycopg.connect(stack.database_url, passfile=str(stack.pgpass)) as conn:
        counts = conn.execute(
            "SELECT (SELECT count(*) FROM tenant WHERE name = 'demo-isp'), "
            "(SELECT count(*) FROM plan WHERE name = 'home-10m'), "
            "(SELECT count(*) FROM nas WHERE name = 'local-mikrotik'), "
            "(SELECT count(*) FROM subscriber WHERE username = 'demo'), "
            "(SELECT count(*) FROM tenant)").fetchone()
    assert counts == (1, 1, 1, 1, 1 + EXTRA_TENANTS)
    # Billing-ready: three runs, one invoice for demo-bill, and its PDF where the demo says.
    with psycopg.connect(stack.database_url, passfile=str(stack.pgpass)) as conn:
        invoices = conn.execute("SELECT i.number FROM invoice i JOIN subscriber s ON s.id = i.subscriber_id "
                                "WHERE s.username = 'demo-bill'").fetchall()
        rules = conn.execute("SELECT count(*) FROM tax_rule").fetchone()
    assert len(invoices) == 1 and rules == (2,)
    [(number,)] = invoices
    pdf = demo_state / f"invoice-{number}.pdf"
    assert all(f"Invoice PDF: {pdf}" in run.stdout for run in runs)
    text = subprocess.run(["pdftotext", str(pdf), "-"], capture_output=True, text=True, check=True).stdout
    assert number in text and "Demo ISP (Pvt) Ltd" in text and "Sindh sales tax @ 19.5%" in text


def test_a_failing_lookup_stops_the_demo_instead_of_adding(demo_state: Path) -> None:
    """A list command that fails must not read as "absent" (the old pipeline into grep -q did)."""
    first = demo(demo_state)
    assert first.returncode == 0, first.stderr[-3000:]
    stack = Stack.load_or_new(demo_state)
    with psycopg.connect(stack.database_url, passfile=str(stack.pgpass), autocommit=True) as conn:
        conn.execute("ALTER TABLE plan RENAME TO plan_gone")
    try:
        broken = demo(demo_state)
    finally:
        with psycopg.connect(stack.database_url, passfile=str(stack.pgpass), autocommit=True) as conn:
            conn.execute("ALTER TABLE plan_gone RENAME TO plan")
    assert broken.returncode != 0
    assert "demo: cloudos plan list failed" in broken.stderr
    assert "already exists" not in broken.stderr


def exited(line: str, pid: str | None, how: str = "") -> bool:
    """Whether ``line`` of an ``strace -f -o`` trace says process ``pid`` exited (``how``: e.g. "with 0").
    strace pads the PID to five columns, so "8895  +++ exited" has two spaces and "12345 +++" one."""
    words = line.split(maxsplit=1)
    return len(words) == 2 and words[0] == pid and words[1].startswith(f"+++ exited {how}".rstrip())


def test_the_demo_puts_no_secret_on_a_command_line(demo_state: Path) -> None:
    """Every program the demo runs (strace -f: radclient, the cloudos CLI, initdb, pg_ctl, redis-server,
    freeradius, psql …) is started with an argv free of the NAS secret, the subscriber's password,
    the Status-Server secret and every database and Redis password."""
    trace = demo_state.parent / "demo.strace"
    env = {k: v for k, v in os.environ.items() if not k.startswith(("CLOUDOS_", "PG"))}
    env["CLOUDOS_DEMO_STATE"] = str(demo_state)
    output = demo_state.parent / "demo.out"
    out_file = output.open("wb")
    proc = subprocess.Popen(["strace", "-f", "-q", "-e", "trace=execve", "-s", "65536", "-o", str(trace),
                             "bash", str(REPO / "scripts" / "demo")], cwd=REPO, env=env, stdin=subprocess.DEVNULL,
                            stdout=out_file, stderr=subprocess.STDOUT)
    try:
        # The demo leaves radiusd running (traced): wait for bash, the first process, to exit.
        deadline = time.monotonic() + 600
        top: str | None = None
        while time.monotonic() < deadline:
            lines = trace.read_text(errors="replace").splitlines() if trace.exists() else []
            top = top or (lines[0].split()[0] if lines else None)
            if top and any(exited(line, top) for line in lines):
                break
            time.sleep(0.5)
        else:
            raise AssertionError("the demo did not finish within 600 s")
    finally:
        proc.terminate()  # strace detaches from what is still running
        try:
            proc.wait(10)
        except subprocess.TimeoutExpired:
            proc.kill()  # the kernel detaches its tracees; they run on
            proc.wait(10)
        out_file.close()
    out = output.read_text(errors="replace")
    assert any(exited(line, top, "with 0") for line in lines), out[-3000:]
    execs = [line for line in lines if " execve(" in line]
    assert any("radclient" in line for line in execs) and any("cloudos" in line for line in execs)
    stack = Stack.load_or_new(demo_state)
    secrets = dict(line.split("=", 1) for line in (demo_state / "demo-secrets").read_text().split())
    secrets |= {f"password of {k}": v for k, v in stack.passwords.items()}
    secrets["status secret"] = stack.status_secret
    leaks = [(name, line[:300]) for line in execs for name, secret in secrets.items() if secret in line]
    assert leaks == []
