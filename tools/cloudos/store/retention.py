"""Retention in PostgreSQL (schema 0016): the settings row, and the two functions that apply the
schedule rlm_cloudos.policy.retention computes (SECURITY DEFINER: only the owner drops a table
or deletes a billing record)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime
from typing import Any

from sqlalchemy import Connection, func, select, text, update

from cloudos.store.tables import retention_setting
from rlm_cloudos.policy.retention import RetentionSettings

#: The log tables partitioned by month, and the column each is partitioned on.
LOG_TABLES = ("session", "auth_log")
PARTITIONS = text("SELECT dropped, created, default_rows FROM "
                  "cloudos_retention_partitions(:parent, :before, :ahead_from, :ahead, :dry)")
PURGE = text("SELECT cloudos_retention_purge(:notifications, :support, :nonessential, :billing)")

FIELDS = ("log_months", "notification_months", "support_years", "billing_years", "nonessential_days")


def settings(conn: Connection, *, lock: bool = False) -> RetentionSettings:
    q = select(retention_setting)
    if lock:
        q = q.with_for_update()
    row = conn.execute(q).one()
    return RetentionSettings(**{f: getattr(row, f) for f in FIELDS})


def change(conn: Connection, values: dict[str, int]) -> None:
    conn.execute(update(retention_setting).values(**values, updated_at=func.now()))


@dataclass(frozen=True)
class Partitions:
    dropped: tuple[str, ...]
    created: int
    default_rows: int


def partitions(conn: Connection, parent: str, before: datetime, ahead_from: date, ahead: int, *,
               dry: bool) -> Partitions:
    row = conn.execute(PARTITIONS, {"parent": parent, "before": before, "ahead_from": ahead_from, "ahead": ahead,
                                    "dry": dry}).one()
    return Partitions(tuple(row.dropped), int(row.created), int(row.default_rows))


def purge(conn: Connection, *, notifications: datetime, support: datetime, nonessential: datetime,
          billing: datetime) -> dict[str, Any]:
    out: dict[str, Any] = conn.execute(PURGE, {"notifications": notifications, "support": support,
                                               "nonessential": nonessential, "billing": billing}).scalar_one()
    return out
