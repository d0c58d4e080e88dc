"""The local stack is not a local root: passwords everywhere, none on a command line, state files 0600.

Against the session's real stack (PostgreSQL, Redis, ``freeradius -f``) and a second one made
here under umask 0, so a file written first and chmod-ed after would be seen wide open.
"""

from __future__ import annotations

import os
import stat
import sys
from collections.abc import Iterator
from pathlib import Path

import psycopg
import pytest
import redis

from cloudos_stack import LOGINS, OWNER, Ports, Stack
from tests.conftest import E2E_SECRET, Radiusd

#: The state files that hold a secret.
SECRET_FILES = ("stack.json", "stack.env", "pgpass", "status-secret", "keyring.json", "redis/redis.conf")


def secrets_of(stack: Stack) -> dict[str, str]:
    return {**{f"password of {k}": v for k, v in stack.passwords.items()},
            "status secret": stack.status_secret, "NAS secret": E2E_SECRET}


def cmdlines() -> dict[int, str]:
    """Every process's command line, NULs as spaces."""
    found: dict[int, str] = {}
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                found[int(entry.name)] = (entry / "cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace")
            except OSError:
                continue
    return found


#: argv of every process this test process starts while ``_started`` is recording (an audit hook:
#: short-lived ones such as radclient are gone before /proc could be read).
_started: list[list[str]] = []
_recording = [False]


def _hook(event: str, args: tuple[object, ...]) -> None:
    if _recording[0] and event == "subprocess.Popen":
        argv = args[1]
        _started.append([os.fsdecode(a) for a in argv] if isinstance(argv, list | tuple) else [str(argv)])


sys.addaudithook(_hook)


def leaked(stack: Stack, lines: dict[int, str]) -> list[tuple[str, int, str]]:
    return [(name, pid, line[:200]) for pid, line in lines.items() for name, secret in secrets_of(stack).items()
            if secret in line]


def test_no_secret_on_any_command_line(radiusd: Radiusd) -> None:
    stack = radiusd.stack
    _started.clear()
    _recording[0] = True
    try:
        assert radiusd.alive()  # radclient's Status-Server probe
        assert stack.radius_stats()
    finally:
        _recording[0] = False
    assert any(argv[0] == "radclient" for argv in _started), _started
    assert leaked(stack, {-i: " ".join(argv) for i, argv in enumerate(_started, 1)}) == []
    lines = cmdlines()
    ours = {pid: line for pid, line in lines.items()
            if str(stack.state) in line or f":{stack.ports.redis}" in line or "redis-server" in line}
    assert any("freeradius" in line for line in ours.values()) and any("postgres" in line for line in ours.values())
    assert any("redis-server" in line for line in ours.values())
    assert leaked(stack, lines) == []


def test_postgresql_wants_the_password_and_trusts_no_one(stack: Stack) -> None:
    hba = (stack.pgdata / "pg_hba.conf").read_text()
    rules = [line.split() for line in hba.splitlines() if line.strip() and not line.lstrip().startswith("#")]
    assert rules and all(r[-1] == "scram-sha-256" for r in rules), rules
    for login in (OWNER, *LOGINS):
        with pytest.raises(psycopg.OperationalError, match="password authentication failed"):
            psycopg.connect(stack.login_url(login), password="not-" + stack.passwords[login], connect_timeout=5)
        with pytest.raises(psycopg.OperationalError):  # no passfile, no password: no way in
            psycopg.connect(stack.login_url(login), passfile="/nonexistent", connect_timeout=5)
        with psycopg.connect(stack.login_url(login), connect_timeout=5) as conn:  # with the 0600 passfile
            assert conn.execute("SELECT current_user").fetchone() == (login,)


def test_redis_refuses_a_client_without_the_password(stack: Stack) -> None:
    anonymous = redis.Redis(host="127.0.0.1", port=stack.ports.redis, socket_timeout=2)
    with pytest.raises(redis.AuthenticationError):
        anonymous.ping()
    wrong = redis.Redis(host="127.0.0.1", port=stack.ports.redis, password="wrong", socket_timeout=2)
    with pytest.raises(redis.AuthenticationError):
        wrong.ping()
    assert redis.Redis.from_url(stack.redis_url, socket_timeout=2).ping()


@pytest.fixture
def wide_open(tmp_path: Path) -> Iterator[Stack]:
    """A second stack started under umask 0 (its PostgreSQL and Redis stopped at the end)."""
    s = Stack(state=tmp_path / "state", ports=Ports.pick(), status_secret=os.urandom(16).hex())
    old = os.umask(0)
    try:
        yield s
    finally:
        os.umask(old)
        s.stop()


def test_state_files_are_0600_from_their_creation(wide_open: Stack) -> None:
    """Each secret file is checked at every file operation the start makes (an audit hook): one
    written and then chmod-ed would be seen with its wide mode before the chmod."""
    state = wide_open.state
    seen: dict[str, set[int]] = {}
    watching = [True]

    def look(event: str, args: tuple[object, ...]) -> None:
        if not watching[0] or event not in ("open", "os.chmod", "os.rename", "os.replace", "os.chown"):
            return
        for entry in [*state.glob(".*"), *state.glob("*"), *state.glob("redis/*"), *state.glob("redis/.*")]:
            try:
                mode = stat.S_IMODE(entry.lstat().st_mode)
            except OSError:
                continue
            if entry.is_file():
                seen.setdefault(str(entry.relative_to(state)), set()).add(mode)

    sys.addaudithook(look)
    _started.clear()
    _recording[0] = True
    try:
        wide_open.start()
    finally:
        watching[0] = _recording[0] = False
    # initdb, pg_ctl and redis-server get their secrets from files, not argv.
    assert {"initdb", "pg_ctl", "redis-server"} <= {Path(a[-1] if a[0] == "runuser" else a[0]).name
                                                     for a in _started} | {Path(x).name for a in _started for x in a}
    assert leaked(wide_open, {-i: " ".join(argv) for i, argv in enumerate(_started, 1)}) == []
    for name in SECRET_FILES:
        path = state / name
        assert stat.S_IMODE(path.stat().st_mode) == 0o600, name
    wide = {name: sorted(oct(m) for m in modes) for name, modes in seen.items() if any(m & 0o077 for m in modes)
            and not name.endswith((".pid", ".log"))}
    assert wide == {}
    assert {"stack.json", "stack.env", "pgpass", "status-secret", "redis/redis.conf"} <= set(seen)


def test_radiusd_and_redis_do_not_run_as_root(radiusd: Radiusd) -> None:
    """Started by root (the harness here runs as root), radiusd and Redis drop to the `cloudos` user."""
    assert os.geteuid() == 0, "this check needs the stack started as root"
    stack = radiusd.stack
    redis_pid = int(Path(stack.redis_pidfile).read_text().split()[0])
    uids = {}
    for name, pid in (("radiusd", radiusd.pid), ("redis", redis_pid)):
        status = Path(f"/proc/{pid}/status").read_text()
        uids[name] = [int(v) for v in next(line for line in status.splitlines() if line.startswith("Uid:")).split()[1:]]
    assert all(0 not in ids for ids in uids.values()), uids
    assert radiusd.alive()
