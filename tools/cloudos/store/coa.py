"""The CoA outbox: queueing Disconnect-Requests (CLI) and claiming and settling them (worker).

Rows are inserted by the schema's own functions, which also NOTIFY cloudos_coa;
the worker claims due rows with SKIP LOCKED so several workers may run. Which
sessions still need enforcing is the schema's policy too (schema 0008):
cloudos_coa_moot settles what is no longer needed, cloudos_coa_sweep queues a
Disconnect for an open session that authorize would not have let in.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import Connection, exists, func, select, text, update
from sqlalchemy.engine import Row

from cloudos.store.tables import coa_outbox as c
from cloudos.store.tables import nas, tenant

#: cloudos_queue_coa (schema 0002): a Disconnect-Request for each open session of one subscriber.
QUEUE_SUBSCRIBER_DISCONNECT = text("SELECT cloudos_queue_coa(:subscriber_id, 'disconnect', NULL, :reason)")
#: cloudos_queue_coa_sessions (schema 0002): a Disconnect-Request for each of these open sessions.
QUEUE_SESSIONS_DISCONNECT = text("SELECT cloudos_queue_coa_sessions(:ids, 'disconnect', NULL, :reason)")
#: cloudos_coa_moot (schema 0008): pending requests whose session closed or whose subscriber is back
#: within policy are settled as cancelled.
MOOT = text("SELECT cloudos_coa_moot(:now)")
#: cloudos_coa_sweep (schema 0008): a Disconnect for each open session out of policy with nothing queued
#: (those started since :since; NULL: all).
SWEEP = text("SELECT cloudos_coa_sweep(:now, :since)")
#: cloudos_queue_coa_release (schema 0015): each open session of a subscriber back within policy,
#: in a tenant with a walled garden, back to the plan's rate and address list by CoA.
RELEASE = text("SELECT cloudos_queue_coa_release(:subscriber_id, :now, :reason)")
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


def release_walled_garden(conn: Connection, subscriber_id: int, now: datetime, reason: str) -> int:
    """Queue the CoA-Requests that take the subscriber's open sessions out of the walled garden (a
    Disconnect where the plan has no address list to put back); returns how many. Nothing when the
    tenant has no garden or the subscriber is still out of policy."""
    return int(conn.execute(RELEASE, {"subscriber_id": subscriber_id, "now": now, "reason": reason}).scalar_one())


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


def settle_moot(conn: Connection, now: datetime) -> int:
    """Settle as cancelled the pending requests there is no point sending as of ``now``; returns how many."""
    return int(conn.execute(MOOT, {"now": now}).scalar_one())


def sweep(conn: Connection, now: datetime, since: datetime | None = None) -> int:
    """Queue a Disconnect for every open session out of policy at ``now`` that has none (only those
    started at or after ``since``, when given); returns how many."""
    return int(conn.execute(SWEEP, {"now": now, "since": since}).scalar_one())


def pending_disconnects(conn: Connection, acct_unique_ids: Sequence[str]) -> set[str]:
    """Which of these sessions already have a Disconnect-Request pending (queued or sent, unanswered)."""
    rows = conn.execute(
        select(c.c.acct_unique_id).distinct()
        .where(c.c.acct_unique_id.in_(list(acct_unique_ids)), c.c.kind == "disconnect", c.c.status == "pending")
    ).scalars()
    return {str(r) for r in rows}


def adopt_disconnects(conn: Connection, acct_unique_ids: Sequence[str]) -> int:
    """Make the pending Disconnect-Requests of these sessions that policy queued (suspended, expired …:
    cloudos_coa_policy_reason) an operator's own (reason ``admin``), so that neither a resume nor the
    worker's moot check cancels what an operator asked for; returns how many."""
    return conn.execute(
        update(c).where(c.c.acct_unique_id.in_(list(acct_unique_ids)), c.c.kind == "disconnect",
                        c.c.status == "pending", func.cloudos_coa_policy_reason(c.c.reason))
        .values(reason="admin")
    ).rowcount


def cancel_for_nas(conn: Connection, nas_id: int, result: str) -> int:
    """Settle every pending request to NAS ``nas_id`` as cancelled with ``result`` (the NAS is going);
    returns how many."""
    return conn.execute(
        update(c).where(c.c.nas_id == nas_id, c.c.status == "pending")
        .values(status="cancelled", result=result, done_at=func.now())
    ).rowcount


#: The outbox's own statuses (schema 0002/0008) for each name `cloudos coa list --status` takes:
#: a pending row never sent is queued; one sent at least once and still unanswered (or to be sent
#: again) is sent; the NAS's answers are acked and naked; timeout (a CoA unanswered after its
#: attempts, then escalated), failed (could not be sent: NAS removed, secret, socket) and
#: cancelled (moot: session closed, subscriber back within policy) are their own.
STATUSES = ("queued", "sent", "acked", "naked", "timeout", "failed", "cancelled")
_STATUS_OF = {"ack": "acked", "nak": "naked", "timeout": "timeout", "failed": "failed", "cancelled": "cancelled"}


