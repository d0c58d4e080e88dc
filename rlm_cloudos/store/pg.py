"""The hot path's PostgreSQL: a bounded psycopg pool and one statement per hook."""

from __future__ import annotations

import queue
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import psycopg
from psycopg_pool import ConnectionPool, PoolTimeout

from rlm_cloudos.errors import BackendUnavailable
from rlm_cloudos.radattrs import AcctRequest
from rlm_cloudos.store import sql
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


class Database:
    """A psycopg pool whose every wait is bounded: radiusd must never hang on a dead database."""

    #: After a failure, fail fast for this long instead of making every request wait
    #: out the connect timeout (a dead database must not tie up radiusd's threads).
    BREAKER_SECONDS = 1.0

    def __init__(self, url: str, *, size: int = 4, connect_timeout: int = 2, statement_timeout_ms: int = 2000) -> None:
        self._down_until = 0.0
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
                "application_name": "rlm_cloudos",
            },
            check=ConnectionPool.check_connection,
            name="rlm_cloudos",
        )

    def open(self) -> None:
        """Start the pool without waiting: radiusd starts even while PostgreSQL is down."""
        self.pool.open(wait=False)

    def close(self) -> None:
        self.pool.close(timeout=2)

    def _run(self, query: str, params: Any, fetch: Callable[[psycopg.Cursor[Any]], Any]) -> Any:
        if time.monotonic() < self._down_until:
            raise BackendUnavailable("PostgreSQL failed moments ago; failing fast")
        try:
            with self.pool.connection() as conn:
                with conn.cursor() as cur:
                    cur.execute(query, params, prepare=True)
                    return fetch(cur)
        except PoolTimeout as exc:
            self._down_until = time.monotonic() + self.BREAKER_SECONDS
            raise BackendUnavailable("no PostgreSQL connection within the connect timeout") from exc
        except psycopg.OperationalError as exc:
            self._down_until = time.monotonic() + self.BREAKER_SECONDS
            first = str(exc).strip().splitlines()[0] if str(exc).strip() else ""
            raise BackendUnavailable(f"PostgreSQL: {type(exc).__name__}: {first}") from exc

    def access_context(self, nas_address: str, username: str, mac: str | None, now: datetime) -> AccessContext | None:
        """Everything authorize needs for ``username`` behind ``nas_address`` at ``now`` (live sessions
        other than one from ``mac`` counted); None if no NAS covers the address."""
        params = {"nas_address": nas_address, "username": username, "mac": mac, "now": now}
        row = self._run(sql.AUTHORIZE, params, lambda c: c.fetchone())
        return None if row is None else access_context(row, username)

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


@dataclass(frozen=True, slots=True)
class AuthLogEntry:
    at: datetime
    tenant_id: int
    nas_id: int | None
    subscriber_id: int | None
    username: str
    outcome: str
    reason: str
    auth_method: str | None
    calling_station_id: str | None
    nas_port_id: str | None
    nas_port_type: str | None
    framed_ip: str | None
    walled_garden: bool


class AuthLogWriter:
    """Writes auth-log rows in batches from a background thread, off the request path.

    ``add`` never blocks: when PostgreSQL is slow the queue absorbs up to
    ``capacity`` rows, and beyond that rows are counted as dropped and logged.
    """

    def __init__(self, db: Database, log: Callable[..., None], *, capacity: int = 100_000, batch: int = 500) -> None:
        self._db = db
        self._log = log
        self._q: queue.Queue[AuthLogEntry | None] = queue.Queue(maxsize=capacity)
        self._batch = batch
        self.dropped = 0
        self._thread = threading.Thread(target=self._run, name="cloudos-authlog", daemon=True)
        self._thread.start()

    def add(self, entry: AuthLogEntry) -> None:
        try:
            self._q.put_nowait(entry)
        except queue.Full:
            self.dropped += 1
            if self.dropped % 1000 == 1:
                self._log("error", hook="post_auth", event="auth_log_full", dropped=self.dropped)

    def close(self, timeout: float = 3.0) -> None:
        self._q.put(None)
        self._thread.join(timeout)

    def _run(self) -> None:
        stop = False
        while not stop:
            first = self._q.get()
            if first is None:
                break
            rows = [first]
            while len(rows) < self._batch:
                try:
                    item = self._q.get(timeout=0.05)
                except queue.Empty:
                    break
                if item is None:
                    stop = True
                    break
                rows.append(item)
            self._flush(rows)

    def _flush(self, rows: list[AuthLogEntry]) -> None:
        params = [
            (r.at, r.tenant_id, r.nas_id, r.subscriber_id, r.username, r.outcome, r.reason, r.auth_method,
             r.calling_station_id, r.nas_port_id, r.nas_port_type, r.framed_ip, r.walled_garden)
            for r in rows
        ]
        for attempt in range(3):
            try:
                with self._db.pool.connection() as conn:
                    with conn.cursor() as cur:
                        cur.executemany(sql.INSERT_AUTH_LOG, params)
                return
            except Exception as exc:  # retried, then counted: the auth log must not block logins
                err = exc
                threading.Event().wait(0.5 * (attempt + 1))
        self.dropped += len(rows)
        self._log("error", hook="post_auth", event="auth_log_write_failed", rows=len(rows), error=type(err).__name__)
