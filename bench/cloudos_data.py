"""Loads a bench.spec population into CloudOS's schema, as `cloudos` would leave it."""

from __future__ import annotations

import io
from datetime import datetime, timedelta, timezone
from zoneinfo import ZoneInfo

import psycopg

from bench.spec import BenchSubscriber, Fate
from rlm_cloudos.crypto import KeyRing
from rlm_cloudos.policy import billing_period
from tests.fixtures.pg import fetch_one

TENANT = "bench-isp"
TZ = "Asia/Karachi"


def load(conn: psycopg.Connection, subscribers: list[BenchSubscriber], keyring: KeyRing, *,
         nas_address: str, nas_secret: str, history_rows_per_subscriber: int, now: datetime) -> None:
    """Tenant, NAS, plans and subscribers, this period's usage counters, and session history
    (``history_rows_per_subscriber`` closed sessions each, in the current month)."""
    start, _end = billing_period("monthly", TZ, None, now)
    with conn.transaction():
        tenant_id = fetch_one(conn.execute("INSERT INTO tenant (name, timezone) VALUES (%s, %s) RETURNING id",
                                           (TENANT, TZ)))[0]
        conn.execute("INSERT INTO nas (tenant_id, name, address, secret_enc) VALUES (%s, 'bench-nas', %s, %s)",
                     (tenant_id, nas_address, keyring.encrypt(nas_secret, "nas.secret")))
        plan_ids = {}
        for plan in {s.plan for s in subscribers}:
            plan_ids[plan.name] = fetch_one(conn.execute(
                "INSERT INTO plan (tenant_id, name, rate_limit, quota_bytes, fup_rate_limit) "
                "VALUES (%s, %s, %s, %s, %s) RETURNING id",
                (tenant_id, plan.name, plan.rate_limit, plan.quota_bytes, plan.fup_rate_limit)))[0]
        future = now + timedelta(days=30)
        past = now - timedelta(days=3)
        with conn.cursor().copy(
                "COPY subscriber (tenant_id, username, password_enc, plan_id, status, expires_at) FROM STDIN") as cp:
            for s in subscribers:
                cp.write_row((tenant_id, s.username, keyring.seal_password(s.password, tenant_id, s.username),
                              plan_ids[s.plan.name], "suspended" if s.fate is Fate.SUSPENDED else "active",
                              past if s.fate is Fate.EXPIRED else future))
        ids: dict[str, int] = dict(conn.execute("SELECT username, id FROM subscriber WHERE tenant_id = %s", (tenant_id,)).fetchall())
        with conn.cursor().copy(
                "COPY usage_counter (tenant_id, subscriber_id, period_start, period_end, input_octets, "
                "output_octets, session_time) FROM STDIN") as cp:
            for s in subscribers:
                if s.used_bytes:
                    up = s.used_bytes // 5
                    cp.write_row((tenant_id, ids[s.username], start, _end, up, s.used_bytes - up, 3600))
        if history_rows_per_subscriber:
            add_history(conn, tenant_id, subscribers, ids, history_rows_per_subscriber, now)
    conn.execute("ANALYZE")


def add_history(conn: psycopg.Connection, tenant_id: int, subscribers: list[BenchSubscriber], ids: dict[str, int],
                rows_per_subscriber: int, now: datetime) -> None:
    """Closed sessions in the current month (they never count at login time: usage is pre-aggregated)."""
    month_start, _ = billing_period("monthly", TZ, None, now)
    span = max(1.0, (now - month_start).total_seconds() - 3600)
    with conn.cursor().copy(
            "COPY session (tenant_id, acct_unique_id, started_at, stopped_at, subscriber_id, nas_id, username, "
            "acct_session_id, input_octets, output_octets, session_time, terminate_cause) FROM STDIN") as cp:
        for s in subscribers:
            per = s.used_bytes // rows_per_subscriber
            for k in range(rows_per_subscriber):
                started = month_start + timedelta(seconds=span * k / rows_per_subscriber)
                cp.write_row((tenant_id, f"h-{s.username}-{k}", started, started + timedelta(seconds=1800),
                              ids[s.username], None, s.username, f"{k:08X}", per // 5, per - per // 5, 1800,
                              "User-Request"))
