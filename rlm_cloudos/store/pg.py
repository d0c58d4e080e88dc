"""The hot path's PostgreSQL: a bounded psycopg pool and one statement per hook."""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import psycopg
from psycopg_pool import ConnectionPool, PoolTimeout

from rlm_cloudos.errors import BackendUnavailable, Conflict, StatementRefused
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


def _first_line(exc: BaseException) -> str:
    text = str(exc).strip()
    return text.splitlines()[0] if text else ""


class Database(Service):
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
            # No check on every checkout: it would cost a round trip per request. A
            # connection that died meanwhile fails its statement and is retried once
            # on another (_run), and the pool replaces it in the background.
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
        for attempt in (1, 2):
            conn = None
            try:
                with self.pool.connection() as conn:
                    with conn.cursor() as cur:
                        cur.execute(query, params, prepare=True)
                        return fetch(cur)
            except psycopg.errors.TransactionRollback as exc:
                # A deadlock with another radiusd's batch: nothing wrong with the data or the server.
                raise Conflict(f"PostgreSQL rolled it back: {type(exc).__name__}: {_first_line(exc)}") from exc
            except PoolTimeout as exc:
                self._down_until = time.monotonic() + self.BREAKER_SECONDS
                raise BackendUnavailable("no PostgreSQL connection within the connect timeout") from exc
            except psycopg.OperationalError as exc:
                if attempt == 1 and conn is not None and conn.closed:
                    continue  # a pooled connection that died (server restarted): once more on another
                self._down_until = time.monotonic() + self.BREAKER_SECONDS
                raise BackendUnavailable(f"PostgreSQL: {type(exc).__name__}: {_first_line(exc)}") from exc
            except psycopg.Error as exc:
                # Bad data, a constraint: the same input will fail the same way every time.
                raise StatementRefused(f"PostgreSQL refused it: {type(exc).__name__}: {_first_line(exc)}") from exc
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
