"""SQL text of the hot path, parameterised; each hook is one round trip."""

from __future__ import annotations

from datetime import datetime
from typing import Any, NamedTuple

from psycopg import sql as q

# The columns of AUTHORIZE and EXPLAIN are defined once, by AccessRow (its field
# names and order) and the SQL expression of each field below. Both statements are
# composed from them with psycopg.sql, and store.rows reads the row by AccessRow's
# names: adding or moving a column is one edit here, never a count of positions.


class AccessRow(NamedTuple):
    """One row of AUTHORIZE or EXPLAIN: the NAS, tenant, subscriber, plan, this period's
    usage and the sessions without a Stop (policy.sessions decides which are live)."""

    nas_id: int | None
    nas_name: str | None
    tenant_id: int
    tenant_name: str
    timezone: str
    interim_interval: int
    walled_garden_address_list: str | None
    walled_garden_rate_limit: str | None
    backend_down_policy: str
    backend_down_cache_seconds: int
    login_fail_limit: int
    login_fail_window_seconds: int
    login_lockout_seconds: int
    subscriber_id: int | None
    password_enc: bytes | None
    status: str | None
    expires_at: datetime | None
    mac: str | None
    static_ip: str | None
    locked_until: datetime | None
    plan_id: int | None
    plan_name: str | None
    rate_limit: str | None
    quota_bytes: int | None
    fup_rate_limit: str | None
    period: str | None
    simultaneous_use: int | None
    address_list: str | None
    ip_pool: str | None
    quota_download_bytes: int | None
    quota_upload_bytes: int | None
    time_quota_seconds: int | None
    period_start: datetime | None
    period_end: datetime | None
    input_octets: int | None
    output_octets: int | None
    session_time: int | None
    #: [[acct_unique_id, nas_id, epoch of the last accounting, upper-case MAC or ''], …] or None.
    open_sessions: list[list[Any]] | None


#: The SQL of each AccessRow field but the NAS's two, over the aliases t (tenant),
#: s (subscriber), p (plan), per (cloudos_period()) and u (usage_counter).
_CONTEXT_EXPRESSIONS = {
    "tenant_id": "t.id",
    "tenant_name": "t.name",
    "timezone": "t.timezone",
    "interim_interval": "t.interim_interval",
    "walled_garden_address_list": "t.walled_garden_address_list",
    "walled_garden_rate_limit": "t.walled_garden_rate_limit",
    "backend_down_policy": "t.backend_down_policy",
    "backend_down_cache_seconds": "t.backend_down_cache_seconds",
    "login_fail_limit": "t.login_fail_limit",
    "login_fail_window_seconds": "t.login_fail_window_seconds",
    "login_lockout_seconds": "t.login_lockout_seconds",
    "subscriber_id": "s.id",
    "password_enc": "s.password_enc",
    "status": "s.status",
    "expires_at": "s.expires_at",
    "mac": "upper(s.mac::text)",
    "static_ip": "host(s.static_ip)",
    "locked_until": "s.locked_until",
    "plan_id": "p.id",
    "plan_name": "p.name",
    "rate_limit": "p.rate_limit",
    "quota_bytes": "p.quota_bytes",
    "fup_rate_limit": "p.fup_rate_limit",
    "period": "p.period",
    "simultaneous_use": "p.simultaneous_use",
    "address_list": "p.address_list",
    "ip_pool": "p.ip_pool",
    "quota_download_bytes": "p.quota_download_bytes",
    "quota_upload_bytes": "p.quota_upload_bytes",
    "time_quota_seconds": "p.time_quota_seconds",
    "period_start": "per.period_start",
    "period_end": "per.period_end",
    "input_octets": "u.input_octets",
    "output_octets": "u.output_octets",
    "session_time": "u.session_time",
    "open_sessions": """(SELECT json_agg(json_build_array(o.acct_unique_id, o.nas_id, extract(epoch FROM o.updated_at),
                                         upper(coalesce(o.calling_station_id, ''))))
          FROM session_open o WHERE o.subscriber_id = s.id AND o.stopped_at IS NULL)""",
}


def _columns(nas_id: str, nas_name: str, **instead: str) -> q.Composed:
    """AccessRow's select list, in its order, each expression named by its field (``instead``:
    another expression for a field)."""
    expressions = {"nas_id": nas_id, "nas_name": nas_name, **_CONTEXT_EXPRESSIONS, **instead}
    if tuple(expressions) != AccessRow._fields:
        raise AssertionError("store.sql: _CONTEXT_EXPRESSIONS and AccessRow name different columns")
    return q.SQL(",\n       ").join(q.SQL("{} AS {}").format(q.SQL(e), q.Identifier(n)) for n, e in expressions.items())


