"""`cloudos worker`: sends queued CoA and Disconnect requests and reaps stale sessions.

Off the request thread by design: radiusd (accounting crossing a quota) and the
CLI (suspend, disconnect) only insert rows into coa_outbox and NOTIFY
cloudos_coa; the worker claims due rows with SKIP LOCKED (several workers may
run), sends each to the session's NAS, and records the outcome: ACK, NAK with
its Error-Cause, or timeout after retries with exponential backoff.
"""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass
from datetime import datetime, timezone
from typing import Any

import psycopg
from sqlalchemy import Connection, create_engine
from sqlalchemy.exc import DBAPIError
from sqlalchemy.pool import NullPool

from cloudos.context import sqlalchemy_url
from cloudos.store import coa as outbox
from cloudos.store import sessions
from rlm_cloudos import coa
from rlm_cloudos.crypto import KeyRing
from rlm_cloudos.log import fields

log = logging.getLogger("cloudos.worker")

#: Attempts before a request is recorded as timed out; waits between them grow 1, 2, 4, 8 s.
MAX_ATTEMPTS = 5
REAP_EVERY = 60.0


@dataclass
class Outcome:
    sent: int = 0
    acked: int = 0
    naked: int = 0
    timed_out: int = 0
    retrying: int = 0
    failed: int = 0
    reaped: int = 0


def _target(nas_address: str | None, nas_network: Any) -> str:
    """Where the NAS listens: the address its accounting came from, else its registered host address."""
    if nas_address:
        return nas_address
    return str(nas_network.network_address if hasattr(nas_network, "network_address") else nas_network).split("/")[0]


def process_due(conn: Connection, keyring: KeyRing, *, limit: int = 50, timeout: float = 2.0,
                max_attempts: int = MAX_ATTEMPTS) -> Outcome:
    """Send every due request once on an autocommit connection; returns what happened."""
    out = Outcome()
    outbox.fail_orphans(conn)
    rows = outbox.claim(conn, limit)
    for (cid, kind, attributes, attempts, reason, nas_address, nas_network, port, secret_enc, nas_name) in rows:
        code = coa.Code.COA_REQUEST if kind == "coa" else coa.Code.DISCONNECT_REQUEST
        host = _target(nas_address, nas_network)
        try:
            secret = keyring.decrypt(secret_enc, "nas.secret")
            answer = coa.send(host, port, code, attributes, secret, timeout=timeout)
        except Exception as exc:  # one bad row (CoaError, DecryptError, OSError, …) must not stop the worker
            out.failed += 1
            outbox.settle(conn, cid, "failed", f"{type(exc).__name__}: {exc}")
            log.error(fields(event="coa_failed", id=cid, kind=kind, nas=nas_name, error=type(exc).__name__,
                             detail=str(exc)))
            continue
        out.sent += 1
        user = attributes.get("User-Name")
        if answer is None:
            if attempts >= max_attempts:
                out.timed_out += 1
                outbox.settle(conn, cid, "timeout", f"no answer from {host}:{port} after {attempts} attempts")
                log.warning(fields(event="coa_timeout", id=cid, kind=kind, nas=nas_name, user=user, attempts=attempts))
            else:
                out.retrying += 1
                outbox.note(conn, cid, f"no answer from {host}:{port} (attempt {attempts})")
                log.info(fields(event="coa_retry", id=cid, kind=kind, nas=nas_name, user=user, attempt=attempts))
            continue
        status = "ack" if answer.acked else "nak"
        if answer.acked:
            out.acked += 1
        else:
            out.naked += 1
        outbox.settle(conn, cid, status, answer.describe())
        log.info(fields(event=f"coa_{status}", id=cid, kind=kind, reason=reason, nas=nas_name, user=user,
                        session=attributes.get("Acct-Session-Id"), result=answer.describe()))
    return out


def reap(conn: Connection, now: datetime) -> tuple[int, int]:
    """Close stale sessions and purge old closed ones as of ``now``; returns (reaped, purged)."""
    return sessions.reap(conn, now)


def _driver_error(exc: DBAPIError | psycopg.Error) -> psycopg.Error | None:
    """The psycopg error behind ``exc`` (SQLAlchemy wraps what its statements raise), or None."""
    if isinstance(exc, psycopg.Error):
        return exc
    return exc.orig if isinstance(exc.orig, psycopg.Error) else None


def run(url: str, keyring: KeyRing, *, once: bool = False, poll: float = 1.0, timeout: float = 2.0,
        max_attempts: int = MAX_ATTEMPTS) -> Outcome:
    """Serve the outbox until interrupted (or one pass with ``once``); reconnects when PostgreSQL drops.
    With ``once``, a PostgreSQL failure is raised as the psycopg error it is."""
    total = Outcome()
    last_reap = 0.0
    # NullPool: every (re)connection is a fresh one, as a dropped server needs; autocommit, so each
    # claim and settle commits on its own and LISTEN hears NOTIFYs between statements.
    engine = create_engine(sqlalchemy_url(url), poolclass=NullPool, isolation_level="AUTOCOMMIT",
                           connect_args={"connect_timeout": 5, "application_name": "cloudos-worker"})
    try:
        while True:
            try:
                with engine.connect() as conn:
                    outbox.listen(conn)
                    log.info(fields(event="worker_ready"))
                    while True:
                        # The round's one clock reading (the loop is long-lived: a CLI's single now won't do).
                        now = datetime.now(timezone.utc)
                        if time.monotonic() - last_reap >= REAP_EVERY:
                            reaped, purged = reap(conn, now)
                            total.reaped += reaped
                            last_reap = time.monotonic()
                            if reaped or purged:
                                log.info(fields(event="reaped", stale_closed=reaped, purged=purged))
                        got = process_due(conn, keyring, timeout=timeout, max_attempts=max_attempts)
                        for k in ("sent", "acked", "naked", "timed_out", "retrying", "failed"):
                            setattr(total, k, getattr(total, k) + getattr(got, k))
                        if once:
                            return total
                        if got.sent or got.failed:
                            continue
                        # Sleep until a NOTIFY arrives or the next poll (retries come due by time).
                        driver = conn.connection.driver_connection
                        assert isinstance(driver, psycopg.Connection)
                        for _ in driver.notifies(timeout=poll, stop_after=1):
                            pass
            except (DBAPIError, psycopg.Error) as exc:
                err = _driver_error(exc)
                if err is None:
                    raise
                if once:
                    raise err from None
                if isinstance(err, psycopg.OperationalError):
                    log.error(fields(event="worker_db_error", detail=" ".join(str(err).split())[:200]))
                else:  # a statement failed: log it, start over on a fresh connection
                    log.error(fields(event="worker_error", error=type(err).__name__,
                                     detail=" ".join(str(err).split())[:200]))
                time.sleep(2)
    finally:
        engine.dispose()
