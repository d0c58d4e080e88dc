"""The hot path's PostgreSQL: a bounded psycopg pool and one statement per hook."""

from __future__ import annotations

import contextlib
import itertools
import os
import socket
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import psycopg
from psycopg_pool import ConnectionPool, PoolTimeout

from rlm_cloudos.errors import BackendUnavailable, Conflict, StatementRefused, StatementTimedOut
from rlm_cloudos.requests import AcctRequest
from rlm_cloudos.store import sql
from rlm_cloudos.store.lifecycle import Service
from rlm_cloudos.store.rows import AccessContext, access_context


@dataclass(frozen=True, slots=True)
class NasRecord:
    id: int
    name: str
    tenant: str
    secret_enc: bytes
    tenant_id: int = 0


@dataclass(frozen=True, slots=True)
class AcctResult:
    result: str
    tenant_id: int | None
    subscriber_id: int | None
    d_in: int
    d_out: int
    d_time: int
    #: What changed for authorize, as announced on the cloudos_authz channel (None: nothing).
    feed: str | None = None


#: SQLSTATE classes that say the statement's data is wrong (22 data exception, 23 integrity
#: constraint violation): the only errors retrying the same input cannot cure.
_DATA_CLASSES = frozenset({"22", "23"})

#: The server gave up waiting: statement_timeout (57014 query_canceled) or lock_timeout (55P03).
_TIMEOUT_STATES = frozenset({"57014", "55P03"})


def sever(conn: psycopg.Connection[Any]) -> None:
    """Shut down ``conn``'s socket, so a thread waiting on it gets an OperationalError now."""
    try:
        dup = socket.socket(fileno=os.dup(conn.pgconn.socket))
    except (OSError, psycopg.Error):
        return  # already closed
    try:
        dup.shutdown(socket.SHUT_RDWR)  # acts on the socket itself, which the dup shares with libpq
    except OSError:
        pass
    finally:
        dup.close()


def _first_line(exc: BaseException) -> str:
    text = str(exc).strip()
    return text.splitlines()[0] if text else ""


