"""`cloudos worker`: sends queued CoA and Disconnect requests and reaps stale sessions.

Off the request thread by design: radiusd (accounting crossing a quota) and the
CLI (suspend, disconnect) only insert rows into coa_outbox and NOTIFY
cloudos_coa; the worker claims due rows with SKIP LOCKED (several workers may
run), sends them all at once (one silent NAS delays no other), and records each
outcome: ACK, NAK with its Error-Cause, timeout, or cancelled.

It does not give up while there is something to enforce. A CoA (a new rate) that
is NAKed or unanswered after ``max_attempts`` sends becomes a Disconnect-Request.
A Disconnect nobody answers is sent again, backing off to at most ``backoff_cap``
seconds between sends, until its session closes (a Stop, or the reaper) or the
subscriber is back within policy (resumed, renewed, quota reset, new plan): then
it is settled as cancelled. And every ``SWEEP_EVERY`` seconds it looks among the
sessions started in the last ``SWEEP_RECENT`` (an index range scan), and once a
minute among all open sessions, for one that authorize would not have let in with
nothing queued for it (a login that raced a suspend) and queues a Disconnect. The policy is the schema's
(cloudos_lapse, schema 0008), not this module's.
"""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
from typing import Any

import psycopg
from sqlalchemy import Connection, create_engine
from sqlalchemy.engine import Row
from sqlalchemy.exc import DBAPIError
from sqlalchemy.pool import NullPool

from cloudos.context import sqlalchemy_url
from cloudos.store import coa as outbox
from cloudos.store import sessions
from rlm_cloudos import coa
from rlm_cloudos.crypto import KeyRing
from rlm_cloudos.log import fields

log = logging.getLogger("cloudos.worker")

#: Sends of a CoA before it is escalated to a Disconnect; waits between sends grow 1, 2, 4, 8 s …
MAX_ATTEMPTS = 5
#: … up to this many seconds between the sends of a Disconnect that is never answered.
BACKOFF_CAP = 60.0
REAP_EVERY = 60.0
#: Seconds between looks for recent sessions out of policy with nothing queued, and how far back
#: those look; every open session is looked at with the reaper, every REAP_EVERY.
SWEEP_EVERY = 2.0
SWEEP_RECENT = timedelta(minutes=10)
#: While requests are in flight, a round waits this long for answers before it claims again.
IN_FLIGHT_TICK = 0.1
#: Seconds between looks for pending requests that are moot (a join over every pending row: not
#: every IN_FLIGHT_TICK). At worst a request is sent once more after its session's Stop.
MOOT_EVERY = 0.5


@dataclass
class Outcome:
    sent: int = 0
    acked: int = 0
    naked: int = 0
    timed_out: int = 0
    retrying: int = 0
    failed: int = 0
    reaped: int = 0
    escalated: int = 0
    cancelled: int = 0
    swept: int = 0

    def add(self, other: Outcome) -> None:
        for k in vars(self):
            setattr(self, k, getattr(self, k) + getattr(other, k))


def _target(nas_address: str | None, nas_network: Any) -> str:
    """Where the NAS listens: the address its accounting came from, else its registered host address."""
    if nas_address:
        return nas_address
    return str(nas_network.network_address if hasattr(nas_network, "network_address") else nas_network).split("/")[0]


def _escalate(conn: Connection, row: Row[Any], why: str, out: Outcome) -> None:
    """Queue a Disconnect for the session a CoA could not slow down (still open, as cloudos_queue_coa_sessions
    checks), with the same reason, so it is held to the same policy."""
    uid = row.acct_unique_id
    queued = outbox.queue_sessions_disconnect(conn, [uid], row.reason or "escalated") if uid else 0
    out.escalated += queued
    log.warning(fields(event="coa_escalated", id=row.id, nas=row.name, user=row.attributes.get("User-Name"),
                       session=row.attributes.get("Acct-Session-Id"), why=why, attempts=row.attempts,
                       disconnects_queued=queued))


def _answered(conn: Connection, row: Row[Any], answer: coa.Response, out: Outcome) -> None:
    cid, kind, attributes, reason, nas_name = row.id, row.kind, row.attributes, row.reason, row.name
    status = "ack" if answer.acked else "nak"
    if answer.acked:
        out.acked += 1
    else:
        out.naked += 1
    escalate = kind == "coa" and not answer.acked
    outbox.settle(conn, cid, status, answer.describe() + ("; escalated to Disconnect" if escalate else ""))
    log.info(fields(event=f"coa_{status}", id=cid, kind=kind, reason=reason, nas=nas_name,
                    user=attributes.get("User-Name"), session=attributes.get("Acct-Session-Id"),
                    result=answer.describe()))
    if escalate:
        _escalate(conn, row, answer.describe(), out)


def _unanswered(conn: Connection, row: Row[Any], host: str, port: int, max_attempts: int, out: Outcome) -> None:
    cid, kind, attempts, nas_name = row.id, row.kind, row.attempts, row.name
    user = row.attributes.get("User-Name")
    if kind == "coa" and attempts >= max_attempts:
        out.timed_out += 1
        outbox.settle(conn, cid, "timeout",
                      f"no answer from {host}:{port} after {attempts} attempts; escalated to Disconnect")
        log.warning(fields(event="coa_timeout", id=cid, kind=kind, nas=nas_name, user=user, attempts=attempts))
        _escalate(conn, row, "timeout", out)
        return
    # A Disconnect is sent again while its session is open (cloudos_coa_moot ends it).
    out.retrying += 1
    outbox.note(conn, cid, f"no answer from {host}:{port} (attempt {attempts})")
    log.info(fields(event="coa_retry", id=cid, kind=kind, nas=nas_name, user=user, attempt=attempts))


