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

from rlm_cloudos import coa
from rlm_cloudos.crypto import KeyRing
from rlm_cloudos.log import fields

log = logging.getLogger("cloudos.worker")

#: Attempts before a request is recorded as timed out; waits between them grow 1, 2, 4, 8 s.
MAX_ATTEMPTS = 5
REAP_EVERY = 60.0

CLAIM = """
UPDATE coa_outbox c
   SET attempts = c.attempts + 1,
       next_attempt_at = now() + make_interval(secs => power(2, c.attempts))
  FROM nas n
 WHERE c.id IN (SELECT id FROM coa_outbox
                 WHERE status = 'pending' AND next_attempt_at <= now()
                 ORDER BY id LIMIT %(limit)s FOR UPDATE SKIP LOCKED)
   AND n.id = c.nas_id
RETURNING c.id, c.kind, c.attributes, c.attempts, c.reason, host(c.nas_address), n.address, n.coa_port,
          n.secret_enc, n.name
"""

ORPHANS = """
UPDATE coa_outbox SET status = 'failed', result = 'NAS removed', done_at = now()
 WHERE status = 'pending' AND NOT EXISTS (SELECT 1 FROM nas WHERE nas.id = coa_outbox.nas_id)
"""


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


def process_due(conn: psycopg.Connection[Any], keyring: KeyRing, *, limit: int = 50, timeout: float = 2.0,
                max_attempts: int = MAX_ATTEMPTS) -> Outcome:
    """Send every due request once; returns what happened."""
    out = Outcome()
    conn.execute(ORPHANS)
    rows = conn.execute(CLAIM, {"limit": limit}).fetchall()
    for (cid, kind, attributes, attempts, reason, nas_address, nas_network, port, secret_enc, nas_name) in rows:
        code = coa.Code.COA_REQUEST if kind == "coa" else coa.Code.DISCONNECT_REQUEST
        host = _target(nas_address, nas_network)
        try:
            secret = keyring.decrypt(secret_enc, "nas.secret")
            answer = coa.send(host, port, code, attributes, secret, timeout=timeout)
        except Exception as exc:  # one bad row (CoaError, DecryptError, OSError, …) must not stop the worker
            out.failed += 1
            conn.execute("UPDATE coa_outbox SET status = 'failed', result = %s, done_at = now() WHERE id = %s",
                         (f"{type(exc).__name__}: {exc}", cid))
            log.error(fields(event="coa_failed", id=cid, kind=kind, nas=nas_name, error=type(exc).__name__,
                             detail=str(exc)))
            continue
        out.sent += 1
        user = attributes.get("User-Name")
        if answer is None:
            if attempts >= max_attempts:
                out.timed_out += 1
                conn.execute("UPDATE coa_outbox SET status = 'timeout', result = %s, done_at = now() WHERE id = %s",
                             (f"no answer from {host}:{port} after {attempts} attempts", cid))
                log.warning(fields(event="coa_timeout", id=cid, kind=kind, nas=nas_name, user=user, attempts=attempts))
            else:
                out.retrying += 1
                conn.execute("UPDATE coa_outbox SET result = %s WHERE id = %s",
                             (f"no answer from {host}:{port} (attempt {attempts})", cid))
                log.info(fields(event="coa_retry", id=cid, kind=kind, nas=nas_name, user=user, attempt=attempts))
            continue
        status = "ack" if answer.acked else "nak"
        if answer.acked:
            out.acked += 1
        else:
            out.naked += 1
        conn.execute("UPDATE coa_outbox SET status = %s, result = %s, done_at = now() WHERE id = %s",
                     (status, answer.describe(), cid))
        log.info(fields(event=f"coa_{status}", id=cid, kind=kind, reason=reason, nas=nas_name, user=user,
                        session=attributes.get("Acct-Session-Id"), result=answer.describe()))
    return out


def reap(conn: psycopg.Connection[Any], now: datetime | None = None) -> tuple[int, int]:
    """Close stale sessions and purge old closed ones; returns (reaped, purged)."""
    row = conn.execute("SELECT reaped, purged FROM cloudos_reap_sessions(%s)",
                       (now or datetime.now(timezone.utc),)).fetchone()
    assert row is not None
    return int(row[0]), int(row[1])


def run(url: str, keyring: KeyRing, *, once: bool = False, poll: float = 1.0, timeout: float = 2.0,
        max_attempts: int = MAX_ATTEMPTS) -> Outcome:
    """Serve the outbox until interrupted (or one pass with ``once``); reconnects when PostgreSQL drops."""
    total = Outcome()
    last_reap = 0.0
    while True:
        try:
            with psycopg.connect(url, autocommit=True, connect_timeout=5,
                                 application_name="cloudos-worker") as conn:
                conn.execute("LISTEN cloudos_coa")
                log.info(fields(event="worker_ready"))
                while True:
                    if time.monotonic() - last_reap >= REAP_EVERY:
                        reaped, purged = reap(conn)
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
                    for _ in conn.notifies(timeout=poll, stop_after=1):
                        pass
        except psycopg.OperationalError as exc:
            if once:
                raise
            log.error(fields(event="worker_db_error", detail=" ".join(str(exc).split())[:200]))
            time.sleep(2)
        except psycopg.Error as exc:  # a statement failed: log it, start over on a fresh connection
            if once:
                raise
            log.error(fields(event="worker_error", error=type(exc).__name__, detail=" ".join(str(exc).split())[:200]))
            time.sleep(2)
