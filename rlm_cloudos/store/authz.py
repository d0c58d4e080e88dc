"""What authorize reads, kept in radiusd's memory and current through PostgreSQL's change feed.

A login answered from here costs no round trip. Entries are filled by authorize
itself (a miss runs the AUTHORIZE statement and stores what it read) and kept
current by the ``cloudos_authz`` channel (schema 0003): admin changes drop the
entries they touch, accounting updates usage and sessions in place, so a redial
storm after a NAS reboot is served from memory.

The cache is only as good as its feed. It serves nothing until the listener is
connected, and everything is dropped when the listener loses its connection (a
notification may have been missed). While the feed is down, authorize goes to
PostgreSQL as if there were no cache; when PostgreSQL is down too, what the cache
held when the feed was lost may still serve tenants whose backend-down policy is
"cached" (``stale_context``), within the tenant's bound.

Race with a fill: authorize reads PostgreSQL, then stores. A notification applied
in between may describe a change the read did not see, so each notification
*touches* what it names, and ``store`` refuses a fill if anything it depends on was
touched after the fill began (``begin``). Notifications arrive in commit order, and
the A messages carry absolute values (store.notices), so applying one twice, or one the read
already saw, is harmless.

Race with this radiusd's own accounting: the radiusd that stores a packet applies the A
message cloudos_account() returns at once, ahead of the notifications of earlier commits
still on their way to its listener (a Start's, say, behind the interim stored right after
it). An A message therefore never takes a session back to an older state: one older than
the session held is not applied, a session that a Stop ended is not revived by a message
from before that Stop, and counters are taken only when none of them is lower than those
held (within a period they only grow).
"""

from __future__ import annotations

import collections
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, replace
from datetime import datetime
from typing import Any, LiteralString, NamedTuple

import psycopg
import psycopg.sql

from rlm_cloudos.policy.sessions import LiveSession, stale_after
from rlm_cloudos.store import notices
from rlm_cloudos.store.lifecycle import Service
from rlm_cloudos.store.notices import CHANNEL
from rlm_cloudos.store.pg import sever
from rlm_cloudos.store.rows import AccessContext

#: How many touched keys are remembered for racing fills; a fill older than the
#: oldest remembered one is not stored (it is only a miss the next time).
TOUCH_MEMORY = 100_000
#: How many ended sessions are remembered against a late message from before their Stop: the
#: window is the delivery delay of a notification (milliseconds), so recent Stops are enough.
STOP_MEMORY = 10_000


class NasKey(NamedTuple):
    id: int
    name: str
    tenant_id: int


@dataclass(frozen=True, slots=True)
class Forget:
    """An unverified Accounting-On/Off: drop (never edit) what holds a session on the NAS."""

    nas_id: int


def as_invalidation(message: notices.Message) -> notices.Message | Forget:
    """What a message from an unverified sender may do: drop entries, never write into them.

    Any role can NOTIFY any channel. T, P, S and N only drop entries (the next login reads
    PostgreSQL), harmless whoever sent them; A carries counters and sessions, X closes sessions,
    and a forger could use them to make an exhausted quota look unused or hide live sessions from
    Simultaneous-Use. From a sender not verified as radiusd's role they only drop the entries they name.
    """
    match message:
        case notices.SessionChanged(subscriber_id=sid):
            return notices.SubscriberChanged(sid)
        case notices.NasReset(nas_id=nas_id):
            return Forget(nas_id)
    return message


#: The messages that carry state into the cache (counters, a NAS reset's time) rather than only
#: naming entries to drop: accepted as written only from a sender in cloudos_radius.
WRITING = frozenset({"A ", "X "})


