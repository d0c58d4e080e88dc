"""What radiusd nodes share live through Redis: authorize snapshots and failed-login counters.

Redis is an accelerator and a fallback, never a dependency: every call is bounded
by a short socket timeout, a failure opens a breaker for a few seconds (during
which Redis is not tried), and callers carry on from PostgreSQL. An outage is
logged once per breaker period, not once per request.

Keys (tenant-scoped):
  cloudos:snap:{tenant}:{username}  what authorize last read, for the "cached" backend-down policy
  cloudos:ver:{tenant}              bumped by every admin change; a snapshot of another version is stale
  cloudos:fail:{tenant}:{username}  wrong passwords in the current window (the lockout itself is
                                    subscriber.locked_until in PostgreSQL, read by authorize at no cost)
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from typing import Any, cast

import redis

from rlm_cloudos.store.lifecycle import Service
from rlm_cloudos.store.rows import AccessContext, decode_context, encode_context

_BREAKER_SECONDS = 3.0


def snap_key(tenant_id: int, username: str) -> str:
    return f"cloudos:snap:{tenant_id}:{username}"


def version_key(tenant_id: int) -> str:
    return f"cloudos:ver:{tenant_id}"


def fail_key(tenant_id: int, username: str) -> str:
    return f"cloudos:fail:{tenant_id}:{username}"


class Live(Service):
    """Bounded Redis access for the hot path; every method returns a neutral value when Redis is away."""

    def __init__(self, url: str, log: Callable[..., None], *, timeout: float = 0.2) -> None:
        self._log = log
        self._down_until = 0.0
        self._client = redis.Redis.from_url(url, socket_timeout=timeout, socket_connect_timeout=timeout,
                                            retry_on_timeout=False, health_check_interval=0) if url else None

    def _call(self, what: str, fn: Callable[[redis.Redis], Any], default: Any) -> Any:
        if self._client is None or time.monotonic() < self._down_until:
            return default
        try:
            return fn(self._client)
        except redis.RedisError as exc:
            self._down_until = time.monotonic() + _BREAKER_SECONDS
            self._log("warn", hook="redis", op=what, reason="redis_unavailable", error=type(exc).__name__,
                      detail=" ".join(str(exc).split())[:120],
                      action=f"continuing from PostgreSQL; retry in {_BREAKER_SECONDS:.0f}s")
            return default

    # ------------------------------------------------------------------ authorize snapshots
    def save_snapshot(self, tenant_id: int, username: str, ctx: AccessContext, ttl: int) -> None:
        """Keep what authorize read for ``ttl`` seconds, stamped with the time and the tenant's version."""
        if ttl <= 0:
            return

        def save(r: redis.Redis) -> None:
            version = cast(bytes | None, r.get(version_key(tenant_id)))
            body = json.dumps({"at": time.time(), "ver": int(version or 0), "ctx": encode_context(ctx)})
            r.set(snap_key(tenant_id, username), body, ex=ttl)

        self._call("save_snapshot", save, None)

    def snapshot(self, tenant_id: int, username: str) -> tuple[AccessContext, float] | None:
        """(context, age in seconds) of the subscriber's snapshot if it is of the tenant's current version, else None."""

        def load(r: redis.Redis) -> tuple[AccessContext, float] | None:
            raw, version = cast(list[bytes | None], r.mget(snap_key(tenant_id, username), version_key(tenant_id)))
            if raw is None:
                return None
            try:
                body = json.loads(raw)
                age = time.time() - float(body["at"])
                if int(body["ver"]) != int(version or 0):
                    return None
                return decode_context(body["ctx"]), age
            except (ValueError, KeyError, TypeError) as exc:
                # Not a snapshot this radiusd can read (another version wrote it, or it is damaged):
                # as if there were none, never an exception into authorize.
                self._log("warn", hook="redis", op="snapshot", event="unreadable_snapshot", error=type(exc).__name__)
                return None

        found: tuple[AccessContext, float] | None = self._call("snapshot", load, None)
        return found

    # ------------------------------------------------------------------ failed-login throttling
    def record_failure(self, tenant_id: int, username: str, window: int) -> int:
        """Count a wrong password in a ``window``-second window shared by every radiusd; returns
        the count so far (0 when Redis is away: nobody is locked out then)."""

        def record(r: redis.Redis) -> int:
            key = fail_key(tenant_id, username)
            pipe = r.pipeline()
            pipe.incr(key)
            pipe.expire(key, window, nx=True)
            return int(pipe.execute()[0])

        return int(self._call("record_failure", record, 0))

    def open(self) -> None:
        """Nothing to start: the client connects on first use, within its timeout."""

    def close(self) -> None:
        if self._client is not None:
            self._client.close()


def invalidate(url: str, tenant_id: int, username: str | None = None, *, timeout: float = 1.0) -> bool:
    """For admin changes: drop a subscriber's snapshot and lockout, or (``username`` None, a change to
    the tenant, a plan or a NAS) bump the tenant's version so every snapshot of it goes stale.
    Returns False when Redis could not be reached."""
    if not url:
        return True
    client = redis.Redis.from_url(url, socket_timeout=timeout, socket_connect_timeout=timeout)
    try:
        if username is None:
            client.incr(version_key(tenant_id))
        else:
            client.delete(snap_key(tenant_id, username), fail_key(tenant_id, username))
        return True
    except redis.RedisError:
        return False
    finally:
        client.close()
