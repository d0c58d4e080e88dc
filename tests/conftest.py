"""Shared pytest setup.

* The radiusd test double (tests/double/radiusd.py) is importable as ``radiusd``
  for unit tests of the adapter; the real module exists only inside radiusd.
* ``stack``: a throwaway PostgreSQL cluster and Redis on free loopback ports,
  migrated, for the whole session. A component that cannot start fails the
  run loudly: nothing is skipped.
* ``radiusd``: a real ``freeradius -f`` on a raddb written from raddb/.
* ``cli``: the ``cloudos`` CLI run in-process against the stack.
"""

from __future__ import annotations

import contextlib
import functools
import io
import itertools
import json
import os
import shutil
import subprocess
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol, Unpack

import psycopg
import pytest

sys.path.insert(0, str(Path(__file__).parent / "double"))

from cloudos_stack import LOGINS, OWNER, Ports, Stack, free_port  # noqa: E402

from tests.fixtures.nas import Nas, NasOptions, journal_applied  # noqa: E402

E2E_SECRET = "e2e-nas-shared-secret"


def pytest_addoption(parser: pytest.Parser) -> None:
    parser.addoption("--container", action="store_true",
                     help="run only tests/container, against the image in CLOUDOS_TEST_IMAGE (scripts/container)")


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """Mark tests by directory; the container tests run only in the container stage
    (scripts/container builds their image first), and only they run there."""
    container_stage = config.getoption("--container")
    selected: list[pytest.Item] = []
    deselected: list[pytest.Item] = []
    for item in items:
        parts = Path(str(item.fspath)).parts
        if "integration" in parts:
            item.add_marker(pytest.mark.integration)
        elif "e2e" in parts:
            item.add_marker(pytest.mark.e2e)
        elif "container" in parts:
            item.add_marker(pytest.mark.container)
        (selected if ("container" in parts) == container_stage else deselected).append(item)
    if deselected:
        config.hook.pytest_deselected(items=deselected)
        items[:] = selected


@dataclass
class CliResult:
    code: int
    out: str
    err: str


class Cli(Protocol):
    """The ``cli`` fixture: ``run_cli``."""

    def __call__(self, *args: str, stdin: str | None = None) -> CliResult: ...


def run_cli(*args: str, stdin: str | None = None) -> CliResult:
    """Run ``cloudos ARGS`` in-process; stdin feeds --password-stdin and --secret-stdin."""
    from cloudos.cli import main

    out, err = io.StringIO(), io.StringIO()
    old_stdin = sys.stdin
    sys.stdin = io.StringIO(stdin if stdin is not None else "")
    try:
        with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
            try:
                code = main(list(args))
            except SystemExit as exc:  # argparse: --help (0) and usage errors (2)
                code = int(exc.code or 0)
    finally:
        sys.stdin = old_stdin
    return CliResult(code, out.getvalue(), err.getvalue())


def cli_ok(*args: str, stdin: str | None = None) -> CliResult:
    """``cloudos ARGS``, which must succeed."""
    r = run_cli(*args, stdin=stdin)
    assert r.code == 0, (args, r.err)
    return r


def cli_json(*args: str) -> Any:
    """``cloudos ARGS --json``, which must succeed: its answer, parsed."""
    return json.loads(cli_ok(*args, "--json").out)


def sql(url: str, query: str, *params: Any) -> list[tuple[Any, ...]]:
    """One statement on its own autocommit connection; its rows, if it returns any."""
    with psycopg.connect(url, autocommit=True) as conn:
        cur = conn.execute(query, params)
        return cur.fetchall() if cur.description else []


def open_cnic(url: str, blob: bytes) -> str:
    """The CNIC in ``blob`` as the CLI opens it (cloudos.identity: the key ring, and the subscriber's
    data key in the database at ``url``); DecryptError when it will not open."""
    from sqlalchemy import create_engine

    from cloudos import identity
    from cloudos.context import sqlalchemy_url
    from rlm_cloudos.crypto import KeyRing

    engine = create_engine(sqlalchemy_url(url))
    try:
        with engine.connect() as conn:
            return identity.open_cnic(conn, KeyRing.load(os.environ["CLOUDOS_KEYRING"]), bytes(blob))
    finally:
        engine.dispose()


def add_plan_and_subscriber(plan: str, rate_limit: str, username: str, password: str) -> tuple[str, str]:
    """A plan of the e2e tenant and one subscriber on it, through the CLI; (username, password)."""
    for argv, stdin in (
        (("plan", "add", plan, "--tenant", "e2e", "--rate-limit", rate_limit), None),
        (("subscriber", "add", username, "--tenant", "e2e", "--plan", plan, "--password-stdin"), password + "\n"),
    ):
        r = run_cli(*argv, stdin=stdin)
        assert r.code == 0, (argv, r.err)
    return username, password


@contextlib.contextmanager
def running_worker(stack: Stack, log_name: str, *args: str) -> Iterator[subprocess.Popen[bytes]]:
    """`cloudos worker ARGS` as a process of its own on the worker's login (cloudos_worker), as in
    production, its output in the stack's ``log_name``; stopped on leaving."""
    cloudos = str(Path(sys.executable).with_name("cloudos"))
    with open(stack.state / log_name, "ab") as log:
        proc = subprocess.Popen([cloudos, "worker", "--poll", "0.2", *args],
                                env=dict(os.environ, CLOUDOS_DATABASE_URL=stack.worker_url), stdout=log,
                                stderr=subprocess.STDOUT)
        try:
            yield proc
        finally:
            proc.terminate()
            proc.wait(10)