class Producers:
    """Which backend PIDs belong to a member of cloudos_radius (A and X come from cloudos_account(),
    which only radiusd calls); remembered for ``ttl`` seconds.

    A PID is checked in pg_stat_activity when its notification arrives. A forger who exits at once
    leaves no row and is not verified; reusing a verified PID within ``ttl`` would need the host
    to hand out every other PID first (Linux allocates them in increasing order).
    """

    QUERY: LiteralString = """
SELECT pid FROM pg_stat_activity
 WHERE pid = ANY(%(pids)s) AND usesysid IS NOT NULL AND pg_has_role(usesysid, 'cloudos_radius', 'MEMBER')
"""

    def __init__(self, ttl: float = 10.0) -> None:
        self.ttl = ttl
        self._seen: dict[int, tuple[bool, float]] = {}

    def unknown(self, pids: set[int], now: float) -> list[int]:
        """The PIDs among ``pids`` to look up."""
        return sorted(p for p in pids if (seen := self._seen.get(p)) is None or now - seen[1] >= self.ttl)

    def learn(self, looked_up: list[int], members: set[int], now: float) -> None:
        if len(self._seen) > 10_000:
            self._seen = {p: v for p, v in self._seen.items() if now - v[1] < self.ttl}
        for pid in looked_up:
            self._seen[pid] = (pid in members, now)

    def verified(self, pid: int) -> bool:
        seen = self._seen.get(pid)
        return seen is not None and seen[0]


def _aged(ctx: AccessContext, now: datetime) -> bool:
    """Whether ``ctx`` holds a session that is stale by what this cache heard of it. Interims are
    announced only when they change a decision (cloudos_account()): one stored by another radiusd
    kept the session alive in PostgreSQL without a word to this cache. So a session that looks
    stale here is read again, never counted as gone on this cache's word (a second device let in);
    a truly stale one costs its subscriber's logins a read until a Stop or the reaper ends it."""
    if not ctx.sessions:
        return False
    cutoff = now.timestamp() - stale_after(ctx.tenant.interim_interval)
    for s in ctx.sessions:
        if s.updated <= cutoff:
            return True
    return False


