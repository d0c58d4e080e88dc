"""The CoA outbox: queueing Disconnect-Requests (CLI) and claiming and settling them (worker).

Rows are inserted by the schema's own functions, which also NOTIFY cloudos_coa;
the worker claims due rows with SKIP LOCKED so several workers may run.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from sqlalchemy import Connection, exists, func, select, text, update
from sqlalchemy.engine import Row

from cloudos.store.tables import coa_outbox as c
from cloudos.store.tables import nas

#: cloudos_queue_coa (schema 0002): a Disconnect-Request for each open session of one subscriber.
QUEUE_SUBSCRIBER_DISCONNECT = text("SELECT cloudos_queue_coa(:subscriber_id, 'disconnect', NULL, :reason)")
#: cloudos_queue_coa_sessions (schema 0002): a Disconnect-Request for each of these open sessions.
QUEUE_SESSIONS_DISCONNECT = text("SELECT cloudos_queue_coa_sessions(:ids, 'disconnect', NULL, :reason)")
#: What cloudos_queue_coa* NOTIFY on: the worker sleeps on it between polls.
LISTEN = text("LISTEN cloudos_coa")


def queue_subscriber_disconnect(conn: Connection, subscriber_id: int, reason: str) -> int:
    """Queue a Disconnect-Request for every open session of the subscriber; returns how many."""
    return int(conn.execute(QUEUE_SUBSCRIBER_DISCONNECT, {"subscriber_id": subscriber_id, "reason": reason})
               .scalar_one())


def queue_sessions_disconnect(conn: Connection, acct_unique_ids: Sequence[str], reason: str) -> int:
    """Queue a Disconnect-Request for these open sessions and wake the worker; returns how many."""
    return int(conn.execute(QUEUE_SESSIONS_DISCONNECT, {"ids": list(acct_unique_ids), "reason": reason})
               .scalar_one())


def listen(conn: Connection) -> None:
    """Subscribe this connection to the outbox's notifications."""
    conn.execute(LISTEN)


def fail_orphans(conn: Connection) -> None:
    """Settle pending requests whose NAS was removed as failed."""
    conn.execute(
        update(c)
        .where(c.c.status == "pending", ~exists().where(nas.c.id == c.c.nas_id))
        .values(status="failed", result="NAS removed", done_at=func.now())
    )


def claim(conn: Connection, limit: int) -> Sequence[Row[Any]]:
    """Claim up to ``limit`` due requests: count the attempt and push the next one out by 2^attempts s.
    Rows: (id, kind, attributes, attempts, reason, nas_address as text, NAS address, coa_port,
    secret_enc, NAS name)."""
    due = c.alias("due")
    due_ids = (select(due.c.id)
               .where(due.c.status == "pending", due.c.next_attempt_at <= func.now())
               .order_by(due.c.id).limit(limit)
               .with_for_update(skip_locked=True))
    return conn.execute(
        update(c)
        .values(attempts=c.c.attempts + 1,
                # make_interval(years, months, weeks, days, hours, mins, secs): the wait is in seconds.
                next_attempt_at=func.now() + func.make_interval(0, 0, 0, 0, 0, 0, func.power(2, c.c.attempts)))
        .where(c.c.id.in_(due_ids), nas.c.id == c.c.nas_id)
        .returning(c.c.id, c.c.kind, c.c.attributes, c.c.attempts, c.c.reason,
                   func.host(c.c.nas_address).label("nas_address"), nas.c.address, nas.c.coa_port,
                   nas.c.secret_enc, nas.c.name)
    ).all()


def settle(conn: Connection, request_id: int, status: str, result: str) -> None:
    """Record a request's final ``status`` (ack, nak, timeout, failed) and ``result``."""
    conn.execute(update(c).where(c.c.id == request_id).values(status=status, result=result, done_at=func.now()))


def note(conn: Connection, request_id: int, result: str) -> None:
    """Record ``result`` on a request that stays pending (it will be retried)."""
    conn.execute(update(c).where(c.c.id == request_id).values(result=result))
