"""AccessReader, authorize's one read path: cache → PostgreSQL → held cache → Redis snapshot, and its bounds."""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from datetime import datetime, timezone

import pytest

from rlm_cloudos.errors import BackendUnavailable
from rlm_cloudos.policy import Plan, Subscriber, SubscriberStatus, Tenant
from rlm_cloudos.requests import AccessRequest
from rlm_cloudos.store.access import AccessReader, Recent, Source
from rlm_cloudos.store.authz import AuthzCache
from rlm_cloudos.store.live import Live
from rlm_cloudos.store.pg import Database
from rlm_cloudos.store.rows import AccessContext

NOW = datetime(2026, 11, 15, 12, 0, tzinfo=timezone.utc)
NAS = "10.1.1.1"
REJECTING = Tenant(id=1, slug="isp1")
CACHING = Tenant(id=2, slug="isp2", backend_down_policy="cached", backend_down_cache_seconds=900)


def ctx(tenant: Tenant = REJECTING, username: str = "ali", sub_id: int = 1) -> AccessContext:
    sub = Subscriber(sub_id, username, SubscriberStatus.ACTIVE, Plan(10, "home", "2M/8M"))
    return AccessContext(100, "n1", tenant, sub, b"sealed")


def req(username: str = "ali", nas: str = NAS) -> AccessRequest:
    return AccessRequest(username, nas, "pap", None)


@dataclass
class FakeDb(Database):
    """access_context only (a Database, so mypy holds it to the real signature)."""

    answer: AccessContext | None | BaseException = None
    calls: int = 0

    def access_context(self, nas_address: str, username: str, now: datetime) -> AccessContext | None:
        self.calls += 1
        if isinstance(self.answer, BaseException):
            raise self.answer
        return self.answer


@dataclass
class FakeLive(Live):
    """The two snapshot calls, in memory (a Live, so mypy holds them to the real signatures)."""

    snapshots: dict[tuple[int, str], tuple[AccessContext, float]] = field(default_factory=dict)
    saved: list[tuple[int, str]] = field(default_factory=list)

    def save_snapshot(self, tenant_id: int, username: str, context: AccessContext, ttl: int) -> None:
        self.saved.append((tenant_id, username))

    def snapshot(self, tenant_id: int, username: str) -> tuple[AccessContext, float] | None:
        return self.snapshots.get((tenant_id, username))


def reader(db: FakeDb, live: FakeLive | None = None, cache: AuthzCache | None = None,
           memory: int = 100) -> AccessReader:
    return AccessReader(db, live or FakeLive(), cache, memory=memory)


def ready_cache() -> AuthzCache:
    cache = AuthzCache(100)
    cache.connected()
    return cache


def test_a_miss_reads_postgresql_and_fills_the_cache_then_the_cache_answers() -> None:
    db, cache = FakeDb(ctx()), ready_cache()
    r = reader(db, cache=cache)
    first = r.read(req(), NOW)
    assert first is not None and (first.source, first.age, first.failure) == (Source.POSTGRES, 0.0, None)
    second = r.read(req(), NOW)
    assert second is not None and second.source is Source.CACHE and second.context == first.context
    assert db.calls == 1
    assert r.tenant(REJECTING.id) == REJECTING and r.tenant(99) is None


def test_an_unknown_nas_is_none() -> None:
    assert reader(FakeDb(None)).read(req(), NOW) is None


def test_postgresql_down_for_a_rejecting_tenant_raises() -> None:
    db = FakeDb(ctx(REJECTING))
    r = reader(db, FakeLive({(REJECTING.id, "ali"): (ctx(REJECTING), 1.0)}))
    assert r.read(req(), NOW) is not None  # the NAS's tenant is now known here
    db.answer = BackendUnavailable("no PostgreSQL connection within the connect timeout")
    with pytest.raises(BackendUnavailable):
        r.read(req(), NOW)


def test_postgresql_down_serves_the_snapshot_of_a_caching_tenant_within_its_bound() -> None:
    db = FakeDb(ctx(CACHING))
    live = FakeLive()
    r = reader(db, live)
    assert r.read(req(), NOW) is not None
    assert live.saved == [(CACHING.id, "ali")]  # written when PostgreSQL was read
    db.answer = BackendUnavailable("PostgreSQL failed moments ago; failing fast")
    live.snapshots[(CACHING.id, "ali")] = (ctx(CACHING), 120.0)
    got = r.read(req(), NOW)
    assert got is not None and (got.source, got.age) == (Source.SNAPSHOT, 120.0)
    assert got.degraded and got.failure == "PostgreSQL failed moments ago; failing fast"
    live.snapshots[(CACHING.id, "ali")] = (ctx(CACHING), 901.0)  # older than backend_down_cache_seconds
    with pytest.raises(BackendUnavailable):
        r.read(req(), NOW)
    with pytest.raises(BackendUnavailable):  # a NAS address never read: its tenant is unknown here
        r.read(req(nas="10.9.9.9"), NOW)


