"""The only file radiusd imports: rlm_python3 hooks over the policy and the store.

Each hook translates attribute tuples into a typed request, asks the store and
the policy, and translates the answer back. A guard around each hook turns any
exception into one log line and an rcode chosen on purpose: nothing raises into
radiusd.

Return shapes follow rlm_python3: an rcode, or ``(rcode, {"reply": …,
"config": …, "request": …})`` with tuples of ``(attribute, value)`` or
``(attribute, operator, value)``.
"""

from __future__ import annotations

import contextlib
import functools
import threading
import time
import traceback
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone
from typing import Any

import radiusd

from rlm_cloudos.config import ModuleSettings
from rlm_cloudos.crypto import KeyRing
from rlm_cloudos.errors import BackendUnavailable, CloudOSError, DecryptError
from rlm_cloudos.log import RadLog
from rlm_cloudos.policy import Reason, Tenant, decide_access
from rlm_cloudos.policy.clients import Network, allowed, parse_networks
from rlm_cloudos.policy.types import REPLY_MESSAGES
from rlm_cloudos.radattrs import (BadAttribute, Update, accepted, delay_claimed, parse_access, parse_acct,
                                  rejected, to_dict)
from rlm_cloudos.store.access import AccessReader, Recent, Source
from rlm_cloudos.store.accounting import AccountingWriter
from rlm_cloudos.store.auth_log import AuthLogEntry, AuthLogWriter
from rlm_cloudos.store.authz import AuthzCache, AuthzFeed
from rlm_cloudos.store.clients import LogLimiter, NegativeCache, Suppressed
from rlm_cloudos.store.journal import AccountingJournal, open_journal
from rlm_cloudos.store.live import Live
from rlm_cloudos.store.notices import SubscriberChanged
from rlm_cloudos.store.pg import Database, NasRecord

log = RadLog(
    radiusd.radlog,
    {"info": radiusd.L_INFO, "auth": radiusd.L_AUTH, "warn": radiusd.L_WARN, "error": radiusd.L_ERR,
     "debug": radiusd.L_DBG, "acct": radiusd.L_ACCT},
)

Result = int | tuple[int, Update]


