"""A local stack on loopback: a throwaway PostgreSQL cluster, Redis and `freeradius -f`.

Used by `bash scripts/demo` (state in .cloudos/, left running) and by the test
harness (state in a temporary directory, stopped at the end). Every process is
started here and stopped by the PID recorded here; nothing else is touched.

PostgreSQL refuses to run as root: as root the cluster runs as the system user
``cloudos`` (created by scripts/install), otherwise as the calling user.
"""

from __future__ import annotations

import argparse
import contextlib
import glob
import json
import os
import pwd
import shlex
import shutil
import signal
import socket
import subprocess
import sys
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[2]  # tools/cloudos_stack/stack.py
RADDB = REPO / "raddb"


#: The database owner (migrations only) and each program's login role: name → its group role (schema 0012).
OWNER = "cloudos"
LOGINS = {"radiusd": "cloudos_radius", "worker": "cloudos_worker", "admin": "cloudos_admin",
          "metrics": "cloudos_metrics"}


#: What radiusd's configuration reads with $ENV{...} and FreeRADIUS gives no default: an unset one is
#: empty, read as 0 (raddb/radiusd.conf says why that matters). The stack's defaults; deploy/systemd's
#: unit and the image set the same (tests/unit/test_config_table.py holds them, and the README, equal).
RADIUSD_DEFAULTS = {"CLOUDOS_CLIENT_LIFETIME": 60, "CLOUDOS_REJECT_DELAY": 1, "CLOUDOS_SPOOL_RETRY": 10}


def new_passwords() -> dict[str, str]:
    """A fresh password for the owner, every login and Redis."""
    return {name: os.urandom(18).hex() for name in (OWNER, *LOGINS, "redis")}


class StackError(RuntimeError):
    """A component of the local stack could not be started or stopped."""


def free_port(kind: int = socket.SOCK_STREAM) -> int:
    """A port free on 127.0.0.1 for both TCP and UDP right now."""
    for _ in range(50):
        with socket.socket(socket.AF_INET, kind) as s:
            s.bind(("127.0.0.1", 0))
            port = int(s.getsockname()[1])
        other = socket.SOCK_DGRAM if kind == socket.SOCK_STREAM else socket.SOCK_STREAM
        try:
            with socket.socket(socket.AF_INET, other) as s:
                s.bind(("127.0.0.1", port))
        except OSError:
            continue
        return port
    raise StackError("no free port on 127.0.0.1")


def _pg_bin(name: str) -> str:
    found = sorted(glob.glob(f"/usr/lib/postgresql/*/bin/{name}"), key=lambda p: int(p.split("/")[4]))
    if not found:
        raise StackError(f"PostgreSQL's {name} not found: run bash scripts/install")
    return found[-1]


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    try:  # a zombie child counts as gone
        with open(f"/proc/{pid}/stat") as f:
            return f.read().split(") ", 1)[1][0] != "Z"
    except OSError:
        return False


def _runs(pid: int, program: str, *args: str) -> bool:
    """Whether process ``pid`` runs ``program`` (an argv entry of that base name) with ``args``: a PID
    file that outlived its process (a reboot, a kill -9) may name someone else's by now."""
    try:
        argv = Path(f"/proc/{pid}/cmdline").read_bytes().decode(errors="replace").split("\0")
    except OSError:
        return False
    return any(Path(a).name == program for a in argv) and all(a in argv for a in args)


#: Children this process started and has not reaped: kept so that their Popen objects are not
#: dropped while they run (Python warns of that), and reaped when they are stopped.
_children: dict[int, subprocess.Popen[bytes]] = {}


def _stop_pid(pid: int, timeout: float = 10.0) -> None:
    child = _children.pop(pid, None)
    try:
        _signal_and_wait(pid, timeout)
    finally:
        if child is not None:
            child.wait(timeout)


def _signal_and_wait(pid: int, timeout: float) -> None:
    if not _alive(pid):
        return
    os.kill(pid, signal.SIGTERM)
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            os.waitpid(pid, os.WNOHANG)
        except ChildProcessError:
            pass
        if not _alive(pid):
            return
        time.sleep(0.05)
    os.kill(pid, signal.SIGKILL)


