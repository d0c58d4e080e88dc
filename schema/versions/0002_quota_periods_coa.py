"""Billing periods, quota crossing and the CoA outbox.

* cloudos_period(): the one definition of a billing period, used by accounting
  (which counter a delta goes to) and by authorize (which counter to read).
  'monthly' is the calendar month in the tenant's zone; 'Nd' is N local days
  aligned on the subscriber's expiry (or on 1970-01-01 when there is none).
* session_open.nas_address: where a CoA or Disconnect for the session goes.
* cloudos_account() counts into the period of the subscriber's plan and, when a
  delta carries the subscriber across a quota, queues a CoA-Request with the FUP
  rate (or a Disconnect-Request when the plan has no FUP) for each open session,
  and notifies `cloudos worker` (LISTEN cloudos_coa).

Revision ID: 0002
Revises: 0001
"""

from alembic import op

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None

UPGRADE = r"""
CREATE FUNCTION cloudos_period(p_period text, p_tz text, p_expires timestamptz, p_at timestamptz,
                               OUT period_start timestamptz, OUT period_end timestamptz)
LANGUAGE plpgsql STABLE AS $$
DECLARE
  local_at timestamp := p_at AT TIME ZONE p_tz;
  anchor timestamp;
  days integer;
  k bigint;
BEGIN
  IF p_period IS NULL OR p_period = 'monthly' THEN
    period_start := date_trunc('month', local_at) AT TIME ZONE p_tz;
    period_end := (date_trunc('month', local_at) + interval '1 month') AT TIME ZONE p_tz;
    RETURN;
  END IF;
  days := rtrim(p_period, 'd')::integer;
  anchor := coalesce(p_expires AT TIME ZONE p_tz, timestamp '1970-01-01');
  k := floor(extract(epoch FROM local_at - anchor) / (days * 86400.0))::bigint;
  period_start := (anchor + make_interval(days => (k * days)::integer)) AT TIME ZONE p_tz;
  period_end := (anchor + make_interval(days => ((k + 1) * days)::integer)) AT TIME ZONE p_tz;
  -- A boundary inside a skipped hour (clocks going forward) resolves an hour
  -- late: step so that the period contains p_at.
  IF p_at < period_start THEN
    k := k - 1;
  ELSIF p_at >= period_end THEN
    k := k + 1;
  ELSE
    RETURN;
  END IF;
  period_start := (anchor + make_interval(days => (k * days)::integer)) AT TIME ZONE p_tz;
  period_end := (anchor + make_interval(days => ((k + 1) * days)::integer)) AT TIME ZONE p_tz;
END $$;

-- Failed-login throttling: wrong passwords are counted in Redis (shared by every
-- radiusd); this many within the window lock the username out for the lockout
-- time, recorded in subscriber.locked_until, which authorize reads anyway.
ALTER TABLE subscriber ADD COLUMN locked_until timestamptz;
GRANT UPDATE (locked_until) ON subscriber TO cloudos_radius;
ALTER TABLE tenant ADD COLUMN login_fail_limit integer NOT NULL DEFAULT 5 CHECK (login_fail_limit >= 1),
                   ADD COLUMN login_fail_window_seconds integer NOT NULL DEFAULT 300 CHECK (login_fail_window_seconds >= 1),
                   ADD COLUMN login_lockout_seconds integer NOT NULL DEFAULT 900 CHECK (login_lockout_seconds >= 1);

ALTER TABLE session_open ADD COLUMN nas_address inet;
ALTER TABLE coa_outbox ADD COLUMN nas_address inet;
ALTER TABLE coa_outbox ADD COLUMN reason text;
ALTER TABLE coa_outbox ADD COLUMN subscriber_id bigint;
-- Room on each page for the new row version an interim writes (a HOT update, no
-- index touched: updated_at and the counters are in no index). The reaper scans
-- this small table once a minute instead.
ALTER TABLE session_open SET (fillfactor = 70);

-- Queue a CoA (new rate) or a Disconnect for these sessions, those still open,
-- and wake `cloudos worker` (the payload names the subscriber, or the reason
-- when a session has none). The one place the request's attributes are chosen:
-- RouterOS matches on User-Name with Acct-Session-Id and Framed-IP-Address.
CREATE FUNCTION cloudos_queue_coa_sessions(p_ids text[], p_kind text, p_rate text, p_reason text)
RETURNS integer LANGUAGE plpgsql AS $$
DECLARE
  queued integer;
  who bigint;
BEGIN
  WITH q AS (
    INSERT INTO coa_outbox (tenant_id, nas_id, nas_address, acct_unique_id, subscriber_id, kind, reason, attributes)
    SELECT o.tenant_id, o.nas_id, o.nas_address, o.acct_unique_id, o.subscriber_id, p_kind, p_reason,
           jsonb_strip_nulls(jsonb_build_object(
             'User-Name', o.username,
             'Acct-Session-Id', o.acct_session_id,
             'Framed-IP-Address', host(o.framed_ip),
             'Mikrotik-Rate-Limit', CASE WHEN p_kind = 'coa' THEN p_rate END))
      FROM session_open o
     WHERE o.acct_unique_id = ANY(p_ids) AND o.stopped_at IS NULL AND o.nas_id IS NOT NULL
    RETURNING subscriber_id)
  SELECT count(*), min(subscriber_id) INTO queued, who FROM q;
  IF queued > 0 THEN
    PERFORM pg_notify('cloudos_coa', coalesce(who::text, p_reason));
  END IF;
  RETURN queued;
END $$;

-- The same for every open session of a subscriber.
CREATE FUNCTION cloudos_queue_coa(p_subscriber bigint, p_kind text, p_rate text, p_reason text)
RETURNS integer LANGUAGE sql AS $$
  SELECT cloudos_queue_coa_sessions(
    ARRAY(SELECT acct_unique_id FROM session_open WHERE subscriber_id = p_subscriber AND stopped_at IS NULL),
    p_kind, p_rate, p_reason)
$$;

-- Copy a closed session into the monthly-partitioned history (idempotent: a
-- late duplicate Stop refreshes the same row).
CREATE FUNCTION cloudos_archive_session(c session_open) RETURNS integer LANGUAGE sql AS $$
  INSERT INTO session (tenant_id, acct_unique_id, started_at, stopped_at, subscriber_id, nas_id, username,
                       acct_session_id, framed_ip, calling_station_id, nas_port_id, input_octets,
                       output_octets, session_time, terminate_cause)
  VALUES (c.tenant_id, c.acct_unique_id, c.started_at, c.stopped_at, c.subscriber_id, c.nas_id, c.username,
          c.acct_session_id, c.framed_ip, c.calling_station_id, c.nas_port_id, c.input_octets,
          c.output_octets, c.session_time, c.terminate_cause)
  ON CONFLICT ON CONSTRAINT session_pkey DO UPDATE
     SET input_octets = EXCLUDED.input_octets, output_octets = EXCLUDED.output_octets,
         session_time = EXCLUDED.session_time, stopped_at = EXCLUDED.stopped_at,
         terminate_cause = EXCLUDED.terminate_cause;
  SELECT 1
$$;

CREATE OR REPLACE FUNCTION cloudos_account(
  p_nas_address inet, p_uid text, p_status text, p_username text, p_acct_session_id text,
  p_event_time timestamptz, p_in bigint, p_out bigint, p_time bigint,
  p_framed_ip inet, p_calling text, p_nas_port_id text, p_cause text)
RETURNS TABLE (result text, tenant_id bigint, subscriber_id bigint, d_in bigint, d_out bigint, d_time bigint)
LANGUAGE plpgsql AS $$
#variable_conflict use_column
DECLARE
  n record;
  sub record;
  o session_open%ROWTYPE;
  per record;
  u record;
  over_before boolean;
  over_after boolean;
  archived integer;
BEGIN
  SELECT nas.id, nas.tenant_id, t.timezone INTO n
    FROM nas JOIN tenant t ON t.id = nas.tenant_id
   WHERE nas.address >>= p_nas_address;
  IF NOT FOUND THEN
    RETURN QUERY SELECT 'unknown_nas'::text, NULL::bigint, NULL::bigint, 0::bigint, 0::bigint, 0::bigint;
    RETURN;
  END IF;

  IF p_status IN ('Accounting-On', 'Accounting-Off') THEN
    WITH closed AS (
      UPDATE session_open so
         SET stopped_at = p_event_time, terminate_cause = 'NAS-Reboot'
       WHERE so.nas_id = n.id AND so.stopped_at IS NULL
      RETURNING so.*)
    SELECT count(cloudos_archive_session(c)) INTO archived FROM closed c;
    RAISE LOG 'cloudos_account: Accounting-On/Off from NAS % closed % sessions', n.id, archived;
    RETURN QUERY SELECT 'nas_reset'::text, n.tenant_id, NULL::bigint, 0::bigint, 0::bigint, 0::bigint;
    RETURN;
  END IF;

  SELECT s.id, s.expires_at, p.period, p.quota_bytes, p.quota_download_bytes, p.quota_upload_bytes,
         p.time_quota_seconds, p.fup_rate_limit
    INTO sub
    FROM subscriber s LEFT JOIN plan p ON p.id = s.plan_id
   WHERE s.tenant_id = n.tenant_id AND s.username = p_username;

  -- The session's row, locked: a concurrent packet of the same session waits here
  -- and then sees this one's counters, so a delta is never counted twice.
  SELECT * INTO o FROM session_open so WHERE so.acct_unique_id = p_uid FOR UPDATE;
  IF NOT FOUND THEN
    -- First packet of the session (a Start, or whatever arrived first): one insert,
    -- and everything it reports is new.
    INSERT INTO session_open AS so (acct_unique_id, tenant_id, subscriber_id, nas_id, nas_address, username,
                                    acct_session_id, started_at, updated_at, framed_ip, calling_station_id,
                                    nas_port_id, input_octets, output_octets, session_time, stopped_at,
                                    terminate_cause)
    VALUES (p_uid, n.tenant_id, sub.id, n.id, p_nas_address, p_username, p_acct_session_id,
            p_event_time - make_interval(secs => p_time), p_event_time, p_framed_ip, p_calling, p_nas_port_id,
            p_in, p_out, p_time, CASE WHEN p_status = 'Stop' THEN p_event_time END,
            CASE WHEN p_status = 'Stop' THEN p_cause END)
    ON CONFLICT (acct_unique_id) DO NOTHING
    RETURNING so.* INTO o;
    IF FOUND THEN
      d_in := p_in;
      d_out := p_out;
      d_time := p_time;
    ELSE
      -- Another radiusd inserted it in between: continue as an update of its row.
      SELECT * INTO o FROM session_open so WHERE so.acct_unique_id = p_uid FOR UPDATE;
    END IF;
  END IF;

  IF d_in IS NULL THEN
    d_in := greatest(p_in - o.input_octets, 0);
    d_out := greatest(p_out - o.output_octets, 0);
    d_time := greatest(p_time - o.session_time, 0);
    -- A duplicate or a late interim changes nothing: no write at all.
    IF d_in > 0 OR d_out > 0 OR d_time > 0 OR (p_status = 'Stop' AND o.stopped_at IS NULL)
       OR (o.framed_ip IS NULL AND p_framed_ip IS NOT NULL) OR p_event_time > o.updated_at THEN
      UPDATE session_open so
         SET input_octets = greatest(o.input_octets, p_in),
             output_octets = greatest(o.output_octets, p_out),
             session_time = greatest(o.session_time, p_time),
             updated_at = greatest(o.updated_at, p_event_time),
             framed_ip = coalesce(o.framed_ip, p_framed_ip),
             nas_address = coalesce(o.nas_address, p_nas_address),
             stopped_at = CASE WHEN p_status = 'Stop' THEN coalesce(o.stopped_at, p_event_time) ELSE o.stopped_at END,
             terminate_cause = CASE WHEN p_status = 'Stop' THEN coalesce(o.terminate_cause, p_cause)
                                    ELSE o.terminate_cause END
       WHERE so.acct_unique_id = p_uid
      RETURNING so.* INTO o;
    END IF;
  END IF;

  IF o.subscriber_id IS NOT NULL AND (d_in > 0 OR d_out > 0 OR d_time > 0) THEN
    SELECT * INTO per FROM cloudos_period(sub.period, n.timezone, sub.expires_at, p_event_time);
    INSERT INTO usage_counter AS uc (tenant_id, subscriber_id, period_start, period_end,
                                     input_octets, output_octets, session_time)
    VALUES (n.tenant_id, o.subscriber_id, per.period_start, per.period_end, d_in, d_out, d_time)
    ON CONFLICT (subscriber_id, period_start) DO UPDATE
       SET input_octets = uc.input_octets + EXCLUDED.input_octets,
           output_octets = uc.output_octets + EXCLUDED.output_octets,
           session_time = uc.session_time + EXCLUDED.session_time,
           updated_at = now()
    RETURNING uc.input_octets, uc.output_octets, uc.session_time INTO u;

    -- Crossing a quota in this very packet (the counter row lock makes exactly
    -- one packet see the crossing): slow down or disconnect every open session.
    over_after := (sub.quota_bytes IS NOT NULL AND u.input_octets + u.output_octets >= sub.quota_bytes)
               OR (sub.quota_download_bytes IS NOT NULL AND u.output_octets >= sub.quota_download_bytes)
               OR (sub.quota_upload_bytes IS NOT NULL AND u.input_octets >= sub.quota_upload_bytes)
               OR (sub.time_quota_seconds IS NOT NULL AND u.session_time >= sub.time_quota_seconds);
    over_before := (sub.quota_bytes IS NOT NULL AND u.input_octets + u.output_octets - d_in - d_out >= sub.quota_bytes)
               OR (sub.quota_download_bytes IS NOT NULL AND u.output_octets - d_out >= sub.quota_download_bytes)
               OR (sub.quota_upload_bytes IS NOT NULL AND u.input_octets - d_in >= sub.quota_upload_bytes)
               OR (sub.time_quota_seconds IS NOT NULL AND u.session_time - d_time >= sub.time_quota_seconds);
    IF over_after AND NOT over_before THEN
      PERFORM cloudos_queue_coa(o.subscriber_id,
                                CASE WHEN sub.fup_rate_limit IS NOT NULL THEN 'coa' ELSE 'disconnect' END,
                                sub.fup_rate_limit, 'quota_exhausted');
    END IF;
  END IF;

  IF o.stopped_at IS NOT NULL THEN
    PERFORM cloudos_archive_session(o);
  END IF;

  result := 'ok';
  tenant_id := o.tenant_id;
  subscriber_id := o.subscriber_id;
  RETURN NEXT;
END $$;

-- A session with no accounting since this instant is stale: two interim intervals
-- (plus the 10 % per-subscriber jitter) and a minute of margin.
CREATE FUNCTION cloudos_stale_cutoff(p_now timestamptz, p_interim integer) RETURNS timestamptz
LANGUAGE sql IMMUTABLE AS $$
  SELECT p_now - make_interval(secs => 2 * ceil(p_interim * 1.1) + 60)
$$;

-- Close stale sessions (a NAS that rebooted without Accounting-Off must not lock
-- its users out), and forget closed sessions once late duplicates can no longer
-- arrive (they stay in the session history).
CREATE FUNCTION cloudos_reap_sessions(p_now timestamptz, OUT reaped integer, OUT purged integer)
LANGUAGE plpgsql AS $$
BEGIN
  WITH stale AS (
    UPDATE session_open o
       SET stopped_at = o.updated_at, terminate_cause = 'Stale'
      FROM tenant t
     WHERE t.id = o.tenant_id AND o.stopped_at IS NULL
       AND o.updated_at < cloudos_stale_cutoff(p_now, t.interim_interval)
    RETURNING o.*)
  SELECT count(cloudos_archive_session(c)) INTO reaped FROM stale c;
  DELETE FROM session_open WHERE stopped_at < p_now - interval '2 days';
  GET DIAGNOSTICS purged = ROW_COUNT;
END $$;

GRANT EXECUTE ON FUNCTION cloudos_period(text, text, timestamptz, timestamptz) TO cloudos_radius, cloudos_admin;
GRANT EXECUTE ON FUNCTION cloudos_stale_cutoff(timestamptz, integer) TO cloudos_radius, cloudos_admin;
GRANT EXECUTE ON FUNCTION cloudos_archive_session(session_open) TO cloudos_radius, cloudos_admin;
GRANT EXECUTE ON FUNCTION cloudos_reap_sessions(timestamptz) TO cloudos_admin;
GRANT EXECUTE ON FUNCTION cloudos_queue_coa(bigint, text, text, text) TO cloudos_admin;
GRANT EXECUTE ON FUNCTION cloudos_queue_coa_sessions(text[], text, text, text) TO cloudos_admin;
"""


def upgrade() -> None:
    op.execute(UPGRADE)


def downgrade() -> None:
    raise NotImplementedError("schema downgrades are not supported: restore the daily backup instead")