@dataclass
class Runtime:
    """Everything the hooks share: built once per radiusd process, closed at detach."""

    settings: ModuleSettings
    keyring: KeyRing
    db: Database
    auth_log: AuthLogWriter
    live: Live
    #: What authorize read, kept current by the cloudos_authz feed (None: turned off).
    authz: AuthzCache | None = None
    feed: AuthzFeed | None = None
    #: The accounting journal (None: each request waits for its own PostgreSQL commit).
    journal: AccountingJournal | None = None
    #: Last known NAS per source address, with the nas_generation it was read in: served from
    #: memory while the feed has announced no NAS change since, and while PostgreSQL is
    #: unreachable, so routers keep getting answers (a reject that says why) instead of silence.
    nas_seen: Recent[str, tuple[NasRecord, int]] = field(default_factory=lambda: Recent(100_000))
    #: Counts the feed's NAS changes (an N message, or a reconnected feed that may have missed one).
    nas_generation: int = field(default=0, init=False)
    #: Source addresses no NAS covers, for settings.unknown_client_seconds: a flood from them
    #: costs PostgreSQL one lookup per address per interval, not one per packet.
    unknown: NegativeCache = field(init=False)
    #: The unknown-client log line: once per address per interval, then a count.
    unknown_log: LogLimiter = field(init=False)
    #: settings.client_networks: the only addresses that may be clients (empty: all).
    client_networks: tuple[Network, ...] = field(init=False)
    #: authorize's one read path, over db, live and authz.
    reader: AccessReader = field(init=False)
    #: accounting's one write path: the journal, or PostgreSQL without one.
    accounting: AccountingWriter = field(init=False)

    def __post_init__(self) -> None:
        self.reader = AccessReader(self.db, self.live, self.authz, memory=max(self.settings.authz_cache_size, 10_000))
        self.accounting = AccountingWriter(self.db, self.journal, self.authz, log)
        self.unknown = NegativeCache(self.settings.unknown_client_seconds)
        self.unknown_log = LogLimiter(self.settings.unknown_client_seconds)
        self.client_networks = parse_networks(self.settings.client_networks)
        if self.authz is not None:
            # A NAS added with the CLI is announced (N): its address must not wait out the interval.
            self.authz.on_nas_change(self.unknown.forget_all)
            self.authz.on_nas_change(self._nas_changed)

    def _nas_changed(self) -> None:
        self.nas_generation += 1

    @classmethod
    def start(cls, section: dict[str, str] | None) -> Runtime:
        """Open everything the hooks need; raises (ConfigError, KeyRingError, OSError …) with
        whatever was opened so far closed again."""
        settings = ModuleSettings.load(section)
        keyring = KeyRing.load(settings.keyring)
        with contextlib.ExitStack() as undo:
            db = Database(
                settings.database_url,
                size=settings.pool_size,
                connect_timeout=settings.connect_timeout,
                statement_timeout_ms=settings.statement_timeout_ms,
            )
            db.open()
            undo.callback(db.close)
            live = Live(settings.redis_url, log, keyring=keyring)
            live.open()
            undo.callback(live.close)
            auth_log = AuthLogWriter(db, log)
            auth_log.open()
            undo.callback(auth_log.close)
            authz = feed = None
            if settings.authz_cache_size > 0:
                authz = AuthzCache(settings.authz_cache_size)
                feed = AuthzFeed(settings.database_url, authz, log, connect_timeout=settings.connect_timeout)
                feed.open()
                undo.callback(feed.close)
            journal = None
            if settings.acct_journal:
                # The drainer's own pool, and so its own breaker: a batch that runs into
                # statement_timeout (a slow database, not a dead one) must not make logins fail
                # fast, nor hold the connections authorize needs.
                journal_db = Database(
                    settings.database_url,
                    size=settings.acct_parallel,
                    connect_timeout=settings.connect_timeout,
                    statement_timeout_ms=settings.statement_timeout_ms,
                    name="rlm_cloudos_journal",
                )
                journal_db.open()
                undo.callback(journal_db.close)
                journal = open_journal(settings.acct_journal, journal_db, log, max_batch=settings.acct_batch,
                                       parallel=settings.acct_parallel,
                                       on_feed=authz.apply if authz is not None else None)
                if journal is None:
                    journal_db.close()
            rt = cls(settings, keyring, db, auth_log, live, authz=authz, feed=feed, journal=journal)
            undo.pop_all()  # from here on, close() closes them
        return rt

    def close(self) -> None:
        _log_suppressed(self.unknown_log.summary(time.monotonic(), final=True))
        if self.feed is not None:
            self.feed.close()
        if self.journal is not None:
            self.journal.close()
            self.journal.db.close()
        self.auth_log.close()
        self.db.close()
        self.live.close()


_lock = threading.Lock()
_runtime: Runtime | None = None


def runtime() -> Runtime:
    """The process's Runtime, built on first use (instantiate normally builds it)."""
    global _runtime
    if _runtime is None:
        with _lock:
            if _runtime is None:
                _runtime = Runtime.start(getattr(radiusd, "config", None))
    return _runtime


def _now() -> datetime:
    return datetime.now(timezone.utc)


def guarded(hook: str, on_error: Callable[[], Result]) -> Callable[[Callable[[Any], Result]], Callable[[Any], Result]]:
    """Catch everything at the radiusd boundary: one log line, then ``on_error()``."""

    def wrap(fn: Callable[[Any], Result]) -> Callable[[Any], Result]:
        @functools.wraps(fn)
        def hooked(p: Any) -> Result:
            try:
                return fn(p)
            except Exception as exc:
                user = None
                try:
                    user = to_dict(p.get("request") if isinstance(p, dict) else p).get("User-Name")
                except Exception:
                    pass
                # Our own errors say how loud they are and may be quoted; anything else is a defect,
                # logged at error without its text (a foreign exception may hold a DSN).
                ours = isinstance(exc, CloudOSError)
                log(exc.level if isinstance(exc, CloudOSError) else "error", hook=hook, user=user,
                    error=type(exc).__name__, detail=str(exc) if ours else None)
                log.lines("debug", traceback.format_exc())
                return on_error()

        return hooked

    return wrap


def _request(p: Any) -> Any:
    return p.get("request") if isinstance(p, dict) else p


# --------------------------------------------------------------------------- hooks


def instantiate(p: Any) -> int:
    """Build the runtime; a bad configuration or key ring stops radiusd from starting (returns -1)."""
    try:
        rt = runtime()
    except Exception as exc:
        radiusd.radlog(radiusd.L_ERR, f"rlm_cloudos: instantiate failed: {type(exc).__name__}: {exc}")
        return -1
    import psycopg

    log("info", hook="instantiate", pool_size=rt.settings.pool_size,
        acct_journal=str(rt.journal.directory) if rt.journal is not None else None,
        authz_cache_size=rt.settings.authz_cache_size, keys=len(rt.keyring.keys),
        active_key=rt.keyring.active, psycopg=f"{psycopg.__version__}/{psycopg.pq.__impl__}")
    return 0