#: The requests a worker has in flight, each with the outbox row it came from.
Flights = coa.Exchange[tuple[Row[Any], str, int]]


def process_due(conn: Connection, keyring: KeyRing, flights: Flights, *, now: datetime | None = None,
                sweep: bool = True, sweep_all: bool = False, moot: bool = True, wait: float = 0.0,
                limit: int = 50, timeout: float = 2.0, max_attempts: int = MAX_ATTEMPTS,
                backoff_cap: float = BACKOFF_CAP) -> Outcome:
    """One round on an autocommit connection as of ``now`` (default: the clock): with ``sweep``, queue
    what the sweep finds among sessions started in the last SWEEP_RECENT (all with ``sweep_all``); with
    ``moot``, cancel what is moot; put every due request in ``flights`` (up to ``limit`` in flight); then
    wait up to ``wait`` seconds for answers and record those and the requests that ran out of time.
    Requests stay in flight across rounds, so a silent NAS holds up no other request."""
    out = Outcome()
    now = now or datetime.now(timezone.utc)
    outbox.fail_orphans(conn)
    if sweep or sweep_all:
        out.swept = outbox.sweep(conn, now, None if sweep_all else now - SWEEP_RECENT)
        if out.swept:
            log.info(fields(event="coa_swept", disconnects_queued=out.swept))
    if moot:
        out.cancelled = outbox.settle_moot(conn, now)
        if out.cancelled:
            log.info(fields(event="coa_cancelled", requests=out.cancelled))
    room = limit - len(flights)
    # Claimed rows come due again only after this send's timeout: a request in flight is not re-claimed.
    for row in outbox.claim(conn, room, backoff_cap, timeout) if room > 0 else ():
        code = coa.Code.COA_REQUEST if row.kind == "coa" else coa.Code.DISCONNECT_REQUEST
        try:
            secret = keyring.decrypt(row.secret_enc, "nas.secret")
        except Exception as exc:  # one bad row (DecryptError, …) must not stop the worker
            _failed(conn, row, exc, out)
            continue
        req = coa.Request(_target(row.nas_address, row.address), row.coa_port, code, row.attributes, secret)
        error = flights.send((row, req.host, req.port), req, timeout=timeout)
        if error is not None:
            _failed(conn, row, error, out)
        else:
            out.sent += 1
    for (row, host, port), answer in flights.poll(wait):
        if answer is None:
            _unanswered(conn, row, host, port, max_attempts, out)
        else:
            _answered(conn, row, answer, out)
    return out


def _failed(conn: Connection, row: Row[Any], exc: Exception, out: Outcome) -> None:
    out.failed += 1
    outbox.settle(conn, row.id, "failed", f"{type(exc).__name__}: {exc}")
    log.error(fields(event="coa_failed", id=row.id, kind=row.kind, nas=row.name, error=type(exc).__name__,
                     detail=str(exc)))


def reap(conn: Connection, now: datetime) -> tuple[int, int]:
    """Close stale sessions and purge old closed ones as of ``now``, or as of when every radiusd's
    journal was last applied (logged when that holds the reaper back); returns (reaped, purged)."""
    r = sessions.reap(conn, now)
    if r.forgotten:
        log.warning(fields(event="journal_node_forgotten", nodes=",".join(r.forgotten),
                           detail="no journal status for a day; the reaper no longer waits for it"))
    if (now - r.as_of).total_seconds() >= REAP_EVERY:
        log.info(fields(event="reaper_waits_for_journal", behind=f"{(now - r.as_of).total_seconds():.0f}s"))
    return r.reaped, r.purged


def _driver_error(exc: DBAPIError | psycopg.Error) -> psycopg.Error | None:
    """The psycopg error behind ``exc`` (SQLAlchemy wraps what its statements raise), or None."""
    if isinstance(exc, psycopg.Error):
        return exc
    return exc.orig if isinstance(exc.orig, psycopg.Error) else None


def run(url: str, keyring: KeyRing, *, once: bool = False, poll: float = 1.0, timeout: float = 2.0,
        max_attempts: int = MAX_ATTEMPTS, backoff_cap: float = BACKOFF_CAP) -> Outcome:
    """Serve the outbox until interrupted (or one pass with ``once``); reconnects when PostgreSQL drops.
    With ``once``, a PostgreSQL failure is raised as the psycopg error it is."""
    total = Outcome()
    last_reap = 0.0
    last_sweep = 0.0
    last_moot = 0.0
    flights: Flights = coa.Exchange()
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
                        # Every open session is swept as often as the reaper runs.
                        sweep_all = time.monotonic() - last_reap >= REAP_EVERY
                        if time.monotonic() - last_reap >= REAP_EVERY:
                            reaped, purged = reap(conn, now)
                            total.reaped += reaped
                            last_reap = time.monotonic()
                            if reaped or purged:
                                log.info(fields(event="reaped", stale_closed=reaped, purged=purged))
                        sweep = time.monotonic() - last_sweep >= SWEEP_EVERY
                        moot = time.monotonic() - last_moot >= MOOT_EVERY
                        got = process_due(conn, keyring, flights, now=now, sweep=sweep, sweep_all=sweep_all,
                                          moot=moot, wait=IN_FLIGHT_TICK, timeout=timeout,
                                          max_attempts=max_attempts, backoff_cap=backoff_cap)
                        if sweep:
                            last_sweep = time.monotonic()
                        if moot:
                            last_moot = time.monotonic()
                        total.add(got)
                        if once and not flights:
                            return total
                        if once or flights or got.sent or got.failed:
                            continue  # answers are waited for in the round, IN_FLIGHT_TICK at a time
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
        flights.close()
        engine.dispose()
