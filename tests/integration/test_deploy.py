"""deploy/: the systemd units pass `systemd-analyze verify`, run commands that exist, and keep Debian's
freeradius.service's shape; deploy/logrotate/cloudos rotates a radius.log for real, as root with su freerad.

The units name /opt/cloudos (where a release is installed); the checks point them at this checkout
instead, so that systemd-analyze finds every executable they start.
"""

from __future__ import annotations

import os
import pwd
import shutil
import subprocess
import tempfile
from collections.abc import Iterator
from datetime import date, timedelta
from pathlib import Path

import pytest

from cloudos_stack import REPO
from tests.conftest import run_cli

UNITS = REPO / "deploy" / "systemd"
LOGROTATE = REPO / "deploy" / "logrotate" / "cloudos"


def directives(path: Path) -> list[tuple[str, str, str]]:
    """(section, key, value) of each line of a unit file, in order (a key may repeat)."""
    section, out = "", []
    for raw in path.read_text().splitlines():
        line = raw.strip()
        if not line or line.startswith(("#", ";")):
            continue
        if line.startswith("["):
            section = line.strip("[]")
            continue
        key, _, value = line.partition("=")
        out.append((section, key, value))
    return out


def values(path: Path, section: str, key: str) -> list[str]:
    return [v for s, k, v in directives(path) if (s, k) == (section, key)]


@pytest.fixture
def units_here(tmp_path: Path) -> Path:
    for unit in UNITS.iterdir():
        (tmp_path / unit.name).write_text(unit.read_text().replace("/opt/cloudos", str(REPO)))
    return tmp_path


def test_the_units_pass_systemd_analyze_verify(units_here: Path) -> None:
    files = sorted(str(p) for p in units_here.iterdir())
    assert {Path(f).name for f in files} >= {"cloudos-radiusd.service", "cloudos-worker.service",
                                              "cloudos-metrics.service", "cloudos-metrics.timer",
                                              "cloudos-billing.service", "cloudos-billing.timer",
                                              "cloudos-retention.service", "cloudos-retention.timer"}
    r = subprocess.run(["systemd-analyze", "verify", *files], capture_output=True, text=True, timeout=60)
    # Unknown keys and bad values are warnings with exit 0: any output is a failure here.
    assert (r.returncode, r.stdout + r.stderr) == (0, "")


def test_a_bad_unit_is_caught(units_here: Path) -> None:
    bad = units_here / "cloudos-worker.service"
    bad.write_text(bad.read_text().replace("Restart=always", "Restart=always\nRestartEverySoOften=5"))
    r = subprocess.run(["systemd-analyze", "verify", str(bad)], capture_output=True, text=True, timeout=60)
    assert "RestartEverySoOften" in r.stdout + r.stderr


def test_radiusd_runs_as_debians_freeradius_service_does() -> None:
    ours, debian = UNITS / "cloudos-radiusd.service", Path("/lib/systemd/system/freeradius.service")
    for key in ("Type", "WatchdogSec", "NotifyAccess", "User", "Group", "Restart", "RestartSec", "MemoryMax",
                "NoNewPrivileges", "PrivateTmp", "ProtectControlGroups", "ProtectKernelModules",
                "ProtectKernelTunables", "SystemCallArchitectures"):
        assert values(ours, "Service", key) == values(debian, "Service", key), key
    # The configuration is checked before a start and before a reload, as Debian's unit does.
    assert [v.split()[:2] for v in values(ours, "Service", "ExecStartPre")] == [["/usr/sbin/freeradius", "-Cx"]]
    assert values(ours, "Service", "ExecStart")[0].startswith("/usr/sbin/freeradius -f -d ")
    assert values(ours, "Service", "ExecReload")[-1] == "/bin/kill -HUP $MAINPID"
    assert values(ours, "Install", "WantedBy") == ["multi-user.target"]


