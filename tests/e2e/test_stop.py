"""What radiusd logs when the stack stops it (SIGTERM, by its PID): rlm_cloudos closes its feed and its
journal, and the one error line is FreeRADIUS 3.2's own, from the detail reader of the accounting spool.

That line is an upstream bug, harmless and not reachable from the configuration (the reasoning, with
FreeRADIUS's source lines, is in raddb/sites-enabled/cloudos_spool). This test pins it down: any other
error at shutdown fails here, and so does a FreeRADIUS that no longer logs it (then drop the note).
"""

from __future__ import annotations

from pathlib import Path

from cloudos_stack import Stack
from tests.conftest import beside

UPSTREAM = "Reader thread exited without informing the master: Bad file descriptor"


def test_stopping_radiusd_logs_only_the_known_upstream_error_after_rlm_cloudos_closed(stack: Stack,
                                                                                      tmp_path: Path) -> None:
    (tmp_path / "stop").mkdir()
    mine = beside(stack, tmp_path / "stop")
    mine.start_radiusd()
    try:
        mark = mine.radius_log.stat().st_size
    finally:
        mine.stop_radiusd()
    assert mine.radiusd_pid() is None
    with mine.radius_log.open("rb") as f:
        f.seek(mark)
        lines = f.read().decode(errors="replace").splitlines()
    text = "\n".join(lines)
    assert "Exiting normally" in text, text
    errors = [i for i, line in enumerate(lines) if ": Error: " in line]
    assert [lines[i] for i in errors if UPSTREAM not in lines[i]] == [], text
    assert len(errors) == 1, text
    # After rlm_cloudos's detach: its journal is closed and accounted for before FreeRADIUS frees the listener.
    closed = next(i for i, line in enumerate(lines) if "event=journal_closed" in line)
    assert closed < errors[0], text
