"""What `cloudos metrics` counts: sessions, logins, CoA requests and journal progress, grouped in PostgreSQL.

Every statement returns counts grouped by a few bounded labels (tenant, NAS, outcome,
reason, kind, status, radiusd node): no row of a subscriber leaves the database. They
read only the columns schema 0014 grants cloudos_metrics, so they run as that login.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import Connection, and_, func, literal, select

from cloudos.store.tables import auth_log, coa_outbox, journal_node, nas, tenant
from cloudos.store.tables import session_open as o


@dataclass(frozen=True, slots=True)
class NasSessions:
    tenant: str
    nas: str  # "" for sessions whose NAS row is gone
    online: int
    stale: int


@dataclass(frozen=True, slots=True)
class AuthCount:
    tenant: str
    outcome: str
    reason: str
    count: int


@dataclass(frozen=True, slots=True)
class CoaCount:
    tenant: str
    kind: str
    status: str
    count: int


@dataclass(frozen=True, slots=True)
class CoaPending:
    tenant: str
    kind: str
    count: int
    oldest_seconds: float


@dataclass(frozen=True, slots=True)
class JournalNode:
    node: str
    lag_seconds: float
    report_age_seconds: float


@dataclass(frozen=True, slots=True)
class Snapshot:
    """Everything one run reports, as of ``now``; counters count from ``since``."""

    now: datetime
    since: datetime
    tenants: tuple[str, ...]
    sessions: tuple[NasSessions, ...]
    auth: tuple[AuthCount, ...]
    coa_settled: tuple[CoaCount, ...]
    coa_pending: tuple[CoaPending, ...]
    journal: tuple[JournalNode, ...]


def _sessions(conn: Connection, now: datetime) -> Sequence[NasSessions]:
    # Every NAS, with 0 when it has no session, so a NAS that goes quiet reads 0 and not "no data";
    # plus one row per tenant for open sessions whose NAS row was removed.
    live = o.c.updated_at >= func.cloudos_stale_cutoff(now, tenant.c.interim_interval)
    open_ = and_(o.c.stopped_at.is_(None), o.c.tenant_id == tenant.c.id)
    online = func.count().filter(live)
    stale = func.count().filter(~live)
    per_nas = (select(tenant.c.name.label("tenant"), nas.c.name.label("nas"),
                      func.count(o.c.tenant_id).filter(live).label("online"),
                      func.count(o.c.tenant_id).filter(~live).label("stale"))
               .select_from(nas.join(tenant, tenant.c.id == nas.c.tenant_id)
                            .outerjoin(o, and_(o.c.nas_id == nas.c.id, open_)))
               .group_by(tenant.c.name, nas.c.name))
    orphans = (select(tenant.c.name.label("tenant"), literal("").label("nas"), online.label("online"),
                      stale.label("stale"))
               .select_from(o.join(tenant, tenant.c.id == o.c.tenant_id).outerjoin(nas, nas.c.id == o.c.nas_id))
               .where(o.c.stopped_at.is_(None), nas.c.id.is_(None))
               .group_by(tenant.c.name))
    rows = conn.execute(per_nas.union_all(orphans)).all()
    return sorted((NasSessions(r.tenant, r.nas, int(r.online), int(r.stale)) for r in rows),
                  key=lambda s: (s.tenant, s.nas))


def _auth(conn: Connection, since: datetime, now: datetime) -> Sequence[AuthCount]:
    # auth_log.at >= since prunes to the day's partition and, through 0014's BRIN index, its pages.
    rows = conn.execute(
        select(tenant.c.name.label("tenant"), auth_log.c.outcome, auth_log.c.reason, func.count().label("n"))
        .select_from(auth_log.join(tenant, tenant.c.id == auth_log.c.tenant_id))
        .where(auth_log.c.at >= since, auth_log.c.at <= now)
        .group_by(tenant.c.name, auth_log.c.outcome, auth_log.c.reason)).all()
    return [AuthCount(r.tenant, r.outcome, r.reason, int(r.n)) for r in rows]


def _coa(conn: Connection, since: datetime, now: datetime) -> tuple[Sequence[CoaCount], Sequence[CoaPending]]:
    pending = coa_outbox.c.status == "pending"
    settled = conn.execute(
        select(tenant.c.name.label("tenant"), coa_outbox.c.kind, coa_outbox.c.status, func.count().label("n"))
        .select_from(coa_outbox.join(tenant, tenant.c.id == coa_outbox.c.tenant_id))
        .where(~pending, coa_outbox.c.done_at >= since, coa_outbox.c.done_at <= now)
        .group_by(tenant.c.name, coa_outbox.c.kind, coa_outbox.c.status)).all()
    waiting = conn.execute(
        select(tenant.c.name.label("tenant"), coa_outbox.c.kind, func.count().label("n"),
               func.min(coa_outbox.c.created_at).label("oldest"))
        .select_from(coa_outbox.join(tenant, tenant.c.id == coa_outbox.c.tenant_id))
        .where(pending)
        .group_by(tenant.c.name, coa_outbox.c.kind)).all()
    return ([CoaCount(r.tenant, r.kind, r.status, int(r.n)) for r in settled],
            [CoaPending(r.tenant, r.kind, int(r.n), max(0.0, (now - r.oldest).total_seconds())) for r in waiting])


def _journal(conn: Connection, now: datetime) -> Sequence[JournalNode]:
    rows = conn.execute(select(journal_node.c.node, journal_node.c.caught_up_at, journal_node.c.seen_at)
                        .order_by(journal_node.c.node)).all()
    return [JournalNode(r.node, max(0.0, (now - r.caught_up_at).total_seconds()),
                        max(0.0, (now - r.seen_at).total_seconds())) for r in rows]


def read(conn: Connection, now: datetime, since: datetime) -> Snapshot:
    """One consistent reading (call it inside one REPEATABLE READ transaction) of everything
    `cloudos metrics` reports as of ``now``, counters from ``since``."""
    tenants = tuple(conn.execute(select(tenant.c.name).order_by(tenant.c.name)).scalars())
    settled, pending = _coa(conn, since, now)
    return Snapshot(now=now, since=since, tenants=tenants, sessions=tuple(_sessions(conn, now)),
                    auth=tuple(_auth(conn, since, now)), coa_settled=tuple(settled), coa_pending=tuple(pending),
                    journal=tuple(_journal(conn, now)))
