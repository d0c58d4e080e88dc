"""The hot path's PostgreSQL clients against a server that stops answering: every wait ends.

tests/e2e/test_blackhole.py shows it through radiusd; here each client alone, so a
change to Database or AuthzFeed that loses a bound fails next to its cause.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterator
from datetime import datetime, timezone
from typing import Any

import pytest

from cloudos_stack import Stack
from rlm_cloudos.errors import BackendUnavailable, StatementTimedOut
from rlm_cloudos.store.authz import AuthzCache, AuthzFeed
from rlm_cloudos.store.pg import Database
from tests.fixtures.proxy import Proxy


@pytest.fixture
def proxy(stack: Stack) -> Iterator[Proxy]:
    with Proxy("127.0.0.1", stack.ports.pg) as p:
        yield p


def url(proxy: Proxy) -> str:
    return f"postgresql://cloudos@127.0.0.1:{proxy.port}/cloudos"


def within(seconds: float, fn: Callable[[], object]) -> BaseException | None:
    """Run ``fn`` in a daemon thread; what it raised (None if nothing). Fails, rather than hangs,
    when it has not returned after ``seconds``: the thread is left behind."""
    raised: list[BaseException] = []

    def run() -> None:
        try:
            fn()
        except BaseException as exc:
            raised.append(exc)

    t = threading.Thread(target=run, daemon=True)
    t.start()
    t.join(seconds)
    assert not t.is_alive(), f"still waiting after {seconds:.1f} s: a hang"
    return raised[0] if raised else None


def test_a_statement_on_a_silent_connection_ends_within_its_bound(proxy: Proxy) -> None:
    db = Database(url(proxy), size=2, connect_timeout=2, statement_timeout_ms=500)
    db.open()
    try:
        now = datetime.now(timezone.utc)
        assert db.lookup_nas("192.0.2.250") is None  # a pooled connection, working
        proxy.blackhole()
        started = time.monotonic()
        raised = within(10, lambda: db.access_context("192.0.2.250", "nobody", now))
        took = time.monotonic() - started
        # Cut by the watchdog: a timeout (the drainer halves its batch on one), not a refusal.
        assert isinstance(raised, StatementTimedOut) and "did not answer within" in str(raised), raised
        # The round trip's bound (statement timeout + 1 s), one watchdog tick, and slack; not retried.
        assert db.round_trip_bound <= took < db.round_trip_bound + Database.WATCHDOG_SECONDS + 1.0, took
        proxy.pass_()
        time.sleep(Database.BREAKER_SECONDS)
        deadline = time.monotonic() + 10
        while True:  # the pool replaces the severed connection
            try:
                assert db.lookup_nas("192.0.2.250") is None
                break
            except BackendUnavailable:
                assert time.monotonic() < deadline, "no working connection after the blackhole"
                time.sleep(0.2)
    finally:
        proxy.pass_()
        db.close()


def test_the_feed_notices_a_silent_connection_at_its_next_ping(proxy: Proxy) -> None:
    lines: list[dict[str, Any]] = []
    cache = AuthzCache(100)
    feed = AuthzFeed(url(proxy), cache, lambda level, **kw: lines.append(kw), connect_timeout=1, ping_seconds=0.5)
    feed.open()
    try:
        deadline = time.monotonic() + 10
        while not cache.ready:
            assert time.monotonic() < deadline, f"the feed never connected: {lines}"
            time.sleep(0.05)
        proxy.blackhole()
        started = time.monotonic()
        while cache.ready:
            # A ping is due within 0.5 s (plus the 1 s notifies wait) and severed after 1 s.
            assert time.monotonic() - started < 0.5 + 1.0 + 1.0 + 1.5, "the cache still serves as current"
            time.sleep(0.05)
        assert any(line.get("event") == "feed_lost" for line in lines), lines
    finally:
        proxy.pass_()
        feed.close()