def detach(p: Any = None) -> int:
    global _runtime
    if _runtime is not None:
        _runtime.close()
        _runtime = None
    return radiusd.RLM_MODULE_OK


@guarded("authorize", lambda: rejected(Reason.INTERNAL_ERROR))
def authorize(p: Any) -> Result:
    """Decide on status, plan, expiry and MAC; on accept hand pap/chap/mschap the cleartext password."""
    req = parse_access(_request(p))
    if isinstance(req, BadAttribute):
        log("auth", hook="authorize", reason=Reason.BAD_REQUEST.value, attribute=req.attribute, problem=req.problem,
            user=to_dict(_request(p)).get("User-Name"))
        return rejected(Reason.BAD_REQUEST, f"{req.attribute} {req.problem}")
    rt = runtime()
    now = _now()
    try:
        read = rt.reader.read(req, now)
    except BackendUnavailable as exc:
        log("error", hook="authorize", user=req.user_name, reason=Reason.BACKEND_UNAVAILABLE.value, detail=str(exc))
        return rejected(Reason.BACKEND_UNAVAILABLE)
    if read is None:
        log("auth", hook="authorize", user=req.user_name, nas=req.nas_address, reason=Reason.UNKNOWN_NAS.value)
        return rejected(Reason.UNKNOWN_NAS)
    if read.degraded:
        log("warn", hook="authorize", user=req.user_name, event="served_from_snapshot", source=read.source.value,
            age=f"{read.age:.0f}s", detail=read.failure)
    ctx = read.context

    decision = decide_access(ctx.tenant, ctx.subscriber, req.calling_station_id, now, ctx.usage, ctx.sessions)
    if (not decision.accepted and read.source is Source.CACHE and ctx.subscriber is not None
            and decision.reason is not Reason.THROTTLED):
        # A refusal from memory is confirmed by PostgreSQL before it is sent: an operator's fix (a renew,
        # a resume, a new plan) may have committed an instant before its notification reached this
        # cache, and the subscriber redials at once. A refused subscriber costs a read per attempt, as
        # before the cache; PostgreSQL out of reach leaves the refusal as it was. Not a lockout: that
        # is what a password guesser gets, and it stays free.
        try:
            again = rt.reader.read(req, now, fresh=True)
        except BackendUnavailable:
            again = None
        if again is not None:
            read, ctx = again, again.context
            decision = decide_access(ctx.tenant, ctx.subscriber, req.calling_station_id, now, ctx.usage,
                                     ctx.sessions)
    if decision.reason is Reason.THROTTLED:
        log("auth", hook="authorize", tenant=ctx.tenant.slug, user=req.user_name, reason=decision.reason.value,
            locked_until=ctx.subscriber.locked_until.isoformat() if ctx.subscriber and ctx.subscriber.locked_until
            else None)
    entry = AuthLogEntry(
        at=now,
        tenant_id=ctx.tenant.id,
        nas_id=ctx.nas_id,
        subscriber_id=ctx.subscriber.id if ctx.subscriber is not None else None,
        username=req.user_name,
        outcome=decision.outcome.value,
        reason=decision.reason.value,
        auth_method=req.auth_method,
        calling_station_id=req.calling_station_id,
        nas_port_id=req.nas_port_id,
        nas_port_type=req.nas_port_type,
        framed_ip=req.framed_ip,
        walled_garden=decision.walled_garden,
    )
    if not decision.accepted:
        log("auth", hook="authorize", tenant=ctx.tenant.slug, nas=ctx.nas_name, user=req.user_name,
            reason=decision.reason.value, mac=req.calling_station_id)
        rt.auth_log.add(entry)
        # For unlang and the debug log: who refused, and why.
        tags = [("CloudOS-Decision", decision.outcome.value), ("CloudOS-Reason", decision.reason.value),
                ("CloudOS-Tenant", ctx.tenant.slug), ("CloudOS-Tenant-Id", str(ctx.tenant.id)),
                ("CloudOS-NAS-Id", str(ctx.nas_id))]
        if ctx.subscriber is not None:
            tags.append(("CloudOS-Subscriber-Id", str(ctx.subscriber.id)))
        return rejected(decision.reason, decision=decision, tags=tags)

    assert ctx.password_enc is not None  # an accepted subscriber exists
    try:
        # Sealed to (tenant, username): a ciphertext copied from another row does not open.
        password = rt.keyring.open_password(ctx.password_enc, ctx.tenant.id, req.user_name)
    except DecryptError as exc:
        log("error", hook="authorize", tenant=ctx.tenant.slug, user=req.user_name, reason="undecryptable_password",
            detail=str(exc))
        return rejected(Reason.INTERNAL_ERROR)
    # Written as an accept unless post-auth says pap/chap/mschap refused the password. The held
    # row carries everything post_auth needs: the control list gets only its id (every
    # attribute handed back costs radiusd a conversion).
    return accepted(decision, password, rt.auth_log.hold(entry))


