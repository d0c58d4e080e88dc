"""The local stack stops only what it started: a PID file that outlived its process (a reboot, a kill -9)
and now names someone else's process is not trusted, and that process is left alone."""

from __future__ import annotations

import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest

from cloudos_stack import Ports, Stack


@pytest.fixture
def bystander() -> Iterator[subprocess.Popen[bytes]]:
    proc = subprocess.Popen(["sleep", "60"])
    try:
        yield proc
    finally:
        proc.kill()
        proc.wait()


def test_a_stale_pid_file_naming_another_process_stops_nothing(tmp_path: Path,
                                                               bystander: subprocess.Popen[bytes]) -> None:
    stack = Stack(state=tmp_path / "state", ports=Ports.pick(), status_secret="x" * 32)
    for pidfile in (stack.worker_pidfile, stack.radiusd_pidfile):
        pidfile.parent.mkdir(parents=True, exist_ok=True)
        pidfile.write_text(f"{bystander.pid}\n")
    assert stack.worker_pid() is None and stack.radiusd_pid() is None
    stack.stop_worker()
    stack.stop_radiusd()
    assert bystander.poll() is None, "the stack stopped a process it did not start"