class AuthzCache:
    """Source address → NAS and (tenant, username) → AccessContext; thread-safe.

    Readers take no lock: they read one dict slot and get an immutable value.
    Writers (fills and the feed) serialise on one lock and replace whole values.
    """

    def __init__(self, max_entries: int) -> None:
        self.max_entries = max_entries
        self._lock = threading.Lock()
        self._ready = False
        #: monotonic time the feed was lost while entries were held (None: feed up, or nothing held).
        self._lost_at: float | None = None
        self._nas: dict[str, NasKey] = {}
        self._entries: dict[tuple[int, str], AccessContext] = {}
        self._by_sub: dict[int, tuple[int, str]] = {}
        self._seq = 0
        self._touched: collections.OrderedDict[tuple[str, int], int] = collections.OrderedDict()
        self._forgotten = 0  # touches up to this seq have been forgotten
        #: acct_unique_id → last-accounting epoch of the Stops lately applied.
        self._stopped: collections.OrderedDict[str, float] = collections.OrderedDict()
        self.hits = 0
        self.misses = 0
        self._nas_listeners: list[Callable[[], None]] = []

    # ------------------------------------------------------------------ reading
    def __len__(self) -> int:
        return len(self._entries)

    @property
    def ready(self) -> bool:
        return self._ready

    def context(self, nas_address: str, username: str, now: datetime) -> AccessContext | None:
        """What AUTHORIZE would read for this request, or None (not held, feed down, period over, or
        holding a session that has gone stale here)."""
        if not self._ready:
            return None
        ctx = self._held(nas_address, username, now)
        if ctx is not None and _aged(ctx, now):
            ctx = None
        if ctx is None:
            self.misses += 1
        else:
            self.hits += 1
        return ctx

    def stale_context(self, nas_address: str, username: str, now: datetime) -> tuple[AccessContext, float] | None:
        """While the feed is down: what was held when it was lost, and how many seconds ago that was."""
        lost_at = self._lost_at
        if self._ready or lost_at is None:
            return None
        ctx = self._held(nas_address, username, now)
        return None if ctx is None else (ctx, time.monotonic() - lost_at)

    def _held(self, nas_address: str, username: str, now: datetime) -> AccessContext | None:
        nas = self._nas.get(nas_address)
        if nas is None:
            return None
        ctx = self._entries.get((nas.tenant_id, username))
        if ctx is None:
            return None
        usage = ctx.usage
        if usage is not None and not usage.period_start <= now < usage.period_end:
            return None  # a new billing period: its counter is read afresh
        if nas.id == ctx.nas_id:
            return ctx
        return replace(ctx, nas_id=nas.id, nas_name=nas.name)

    def on_nas_change(self, listener: Callable[[], None]) -> None:
        """Call ``listener`` whenever a NAS may have been added, changed or removed: an N message, or
        a (re)connected feed, which may have missed one. It runs under the cache's lock: keep it short,
        and never call back into the cache."""
        self._nas_listeners.append(listener)

    # ------------------------------------------------------------------ filling
    def begin(self) -> int:
        """A token for a fill about to read PostgreSQL."""
        return self._seq

    def store(self, token: int, nas_address: str, ctx: AccessContext) -> bool:
        """Keep what a fill begun at ``token`` read, unless something it depends on changed since
        (or the feed is down). Unknown subscribers are not kept. Returns whether it was kept."""
        sub = ctx.subscriber
        if sub is None or ctx.nas_id is None or ctx.nas_name is None or ctx.password_enc is None:
            return False
        tid = ctx.tenant.id
        with self._lock:
            if not self._ready or token < self._forgotten:
                return False
            touched = self._touched
            if (touched.get(("N", 0), 0) > token or touched.get(("T", tid), 0) > token
                    or touched.get(("S", sub.id), 0) > token or touched.get(("X", 0), 0) > token
                    or (sub.plan is not None and touched.get(("P", sub.plan.id), 0) > token)):
                return False
            self._nas[nas_address] = NasKey(ctx.nas_id, ctx.nas_name, tid)
            key = (tid, sub.username)
            old = self._by_sub.get(sub.id)
            if old is not None and old != key:
                self._entries.pop(old, None)  # renamed
            previous = self._entries.get(key)
            if previous is not None and previous.subscriber is not None and previous.subscriber.id != sub.id:
                self._by_sub.pop(previous.subscriber.id, None)  # the username now belongs to another
            if key not in self._entries and len(self._entries) >= self.max_entries:
                oldest = next(iter(self._entries))
                evicted = self._entries.pop(oldest)
                assert evicted.subscriber is not None
                self._by_sub.pop(evicted.subscriber.id, None)
            self._entries[key] = ctx
            self._by_sub[sub.id] = key
            return True

    # ------------------------------------------------------------------ the feed
    def connected(self) -> None:
        """The listener is (again) connected: start empty, since notifications may have been missed."""
        with self._lock:
            self._clear()
            self._ready = True
            self._lost_at = None
            for listener in self._nas_listeners:
                listener()

    def lost(self) -> None:
        """The listener lost its connection: serve nothing as current from now on."""
        with self._lock:
            if self._ready:
                self._ready = False
                self._lost_at = time.monotonic()
                self._seq += 1
                self._forgotten = self._seq

    def _clear(self) -> None:
        self._nas.clear()
        self._entries.clear()
        self._by_sub.clear()
        self._touched.clear()
        self._stopped.clear()
        self._seq += 1
        self._forgotten = self._seq

    def _touch(self, kind: str, ident: int) -> None:
        key = (kind, ident)
        self._touched[key] = self._seq
        self._touched.move_to_end(key)
        if len(self._touched) > TOUCH_MEMORY:
            _, seq = self._touched.popitem(last=False)
            self._forgotten = max(self._forgotten, seq)

    def _drop(self, keep: Callable[[AccessContext], bool]) -> None:
        for key in [k for k, ctx in self._entries.items() if not keep(ctx)]:
            ctx = self._entries.pop(key)
            assert ctx.subscriber is not None
            self._by_sub.pop(ctx.subscriber.id, None)

    def apply(self, message: str, *, verified: bool = True) -> None:
        """Apply one cloudos_authz notification (store.notices); raises ValueError on a malformed one.
        ``verified=False`` (a sender that is not radiusd's role): only as the invalidation it implies."""
        parsed = notices.parse(message)
        self.apply_message(parsed if verified else as_invalidation(parsed))

    def _drop_nas_sessions(self, nas_id: int) -> None:
        """Forget every entry holding a session on ``nas_id``: the next login reads PostgreSQL."""
        self._touch("X", 0)
        self._drop(lambda c: not any(s.nas_id == nas_id for s in c.sessions))

    def apply_message(self, message: notices.Message | Forget) -> None:
        """Apply one parsed cloudos_authz message."""
        with self._lock:
            self._seq += 1
            match message:
                case notices.SessionChanged():
                    self._apply_accounting(message)
                case notices.SubscriberChanged(subscriber_id=sid):
                    self._touch("S", sid)
                    key = self._by_sub.pop(sid, None)
                    if key is not None:
                        self._entries.pop(key, None)
                case notices.PlanChanged(plan_id=pid):
                    self._touch("P", pid)
                    self._drop(lambda c: c.subscriber is None or c.subscriber.plan is None
                               or c.subscriber.plan.id != pid)
                case notices.TenantChanged(tenant_id=tid):
                    self._touch("T", tid)
                    self._drop(lambda c: c.tenant.id != tid)
                case notices.NasChanged():
                    self._touch("N", 0)
                    self._nas.clear()
                    for listener in self._nas_listeners:
                        listener()
                case Forget(nas_id=nas_id):
                    self._drop_nas_sessions(nas_id)
                case notices.NasReset(nas_id=nas_id, at=at):
                    self._touch("X", 0)

                    def ended(s: LiveSession) -> bool:
                        return s.nas_id == nas_id and (at is None or s.updated < at)

                    for key, ctx in list(self._entries.items()):
                        if any(ended(s) for s in ctx.sessions):
                            self._entries[key] = replace(ctx, sessions=tuple(s for s in ctx.sessions if not ended(s)))

    def _apply_accounting(self, m: notices.SessionChanged) -> None:
        sid = m.subscriber_id
        self._touch("S", sid)
        if m.stopped:
            self._stopped[m.acct_unique_id] = max(m.updated, self._stopped.pop(m.acct_unique_id, m.updated))
            if len(self._stopped) > STOP_MEMORY:
                self._stopped.popitem(last=False)
        key = self._by_sub.get(sid)
        ctx = self._entries.get(key) if key is not None else None
        if key is None or ctx is None:
            return
        sessions = ctx.sessions
        held = next((s for s in sessions if s.acct_unique_id == m.acct_unique_id), None)
        ended_at = self._stopped.get(m.acct_unique_id)
        late = ((held is not None and m.updated < held.updated)
                or (not m.stopped and ended_at is not None and m.updated <= ended_at))
        if not late:
            sessions = tuple(s for s in sessions if s.acct_unique_id != m.acct_unique_id)
            if not m.stopped:
                sessions += (LiveSession(m.acct_unique_id, m.nas_id, m.updated, m.mac),)
        usage = ctx.usage
        c = m.counters
        if c is not None and usage is not None:
            period = int(usage.period_start.timestamp())
            if c.period_start > period:  # counted into a newer period than the one held: read afresh
                self._entries.pop(key)
                self._by_sub.pop(sid)
                return
            if (c.period_start == period and c.input_octets >= usage.input_octets
                    and c.output_octets >= usage.output_octets and c.session_time >= usage.session_time):
                usage = replace(usage, input_octets=c.input_octets, output_octets=c.output_octets,
                                session_time=c.session_time)
        self._entries[key] = replace(ctx, sessions=sessions, usage=usage)


