"""Every producer of a cloudos_authz message in the schema, made to emit it, and store.notices parsing it."""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from datetime import datetime, timedelta, timezone

import psycopg
import pytest

from rlm_cloudos.store import notices
from tests.conftest import Cli
from tests.fixtures.pg import fetch_one
from tests.integration.world import World, build_world

T0 = datetime(2026, 11, 15, 12, 0, tzinfo=timezone.utc)


@pytest.fixture
def world(fresh_db: str, cli: Cli) -> Iterator[World]:
    yield from build_world(fresh_db, cli, World)


@pytest.fixture
def heard(world: World) -> Iterator[Callable[[], list[str]]]:
    """What a LISTEN on cloudos_authz receives; calling it drains what has arrived."""
    with psycopg.connect(world.url, autocommit=True) as conn:
        conn.execute("LISTEN cloudos_authz")

        def drain() -> list[str]:
            got: list[str] = []
            deadline = time.monotonic() + 2
            while time.monotonic() < deadline:
                batch = [n.payload for n in conn.notifies(timeout=0.2, stop_after=100)]
                if not batch and got:
                    break
                got += batch
            return got

        yield drain


def parsed(payloads: list[str]) -> list[notices.Message]:
    messages = [notices.parse(p) for p in payloads]
    assert [m.format() for m in messages] == payloads  # format is parse's inverse on what SQL writes
    return messages


def test_the_triggers_announce_tenants_plans_subscribers_and_nas(world: World,
                                                                  heard: Callable[[], list[str]]) -> None:
    c = world.conn
    ali, home, n1 = world.subscribers["ali"], world.plans["home"], world.nas["n1"]
    c.execute("UPDATE tenant SET interim_interval = 600 WHERE id = %s", (world.tenant,))
    assert parsed(heard()) == [notices.TenantChanged(world.tenant)]
    c.execute("UPDATE plan SET rate_limit = '1M/1M' WHERE id = %s", (home,))
    assert parsed(heard()) == [notices.PlanChanged(home)]
    c.execute("UPDATE subscriber SET status = 'suspended' WHERE id = %s", (ali,))
    assert parsed(heard()) == [notices.SubscriberChanged(ali)]
    c.execute("UPDATE nas SET coa_port = 1700 WHERE id = %s", (n1,))
    assert parsed(heard()) == [notices.NasChanged(n1)]
    (gone,) = fetch_one(c.execute("DELETE FROM subscriber WHERE username = 'fupper' RETURNING id"))
    assert parsed(heard()) == [notices.SubscriberChanged(gone)]


def test_cloudos_account_announces_sessions_and_nas_resets_and_returns_the_same_text(
        world: World, heard: Callable[[], list[str]]) -> None:
    ali, n1 = world.subscribers["ali"], world.nas["n1"]
    start = world.account_row("n-1", "Start", "ali", T0, mac="aa:bb:cc:dd:ee:ff")
    interim = world.account_row("n-1", "Interim-Update", "ali", T0 + timedelta(seconds=300), 1000, 5000, 300)
    stop = world.account_row("n-1", "Stop", "ali", T0 + timedelta(seconds=400), 1500, 6000, 400)
    quiet = world.account_row("n-2", "Start", "ali", T0, mac=None)
    reset = world.account_row("", "Accounting-On", "", T0 + timedelta(seconds=500))
    # The interim crossed nothing: returned to its own radiusd, not announced to the others.
    payloads = heard()
    assert payloads == [start[6], stop[6], quiet[6], reset[6]]
    s, i, e, q, x = parsed([start[6], interim[6], stop[6], quiet[6], reset[6]])
    assert isinstance(s, notices.SessionChanged) and isinstance(i, notices.SessionChanged)
    assert isinstance(e, notices.SessionChanged) and isinstance(q, notices.SessionChanged)
    assert (s.subscriber_id, s.acct_unique_id == i.acct_unique_id, s.nas_id, s.stopped, s.mac) == (
        ali, True, n1, False, "AA:BB:CC:DD:EE:FF")
    assert i.counters is not None and (i.counters.input_octets, i.counters.output_octets,
                                       i.counters.session_time) == (1000, 5000, 300)
    assert e.stopped and e.counters is not None and e.counters.output_octets == 6000
    assert q.mac == "" and not q.stopped
    assert x == notices.NasReset(n1, (T0 + timedelta(seconds=500)).timestamp())
    assert reset[0] == "nas_reset"


@pytest.mark.parametrize("text", [
    "", "Q 1", "s 1", "S", "S x", "S 1.5", "S -1", "P ", "T one", "N 1 2", "X -",
    "A", "A 1 u-1 100 1794312000.0 0 - - -", "A 1 u-1 100 1794312000.0 2 - - - - AA",
    "A 1  100 1794312000.0 0 - - - - AA", "A 1 u-1 100 1794312000.0 0 5 - - - AA",
])
def test_anything_else_is_a_value_error(text: str) -> None:
    with pytest.raises(ValueError):
        notices.parse(text)