def beside(stack: Stack, state: Path) -> Stack:
    """A stack for a radiusd of a test's own, in ``state`` on free ports of its own, sharing the
    session's PostgreSQL, Redis, passwords, status secret and key ring (start only its radiusd)."""
    picked: list[int] = []
    while len(picked) < 3:
        port = free_port()
        if port not in picked and port not in (stack.ports.auth, stack.ports.acct, stack.ports.status):
            picked.append(port)
    mine = Stack(state=state, ports=Ports(stack.ports.pg, stack.ports.redis, *picked),
                 status_secret=stack.status_secret, passwords=stack.passwords, reject_delay=0,
                 client_lifetime=stack.client_lifetime, spool_retry=1)
    shutil.copy2(stack.keyring, mine.keyring)
    return mine


@pytest.fixture(scope="session")
def stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Stack]:
    state = tmp_path_factory.mktemp("stack")
    s = Stack(state=state, ports=Ports.pick(), status_secret=os.urandom(16).hex(), reject_delay=0,
              client_lifetime=2, spool_retry=1)
    try:
        s.start()
        os.environ.update(s.env())
        os.environ["CLOUDOS_ACTOR"] = "pytest"
        # Migrations as the owner; then each program's login (radiusd, worker, admin), as the stack and
        # the demo make them, and the CLI as the admin login from here on.
        os.environ["CLOUDOS_DATABASE_URL"] = s.database_url
        r = run_cli("db", "migrate")
        assert r.code == 0, r.err
        for login, group in LOGINS.items():
            r = run_cli("db", "create-login", group, login, "--password-stdin", stdin=s.passwords[login] + "\n")
            assert r.code == 0, r.err
        # A migrated template for tests that need a database of their own.
        with psycopg.connect(s.database_url, autocommit=True) as conn:
            conn.execute("CREATE DATABASE cloudos_template")
        os.environ["CLOUDOS_DATABASE_URL"] = _db_url(s, "cloudos_template")
        r = run_cli("db", "migrate")
        os.environ["CLOUDOS_DATABASE_URL"] = s.admin_url
        assert r.code == 0, r.err
        yield s
    finally:
        s.stop()


@pytest.fixture(scope="session")
def cli(stack: Stack) -> Cli:
    return run_cli


def _db_url(stack: Stack, name: str) -> str:
    return stack.database_url.rsplit("/", 1)[0] + "/" + name


_dbs = itertools.count(1)


@pytest.fixture
def fresh_db(stack: Stack, monkeypatch: pytest.MonkeyPatch) -> str:
    """A newly migrated database of this test's own (no tenants); CLOUDOS_DATABASE_URL points at it."""
    name = f"t_{os.getpid()}_{next(_dbs)}"
    with psycopg.connect(stack.database_url, autocommit=True) as conn:
        conn.execute(f'CREATE DATABASE "{name}" TEMPLATE cloudos_template')
    url = _db_url(stack, name)
    monkeypatch.setenv("CLOUDOS_DATABASE_URL", url)
    return url


@pytest.fixture
def fresh_admin(fresh_db: str, monkeypatch: pytest.MonkeyPatch) -> str:
    """fresh_db with the CLI on the admin login (cloudos_admin), as in production; returns the
    owner's URL, for the test's own set-ups and looks."""
    monkeypatch.setenv("CLOUDOS_DATABASE_URL", fresh_db.replace(f"//{OWNER}@", "//admin@"))
    return fresh_db


_names = itertools.count(1)


@pytest.fixture
def unique() -> str:
    """A name no other test uses."""
    return f"t{os.getpid()}x{next(_names)}"


class RadiusLog:
    """The radiusd log file, read from a mark so a test sees only its own lines."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self.offset = 0

    def mark(self) -> None:
        self.offset = self.path.stat().st_size if self.path.exists() else 0

    def since(self) -> str:
        with self.path.open("rb") as f:
            f.seek(self.offset)
            return f.read().decode(errors="replace")


@dataclass
class Radiusd:
    stack: Stack
    pid: int
    log: RadiusLog

    def nas(self, secret: str = E2E_SECRET, source: str = "127.0.0.1", **kw: Unpack[NasOptions]) -> Nas:
        """A NAS whose every acknowledged Accounting-Request is in PostgreSQL when ``acct`` returns
        (``applied=None``: only in the journal, for tests that stop PostgreSQL)."""
        kw.setdefault("applied", functools.partial(journal_applied, self.stack.acct_journal))
        return Nas(self.stack.host, self.stack.ports.auth, self.stack.ports.acct, secret, source=source, **kw)

    def alive(self) -> bool:
        return self.stack.radiusd_pid() == self.pid and self.stack.radius_ready()


@pytest.fixture(scope="session")
def radiusd(stack: Stack) -> Iterator[Radiusd]:
    """A real freeradius -f with the e2e tenant and its NAS on 127.0.0.1."""
    r = run_cli("tenant", "add", "e2e")
    assert r.code == 0, r.err
    r = run_cli("nas", "add", "loopback", "--tenant", "e2e", "--address", "127.0.0.1", "--secret-stdin",
                stdin=E2E_SECRET + "\n")
    assert r.code == 0, r.err
    # Acct-Delay-Time believed up to 35 days, not the default one: test_quota_coa dates packets
    # into last month to cross a month boundary (tests/e2e/test_accounting_faults.py runs the default).
    pid = stack.start_radiusd(env={"CLOUDOS_ACCT_MAX_DELAY": str(35 * 86_400)})
    try:
        yield Radiusd(stack, pid, RadiusLog(stack.radius_log))
    finally:
        stack.stop_radiusd()
