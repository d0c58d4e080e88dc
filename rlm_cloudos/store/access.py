"""authorize's one read path: what a login is decided on, and where it came from.

In order: this radiusd's cache (current through the cloudos_authz feed), PostgreSQL
(one AUTHORIZE statement, whose answer then fills the cache), and, only while
PostgreSQL cannot answer and only for a tenant whose backend-down policy is
"cached", what the cache held when its feed was lost, else the subscriber's Redis
snapshot, each within the tenant's bound. A snapshot is signed (store.live), but the
tenant it is judged by (whether its policy is "cached", how old a snapshot it allows,
its walled garden and throttling) is the one this radiusd last read from PostgreSQL,
never the snapshot's own copy: a snapshot vouches for one subscriber, not for the rules
it is admitted under. The reader also keeps those snapshots
written, so that another radiusd (or this one after a restart) has one.

Nothing here decides: policy.decide_access does, on what ``read`` returns.
"""

from __future__ import annotations

import collections
import threading
import time
from dataclasses import dataclass, replace
from datetime import datetime
from enum import StrEnum
from typing import Generic, TypeVar

from rlm_cloudos.errors import BackendUnavailable
from rlm_cloudos.policy.types import Tenant
from rlm_cloudos.requests import AccessRequest
from rlm_cloudos.store.authz import AuthzCache
from rlm_cloudos.store.live import Live
from rlm_cloudos.store.pg import Database
from rlm_cloudos.store.rows import AccessContext

K = TypeVar("K")
V = TypeVar("V")


class Source(StrEnum):
    """Where an AccessRead came from."""

    CACHE = "cache"
    POSTGRES = "postgres"
    #: The cache as it was when its feed was lost (PostgreSQL unreachable).
    HELD = "held"
    #: The subscriber's Redis snapshot (PostgreSQL unreachable).
    SNAPSHOT = "snapshot"


@dataclass(frozen=True, slots=True)
class AccessRead:
    """What authorize decides on, where it came from and how old it is."""

    context: AccessContext
    source: Source
    #: Seconds since it was current: 0 for CACHE and POSTGRES.
    age: float = 0.0
    #: Why PostgreSQL was not read (HELD and SNAPSHOT only).
    failure: str | None = None

    @property
    def degraded(self) -> bool:
        return self.failure is not None


class Recent(Generic[K, V]):
    """A dict that keeps only its ``limit`` most recently written keys: the reader's bookkeeping
    grows with the subscribers it has seen, so it must be bounded."""

    def __init__(self, limit: int) -> None:
        self.limit = max(1, limit)
        self._items: collections.OrderedDict[K, V] = collections.OrderedDict()
        self._lock = threading.Lock()

    def __len__(self) -> int:
        return len(self._items)

    def get(self, key: K) -> V | None:
        return self._items.get(key)

    def put(self, key: K, value: V) -> None:
        with self._lock:
            self._items[key] = value
            self._items.move_to_end(key)
            while len(self._items) > self.limit:
                self._items.popitem(last=False)

    def pop(self, key: K) -> None:
        with self._lock:
            self._items.pop(key, None)


class AccessReader:
    """The one read path of authorize (see the module docstring); thread-safe.

    ``memory`` bounds what it remembers per subscriber and per NAS address (when each
    snapshot was written, which tenant an address belongs to).
    """

    def __init__(self, db: Database, live: Live, cache: AuthzCache | None, *, memory: int = 200_000) -> None:
        self._db = db
        self._live = live
        self._cache = cache
        #: When each (tenant, username)'s Redis snapshot was last written (time.monotonic()).
        self._saved: Recent[tuple[int, str], float] = Recent(memory)
        #: The tenant of each NAS source address lately read: finds a snapshot while PostgreSQL is away.
        self._tenant_of: Recent[str, int] = Recent(memory)
        #: Tenants as last read (post_auth's throttling settings).
        self._tenants: Recent[int, Tenant] = Recent(memory)

    def read(self, req: AccessRequest, now: datetime, *, fresh: bool = False) -> AccessRead | None:
        """What authorize decides ``req`` on at ``now``; None when no NAS covers its source address.
        ``fresh``: from PostgreSQL even when the cache holds it (and the cache refilled).
        Raises BackendUnavailable when PostgreSQL cannot answer and nothing else may be served."""
        cache = self._cache
        held = cache.context(req.nas_address, req.user_name, now) if cache is not None and not fresh else None
        if held is not None:
            self._keep_snapshot(held, req.user_name, read=False)
            return AccessRead(held, Source.CACHE)
        token = cache.begin() if cache is not None else 0
        try:
            ctx = self._db.access_context(req.nas_address, req.user_name, now)
        except BackendUnavailable as exc:
            fallback = self._fallback(req, now, str(exc))
            if fallback is None:
                raise
            self._remember(req.nas_address, fallback.context.tenant)
            return fallback
        if ctx is None:
            return None
        self._remember(req.nas_address, ctx.tenant)
        if cache is not None:
            cache.store(token, req.nas_address, ctx)
        self._keep_snapshot(ctx, req.user_name, read=True)
        return AccessRead(ctx, Source.POSTGRES)

    def tenant(self, tenant_id: int) -> Tenant | None:
        """The tenant as last read, or None if this radiusd has not read it."""
        return self._tenants.get(tenant_id)

    def _remember(self, nas_address: str, tenant: Tenant) -> None:
        if self._tenant_of.get(nas_address) != tenant.id:
            self._tenant_of.put(nas_address, tenant.id)
        if self._tenants.get(tenant.id) != tenant:
            self._tenants.put(tenant.id, tenant)

    def _keep_snapshot(self, ctx: AccessContext, username: str, *, read: bool) -> None:
        """Keep the subscriber's Redis snapshot (for the "cached" backend-down policy): written whenever
        PostgreSQL was ``read`` (an admin change drops the cached entry, so that is the first login
        after one), and otherwise kept no older than half the tenant's bound, without a Redis write on
        every login served from memory."""
        if ctx.subscriber is None or ctx.tenant.backend_down_policy != "cached":
            return
        key = (ctx.tenant.id, username)
        bound = ctx.tenant.backend_down_cache_seconds
        at = time.monotonic()
        saved = self._saved.get(key)
        if read or saved is None or at - saved >= bound / 2:
            self._saved.put(key, at)
            self._live.save_snapshot(ctx.tenant.id, username, ctx, bound)

    def _fallback(self, req: AccessRequest, now: datetime, failure: str) -> AccessRead | None:
        """While PostgreSQL is unreachable, for a tenant whose backend-down policy is "cached": what the
        cache held when its feed was lost, else the subscriber's Redis snapshot, if young enough.
        None otherwise (and always when the NAS's tenant is not known here)."""
        cache = self._cache
        source = Source.HELD
        found = cache.stale_context(req.nas_address, req.user_name, now) if cache is not None else None
        if found is None:
            tenant_id = self._tenant_of.get(req.nas_address)
            if tenant_id is None:
                return None
            held_tenant = self._tenants.get(tenant_id)
            if held_tenant is None:
                return None
            source = Source.SNAPSHOT
            snap = self._live.snapshot(tenant_id, req.user_name)
            if snap is None or snap[0].tenant.id != tenant_id:
                return None
            found = (replace(snap[0], tenant=held_tenant), snap[1])
        ctx, age = found
        if ctx.tenant.backend_down_policy != "cached" or age > ctx.tenant.backend_down_cache_seconds:
            return None
        return AccessRead(ctx, source, age, failure)