class AuthzFeed(Service):
    """A thread that LISTENs on cloudos_authz and applies every notification to the cache.

    It reconnects forever with backoff; every connection loss empties the cache.
    A silent network is caught by TCP keepalives and a ``SELECT 1`` every
    ``ping_seconds``.
    """

    #: How often the cache's size and hit counts are logged.
    STATS_SECONDS = 300.0

    def __init__(self, url: str, cache: AuthzCache, log: Callable[..., None], *, connect_timeout: int = 2,
                 ping_seconds: float = 5.0) -> None:
        self._url = url
        self._cache = cache
        self._log = log
        self._connect_timeout = connect_timeout
        self._ping = ping_seconds
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._producers = Producers()
        self._unverified = 0

    def open(self) -> None:
        """Start listening (in a thread of its own, reconnecting until closed)."""
        self._thread = threading.Thread(target=self._run, name="cloudos-authz-feed", daemon=True)
        self._thread.start()

    def close(self, timeout: float = 3.0) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout)
        self._stats("closed")

    def _stats(self, event: str) -> None:
        c = self._cache
        self._log("info", hook="authz_feed", event=event, held=len(c), hits=c.hits, misses=c.misses)

    def _run(self) -> None:
        backoff = 0.5
        while not self._stop.is_set():
            try:
                self._listen()
                backoff = 0.5
            except Exception as exc:
                held = len(self._cache)
                self._cache.lost()
                self._log("warn", hook="authz_feed", event="feed_lost", error=type(exc).__name__,
                          detail=" ".join(str(exc).split())[:160], held=held,
                          action="authorize reads PostgreSQL until the feed is back")
                self._stop.wait(backoff)
                backoff = min(backoff * 2, 10.0)

    def _bounded(self, conn: psycopg.Connection[Any], statement: LiteralString | psycopg.sql.Composed) -> None:
        """Run ``statement``, severing ``conn`` if it takes longer than the connect timeout.

        The keepalives catch a network that drops packets, not a peer that holds the
        connection open and stops answering (a stuck server or PgBouncer; its kernel answers
        the keepalives): then ``SELECT 1`` waited for ever, and the cache went on serving as
        current with nobody listening (tests/e2e/test_blackhole.py). Severed, it raises, and
        the feed is lost as it should be.
        """
        timer = threading.Timer(self._connect_timeout, sever, (conn,))
        timer.daemon = True
        timer.start()
        try:
            conn.execute(statement)
        finally:
            timer.cancel()

    def _verify(self, conn: psycopg.Connection[Any], pids: set[int]) -> None:
        """Look up the senders not known (or known too long ago) in one bounded statement."""
        now = time.monotonic()
        unknown = self._producers.unknown(pids, now)
        if not unknown:
            return
        timer = threading.Timer(self._connect_timeout, sever, (conn,))
        timer.daemon = True
        timer.start()
        try:
            members = {int(r[0]) for r in conn.execute(Producers.QUERY, {"pids": unknown}).fetchall()}
        finally:
            timer.cancel()
        self._producers.learn(unknown, members, now)

    def _listen(self) -> None:
        with psycopg.connect(self._url, autocommit=True, connect_timeout=self._connect_timeout,
                             application_name="rlm_cloudos_feed", keepalives=1, keepalives_idle=5,
                             keepalives_interval=2, keepalives_count=3) as conn:
            self._bounded(conn, psycopg.sql.SQL("LISTEN {}").format(psycopg.sql.Identifier(CHANNEL)))
            self._cache.connected()
            self._log("info", hook="authz_feed", event="feed_connected")
            last_ping = last_stats = time.monotonic()
            while not self._stop.is_set():
                # Collected first: the connection is locked while notifies() runs, and the senders
                # are looked up on it before anything is applied.
                notes = list(conn.notifies(timeout=1.0, stop_after=1))
                # Only what writes into the cache needs its sender checked; the rest (T, P, S, N) only
                # drops entries whoever sends it, and is applied at once: a suspend made with the CLI
                # must not wait for a lookup of the CLI's (often already gone) backend.
                writes = {n.pid for n in notes if n.payload[:2] in WRITING}
                if writes:
                    self._verify(conn, writes)
                for note in notes:
                    verified = note.payload[:2] not in WRITING or self._producers.verified(note.pid)
                    if not verified:
                        self._unverified += 1
                        if self._unverified in (1, 10, 100) or self._unverified % 1000 == 0:
                            self._log("warn", hook="authz_feed", event="unverified_sender", pid=note.pid,
                                      count=self._unverified, detail=note.payload[:60],
                                      action="applied only as an invalidation")
                    try:
                        self._cache.apply(note.payload, verified=verified)
                    except (ValueError, KeyError) as exc:
                        # Not ours to understand: drop everything rather than serve something wrong.
                        self._log("error", hook="authz_feed", event="bad_message", error=type(exc).__name__,
                                  detail=note.payload[:160])
                        self._cache.connected()
                if time.monotonic() - last_ping >= self._ping:
                    self._bounded(conn, "SELECT 1")
                    last_ping = time.monotonic()
                if time.monotonic() - last_stats >= self.STATS_SECONDS:
                    self._stats("stats")
                    last_stats = time.monotonic()