def status_name(status: str, attempts: int) -> str:
    """The name `coa list` gives an outbox row of ``status`` after ``attempts`` sends."""
    if status == "pending":
        return "sent" if attempts > 0 else "queued"
    return _STATUS_OF.get(status, status)


def listing(conn: Connection, tenant_id: int, *, status: str | None = None, username: str | None = None,
            limit: int = 50) -> Sequence[Row[Any]]:
    """Tenant ``tenant_id``'s latest ``limit`` outbox rows, newest first, with the NAS's name as ``nas``
    (None once it is removed) and the tenant's as ``tenant``; only those of ``status`` (a STATUSES
    name) and of ``username`` (the User-Name sent) if given."""
    q = (select(c.c.id, c.c.kind, c.c.status, c.c.attempts, c.c.reason, c.c.result, c.c.created_at,
                c.c.next_attempt_at, c.c.done_at, c.c.acct_unique_id, c.c.subscriber_id,
                c.c.attributes, func.host(c.c.nas_address).label("nas_address"), c.c.nas_id,
                nas.c.name.label("nas"), tenant.c.name.label("tenant"))
         .outerjoin(nas, nas.c.id == c.c.nas_id)
         .join(tenant, tenant.c.id == c.c.tenant_id)
         .where(c.c.tenant_id == tenant_id))
    if status == "queued":
        q = q.where(c.c.status == "pending", c.c.attempts == 0)
    elif status == "sent":
        q = q.where(c.c.status == "pending", c.c.attempts > 0)
    elif status is not None:
        q = q.where(c.c.status == {v: k for k, v in _STATUS_OF.items()}[status])
    if username is not None:
        q = q.where(c.c.attributes["User-Name"].astext == username)
    return conn.execute(q.order_by(c.c.id.desc()).limit(limit)).all()


def claim(conn: Connection, limit: int, backoff_cap: float = 60.0, in_flight: float = 0.0) -> Sequence[Row[Any]]:
    """Claim up to ``limit`` due requests: count the attempt and push the next one out by ``in_flight``
    (how long the send may wait for its answer) and 2^attempts s, at most ``backoff_cap`` s.
    Rows: (id, kind, attributes, attempts, reason, nas_address as text, NAS address, coa_port,
    secret_enc, NAS name, acct_unique_id)."""
    due = c.alias("due")
    due_ids = (select(due.c.id)
               .where(due.c.status == "pending", due.c.next_attempt_at <= func.now())
               .order_by(due.c.id).limit(limit)
               .with_for_update(skip_locked=True))
    return conn.execute(
        update(c)
        .values(attempts=c.c.attempts + 1,
                # make_interval(years, months, weeks, days, hours, mins, secs): the wait is in seconds.
                next_attempt_at=func.now() + func.make_interval(
                    0, 0, 0, 0, 0, 0,
                    in_flight + func.least(func.power(2, func.least(c.c.attempts, 30)), backoff_cap)))
        .where(c.c.id.in_(due_ids), nas.c.id == c.c.nas_id)
        .returning(c.c.id, c.c.kind, c.c.attributes, c.c.attempts, c.c.reason,
                   func.host(c.c.nas_address).label("nas_address"), nas.c.address, nas.c.coa_port,
                   nas.c.secret_enc, nas.c.name, c.c.acct_unique_id)
    ).all()


def settle(conn: Connection, request_id: int, status: str, result: str) -> None:
    """Record a request's final ``status`` (ack, nak, timeout, failed, cancelled) and ``result``."""
    # Only a pending row: one cancelled while its request was in flight stays cancelled.
    conn.execute(update(c).where(c.c.id == request_id, c.c.status == "pending")
                 .values(status=status, result=result, done_at=func.now()))


def note(conn: Connection, request_id: int, result: str) -> None:
    """Record ``result`` on a request that stays pending (it will be retried)."""
    conn.execute(update(c).where(c.c.id == request_id, c.c.status == "pending").values(result=result))


def cancel_subscriber_disconnects(conn: Connection, subscriber_id: int, result: str) -> int:
    """Settle as cancelled the subscriber's pending Disconnect-Requests queued because it was out of
    policy (suspended, expired …: cloudos_coa_policy_reason, schema 0008), which a resume makes wrong;
    an operator's own disconnect stays. Returns how many. One in flight when this commits is not
    stopped, but its answer no longer retries it (settle() leaves a cancelled row as it is)."""
    return conn.execute(
        update(c).where(c.c.subscriber_id == subscriber_id, c.c.kind == "disconnect", c.c.status == "pending",
                        func.cloudos_coa_policy_reason(c.c.reason))
        .values(status="cancelled", result=result, done_at=func.now())
    ).rowcount
