"""An erased subscriber through real FreeRADIUS (issue 14, item 5): the open session gets its
Disconnect-Request, and from then on the login is refused as an unknown user, whichever
method the NAS uses, with radiusd's authorize cache warm from the login before."""

from __future__ import annotations

import json
import time

import psycopg

from tests.conftest import Cli, Radiusd, add_plan_and_subscriber


def reasons(url: str, username: str, expect: int) -> list[tuple[str, str]]:
    """(outcome, reason) of the auth log's rows for ``username``, once ``expect`` are written."""
    deadline = time.monotonic() + 10
    rows: list[tuple[str, str]] = []
    while time.monotonic() < deadline:
        with psycopg.connect(url) as conn:
            rows = [(str(o), str(r)) for o, r in conn.execute(
                "SELECT outcome, reason FROM auth_log WHERE username = %s ORDER BY at", (username,))]
        if len(rows) >= expect:
            break
        time.sleep(0.1)
    return rows


def test_an_erased_subscriber_is_disconnected_and_then_unknown(radiusd: Radiusd, cli: Cli, unique: str) -> None:
    user, password = add_plan_and_subscriber(f"{unique}-p", "2M/8M", unique, "erase-me-pw-1")
    nas = radiusd.nas()
    assert nas.pap(user, password).accepted
    assert nas.chap(user, password).accepted  # twice: the authorize cache holds the subscriber now
    nas.acct("Start", user, f"{unique}-s")
    r = cli("subscriber", "erase", user, "--tenant", "e2e", "--confirm", "--json")
    assert r.code == 0, r.err
    done = json.loads(r.out)
    assert done["disconnects_queued"] == 1
    url = radiusd.stack.database_url
    with psycopg.connect(url) as conn:
        queued = conn.execute("SELECT kind, reason FROM coa_outbox WHERE attributes->>'User-Name' = %s",
                              (user,)).fetchall()
    assert queued == [("disconnect", "terminated")]
    deadline = time.monotonic() + 5  # the feed tells radiusd's cache; a Redis snapshot is dropped by the CLI
    while nas.pap(user, password).accepted:
        assert time.monotonic() < deadline, "an erased subscriber was still accepted"
        time.sleep(0.2)
    for reply in (nas.pap(user, password), nas.chap(user, password), nas.mschapv2(user, password)):
        assert not reply.accepted
    rows = reasons(url, user, 6)
    assert rows[:2] == [("accept", "ok"), ("accept", "ok")]
    assert rows[-3:] == [("reject", "unknown_user")] * 3
    # The erased name is no login either: it carries a password nobody was told.
    assert not nas.pap(done["erased_as"], password).accepted