_USAGE = q.SQL("""
  LEFT JOIN plan p ON p.id = s.plan_id
  LEFT JOIN LATERAL cloudos_period(p.period, t.timezone, s.expires_at, %(now)s) per ON s.id IS NOT NULL
  LEFT JOIN usage_counter u ON u.subscriber_id = s.id AND u.period_start = per.period_start""")

# Everything authorize needs, in one statement, keyed by the packet's source
# address (which decides NAS and tenant) and the User-Name.
AUTHORIZE = q.SQL("""
SELECT {columns}
  FROM nas n
  JOIN tenant t ON t.id = n.tenant_id
  LEFT JOIN subscriber s ON s.tenant_id = n.tenant_id AND s.username = %(username)s{usage}
 WHERE n.address >>= %(nas_address)s::inet
""").format(columns=_columns("n.id", "n.name"), usage=_USAGE).as_string()

# The same facts for `cloudos explain`, keyed by tenant instead of NAS, without the password's
# ciphertext: explain decides as if the password were right, and support and auditor operators,
# who run it, may not read the column (schema 0018).
EXPLAIN = q.SQL("""
SELECT {columns}
  FROM tenant t
  LEFT JOIN subscriber s ON s.tenant_id = t.id AND s.username = %(username)s{usage}
 WHERE t.id = %(tenant_id)s
""").format(columns=_columns("NULL::bigint", "NULL::text", password_enc="NULL::bytea"), usage=_USAGE).as_string()

# Wrong passwords reached the tenant's limit: refuse the username until then.
LOCK_SUBSCRIBER = """
UPDATE subscriber SET locked_until = %(until)s WHERE id = %(id)s
"""

# The NAS whose address or network contains a packet's source address.
LOOKUP_NAS = """
SELECT n.id, n.name, t.name, n.secret_enc, t.id
  FROM nas n JOIN tenant t ON t.id = n.tenant_id
 WHERE n.address >>= %(nas_address)s::inet
"""

ACCOUNT = """
SELECT result, tenant_id, subscriber_id, d_in, d_out, d_time, feed
  FROM cloudos_account(%(nas_address)s::inet, %(uid)s, %(status)s, %(username)s, %(acct_session_id)s,
                       now() - make_interval(secs => %(delay)s), %(input)s, %(output)s, %(time)s,
                       %(framed_ip)s::inet, %(calling)s, %(nas_port_id)s, %(cause)s)
"""

# A batch of accounting journal records, as on disk (rlm_cloudos.store.journal.encode), in
# one JSON array; a row only for what the drainer acts on (schema 0005).
ACCOUNT_JOURNAL = """
SELECT n, result, feed FROM cloudos_account_journal(%(records)s::jsonb, %(now)s)
"""

# Batches of auth-log rows, written by one INSERT of one array per column (far less work per row
# than an INSERT each). Not COPY: PostgreSQL refuses COPY FROM into a table under row-level
# security (schema 0018) for any role it applies to.
INSERT_AUTH_LOG = """
INSERT INTO auth_log (at, tenant_id, nas_id, subscriber_id, username, outcome, reason, auth_method,
                      calling_station_id, nas_port_id, nas_port_type, framed_ip, walled_garden)
SELECT * FROM unnest(%s::timestamptz[], %s::bigint[], %s::bigint[], %s::bigint[], %s::text[], %s::text[],
                     %s::text[], %s::text[], %s::text[], %s::text[], %s::text[], %s::inet[], %s::boolean[])
"""

# How far this radiusd's accounting journal is applied (schema 0011): every record it received
# before ``caught_up`` (its own clock, like ``now``) is in PostgreSQL. Stored on PostgreSQL's
# clock, whatever the skew between the hosts; the reaper waits for the oldest.
JOURNAL_STATUS = """
INSERT INTO journal_node AS j (node, caught_up_at, seen_at)
VALUES (%(node)s, now() - make_interval(secs => greatest(0, %(now)s - %(caught_up)s)), now())
ON CONFLICT (node) DO UPDATE SET caught_up_at = EXCLUDED.caught_up_at, seen_at = EXCLUDED.seen_at
"""

# The journal closed with nothing waiting: nothing of this node's can hold the reaper back.
JOURNAL_CLOSED = """
DELETE FROM journal_node WHERE node = %(node)s
"""