@guarded("post_auth", lambda: radiusd.RLM_MODULE_NOOP)
def post_auth(p: Any) -> Result:
    """Post-Auth-Type REJECT of a login authorize accepted (control:CloudOS-Log-Id names its held
    auth-log row): pap/chap/mschap refused the password. Log it as wrong_password, count the
    failure, lock out at the tenant's limit. Anything else is NOOP: authorize logged its own rejects."""
    config = to_dict(p.get("config") if isinstance(p, dict) else ())
    log_id = _int(config.get("CloudOS-Log-Id"))
    if config.get("Post-Auth-Type", "").lower() != "reject" or log_id is None:
        return radiusd.RLM_MODULE_NOOP
    reason = Reason.WRONG_PASSWORD
    rt = runtime()
    refused = rt.auth_log.refuse(log_id, reason.value)
    if refused is None:
        log("error", hook="post_auth", user=to_dict(_request(p)).get("User-Name"), reason=reason.value,
            event="auth_log_row_unknown", log_id=log_id)
    else:
        accept, late = refused
        tid = accept.tenant_id
        tenant = rt.reader.tenant(tid) or Tenant(id=tid, slug=str(tid))
        if late:
            log("warn", hook="post_auth", tenant=tenant.slug, user=accept.username, event="late_refusal",
                detail="the held accept was already written; this reject follows it in the auth log")
        count = rt.live.record_failure(tid, accept.username, tenant.login_fail_window_seconds)
        log("auth", hook="post_auth", tenant=tenant.slug, user=accept.username, reason=reason.value,
            method=accept.auth_method, mac=accept.calling_station_id, failed_logins=count or None)
        if count >= tenant.login_fail_limit and accept.subscriber_id is not None:
            _lock_out(rt, tenant, accept.subscriber_id, accept.username, count)
    return radiusd.RLM_MODULE_UPDATED, {
        "reply": (("Reply-Message", ":=", REPLY_MESSAGES[reason]),),
        "request": (("Module-Failure-Message", "+=", f"cloudos: {reason.value}"),),
    }


def _lock_out(rt: Runtime, tenant: Tenant, subscriber_id: int, username: str, count: int) -> None:
    """Too many wrong passwords: refuse the subscriber until the tenant's lockout has passed."""
    until = _now() + timedelta(seconds=tenant.login_lockout_seconds)
    try:
        rt.db.lock_subscriber(subscriber_id, until)
    except BackendUnavailable as exc:
        log("error", hook="post_auth", tenant=tenant.slug, user=username, event="lock_failed", detail=str(exc))
        return
    if rt.authz is not None:
        rt.authz.apply_message(SubscriberChanged(subscriber_id))  # the trigger says so too, a moment later
    log("auth", hook="post_auth", tenant=tenant.slug, user=username, event="locked_out",
        failed_logins=count, seconds=tenant.login_lockout_seconds)


def _int(text: str | None) -> int | None:
    try:
        return int(text) if text else None
    except ValueError:
        return None


