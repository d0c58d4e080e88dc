"""SQL text of the hot path, parameterised; each hook is one round trip."""

# Tenant, subscriber, plan, this period's usage and the sessions without a Stop
# (policy.sessions decides which are live), in the order store.rows.access_context
# reads them. Parameter: now.
_CONTEXT = """
       t.id, t.name, t.timezone, t.interim_interval,
       t.walled_garden_address_list, t.walled_garden_rate_limit,
       t.backend_down_policy, t.backend_down_cache_seconds,
       t.login_fail_limit, t.login_fail_window_seconds, t.login_lockout_seconds,
       s.id, s.password_enc, s.status, s.expires_at, upper(s.mac::text), host(s.static_ip), s.locked_until,
       p.id, p.name, p.rate_limit, p.quota_bytes, p.fup_rate_limit, p.period,
       p.simultaneous_use, p.address_list, p.ip_pool,
       p.quota_download_bytes, p.quota_upload_bytes, p.time_quota_seconds,
       per.period_start, per.period_end, u.input_octets, u.output_octets, u.session_time,
       (SELECT json_agg(json_build_array(o.acct_unique_id, o.nas_id, extract(epoch FROM o.updated_at),
                                         upper(coalesce(o.calling_station_id, ''))))
          FROM session_open o WHERE o.subscriber_id = s.id AND o.stopped_at IS NULL)"""

_USAGE = """
  LEFT JOIN plan p ON p.id = s.plan_id
  LEFT JOIN LATERAL cloudos_period(p.period, t.timezone, s.expires_at, %(now)s) per ON s.id IS NOT NULL
  LEFT JOIN usage_counter u ON u.subscriber_id = s.id AND u.period_start = per.period_start"""

# Everything authorize needs, in one statement, keyed by the packet's source
# address (which decides NAS and tenant) and the User-Name.
AUTHORIZE = f"""
SELECT n.id, n.name,{_CONTEXT}
  FROM nas n
  JOIN tenant t ON t.id = n.tenant_id
  LEFT JOIN subscriber s ON s.tenant_id = n.tenant_id AND s.username = %(username)s{_USAGE}
 WHERE n.address >>= %(nas_address)s::inet
"""

# The same facts for `cloudos explain`, keyed by tenant instead of NAS.
EXPLAIN = f"""
SELECT NULL::bigint, NULL::text,{_CONTEXT}
  FROM tenant t
  LEFT JOIN subscriber s ON s.tenant_id = t.id AND s.username = %(username)s{_USAGE}
 WHERE t.id = %(tenant_id)s
"""

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

# Batches of auth-log rows, written by one COPY (far less work per row than INSERTs).
COPY_AUTH_LOG = """
COPY auth_log (at, tenant_id, nas_id, subscriber_id, username, outcome, reason, auth_method,
               calling_station_id, nas_port_id, nas_port_type, framed_ip, walled_garden) FROM STDIN
"""