def test_the_units_run_commands_the_cli_has() -> None:
    started = {unit.name: values(unit, "Service", "ExecStart")[0] for unit in UNITS.glob("cloudos-*.service")
               if "cloudos " in values(unit, "Service", "ExecStart")[0]}
    assert started["cloudos-worker.service"] == "/opt/cloudos/.venv/bin/cloudos worker"
    assert started["cloudos-metrics.service"].startswith("/opt/cloudos/.venv/bin/cloudos metrics --textfile ")
    for command in started.values():
        argv = command.split()[1:]
        r = run_cli(*argv, "--help")
        assert r.code == 0, (command, r.err)
    assert started["cloudos-billing.service"] == "/opt/cloudos/.venv/bin/cloudos billing run"
    assert started["cloudos-retention.service"] == "/opt/cloudos/.venv/bin/cloudos retention run"
    timer = UNITS / "cloudos-metrics.timer"
    assert values(timer, "Timer", "OnUnitActiveSec") == ["60s"]
    assert values(timer, "Install", "WantedBy") == ["timers.target"]


@pytest.mark.parametrize(("name", "utc_time"), [("billing", "01:00:00"), ("retention", "23:30:00")])
def test_the_daily_runs_are_in_karachi_time_and_audited_as_themselves(name: str, utc_time: str) -> None:
    timer, service = UNITS / f"cloudos-{name}.timer", UNITS / f"cloudos-{name}.service"
    [when] = values(timer, "Timer", "OnCalendar")
    r = subprocess.run(["systemd-analyze", "calendar", "--iterations=2", when], capture_output=True, text=True,
                       timeout=60, env=dict(os.environ, TZ="UTC"))
    assert r.returncode == 0, r.stderr
    # Two runs a day apart at the same Karachi hour (UTC+5: Pakistan keeps no summer time).
    runs = [line.split()[-3:] for line in r.stdout.splitlines()
            if line.strip().startswith(("Next elapse:", "Iter. #"))]
    assert [(t, z) for _, t, z in runs] == [(utc_time, "UTC")] * 2, r.stdout
    days = [date.fromisoformat(d) for d, _, _ in runs]
    assert days[1] - days[0] == timedelta(days=1)
    assert values(timer, "Timer", "Persistent") == ["true"]
    assert f"CLOUDOS_ACTOR={name}-run" in values(service, "Service", "Environment")


@pytest.fixture
def log_dir() -> Iterator[Path]:
    """A directory of freerad's (as /var/lib/cloudos-radius/log is), which freerad can reach."""
    d = Path(tempfile.mkdtemp(prefix="cloudos-logrotate-", dir="/tmp"))
    pw = pwd.getpwnam("freerad")
    os.chown(d, pw.pw_uid, pw.pw_gid)
    os.chmod(d, 0o750)
    try:
        yield d
    finally:
        shutil.rmtree(d)


def test_logrotate_rotates_radius_log_in_place(log_dir: Path, tmp_path: Path) -> None:
    assert os.geteuid() == 0, "logrotate's su freerad needs root, as in production"
    pw = pwd.getpwnam("freerad")
    log = log_dir / "radius.log"
    log.write_text("Info: Ready to process requests\n" * 100)
    os.chown(log, pw.pw_uid, pw.pw_gid)
    conf = tmp_path / "cloudos"
    conf.write_text(LOGROTATE.read_text().replace("/var/lib/cloudos-radius/log", str(log_dir)))
    os.chmod(conf, 0o644)  # logrotate refuses a configuration others may write
    state = tmp_path / "state"
    dry = subprocess.run(["logrotate", "-d", "-s", str(state), str(conf)], capture_output=True, text=True, timeout=60)
    assert dry.returncode == 0 and "error" not in dry.stderr.lower(), dry.stderr
    # Held open for appending, as radiusd holds it: copytruncate keeps this descriptor writing to radius.log.
    with log.open("a") as held:
        r = subprocess.run(["logrotate", "-f", "-s", str(state), str(conf)], capture_output=True, text=True,
                           timeout=60)
        assert r.returncode == 0, r.stderr
        held.write("Info: after the rotation\n")
    assert (log_dir / "radius.log.1").read_text().count("Ready to process requests") == 100
    assert log.read_text() == "Info: after the rotation\n"  # truncated in place, and no hole before the new line
    assert (log.stat().st_uid, (log_dir / "radius.log.1").stat().st_uid) == (pw.pw_uid, pw.pw_uid)