def write_private(path: Path, text: str, owner: str | None = None) -> None:
    """Write ``path`` as a 0600 file from its creation on (never wider, whatever the umask), replacing
    any older one; chowned to ``owner`` (an OS user) when given."""
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    with contextlib.suppress(FileNotFoundError):
        tmp.unlink()
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    try:
        os.fchmod(fd, 0o600)  # O_CREAT's mode is already 0600 or narrower; this undoes a narrower umask only
        if owner is not None:
            pw = pwd.getpwnam(owner)
            os.fchown(fd, pw.pw_uid, pw.pw_gid)
        with os.fdopen(fd, "w") as f:
            fd = -1
            f.write(text)
    finally:
        if fd >= 0:
            os.close(fd)
    os.replace(tmp, path)


def _read_pid(path: Path) -> int | None:
    try:
        return int(path.read_text().split()[0])
    except (OSError, ValueError, IndexError):
        return None


@dataclass
class Ports:
    pg: int
    redis: int
    auth: int
    acct: int
    status: int

    @classmethod
    def pick(cls) -> Ports:
        picked: list[int] = []
        while len(picked) < 5:
            p = free_port()
            if p not in picked:
                picked.append(p)
        return cls(*picked)


@dataclass
class Stack:
    """Where a stack lives and how to reach it."""

    state: Path
    ports: Ports
    status_secret: str
    #: Passwords of the owner and of each program's login (LOGINS), and Redis's.
    passwords: dict[str, str] = field(default_factory=lambda: new_passwords())
    host: str = "127.0.0.1"
    client_lifetime: int = RADIUSD_DEFAULTS["CLOUDOS_CLIENT_LIFETIME"]
    reject_delay: int = RADIUSD_DEFAULTS["CLOUDOS_REJECT_DELAY"]
    spool_retry: int = RADIUSD_DEFAULTS["CLOUDOS_SPOOL_RETRY"]

    # ------------------------------------------------------------------ paths and URLs
    @property
    def pgdata(self) -> Path:
        return self.state / "pg" / "data"

    @property
    def pg_socket_dir(self) -> Path:
        return self.state / "pg" / "run"

    @property
    def keyring(self) -> Path:
        return self.state / "keyring.json"

    @property
    def radius_state(self) -> Path:
        return self.state / "radius"

    @property
    def raddb(self) -> Path:
        return self.state / "raddb"

    @property
    def acct_journal(self) -> Path:
        """rlm_cloudos's accounting journal (acct_journal in raddb/mods-enabled/cloudos)."""
        return self.radius_state / "spool" / "cloudos" / "journal"

    @property
    def radius_pgpass(self) -> Path:
        """radiusd's PGPASSFILE: only the radiusd login's password, owned by the user radiusd runs as."""
        return self.radius_state / "pgpass"

    @property
    def radius_log(self) -> Path:
        return self.radius_state / "log" / "radius.log"

    @property
    def pgpass(self) -> Path:
        """libpq's password file (PGPASSFILE) for every role: no URL or command line carries a password."""
        return self.state / "pgpass"

    @property
    def status_secret_file(self) -> Path:
        """The Status-Server secret for radclient's -S: a secret on radclient's argv is in /proc/PID/cmdline."""
        return self.state / "status-secret"

    def login_url(self, login: str) -> str:
        """The URL of ``login`` (OWNER or a name in LOGINS); its password comes from ``pgpass``."""
        return f"postgresql://{login}@127.0.0.1:{self.ports.pg}/cloudos"

    @property
    def database_url(self) -> str:
        """The owner's URL: migrations and the tests' own look into the database."""
        return self.login_url(OWNER)

    @property
    def admin_url(self) -> str:
        return self.login_url("admin")

    @property
    def radius_url(self) -> str:
        return self.login_url("radiusd")

    @property
    def worker_url(self) -> str:
        return self.login_url("worker")

    @property
    def metrics_url(self) -> str:
        return self.login_url("metrics")

    @property
    def redis_url(self) -> str:
        """Redis with its password (requirepass): kept in 0600 files and the environment, never on argv."""
        return f"redis://:{self.passwords['redis']}@127.0.0.1:{self.ports.redis}/0"

    def env(self) -> dict[str, str]:
        """The CLOUDOS_* variables that point the CLI and radiusd at this stack."""
        return {
            "CLOUDOS_DATABASE_URL": self.admin_url,
            "CLOUDOS_OWNER_DATABASE_URL": self.database_url,
            "CLOUDOS_WORKER_DATABASE_URL": self.worker_url,
            "CLOUDOS_METRICS_DATABASE_URL": self.metrics_url,
            "PGPASSFILE": str(self.pgpass),
            "CLOUDOS_REDIS_URL": self.redis_url,
            "CLOUDOS_KEYRING": str(self.keyring),
            "CLOUDOS_RADIUS_HOST": self.host,
            "CLOUDOS_RADIUS_AUTH_PORT": str(self.ports.auth),
            "CLOUDOS_RADIUS_ACCT_PORT": str(self.ports.acct),
            "CLOUDOS_RADIUS_STATUS_PORT": str(self.ports.status),
            "CLOUDOS_STATUS_SECRET": self.status_secret,
        }

    def radiusd_env(self) -> dict[str, str]:
        env = dict(os.environ)
        env.update(self.env())
        env.update(
            {
                "CLOUDOS_DATABASE_URL": self.radius_url,
                "PGPASSFILE": str(self.radius_pgpass),
                "CLOUDOS_HOME": str(REPO),
                "CLOUDOS_VENV": str(Path(sys.prefix)),
                "CLOUDOS_RADDB": str(self.raddb),
                "CLOUDOS_RADIUS_STATE": str(self.radius_state),
                "CLOUDOS_CLIENT_LIFETIME": str(self.client_lifetime),
                "CLOUDOS_REJECT_DELAY": str(self.reject_delay),
                "CLOUDOS_SPOOL_RETRY": str(self.spool_retry),
            }
        )
        return env

    def save(self) -> None:
        self.state.mkdir(parents=True, exist_ok=True)
        meta = {"ports": asdict(self.ports), "status_secret": self.status_secret, "passwords": self.passwords,
                "host": self.host, "client_lifetime": self.client_lifetime, "reject_delay": self.reject_delay,
                "spool_retry": self.spool_retry}
        write_private(self.state / "stack.json", json.dumps(meta, indent=2) + "\n")
        lines = [f"export {k}={shlex.quote(v)}" for k, v in self.env().items()]
        write_private(self.state / "stack.env", "# Source me: . .cloudos/stack.env\n" + "\n".join(lines) + "\n")
        write_private(self.status_secret_file, self.status_secret + "\n")
        # Any host, port and database: the tests reach the same cluster through proxies.
        write_private(self.pgpass, "".join(f"127.0.0.1:*:*:{name}:{pw}\n" for name, pw in self.passwords.items()
                                           if name != "redis"))

    @classmethod
    def load_or_new(cls, state: Path, **overrides: object) -> Stack:
        path = state / "stack.json"
        if path.exists():
            meta = json.loads(path.read_text())
            # A state from before a login was added (metrics: schema 0014) gets a password for it.
            return cls(state=state, ports=Ports(**meta["ports"]), status_secret=meta["status_secret"],
                       passwords={**new_passwords(), **(meta.get("passwords") or {})},
                       host=meta.get("host", "127.0.0.1"),
                       client_lifetime=meta.get("client_lifetime", RADIUSD_DEFAULTS["CLOUDOS_CLIENT_LIFETIME"]),
                       reject_delay=meta.get("reject_delay", RADIUSD_DEFAULTS["CLOUDOS_REJECT_DELAY"]),
                       spool_retry=meta.get("spool_retry", RADIUSD_DEFAULTS["CLOUDOS_SPOOL_RETRY"]))
        stack = cls(state=state, ports=Ports.pick(), status_secret=os.urandom(16).hex(), **overrides)  # type: ignore[arg-type]
        return stack

    # ------------------------------------------------------------------ PostgreSQL
    def _pg_user(self) -> str | None:
        """The OS user PostgreSQL, Redis and radiusd run as: ``cloudos`` when we are root, else
        ourselves (None). Nothing the stack starts runs as root."""
        if os.geteuid() != 0:
            return None
        try:
            pwd.getpwnam("cloudos")
        except KeyError:
            raise StackError("running as root needs the system user 'cloudos': run bash scripts/install") from None
        return "cloudos"

    def _traversable(self, *more: Path) -> None:
        """Every ancestor of the state directory (and of ``more``) o+x, so that the `cloudos` user
        reaches its part: traverse only, nothing becomes listable or readable that was not."""
        for top in (self.state, *more):
            for d in [top, *top.parents]:
                mode = d.stat().st_mode
                if not mode & 0o001:
                    d.chmod(mode | 0o001)

    def _as_pg(self, argv: list[str]) -> list[str]:
        user = self._pg_user()
        return ["runuser", "-u", user, "--", *argv] if user else argv

    def start_postgres(self) -> None:
        user = self._pg_user()
        self.pg_socket_dir.mkdir(parents=True, exist_ok=True)
        if user:
            # The cluster's user must reach its directory: chown state/pg, and
            # make every ancestor traversable (o+x), as PostgreSQL needs.
            pw = pwd.getpwnam(user)
            for d in (self.pgdata.parent, self.pg_socket_dir):
                os.chown(d, pw.pw_uid, pw.pw_gid)
            self._traversable()
        if not (self.pgdata / "PG_VERSION").exists():
            if self.pgdata.exists():
                shutil.rmtree(self.pgdata)
            self.pgdata.mkdir(mode=0o700)
            if user:
                pw = pwd.getpwnam(user)
                os.chown(self.pgdata, pw.pw_uid, pw.pw_gid)
            # scram-sha-256 for every connection, local or TCP (pg_hba as initdb writes it): the
            # owner's password from a 0600 file, removed once initdb has read it.
            pwfile = self.pgdata.parent / "initdb.pw"
            write_private(pwfile, self.passwords[OWNER] + "\n", owner=user)
            try:
                _run(self._as_pg([_pg_bin("initdb"), "-D", str(self.pgdata), "-U", OWNER, "-A", "scram-sha-256",
                                  f"--pwfile={pwfile}", "-E", "UTF8", "--locale=C.UTF-8", "--no-instructions"]),
                     "initdb")
            finally:
                pwfile.unlink(missing_ok=True)
            conf = self.pgdata / "postgresql.conf"
            with conf.open("a") as f:
                f.write(
                    "\n# CloudOS local stack: loopback only\n"
                    "listen_addresses = '127.0.0.1'\n"
                    f"port = {self.ports.pg}\n"
                    f"unix_socket_directories = '{self.pg_socket_dir}'\n"
                    "fsync = on\nmax_connections = 200\nshared_buffers = 256MB\n"
                    "timezone = 'UTC'\nlog_timezone = 'UTC'\npassword_encryption = 'scram-sha-256'\n"
                )
        if self.postgres_running():
            return
        log = self.pgdata.parent / "postgres.log"
        if user:
            log.touch()
            pw = pwd.getpwnam(user)
            os.chown(log, pw.pw_uid, pw.pw_gid)
        _run(self._as_pg([_pg_bin("pg_ctl"), "-D", str(self.pgdata), "-l", str(log), "-w", "-t", "60", "start"]),
             "pg_ctl start")
        self._ensure_database()

    def _ensure_database(self) -> None:
        import psycopg

        with psycopg.connect(self.login_url(OWNER).rsplit("/", 1)[0] + "/postgres", passfile=str(self.pgpass),
                             autocommit=True, connect_timeout=10) as conn:
            if conn.execute("SELECT 1 FROM pg_database WHERE datname = 'cloudos'").fetchone() is None:
                conn.execute("CREATE DATABASE cloudos")

    def create_logins(self, cloudos: Path | None = None) -> None:
        """Each program's login role (LOGINS) with its password, through `cloudos db create-login` as
        the owner, the password on standard input. Needs the migrated schema (its group roles)."""
        exe = cloudos or Path(sys.prefix) / "bin" / "cloudos"
        env = {**os.environ, **self.env(), "CLOUDOS_DATABASE_URL": self.database_url}
        env.setdefault("CLOUDOS_ACTOR", "cloudos_stack")
        for login, group in LOGINS.items():
            r = subprocess.run([str(exe), "db", "create-login", group, login, "--password-stdin"], env=env,
                               input=self.passwords[login] + "\n", capture_output=True, text=True)
            if r.returncode != 0:
                raise StackError(f"cloudos db create-login {group} {login} failed: {r.stderr.strip()[-500:]}")

    def postgres_pid(self) -> int | None:
        return _read_pid(self.pgdata / "postmaster.pid")

    def postgres_running(self) -> bool:
        pid = self.postgres_pid()
        return pid is not None and _alive(pid)

    def stop_postgres(self) -> None:
        if self.postgres_running():
            subprocess.run(self._as_pg([_pg_bin("pg_ctl"), "-D", str(self.pgdata), "-m", "fast", "-w", "stop"]),
                           capture_output=True, check=False)
        pid = self.postgres_pid()
        if pid and _alive(pid):
            _stop_pid(pid)

    # ------------------------------------------------------------------ Redis
    @property
    def redis_pidfile(self) -> Path:
        return self.state / "redis" / "redis.pid"

    def start_redis(self) -> None:
        user = self._pg_user()
        d = self.state / "redis"
        d.mkdir(parents=True, exist_ok=True)
        if user:
            _chown_tree(d, user)
        pid = _read_pid(self.redis_pidfile)
        if pid and _alive(pid):
            return
        # Everything in a 0600 file, the password (requirepass) included: nothing secret on argv.
        conf = d / "redis.conf"
        write_private(conf, "".join(f"{k} {v}\n" for k, v in (
            ("bind", "127.0.0.1"), ("port", self.ports.redis), ("daemonize", "yes"),
            ("pidfile", self.redis_pidfile), ("dir", d), ("logfile", d / "redis.log"), ("save", '""'),
            ("appendonly", "no"), ("protected-mode", "yes"), ("requirepass", self.passwords["redis"]))),
            owner=user)
        _run(["redis-server", str(conf)], "redis-server", user=user)
        _wait(lambda: _tcp_open(self.ports.redis) and _read_pid(self.redis_pidfile) is not None, 10,
              "Redis did not open its port")

    def stop_redis(self) -> None:
        pid = _read_pid(self.redis_pidfile)
        if pid:
            _stop_pid(pid)

    # ------------------------------------------------------------------ FreeRADIUS
    @property
    def radiusd_pidfile(self) -> Path:
        return self.radius_state / "run" / "cloudos-radiusd.pid"

    def write_raddb(self, source: Path = RADDB) -> None:
        """Copy ``source`` (raddb/) for this stack: the running server is insulated from edits to the repository."""
        if self.raddb.exists():
            shutil.rmtree(self.raddb)
        shutil.copytree(source, self.raddb)
        for sub in ("log", "run", "spool", "spool/cloudos"):
            (self.radius_state / sub).mkdir(parents=True, exist_ok=True)
        user = self._pg_user()
        write_private(self.status_secret_file, self.status_secret + "\n")  # for radius_ready's radclient -S
        # radiusd's own password file: its login's line only (the owner's password stays root's).
        write_private(self.radius_pgpass, f"127.0.0.1:*:*:radiusd:{self.passwords['radiusd']}\n", owner=user)
        if user:
            # radiusd, as the cloudos user, loads rlm_cloudos from the repository and Python from the
            # virtualenv: a clone under a 0700 directory (mktemp -d, /root) would hide them from it.
            self._traversable(REPO, Path(sys.prefix))
            _chown_tree(self.raddb, user)
            _chown_tree(self.radius_state, user)
            if self.keyring.exists():
                pw = pwd.getpwnam(user)
                os.chown(self.keyring, pw.pw_uid, pw.pw_gid)

    def ensure_keyring(self) -> None:
        """The key ring, 0600, owned by the user radiusd runs as (root, running the CLI, reads it anyway)."""
        if not self.keyring.exists():
            from rlm_cloudos.crypto import KeyRing

            self.state.mkdir(parents=True, exist_ok=True)
            KeyRing.create(self.keyring)
        user = self._pg_user()
        if user:
            pw = pwd.getpwnam(user)
            os.chown(self.keyring, pw.pw_uid, pw.pw_gid)

    def radiusd_pid(self) -> int | None:
        pid = _read_pid(self.radiusd_pidfile)
        return pid if pid and _alive(pid) and _runs(pid, "freeradius") else None

    def start_radiusd(self, *, extra_args: tuple[str, ...] = (), raddb: Path = RADDB,
                      env: dict[str, str] | None = None) -> int:
        """Start `freeradius -f` on a copy of ``raddb`` in its own session and wait for Status-Server;
        returns its PID. ``env`` adds to the CLOUDOS_* environment (the benchmark's other configurations)."""
        pid = self.radiusd_pid()
        if pid:
            return pid
        self.write_raddb(raddb)
        run_env = {**self.radiusd_env(), **(env or {})}
        as_user = _as_user(self._pg_user())
        check = subprocess.run(["freeradius", "-C", "-d", str(self.raddb)], env=run_env,
                               capture_output=True, text=True, **as_user)
        if check.returncode != 0:
            raise StackError("freeradius -C rejected the configuration:\n" + (check.stdout + check.stderr)[-3000:])
        out = open(self.radius_state / "log" / "radiusd.stdout", "ab")
        proc = subprocess.Popen(
            ["freeradius", "-f", "-d", str(self.raddb), *extra_args],
            env=run_env, stdin=subprocess.DEVNULL, stdout=out, stderr=subprocess.STDOUT,
            start_new_session=True, **as_user,
        )
        out.close()
        _children[proc.pid] = proc
        self.radiusd_pidfile.write_text(f"{proc.pid}\n")
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            if proc.poll() is not None:
                raise StackError(f"freeradius exited with {proc.returncode}; see {self.radius_log}:\n"
                                 + _tail(self.radius_log))
            if self.radius_ready():
                return proc.pid
            time.sleep(0.2)
        raise StackError(f"freeradius did not answer Status-Server within 30 s; see {self.radius_log}")

    def radius_ready(self) -> bool:
        """True when radiusd answers a Status-Server on the status port."""
        r = subprocess.run(
            ["radclient", "-q", "-t", "1", "-r", "1", "-S", str(self.status_secret_file),
             f"127.0.0.1:{self.ports.status}", "status"],
            input="Message-Authenticator = 0x00\n", capture_output=True, text=True,
        )
        return r.returncode == 0

    def radius_stats(self) -> dict[str, str]:
        """FreeRADIUS's own counters (Status-Server with FreeRADIUS-Statistics-Type = All)."""
        r = subprocess.run(
            ["radclient", "-x", "-t", "2", "-r", "1", "-S", str(self.status_secret_file),
             f"127.0.0.1:{self.ports.status}", "status"],
            input="Message-Authenticator = 0x00, FreeRADIUS-Statistics-Type = All\n", capture_output=True, text=True,
        )
        stats: dict[str, str] = {}
        for line in r.stdout.splitlines():
            name, sep, value = line.strip().partition(" = ")
            if sep and name.startswith("FreeRADIUS-"):
                stats[name] = value.strip('"')
        return stats

    def stop_radiusd(self) -> None:
        pid = self.radiusd_pid()
        if pid:
            _stop_pid(pid)

    # ------------------------------------------------------------------ cloudos worker
    @property
    def worker_dir(self) -> Path:
        return self.state / "worker"

    @property
    def worker_pidfile(self) -> Path:
        return self.worker_dir / "worker.pid"

    @property
    def worker_log(self) -> Path:
        return self.worker_dir / "worker.log"

    @property
    def worker_pgpass(self) -> Path:
        """The worker's PGPASSFILE: only the worker login's password, owned by the user it runs as."""
        return self.worker_dir / "pgpass"

    def worker_pid(self) -> int | None:
        pid = _read_pid(self.worker_pidfile)
        return pid if pid and _alive(pid) and _runs(pid, "cloudos", "worker") else None

    def start_worker(self, timeout: float = 30.0) -> int:
        """Start `cloudos worker` (the CoA/Disconnect sender and reaper) as the worker login, in its own
        session, as the user radiusd runs as; wait for its ``event=worker_ready`` line; returns its PID.
        Raises StackError, with the end of its log, when it exits or is not ready within ``timeout``."""
        pid = self.worker_pid()
        if pid:
            return pid
        user = self._pg_user()
        self.worker_dir.mkdir(parents=True, exist_ok=True)
        write_private(self.worker_pgpass, f"127.0.0.1:*:*:worker:{self.passwords['worker']}\n", owner=user)
        if user:
            self._traversable(REPO, Path(sys.prefix))
            _chown_tree(self.worker_dir, user)
        env = {k: v for k, v in os.environ.items() if not k.startswith(("CLOUDOS_", "PG"))}
        env.update({"CLOUDOS_DATABASE_URL": self.worker_url, "PGPASSFILE": str(self.worker_pgpass),
                    "CLOUDOS_KEYRING": str(self.keyring)})
        start = self.worker_log.stat().st_size if self.worker_log.exists() else 0
        # O_APPEND: logrotate's copytruncate (deploy/logrotate/cloudos) then leaves no hole.
        out = open(self.worker_log, "ab")
        if user:
            pw = pwd.getpwnam(user)
            os.fchown(out.fileno(), pw.pw_uid, pw.pw_gid)
        proc = subprocess.Popen([str(Path(sys.prefix) / "bin" / "cloudos"), "worker"], env=env,
                                stdin=subprocess.DEVNULL, stdout=out, stderr=subprocess.STDOUT,
                                start_new_session=True, **_as_user(user))
        out.close()
        _children[proc.pid] = proc
        self.worker_pidfile.write_text(f"{proc.pid}\n")
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if proc.poll() is not None:
                raise StackError(f"cloudos worker exited with {proc.returncode}; see {self.worker_log}:\n"
                                 + _tail(self.worker_log, 10))
            with self.worker_log.open("rb") as f:
                f.seek(start)
                if b"event=worker_ready" in f.read():
                    return proc.pid
            time.sleep(0.1)
        raise StackError(f"cloudos worker was not ready within {timeout:g} s; see {self.worker_log}")

    def stop_worker(self) -> None:
        pid = self.worker_pid()
        if pid:
            _stop_pid(pid)

    # ------------------------------------------------------------------ whole stack
    def start(self) -> None:
        self.save()
        self.ensure_keyring()
        self.start_postgres()
        self.start_redis()

    def stop(self) -> None:
        self.stop_worker()
        self.stop_radiusd()
        self.stop_redis()
        self.stop_postgres()


