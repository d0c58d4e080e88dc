"""FreeRADIUS in the Dockerfile.freeradius image, PostgreSQL and Redis on the host, pyrad as the NAS.

Run by scripts/container, which builds the image first (CLOUDOS_TEST_IMAGE).
"""

from __future__ import annotations

import functools
import json
import os
import shutil
import subprocess
import tarfile
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Unpack

import psycopg
import pytest

from cloudos_stack import LOGINS, OWNER, REPO, Ports, Stack, write_private
from tests.conftest import RadiusLog, run_cli
from tests.fixtures.nas import Nas, NasOptions, journal_applied
from tests.fixtures.pg import fetch_one

PODMAN = ["podman", "--storage-driver=vfs", "--cgroup-manager=cgroupfs", "--runtime", "runc"]
SECRET = "container-nas-secret"
UID = 999  # freerad in the image


@dataclass
class Container:
    """One `podman run` of the image, restartable on the same state volume."""

    stack: Stack
    image: str
    name: str
    state: Path
    keyring: Path
    log: RadiusLog
    proc: subprocess.Popen[bytes] | None = None

    def env(self) -> list[str]:
        """podman's --env-file (0600) for radiusd: its own login, the password in PGPASSWORD (libpq),
        none of it on podman's command line."""
        values = {
            "CLOUDOS_DATABASE_URL": self.stack.radius_url,
            "PGPASSWORD": self.stack.passwords["radiusd"],
            "CLOUDOS_REDIS_URL": self.stack.redis_url,
            "CLOUDOS_KEYRING": "/run/secrets/cloudos-keyring.json",
            "CLOUDOS_RADIUS_HOST": "127.0.0.1",
            "CLOUDOS_RADIUS_AUTH_PORT": str(self.stack.ports.auth),
            "CLOUDOS_RADIUS_ACCT_PORT": str(self.stack.ports.acct),
            "CLOUDOS_RADIUS_STATUS_PORT": str(self.stack.ports.status),
            "CLOUDOS_STATUS_SECRET": self.stack.status_secret,
            "CLOUDOS_REJECT_DELAY": "0",
            "CLOUDOS_CLIENT_LIFETIME": "2",
            "CLOUDOS_SPOOL_RETRY": "1",
        }
        return env_file(self.stack.state / f"{self.name}.env", values)

    def start(self) -> None:
        subprocess.run([*PODMAN, "rm", "-f", self.name], capture_output=True)
        out = open(self.log.path, "ab")
        self.proc = subprocess.Popen(
            [*PODMAN, "run", "--rm", "--name", self.name, "--network", "host",
             "--ulimit", "nofile=1024:1024", "--ulimit", "nproc=1024:1024", *self.env(),
             "-v", f"{self.keyring}:/run/secrets/cloudos-keyring.json:ro",
             "-v", f"{self.state}:/var/lib/cloudos-radius", self.image],
            stdin=subprocess.DEVNULL, stdout=out, stderr=subprocess.STDOUT)
        out.close()
        deadline = time.monotonic() + 90
        while not self.stack.radius_ready():
            assert self.proc.poll() is None, "the container exited:\n" + self.log.path.read_text()[-3000:]
            assert time.monotonic() < deadline, "the container did not answer Status-Server within 90 s"
            time.sleep(0.5)

    def stop(self) -> None:
        subprocess.run([*PODMAN, "stop", "-t", "10", self.name], capture_output=True)
        if self.proc is not None:
            self.proc.wait(30)
            self.proc = None

    def exec(self, *argv: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run([*PODMAN, "exec", self.name, *argv], capture_output=True, text=True, timeout=60)

    def nas(self, **kw: Unpack[NasOptions]) -> Nas:
        """A NAS that waits, after each Accounting-Response, until the container's journal is applied."""
        kw.setdefault("applied", functools.partial(journal_applied, self.state / "spool" / "cloudos" / "journal"))
        return Nas(self.stack.host, self.stack.ports.auth, self.stack.ports.acct, SECRET, **kw)


def env_file(path: Path, values: dict[str, str]) -> list[str]:
    """``--env-file PATH`` with ``values``, the file 0600 from its creation."""
    write_private(path, "".join(f"{k}={v}\n" for k, v in values.items()))
    return ["--env-file", str(path)]


@pytest.fixture(scope="session")
def image() -> str:
    image = os.environ.get("CLOUDOS_TEST_IMAGE")
    assert image, "CLOUDOS_TEST_IMAGE is not set: run bash scripts/container"
    return image


@pytest.fixture(scope="session")
def container(image: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Container]:
    state = tmp_path_factory.mktemp("container-stack")
    stack = Stack(state=state, ports=Ports.pick(), status_secret=os.urandom(16).hex())
    stack.start()
    os.environ.update(stack.env())
    os.environ["CLOUDOS_ACTOR"] = "pytest-container"
    os.environ["CLOUDOS_DATABASE_URL"] = stack.database_url  # migrations as the owner, then the admin login
    assert run_cli("db", "migrate").code == 0
    for login, group in LOGINS.items():
        r = run_cli("db", "create-login", group, login, "--password-stdin", stdin=stack.passwords[login] + "\n")
        assert r.code == 0, r.err
    os.environ["CLOUDOS_DATABASE_URL"] = stack.admin_url
    for argv, stdin in (
        (("tenant", "add", "boxed"), None),
        (("nas", "add", "host-nas", "--address", "127.0.0.1", "--secret-stdin"), SECRET + "\n"),
        (("plan", "add", "home", "--rate-limit", "2M/8M", "--quota", "100GB", "--address-list", "ppp"), None),
        (("subscriber", "add", "boxed-user", "--plan", "home", "--password-stdin", "--mac", "AA:BB:CC:00:00:01"),
         "Boxed-pw-1\n"),
    ):
        r = run_cli(*argv, stdin=stdin)
        assert r.code == 0, (argv, r.err)
    # The key ring as an operator mounts it: readable by the container's freerad only.
    keyring = state / "keyring-for-container.json"
    shutil.copyfile(stack.keyring, keyring)
    os.chown(keyring, UID, UID)
    keyring.chmod(0o600)
    volume = state / "radius-volume"
    volume.mkdir()
    os.chown(volume, UID, UID)
    log = state / "container.log"
    log.touch()
    box = Container(stack, image, f"cloudos-radius-{os.getpid()}", volume, keyring, RadiusLog(log))
    try:
        box.start()
        yield box
    finally:
        box.stop()
        stack.stop()


BASE = "docker.io/library/debian:bookworm"


def run_in(image: str, *argv: str, user: str) -> subprocess.CompletedProcess[str]:
    """One command in a throwaway container of IMAGE as USER, with the flags these machines need."""
    return subprocess.run(
        [*PODMAN, "run", "--rm", "--network", "host", "--ulimit", "nofile=1024:1024", "--ulimit",
         "nproc=1024:1024", "--user", user, "--entrypoint", argv[0], image, *argv[1:]],
        capture_output=True, text=True, timeout=120)


def test_the_base_image_root_is_debian_s_0755() -> None:
    """debootstrap ran in a mktemp -d (0700) directory; tar must not carry that mode into /."""
    r = run_in(BASE, "stat", "-c", "%a %U:%G", "/", "/usr", "/etc", "/tmp", user="65534:65534")
    assert r.returncode == 0, r.stderr
    assert r.stdout.split("\n")[:4] == ["755 root:root", "755 root:root", "755 root:root", "1777 root:root"]


def test_a_base_image_with_a_0700_root_fails_the_reuse_check(tmp_path: Path) -> None:
    """scripts/container reuses a cached base only if this check passes: a copy of the base whose
    / is 0700 (what mktemp -d and tar made before) must fail it, the real base must pass."""
    name = f"cloudos-export-{os.getpid()}"
    broken = f"localhost/cloudos-broken-base:{os.getpid()}"
    exported = tmp_path / "base.tar"
    subprocess.run([*PODMAN, "create", "--name", name, BASE, "/bin/true"], check=True, capture_output=True)
    try:
        with exported.open("wb") as out:
            subprocess.run([*PODMAN, "export", name], check=True, stdout=out)
    finally:
        subprocess.run([*PODMAN, "rm", "-f", name], capture_output=True)
    with tarfile.open(exported) as src, tarfile.open(tmp_path / "broken.tar", "w") as dst:
        root = tarfile.TarInfo("./")
        root.type, root.mode = tarfile.DIRTYPE, 0o700
        dst.addfile(root)
        for member in src:
            dst.addfile(member, src.extractfile(member) if member.isfile() else None)
    subprocess.run([*PODMAN, "import", str(tmp_path / "broken.tar"), broken], check=True, capture_output=True)
    try:
        check = ["bash", str(REPO / "scripts" / "container"), "--check-base"]
        assert subprocess.run([*check, broken], capture_output=True).returncode == 1
        assert subprocess.run([*check, BASE], capture_output=True).returncode == 0
        assert subprocess.run([*check, "localhost/no-such-image:none"], capture_output=True).returncode == 1
    finally:
        subprocess.run([*PODMAN, "rmi", "-f", broken], capture_output=True)


def test_the_image_user_can_run_freeradius(image: str) -> None:
    r = run_in(image, "freeradius", "-v", user=str(UID))
    assert r.returncode == 0, r.stdout + r.stderr
    assert "FreeRADIUS Version 3.2." in r.stdout


def usage(stack: Stack, username: str) -> int:
    with psycopg.connect(stack.database_url) as conn:
        (total,) = fetch_one(conn.execute(
            "SELECT coalesce(sum(u.input_octets + u.output_octets), 0) FROM usage_counter u "
            "JOIN subscriber s ON s.id = u.subscriber_id WHERE s.username = %s", (username,)))
    return int(total)


@pytest.mark.parametrize("method", ["pap", "chap", "mschapv2"])
def test_logins_through_the_container(container: Container, method: str) -> None:
    reply = getattr(container.nas(), method)("boxed-user", "Boxed-pw-1", mac="AA:BB:CC:00:00:01")
    assert reply.accepted, reply.attrs
    assert reply.one("Mikrotik-Rate-Limit") == "2M/8M"
    assert reply.one("Mikrotik-Address-List") == "ppp"
    assert reply.one("Mikrotik-Total-Limit-Gigawords") * 2**32 + reply.one("Mikrotik-Total-Limit") == 100 * 10**9
    wrong = getattr(container.nas(), method)("boxed-user", "not-it", mac="AA:BB:CC:00:00:01")
    assert wrong.rejected and wrong.one("Reply-Message") == "wrong password"


def test_accounting_start_interim_stop(container: Container) -> None:
    nas = container.nas()
    before = usage(container.stack, "boxed-user")
    nas.acct("Start", "boxed-user", "box-1", framed_ip="10.7.0.2")
    nas.acct("Interim-Update", "boxed-user", "box-1", input_octets=1000, output_octets=2**32 + 7, session_time=300)
    nas.acct("Stop", "boxed-user", "box-1", input_octets=1500, output_octets=2**32 + 900, session_time=400)
    assert usage(container.stack, "boxed-user") - before == 1500 + 2**32 + 900


def test_the_image_is_what_an_operator_would_run(container: Container, image: str) -> None:
    assert container.exec("id", "-u").stdout.strip() == str(UID)  # radiusd is not root
    ps = container.exec("sh", "-c", "cat /proc/1/status | grep -E '^Uid'").stdout.split()
    assert ps[1] == str(UID)
    inspect = json.loads(subprocess.run([*PODMAN, "image", "inspect", image], capture_output=True, text=True,
                                        check=True).stdout)[0]
    env = dict(e.split("=", 1) for e in inspect["Config"]["Env"])
    for secret in ("CLOUDOS_DATABASE_URL", "CLOUDOS_STATUS_SECRET", "CLOUDOS_KEYRING", "CLOUDOS_REDIS_URL"):
        assert secret not in env, f"{secret} is baked into the image"
    assert "/var/lib/cloudos-radius" in inspect["Config"]["Volumes"]
    health = subprocess.run([*PODMAN, "healthcheck", "run", container.name], capture_output=True, text=True)
    assert health.returncode == 0, health.stdout + health.stderr
    assert "Ready to process requests" in container.log.path.read_text()  # logs on stdout


def test_restart_mid_stream_loses_and_doubles_nothing(container: Container) -> None:
    """Stop the container in the middle of an accounting stream; the NAS keeps retransmitting
    what was not answered; a new container on the same volume carries on."""
    r = run_cli("subscriber", "add", "restart-user", "--plan", "home", "--password-stdin", stdin="pw-restart\n")
    assert r.code == 0, r.err
    nas = container.nas(timeout=2, retries=30)
    sessions = [f"rs-{i}" for i in range(10)]
    rounds = 40
    sent = 0
    restarted = False
    downtime = 0.0
    for sid in sessions:
        nas.acct("Start", "restart-user", sid)
    for r_ in range(1, rounds + 1):
        if r_ == rounds // 2:
            started = time.monotonic()
            container.stop()
            # Packets sent now go unanswered; pyrad retransmits them until the new container answers.

            def restart() -> None:
                time.sleep(3)
                container.start()

            t = threading.Thread(target=restart)
            t.start()
            restarted = True
        for sid in sessions:
            status = "Stop" if r_ == rounds else "Interim-Update"
            reply = nas.acct(status, "restart-user", sid, input_octets=r_ * 1_000_003, output_octets=r_ * 7_000_001,
                             session_time=r_ * 60)
            assert reply.code == 5
            sent += 1
        if restarted and downtime == 0.0:
            t.join()
            downtime = time.monotonic() - started
    expected = len(sessions) * rounds * (1_000_003 + 7_000_001)
    got = usage(container.stack, "restart-user")
    print(f"\ncontainer restart: {sent + len(sessions)} packets over {len(sessions)} sessions, "
          f"radiusd container down and back in {downtime:.1f}s; expected {expected} bytes, counted {got} "
          f"(lost {max(0, expected - got)}, double-counted {max(0, got - expected)})")
    assert got == expected



def test_the_compose_services_commands_work_in_the_image(container: Container, image: str) -> None:
    """compose.yaml's migrate, worker and cli services run `cloudos` from this image."""
    stack = container.stack

    def cloudos(*argv: str, login: str = "admin") -> subprocess.CompletedProcess[str]:
        """As compose runs it: the service's own login, its password in PGPASSWORD from an env file."""
        env = env_file(stack.state / f"compose-{login}.env",
                       {"CLOUDOS_DATABASE_URL": stack.login_url(login), "PGPASSWORD": stack.passwords[login]})
        return subprocess.run(
            [*PODMAN, "run", "--rm", "--network", "host", "--ulimit", "nofile=1024:1024", "--ulimit",
             "nproc=1024:1024", *env,
             "-e", "CLOUDOS_KEYRING=/run/secrets/cloudos-keyring.json",
             "-v", f"{container.keyring}:/run/secrets/cloudos-keyring.json:ro", image, "cloudos", *argv],
            capture_output=True, text=True, timeout=120)

    migrate = cloudos("db", "migrate", "--json", login=OWNER)
    assert migrate.returncode == 0, migrate.stderr
    status = json.loads(cloudos("db", "status", "--json").stdout)
    assert status["up_to_date"] is True
    worker = cloudos("worker", "--once", "--json", login="worker")
    assert worker.returncode == 0, worker.stderr
    assert json.loads(worker.stdout)["failed"] == 0
    listed = cloudos("subscriber", "list", "--json")
    assert "boxed-user" in [s["username"] for s in json.loads(listed.stdout)]