def test_postgresql_down_serves_what_the_cache_held_when_its_feed_was_lost() -> None:
    db, cache = FakeDb(ctx(CACHING)), ready_cache()
    r = reader(db, cache=cache)
    assert r.read(req(), NOW) is not None
    cache.lost()
    db.answer = BackendUnavailable("down")
    got = r.read(req(), NOW)
    assert got is not None and got.source is Source.HELD and got.context == ctx(CACHING)


def test_snapshots_of_logins_served_from_memory_are_rewritten_at_half_the_bound(
        monkeypatch: pytest.MonkeyPatch) -> None:
    clock = [1000.0]
    monkeypatch.setattr("rlm_cloudos.store.access.time.monotonic", lambda: clock[0])
    db, live, cache = FakeDb(ctx(CACHING)), FakeLive(), ready_cache()
    r = reader(db, live, cache)
    r.read(req(), NOW)
    r.read(req(), NOW)  # from the cache, just written: no Redis write
    assert live.saved == [(CACHING.id, "ali")]
    clock[0] += 449
    r.read(req(), NOW)
    assert len(live.saved) == 1
    clock[0] += 1
    r.read(req(), NOW)  # 450 s = half of 900: written again
    assert len(live.saved) == 2


def test_a_rejecting_tenant_writes_no_snapshot() -> None:
    live = FakeLive()
    reader(FakeDb(ctx(REJECTING)), live).read(req(), NOW)
    assert live.saved == []


def test_the_bookkeeping_is_bounded(monkeypatch: pytest.MonkeyPatch) -> None:
    """Runtime.snapshot_saved once grew by one entry per subscriber, forever."""
    live = FakeLive()
    db = FakeDb()
    r = reader(db, live, memory=50)
    for i in range(500):
        db.answer = ctx(replace(CACHING, id=1000 + i), f"user-{i}", i)
        r.read(req(f"user-{i}", nas=f"10.0.{i // 250}.{i % 250}"), NOW)
    assert len(live.saved) == 500
    assert len(r._saved) == 50 and len(r._tenant_of) == 50 and len(r._tenants) == 50


def test_recent_keeps_the_latest_writes() -> None:
    recent: Recent[str, int] = Recent(2)
    recent.put("a", 1)
    recent.put("b", 2)
    recent.put("a", 3)  # rewritten: now the newest
    recent.put("c", 4)
    assert (recent.get("a"), recent.get("b"), recent.get("c")) == (3, None, 4)
    recent.pop("a")
    recent.pop("missing")
    assert len(recent) == 1


def test_a_snapshot_is_judged_by_the_tenant_read_from_postgresql_not_by_its_own_copy() -> None:
    """A snapshot claiming its tenant serves logins for a day, or that a rejecting tenant is
    "cached", is judged by the tenant as this radiusd last read it."""
    db = FakeDb(ctx(CACHING))
    live = FakeLive()
    r = reader(db, live)
    assert r.read(req(), NOW) is not None
    db.answer = BackendUnavailable("down")
    lenient = replace(CACHING, backend_down_cache_seconds=86_400, login_fail_limit=0)
    live.snapshots[(CACHING.id, "ali")] = (ctx(lenient), 3_600.0)  # within its own bound, not the tenant's
    with pytest.raises(BackendUnavailable):
        r.read(req(), NOW)
    live.snapshots[(CACHING.id, "ali")] = (ctx(lenient), 60.0)
    got = r.read(req(), NOW)
    assert got is not None and got.source is Source.SNAPSHOT and got.context.tenant == CACHING
    live.snapshots[(CACHING.id, "ali")] = (ctx(replace(CACHING, id=99)), 60.0)  # another tenant's body
    with pytest.raises(BackendUnavailable):
        r.read(req(), NOW)

    db = FakeDb(ctx(REJECTING))
    live = FakeLive({(REJECTING.id, "ali"): (ctx(replace(REJECTING, backend_down_policy="cached",
                                                            backend_down_cache_seconds=900)), 1.0)})
    r = reader(db, live)
    assert r.read(req(), NOW) is not None
    db.answer = BackendUnavailable("down")
    with pytest.raises(BackendUnavailable):
        r.read(req(), NOW)


def test_fresh_reads_postgresql_though_the_cache_holds_it_and_refills_the_cache() -> None:
    """authorize's second look at a refusal from memory (module.authorize): PostgreSQL's row, and the
    cache holds that one from then on."""
    db, cache = FakeDb(ctx()), ready_cache()
    r = reader(db, cache=cache)
    assert r.read(req(), NOW) is not None and db.calls == 1
    renewed = ctx(sub_id=1)
    renewed = replace(renewed, password_enc=b"renewed")
    db.answer = renewed
    again = r.read(req(), NOW, fresh=True)
    assert again is not None and again.source is Source.POSTGRES and again.context == renewed and db.calls == 2
    held = r.read(req(), NOW)
    assert held is not None and held.source is Source.CACHE and held.context == renewed and db.calls == 2