def _tcp_open(port: int) -> bool:
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=0.5):
            return True
    except OSError:
        return False


def _wait(pred: object, timeout: float, what: str) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if pred():  # type: ignore[operator]
            return
        time.sleep(0.1)
    raise StackError(what)


def _tail(path: Path, n: int = 30) -> str:
    try:
        return "\n".join(path.read_text(errors="replace").splitlines()[-n:])
    except OSError:
        return "(no log)"


def _as_user(user: str | None) -> dict[str, Any]:
    """Popen's arguments that run a child as ``user`` (its uid, gid and no other group), or none."""
    if user is None:
        return {}
    pw = pwd.getpwnam(user)
    return {"user": pw.pw_uid, "group": pw.pw_gid, "extra_groups": []}


def _chown_tree(root: Path, user: str) -> None:
    pw = pwd.getpwnam(user)
    os.chown(root, pw.pw_uid, pw.pw_gid)
    for d, dirs, files in os.walk(root):
        for name in (*dirs, *files):
            os.chown(os.path.join(d, name), pw.pw_uid, pw.pw_gid, follow_symlinks=False)


def _run(argv: list[str], what: str, user: str | None = None) -> str:
    r: subprocess.CompletedProcess[str] = subprocess.run(argv, capture_output=True, text=True,
                                                         stdin=subprocess.DEVNULL, **_as_user(user))
    if r.returncode != 0:
        raise StackError(f"{what} failed ({r.returncode}): {(r.stderr or r.stdout).strip()[-2000:]}")
    return r.stdout


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(prog="python -m cloudos_stack", description=__doc__.splitlines()[0])
    ap.add_argument("action", choices=["start", "logins", "start-radius", "start-worker", "stop", "env", "status", "applied"])
    ap.add_argument("state", type=Path)
    args = ap.parse_args(argv)
    stack = Stack.load_or_new(args.state.resolve())
    try:
        if args.action == "start":
            stack.start()
        elif args.action == "logins":
            stack.create_logins()
        elif args.action == "start-radius":
            stack.start_radiusd()
        elif args.action == "start-worker":
            stack.start_worker()
        elif args.action == "stop":
            stack.stop()
        elif args.action == "env":
            stack.save()
            print((stack.state / "stack.env").read_text(), end="")
        elif args.action == "applied":
            # radiusd answers accounting once it is in its journal; PostgreSQL has it a moment later.
            from rlm_cloudos.store import journal_files as journal

            if not journal.wait_applied(stack.acct_journal, 30):
                raise StackError(f"radiusd's accounting journal ({stack.acct_journal}) was not applied within 30 s")
        elif args.action == "status":
            print(f"postgres {'running' if stack.postgres_running() else 'stopped'} port {stack.ports.pg}")
            redis_pid = _read_pid(stack.redis_pidfile)
            print(f"redis    {'running' if redis_pid and _alive(redis_pid) else 'stopped'} port {stack.ports.redis}")
            print(f"radiusd  {'running' if stack.radiusd_pid() else 'stopped'} auth {stack.ports.auth} "
                  f"acct {stack.ports.acct} status {stack.ports.status}")
            worker_pid = stack.worker_pid()
            print(f"worker   {f'running pid {worker_pid}' if worker_pid else 'stopped'}")
    except StackError as exc:
        print(f"cloudos_stack: {exc}", file=sys.stderr)
        return 1
    return 0