class Database(Service):
    """A psycopg pool whose every wait is bounded: radiusd must never hang on a dead database."""

    #: After a failure, fail fast for this long instead of making every request wait
    #: out the connect timeout (a dead database must not tie up radiusd's threads).
    BREAKER_SECONDS = 1.0

    #: How often the watchdog looks for round trips past their bound.
    WATCHDOG_SECONDS = 0.2

    def __init__(self, url: str, *, size: int = 4, connect_timeout: int = 2, statement_timeout_ms: int = 2000,
                 name: str = "rlm_cloudos") -> None:
        self._down_until = 0.0
        #: Set by a failure, cleared by the next statement that succeeds: while set, one statement
        #: at a time (holding _probe) may try, and the others fail fast.
        self._suspect = False
        self._probe = threading.Lock()
        # statement_timeout is the server's: it cannot end a wait on a server, a PgBouncer or a
        # network that accepted the connection and then stopped answering. The socket then stays
        # open and silent (the peer's kernel answers TCP keepalives), and libpq waits on it for
        # ever, holding a rlm_python3 lane (tests/e2e/test_blackhole.py showed authorize hung
        # until PostgreSQL answered again). So every round trip also has a bound of its own,
        # kept by a watchdog thread that shuts down the socket of one that outlives it.
        self.round_trip_bound = statement_timeout_ms / 1000 + 1.0
        self._busy: dict[int, tuple[float, psycopg.Connection[Any]]] = {}
        self._tokens = itertools.count()
        self._watchdog_stop = threading.Event()
        self._watchdog: threading.Thread | None = None
        self.pool = ConnectionPool(
            url,
            min_size=1,
            max_size=size,
            open=False,
            timeout=connect_timeout,
            reconnect_timeout=0,  # keep trying forever in the background
            kwargs={
                "connect_timeout": connect_timeout,
                "options": f"-c statement_timeout={statement_timeout_ms} -c lock_timeout={statement_timeout_ms}",
                "autocommit": True,
                "application_name": name,
                # A host that lost power or a firewall that dropped the flow sends no RST: without
                # these an idle pooled connection looks alive for the kernel's ~15 minutes.
                "keepalives": 1,
                "keepalives_idle": 5,
                "keepalives_interval": 2,
                "keepalives_count": 3,
                "tcp_user_timeout": int((statement_timeout_ms / 1000 + 1.0) * 1000),
            },
            # No check on every checkout: it would cost a round trip per request. A
            # connection that died meanwhile fails its statement and is retried once
            # on another (_run), and the pool replaces it in the background.
            name=name,
        )

    def open(self) -> None:
        """Start the pool without waiting: radiusd starts even while PostgreSQL is down."""
        self.pool.open(wait=False)
        self._watchdog = threading.Thread(target=self._watch, name="cloudos-pg-watchdog", daemon=True)
        self._watchdog.start()

    def close(self) -> None:
        self.pool.close(timeout=2)
        self._watchdog_stop.set()
        if self._watchdog is not None:
            self._watchdog.join(2)

    @contextlib.contextmanager
    def watched(self, conn: psycopg.Connection[Any]) -> Iterator[None]:
        """Bound what runs inside on ``conn`` by ``round_trip_bound``: past it, the watchdog severs
        ``conn`` and the wait ends in an OperationalError."""
        token = next(self._tokens)
        self._busy[token] = (time.monotonic() + self.round_trip_bound, conn)
        try:
            yield
        finally:
            self._busy.pop(token, None)

    def _watch(self) -> None:
        while not self._watchdog_stop.wait(self.WATCHDOG_SECONDS):
            now = time.monotonic()
            for token, (deadline, conn) in list(self._busy.items()):
                if deadline <= now and self._busy.pop(token, None) is not None:
                    sever(conn)

    def _run(self, query: str, params: Any, fetch: Callable[[psycopg.Cursor[Any]], Any]) -> Any:
        if time.monotonic() < self._down_until:
            raise BackendUnavailable("PostgreSQL failed moments ago; failing fast")
        # Half-open: after a failure, one request at a time finds out whether PostgreSQL is back.
        # Were every lane to try at once, each would wait out the round-trip bound on a silent
        # server, and the requests queued behind them would hold radiusd's threads (Status-Server
        # and the tenants served from memory would wait too).
        probing = self._suspect
        if probing and not self._probe.acquire(blocking=False):
            raise BackendUnavailable("PostgreSQL failed moments ago; another request is finding out if it is back")
        try:
            result = self._attempt(query, params, fetch)
        except BackendUnavailable as exc:
            if not isinstance(exc, Conflict):
                self._suspect = True
            raise
        finally:
            if probing:
                self._probe.release()
        self._suspect = False
        return result

    def _attempt(self, query: str, params: Any, fetch: Callable[[psycopg.Cursor[Any]], Any]) -> Any:
        for attempt in (1, 2):
            conn = None
            started = time.monotonic()
            try:
                with self.pool.connection() as conn:
                    started = time.monotonic()
                    with self.watched(conn), conn.cursor() as cur:
                        cur.execute(query, params, prepare=True)
                        return fetch(cur)
            except psycopg.errors.TransactionRollback as exc:
                # A deadlock with another radiusd's batch: nothing wrong with the data or the server.
                raise Conflict(f"PostgreSQL rolled it back: {type(exc).__name__}: {_first_line(exc)}") from exc
            except PoolTimeout as exc:
                self._down_until = time.monotonic() + self.BREAKER_SECONDS
                raise BackendUnavailable("no PostgreSQL connection within the connect timeout") from exc
            except psycopg.OperationalError as exc:
                severed = time.monotonic() - started >= self.round_trip_bound
                if attempt == 1 and conn is not None and conn.closed and not severed:
                    # A pooled connection that died (server restarted): once more on another. Not
                    # one the watchdog severed: the next would likely make the NAS wait as long.
                    continue
                self._down_until = time.monotonic() + self.BREAKER_SECONDS
                if exc.sqlstate in _TIMEOUT_STATES:
                    raise StatementTimedOut(f"PostgreSQL gave up on it: {type(exc).__name__} "
                                            f"(SQLSTATE {exc.sqlstate}): {_first_line(exc)}") from exc
                if severed:
                    raise StatementTimedOut(f"PostgreSQL did not answer within {self.round_trip_bound:g}s") from exc
                raise BackendUnavailable(f"PostgreSQL: {type(exc).__name__}: {_first_line(exc)}") from exc
            except psycopg.Error as exc:
                if (exc.sqlstate or "")[:2] in _DATA_CLASSES:
                    # Bad data, a constraint: the same input will fail the same way every time.
                    raise StatementRefused(f"PostgreSQL refused it: {type(exc).__name__}: {_first_line(exc)}") from exc
                # Anything else is the server's state, not the record's: a read-only database during a
                # failover (25006), a missing grant (42501), a function not yet migrated (42883), an
                # internal error (XX000). Refused, a record would be dropped after the NAS was answered;
                # unavailable, the journal keeps it and retries until the server takes it.
                raise BackendUnavailable(f"PostgreSQL cannot take it now: {type(exc).__name__} "
                                         f"(SQLSTATE {exc.sqlstate}): {_first_line(exc)}") from exc
        raise AssertionError("unreachable")

    def access_context(self, nas_address: str, username: str, now: datetime) -> AccessContext | None:
        """Everything authorize needs for ``username`` behind ``nas_address`` at ``now``; None if no
        NAS covers the address. Raises BackendUnavailable."""
        params = {"nas_address": nas_address, "username": username, "now": now}
        row = self._run(sql.AUTHORIZE, params, lambda c: c.fetchone())
        return None if row is None else access_context(row, username)

    def lock_subscriber(self, subscriber_id: int, until: datetime) -> None:
        """Refuse the subscriber's logins until ``until`` (too many wrong passwords)."""
        self._run(sql.LOCK_SUBSCRIBER, {"id": subscriber_id, "until": until}, lambda c: None)

    def lookup_nas(self, nas_address: str) -> NasRecord | None:
        """The NAS whose address or network contains ``nas_address``, or None."""
        row = self._run(sql.LOOKUP_NAS, {"nas_address": nas_address}, lambda c: c.fetchone())
        return None if row is None else NasRecord(row[0], row[1], row[2], bytes(row[3]), row[4])

    def account(self, req: AcctRequest) -> AcctResult:
        """Apply one Accounting-Request idempotently (cloudos_account in the schema)."""
        params = {
            "nas_address": req.nas_address,
            "uid": req.acct_unique_id,
            "status": req.status,
            "username": req.user_name,
            "acct_session_id": req.acct_session_id,
            "delay": req.delay,
            "input": req.input_octets,
            "output": req.output_octets,
            "time": req.session_time,
            "framed_ip": req.framed_ip,
            "calling": req.calling_station_id,
            "nas_port_id": req.nas_port_id,
            "cause": req.terminate_cause,
        }
        row = self._run(sql.ACCOUNT, params, lambda c: c.fetchone())
        return AcctResult(*row)

    def account_journal(self, records: list[bytes], now: float) -> list[tuple[int, str, str | None]]:
        """Apply accounting journal records in order in one statement and one transaction
        (cloudos_account_journal): all of them, or none (the error says why). ``now`` is the clock
        the records' receive times were read from. Returns (position from 1, result, feed) for each
        record whose result is not ok or whose feed this radiusd should apply itself."""
        payload = (b"[" + b",".join(records) + b"]").decode("utf-8")
        rows: list[tuple[int, str, str | None]] = self._run(sql.ACCOUNT_JOURNAL, {"records": payload, "now": now},
                                                             lambda c: c.fetchall())
        return rows

    def journal_status(self, node: str, caught_up: float, now: float) -> None:
        """Record that the journal of ``node`` is applied up to ``caught_up`` (``now``'s clock, epoch
        seconds): what the reaper waits for (schema 0011). Raises BackendUnavailable."""
        self._run(sql.JOURNAL_STATUS, {"node": node, "caught_up": caught_up, "now": now}, lambda c: None)

    def journal_closed(self, node: str) -> None:
        """Forget ``node``'s journal status: it closed with nothing waiting. Raises BackendUnavailable."""
        self._run(sql.JOURNAL_CLOSED, {"node": node}, lambda c: None)
