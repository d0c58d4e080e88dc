"""What radiusd nodes share live through Redis: authorize snapshots and failed-login counters.

Redis is an accelerator and a fallback, never a dependency: every call is bounded
by a short socket timeout, a failure opens a breaker for a few seconds (during
which Redis is not tried), and callers carry on from PostgreSQL. An outage is
logged once per breaker period, not once per request.

Anyone who can write to Redis can write a snapshot, so a snapshot is signed: HMAC-SHA256
over its key and body under a key derived from radiusd's key ring (KeyRing.mac_key
"redis.snapshot", the ring key's id in the record so keys rotate), and one whose MAC
does not verify is ignored and logged (once a minute per reason), never trusted. What
the tenant allows while PostgreSQL is down is not taken from a snapshot at all (see
store.access); the password in it stays sealed to its tenant and username.

Keys (tenant-scoped):
  cloudos:snap:{tenant}:{username}  what authorize last read, for the "cached" backend-down policy:
                                    {"v": 2, "kid", "mac" (hex), "body" (JSON text: tenant, user, at, ver, ctx)}
  cloudos:ver:{tenant}              bumped by every admin change; a snapshot of another version is stale
  cloudos:fail:{tenant}:{username}  wrong passwords in the current window (the lockout itself is
                                    subscriber.locked_until in PostgreSQL, read by authorize at no cost)
"""

from __future__ import annotations

import hashlib
import hmac
import json
import time
from collections.abc import Callable
from typing import Any, cast

import redis

from rlm_cloudos.crypto import KeyRing
from rlm_cloudos.store.lifecycle import Service
from rlm_cloudos.store.rows import AccessContext, decode_context, encode_context

_BREAKER_SECONDS = 3.0
#: The HKDF purpose of the snapshot MAC key, and the label its input starts with.
SNAPSHOT_MAC = "redis.snapshot"
_SNAPSHOT_FORMAT = 2
#: A refused snapshot is logged at most this often per reason (a forger must not fill the log).
_REFUSED_LOG_SECONDS = 60.0


def snap_key(tenant_id: int, username: str) -> str:
    return f"cloudos:snap:{tenant_id}:{username}"


def version_key(tenant_id: int) -> str:
    return f"cloudos:ver:{tenant_id}"


def fail_key(tenant_id: int, username: str) -> str:
    return f"cloudos:fail:{tenant_id}:{username}"


def snapshot_mac(key: bytes, tenant_id: int, username: str, body: bytes) -> bytes:
    """HMAC-SHA256 of a snapshot's body, bound to the Redis key it is stored under."""
    label = f"{SNAPSHOT_MAC}/v{_SNAPSHOT_FORMAT}\n{snap_key(tenant_id, username)}\n".encode()
    return hmac.new(key, label + body, hashlib.sha256).digest()


def verified_snapshot(keyring: KeyRing, tenant_id: int, username: str, raw: bytes) -> dict[str, Any] | str:
    """The body of a snapshot record whose MAC verifies (in constant time) under the ring key it
    names and which names the Redis key it is stored under; else why not (a reason for the log)."""
    try:
        record = json.loads(raw)
        if not isinstance(record, dict) or record.get("v") != _SNAPSHOT_FORMAT:
            return "unsigned_snapshot"
        kid, mac, body = str(record["kid"]), bytes.fromhex(str(record["mac"])), str(record["body"]).encode()
    except (ValueError, KeyError, TypeError):
        return "unsigned_snapshot"
    signing = keyring.mac_key(SNAPSHOT_MAC, kid)
    if signing is None:
        return "snapshot_unknown_key"
    if not hmac.compare_digest(mac, snapshot_mac(signing[1], tenant_id, username, body)):
        return "snapshot_bad_mac"
    try:
        data = json.loads(body)
    except ValueError:
        return "snapshot_bad_body"
    if not isinstance(data, dict) or data.get("tenant") != tenant_id or data.get("user") != username:
        return "snapshot_misplaced"
    return data


class Live(Service):
    """Bounded Redis access for the hot path; every method returns a neutral value when Redis is away.

    Without a ``keyring`` no snapshot is written or trusted (an unsigned one is a forger's)."""

    def __init__(self, url: str, log: Callable[..., None], *, timeout: float = 0.2,
                 keyring: KeyRing | None = None) -> None:
        self._log = log
        self._keyring = keyring
        self._down_until = 0.0
        #: When each reason for refusing a snapshot was last logged, and how many since.
        self._refused: dict[str, tuple[float, int]] = {}
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
        """Keep what authorize read for ``ttl`` seconds, stamped with the time and the tenant's version,
        signed with the active ring key's snapshot MAC key."""
        signing = self._keyring.mac_key(SNAPSHOT_MAC) if self._keyring is not None else None
        if ttl <= 0 or signing is None:
            return
        kid, key = signing

        def save(r: redis.Redis) -> None:
            version = cast(bytes | None, r.get(version_key(tenant_id)))
            body = json.dumps({"tenant": tenant_id, "user": username, "at": time.time(), "ver": int(version or 0),
                               "ctx": encode_context(ctx)}).encode()
            mac = snapshot_mac(key, tenant_id, username, body)
            record = json.dumps({"v": _SNAPSHOT_FORMAT, "kid": kid, "mac": mac.hex(), "body": body.decode()})
            r.set(snap_key(tenant_id, username), record, ex=ttl)

        self._call("save_snapshot", save, None)

    def snapshot(self, tenant_id: int, username: str) -> tuple[AccessContext, float] | None:
        """(context, age in seconds) of the subscriber's snapshot if its MAC verifies and it is of the
        tenant's current version, else None (a refused one is logged, rate-limited)."""

        def load(r: redis.Redis) -> tuple[AccessContext, float] | None:
            raw, version = cast(list[bytes | None], r.mget(snap_key(tenant_id, username), version_key(tenant_id)))
            if raw is None:
                return None
            if self._keyring is None:
                return None
            body = verified_snapshot(self._keyring, tenant_id, username, raw)
            if isinstance(body, str):
                self._refuse(body, tenant_id, username)
                return None
            try:
                age = time.time() - float(body["at"])
                if int(body["ver"]) != int(version or 0):
                    return None
                return decode_context(body["ctx"]), age
            except (ValueError, KeyError, TypeError) as exc:
                # Signed by this ring yet not readable by this version: as if there were none.
                self._log("warn", hook="redis", op="snapshot", event="unreadable_snapshot", error=type(exc).__name__)
                return None

        found: tuple[AccessContext, float] | None = self._call("snapshot", load, None)
        return found

    def _refuse(self, reason: str, tenant_id: int, username: str) -> None:
        """Log a refused snapshot, at most once per _REFUSED_LOG_SECONDS per reason (with how many were
        refused in between), so a flood of forgeries costs one line a minute."""
        at = time.monotonic()
        last, count = self._refused.get(reason, (float("-inf"), 0))
        if at - last < _REFUSED_LOG_SECONDS:
            self._refused[reason] = (last, count + 1)
            return
        self._refused[reason] = (at, 0)
        self._log("error", hook="redis", op="snapshot", event="snapshot_refused", reason=reason, tenant_id=tenant_id,
                  user=username, refused_since_last=count, action="ignored; not trusted without a valid MAC")

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