@guarded("accounting", lambda: radiusd.RLM_MODULE_FAIL)
def accounting(p: Any) -> Result:
    """Store one Accounting-Request; OK only once it is durable (in the journal, or else committed
    to PostgreSQL), FAIL (no response: the NAS retransmits, or the detail spool takes it) otherwise."""
    rt = runtime()
    bound = rt.settings.acct_max_delay
    req = parse_acct(_request(p), bound)
    if isinstance(req, BadAttribute):
        # Acknowledged so the NAS stops resending what can never be stored; the log keeps it.
        attrs = to_dict(_request(p))
        log("warn", hook="accounting", event="malformed", attribute=req.attribute, problem=req.problem,
            user=attrs.get("User-Name"), session=attrs.get("Acct-Session-Id"), status=attrs.get("Acct-Status-Type"))
        return radiusd.RLM_MODULE_OK
    if req.delay == bound and (claimed := delay_claimed(_request(p))) is not None and claimed > bound:
        log("warn", hook="accounting", event="acct_delay_clamped", nas=req.nas_address, user=req.user_name or None,
            session=req.acct_session_id or None, status=req.status, delay=claimed, used=bound)
    try:
        rt.accounting.store(req)  # journaled, applied, or refused for its data (logged whole)
    except OSError as exc:
        log("error", hook="accounting", event="journal_write_failed", user=req.user_name,
            session=req.acct_session_id, status=req.status, detail=str(exc))
        return radiusd.RLM_MODULE_FAIL
    except BackendUnavailable as exc:
        log("error", hook="accounting", user=req.user_name, session=req.acct_session_id, status=req.status,
            reason=Reason.BACKEND_UNAVAILABLE.value, detail=str(exc))
        return radiusd.RLM_MODULE_FAIL
    return radiusd.RLM_MODULE_OK


@guarded("lookup_client", lambda: radiusd.RLM_MODULE_FAIL)
def lookup_client(p: Any) -> Result:
    """dynamic_clients: turn the NAS row covering the source address into a FreeRADIUS client."""
    address = to_dict(_request(p)).get("CloudOS-NAS-Address", "")
    rt = runtime()
    now = time.monotonic()
    if rt.client_networks and not allowed(address, rt.client_networks):
        _unknown(rt, address, now, "outside_client_networks")
        return radiusd.RLM_MODULE_NOTFOUND
    if rt.unknown.refused(address, now):
        _unknown(rt, address, now)
        return radiusd.RLM_MODULE_NOTFOUND
    seen = rt.nas_seen.get(address)
    if seen is not None and rt.authz is not None and seen[1] == rt.nas_generation:
        # FreeRADIUS runs this lookup in its network thread (src/main/listen.c,
        # client_listener_find): while it waits, radiusd reads no packet at all. A NAS it has
        # read, with no change announced since, is answered from memory, so a client's lifetime
        # running out costs no round trip, and a PostgreSQL gone silent stalls no one.
        nas = seen[0]
    else:
        generation = rt.nas_generation
        token = rt.unknown.begin()
        try:
            found = rt.db.lookup_nas(address)
        except BackendUnavailable as exc:
            log("error", hook="lookup_client", address=address, reason=Reason.BACKEND_UNAVAILABLE.value,
                served_from="last_known" if seen else None, detail=str(exc))
            if seen is None:
                return radiusd.RLM_MODULE_FAIL
            nas = seen[0]
        else:
            if found is None:
                rt.nas_seen.pop(address)
                rt.unknown.refuse(address, token, now)
                _unknown(rt, address, now)
                return radiusd.RLM_MODULE_NOTFOUND
            nas = found
            rt.nas_seen.put(address, (nas, generation))
    secret = rt.keyring.decrypt(nas.secret_enc, "nas.secret")
    family = "FreeRADIUS-Client-IPv6-Address" if ":" in address else "FreeRADIUS-Client-IP-Address"
    log("info", hook="lookup_client", event="client_added", tenant=nas.tenant, nas=nas.name, address=address)
    return radiusd.RLM_MODULE_OK, {
        "config": (
            (family, ":=", address),
            ("FreeRADIUS-Client-Secret", ":=", secret),
            ("FreeRADIUS-Client-Shortname", ":=", f"{nas.tenant}/{nas.name}"),
            ("FreeRADIUS-Client-NAS-Type", ":=", "other"),
            ("FreeRADIUS-Client-Require-MA", ":=", "yes"),
        )
    }


def _unknown(rt: Runtime, address: str, now: float, reason: str | None = None) -> None:
    """Log a packet from an address that is no NAS: the first from each address in an interval,
    and after each interval a count of those held back (a flood must not grow the log per packet)."""
    _log_suppressed(rt.unknown_log.summary(now))
    if rt.unknown_log.allow(address, now):
        log("auth", hook="lookup_client", event="unknown_nas", address=address, reason=reason)


def _log_suppressed(held: Suppressed | None) -> None:
    if held is not None:
        log("warn", hook="lookup_client", event="unknown_nas_suppressed", lines=held.lines, addresses=held.keys,
            seconds=f"{held.seconds:.0f}")
