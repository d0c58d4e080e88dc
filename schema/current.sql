-- The schema as schema/versions leave it: `cloudos db schema --write` writes this file,
-- and tests/integration/test_schema_current.py holds it equal to a freshly migrated database.
-- Monthly partitions (<parent>_yYYYYmMM) are left out: which exist depends on the day.

--
-- Roles named by the grants below (global objects, created by 0001)
--

CREATE ROLE cloudos_admin NOLOGIN;
CREATE ROLE cloudos_metrics NOLOGIN;
CREATE ROLE cloudos_op_admin NOLOGIN;
CREATE ROLE cloudos_op_auditor NOLOGIN;
CREATE ROLE cloudos_op_billing NOLOGIN;
CREATE ROLE cloudos_op_support NOLOGIN;
CREATE ROLE cloudos_operator NOLOGIN;
CREATE ROLE cloudos_radius NOLOGIN;
CREATE ROLE cloudos_worker NOLOGIN;

--
-- PostgreSQL database dump
--

--
-- Name: cloudos_account(inet, text, text, text, text, timestamp with time zone, bigint, bigint, bigint, inet, text, text, text); Type: FUNCTION; Schema: public; Owner: -
--

CREATE FUNCTION public.cloudos_account(p_nas_address inet, p_uid text, p_status text, p_username text, p_acct_session_id text, p_event_time timestamp with time zone, p_in bigint, p_out bigint, p_time bigint, p_framed_ip inet, p_calling text, p_nas_port_id text, p_cause text) RETURNS TABLE(result text, tenant_id bigint, subscriber_id bigint, d_in bigint, d_out bigint, d_time bigint, feed text)
    LANGUAGE plpgsql
    SET enable_seqscan TO 'off'
    AS $$
#variable_conflict use_column
DECLARE
  n record;
  sub record;
  o session_open%ROWTYPE;
  h record;
  per record;
  u record;
  over_before boolean;
  over_after boolean;
  archived integer;
  wrote boolean := false;
  first_packet boolean := false;
  reopen boolean := false;
  stop_now boolean := false;
  counters text := '- - - -';
BEGIN
  SELECT nas.id, nas.tenant_id, t.timezone INTO n
    FROM nas JOIN tenant t ON t.id = nas.tenant_id
   WHERE nas.address >>= p_nas_address;
  IF NOT FOUND THEN
    RETURN QUERY SELECT 'unknown_nas'::text, NULL::bigint, NULL::bigint, 0::bigint, 0::bigint, 0::bigint, NULL::text;
    RETURN;
  END IF;

  IF p_status IN ('Accounting-On', 'Accounting-Off') THEN
    WITH closed AS (
      UPDATE session_open so
         SET stopped_at = p_event_time, terminate_cause = 'NAS-Reboot', closed_by = 'nas_reset'
       WHERE so.nas_id = n.id AND so.stopped_at IS NULL
         -- Only what the reboot ended: a session heard from at or after the event began after
         -- it (a replayed batch or a late retransmit of the On must not close it).
         AND so.updated_at < p_event_time
      RETURNING so.*)
    SELECT count(cloudos_archive_session(c)) INTO archived FROM closed c;
    RAISE LOG 'cloudos_account: Accounting-On/Off from NAS % closed % sessions', n.id, archived;
    -- The event time goes with the message: a cache drops only the sessions the reboot ended.
    PERFORM pg_notify('cloudos_authz', 'X ' || n.id || ' ' || extract(epoch FROM p_event_time));
    RETURN QUERY SELECT 'nas_reset'::text, n.tenant_id, NULL::bigint, 0::bigint, 0::bigint, 0::bigint,
                        'X ' || n.id || ' ' || extract(epoch FROM p_event_time);
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
    SELECT NULL::timestamptz AS started_at, NULL::bigint AS input_octets, NULL::bigint AS output_octets,
           NULL::bigint AS session_time INTO h;
    -- A packet with counters and no row: a lost Start, or a session whose row was purged.
    -- What the history holds of it was counted already (the row should have outlived any
    -- packet, see cloudos_reap_sessions(); this is the guard if it did not).
    IF p_status <> 'Start' AND (p_in > 0 OR p_out > 0 OR p_time > 0) THEN
      SELECT hs.started_at, hs.input_octets, hs.output_octets, hs.session_time INTO h
        FROM session hs
       WHERE hs.tenant_id = n.tenant_id AND hs.acct_unique_id = p_uid
         AND hs.started_at BETWEEN p_event_time - make_interval(secs => p_time) - interval '1 day'
                               AND p_event_time - make_interval(secs => p_time) + interval '1 day'
       ORDER BY hs.started_at DESC LIMIT 1;
    END IF;
    -- First packet of the session (a Start, or whatever arrived first): one insert,
    -- and everything it reports is new (past the history's counters, if any).
    INSERT INTO session_open AS so (acct_unique_id, tenant_id, subscriber_id, nas_id, nas_address, username,
                                    acct_session_id, started_at, updated_at, framed_ip, calling_station_id,
                                    nas_port_id, input_octets, output_octets, session_time, stopped_at,
                                    terminate_cause, closed_by)
    VALUES (p_uid, n.tenant_id, sub.id, n.id, p_nas_address, p_username, p_acct_session_id,
            coalesce(h.started_at, p_event_time - make_interval(secs => p_time)), p_event_time, p_framed_ip,
            p_calling, p_nas_port_id, greatest(p_in, h.input_octets), greatest(p_out, h.output_octets),
            greatest(p_time, h.session_time), CASE WHEN p_status = 'Stop' THEN p_event_time END,
            CASE WHEN p_status = 'Stop' THEN p_cause END, CASE WHEN p_status = 'Stop' THEN 'stop' END)
    ON CONFLICT (acct_unique_id) DO NOTHING
    RETURNING so.* INTO o;
    IF FOUND THEN
      wrote := true;
      first_packet := true;
      d_in := greatest(p_in - coalesce(h.input_octets, 0), 0);
      d_out := greatest(p_out - coalesce(h.output_octets, 0), 0);
      d_time := greatest(p_time - coalesce(h.session_time, 0), 0);
      IF h.started_at IS NOT NULL AND p_status <> 'Stop' THEN
        -- Back from the history, and alive: open there too.
        UPDATE session hs SET stopped_at = NULL, terminate_cause = NULL
         WHERE hs.tenant_id = o.tenant_id AND hs.acct_unique_id = o.acct_unique_id AND hs.started_at = o.started_at;
      END IF;
    ELSE
      -- Another radiusd inserted it in between: continue as an update of its row.
      SELECT * INTO o FROM session_open so WHERE so.acct_unique_id = p_uid FOR UPDATE;
    END IF;
  END IF;

  IF d_in IS NULL THEN
    d_in := greatest(p_in - o.input_octets, 0);
    d_out := greatest(p_out - o.output_octets, 0);
    d_time := greatest(p_time - o.session_time, 0);
    -- A Stop is final: it closes an open session, and it replaces the reaper's or an
    -- On/Off's guess (the session's true end and cause). Nothing reopens what it closed.
    stop_now := p_status = 'Stop' AND o.closed_by IS DISTINCT FROM 'stop';
    -- Closed by a guess and heard from again: it is alive. A packet newer than the close
    -- says so; so do counters that grew since the reaper's close (it closes at the last
    -- packet stored). An interim from before an On/Off, late, proves nothing after it.
    reopen := p_status <> 'Stop' AND o.closed_by IN ('stale', 'nas_reset')
              AND (p_event_time > o.stopped_at
                   OR (o.closed_by = 'stale' AND (d_in > 0 OR d_out > 0 OR d_time > 0)));
    -- A duplicate or a late interim changes nothing: no write at all.
    IF d_in > 0 OR d_out > 0 OR d_time > 0 OR stop_now OR reopen
       OR (o.framed_ip IS NULL AND p_framed_ip IS NOT NULL) OR p_event_time > o.updated_at THEN
      UPDATE session_open so
         SET input_octets = greatest(o.input_octets, p_in),
             output_octets = greatest(o.output_octets, p_out),
             session_time = greatest(o.session_time, p_time),
             updated_at = greatest(o.updated_at, p_event_time),
             framed_ip = coalesce(o.framed_ip, p_framed_ip),
             nas_address = coalesce(o.nas_address, p_nas_address),
             stopped_at = CASE WHEN stop_now THEN p_event_time WHEN reopen THEN NULL ELSE o.stopped_at END,
             terminate_cause = CASE WHEN stop_now THEN p_cause WHEN reopen THEN NULL ELSE o.terminate_cause END,
             closed_by = CASE WHEN stop_now THEN 'stop' WHEN reopen THEN NULL ELSE o.closed_by END
       WHERE so.acct_unique_id = p_uid
      RETURNING so.* INTO o;
      wrote := true;
      IF reopen THEN
        -- Its history row was written at the close: open again, until the next close rewrites it.
        UPDATE session hs
           SET stopped_at = NULL, terminate_cause = NULL, input_octets = o.input_octets,
               output_octets = o.output_octets, session_time = o.session_time
         WHERE hs.tenant_id = o.tenant_id AND hs.acct_unique_id = o.acct_unique_id AND hs.started_at = o.started_at;
        RAISE LOG 'cloudos_account: session % reopened by %', p_uid, p_status;
      END IF;
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
    counters := concat_ws(' ', floor(extract(epoch FROM per.period_start))::bigint, u.input_octets, u.output_octets,
                          u.session_time);

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

  -- What changed for authorize: the session as it now stands and, when counted,
  -- the period's counters (absolute values, so replaying a message is harmless).
  -- Every radiusd's authorize cache applies it (rlm_cloudos.store.authz).
  IF wrote AND o.subscriber_id IS NOT NULL THEN
    feed := concat_ws(' ', 'A', o.subscriber_id, o.acct_unique_id, coalesce(o.nas_id, 0),
                      extract(epoch FROM o.updated_at), (o.stopped_at IS NOT NULL)::int, counters,
                      upper(coalesce(o.calling_station_id, '')));
    -- Announced to the other radiusd only when it can change what they decide: a
    -- session appears, comes back or ends, or a quota is crossed. A NOTIFY serialises
    -- commits database-wide (PreCommit_Notify takes one lock until the commit is flushed):
    -- on every interim it halved accounting throughput (1,950 against 3,450 packets/s,
    -- 8 connections). Between those events another radiusd's cached counters lag by
    -- the interims since, so the limits it sends are generous by that much, and
    -- the crossing itself is still detected here and enforced by CoA.
    IF first_packet OR reopen OR p_status NOT IN ('Interim-Update', 'Alive')
       OR coalesce(over_after AND NOT over_before, false) THEN
      PERFORM pg_notify('cloudos_authz', feed);
    END IF;
  END IF;

  result := 'ok';
  tenant_id := o.tenant_id;
  subscriber_id := o.subscriber_id;
  RETURN NEXT;
END $$;

--
-- Name: cloudos_account_journal(jsonb, double precision); Type: FUNCTION; Schema: public; Owner: -
--

CREATE FUNCTION public.cloudos_account_journal(p_records jsonb, p_now double precision) RETURNS TABLE(n integer, result text, feed text)
    LANGUAGE plpgsql
    SET enable_seqscan TO 'off'
    AS $$
DECLARE
  r jsonb;
  a record;
  i integer := 0;
BEGIN
  FOR r IN SELECT value FROM jsonb_array_elements(p_records) LOOP
    i := i + 1;
    IF jsonb_typeof(r) = 'array' THEN
      -- Version 1: [received, lane, status, user_name, nas_address, acct_unique_id,
      -- acct_session_id, input_octets, output_octets, session_time, delay, framed_ip,
      -- calling_station_id, nas_port_id, terminate_cause]
      r := jsonb_build_object('v', 2, 'rcv', r->0, 'st', r->2, 'u', r->3, 'n', r->4, 'id', r->5, 'sid', r->6,
                              'in', r->7, 'out', r->8, 't', r->9, 'd', r->10, 'ip', r->11, 'mac', r->12,
                              'port', r->13, 'cause', r->14);
    ELSIF (r->>'v') IS DISTINCT FROM '2' THEN
      RAISE EXCEPTION 'accounting journal record % has version %, not 2', i, coalesce(r->>'v', 'none')
        USING ERRCODE = 'invalid_parameter_value';
    END IF;
    -- Version 2: rlm_cloudos.store.journal_record.KEYS names each key.
    SELECT * INTO a FROM cloudos_account(
      (r->>'n')::inet, r->>'id', r->>'st', r->>'u', r->>'sid',
      now() - make_interval(secs => (r->>'d')::double precision + greatest(0, p_now - (r->>'rcv')::double precision)),
      (r->>'in')::bigint, (r->>'out')::bigint, (r->>'t')::bigint,
      (r->>'ip')::inet, r->>'mac', r->>'port', r->>'cause') AS x;
    IF a.result <> 'ok' OR (a.feed IS NOT NULL AND r->>'st' IN ('Interim-Update', 'Alive')) THEN
      n := i;
      result := a.result;
      feed := a.feed;
      RETURN NEXT;
    END IF;
  END LOOP;
END $$;

--
-- Name: session_open; Type: TABLE; Schema: public; Owner: -
--

CREATE TABLE public.session_open (
    acct_unique_id text NOT NULL,
    tenant_id bigint NOT NULL,
    subscriber_id bigint,
    nas_id bigint,
    username text NOT NULL,
    acct_session_id text NOT NULL,
    started_at timestamp with time zone NOT NULL,
    updated_at timestamp with time zone NOT NULL,
    stopped_at timestamp with time zone,
    framed_ip inet,
    calling_station_id text,
    nas_port_id text,
    input_octets bigint DEFAULT 0 NOT NULL,
    output_octets bigint DEFAULT 0 NOT NULL,
    session_time bigint DEFAULT 0 NOT NULL,
    terminate_cause text,
    nas_address inet,
    closed_by text,
    CONSTRAINT session_open_closed_by_check CHECK ((closed_by = ANY (ARRAY['stop'::text, 'stale'::text, 'nas_reset'::text])))
)
WITH (fillfactor='70');

ALTER TABLE ONLY public.session_open FORCE ROW LEVEL SECURITY;

--
-- Name: cloudos_archive_session(public.session_open); Type: FUNCTION; Schema: public; Owner: -
--

CREATE FUNCTION public.cloudos_archive_session(c public.session_open) RETURNS integer
    LANGUAGE plpgsql
    AS $$
BEGIN
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
  RETURN 1;
END $$;

--
-- Name: cloudos_audit_head(); Type: FUNCTION; Schema: public; Owner: -
--

CREATE FUNCTION public.cloudos_audit_head() RETURNS text
    LANGUAGE sql STABLE SECURITY DEFINER
    SET search_path TO 'pg_catalog', 'public'
    AS $$
  SELECT hash FROM public.admin_audit ORDER BY id DESC LIMIT 1
$$;

--
-- Name: cloudos_audit_stamp(); Type: FUNCTION; Schema: public; Owner: -
--

CREATE FUNCTION public.cloudos_audit_stamp() RETURNS trigger
    LANGUAGE plpgsql
    AS $$
BEGIN
  NEW.db_user := session_user;
  RETURN NEW;
END $$;

--
-- Name: cloudos_authz_changed(); Type: FUNCTION; Schema: public; Owner: -
--

CREATE FUNCTION public.cloudos_authz_changed() RETURNS trigger
    LANGUAGE plpgsql
    AS $$
BEGIN
  PERFORM pg_notify('cloudos_authz', TG_ARGV[0] || ' ' || CASE WHEN TG_OP = 'DELETE' THEN OLD.id ELSE NEW.id END);
  RETURN NULL;
END $$;

--
-- Name: cloudos_billing_kept(); Type: FUNCTION; Schema: public; Owner: -
--

CREATE FUNCTION public.cloudos_billing_kept() RETURNS trigger
    LANGUAGE plpgsql
    AS $$
BEGIN
  IF TG_OP = 'DELETE' AND current_setting('cloudos.retention_purge', true) = 'on'
     AND current_user = (SELECT pg_get_userbyid(relowner) FROM pg_class WHERE oid = TG_RELID) THEN
    RETURN OLD;
  END IF;
  RAISE EXCEPTION '% is append-only: % refused (billing records go only by the retention schedule)',
    TG_TABLE_NAME, TG_OP USING ERRCODE = 'insufficient_privilege';
END $$;

--
-- Name: cloudos_coa_moot(timestamp with time zone); Type: FUNCTION; Schema: public; Owner: -
--

CREATE FUNCTION public.cloudos_coa_moot(p_now timestamp with time zone) RETURNS integer
    LANGUAGE plpgsql SECURITY DEFINER
    SET search_path TO 'public', 'pg_temp'
    AS $$
DECLARE
  settled integer;
BEGIN
  WITH pending AS (
    SELECT c.id, c.attempts,
           CASE WHEN o.acct_unique_id IS NULL THEN 'session closed'
                WHEN cloudos_coa_policy_reason(c.reason) AND cloudos_lapse(s, p, u.uc, p_now) IS NULL
                  THEN 'back within policy'
           END AS why
      FROM coa_outbox c
      LEFT JOIN session_open o ON o.acct_unique_id = c.acct_unique_id AND o.stopped_at IS NULL
      LEFT JOIN subscriber s ON s.id = o.subscriber_id
      LEFT JOIN plan p ON p.id = s.plan_id
      LEFT JOIN LATERAL (SELECT uc FROM usage_counter uc
                          WHERE uc.subscriber_id = s.id AND uc.period_start <= p_now AND p_now < uc.period_end
                          ORDER BY uc.period_start DESC LIMIT 1) u ON true
     WHERE c.status = 'pending'
       FOR UPDATE OF c SKIP LOCKED),
  done AS (
    UPDATE coa_outbox c
       SET status = 'cancelled', done_at = now(),
           result = pending.why || ' after ' || pending.attempts || ' attempts'
                    || coalesce(' (last: ' || c.result || ')', '')
      FROM pending
     WHERE c.id = pending.id AND pending.why IS NOT NULL
    RETURNING c.id)
  SELECT count(*) INTO settled FROM done;
  RETURN settled;
END $$;

--
-- Name: cloudos_coa_policy_reason(text); Type: FUNCTION; Schema: public; Owner: -
--

CREATE FUNCTION public.cloudos_coa_policy_reason(p_reason text) RETURNS boolean
    LANGUAGE sql IMMUTABLE
    AS $$
  SELECT p_reason IN ('terminated', 'suspended', 'expired', 'quota_exhausted')
$$;

--
-- Name: cloudos_coa_sweep(timestamp with time zone, timestamp with time zone); Type: FUNCTION; Schema: public; Owner: -
--

CREATE FUNCTION public.cloudos_coa_sweep(p_now timestamp with time zone, p_since timestamp with time zone) RETURNS integer
    LANGUAGE plpgsql SECURITY DEFINER
    SET search_path TO 'public', 'pg_temp'
    AS $$
DECLARE
  r record;
  queued integer := 0;
BEGIN
  FOR r IN
    SELECT x.lapse, array_agg(x.acct_unique_id) AS ids
      FROM (SELECT o.acct_unique_id, cloudos_lapse(s, p, u.uc, p_now) AS lapse,
                   t.walled_garden_address_list IS NOT NULL AS garden, p.fup_rate_limit IS NOT NULL AS fup
              FROM session_open o
              JOIN subscriber s ON s.id = o.subscriber_id
              JOIN tenant t ON t.id = s.tenant_id
              LEFT JOIN plan p ON p.id = s.plan_id
              LEFT JOIN LATERAL (SELECT uc FROM usage_counter uc
                                  WHERE uc.subscriber_id = s.id AND uc.period_start <= p_now
                                    AND p_now < uc.period_end
                                  ORDER BY uc.period_start DESC LIMIT 1) u ON true
             WHERE o.stopped_at IS NULL AND o.subscriber_id IS NOT NULL AND o.nas_id IS NOT NULL
               AND (p_since IS NULL OR o.started_at >= p_since)
               -- Not while one is pending, nor after a Disconnect the NAS answered; a cancelled one
               -- (the session was closed, or the subscriber was back within policy) does not count:
               -- a reaped session heard from again comes back (0011) and is held to policy again.
               AND NOT EXISTS (SELECT 1 FROM coa_outbox c
                                WHERE c.acct_unique_id = o.acct_unique_id
                                  AND (c.status = 'pending' OR (c.kind = 'disconnect' AND c.status <> 'cancelled')))) x
     WHERE x.lapse = 'terminated'
        OR (x.lapse IN ('suspended', 'expired') AND NOT x.garden)
        OR (x.lapse = 'quota_exhausted' AND NOT x.fup)
     GROUP BY x.lapse
  LOOP
    queued := queued + cloudos_queue_coa_sessions(r.ids, 'disconnect', NULL, r.lapse);
  END LOOP;
  RETURN queued;
END $$;

--
-- Name: cloudos_consented(bigint, text); Type: FUNCTION; Schema: public; Owner: -
--

CREATE FUNCTION public.cloudos_consented(p_subscriber bigint, p_purpose text) RETURNS boolean
    LANGUAGE sql STABLE SECURITY DEFINER
    SET search_path TO 'public', 'pg_temp'
    AS $$
  SELECT COALESCE((SELECT granted FROM consent WHERE subscriber_id = p_subscriber AND purpose = p_purpose
                    ORDER BY at DESC, id DESC LIMIT 1), false)
$$;

--
-- Name: cloudos_ensure_month_partitions(regclass, date, integer); Type: FUNCTION; Schema: public; Owner: -
--

CREATE FUNCTION public.cloudos_ensure_month_partitions(parent regclass, first_month date, months integer) RETURNS integer
    LANGUAGE plpgsql
    AS $$
DECLARE
  m date := date_trunc('month', first_month)::date;
  made integer := 0;
  part text;
BEGIN
  FOR i IN 1..months LOOP
    part := format('%s_y%sm%s', parent::text, to_char(m, 'YYYY'), to_char(m, 'MM'));
    IF to_regclass(part) IS NULL THEN
      EXECUTE format(
        'CREATE TABLE %I PARTITION OF %s FOR VALUES FROM (%L) TO (%L)',
        part, parent::text,
        (m::timestamp AT TIME ZONE 'UTC'),
        ((m + interval '1 month')::timestamp AT TIME ZONE 'UTC'));
      made := made + 1;
    END IF;
    m := (m + interval '1 month')::date;
  END LOOP;
  RETURN made;
END $$;

--
-- Name: cloudos_erase_billing_identity(bigint, text); Type: FUNCTION; Schema: public; Owner: -
--

CREATE FUNCTION public.cloudos_erase_billing_identity(p_subscriber bigint, p_username text) RETURNS integer
    LANGUAGE plpgsql SECURITY DEFINER
    SET search_path TO 'public', 'pg_temp'
    SET "cloudos.erasure" TO 'on'
    AS $$
DECLARE n integer;
BEGIN
  UPDATE invoice SET buyer = (buyer - 'phone' - 'email') || jsonb_build_object('username', p_username)
   WHERE subscriber_id = p_subscriber AND tenant_id = COALESCE(cloudos_tenant(), cloudos_scope(), tenant_id);
  GET DIAGNOSTICS n = ROW_COUNT;
  RETURN n;
END $$;

--
-- Name: cloudos_invoice_final(); Type: FUNCTION; Schema: public; Owner: -
--

CREATE FUNCTION public.cloudos_invoice_final() RETURNS trigger
    LANGUAGE plpgsql
    AS $$
BEGIN
  IF TG_OP = 'DELETE' THEN
    IF current_setting('cloudos.retention_purge', true) = 'on'
       AND current_user = (SELECT pg_get_userbyid(relowner) FROM pg_class WHERE oid = TG_RELID) THEN
      RETURN OLD;
    END IF;
    RAISE EXCEPTION 'invoice % was issued: it is voided by a credit note, never deleted', OLD.number
      USING ERRCODE = 'insufficient_privilege';
  END IF;
  -- An erasure (cloudos_erase_billing_identity, as the owner) takes the buyer's phone and e-mail
  -- off an issued invoice and nothing else: tax law needs the name and address, not those.
  IF current_setting('cloudos.erasure', true) = 'on'
     AND current_user = (SELECT pg_get_userbyid(relowner) FROM pg_class WHERE oid = TG_RELID)
     AND (to_jsonb(NEW) - 'buyer') IS NOT DISTINCT FROM (to_jsonb(OLD) - 'buyer') THEN
    RETURN NEW;
  END IF;
  IF OLD.status <> 'open' OR NEW.status NOT IN ('paid', 'void')
     OR (to_jsonb(NEW) - 'status' - 'paid_at') IS DISTINCT FROM (to_jsonb(OLD) - 'status' - 'paid_at') THEN
    RAISE EXCEPTION 'invoice % was issued: only its status changes, once (open to paid or void)', OLD.number
      USING ERRCODE = 'insufficient_privilege';
  END IF;
  RETURN NEW;
END $$;

--
-- Name: cloudos_isolate(regclass, text, text[]); Type: FUNCTION; Schema: public; Owner: -
--

CREATE FUNCTION public.cloudos_isolate(p_table regclass, p_key text, p_cross text[]) RETURNS void
    LANGUAGE plpgsql
    SET search_path TO 'pg_catalog', 'public'
    AS $$
DECLARE
  mine text := format('%I = (SELECT cloudos_tenant())', p_key);
  scoped text := format('(SELECT cloudos_scope()) IS NULL OR %I = (SELECT cloudos_scope())', p_key);
BEGIN
  EXECUTE format('ALTER TABLE %s ENABLE ROW LEVEL SECURITY, FORCE ROW LEVEL SECURITY', p_table);
  EXECUTE format('CREATE POLICY tenant_operator ON %s TO cloudos_operator USING (%s) WITH CHECK (%s)',
                 p_table, mine, mine);
  EXECUTE format('CREATE POLICY platform ON %s TO cloudos_admin USING (%s) WITH CHECK (%s)', p_table, scoped, scoped);
  IF cardinality(p_cross) > 0 THEN
    EXECUTE format('CREATE POLICY cross_tenant ON %s TO %s USING (true) WITH CHECK (true)', p_table,
                   (SELECT string_agg(quote_ident(r), ', ') FROM unnest(p_cross) AS r));
  END IF;
END $$;

--
-- Name: plan; Type: TABLE; Schema: public; Owner: -
--

CREATE TABLE public.plan (
    id bigint NOT NULL,
    tenant_id bigint NOT NULL,
    name text NOT NULL,
    rate_limit text NOT NULL,
    quota_bytes bigint,
    quota_download_bytes bigint,
    quota_upload_bytes bigint,
    time_quota_seconds bigint,
    fup_rate_limit text,
    period text DEFAULT 'monthly'::text NOT NULL,
    price numeric(12,2),
    simultaneous_use integer DEFAULT 1 NOT NULL,
    address_list text,
    ip_pool text,
    active boolean DEFAULT true NOT NULL,
    created_at timestamp with time zone DEFAULT now() NOT NULL,
    updated_at timestamp with time zone DEFAULT now() NOT NULL,
    CONSTRAINT plan_name_check CHECK (((length(name) >= 1) AND (length(name) <= 64))),
    CONSTRAINT plan_period_check CHECK ((period ~ '^(monthly|[1-9][0-9]{0,3}d)$'::text)),
    CONSTRAINT plan_price_check CHECK ((price >= (0)::numeric)),
    CONSTRAINT plan_quota_bytes_check CHECK ((quota_bytes > 0)),
    CONSTRAINT plan_quota_download_bytes_check CHECK ((quota_download_bytes > 0)),
    CONSTRAINT plan_quota_upload_bytes_check CHECK ((quota_upload_bytes > 0)),
    CONSTRAINT plan_simultaneous_use_check CHECK (((simultaneous_use >= 1) AND (simultaneous_use <= 1000))),
    CONSTRAINT plan_time_quota_seconds_check CHECK ((time_quota_seconds > 0))
);

ALTER TABLE ONLY public.plan FORCE ROW LEVEL SECURITY;

--
-- Name: subscriber; Type: TABLE; Schema: public; Owner: -
--

CREATE TABLE public.subscriber (
    id bigint NOT NULL,
    tenant_id bigint NOT NULL,
    username text NOT NULL,
    password_enc bytea NOT NULL,
    plan_id bigint,
    status text DEFAULT 'active'::text NOT NULL,
    status_reason text,
    expires_at timestamp with time zone,
    mac macaddr,
    static_ip inet,
    full_name text,
    phone text,
    email text,
    cnic_enc bytea,
    postal_address text,
    created_at timestamp with time zone DEFAULT now() NOT NULL,
    updated_at timestamp with time zone DEFAULT now() NOT NULL,
    terminated_at timestamp with time zone,
    locked_until timestamp with time zone,
    province text,
    tax_exempt_until date,
    billing_anchor smallint,
    erased_at timestamp with time zone,
    CONSTRAINT subscriber_billing_anchor_check CHECK (((billing_anchor >= 1) AND (billing_anchor <= 31))),
    CONSTRAINT subscriber_erased_terminated CHECK (((erased_at IS NULL) OR ((status = 'terminated'::text) AND (cnic_enc IS NULL) AND (phone IS NULL) AND (email IS NULL)))),
    CONSTRAINT subscriber_province_check CHECK ((province = ANY (ARRAY['punjab'::text, 'sindh'::text, 'kp'::text, 'balochistan'::text, 'ict'::text]))),
    CONSTRAINT subscriber_static_ip_ipv4 CHECK (((static_ip IS NULL) OR ((family(static_ip) = 4) AND (masklen(static_ip) = 32)))),
    CONSTRAINT subscriber_status_check CHECK ((status = ANY (ARRAY['active'::text, 'suspended'::text, 'terminated'::text]))),
    CONSTRAINT subscriber_username_check CHECK (((length(username) >= 1) AND (length(username) <= 253)))
);

ALTER TABLE ONLY public.subscriber FORCE ROW LEVEL SECURITY;

--
-- Name: COLUMN subscriber.password_enc; Type: COMMENT; Schema: public; Owner: -
--

COMMENT ON COLUMN public.subscriber.password_enc IS 'AES-256-GCM, rlm_cloudos.crypto format c2: associated data binds it to tenant_id and username (c1 rows, unbound, are re-sealed by cloudos db reencrypt; radiusd refuses them)';

--
-- Name: usage_counter; Type: TABLE; Schema: public; Owner: -
--

CREATE TABLE public.usage_counter (
    tenant_id bigint NOT NULL,
    subscriber_id bigint NOT NULL,
    period_start timestamp with time zone NOT NULL,
    period_end timestamp with time zone NOT NULL,
    input_octets bigint DEFAULT 0 NOT NULL,
    output_octets bigint DEFAULT 0 NOT NULL,
    session_time bigint DEFAULT 0 NOT NULL,
    updated_at timestamp with time zone DEFAULT now() NOT NULL,
    CONSTRAINT usage_counter_check CHECK ((period_end > period_start))
);

ALTER TABLE ONLY public.usage_counter FORCE ROW LEVEL SECURITY;

--
-- Name: cloudos_lapse(public.subscriber, public.plan, public.usage_counter, timestamp with time zone); Type: FUNCTION; Schema: public; Owner: -
--

CREATE FUNCTION public.cloudos_lapse(s public.subscriber, p public.plan, u public.usage_counter, p_now timestamp with time zone) RETURNS text
    LANGUAGE sql STABLE
    AS $$
  SELECT CASE
    WHEN s.status = 'terminated' THEN 'terminated'
    WHEN s.status = 'suspended' THEN 'suspended'
    WHEN s.expires_at IS NOT NULL AND p_now >= s.expires_at THEN 'expired'
    WHEN u.subscriber_id IS NOT NULL AND (
            (p.quota_bytes IS NOT NULL AND u.input_octets + u.output_octets >= p.quota_bytes)
         OR (p.quota_download_bytes IS NOT NULL AND u.output_octets >= p.quota_download_bytes)
         OR (p.quota_upload_bytes IS NOT NULL AND u.input_octets >= p.quota_upload_bytes)
         OR (p.time_quota_seconds IS NOT NULL AND u.session_time >= p.time_quota_seconds))
      THEN 'quota_exhausted'
  END
$$;

--
-- Name: cloudos_notification_consent(); Type: FUNCTION; Schema: public; Owner: -
--

CREATE FUNCTION public.cloudos_notification_consent() RETURNS trigger
    LANGUAGE plpgsql SECURITY DEFINER
    SET search_path TO 'public', 'pg_temp'
    AS $$
BEGIN
  IF NEW.template LIKE 'marketing.%' AND NOT cloudos_consented(NEW.subscriber_id, 'marketing') THEN
    RETURN NULL;
  END IF;
  RETURN NEW;
END $$;

--
-- Name: cloudos_operator_add(text, bigint, text, text); Type: FUNCTION; Schema: public; Owner: -
--

CREATE FUNCTION public.cloudos_operator_add(p_login text, p_tenant bigint, p_role text, p_verifier text) RETURNS void
    LANGUAGE plpgsql SECURITY DEFINER
    SET search_path TO 'pg_catalog', 'public'
    AS $_$
BEGIN
  IF p_verifier !~ '^SCRAM-SHA-256\$[0-9]+:[A-Za-z0-9+/=]+\$[A-Za-z0-9+/=]+:[A-Za-z0-9+/=]+$' THEN
    RAISE EXCEPTION 'the password must arrive as a SCRAM-SHA-256 verifier';
  END IF;
  IF EXISTS (SELECT 1 FROM pg_roles WHERE rolname = p_login) THEN
    RAISE EXCEPTION 'a PostgreSQL role named % exists already', p_login
      USING HINT = 'choose another name (operator names are global to the PostgreSQL server)';
  END IF;
  INSERT INTO operator (login, tenant_id, role) VALUES (p_login, p_tenant, p_role);
  EXECUTE format('CREATE ROLE %I LOGIN NOSUPERUSER NOCREATEDB NOCREATEROLE NOREPLICATION NOBYPASSRLS INHERIT '
                 'PASSWORD %L', p_login, p_verifier);
  EXECUTE format('GRANT %I TO %I', cloudos_operator_group(p_role), p_login);
END $_$;

--
-- Name: cloudos_operator_group(text); Type: FUNCTION; Schema: public; Owner: -
--

CREATE FUNCTION public.cloudos_operator_group(p_role text) RETURNS text
    LANGUAGE sql IMMUTABLE
    SET search_path TO 'pg_catalog'
    AS $$
  SELECT CASE p_role WHEN 'platform' THEN 'cloudos_admin' ELSE 'cloudos_op_' || p_role END
$$;

--
-- Name: cloudos_operator_remove(text); Type: FUNCTION; Schema: public; Owner: -
--

CREATE FUNCTION public.cloudos_operator_remove(p_login text) RETURNS integer
    LANGUAGE plpgsql SECURITY DEFINER
    SET search_path TO 'pg_catalog', 'public'
    AS $$
DECLARE
  ended integer := 0;
  victim integer;
BEGIN
  DELETE FROM operator WHERE login = p_login;
  IF NOT FOUND THEN
    RAISE EXCEPTION 'no operator named %', p_login;
  END IF;
  IF p_login = session_user THEN
    RAISE EXCEPTION 'an operator cannot remove itself';
  END IF;
  EXECUTE format('ALTER ROLE %I NOLOGIN', p_login);
  -- The pids first, then the signals: a WHERE does not promise the order it evaluates in.
  FOR victim IN SELECT pid FROM pg_stat_activity WHERE usename = p_login AND pid <> pg_backend_pid() LOOP
    IF pg_terminate_backend(victim) THEN
      ended := ended + 1;
    END IF;
  END LOOP;
  EXECUTE format('DROP ROLE %I', p_login);
  RETURN ended;
END $$;

--
-- Name: cloudos_operator_set_password(text, text); Type: FUNCTION; Schema: public; Owner: -
--

CREATE FUNCTION public.cloudos_operator_set_password(p_login text, p_verifier text) RETURNS void
    LANGUAGE plpgsql SECURITY DEFINER
    SET search_path TO 'pg_catalog', 'public'
    AS $_$
BEGIN
  IF p_verifier !~ '^SCRAM-SHA-256\$[0-9]+:[A-Za-z0-9+/=]+\$[A-Za-z0-9+/=]+:[A-Za-z0-9+/=]+$' THEN
    RAISE EXCEPTION 'the password must arrive as a SCRAM-SHA-256 verifier';
  END IF;
  PERFORM 1 FROM operator WHERE login = p_login FOR UPDATE;
  IF NOT FOUND THEN
    RAISE EXCEPTION 'no operator named %', p_login;
  END IF;
  EXECUTE format('ALTER ROLE %I PASSWORD %L', p_login, p_verifier);
END $_$;

--
-- Name: cloudos_operator_set_role(text, text); Type: FUNCTION; Schema: public; Owner: -
--

CREATE FUNCTION public.cloudos_operator_set_role(p_login text, p_role text) RETURNS text
    LANGUAGE plpgsql SECURITY DEFINER
    SET search_path TO 'pg_catalog', 'public'
    AS $$
DECLARE old text;
BEGIN
  SELECT role INTO old FROM operator WHERE login = p_login FOR UPDATE;
  IF old IS NULL THEN
    RAISE EXCEPTION 'no operator named %', p_login;
  END IF;
  IF (old = 'platform') <> (p_role = 'platform') THEN
    RAISE EXCEPTION 'an operator cannot move between the platform and a tenant'
      USING HINT = 'remove the operator and add it again';
  END IF;
  UPDATE operator SET role = p_role WHERE login = p_login;
  EXECUTE format('REVOKE %I FROM %I', cloudos_operator_group(old), p_login);
  EXECUTE format('GRANT %I TO %I', cloudos_operator_group(p_role), p_login);
  RETURN old;
END $$;

--
-- Name: cloudos_period(text, text, timestamp with time zone, timestamp with time zone); Type: FUNCTION; Schema: public; Owner: -
--

CREATE FUNCTION public.cloudos_period(p_period text, p_tz text, p_expires timestamp with time zone, p_at timestamp with time zone, OUT period_start timestamp with time zone, OUT period_end timestamp with time zone) RETURNS record
    LANGUAGE plpgsql STABLE
    AS $$
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

--
-- Name: cloudos_queue_coa(bigint, text, text, text); Type: FUNCTION; Schema: public; Owner: -
--

CREATE FUNCTION public.cloudos_queue_coa(p_subscriber bigint, p_kind text, p_rate text, p_reason text) RETURNS integer
    LANGUAGE sql
    AS $$
  SELECT cloudos_queue_coa_sessions(
    ARRAY(SELECT acct_unique_id FROM session_open WHERE subscriber_id = p_subscriber AND stopped_at IS NULL),
    p_kind, p_rate, p_reason)
$$;

--
-- Name: cloudos_queue_coa_release(bigint, timestamp with time zone, text); Type: FUNCTION; Schema: public; Owner: -
--

CREATE FUNCTION public.cloudos_queue_coa_release(p_subscriber bigint, p_now timestamp with time zone, p_reason text) RETURNS integer
    LANGUAGE plpgsql SECURITY DEFINER
    SET search_path TO 'public', 'pg_temp'
    AS $$
DECLARE
  queued integer;
BEGIN
  WITH target AS (
    SELECT s.id, cloudos_lapse(s, p, u.uc, p_now) AS lapse, p.rate_limit, p.fup_rate_limit, p.address_list
      FROM subscriber s
      JOIN tenant t ON t.id = s.tenant_id
      JOIN plan p ON p.id = s.plan_id
      LEFT JOIN LATERAL (SELECT uc FROM usage_counter uc
                          WHERE uc.subscriber_id = s.id AND uc.period_start <= p_now AND p_now < uc.period_end
                          ORDER BY uc.period_start DESC LIMIT 1) u ON true
     WHERE s.id = p_subscriber AND t.walled_garden_address_list IS NOT NULL
       AND s.tenant_id = COALESCE(cloudos_tenant(), cloudos_scope(), s.tenant_id)),
  q AS (
    INSERT INTO coa_outbox (tenant_id, nas_id, nas_address, acct_unique_id, subscriber_id, kind, reason, attributes)
    SELECT o.tenant_id, o.nas_id, o.nas_address, o.acct_unique_id, o.subscriber_id,
           CASE WHEN x.address_list IS NULL THEN 'disconnect' ELSE 'coa' END, p_reason,
           jsonb_strip_nulls(jsonb_build_object(
             'User-Name', o.username,
             'Acct-Session-Id', o.acct_session_id,
             'Framed-IP-Address', host(o.framed_ip),
             'Mikrotik-Rate-Limit', CASE WHEN x.address_list IS NOT NULL THEN
               CASE WHEN x.lapse = 'quota_exhausted' THEN x.fup_rate_limit ELSE x.rate_limit END END,
             'Mikrotik-Address-List', x.address_list))
      FROM session_open o
      JOIN target x ON x.id = o.subscriber_id
     WHERE o.stopped_at IS NULL AND o.nas_id IS NOT NULL
       AND (x.lapse IS NULL OR (x.lapse = 'quota_exhausted' AND x.fup_rate_limit IS NOT NULL))
    RETURNING 1)
  SELECT count(*) INTO queued FROM q;
  IF queued > 0 THEN
    PERFORM pg_notify('cloudos_coa', p_subscriber::text);
  END IF;
  RETURN queued;
END $$;

--
-- Name: cloudos_queue_coa_sessions(text[], text, text, text); Type: FUNCTION; Schema: public; Owner: -
--

CREATE FUNCTION public.cloudos_queue_coa_sessions(p_ids text[], p_kind text, p_rate text, p_reason text) RETURNS integer
    LANGUAGE plpgsql
    AS $$
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

--
-- Name: cloudos_reap_sessions(timestamp with time zone); Type: FUNCTION; Schema: public; Owner: -
--

CREATE FUNCTION public.cloudos_reap_sessions(p_now timestamp with time zone, OUT reaped integer, OUT purged integer, OUT as_of timestamp with time zone, OUT forgotten text[]) RETURNS record
    LANGUAGE plpgsql
    AS $$
BEGIN
  WITH gone AS (DELETE FROM journal_node j WHERE j.seen_at < p_now - interval '1 day' RETURNING j.node)
  SELECT coalesce(array_agg(g.node ORDER BY g.node), '{}') INTO forgotten FROM gone g;
  SELECT least(p_now, min(j.caught_up_at)) INTO as_of FROM journal_node j;
  WITH stale AS (
    UPDATE session_open o
       SET stopped_at = o.updated_at, terminate_cause = 'Stale', closed_by = 'stale'
      FROM tenant t
     WHERE t.id = o.tenant_id AND o.stopped_at IS NULL
       AND o.updated_at < cloudos_stale_cutoff(as_of, t.interim_interval)
    RETURNING o.*)
  SELECT count(cloudos_archive_session(c)) INTO reaped FROM stale c;
  -- Forgotten once nothing has been heard of it for the keep time, however long ago it closed:
  -- a session still sending keeps the row that holds its counters.
  DELETE FROM session_open o WHERE o.stopped_at IS NOT NULL AND o.updated_at < as_of - interval '2 days';
  GET DIAGNOSTICS purged = ROW_COUNT;
END $$;

--
-- Name: cloudos_refuse_change(); Type: FUNCTION; Schema: public; Owner: -
--

CREATE FUNCTION public.cloudos_refuse_change() RETURNS trigger
    LANGUAGE plpgsql
    AS $$
BEGIN
  RAISE EXCEPTION '% is append-only: % refused', TG_TABLE_NAME, TG_OP
    USING ERRCODE = 'insufficient_privilege';
END $$;

--
-- Name: cloudos_retention_check(text, timestamp with time zone, timestamp with time zone); Type: FUNCTION; Schema: public; Owner: -
--

CREATE FUNCTION public.cloudos_retention_check(p_what text, p_cutoff timestamp with time zone, p_latest timestamp with time zone) RETURNS void
    LANGUAGE plpgsql
    AS $$
BEGIN
  IF p_cutoff > p_latest AND session_user <> (SELECT pg_get_userbyid(relowner) FROM pg_class
                                               WHERE oid = 'retention_setting'::regclass) THEN
    RAISE EXCEPTION 'retention: % before % is later than the settings allow today (%): only the schema owner may run a day ahead',
      p_what, p_cutoff, p_latest USING ERRCODE = 'insufficient_privilege';
  END IF;
END $$;

--
-- Name: cloudos_retention_partitions(text, timestamp with time zone, date, integer, boolean); Type: FUNCTION; Schema: public; Owner: -
--

CREATE FUNCTION public.cloudos_retention_partitions(p_parent text, p_before timestamp with time zone, p_ahead_from date, p_ahead integer, p_dry boolean, OUT dropped text[], OUT created integer, OUT default_rows bigint) RETURNS record
    LANGUAGE plpgsql SECURITY DEFINER
    SET search_path TO 'public', 'pg_temp'
    SET lock_timeout TO '10s'
    AS $_$
DECLARE
  r record;
  m date;
  col text;
BEGIN
  col := CASE p_parent WHEN 'session' THEN 'started_at' WHEN 'auth_log' THEN 'at' END;
  IF col IS NULL THEN
    RAISE EXCEPTION 'retention drops partitions of session and auth_log only, not %', p_parent
      USING ERRCODE = 'insufficient_privilege';
  END IF;
  PERFORM cloudos_retention_check('logs', p_before,
                                  (SELECT now() - make_interval(months => log_months) FROM retention_setting));
  dropped := '{}';
  FOR r IN SELECT c.relname::text AS name
             FROM pg_inherits i JOIN pg_class c ON c.oid = i.inhrelid
            WHERE i.inhparent = p_parent::regclass AND c.relname ~ ('^' || p_parent || '_y[0-9]{4}m[0-9]{2}$')
            ORDER BY c.relname LOOP
    m := make_date(substr(r.name, length(p_parent) + 3, 4)::integer, substr(r.name, length(p_parent) + 8, 2)::integer, 1);
    IF ((m + interval '1 month')::timestamp AT TIME ZONE 'UTC') <= p_before THEN
      dropped := dropped || r.name;
      IF NOT p_dry THEN
        EXECUTE format('DROP TABLE %I', r.name);
      END IF;
    END IF;
  END LOOP;
  EXECUTE format('SELECT count(*) FROM %I WHERE %I < $1', p_parent || '_default', col) INTO default_rows USING p_before;
  IF NOT p_dry AND default_rows > 0 THEN
    EXECUTE format('DELETE FROM %I WHERE %I < $1', p_parent || '_default', col) USING p_before;
  END IF;
  IF p_dry THEN
    SELECT count(*)::integer INTO created
      FROM generate_series(date_trunc('month', p_ahead_from)::date,
                           (date_trunc('month', p_ahead_from) + make_interval(months => p_ahead - 1))::date,
                           interval '1 month') g
     WHERE to_regclass(format('%s_y%sm%s', p_parent, to_char(g, 'YYYY'), to_char(g, 'MM'))) IS NULL;
  ELSE
    created := cloudos_ensure_month_partitions(p_parent::regclass, p_ahead_from, p_ahead);
  END IF;
END $_$;

--
-- Name: cloudos_retention_purge(timestamp with time zone, timestamp with time zone, timestamp with time zone, timestamp with time zone); Type: FUNCTION; Schema: public; Owner: -
--

CREATE FUNCTION public.cloudos_retention_purge(p_notifications timestamp with time zone, p_support timestamp with time zone, p_nonessential timestamp with time zone, p_billing timestamp with time zone) RETURNS jsonb
    LANGUAGE plpgsql SECURITY DEFINER
    SET search_path TO 'public', 'pg_temp'
    SET lock_timeout TO '10s'
    SET "cloudos.retention_purge" TO 'on'
    AS $$
DECLARE
  n_notifications bigint;
  n_support bigint;
  n_scrubbed bigint;
  n_billing_subscribers bigint;
  n_invoices bigint;
  n_payments bigint;
  n_ledger bigint;
  gone bigint[];
  cfg retention_setting;
BEGIN
  SELECT * INTO cfg FROM retention_setting;
  PERFORM cloudos_retention_check('notifications', p_notifications,
                                  now() - make_interval(months => cfg.notification_months));
  PERFORM cloudos_retention_check('support records', p_support, now() - make_interval(years => cfg.support_years));
  PERFORM cloudos_retention_check('non-essential data', p_nonessential,
                                  now() - make_interval(days => cfg.nonessential_days));
  PERFORM cloudos_retention_check('billing records', p_billing, now() - make_interval(years => cfg.billing_years));
  -- Billing records of accounts terminated before the billing cutoff, and what is left of them.
  gone := ARRAY(SELECT s.id FROM subscriber s
                 WHERE s.status = 'terminated' AND s.terminated_at < p_billing
                   AND (s.full_name IS NOT NULL OR s.postal_address IS NOT NULL OR s.cnic_enc IS NOT NULL
                        OR EXISTS (SELECT 1 FROM ledger_entry l WHERE l.subscriber_id = s.id)
                        OR EXISTS (SELECT 1 FROM invoice i WHERE i.subscriber_id = s.id)
                        OR EXISTS (SELECT 1 FROM payment p WHERE p.subscriber_id = s.id)));
  n_billing_subscribers := cardinality(gone);
  DELETE FROM notification WHERE subscriber_id = ANY(gone);
  DELETE FROM payment_allocation a USING invoice i
   WHERE a.invoice_id = i.id AND i.subscriber_id = ANY(gone);
  DELETE FROM ledger_entry WHERE subscriber_id = ANY(gone);
  GET DIAGNOSTICS n_ledger = ROW_COUNT;
  DELETE FROM invoice_tax t USING invoice_line l, invoice i
   WHERE t.line_id = l.id AND l.invoice_id = i.id AND i.subscriber_id = ANY(gone);
  DELETE FROM invoice_line l USING invoice i
   WHERE l.invoice_id = i.id AND i.subscriber_id = ANY(gone);
  DELETE FROM invoice WHERE kind = 'credit_note' AND subscriber_id = ANY(gone);
  DELETE FROM invoice WHERE subscriber_id = ANY(gone);
  GET DIAGNOSTICS n_invoices = ROW_COUNT;
  DELETE FROM payment WHERE subscriber_id = ANY(gone);
  GET DIAGNOSTICS n_payments = ROW_COUNT;
  UPDATE subscriber SET full_name = NULL, postal_address = NULL, cnic_enc = NULL
   WHERE id = ANY(gone)
     AND (full_name IS NOT NULL OR postal_address IS NOT NULL OR cnic_enc IS NOT NULL);
  -- Notifications past their months; resolved support records past their years.
  DELETE FROM notification WHERE created_at < p_notifications;
  GET DIAGNOSTICS n_notifications = ROW_COUNT;
  DELETE FROM support_ticket WHERE status = 'resolved' AND resolved_at < p_support;
  GET DIAGNOSTICS n_support = ROW_COUNT;
  -- Non-essential data of accounts terminated before the cutoff: how to reach them and their
  -- devices. What tax law needs on their invoices (name, address) stays until the billing cutoff.
  DELETE FROM notification n USING subscriber s
   WHERE n.subscriber_id = s.id AND n.status = 'queued' AND s.status = 'terminated'
     AND s.terminated_at < p_nonessential;
  UPDATE subscriber SET phone = NULL, email = NULL, mac = NULL, static_ip = NULL
   WHERE status = 'terminated' AND terminated_at < p_nonessential
     AND (phone IS NOT NULL OR email IS NOT NULL OR mac IS NOT NULL OR static_ip IS NOT NULL);
  GET DIAGNOSTICS n_scrubbed = ROW_COUNT;
  RETURN jsonb_build_object(
    'notifications', n_notifications, 'support_tickets', n_support,
    'nonessential_scrubbed', n_scrubbed, 'billing_subscribers', n_billing_subscribers,
    'invoices', n_invoices, 'payments', n_payments, 'ledger_entries', n_ledger);
END $$;

--
-- Name: cloudos_scope(); Type: FUNCTION; Schema: public; Owner: -
--

CREATE FUNCTION public.cloudos_scope() RETURNS bigint
    LANGUAGE sql STABLE
    SET search_path TO 'pg_catalog'
    AS $$
  SELECT NULLIF(current_setting('cloudos.tenant', true), '')::bigint
$$;

--
-- Name: cloudos_stale_cutoff(timestamp with time zone, integer); Type: FUNCTION; Schema: public; Owner: -
--

CREATE FUNCTION public.cloudos_stale_cutoff(p_now timestamp with time zone, p_interim integer) RETURNS timestamp with time zone
    LANGUAGE sql IMMUTABLE
    AS $$
  SELECT p_now - make_interval(secs => 2 * ceil(p_interim * 1.1) + 60)
$$;

--
-- Name: cloudos_tenant(); Type: FUNCTION; Schema: public; Owner: -
--

CREATE FUNCTION public.cloudos_tenant() RETURNS bigint
    LANGUAGE sql STABLE SECURITY DEFINER
    SET search_path TO 'pg_catalog', 'public'
    AS $$
  SELECT o.tenant_id FROM public.operator o WHERE o.login = session_user AND o.role <> 'platform'
$$;

--
-- Name: cloudos_touch(); Type: FUNCTION; Schema: public; Owner: -
--

CREATE FUNCTION public.cloudos_touch() RETURNS trigger
    LANGUAGE plpgsql
    AS $$
BEGIN
  NEW.updated_at := now();
  RETURN NEW;
END $$;

--
-- Name: cloudos_whoami(); Type: FUNCTION; Schema: public; Owner: -
--

CREATE FUNCTION public.cloudos_whoami(OUT login text, OUT role text, OUT tenant_id bigint) RETURNS record
    LANGUAGE sql STABLE SECURITY DEFINER
    SET search_path TO 'pg_catalog', 'public'
    AS $$
  SELECT session_user::text,
         COALESCE(o.role, CASE WHEN pg_has_role(session_user, 'cloudos_admin', 'MEMBER') THEN 'platform' END),
         o.tenant_id
    FROM (SELECT 1) one LEFT JOIN public.operator o ON o.login = session_user
$$;

--
-- Name: admin_audit; Type: TABLE; Schema: public; Owner: -
--

CREATE TABLE public.admin_audit (
    id bigint NOT NULL,
    at timestamp with time zone NOT NULL,
    actor text NOT NULL,
    tenant_id bigint,
    action text NOT NULL,
    target text NOT NULL,
    before jsonb,
    after jsonb,
    prev_hash text NOT NULL,
    hash text NOT NULL,
    version smallint NOT NULL,
    key_id text,
    db_user text,
    changed text[],
    CONSTRAINT admin_audit_version CHECK ((((version = 1) AND (key_id IS NULL) AND (db_user IS NULL) AND (changed IS NULL)) OR ((version = 2) AND (key_id IS NOT NULL) AND (db_user IS NOT NULL) AND (changed IS NOT NULL))))
);

ALTER TABLE ONLY public.admin_audit FORCE ROW LEVEL SECURITY;

--
-- Name: admin_audit_id_seq; Type: SEQUENCE; Schema: public; Owner: -
--

ALTER TABLE public.admin_audit ALTER COLUMN id ADD GENERATED ALWAYS AS IDENTITY (
    SEQUENCE NAME public.admin_audit_id_seq
    START WITH 1
    INCREMENT BY 1
    NO MINVALUE
    NO MAXVALUE
    CACHE 1
);

--
-- Name: alembic_version; Type: TABLE; Schema: public; Owner: -
--

CREATE TABLE public.alembic_version (
    version_num character varying(32) NOT NULL
);

--
-- Name: auth_log; Type: TABLE; Schema: public; Owner: -
--

CREATE TABLE public.auth_log (
    at timestamp with time zone NOT NULL,
    tenant_id bigint NOT NULL,
    nas_id bigint,
    subscriber_id bigint,
    username text NOT NULL,
    outcome text NOT NULL,
    reason text NOT NULL,
    auth_method text,
    calling_station_id text,
    nas_port_id text,
    nas_port_type text,
    framed_ip inet,
    walled_garden boolean DEFAULT false NOT NULL,
    CONSTRAINT auth_log_outcome_check CHECK ((outcome = ANY (ARRAY['accept'::text, 'reject'::text])))
)
PARTITION BY RANGE (at);

ALTER TABLE ONLY public.auth_log FORCE ROW LEVEL SECURITY;

--
-- Name: auth_log_default; Type: TABLE; Schema: public; Owner: -
--

CREATE TABLE public.auth_log_default (
    at timestamp with time zone NOT NULL,
    tenant_id bigint NOT NULL,
    nas_id bigint,
    subscriber_id bigint,
    username text NOT NULL,
    outcome text NOT NULL,
    reason text NOT NULL,
    auth_method text,
    calling_station_id text,
    nas_port_id text,
    nas_port_type text,
    framed_ip inet,
    walled_garden boolean DEFAULT false NOT NULL,
    CONSTRAINT auth_log_outcome_check CHECK ((outcome = ANY (ARRAY['accept'::text, 'reject'::text])))
);

--
-- Name: coa_outbox; Type: TABLE; Schema: public; Owner: -
--

CREATE TABLE public.coa_outbox (
    id bigint NOT NULL,
    tenant_id bigint NOT NULL,
    nas_id bigint NOT NULL,
    acct_unique_id text,
    kind text NOT NULL,
    attributes jsonb NOT NULL,
    status text DEFAULT 'pending'::text NOT NULL,
    attempts integer DEFAULT 0 NOT NULL,
    next_attempt_at timestamp with time zone DEFAULT now() NOT NULL,
    result text,
    created_at timestamp with time zone DEFAULT now() NOT NULL,
    done_at timestamp with time zone,
    nas_address inet,
    reason text,
    subscriber_id bigint,
    CONSTRAINT coa_outbox_kind_check CHECK ((kind = ANY (ARRAY['coa'::text, 'disconnect'::text]))),
    CONSTRAINT coa_outbox_status_check CHECK ((status = ANY (ARRAY['pending'::text, 'ack'::text, 'nak'::text, 'timeout'::text, 'failed'::text, 'cancelled'::text])))
);

ALTER TABLE ONLY public.coa_outbox FORCE ROW LEVEL SECURITY;

--
-- Name: coa_outbox_id_seq; Type: SEQUENCE; Schema: public; Owner: -
--

ALTER TABLE public.coa_outbox ALTER COLUMN id ADD GENERATED ALWAYS AS IDENTITY (
    SEQUENCE NAME public.coa_outbox_id_seq
    START WITH 1
    INCREMENT BY 1
    NO MINVALUE
    NO MAXVALUE
    CACHE 1
);

--
-- Name: consent; Type: TABLE; Schema: public; Owner: -
--

CREATE TABLE public.consent (
    id bigint NOT NULL,
    tenant_id bigint NOT NULL,
    subscriber_id bigint NOT NULL,
    purpose text NOT NULL,
    granted boolean NOT NULL,
    at timestamp with time zone DEFAULT now() NOT NULL,
    source text NOT NULL,
    recorded_by text DEFAULT SESSION_USER NOT NULL,
    CONSTRAINT consent_purpose_check CHECK ((purpose = ANY (ARRAY['marketing'::text, 'analytics'::text]))),
    CONSTRAINT consent_source_check CHECK (((length(source) >= 1) AND (length(source) <= 200)))
);

ALTER TABLE ONLY public.consent FORCE ROW LEVEL SECURITY;

--
-- Name: consent_id_seq; Type: SEQUENCE; Schema: public; Owner: -
--

ALTER TABLE public.consent ALTER COLUMN id ADD GENERATED ALWAYS AS IDENTITY (
    SEQUENCE NAME public.consent_id_seq
    START WITH 1
    INCREMENT BY 1
    NO MINVALUE
    NO MAXVALUE
    CACHE 1
);

--
-- Name: data_request; Type: TABLE; Schema: public; Owner: -
--

CREATE TABLE public.data_request (
    id bigint NOT NULL,
    tenant_id bigint NOT NULL,
    subscriber_id bigint NOT NULL,
    kind text NOT NULL,
    received_on date NOT NULL,
    note text,
    created_at timestamp with time zone DEFAULT now() NOT NULL,
    created_by text NOT NULL,
    closed_at timestamp with time zone,
    closed_by text,
    outcome text,
    CONSTRAINT data_request_check CHECK ((((closed_at IS NULL) = (closed_by IS NULL)) AND ((closed_at IS NULL) = (outcome IS NULL)))),
    CONSTRAINT data_request_kind_check CHECK ((kind = ANY (ARRAY['access'::text, 'rectify'::text, 'erase'::text, 'object'::text, 'withdraw'::text]))),
    CONSTRAINT data_request_note_check CHECK (((length(note) >= 1) AND (length(note) <= 500))),
    CONSTRAINT data_request_outcome_check CHECK (((length(outcome) >= 1) AND (length(outcome) <= 500)))
);

ALTER TABLE ONLY public.data_request FORCE ROW LEVEL SECURITY;

--
-- Name: data_request_id_seq; Type: SEQUENCE; Schema: public; Owner: -
--

ALTER TABLE public.data_request ALTER COLUMN id ADD GENERATED ALWAYS AS IDENTITY (
    SEQUENCE NAME public.data_request_id_seq
    START WITH 1
    INCREMENT BY 1
    NO MINVALUE
    NO MAXVALUE
    CACHE 1
);

--
-- Name: invoice; Type: TABLE; Schema: public; Owner: -
--

CREATE TABLE public.invoice (
    id bigint NOT NULL,
    tenant_id bigint NOT NULL,
    subscriber_id bigint NOT NULL,
    kind text DEFAULT 'invoice'::text NOT NULL,
    number text NOT NULL,
    credits_id bigint,
    reason text,
    plan_id bigint,
    plan_name text,
    period_start date NOT NULL,
    period_end date NOT NULL,
    issued_on date NOT NULL,
    due_on date,
    grace_until date,
    net_paisa bigint NOT NULL,
    tax_paisa bigint NOT NULL,
    total_paisa bigint NOT NULL,
    status text NOT NULL,
    paid_at timestamp with time zone,
    seller jsonb NOT NULL,
    buyer jsonb NOT NULL,
    created_at timestamp with time zone DEFAULT now() NOT NULL,
    created_by text NOT NULL,
    CONSTRAINT invoice_check CHECK ((period_end >= period_start)),
    CONSTRAINT invoice_check1 CHECK ((total_paisa = (net_paisa + tax_paisa))),
    CONSTRAINT invoice_check2 CHECK (((kind = 'credit_note'::text) = (credits_id IS NOT NULL))),
    CONSTRAINT invoice_check3 CHECK (((kind = 'credit_note'::text) = (status = 'issued'::text))),
    CONSTRAINT invoice_check4 CHECK (((status = 'paid'::text) = (paid_at IS NOT NULL))),
    CONSTRAINT invoice_kind_check CHECK ((kind = ANY (ARRAY['invoice'::text, 'credit_note'::text]))),
    CONSTRAINT invoice_net_paisa_check CHECK ((net_paisa >= 0)),
    CONSTRAINT invoice_reason_check CHECK (((length(reason) >= 1) AND (length(reason) <= 500))),
    CONSTRAINT invoice_status_check CHECK ((status = ANY (ARRAY['open'::text, 'paid'::text, 'void'::text, 'issued'::text]))),
    CONSTRAINT invoice_tax_paisa_check CHECK ((tax_paisa >= 0))
);

ALTER TABLE ONLY public.invoice FORCE ROW LEVEL SECURITY;

--
-- Name: invoice_id_seq; Type: SEQUENCE; Schema: public; Owner: -
--

ALTER TABLE public.invoice ALTER COLUMN id ADD GENERATED ALWAYS AS IDENTITY (
    SEQUENCE NAME public.invoice_id_seq
    START WITH 1
    INCREMENT BY 1
    NO MINVALUE
    NO MAXVALUE
    CACHE 1
);

--
-- Name: invoice_line; Type: TABLE; Schema: public; Owner: -
--

CREATE TABLE public.invoice_line (
    id bigint NOT NULL,
    tenant_id bigint NOT NULL,
    invoice_id bigint NOT NULL,
    "position" smallint NOT NULL,
    description text NOT NULL,
    net_paisa bigint NOT NULL,
    tax_paisa bigint NOT NULL,
    total_paisa bigint NOT NULL,
    CONSTRAINT invoice_line_check CHECK ((total_paisa = (net_paisa + tax_paisa))),
    CONSTRAINT invoice_line_description_check CHECK (((length(description) >= 1) AND (length(description) <= 300))),
    CONSTRAINT invoice_line_net_paisa_check CHECK ((net_paisa >= 0)),
    CONSTRAINT invoice_line_position_check CHECK (("position" >= 1)),
    CONSTRAINT invoice_line_tax_paisa_check CHECK ((tax_paisa >= 0))
);

ALTER TABLE ONLY public.invoice_line FORCE ROW LEVEL SECURITY;

--
-- Name: invoice_line_id_seq; Type: SEQUENCE; Schema: public; Owner: -
--

ALTER TABLE public.invoice_line ALTER COLUMN id ADD GENERATED ALWAYS AS IDENTITY (
    SEQUENCE NAME public.invoice_line_id_seq
    START WITH 1
    INCREMENT BY 1
    NO MINVALUE
    NO MAXVALUE
    CACHE 1
);

--
-- Name: invoice_tax; Type: TABLE; Schema: public; Owner: -
--

CREATE TABLE public.invoice_tax (
    id bigint NOT NULL,
    tenant_id bigint NOT NULL,
    line_id bigint NOT NULL,
    tax_rule_id bigint,
    name text NOT NULL,
    kind text NOT NULL,
    rate numeric(6,3) NOT NULL,
    base_paisa bigint NOT NULL,
    amount_paisa bigint NOT NULL,
    reference text,
    CONSTRAINT invoice_tax_amount_paisa_check CHECK ((amount_paisa >= 0)),
    CONSTRAINT invoice_tax_base_paisa_check CHECK ((base_paisa >= 0)),
    CONSTRAINT invoice_tax_kind_check CHECK ((kind = ANY (ARRAY['sales'::text, 'advance_income'::text])))
);

ALTER TABLE ONLY public.invoice_tax FORCE ROW LEVEL SECURITY;

--
-- Name: invoice_tax_id_seq; Type: SEQUENCE; Schema: public; Owner: -
--

ALTER TABLE public.invoice_tax ALTER COLUMN id ADD GENERATED ALWAYS AS IDENTITY (
    SEQUENCE NAME public.invoice_tax_id_seq
    START WITH 1
    INCREMENT BY 1
    NO MINVALUE
    NO MAXVALUE
    CACHE 1
);

--
-- Name: journal_node; Type: TABLE; Schema: public; Owner: -
--

CREATE TABLE public.journal_node (
    node text NOT NULL,
    caught_up_at timestamp with time zone NOT NULL,
    seen_at timestamp with time zone DEFAULT now() NOT NULL
);

--
-- Name: ledger_entry; Type: TABLE; Schema: public; Owner: -
--

CREATE TABLE public.ledger_entry (
    id bigint NOT NULL,
    tenant_id bigint NOT NULL,
    subscriber_id bigint NOT NULL,
    at timestamp with time zone DEFAULT now() NOT NULL,
    kind text NOT NULL,
    invoice_id bigint,
    payment_id bigint,
    amount_paisa bigint NOT NULL,
    description text NOT NULL,
    CONSTRAINT ledger_entry_amount_paisa_check CHECK ((amount_paisa <> 0)),
    CONSTRAINT ledger_entry_check CHECK (((kind = 'payment'::text) = (payment_id IS NOT NULL))),
    CONSTRAINT ledger_entry_check1 CHECK (((kind = 'payment'::text) = (invoice_id IS NULL))),
    CONSTRAINT ledger_entry_check2 CHECK (((kind = 'invoice'::text) = (amount_paisa > 0))),
    CONSTRAINT ledger_entry_kind_check CHECK ((kind = ANY (ARRAY['invoice'::text, 'credit_note'::text, 'payment'::text])))
);

ALTER TABLE ONLY public.ledger_entry FORCE ROW LEVEL SECURITY;

--
-- Name: ledger_entry_id_seq; Type: SEQUENCE; Schema: public; Owner: -
--

ALTER TABLE public.ledger_entry ALTER COLUMN id ADD GENERATED ALWAYS AS IDENTITY (
    SEQUENCE NAME public.ledger_entry_id_seq
    START WITH 1
    INCREMENT BY 1
    NO MINVALUE
    NO MAXVALUE
    CACHE 1
);

--
-- Name: nas; Type: TABLE; Schema: public; Owner: -
--

CREATE TABLE public.nas (
    id bigint NOT NULL,
    tenant_id bigint NOT NULL,
    name text NOT NULL,
    address cidr NOT NULL,
    secret_enc bytea NOT NULL,
    coa_port integer DEFAULT 3799 NOT NULL,
    nas_type text DEFAULT 'mikrotik'::text NOT NULL,
    description text,
    created_at timestamp with time zone DEFAULT now() NOT NULL,
    updated_at timestamp with time zone DEFAULT now() NOT NULL,
    CONSTRAINT nas_coa_port_check CHECK (((coa_port >= 1) AND (coa_port <= 65535))),
    CONSTRAINT nas_name_check CHECK ((name ~ '^[A-Za-z0-9][A-Za-z0-9._-]{0,62}$'::text))
);

ALTER TABLE ONLY public.nas FORCE ROW LEVEL SECURITY;

--
-- Name: nas_id_seq; Type: SEQUENCE; Schema: public; Owner: -
--

ALTER TABLE public.nas ALTER COLUMN id ADD GENERATED ALWAYS AS IDENTITY (
    SEQUENCE NAME public.nas_id_seq
    START WITH 1
    INCREMENT BY 1
    NO MINVALUE
    NO MAXVALUE
    CACHE 1
);

--
-- Name: notification; Type: TABLE; Schema: public; Owner: -
--

CREATE TABLE public.notification (
    id bigint NOT NULL,
    tenant_id bigint NOT NULL,
    subscriber_id bigint,
    channel text NOT NULL,
    template text NOT NULL,
    recipient text NOT NULL,
    body text NOT NULL,
    status text DEFAULT 'queued'::text NOT NULL,
    attempts integer DEFAULT 0 NOT NULL,
    last_error text,
    created_at timestamp with time zone DEFAULT now() NOT NULL,
    sent_at timestamp with time zone,
    invoice_id bigint,
    CONSTRAINT notification_channel_check CHECK ((channel = ANY (ARRAY['whatsapp'::text, 'sms'::text, 'email'::text]))),
    CONSTRAINT notification_status_check CHECK ((status = ANY (ARRAY['queued'::text, 'sent'::text, 'failed'::text])))
);

ALTER TABLE ONLY public.notification FORCE ROW LEVEL SECURITY;

--
-- Name: notification_id_seq; Type: SEQUENCE; Schema: public; Owner: -
--

ALTER TABLE public.notification ALTER COLUMN id ADD GENERATED ALWAYS AS IDENTITY (
    SEQUENCE NAME public.notification_id_seq
    START WITH 1
    INCREMENT BY 1
    NO MINVALUE
    NO MAXVALUE
    CACHE 1
);

--
-- Name: number_series; Type: TABLE; Schema: public; Owner: -
--

CREATE TABLE public.number_series (
    tenant_id bigint NOT NULL,
    series text NOT NULL,
    fiscal_year text NOT NULL,
    last_value bigint NOT NULL,
    CONSTRAINT number_series_fiscal_year_check CHECK ((fiscal_year ~ '^[0-9]{4}-[0-9]{2}$'::text)),
    CONSTRAINT number_series_last_value_check CHECK ((last_value >= 1)),
    CONSTRAINT number_series_series_check CHECK ((series = ANY (ARRAY['INV'::text, 'CN'::text])))
);

ALTER TABLE ONLY public.number_series FORCE ROW LEVEL SECURITY;

--
-- Name: operator; Type: TABLE; Schema: public; Owner: -
--

CREATE TABLE public.operator (
    login text NOT NULL,
    tenant_id bigint,
    role text NOT NULL,
    created_at timestamp with time zone DEFAULT now() NOT NULL,
    created_by text DEFAULT SESSION_USER NOT NULL,
    CONSTRAINT operator_check CHECK (((role = 'platform'::text) = (tenant_id IS NULL))),
    CONSTRAINT operator_login_check CHECK (((login ~ '^[a-z][a-z0-9_.-]{1,62}$'::text) AND (login !~ '^(cloudos|pg)_'::text))),
    CONSTRAINT operator_role_check CHECK ((role = ANY (ARRAY['platform'::text, 'admin'::text, 'billing'::text, 'support'::text, 'auditor'::text])))
);

--
-- Name: payment; Type: TABLE; Schema: public; Owner: -
--

CREATE TABLE public.payment (
    id bigint NOT NULL,
    tenant_id bigint NOT NULL,
    subscriber_id bigint NOT NULL,
    method text NOT NULL,
    reference text NOT NULL,
    amount_paisa bigint NOT NULL,
    status text DEFAULT 'received'::text NOT NULL,
    received_at timestamp with time zone NOT NULL,
    created_at timestamp with time zone DEFAULT now() NOT NULL,
    created_by text NOT NULL,
    CONSTRAINT payment_amount_paisa_check CHECK ((amount_paisa > 0)),
    CONSTRAINT payment_method_check CHECK ((method = ANY (ARRAY['cash'::text, 'bank'::text, 'jazzcash'::text, 'easypaisa'::text]))),
    CONSTRAINT payment_reference_check CHECK (((length(reference) >= 1) AND (length(reference) <= 100))),
    CONSTRAINT payment_status_check CHECK ((status = ANY (ARRAY['received'::text, 'held'::text])))
);

ALTER TABLE ONLY public.payment FORCE ROW LEVEL SECURITY;

--
-- Name: payment_allocation; Type: TABLE; Schema: public; Owner: -
--

CREATE TABLE public.payment_allocation (
    tenant_id bigint NOT NULL,
    payment_id bigint,
    credit_id bigint,
    invoice_id bigint NOT NULL,
    amount_paisa bigint NOT NULL,
    at timestamp with time zone DEFAULT now() NOT NULL,
    CONSTRAINT payment_allocation_amount_paisa_check CHECK ((amount_paisa > 0))
);

ALTER TABLE ONLY public.payment_allocation FORCE ROW LEVEL SECURITY;

--
-- Name: payment_gateway; Type: TABLE; Schema: public; Owner: -
--

CREATE TABLE public.payment_gateway (
    tenant_id bigint NOT NULL,
    gateway text NOT NULL,
    merchant_id text NOT NULL,
    base_url text NOT NULL,
    credentials_enc bytea NOT NULL,
    updated_at timestamp with time zone DEFAULT now() NOT NULL,
    updated_by text DEFAULT SESSION_USER NOT NULL,
    CONSTRAINT payment_gateway_base_url_check CHECK ((base_url ~ '^https?://[^/?#@[:space:]]+$'::text)),
    CONSTRAINT payment_gateway_gateway_check CHECK ((gateway = ANY (ARRAY['jazzcash'::text, 'easypaisa'::text]))),
    CONSTRAINT payment_gateway_merchant_id_check CHECK ((merchant_id ~ '^[A-Za-z0-9_-]{1,64}$'::text))
);

ALTER TABLE ONLY public.payment_gateway FORCE ROW LEVEL SECURITY;

--
-- Name: COLUMN payment_gateway.credentials_enc; Type: COMMENT; Schema: public; Owner: -
--

COMMENT ON COLUMN public.payment_gateway.credentials_enc IS 'AES-256-GCM, rlm_cloudos.crypto format c2 bound to tenant_id and gateway: the gateway''s secrets as JSON';

--
-- Name: payment_id_seq; Type: SEQUENCE; Schema: public; Owner: -
--

ALTER TABLE public.payment ALTER COLUMN id ADD GENERATED ALWAYS AS IDENTITY (
    SEQUENCE NAME public.payment_id_seq
    START WITH 1
    INCREMENT BY 1
    NO MINVALUE
    NO MAXVALUE
    CACHE 1
);

--
-- Name: plan_id_seq; Type: SEQUENCE; Schema: public; Owner: -
--

ALTER TABLE public.plan ALTER COLUMN id ADD GENERATED ALWAYS AS IDENTITY (
    SEQUENCE NAME public.plan_id_seq
    START WITH 1
    INCREMENT BY 1
    NO MINVALUE
    NO MAXVALUE
    CACHE 1
);

--
-- Name: privacy_holiday; Type: TABLE; Schema: public; Owner: -
--

CREATE TABLE public.privacy_holiday (
    tenant_id bigint NOT NULL,
    day date NOT NULL,
    name text NOT NULL,
    CONSTRAINT privacy_holiday_name_check CHECK (((length(name) >= 1) AND (length(name) <= 100)))
);

ALTER TABLE ONLY public.privacy_holiday FORCE ROW LEVEL SECURITY;

--
-- Name: retention_setting; Type: TABLE; Schema: public; Owner: -
--

CREATE TABLE public.retention_setting (
    id smallint DEFAULT 1 NOT NULL,
    log_months smallint DEFAULT 12 NOT NULL,
    notification_months smallint DEFAULT 12 NOT NULL,
    support_years smallint DEFAULT 2 NOT NULL,
    billing_years smallint DEFAULT 5 NOT NULL,
    nonessential_days smallint DEFAULT 30 NOT NULL,
    updated_at timestamp with time zone DEFAULT now() NOT NULL,
    CONSTRAINT retention_setting_billing_years_check CHECK (((billing_years >= 5) AND (billing_years <= 50))),
    CONSTRAINT retention_setting_id_check CHECK ((id = 1)),
    CONSTRAINT retention_setting_log_months_check CHECK (((log_months >= 12) AND (log_months <= 600))),
    CONSTRAINT retention_setting_nonessential_days_check CHECK (((nonessential_days >= 0) AND (nonessential_days <= 30))),
    CONSTRAINT retention_setting_notification_months_check CHECK (((notification_months >= 12) AND (notification_months <= 600))),
    CONSTRAINT retention_setting_support_years_check CHECK (((support_years >= 2) AND (support_years <= 50)))
);

--
-- Name: session; Type: TABLE; Schema: public; Owner: -
--

CREATE TABLE public.session (
    tenant_id bigint NOT NULL,
    acct_unique_id text NOT NULL,
    started_at timestamp with time zone NOT NULL,
    stopped_at timestamp with time zone,
    subscriber_id bigint,
    nas_id bigint,
    username text NOT NULL,
    acct_session_id text NOT NULL,
    framed_ip inet,
    calling_station_id text,
    nas_port_id text,
    input_octets bigint DEFAULT 0 NOT NULL,
    output_octets bigint DEFAULT 0 NOT NULL,
    session_time bigint DEFAULT 0 NOT NULL,
    terminate_cause text
)
PARTITION BY RANGE (started_at);

ALTER TABLE ONLY public.session FORCE ROW LEVEL SECURITY;

--
-- Name: session_default; Type: TABLE; Schema: public; Owner: -
--

CREATE TABLE public.session_default (
    tenant_id bigint NOT NULL,
    acct_unique_id text NOT NULL,
    started_at timestamp with time zone NOT NULL,
    stopped_at timestamp with time zone,
    subscriber_id bigint,
    nas_id bigint,
    username text NOT NULL,
    acct_session_id text NOT NULL,
    framed_ip inet,
    calling_station_id text,
    nas_port_id text,
    input_octets bigint DEFAULT 0 NOT NULL,
    output_octets bigint DEFAULT 0 NOT NULL,
    session_time bigint DEFAULT 0 NOT NULL,
    terminate_cause text
);

--
-- Name: subscriber_id_seq; Type: SEQUENCE; Schema: public; Owner: -
--

ALTER TABLE public.subscriber ALTER COLUMN id ADD GENERATED ALWAYS AS IDENTITY (
    SEQUENCE NAME public.subscriber_id_seq
    START WITH 1
    INCREMENT BY 1
    NO MINVALUE
    NO MAXVALUE
    CACHE 1
);

--
-- Name: subscriber_key; Type: TABLE; Schema: public; Owner: -
--

CREATE TABLE public.subscriber_key (
    subscriber_id bigint NOT NULL,
    tenant_id bigint NOT NULL,
    key_enc bytea NOT NULL,
    created_at timestamp with time zone DEFAULT now() NOT NULL
);

ALTER TABLE ONLY public.subscriber_key FORCE ROW LEVEL SECURITY;

--
-- Name: TABLE subscriber_key; Type: COMMENT; Schema: public; Owner: -
--

COMMENT ON TABLE public.subscriber_key IS 'each subscriber''s data key, sealed under the key ring; deleted on erasure (crypto-shredding)';

--
-- Name: support_ticket; Type: TABLE; Schema: public; Owner: -
--

CREATE TABLE public.support_ticket (
    id bigint NOT NULL,
    tenant_id bigint NOT NULL,
    subscriber_id bigint,
    subject text NOT NULL,
    body text NOT NULL,
    status text DEFAULT 'open'::text NOT NULL,
    opened_at timestamp with time zone DEFAULT now() NOT NULL,
    resolved_at timestamp with time zone,
    CONSTRAINT support_ticket_status_check CHECK ((status = ANY (ARRAY['open'::text, 'pending'::text, 'resolved'::text])))
);

ALTER TABLE ONLY public.support_ticket FORCE ROW LEVEL SECURITY;

--
-- Name: support_ticket_id_seq; Type: SEQUENCE; Schema: public; Owner: -
--

ALTER TABLE public.support_ticket ALTER COLUMN id ADD GENERATED ALWAYS AS IDENTITY (
    SEQUENCE NAME public.support_ticket_id_seq
    START WITH 1
    INCREMENT BY 1
    NO MINVALUE
    NO MAXVALUE
    CACHE 1
);

--
-- Name: tax_rule; Type: TABLE; Schema: public; Owner: -
--

CREATE TABLE public.tax_rule (
    id bigint NOT NULL,
    tenant_id bigint NOT NULL,
    name text NOT NULL,
    kind text NOT NULL,
    rate numeric(6,3) NOT NULL,
    province text,
    base text DEFAULT 'net'::text NOT NULL,
    valid_from date NOT NULL,
    valid_to date,
    reference text,
    created_at timestamp with time zone DEFAULT now() NOT NULL,
    CONSTRAINT tax_rule_base_check CHECK ((base = ANY (ARRAY['net'::text, 'net_plus_sales'::text]))),
    CONSTRAINT tax_rule_check CHECK ((valid_to >= valid_from)),
    CONSTRAINT tax_rule_kind_check CHECK ((kind = ANY (ARRAY['sales'::text, 'advance_income'::text]))),
    CONSTRAINT tax_rule_name_check CHECK (((length(name) >= 1) AND (length(name) <= 80))),
    CONSTRAINT tax_rule_province_check CHECK ((province = ANY (ARRAY['punjab'::text, 'sindh'::text, 'kp'::text, 'balochistan'::text, 'ict'::text]))),
    CONSTRAINT tax_rule_rate_check CHECK (((rate >= (0)::numeric) AND (rate <= (100)::numeric))),
    CONSTRAINT tax_rule_reference_check CHECK ((length(reference) <= 200))
);

ALTER TABLE ONLY public.tax_rule FORCE ROW LEVEL SECURITY;

--
-- Name: tax_rule_id_seq; Type: SEQUENCE; Schema: public; Owner: -
--

ALTER TABLE public.tax_rule ALTER COLUMN id ADD GENERATED ALWAYS AS IDENTITY (
    SEQUENCE NAME public.tax_rule_id_seq
    START WITH 1
    INCREMENT BY 1
    NO MINVALUE
    NO MAXVALUE
    CACHE 1
);

--
-- Name: tenant; Type: TABLE; Schema: public; Owner: -
--

CREATE TABLE public.tenant (
    id bigint NOT NULL,
    name text NOT NULL,
    display_name text,
    timezone text DEFAULT 'Asia/Karachi'::text NOT NULL,
    currency character(3) DEFAULT 'PKR'::bpchar NOT NULL,
    interim_interval integer DEFAULT 300 NOT NULL,
    walled_garden_address_list text,
    walled_garden_rate_limit text,
    backend_down_policy text DEFAULT 'reject'::text NOT NULL,
    backend_down_cache_seconds integer DEFAULT 900 NOT NULL,
    created_at timestamp with time zone DEFAULT now() NOT NULL,
    updated_at timestamp with time zone DEFAULT now() NOT NULL,
    terminated_at timestamp with time zone,
    login_fail_limit integer DEFAULT 5 NOT NULL,
    login_fail_window_seconds integer DEFAULT 300 NOT NULL,
    login_lockout_seconds integer DEFAULT 900 NOT NULL,
    billing_cycle text DEFAULT 'anniversary'::text NOT NULL,
    billing_day smallint DEFAULT 1 NOT NULL,
    invoice_lead_days smallint DEFAULT 5 NOT NULL,
    grace_days smallint DEFAULT 3 NOT NULL,
    province text,
    legal_name text,
    ntn text,
    strn text,
    bank_iban text,
    CONSTRAINT tenant_backend_down_cache_seconds_check CHECK ((backend_down_cache_seconds >= 0)),
    CONSTRAINT tenant_backend_down_policy_check CHECK ((backend_down_policy = ANY (ARRAY['reject'::text, 'cached'::text]))),
    CONSTRAINT tenant_bank_iban_check CHECK ((bank_iban ~ '^[A-Z]{2}[0-9]{2}[A-Z0-9]{11,30}$'::text)),
    CONSTRAINT tenant_billing_cycle_check CHECK ((billing_cycle = ANY (ARRAY['anniversary'::text, 'calendar'::text]))),
    CONSTRAINT tenant_billing_day_check CHECK (((billing_day >= 1) AND (billing_day <= 28))),
    CONSTRAINT tenant_check CHECK (((walled_garden_address_list IS NULL) = (walled_garden_rate_limit IS NULL))),
    CONSTRAINT tenant_grace_days_check CHECK (((grace_days >= 0) AND (grace_days <= 60))),
    CONSTRAINT tenant_interim_interval_check CHECK (((interim_interval >= 60) AND (interim_interval <= 86400))),
    CONSTRAINT tenant_invoice_lead_days_check CHECK (((invoice_lead_days >= 0) AND (invoice_lead_days <= 60))),
    CONSTRAINT tenant_legal_name_check CHECK (((length(legal_name) >= 1) AND (length(legal_name) <= 200))),
    CONSTRAINT tenant_login_fail_limit_check CHECK ((login_fail_limit >= 1)),
    CONSTRAINT tenant_login_fail_window_seconds_check CHECK ((login_fail_window_seconds >= 1)),
    CONSTRAINT tenant_login_lockout_seconds_check CHECK ((login_lockout_seconds >= 1)),
    CONSTRAINT tenant_name_check CHECK ((name ~ '^[A-Za-z0-9][A-Za-z0-9._-]{0,62}$'::text)),
    CONSTRAINT tenant_ntn_check CHECK ((ntn ~ '^[0-9A-Za-z-]{1,20}$'::text)),
    CONSTRAINT tenant_province_check CHECK ((province = ANY (ARRAY['punjab'::text, 'sindh'::text, 'kp'::text, 'balochistan'::text, 'ict'::text]))),
    CONSTRAINT tenant_strn_check CHECK ((strn ~ '^[0-9A-Za-z-]{1,20}$'::text))
);

ALTER TABLE ONLY public.tenant FORCE ROW LEVEL SECURITY;

--
-- Name: tenant_id_seq; Type: SEQUENCE; Schema: public; Owner: -
--

ALTER TABLE public.tenant ALTER COLUMN id ADD GENERATED ALWAYS AS IDENTITY (
    SEQUENCE NAME public.tenant_id_seq
    START WITH 1
    INCREMENT BY 1
    NO MINVALUE
    NO MAXVALUE
    CACHE 1
);

--
-- Name: auth_log_default; Type: TABLE ATTACH; Schema: public; Owner: -
--

ALTER TABLE ONLY public.auth_log ATTACH PARTITION public.auth_log_default DEFAULT;

--
-- Name: session_default; Type: TABLE ATTACH; Schema: public; Owner: -
--

ALTER TABLE ONLY public.session ATTACH PARTITION public.session_default DEFAULT;

--
-- Name: admin_audit admin_audit_hash_key; Type: CONSTRAINT; Schema: public; Owner: -
--

ALTER TABLE ONLY public.admin_audit
    ADD CONSTRAINT admin_audit_hash_key UNIQUE (hash);

--
-- Name: admin_audit admin_audit_pkey; Type: CONSTRAINT; Schema: public; Owner: -
--

ALTER TABLE ONLY public.admin_audit
    ADD CONSTRAINT admin_audit_pkey PRIMARY KEY (id);

--
-- Name: alembic_version alembic_version_pkc; Type: CONSTRAINT; Schema: public; Owner: -
--

ALTER TABLE ONLY public.alembic_version
    ADD CONSTRAINT alembic_version_pkc PRIMARY KEY (version_num);

--
-- Name: coa_outbox coa_outbox_pkey; Type: CONSTRAINT; Schema: public; Owner: -
--

ALTER TABLE ONLY public.coa_outbox
    ADD CONSTRAINT coa_outbox_pkey PRIMARY KEY (id);

--
-- Name: consent consent_pkey; Type: CONSTRAINT; Schema: public; Owner: -
--

ALTER TABLE ONLY public.consent
    ADD CONSTRAINT consent_pkey PRIMARY KEY (id);

--
-- Name: data_request data_request_pkey; Type: CONSTRAINT; Schema: public; Owner: -
--

ALTER TABLE ONLY public.data_request
    ADD CONSTRAINT data_request_pkey PRIMARY KEY (id);

--
-- Name: data_request data_request_tenant_id_id_key; Type: CONSTRAINT; Schema: public; Owner: -
--

ALTER TABLE ONLY public.data_request
    ADD CONSTRAINT data_request_tenant_id_id_key UNIQUE (tenant_id, id);

--
-- Name: invoice_line invoice_line_invoice_id_position_key; Type: CONSTRAINT; Schema: public; Owner: -
--

ALTER TABLE ONLY public.invoice_line
    ADD CONSTRAINT invoice_line_invoice_id_position_key UNIQUE (invoice_id, "position");

--
-- Name: invoice_line invoice_line_pkey; Type: CONSTRAINT; Schema: public; Owner: -
--

ALTER TABLE ONLY public.invoice_line
    ADD CONSTRAINT invoice_line_pkey PRIMARY KEY (id);

--
-- Name: invoice_line invoice_line_tenant_id_id_key; Type: CONSTRAINT; Schema: public; Owner: -
--

ALTER TABLE ONLY public.invoice_line
    ADD CONSTRAINT invoice_line_tenant_id_id_key UNIQUE (tenant_id, id);

--
-- Name: invoice invoice_pkey; Type: CONSTRAINT; Schema: public; Owner: -
--

ALTER TABLE ONLY public.invoice
    ADD CONSTRAINT invoice_pkey PRIMARY KEY (id);

--
-- Name: invoice_tax invoice_tax_pkey; Type: CONSTRAINT; Schema: public; Owner: -
--

ALTER TABLE ONLY public.invoice_tax
    ADD CONSTRAINT invoice_tax_pkey PRIMARY KEY (id);

--
-- Name: invoice invoice_tenant_id_id_key; Type: CONSTRAINT; Schema: public; Owner: -
--

ALTER TABLE ONLY public.invoice
    ADD CONSTRAINT invoice_tenant_id_id_key UNIQUE (tenant_id, id);

--
-- Name: invoice invoice_tenant_id_number_key; Type: CONSTRAINT; Schema: public; Owner: -
--

ALTER TABLE ONLY public.invoice
    ADD CONSTRAINT invoice_tenant_id_number_key UNIQUE (tenant_id, number);

--
-- Name: journal_node journal_node_pkey; Type: CONSTRAINT; Schema: public; Owner: -
--

ALTER TABLE ONLY public.journal_node
    ADD CONSTRAINT journal_node_pkey PRIMARY KEY (node);

--
-- Name: ledger_entry ledger_entry_pkey; Type: CONSTRAINT; Schema: public; Owner: -
--

ALTER TABLE ONLY public.ledger_entry
    ADD CONSTRAINT ledger_entry_pkey PRIMARY KEY (id);

--
-- Name: nas nas_address_no_overlap; Type: CONSTRAINT; Schema: public; Owner: -
--

ALTER TABLE ONLY public.nas
    ADD CONSTRAINT nas_address_no_overlap EXCLUDE USING gist (address inet_ops WITH &&);

--
-- Name: nas nas_pkey; Type: CONSTRAINT; Schema: public; Owner: -
--

ALTER TABLE ONLY public.nas
    ADD CONSTRAINT nas_pkey PRIMARY KEY (id);

--
-- Name: nas nas_tenant_id_id_key; Type: CONSTRAINT; Schema: public; Owner: -
--

ALTER TABLE ONLY public.nas
    ADD CONSTRAINT nas_tenant_id_id_key UNIQUE (tenant_id, id);

--
-- Name: nas nas_tenant_id_name_key; Type: CONSTRAINT; Schema: public; Owner: -
--

ALTER TABLE ONLY public.nas
    ADD CONSTRAINT nas_tenant_id_name_key UNIQUE (tenant_id, name);

--
-- Name: notification notification_pkey; Type: CONSTRAINT; Schema: public; Owner: -
--

ALTER TABLE ONLY public.notification
    ADD CONSTRAINT notification_pkey PRIMARY KEY (id);

--
-- Name: number_series number_series_pkey; Type: CONSTRAINT; Schema: public; Owner: -
--

ALTER TABLE ONLY public.number_series
    ADD CONSTRAINT number_series_pkey PRIMARY KEY (tenant_id, series, fiscal_year);

--
-- Name: operator operator_pkey; Type: CONSTRAINT; Schema: public; Owner: -
--

ALTER TABLE ONLY public.operator
    ADD CONSTRAINT operator_pkey PRIMARY KEY (login);

--
-- Name: payment_gateway payment_gateway_pkey; Type: CONSTRAINT; Schema: public; Owner: -
--

ALTER TABLE ONLY public.payment_gateway
    ADD CONSTRAINT payment_gateway_pkey PRIMARY KEY (tenant_id, gateway);

--
-- Name: payment payment_pkey; Type: CONSTRAINT; Schema: public; Owner: -
--

ALTER TABLE ONLY public.payment
    ADD CONSTRAINT payment_pkey PRIMARY KEY (id);

--
-- Name: payment payment_tenant_id_id_key; Type: CONSTRAINT; Schema: public; Owner: -
--

ALTER TABLE ONLY public.payment
    ADD CONSTRAINT payment_tenant_id_id_key UNIQUE (tenant_id, id);

--
-- Name: payment payment_tenant_id_method_reference_key; Type: CONSTRAINT; Schema: public; Owner: -
--

ALTER TABLE ONLY public.payment
    ADD CONSTRAINT payment_tenant_id_method_reference_key UNIQUE (tenant_id, method, reference);

--
-- Name: plan plan_pkey; Type: CONSTRAINT; Schema: public; Owner: -
--

ALTER TABLE ONLY public.plan
    ADD CONSTRAINT plan_pkey PRIMARY KEY (id);

--
-- Name: plan plan_tenant_id_id_key; Type: CONSTRAINT; Schema: public; Owner: -
--

ALTER TABLE ONLY public.plan
    ADD CONSTRAINT plan_tenant_id_id_key UNIQUE (tenant_id, id);

--
-- Name: plan plan_tenant_id_name_key; Type: CONSTRAINT; Schema: public; Owner: -
--

ALTER TABLE ONLY public.plan
    ADD CONSTRAINT plan_tenant_id_name_key UNIQUE (tenant_id, name);

--
-- Name: privacy_holiday privacy_holiday_pkey; Type: CONSTRAINT; Schema: public; Owner: -
--

ALTER TABLE ONLY public.privacy_holiday
    ADD CONSTRAINT privacy_holiday_pkey PRIMARY KEY (tenant_id, day);

--
-- Name: retention_setting retention_setting_pkey; Type: CONSTRAINT; Schema: public; Owner: -
--

ALTER TABLE ONLY public.retention_setting
    ADD CONSTRAINT retention_setting_pkey PRIMARY KEY (id);

--
-- Name: session session_pkey; Type: CONSTRAINT; Schema: public; Owner: -
--

ALTER TABLE ONLY public.session
    ADD CONSTRAINT session_pkey PRIMARY KEY (tenant_id, acct_unique_id, started_at);

--
-- Name: session_default session_default_pkey; Type: CONSTRAINT; Schema: public; Owner: -
--

ALTER TABLE ONLY public.session_default
    ADD CONSTRAINT session_default_pkey PRIMARY KEY (tenant_id, acct_unique_id, started_at);

--
-- Name: session_open session_open_pkey; Type: CONSTRAINT; Schema: public; Owner: -
--

ALTER TABLE ONLY public.session_open
    ADD CONSTRAINT session_open_pkey PRIMARY KEY (acct_unique_id);

--
-- Name: subscriber_key subscriber_key_pkey; Type: CONSTRAINT; Schema: public; Owner: -
--

ALTER TABLE ONLY public.subscriber_key
    ADD CONSTRAINT subscriber_key_pkey PRIMARY KEY (subscriber_id);

--
-- Name: subscriber subscriber_pkey; Type: CONSTRAINT; Schema: public; Owner: -
--

ALTER TABLE ONLY public.subscriber
    ADD CONSTRAINT subscriber_pkey PRIMARY KEY (id);

--
-- Name: subscriber subscriber_tenant_id_id_key; Type: CONSTRAINT; Schema: public; Owner: -
--

ALTER TABLE ONLY public.subscriber
    ADD CONSTRAINT subscriber_tenant_id_id_key UNIQUE (tenant_id, id);

--
-- Name: subscriber subscriber_tenant_id_username_key; Type: CONSTRAINT; Schema: public; Owner: -
--

ALTER TABLE ONLY public.subscriber
    ADD CONSTRAINT subscriber_tenant_id_username_key UNIQUE (tenant_id, username);

--
-- Name: support_ticket support_ticket_pkey; Type: CONSTRAINT; Schema: public; Owner: -
--

ALTER TABLE ONLY public.support_ticket
    ADD CONSTRAINT support_ticket_pkey PRIMARY KEY (id);

--
-- Name: tax_rule tax_rule_pkey; Type: CONSTRAINT; Schema: public; Owner: -
--

ALTER TABLE ONLY public.tax_rule
    ADD CONSTRAINT tax_rule_pkey PRIMARY KEY (id);

--
-- Name: tax_rule tax_rule_tenant_id_id_key; Type: CONSTRAINT; Schema: public; Owner: -
--

ALTER TABLE ONLY public.tax_rule
    ADD CONSTRAINT tax_rule_tenant_id_id_key UNIQUE (tenant_id, id);

--
-- Name: tenant tenant_name_key; Type: CONSTRAINT; Schema: public; Owner: -
--

ALTER TABLE ONLY public.tenant
    ADD CONSTRAINT tenant_name_key UNIQUE (name);

--
-- Name: tenant tenant_pkey; Type: CONSTRAINT; Schema: public; Owner: -
--

ALTER TABLE ONLY public.tenant
    ADD CONSTRAINT tenant_pkey PRIMARY KEY (id);

--
-- Name: usage_counter usage_counter_pkey; Type: CONSTRAINT; Schema: public; Owner: -
--

ALTER TABLE ONLY public.usage_counter
    ADD CONSTRAINT usage_counter_pkey PRIMARY KEY (subscriber_id, period_start);

--
-- Name: auth_log_at; Type: INDEX; Schema: public; Owner: -
--

CREATE INDEX auth_log_at ON ONLY public.auth_log USING brin (at) WITH (autosummarize='on');

--
-- Name: auth_log_default_at_idx; Type: INDEX; Schema: public; Owner: -
--

CREATE INDEX auth_log_default_at_idx ON public.auth_log_default USING brin (at) WITH (autosummarize='on');

--
-- Name: auth_log_user; Type: INDEX; Schema: public; Owner: -
--

CREATE INDEX auth_log_user ON ONLY public.auth_log USING btree (tenant_id, username, at);

--
-- Name: auth_log_default_tenant_id_username_at_idx; Type: INDEX; Schema: public; Owner: -
--

CREATE INDEX auth_log_default_tenant_id_username_at_idx ON public.auth_log_default USING btree (tenant_id, username, at);

--
-- Name: coa_outbox_due; Type: INDEX; Schema: public; Owner: -
--

CREATE INDEX coa_outbox_due ON public.coa_outbox USING btree (next_attempt_at) WHERE (status = 'pending'::text);

--
-- Name: coa_outbox_session; Type: INDEX; Schema: public; Owner: -
--

CREATE INDEX coa_outbox_session ON public.coa_outbox USING btree (acct_unique_id);

--
-- Name: consent_latest; Type: INDEX; Schema: public; Owner: -
--

CREATE INDEX consent_latest ON public.consent USING btree (subscriber_id, purpose, at DESC, id DESC);

--
-- Name: data_request_open; Type: INDEX; Schema: public; Owner: -
--

CREATE INDEX data_request_open ON public.data_request USING btree (tenant_id, received_on) WHERE (closed_at IS NULL);

--
-- Name: invoice_credited_once; Type: INDEX; Schema: public; Owner: -
--

CREATE UNIQUE INDEX invoice_credited_once ON public.invoice USING btree (credits_id) WHERE (kind = 'credit_note'::text);

--
-- Name: invoice_one_per_period; Type: INDEX; Schema: public; Owner: -
--

CREATE UNIQUE INDEX invoice_one_per_period ON public.invoice USING btree (tenant_id, subscriber_id, period_start) WHERE ((kind = 'invoice'::text) AND (status <> 'void'::text) AND (reason IS NULL));

--
-- Name: invoice_open; Type: INDEX; Schema: public; Owner: -
--

CREATE INDEX invoice_open ON public.invoice USING btree (tenant_id, due_on) WHERE (status = 'open'::text);

--
-- Name: invoice_subscriber; Type: INDEX; Schema: public; Owner: -
--

CREATE INDEX invoice_subscriber ON public.invoice USING btree (tenant_id, subscriber_id, period_start);

--
-- Name: invoice_tax_line; Type: INDEX; Schema: public; Owner: -
--

CREATE INDEX invoice_tax_line ON public.invoice_tax USING btree (line_id);

--
-- Name: ledger_entry_subscriber; Type: INDEX; Schema: public; Owner: -
--

CREATE INDEX ledger_entry_subscriber ON public.ledger_entry USING btree (tenant_id, subscriber_id, id);

--
-- Name: notification_once_per_invoice; Type: INDEX; Schema: public; Owner: -
--

CREATE UNIQUE INDEX notification_once_per_invoice ON public.notification USING btree (invoice_id, template, channel) WHERE (invoice_id IS NOT NULL);

--
-- Name: notification_queue; Type: INDEX; Schema: public; Owner: -
--

CREATE INDEX notification_queue ON public.notification USING btree (created_at) WHERE (status = 'queued'::text);

--
-- Name: operator_tenant; Type: INDEX; Schema: public; Owner: -
--

CREATE INDEX operator_tenant ON public.operator USING btree (tenant_id);

--
-- Name: payment_allocation_invoice; Type: INDEX; Schema: public; Owner: -
--

CREATE INDEX payment_allocation_invoice ON public.payment_allocation USING btree (invoice_id);

--
-- Name: payment_subscriber; Type: INDEX; Schema: public; Owner: -
--

CREATE INDEX payment_subscriber ON public.payment USING btree (tenant_id, subscriber_id, received_at);

--
-- Name: session_subscriber; Type: INDEX; Schema: public; Owner: -
--

CREATE INDEX session_subscriber ON ONLY public.session USING btree (subscriber_id, started_at);

--
-- Name: session_default_subscriber_id_started_at_idx; Type: INDEX; Schema: public; Owner: -
--

CREATE INDEX session_default_subscriber_id_started_at_idx ON public.session_default USING btree (subscriber_id, started_at);

--
-- Name: session_open_nas; Type: INDEX; Schema: public; Owner: -
--

CREATE INDEX session_open_nas ON public.session_open USING btree (nas_id) WHERE (stopped_at IS NULL);

--
-- Name: session_open_started; Type: INDEX; Schema: public; Owner: -
--

CREATE INDEX session_open_started ON public.session_open USING btree (started_at) WHERE (stopped_at IS NULL);

--
-- Name: session_open_subscriber; Type: INDEX; Schema: public; Owner: -
--

CREATE INDEX session_open_subscriber ON public.session_open USING btree (subscriber_id) WHERE (stopped_at IS NULL);

--
-- Name: subscriber_plan; Type: INDEX; Schema: public; Owner: -
--

CREATE INDEX subscriber_plan ON public.subscriber USING btree (plan_id);

--
-- Name: subscriber_static_ip; Type: INDEX; Schema: public; Owner: -
--

CREATE UNIQUE INDEX subscriber_static_ip ON public.subscriber USING btree (tenant_id, static_ip) WHERE (static_ip IS NOT NULL);

--
-- Name: subscriber_username_folded; Type: INDEX; Schema: public; Owner: -
--

CREATE UNIQUE INDEX subscriber_username_folded ON public.subscriber USING btree (tenant_id, lower(username));

--
-- Name: tax_rule_tenant; Type: INDEX; Schema: public; Owner: -
--

CREATE INDEX tax_rule_tenant ON public.tax_rule USING btree (tenant_id, kind, valid_from);

--
-- Name: auth_log_default_at_idx; Type: INDEX ATTACH; Schema: public; Owner: -
--

ALTER INDEX public.auth_log_at ATTACH PARTITION public.auth_log_default_at_idx;

--
-- Name: auth_log_default_tenant_id_username_at_idx; Type: INDEX ATTACH; Schema: public; Owner: -
--

ALTER INDEX public.auth_log_user ATTACH PARTITION public.auth_log_default_tenant_id_username_at_idx;

--
-- Name: session_default_pkey; Type: INDEX ATTACH; Schema: public; Owner: -
--

ALTER INDEX public.session_pkey ATTACH PARTITION public.session_default_pkey;

--
-- Name: session_default_subscriber_id_started_at_idx; Type: INDEX ATTACH; Schema: public; Owner: -
--

ALTER INDEX public.session_subscriber ATTACH PARTITION public.session_default_subscriber_id_started_at_idx;

--
-- Name: admin_audit admin_audit_append_only; Type: TRIGGER; Schema: public; Owner: -
--

CREATE TRIGGER admin_audit_append_only BEFORE DELETE OR UPDATE ON public.admin_audit FOR EACH ROW EXECUTE FUNCTION public.cloudos_refuse_change();

--
-- Name: admin_audit admin_audit_no_truncate; Type: TRIGGER; Schema: public; Owner: -
--

CREATE TRIGGER admin_audit_no_truncate BEFORE TRUNCATE ON public.admin_audit FOR EACH STATEMENT EXECUTE FUNCTION public.cloudos_refuse_change();

--
-- Name: admin_audit admin_audit_stamp; Type: TRIGGER; Schema: public; Owner: -
--

CREATE TRIGGER admin_audit_stamp BEFORE INSERT ON public.admin_audit FOR EACH ROW EXECUTE FUNCTION public.cloudos_audit_stamp();

--
-- Name: consent consent_append_only; Type: TRIGGER; Schema: public; Owner: -
--

CREATE TRIGGER consent_append_only BEFORE UPDATE ON public.consent FOR EACH ROW EXECUTE FUNCTION public.cloudos_refuse_change();

--
-- Name: invoice invoice_final; Type: TRIGGER; Schema: public; Owner: -
--

CREATE TRIGGER invoice_final BEFORE DELETE OR UPDATE ON public.invoice FOR EACH ROW EXECUTE FUNCTION public.cloudos_invoice_final();

--
-- Name: invoice_line invoice_line_append_only; Type: TRIGGER; Schema: public; Owner: -
--

CREATE TRIGGER invoice_line_append_only BEFORE DELETE OR UPDATE ON public.invoice_line FOR EACH ROW EXECUTE FUNCTION public.cloudos_billing_kept();

--
-- Name: invoice invoice_no_truncate; Type: TRIGGER; Schema: public; Owner: -
--

CREATE TRIGGER invoice_no_truncate BEFORE TRUNCATE ON public.invoice FOR EACH STATEMENT EXECUTE FUNCTION public.cloudos_refuse_change();

--
-- Name: invoice_tax invoice_tax_append_only; Type: TRIGGER; Schema: public; Owner: -
--

CREATE TRIGGER invoice_tax_append_only BEFORE DELETE OR UPDATE ON public.invoice_tax FOR EACH ROW EXECUTE FUNCTION public.cloudos_billing_kept();

--
-- Name: ledger_entry ledger_entry_append_only; Type: TRIGGER; Schema: public; Owner: -
--

CREATE TRIGGER ledger_entry_append_only BEFORE DELETE OR UPDATE ON public.ledger_entry FOR EACH ROW EXECUTE FUNCTION public.cloudos_billing_kept();

--
-- Name: ledger_entry ledger_entry_no_truncate; Type: TRIGGER; Schema: public; Owner: -
--

CREATE TRIGGER ledger_entry_no_truncate BEFORE TRUNCATE ON public.ledger_entry FOR EACH STATEMENT EXECUTE FUNCTION public.cloudos_refuse_change();

--
-- Name: nas nas_authz; Type: TRIGGER; Schema: public; Owner: -
--

CREATE TRIGGER nas_authz AFTER INSERT OR DELETE OR UPDATE ON public.nas FOR EACH ROW EXECUTE FUNCTION public.cloudos_authz_changed('N');

--
-- Name: nas nas_touch; Type: TRIGGER; Schema: public; Owner: -
--

CREATE TRIGGER nas_touch BEFORE UPDATE ON public.nas FOR EACH ROW EXECUTE FUNCTION public.cloudos_touch();

--
-- Name: notification notification_consent; Type: TRIGGER; Schema: public; Owner: -
--

CREATE TRIGGER notification_consent BEFORE INSERT ON public.notification FOR EACH ROW EXECUTE FUNCTION public.cloudos_notification_consent();

--
-- Name: payment_allocation payment_allocation_append_only; Type: TRIGGER; Schema: public; Owner: -
--

CREATE TRIGGER payment_allocation_append_only BEFORE DELETE OR UPDATE ON public.payment_allocation FOR EACH ROW EXECUTE FUNCTION public.cloudos_billing_kept();

--
-- Name: payment payment_append_only; Type: TRIGGER; Schema: public; Owner: -
--

CREATE TRIGGER payment_append_only BEFORE DELETE OR UPDATE ON public.payment FOR EACH ROW EXECUTE FUNCTION public.cloudos_billing_kept();

--
-- Name: plan plan_authz; Type: TRIGGER; Schema: public; Owner: -
--

CREATE TRIGGER plan_authz AFTER DELETE OR UPDATE ON public.plan FOR EACH ROW EXECUTE FUNCTION public.cloudos_authz_changed('P');

--
-- Name: plan plan_touch; Type: TRIGGER; Schema: public; Owner: -
--

CREATE TRIGGER plan_touch BEFORE UPDATE ON public.plan FOR EACH ROW EXECUTE FUNCTION public.cloudos_touch();

--
-- Name: subscriber subscriber_authz; Type: TRIGGER; Schema: public; Owner: -
--

CREATE TRIGGER subscriber_authz AFTER INSERT OR DELETE OR UPDATE ON public.subscriber FOR EACH ROW EXECUTE FUNCTION public.cloudos_authz_changed('S');

--
-- Name: subscriber subscriber_touch; Type: TRIGGER; Schema: public; Owner: -
--

CREATE TRIGGER subscriber_touch BEFORE UPDATE ON public.subscriber FOR EACH ROW EXECUTE FUNCTION public.cloudos_touch();

--
-- Name: tenant tenant_authz; Type: TRIGGER; Schema: public; Owner: -
--

CREATE TRIGGER tenant_authz AFTER DELETE OR UPDATE ON public.tenant FOR EACH ROW EXECUTE FUNCTION public.cloudos_authz_changed('T');

--
-- Name: tenant tenant_touch; Type: TRIGGER; Schema: public; Owner: -
--

CREATE TRIGGER tenant_touch BEFORE UPDATE ON public.tenant FOR EACH ROW EXECUTE FUNCTION public.cloudos_touch();

--
-- Name: coa_outbox coa_outbox_tenant_id_fkey; Type: FK CONSTRAINT; Schema: public; Owner: -
--

ALTER TABLE ONLY public.coa_outbox
    ADD CONSTRAINT coa_outbox_tenant_id_fkey FOREIGN KEY (tenant_id) REFERENCES public.tenant(id);

--
-- Name: consent consent_tenant_id_subscriber_id_fkey; Type: FK CONSTRAINT; Schema: public; Owner: -
--

ALTER TABLE ONLY public.consent
    ADD CONSTRAINT consent_tenant_id_subscriber_id_fkey FOREIGN KEY (tenant_id, subscriber_id) REFERENCES public.subscriber(tenant_id, id) ON DELETE CASCADE;

--
-- Name: data_request data_request_tenant_id_fkey; Type: FK CONSTRAINT; Schema: public; Owner: -
--

ALTER TABLE ONLY public.data_request
    ADD CONSTRAINT data_request_tenant_id_fkey FOREIGN KEY (tenant_id) REFERENCES public.tenant(id) ON DELETE CASCADE;

--
-- Name: data_request data_request_tenant_id_subscriber_id_fkey; Type: FK CONSTRAINT; Schema: public; Owner: -
--

ALTER TABLE ONLY public.data_request
    ADD CONSTRAINT data_request_tenant_id_subscriber_id_fkey FOREIGN KEY (tenant_id, subscriber_id) REFERENCES public.subscriber(tenant_id, id);

--
-- Name: invoice_line invoice_line_tenant_id_invoice_id_fkey; Type: FK CONSTRAINT; Schema: public; Owner: -
--

ALTER TABLE ONLY public.invoice_line
    ADD CONSTRAINT invoice_line_tenant_id_invoice_id_fkey FOREIGN KEY (tenant_id, invoice_id) REFERENCES public.invoice(tenant_id, id);

--
-- Name: invoice_tax invoice_tax_tenant_id_line_id_fkey; Type: FK CONSTRAINT; Schema: public; Owner: -
--

ALTER TABLE ONLY public.invoice_tax
    ADD CONSTRAINT invoice_tax_tenant_id_line_id_fkey FOREIGN KEY (tenant_id, line_id) REFERENCES public.invoice_line(tenant_id, id);

--
-- Name: invoice_tax invoice_tax_tenant_id_tax_rule_id_fkey; Type: FK CONSTRAINT; Schema: public; Owner: -
--

ALTER TABLE ONLY public.invoice_tax
    ADD CONSTRAINT invoice_tax_tenant_id_tax_rule_id_fkey FOREIGN KEY (tenant_id, tax_rule_id) REFERENCES public.tax_rule(tenant_id, id);

--
-- Name: invoice invoice_tenant_id_credits_id_fkey; Type: FK CONSTRAINT; Schema: public; Owner: -
--

ALTER TABLE ONLY public.invoice
    ADD CONSTRAINT invoice_tenant_id_credits_id_fkey FOREIGN KEY (tenant_id, credits_id) REFERENCES public.invoice(tenant_id, id);

--
-- Name: invoice invoice_tenant_id_fkey; Type: FK CONSTRAINT; Schema: public; Owner: -
--

ALTER TABLE ONLY public.invoice
    ADD CONSTRAINT invoice_tenant_id_fkey FOREIGN KEY (tenant_id) REFERENCES public.tenant(id);

--
-- Name: invoice invoice_tenant_id_subscriber_id_fkey; Type: FK CONSTRAINT; Schema: public; Owner: -
--

ALTER TABLE ONLY public.invoice
    ADD CONSTRAINT invoice_tenant_id_subscriber_id_fkey FOREIGN KEY (tenant_id, subscriber_id) REFERENCES public.subscriber(tenant_id, id);

--
-- Name: ledger_entry ledger_entry_tenant_id_invoice_id_fkey; Type: FK CONSTRAINT; Schema: public; Owner: -
--

ALTER TABLE ONLY public.ledger_entry
    ADD CONSTRAINT ledger_entry_tenant_id_invoice_id_fkey FOREIGN KEY (tenant_id, invoice_id) REFERENCES public.invoice(tenant_id, id);

--
-- Name: ledger_entry ledger_entry_tenant_id_payment_id_fkey; Type: FK CONSTRAINT; Schema: public; Owner: -
--

ALTER TABLE ONLY public.ledger_entry
    ADD CONSTRAINT ledger_entry_tenant_id_payment_id_fkey FOREIGN KEY (tenant_id, payment_id) REFERENCES public.payment(tenant_id, id);

--
-- Name: ledger_entry ledger_entry_tenant_id_subscriber_id_fkey; Type: FK CONSTRAINT; Schema: public; Owner: -
--

ALTER TABLE ONLY public.ledger_entry
    ADD CONSTRAINT ledger_entry_tenant_id_subscriber_id_fkey FOREIGN KEY (tenant_id, subscriber_id) REFERENCES public.subscriber(tenant_id, id);

--
-- Name: nas nas_tenant_id_fkey; Type: FK CONSTRAINT; Schema: public; Owner: -
--

ALTER TABLE ONLY public.nas
    ADD CONSTRAINT nas_tenant_id_fkey FOREIGN KEY (tenant_id) REFERENCES public.tenant(id);

--
-- Name: notification notification_invoice_id_fkey; Type: FK CONSTRAINT; Schema: public; Owner: -
--

ALTER TABLE ONLY public.notification
    ADD CONSTRAINT notification_invoice_id_fkey FOREIGN KEY (invoice_id) REFERENCES public.invoice(id);

--
-- Name: notification notification_tenant_id_fkey; Type: FK CONSTRAINT; Schema: public; Owner: -
--

ALTER TABLE ONLY public.notification
    ADD CONSTRAINT notification_tenant_id_fkey FOREIGN KEY (tenant_id) REFERENCES public.tenant(id);

--
-- Name: number_series number_series_tenant_id_fkey; Type: FK CONSTRAINT; Schema: public; Owner: -
--

ALTER TABLE ONLY public.number_series
    ADD CONSTRAINT number_series_tenant_id_fkey FOREIGN KEY (tenant_id) REFERENCES public.tenant(id) ON DELETE CASCADE;

--
-- Name: operator operator_tenant_id_fkey; Type: FK CONSTRAINT; Schema: public; Owner: -
--

ALTER TABLE ONLY public.operator
    ADD CONSTRAINT operator_tenant_id_fkey FOREIGN KEY (tenant_id) REFERENCES public.tenant(id) ON DELETE RESTRICT;

--
-- Name: payment_allocation payment_allocation_tenant_id_credit_id_fkey; Type: FK CONSTRAINT; Schema: public; Owner: -
--

ALTER TABLE ONLY public.payment_allocation
    ADD CONSTRAINT payment_allocation_tenant_id_credit_id_fkey FOREIGN KEY (tenant_id, credit_id) REFERENCES public.invoice(tenant_id, id);

--
-- Name: payment_allocation payment_allocation_tenant_id_invoice_id_fkey; Type: FK CONSTRAINT; Schema: public; Owner: -
--

ALTER TABLE ONLY public.payment_allocation
    ADD CONSTRAINT payment_allocation_tenant_id_invoice_id_fkey FOREIGN KEY (tenant_id, invoice_id) REFERENCES public.invoice(tenant_id, id);

--
-- Name: payment_allocation payment_allocation_tenant_id_payment_id_fkey; Type: FK CONSTRAINT; Schema: public; Owner: -
--

ALTER TABLE ONLY public.payment_allocation
    ADD CONSTRAINT payment_allocation_tenant_id_payment_id_fkey FOREIGN KEY (tenant_id, payment_id) REFERENCES public.payment(tenant_id, id);

--
-- Name: payment_gateway payment_gateway_tenant_id_fkey; Type: FK CONSTRAINT; Schema: public; Owner: -
--

ALTER TABLE ONLY public.payment_gateway
    ADD CONSTRAINT payment_gateway_tenant_id_fkey FOREIGN KEY (tenant_id) REFERENCES public.tenant(id) ON DELETE CASCADE;

--
-- Name: payment payment_tenant_id_fkey; Type: FK CONSTRAINT; Schema: public; Owner: -
--

ALTER TABLE ONLY public.payment
    ADD CONSTRAINT payment_tenant_id_fkey FOREIGN KEY (tenant_id) REFERENCES public.tenant(id);

--
-- Name: payment payment_tenant_id_subscriber_id_fkey; Type: FK CONSTRAINT; Schema: public; Owner: -
--

ALTER TABLE ONLY public.payment
    ADD CONSTRAINT payment_tenant_id_subscriber_id_fkey FOREIGN KEY (tenant_id, subscriber_id) REFERENCES public.subscriber(tenant_id, id);

--
-- Name: plan plan_tenant_id_fkey; Type: FK CONSTRAINT; Schema: public; Owner: -
--

ALTER TABLE ONLY public.plan
    ADD CONSTRAINT plan_tenant_id_fkey FOREIGN KEY (tenant_id) REFERENCES public.tenant(id);

--
-- Name: privacy_holiday privacy_holiday_tenant_id_fkey; Type: FK CONSTRAINT; Schema: public; Owner: -
--

ALTER TABLE ONLY public.privacy_holiday
    ADD CONSTRAINT privacy_holiday_tenant_id_fkey FOREIGN KEY (tenant_id) REFERENCES public.tenant(id) ON DELETE CASCADE;

--
-- Name: session_open session_open_tenant_id_fkey; Type: FK CONSTRAINT; Schema: public; Owner: -
--

ALTER TABLE ONLY public.session_open
    ADD CONSTRAINT session_open_tenant_id_fkey FOREIGN KEY (tenant_id) REFERENCES public.tenant(id);

--
-- Name: subscriber_key subscriber_key_tenant_id_subscriber_id_fkey; Type: FK CONSTRAINT; Schema: public; Owner: -
--

ALTER TABLE ONLY public.subscriber_key
    ADD CONSTRAINT subscriber_key_tenant_id_subscriber_id_fkey FOREIGN KEY (tenant_id, subscriber_id) REFERENCES public.subscriber(tenant_id, id) ON DELETE CASCADE;

--
-- Name: subscriber subscriber_tenant_id_fkey; Type: FK CONSTRAINT; Schema: public; Owner: -
--

ALTER TABLE ONLY public.subscriber
    ADD CONSTRAINT subscriber_tenant_id_fkey FOREIGN KEY (tenant_id) REFERENCES public.tenant(id);

--
-- Name: subscriber subscriber_tenant_id_plan_id_fkey; Type: FK CONSTRAINT; Schema: public; Owner: -
--

ALTER TABLE ONLY public.subscriber
    ADD CONSTRAINT subscriber_tenant_id_plan_id_fkey FOREIGN KEY (tenant_id, plan_id) REFERENCES public.plan(tenant_id, id);

--
-- Name: support_ticket support_ticket_tenant_id_fkey; Type: FK CONSTRAINT; Schema: public; Owner: -
--

ALTER TABLE ONLY public.support_ticket
    ADD CONSTRAINT support_ticket_tenant_id_fkey FOREIGN KEY (tenant_id) REFERENCES public.tenant(id);

--
-- Name: tax_rule tax_rule_tenant_id_fkey; Type: FK CONSTRAINT; Schema: public; Owner: -
--

ALTER TABLE ONLY public.tax_rule
    ADD CONSTRAINT tax_rule_tenant_id_fkey FOREIGN KEY (tenant_id) REFERENCES public.tenant(id) ON DELETE CASCADE;

--
-- Name: usage_counter usage_counter_tenant_id_fkey; Type: FK CONSTRAINT; Schema: public; Owner: -
--

ALTER TABLE ONLY public.usage_counter
    ADD CONSTRAINT usage_counter_tenant_id_fkey FOREIGN KEY (tenant_id) REFERENCES public.tenant(id);

--
-- Name: admin_audit; Type: ROW SECURITY; Schema: public; Owner: -
--

ALTER TABLE public.admin_audit ENABLE ROW LEVEL SECURITY;

--
-- Name: auth_log; Type: ROW SECURITY; Schema: public; Owner: -
--

ALTER TABLE public.auth_log ENABLE ROW LEVEL SECURITY;

--
-- Name: coa_outbox; Type: ROW SECURITY; Schema: public; Owner: -
--

ALTER TABLE public.coa_outbox ENABLE ROW LEVEL SECURITY;

--
-- Name: consent; Type: ROW SECURITY; Schema: public; Owner: -
--

ALTER TABLE public.consent ENABLE ROW LEVEL SECURITY;

--
-- Name: admin_audit cross_tenant; Type: POLICY; Schema: public; Owner: -
--

CREATE POLICY cross_tenant ON public.admin_audit TO cloudos_radius, cloudos_worker, cloudos_metrics USING (true) WITH CHECK (true);

--
-- Name: auth_log cross_tenant; Type: POLICY; Schema: public; Owner: -
--

CREATE POLICY cross_tenant ON public.auth_log TO cloudos_radius, cloudos_worker, cloudos_metrics USING (true) WITH CHECK (true);

--
-- Name: coa_outbox cross_tenant; Type: POLICY; Schema: public; Owner: -
--

CREATE POLICY cross_tenant ON public.coa_outbox TO cloudos_radius, cloudos_worker, cloudos_metrics USING (true) WITH CHECK (true);

--
-- Name: consent cross_tenant; Type: POLICY; Schema: public; Owner: -
--

CREATE POLICY cross_tenant ON public.consent TO cloudos_worker USING (true) WITH CHECK (true);

--
-- Name: data_request cross_tenant; Type: POLICY; Schema: public; Owner: -
--

CREATE POLICY cross_tenant ON public.data_request TO cloudos_radius, cloudos_worker, cloudos_metrics USING (true) WITH CHECK (true);

--
-- Name: invoice cross_tenant; Type: POLICY; Schema: public; Owner: -
--

CREATE POLICY cross_tenant ON public.invoice TO cloudos_radius, cloudos_worker, cloudos_metrics USING (true) WITH CHECK (true);

--
-- Name: invoice_line cross_tenant; Type: POLICY; Schema: public; Owner: -
--

CREATE POLICY cross_tenant ON public.invoice_line TO cloudos_radius, cloudos_worker, cloudos_metrics USING (true) WITH CHECK (true);

--
-- Name: invoice_tax cross_tenant; Type: POLICY; Schema: public; Owner: -
--

CREATE POLICY cross_tenant ON public.invoice_tax TO cloudos_radius, cloudos_worker, cloudos_metrics USING (true) WITH CHECK (true);

--
-- Name: ledger_entry cross_tenant; Type: POLICY; Schema: public; Owner: -
--

CREATE POLICY cross_tenant ON public.ledger_entry TO cloudos_radius, cloudos_worker, cloudos_metrics USING (true) WITH CHECK (true);

--
-- Name: nas cross_tenant; Type: POLICY; Schema: public; Owner: -
--

CREATE POLICY cross_tenant ON public.nas TO cloudos_radius, cloudos_worker, cloudos_metrics USING (true) WITH CHECK (true);

--
-- Name: notification cross_tenant; Type: POLICY; Schema: public; Owner: -
--

CREATE POLICY cross_tenant ON public.notification TO cloudos_radius, cloudos_worker, cloudos_metrics USING (true) WITH CHECK (true);

--
-- Name: number_series cross_tenant; Type: POLICY; Schema: public; Owner: -
--

CREATE POLICY cross_tenant ON public.number_series TO cloudos_radius, cloudos_worker, cloudos_metrics USING (true) WITH CHECK (true);

--
-- Name: payment cross_tenant; Type: POLICY; Schema: public; Owner: -
--

CREATE POLICY cross_tenant ON public.payment TO cloudos_radius, cloudos_worker, cloudos_metrics USING (true) WITH CHECK (true);

--
-- Name: payment_allocation cross_tenant; Type: POLICY; Schema: public; Owner: -
--

CREATE POLICY cross_tenant ON public.payment_allocation TO cloudos_radius, cloudos_worker, cloudos_metrics USING (true) WITH CHECK (true);

--
-- Name: plan cross_tenant; Type: POLICY; Schema: public; Owner: -
--

CREATE POLICY cross_tenant ON public.plan TO cloudos_radius, cloudos_worker, cloudos_metrics USING (true) WITH CHECK (true);

--
-- Name: privacy_holiday cross_tenant; Type: POLICY; Schema: public; Owner: -
--

CREATE POLICY cross_tenant ON public.privacy_holiday TO cloudos_radius, cloudos_worker, cloudos_metrics USING (true) WITH CHECK (true);

--
-- Name: session cross_tenant; Type: POLICY; Schema: public; Owner: -
--

CREATE POLICY cross_tenant ON public.session TO cloudos_radius, cloudos_worker, cloudos_metrics USING (true) WITH CHECK (true);

--
-- Name: session_open cross_tenant; Type: POLICY; Schema: public; Owner: -
--

CREATE POLICY cross_tenant ON public.session_open TO cloudos_radius, cloudos_worker, cloudos_metrics USING (true) WITH CHECK (true);

--
-- Name: subscriber cross_tenant; Type: POLICY; Schema: public; Owner: -
--

CREATE POLICY cross_tenant ON public.subscriber TO cloudos_radius, cloudos_worker, cloudos_metrics USING (true) WITH CHECK (true);

--
-- Name: support_ticket cross_tenant; Type: POLICY; Schema: public; Owner: -
--

CREATE POLICY cross_tenant ON public.support_ticket TO cloudos_radius, cloudos_worker, cloudos_metrics USING (true) WITH CHECK (true);

--
-- Name: tax_rule cross_tenant; Type: POLICY; Schema: public; Owner: -
--

CREATE POLICY cross_tenant ON public.tax_rule TO cloudos_radius, cloudos_worker, cloudos_metrics USING (true) WITH CHECK (true);

--
-- Name: tenant cross_tenant; Type: POLICY; Schema: public; Owner: -
--

CREATE POLICY cross_tenant ON public.tenant TO cloudos_radius, cloudos_worker, cloudos_metrics USING (true) WITH CHECK (true);

--
-- Name: usage_counter cross_tenant; Type: POLICY; Schema: public; Owner: -
--

CREATE POLICY cross_tenant ON public.usage_counter TO cloudos_radius, cloudos_worker, cloudos_metrics USING (true) WITH CHECK (true);

--
-- Name: data_request; Type: ROW SECURITY; Schema: public; Owner: -
--

ALTER TABLE public.data_request ENABLE ROW LEVEL SECURITY;

--
-- Name: invoice; Type: ROW SECURITY; Schema: public; Owner: -
--

ALTER TABLE public.invoice ENABLE ROW LEVEL SECURITY;

--
-- Name: invoice_line; Type: ROW SECURITY; Schema: public; Owner: -
--

ALTER TABLE public.invoice_line ENABLE ROW LEVEL SECURITY;

--
-- Name: invoice_tax; Type: ROW SECURITY; Schema: public; Owner: -
--

ALTER TABLE public.invoice_tax ENABLE ROW LEVEL SECURITY;

--
-- Name: ledger_entry; Type: ROW SECURITY; Schema: public; Owner: -
--

ALTER TABLE public.ledger_entry ENABLE ROW LEVEL SECURITY;

--
-- Name: nas; Type: ROW SECURITY; Schema: public; Owner: -
--

ALTER TABLE public.nas ENABLE ROW LEVEL SECURITY;

--
-- Name: notification; Type: ROW SECURITY; Schema: public; Owner: -
--

ALTER TABLE public.notification ENABLE ROW LEVEL SECURITY;

--
-- Name: number_series; Type: ROW SECURITY; Schema: public; Owner: -
--

ALTER TABLE public.number_series ENABLE ROW LEVEL SECURITY;

--
-- Name: payment; Type: ROW SECURITY; Schema: public; Owner: -
--

ALTER TABLE public.payment ENABLE ROW LEVEL SECURITY;

--
-- Name: payment_allocation; Type: ROW SECURITY; Schema: public; Owner: -
--

ALTER TABLE public.payment_allocation ENABLE ROW LEVEL SECURITY;

--
-- Name: payment_gateway; Type: ROW SECURITY; Schema: public; Owner: -
--

ALTER TABLE public.payment_gateway ENABLE ROW LEVEL SECURITY;

--
-- Name: plan; Type: ROW SECURITY; Schema: public; Owner: -
--

ALTER TABLE public.plan ENABLE ROW LEVEL SECURITY;

--
-- Name: admin_audit platform; Type: POLICY; Schema: public; Owner: -
--

CREATE POLICY platform ON public.admin_audit TO cloudos_admin USING (true) WITH CHECK (true);

--
-- Name: auth_log platform; Type: POLICY; Schema: public; Owner: -
--

CREATE POLICY platform ON public.auth_log TO cloudos_admin USING (((( SELECT public.cloudos_scope() AS cloudos_scope) IS NULL) OR (tenant_id = ( SELECT public.cloudos_scope() AS cloudos_scope)))) WITH CHECK (((( SELECT public.cloudos_scope() AS cloudos_scope) IS NULL) OR (tenant_id = ( SELECT public.cloudos_scope() AS cloudos_scope))));

--
-- Name: coa_outbox platform; Type: POLICY; Schema: public; Owner: -
--

CREATE POLICY platform ON public.coa_outbox TO cloudos_admin USING (((( SELECT public.cloudos_scope() AS cloudos_scope) IS NULL) OR (tenant_id = ( SELECT public.cloudos_scope() AS cloudos_scope)))) WITH CHECK (((( SELECT public.cloudos_scope() AS cloudos_scope) IS NULL) OR (tenant_id = ( SELECT public.cloudos_scope() AS cloudos_scope))));

--
-- Name: consent platform; Type: POLICY; Schema: public; Owner: -
--

CREATE POLICY platform ON public.consent TO cloudos_admin USING (((( SELECT public.cloudos_scope() AS cloudos_scope) IS NULL) OR (tenant_id = ( SELECT public.cloudos_scope() AS cloudos_scope)))) WITH CHECK (((( SELECT public.cloudos_scope() AS cloudos_scope) IS NULL) OR (tenant_id = ( SELECT public.cloudos_scope() AS cloudos_scope))));

--
-- Name: data_request platform; Type: POLICY; Schema: public; Owner: -
--

CREATE POLICY platform ON public.data_request TO cloudos_admin USING (((( SELECT public.cloudos_scope() AS cloudos_scope) IS NULL) OR (tenant_id = ( SELECT public.cloudos_scope() AS cloudos_scope)))) WITH CHECK (((( SELECT public.cloudos_scope() AS cloudos_scope) IS NULL) OR (tenant_id = ( SELECT public.cloudos_scope() AS cloudos_scope))));

--
-- Name: invoice platform; Type: POLICY; Schema: public; Owner: -
--

CREATE POLICY platform ON public.invoice TO cloudos_admin USING (((( SELECT public.cloudos_scope() AS cloudos_scope) IS NULL) OR (tenant_id = ( SELECT public.cloudos_scope() AS cloudos_scope)))) WITH CHECK (((( SELECT public.cloudos_scope() AS cloudos_scope) IS NULL) OR (tenant_id = ( SELECT public.cloudos_scope() AS cloudos_scope))));

--
-- Name: invoice_line platform; Type: POLICY; Schema: public; Owner: -
--

CREATE POLICY platform ON public.invoice_line TO cloudos_admin USING (((( SELECT public.cloudos_scope() AS cloudos_scope) IS NULL) OR (tenant_id = ( SELECT public.cloudos_scope() AS cloudos_scope)))) WITH CHECK (((( SELECT public.cloudos_scope() AS cloudos_scope) IS NULL) OR (tenant_id = ( SELECT public.cloudos_scope() AS cloudos_scope))));

--
-- Name: invoice_tax platform; Type: POLICY; Schema: public; Owner: -
--

CREATE POLICY platform ON public.invoice_tax TO cloudos_admin USING (((( SELECT public.cloudos_scope() AS cloudos_scope) IS NULL) OR (tenant_id = ( SELECT public.cloudos_scope() AS cloudos_scope)))) WITH CHECK (((( SELECT public.cloudos_scope() AS cloudos_scope) IS NULL) OR (tenant_id = ( SELECT public.cloudos_scope() AS cloudos_scope))));

--
-- Name: ledger_entry platform; Type: POLICY; Schema: public; Owner: -
--

CREATE POLICY platform ON public.ledger_entry TO cloudos_admin USING (((( SELECT public.cloudos_scope() AS cloudos_scope) IS NULL) OR (tenant_id = ( SELECT public.cloudos_scope() AS cloudos_scope)))) WITH CHECK (((( SELECT public.cloudos_scope() AS cloudos_scope) IS NULL) OR (tenant_id = ( SELECT public.cloudos_scope() AS cloudos_scope))));

--
-- Name: nas platform; Type: POLICY; Schema: public; Owner: -
--

CREATE POLICY platform ON public.nas TO cloudos_admin USING (((( SELECT public.cloudos_scope() AS cloudos_scope) IS NULL) OR (tenant_id = ( SELECT public.cloudos_scope() AS cloudos_scope)))) WITH CHECK (((( SELECT public.cloudos_scope() AS cloudos_scope) IS NULL) OR (tenant_id = ( SELECT public.cloudos_scope() AS cloudos_scope))));

--
-- Name: notification platform; Type: POLICY; Schema: public; Owner: -
--

CREATE POLICY platform ON public.notification TO cloudos_admin USING (((( SELECT public.cloudos_scope() AS cloudos_scope) IS NULL) OR (tenant_id = ( SELECT public.cloudos_scope() AS cloudos_scope)))) WITH CHECK (((( SELECT public.cloudos_scope() AS cloudos_scope) IS NULL) OR (tenant_id = ( SELECT public.cloudos_scope() AS cloudos_scope))));

--
-- Name: number_series platform; Type: POLICY; Schema: public; Owner: -
--

CREATE POLICY platform ON public.number_series TO cloudos_admin USING (((( SELECT public.cloudos_scope() AS cloudos_scope) IS NULL) OR (tenant_id = ( SELECT public.cloudos_scope() AS cloudos_scope)))) WITH CHECK (((( SELECT public.cloudos_scope() AS cloudos_scope) IS NULL) OR (tenant_id = ( SELECT public.cloudos_scope() AS cloudos_scope))));

--
-- Name: payment platform; Type: POLICY; Schema: public; Owner: -
--

CREATE POLICY platform ON public.payment TO cloudos_admin USING (((( SELECT public.cloudos_scope() AS cloudos_scope) IS NULL) OR (tenant_id = ( SELECT public.cloudos_scope() AS cloudos_scope)))) WITH CHECK (((( SELECT public.cloudos_scope() AS cloudos_scope) IS NULL) OR (tenant_id = ( SELECT public.cloudos_scope() AS cloudos_scope))));

--
-- Name: payment_allocation platform; Type: POLICY; Schema: public; Owner: -
--

CREATE POLICY platform ON public.payment_allocation TO cloudos_admin USING (((( SELECT public.cloudos_scope() AS cloudos_scope) IS NULL) OR (tenant_id = ( SELECT public.cloudos_scope() AS cloudos_scope)))) WITH CHECK (((( SELECT public.cloudos_scope() AS cloudos_scope) IS NULL) OR (tenant_id = ( SELECT public.cloudos_scope() AS cloudos_scope))));

--
-- Name: payment_gateway platform; Type: POLICY; Schema: public; Owner: -
--

CREATE POLICY platform ON public.payment_gateway TO cloudos_admin USING (((( SELECT public.cloudos_scope() AS cloudos_scope) IS NULL) OR (tenant_id = ( SELECT public.cloudos_scope() AS cloudos_scope)))) WITH CHECK (((( SELECT public.cloudos_scope() AS cloudos_scope) IS NULL) OR (tenant_id = ( SELECT public.cloudos_scope() AS cloudos_scope))));

--
-- Name: plan platform; Type: POLICY; Schema: public; Owner: -
--

CREATE POLICY platform ON public.plan TO cloudos_admin USING (((( SELECT public.cloudos_scope() AS cloudos_scope) IS NULL) OR (tenant_id = ( SELECT public.cloudos_scope() AS cloudos_scope)))) WITH CHECK (((( SELECT public.cloudos_scope() AS cloudos_scope) IS NULL) OR (tenant_id = ( SELECT public.cloudos_scope() AS cloudos_scope))));

--
-- Name: privacy_holiday platform; Type: POLICY; Schema: public; Owner: -
--

CREATE POLICY platform ON public.privacy_holiday TO cloudos_admin USING (((( SELECT public.cloudos_scope() AS cloudos_scope) IS NULL) OR (tenant_id = ( SELECT public.cloudos_scope() AS cloudos_scope)))) WITH CHECK (((( SELECT public.cloudos_scope() AS cloudos_scope) IS NULL) OR (tenant_id = ( SELECT public.cloudos_scope() AS cloudos_scope))));

--
-- Name: session platform; Type: POLICY; Schema: public; Owner: -
--

CREATE POLICY platform ON public.session TO cloudos_admin USING (((( SELECT public.cloudos_scope() AS cloudos_scope) IS NULL) OR (tenant_id = ( SELECT public.cloudos_scope() AS cloudos_scope)))) WITH CHECK (((( SELECT public.cloudos_scope() AS cloudos_scope) IS NULL) OR (tenant_id = ( SELECT public.cloudos_scope() AS cloudos_scope))));

--
-- Name: session_open platform; Type: POLICY; Schema: public; Owner: -
--

CREATE POLICY platform ON public.session_open TO cloudos_admin USING (((( SELECT public.cloudos_scope() AS cloudos_scope) IS NULL) OR (tenant_id = ( SELECT public.cloudos_scope() AS cloudos_scope)))) WITH CHECK (((( SELECT public.cloudos_scope() AS cloudos_scope) IS NULL) OR (tenant_id = ( SELECT public.cloudos_scope() AS cloudos_scope))));

--
-- Name: subscriber platform; Type: POLICY; Schema: public; Owner: -
--

CREATE POLICY platform ON public.subscriber TO cloudos_admin USING (((( SELECT public.cloudos_scope() AS cloudos_scope) IS NULL) OR (tenant_id = ( SELECT public.cloudos_scope() AS cloudos_scope)))) WITH CHECK (((( SELECT public.cloudos_scope() AS cloudos_scope) IS NULL) OR (tenant_id = ( SELECT public.cloudos_scope() AS cloudos_scope))));

--
-- Name: subscriber_key platform; Type: POLICY; Schema: public; Owner: -
--

CREATE POLICY platform ON public.subscriber_key TO cloudos_admin USING (((( SELECT public.cloudos_scope() AS cloudos_scope) IS NULL) OR (tenant_id = ( SELECT public.cloudos_scope() AS cloudos_scope)))) WITH CHECK (((( SELECT public.cloudos_scope() AS cloudos_scope) IS NULL) OR (tenant_id = ( SELECT public.cloudos_scope() AS cloudos_scope))));

--
-- Name: support_ticket platform; Type: POLICY; Schema: public; Owner: -
--

CREATE POLICY platform ON public.support_ticket TO cloudos_admin USING (((( SELECT public.cloudos_scope() AS cloudos_scope) IS NULL) OR (tenant_id = ( SELECT public.cloudos_scope() AS cloudos_scope)))) WITH CHECK (((( SELECT public.cloudos_scope() AS cloudos_scope) IS NULL) OR (tenant_id = ( SELECT public.cloudos_scope() AS cloudos_scope))));

--
-- Name: tax_rule platform; Type: POLICY; Schema: public; Owner: -
--

CREATE POLICY platform ON public.tax_rule TO cloudos_admin USING (((( SELECT public.cloudos_scope() AS cloudos_scope) IS NULL) OR (tenant_id = ( SELECT public.cloudos_scope() AS cloudos_scope)))) WITH CHECK (((( SELECT public.cloudos_scope() AS cloudos_scope) IS NULL) OR (tenant_id = ( SELECT public.cloudos_scope() AS cloudos_scope))));

--
-- Name: tenant platform; Type: POLICY; Schema: public; Owner: -
--

CREATE POLICY platform ON public.tenant TO cloudos_admin USING (((( SELECT public.cloudos_scope() AS cloudos_scope) IS NULL) OR (id = ( SELECT public.cloudos_scope() AS cloudos_scope)))) WITH CHECK (((( SELECT public.cloudos_scope() AS cloudos_scope) IS NULL) OR (id = ( SELECT public.cloudos_scope() AS cloudos_scope))));

--
-- Name: usage_counter platform; Type: POLICY; Schema: public; Owner: -
--

CREATE POLICY platform ON public.usage_counter TO cloudos_admin USING (((( SELECT public.cloudos_scope() AS cloudos_scope) IS NULL) OR (tenant_id = ( SELECT public.cloudos_scope() AS cloudos_scope)))) WITH CHECK (((( SELECT public.cloudos_scope() AS cloudos_scope) IS NULL) OR (tenant_id = ( SELECT public.cloudos_scope() AS cloudos_scope))));

--
-- Name: privacy_holiday; Type: ROW SECURITY; Schema: public; Owner: -
--

ALTER TABLE public.privacy_holiday ENABLE ROW LEVEL SECURITY;

--
-- Name: session; Type: ROW SECURITY; Schema: public; Owner: -
--

ALTER TABLE public.session ENABLE ROW LEVEL SECURITY;

--
-- Name: session_open; Type: ROW SECURITY; Schema: public; Owner: -
--

ALTER TABLE public.session_open ENABLE ROW LEVEL SECURITY;

--
-- Name: subscriber; Type: ROW SECURITY; Schema: public; Owner: -
--

ALTER TABLE public.subscriber ENABLE ROW LEVEL SECURITY;

--
-- Name: subscriber_key; Type: ROW SECURITY; Schema: public; Owner: -
--

ALTER TABLE public.subscriber_key ENABLE ROW LEVEL SECURITY;

--
-- Name: support_ticket; Type: ROW SECURITY; Schema: public; Owner: -
--

ALTER TABLE public.support_ticket ENABLE ROW LEVEL SECURITY;

--
-- Name: tax_rule; Type: ROW SECURITY; Schema: public; Owner: -
--

ALTER TABLE public.tax_rule ENABLE ROW LEVEL SECURITY;

--
-- Name: tenant; Type: ROW SECURITY; Schema: public; Owner: -
--

ALTER TABLE public.tenant ENABLE ROW LEVEL SECURITY;

--
-- Name: admin_audit tenant_operator; Type: POLICY; Schema: public; Owner: -
--

CREATE POLICY tenant_operator ON public.admin_audit TO cloudos_operator USING ((tenant_id = ( SELECT public.cloudos_tenant() AS cloudos_tenant))) WITH CHECK ((tenant_id = ( SELECT public.cloudos_tenant() AS cloudos_tenant)));

--
-- Name: auth_log tenant_operator; Type: POLICY; Schema: public; Owner: -
--

CREATE POLICY tenant_operator ON public.auth_log TO cloudos_operator USING ((tenant_id = ( SELECT public.cloudos_tenant() AS cloudos_tenant))) WITH CHECK ((tenant_id = ( SELECT public.cloudos_tenant() AS cloudos_tenant)));

--
-- Name: coa_outbox tenant_operator; Type: POLICY; Schema: public; Owner: -
--

CREATE POLICY tenant_operator ON public.coa_outbox TO cloudos_operator USING ((tenant_id = ( SELECT public.cloudos_tenant() AS cloudos_tenant))) WITH CHECK ((tenant_id = ( SELECT public.cloudos_tenant() AS cloudos_tenant)));

--
-- Name: consent tenant_operator; Type: POLICY; Schema: public; Owner: -
--

CREATE POLICY tenant_operator ON public.consent TO cloudos_operator USING ((tenant_id = ( SELECT public.cloudos_tenant() AS cloudos_tenant))) WITH CHECK ((tenant_id = ( SELECT public.cloudos_tenant() AS cloudos_tenant)));

--
-- Name: data_request tenant_operator; Type: POLICY; Schema: public; Owner: -
--

CREATE POLICY tenant_operator ON public.data_request TO cloudos_operator USING ((tenant_id = ( SELECT public.cloudos_tenant() AS cloudos_tenant))) WITH CHECK ((tenant_id = ( SELECT public.cloudos_tenant() AS cloudos_tenant)));

--
-- Name: invoice tenant_operator; Type: POLICY; Schema: public; Owner: -
--

CREATE POLICY tenant_operator ON public.invoice TO cloudos_operator USING ((tenant_id = ( SELECT public.cloudos_tenant() AS cloudos_tenant))) WITH CHECK ((tenant_id = ( SELECT public.cloudos_tenant() AS cloudos_tenant)));

--
-- Name: invoice_line tenant_operator; Type: POLICY; Schema: public; Owner: -
--

CREATE POLICY tenant_operator ON public.invoice_line TO cloudos_operator USING ((tenant_id = ( SELECT public.cloudos_tenant() AS cloudos_tenant))) WITH CHECK ((tenant_id = ( SELECT public.cloudos_tenant() AS cloudos_tenant)));

--
-- Name: invoice_tax tenant_operator; Type: POLICY; Schema: public; Owner: -
--

CREATE POLICY tenant_operator ON public.invoice_tax TO cloudos_operator USING ((tenant_id = ( SELECT public.cloudos_tenant() AS cloudos_tenant))) WITH CHECK ((tenant_id = ( SELECT public.cloudos_tenant() AS cloudos_tenant)));

--
-- Name: ledger_entry tenant_operator; Type: POLICY; Schema: public; Owner: -
--

CREATE POLICY tenant_operator ON public.ledger_entry TO cloudos_operator USING ((tenant_id = ( SELECT public.cloudos_tenant() AS cloudos_tenant))) WITH CHECK ((tenant_id = ( SELECT public.cloudos_tenant() AS cloudos_tenant)));

--
-- Name: nas tenant_operator; Type: POLICY; Schema: public; Owner: -
--

CREATE POLICY tenant_operator ON public.nas TO cloudos_operator USING ((tenant_id = ( SELECT public.cloudos_tenant() AS cloudos_tenant))) WITH CHECK ((tenant_id = ( SELECT public.cloudos_tenant() AS cloudos_tenant)));

--
-- Name: notification tenant_operator; Type: POLICY; Schema: public; Owner: -
--

CREATE POLICY tenant_operator ON public.notification TO cloudos_operator USING ((tenant_id = ( SELECT public.cloudos_tenant() AS cloudos_tenant))) WITH CHECK ((tenant_id = ( SELECT public.cloudos_tenant() AS cloudos_tenant)));

--
-- Name: number_series tenant_operator; Type: POLICY; Schema: public; Owner: -
--

CREATE POLICY tenant_operator ON public.number_series TO cloudos_operator USING ((tenant_id = ( SELECT public.cloudos_tenant() AS cloudos_tenant))) WITH CHECK ((tenant_id = ( SELECT public.cloudos_tenant() AS cloudos_tenant)));

--
-- Name: payment tenant_operator; Type: POLICY; Schema: public; Owner: -
--

CREATE POLICY tenant_operator ON public.payment TO cloudos_operator USING ((tenant_id = ( SELECT public.cloudos_tenant() AS cloudos_tenant))) WITH CHECK ((tenant_id = ( SELECT public.cloudos_tenant() AS cloudos_tenant)));

--
-- Name: payment_allocation tenant_operator; Type: POLICY; Schema: public; Owner: -
--

CREATE POLICY tenant_operator ON public.payment_allocation TO cloudos_operator USING ((tenant_id = ( SELECT public.cloudos_tenant() AS cloudos_tenant))) WITH CHECK ((tenant_id = ( SELECT public.cloudos_tenant() AS cloudos_tenant)));

--
-- Name: payment_gateway tenant_operator; Type: POLICY; Schema: public; Owner: -
--

CREATE POLICY tenant_operator ON public.payment_gateway TO cloudos_operator USING ((tenant_id = ( SELECT public.cloudos_tenant() AS cloudos_tenant))) WITH CHECK ((tenant_id = ( SELECT public.cloudos_tenant() AS cloudos_tenant)));

--
-- Name: plan tenant_operator; Type: POLICY; Schema: public; Owner: -
--

CREATE POLICY tenant_operator ON public.plan TO cloudos_operator USING ((tenant_id = ( SELECT public.cloudos_tenant() AS cloudos_tenant))) WITH CHECK ((tenant_id = ( SELECT public.cloudos_tenant() AS cloudos_tenant)));

--
-- Name: privacy_holiday tenant_operator; Type: POLICY; Schema: public; Owner: -
--

CREATE POLICY tenant_operator ON public.privacy_holiday TO cloudos_operator USING ((tenant_id = ( SELECT public.cloudos_tenant() AS cloudos_tenant))) WITH CHECK ((tenant_id = ( SELECT public.cloudos_tenant() AS cloudos_tenant)));

--
-- Name: session tenant_operator; Type: POLICY; Schema: public; Owner: -
--

CREATE POLICY tenant_operator ON public.session TO cloudos_operator USING ((tenant_id = ( SELECT public.cloudos_tenant() AS cloudos_tenant))) WITH CHECK ((tenant_id = ( SELECT public.cloudos_tenant() AS cloudos_tenant)));

--
-- Name: session_open tenant_operator; Type: POLICY; Schema: public; Owner: -
--

CREATE POLICY tenant_operator ON public.session_open TO cloudos_operator USING ((tenant_id = ( SELECT public.cloudos_tenant() AS cloudos_tenant))) WITH CHECK ((tenant_id = ( SELECT public.cloudos_tenant() AS cloudos_tenant)));

--
-- Name: subscriber tenant_operator; Type: POLICY; Schema: public; Owner: -
--

CREATE POLICY tenant_operator ON public.subscriber TO cloudos_operator USING ((tenant_id = ( SELECT public.cloudos_tenant() AS cloudos_tenant))) WITH CHECK ((tenant_id = ( SELECT public.cloudos_tenant() AS cloudos_tenant)));

--
-- Name: subscriber_key tenant_operator; Type: POLICY; Schema: public; Owner: -
--

CREATE POLICY tenant_operator ON public.subscriber_key TO cloudos_operator USING ((tenant_id = ( SELECT public.cloudos_tenant() AS cloudos_tenant))) WITH CHECK ((tenant_id = ( SELECT public.cloudos_tenant() AS cloudos_tenant)));

--
-- Name: support_ticket tenant_operator; Type: POLICY; Schema: public; Owner: -
--

CREATE POLICY tenant_operator ON public.support_ticket TO cloudos_operator USING ((tenant_id = ( SELECT public.cloudos_tenant() AS cloudos_tenant))) WITH CHECK ((tenant_id = ( SELECT public.cloudos_tenant() AS cloudos_tenant)));

--
-- Name: tax_rule tenant_operator; Type: POLICY; Schema: public; Owner: -
--

CREATE POLICY tenant_operator ON public.tax_rule TO cloudos_operator USING ((tenant_id = ( SELECT public.cloudos_tenant() AS cloudos_tenant))) WITH CHECK ((tenant_id = ( SELECT public.cloudos_tenant() AS cloudos_tenant)));

--
-- Name: tenant tenant_operator; Type: POLICY; Schema: public; Owner: -
--

CREATE POLICY tenant_operator ON public.tenant TO cloudos_operator USING ((id = ( SELECT public.cloudos_tenant() AS cloudos_tenant))) WITH CHECK ((id = ( SELECT public.cloudos_tenant() AS cloudos_tenant)));

--
-- Name: usage_counter tenant_operator; Type: POLICY; Schema: public; Owner: -
--

CREATE POLICY tenant_operator ON public.usage_counter TO cloudos_operator USING ((tenant_id = ( SELECT public.cloudos_tenant() AS cloudos_tenant))) WITH CHECK ((tenant_id = ( SELECT public.cloudos_tenant() AS cloudos_tenant)));

--
-- Name: usage_counter; Type: ROW SECURITY; Schema: public; Owner: -
--

ALTER TABLE public.usage_counter ENABLE ROW LEVEL SECURITY;

--
-- Name: FUNCTION cloudos_account(p_nas_address inet, p_uid text, p_status text, p_username text, p_acct_session_id text, p_event_time timestamp with time zone, p_in bigint, p_out bigint, p_time bigint, p_framed_ip inet, p_calling text, p_nas_port_id text, p_cause text); Type: ACL; Schema: public; Owner: -
--

REVOKE ALL ON FUNCTION public.cloudos_account(p_nas_address inet, p_uid text, p_status text, p_username text, p_acct_session_id text, p_event_time timestamp with time zone, p_in bigint, p_out bigint, p_time bigint, p_framed_ip inet, p_calling text, p_nas_port_id text, p_cause text) FROM PUBLIC;
GRANT ALL ON FUNCTION public.cloudos_account(p_nas_address inet, p_uid text, p_status text, p_username text, p_acct_session_id text, p_event_time timestamp with time zone, p_in bigint, p_out bigint, p_time bigint, p_framed_ip inet, p_calling text, p_nas_port_id text, p_cause text) TO cloudos_radius;

--
-- Name: FUNCTION cloudos_account_journal(p_records jsonb, p_now double precision); Type: ACL; Schema: public; Owner: -
--

REVOKE ALL ON FUNCTION public.cloudos_account_journal(p_records jsonb, p_now double precision) FROM PUBLIC;
GRANT ALL ON FUNCTION public.cloudos_account_journal(p_records jsonb, p_now double precision) TO cloudos_radius;

--
-- Name: TABLE session_open; Type: ACL; Schema: public; Owner: -
--

GRANT SELECT,INSERT,UPDATE ON TABLE public.session_open TO cloudos_radius;
GRANT SELECT,INSERT,DELETE,UPDATE ON TABLE public.session_open TO cloudos_admin;
GRANT SELECT,DELETE,UPDATE ON TABLE public.session_open TO cloudos_worker;
GRANT SELECT,INSERT,DELETE,UPDATE ON TABLE public.session_open TO cloudos_op_admin;
GRANT SELECT ON TABLE public.session_open TO cloudos_op_billing;
GRANT SELECT ON TABLE public.session_open TO cloudos_op_support;
GRANT SELECT ON TABLE public.session_open TO cloudos_op_auditor;

--
-- Name: COLUMN session_open.tenant_id; Type: ACL; Schema: public; Owner: -
--

GRANT SELECT(tenant_id) ON TABLE public.session_open TO cloudos_metrics;

--
-- Name: COLUMN session_open.nas_id; Type: ACL; Schema: public; Owner: -
--

GRANT SELECT(nas_id) ON TABLE public.session_open TO cloudos_metrics;

--
-- Name: COLUMN session_open.updated_at; Type: ACL; Schema: public; Owner: -
--

GRANT SELECT(updated_at) ON TABLE public.session_open TO cloudos_metrics;

--
-- Name: COLUMN session_open.stopped_at; Type: ACL; Schema: public; Owner: -
--

GRANT SELECT(stopped_at) ON TABLE public.session_open TO cloudos_metrics;

--
-- Name: FUNCTION cloudos_archive_session(c public.session_open); Type: ACL; Schema: public; Owner: -
--

REVOKE ALL ON FUNCTION public.cloudos_archive_session(c public.session_open) FROM PUBLIC;
GRANT ALL ON FUNCTION public.cloudos_archive_session(c public.session_open) TO cloudos_radius;
GRANT ALL ON FUNCTION public.cloudos_archive_session(c public.session_open) TO cloudos_admin;
GRANT ALL ON FUNCTION public.cloudos_archive_session(c public.session_open) TO cloudos_worker;
GRANT ALL ON FUNCTION public.cloudos_archive_session(c public.session_open) TO cloudos_op_admin;

--
-- Name: FUNCTION cloudos_audit_head(); Type: ACL; Schema: public; Owner: -
--

REVOKE ALL ON FUNCTION public.cloudos_audit_head() FROM PUBLIC;
GRANT ALL ON FUNCTION public.cloudos_audit_head() TO cloudos_admin;
GRANT ALL ON FUNCTION public.cloudos_audit_head() TO cloudos_operator;
GRANT ALL ON FUNCTION public.cloudos_audit_head() TO cloudos_radius;
GRANT ALL ON FUNCTION public.cloudos_audit_head() TO cloudos_worker;
GRANT ALL ON FUNCTION public.cloudos_audit_head() TO cloudos_metrics;

--
-- Name: FUNCTION cloudos_audit_stamp(); Type: ACL; Schema: public; Owner: -
--

REVOKE ALL ON FUNCTION public.cloudos_audit_stamp() FROM PUBLIC;

--
-- Name: FUNCTION cloudos_authz_changed(); Type: ACL; Schema: public; Owner: -
--

REVOKE ALL ON FUNCTION public.cloudos_authz_changed() FROM PUBLIC;

--
-- Name: FUNCTION cloudos_billing_kept(); Type: ACL; Schema: public; Owner: -
--

REVOKE ALL ON FUNCTION public.cloudos_billing_kept() FROM PUBLIC;

--
-- Name: FUNCTION cloudos_coa_moot(p_now timestamp with time zone); Type: ACL; Schema: public; Owner: -
--

REVOKE ALL ON FUNCTION public.cloudos_coa_moot(p_now timestamp with time zone) FROM PUBLIC;
GRANT ALL ON FUNCTION public.cloudos_coa_moot(p_now timestamp with time zone) TO cloudos_admin;
GRANT ALL ON FUNCTION public.cloudos_coa_moot(p_now timestamp with time zone) TO cloudos_worker;

--
-- Name: FUNCTION cloudos_coa_policy_reason(p_reason text); Type: ACL; Schema: public; Owner: -
--

REVOKE ALL ON FUNCTION public.cloudos_coa_policy_reason(p_reason text) FROM PUBLIC;
GRANT ALL ON FUNCTION public.cloudos_coa_policy_reason(p_reason text) TO cloudos_admin;
GRANT ALL ON FUNCTION public.cloudos_coa_policy_reason(p_reason text) TO cloudos_op_admin;
GRANT ALL ON FUNCTION public.cloudos_coa_policy_reason(p_reason text) TO cloudos_op_billing;
GRANT ALL ON FUNCTION public.cloudos_coa_policy_reason(p_reason text) TO cloudos_op_support;
GRANT ALL ON FUNCTION public.cloudos_coa_policy_reason(p_reason text) TO cloudos_op_auditor;

--
-- Name: FUNCTION cloudos_coa_sweep(p_now timestamp with time zone, p_since timestamp with time zone); Type: ACL; Schema: public; Owner: -
--

REVOKE ALL ON FUNCTION public.cloudos_coa_sweep(p_now timestamp with time zone, p_since timestamp with time zone) FROM PUBLIC;
GRANT ALL ON FUNCTION public.cloudos_coa_sweep(p_now timestamp with time zone, p_since timestamp with time zone) TO cloudos_admin;
GRANT ALL ON FUNCTION public.cloudos_coa_sweep(p_now timestamp with time zone, p_since timestamp with time zone) TO cloudos_worker;

--
-- Name: FUNCTION cloudos_consented(p_subscriber bigint, p_purpose text); Type: ACL; Schema: public; Owner: -
--

REVOKE ALL ON FUNCTION public.cloudos_consented(p_subscriber bigint, p_purpose text) FROM PUBLIC;
GRANT ALL ON FUNCTION public.cloudos_consented(p_subscriber bigint, p_purpose text) TO cloudos_admin;
GRANT ALL ON FUNCTION public.cloudos_consented(p_subscriber bigint, p_purpose text) TO cloudos_operator;
GRANT ALL ON FUNCTION public.cloudos_consented(p_subscriber bigint, p_purpose text) TO cloudos_worker;

--
-- Name: FUNCTION cloudos_ensure_month_partitions(parent regclass, first_month date, months integer); Type: ACL; Schema: public; Owner: -
--

REVOKE ALL ON FUNCTION public.cloudos_ensure_month_partitions(parent regclass, first_month date, months integer) FROM PUBLIC;

--
-- Name: FUNCTION cloudos_erase_billing_identity(p_subscriber bigint, p_username text); Type: ACL; Schema: public; Owner: -
--

REVOKE ALL ON FUNCTION public.cloudos_erase_billing_identity(p_subscriber bigint, p_username text) FROM PUBLIC;
GRANT ALL ON FUNCTION public.cloudos_erase_billing_identity(p_subscriber bigint, p_username text) TO cloudos_admin;
GRANT ALL ON FUNCTION public.cloudos_erase_billing_identity(p_subscriber bigint, p_username text) TO cloudos_op_admin;

--
-- Name: FUNCTION cloudos_invoice_final(); Type: ACL; Schema: public; Owner: -
--

REVOKE ALL ON FUNCTION public.cloudos_invoice_final() FROM PUBLIC;

--
-- Name: FUNCTION cloudos_isolate(p_table regclass, p_key text, p_cross text[]); Type: ACL; Schema: public; Owner: -
--

REVOKE ALL ON FUNCTION public.cloudos_isolate(p_table regclass, p_key text, p_cross text[]) FROM PUBLIC;

--
-- Name: TABLE plan; Type: ACL; Schema: public; Owner: -
--

GRANT SELECT ON TABLE public.plan TO cloudos_radius;
GRANT SELECT,INSERT,DELETE,UPDATE ON TABLE public.plan TO cloudos_admin;
GRANT SELECT,INSERT,DELETE,UPDATE ON TABLE public.plan TO cloudos_op_admin;
GRANT SELECT ON TABLE public.plan TO cloudos_op_billing;
GRANT SELECT ON TABLE public.plan TO cloudos_op_support;
GRANT SELECT ON TABLE public.plan TO cloudos_op_auditor;

--
-- Name: TABLE subscriber; Type: ACL; Schema: public; Owner: -
--

GRANT SELECT,INSERT,DELETE,UPDATE ON TABLE public.subscriber TO cloudos_admin;
GRANT SELECT,INSERT,DELETE,UPDATE ON TABLE public.subscriber TO cloudos_op_admin;

--
-- Name: COLUMN subscriber.id; Type: ACL; Schema: public; Owner: -
--

GRANT SELECT(id) ON TABLE public.subscriber TO cloudos_radius;
GRANT SELECT(id) ON TABLE public.subscriber TO cloudos_op_billing;
GRANT SELECT(id) ON TABLE public.subscriber TO cloudos_op_support;
GRANT SELECT(id) ON TABLE public.subscriber TO cloudos_op_auditor;

--
-- Name: COLUMN subscriber.tenant_id; Type: ACL; Schema: public; Owner: -
--

GRANT SELECT(tenant_id) ON TABLE public.subscriber TO cloudos_radius;
GRANT SELECT(tenant_id) ON TABLE public.subscriber TO cloudos_op_billing;
GRANT SELECT(tenant_id) ON TABLE public.subscriber TO cloudos_op_support;
GRANT SELECT(tenant_id) ON TABLE public.subscriber TO cloudos_op_auditor;

--
-- Name: COLUMN subscriber.username; Type: ACL; Schema: public; Owner: -
--

GRANT SELECT(username) ON TABLE public.subscriber TO cloudos_radius;
GRANT SELECT(username) ON TABLE public.subscriber TO cloudos_op_billing;
GRANT SELECT(username) ON TABLE public.subscriber TO cloudos_op_support;
GRANT SELECT(username) ON TABLE public.subscriber TO cloudos_op_auditor;

--
-- Name: COLUMN subscriber.password_enc; Type: ACL; Schema: public; Owner: -
--

GRANT SELECT(password_enc) ON TABLE public.subscriber TO cloudos_radius;

--
-- Name: COLUMN subscriber.plan_id; Type: ACL; Schema: public; Owner: -
--

GRANT SELECT(plan_id) ON TABLE public.subscriber TO cloudos_radius;
GRANT SELECT(plan_id) ON TABLE public.subscriber TO cloudos_op_billing;
GRANT SELECT(plan_id) ON TABLE public.subscriber TO cloudos_op_support;
GRANT SELECT(plan_id) ON TABLE public.subscriber TO cloudos_op_auditor;

--
-- Name: COLUMN subscriber.status; Type: ACL; Schema: public; Owner: -
--

GRANT SELECT(status) ON TABLE public.subscriber TO cloudos_radius;
GRANT SELECT(status),UPDATE(status) ON TABLE public.subscriber TO cloudos_op_billing;
GRANT SELECT(status),UPDATE(status) ON TABLE public.subscriber TO cloudos_op_support;
GRANT SELECT(status) ON TABLE public.subscriber TO cloudos_op_auditor;

--
-- Name: COLUMN subscriber.status_reason; Type: ACL; Schema: public; Owner: -
--

GRANT SELECT(status_reason),UPDATE(status_reason) ON TABLE public.subscriber TO cloudos_op_billing;
GRANT SELECT(status_reason),UPDATE(status_reason) ON TABLE public.subscriber TO cloudos_op_support;
GRANT SELECT(status_reason) ON TABLE public.subscriber TO cloudos_op_auditor;

--
-- Name: COLUMN subscriber.expires_at; Type: ACL; Schema: public; Owner: -
--

GRANT SELECT(expires_at) ON TABLE public.subscriber TO cloudos_radius;
GRANT SELECT(expires_at),UPDATE(expires_at) ON TABLE public.subscriber TO cloudos_op_billing;
GRANT SELECT(expires_at) ON TABLE public.subscriber TO cloudos_op_support;
GRANT SELECT(expires_at) ON TABLE public.subscriber TO cloudos_op_auditor;

--
-- Name: COLUMN subscriber.mac; Type: ACL; Schema: public; Owner: -
--

GRANT SELECT(mac) ON TABLE public.subscriber TO cloudos_radius;
GRANT SELECT(mac) ON TABLE public.subscriber TO cloudos_op_billing;
GRANT SELECT(mac) ON TABLE public.subscriber TO cloudos_op_support;
GRANT SELECT(mac) ON TABLE public.subscriber TO cloudos_op_auditor;

--
-- Name: COLUMN subscriber.static_ip; Type: ACL; Schema: public; Owner: -
--

GRANT SELECT(static_ip) ON TABLE public.subscriber TO cloudos_radius;
GRANT SELECT(static_ip) ON TABLE public.subscriber TO cloudos_op_billing;
GRANT SELECT(static_ip) ON TABLE public.subscriber TO cloudos_op_support;
GRANT SELECT(static_ip) ON TABLE public.subscriber TO cloudos_op_auditor;

--
-- Name: COLUMN subscriber.full_name; Type: ACL; Schema: public; Owner: -
--

GRANT SELECT(full_name) ON TABLE public.subscriber TO cloudos_op_billing;
GRANT SELECT(full_name) ON TABLE public.subscriber TO cloudos_op_support;
GRANT SELECT(full_name) ON TABLE public.subscriber TO cloudos_op_auditor;

--
-- Name: COLUMN subscriber.phone; Type: ACL; Schema: public; Owner: -
--

GRANT SELECT(phone) ON TABLE public.subscriber TO cloudos_op_billing;
GRANT SELECT(phone) ON TABLE public.subscriber TO cloudos_op_support;
GRANT SELECT(phone) ON TABLE public.subscriber TO cloudos_op_auditor;

--
-- Name: COLUMN subscriber.email; Type: ACL; Schema: public; Owner: -
--

GRANT SELECT(email) ON TABLE public.subscriber TO cloudos_op_billing;
GRANT SELECT(email) ON TABLE public.subscriber TO cloudos_op_support;
GRANT SELECT(email) ON TABLE public.subscriber TO cloudos_op_auditor;

--
-- Name: COLUMN subscriber.postal_address; Type: ACL; Schema: public; Owner: -
--

GRANT SELECT(postal_address) ON TABLE public.subscriber TO cloudos_op_billing;
GRANT SELECT(postal_address) ON TABLE public.subscriber TO cloudos_op_support;
GRANT SELECT(postal_address) ON TABLE public.subscriber TO cloudos_op_auditor;

--
-- Name: COLUMN subscriber.created_at; Type: ACL; Schema: public; Owner: -
--

GRANT SELECT(created_at) ON TABLE public.subscriber TO cloudos_op_billing;
GRANT SELECT(created_at) ON TABLE public.subscriber TO cloudos_op_support;
GRANT SELECT(created_at) ON TABLE public.subscriber TO cloudos_op_auditor;

--
-- Name: COLUMN subscriber.updated_at; Type: ACL; Schema: public; Owner: -
--

GRANT SELECT(updated_at),UPDATE(updated_at) ON TABLE public.subscriber TO cloudos_op_billing;
GRANT SELECT(updated_at),UPDATE(updated_at) ON TABLE public.subscriber TO cloudos_op_support;
GRANT SELECT(updated_at) ON TABLE public.subscriber TO cloudos_op_auditor;

--
-- Name: COLUMN subscriber.terminated_at; Type: ACL; Schema: public; Owner: -
--

GRANT SELECT(terminated_at) ON TABLE public.subscriber TO cloudos_op_billing;
GRANT SELECT(terminated_at) ON TABLE public.subscriber TO cloudos_op_support;
GRANT SELECT(terminated_at) ON TABLE public.subscriber TO cloudos_op_auditor;

--
-- Name: COLUMN subscriber.locked_until; Type: ACL; Schema: public; Owner: -
--

GRANT SELECT(locked_until),UPDATE(locked_until) ON TABLE public.subscriber TO cloudos_radius;
GRANT SELECT(locked_until) ON TABLE public.subscriber TO cloudos_op_billing;
GRANT SELECT(locked_until),UPDATE(locked_until) ON TABLE public.subscriber TO cloudos_op_support;
GRANT SELECT(locked_until) ON TABLE public.subscriber TO cloudos_op_auditor;

--
-- Name: COLUMN subscriber.province; Type: ACL; Schema: public; Owner: -
--

GRANT SELECT(province) ON TABLE public.subscriber TO cloudos_op_billing;
GRANT SELECT(province) ON TABLE public.subscriber TO cloudos_op_support;
GRANT SELECT(province) ON TABLE public.subscriber TO cloudos_op_auditor;

--
-- Name: COLUMN subscriber.tax_exempt_until; Type: ACL; Schema: public; Owner: -
--

GRANT SELECT(tax_exempt_until) ON TABLE public.subscriber TO cloudos_op_billing;
GRANT SELECT(tax_exempt_until) ON TABLE public.subscriber TO cloudos_op_support;
GRANT SELECT(tax_exempt_until) ON TABLE public.subscriber TO cloudos_op_auditor;

--
-- Name: COLUMN subscriber.billing_anchor; Type: ACL; Schema: public; Owner: -
--

GRANT SELECT(billing_anchor) ON TABLE public.subscriber TO cloudos_op_billing;
GRANT SELECT(billing_anchor) ON TABLE public.subscriber TO cloudos_op_support;
GRANT SELECT(billing_anchor) ON TABLE public.subscriber TO cloudos_op_auditor;

--
-- Name: COLUMN subscriber.erased_at; Type: ACL; Schema: public; Owner: -
--

GRANT SELECT(erased_at) ON TABLE public.subscriber TO cloudos_op_billing;
GRANT SELECT(erased_at) ON TABLE public.subscriber TO cloudos_op_support;
GRANT SELECT(erased_at) ON TABLE public.subscriber TO cloudos_op_auditor;

--
-- Name: TABLE usage_counter; Type: ACL; Schema: public; Owner: -
--

GRANT SELECT,INSERT,UPDATE ON TABLE public.usage_counter TO cloudos_radius;
GRANT SELECT,INSERT,DELETE,UPDATE ON TABLE public.usage_counter TO cloudos_admin;
GRANT SELECT,INSERT,DELETE,UPDATE ON TABLE public.usage_counter TO cloudos_op_admin;
GRANT SELECT ON TABLE public.usage_counter TO cloudos_op_billing;
GRANT SELECT ON TABLE public.usage_counter TO cloudos_op_support;
GRANT SELECT ON TABLE public.usage_counter TO cloudos_op_auditor;

--
-- Name: FUNCTION cloudos_lapse(s public.subscriber, p public.plan, u public.usage_counter, p_now timestamp with time zone); Type: ACL; Schema: public; Owner: -
--

REVOKE ALL ON FUNCTION public.cloudos_lapse(s public.subscriber, p public.plan, u public.usage_counter, p_now timestamp with time zone) FROM PUBLIC;
GRANT ALL ON FUNCTION public.cloudos_lapse(s public.subscriber, p public.plan, u public.usage_counter, p_now timestamp with time zone) TO cloudos_admin;
GRANT ALL ON FUNCTION public.cloudos_lapse(s public.subscriber, p public.plan, u public.usage_counter, p_now timestamp with time zone) TO cloudos_op_admin;
GRANT ALL ON FUNCTION public.cloudos_lapse(s public.subscriber, p public.plan, u public.usage_counter, p_now timestamp with time zone) TO cloudos_op_billing;
GRANT ALL ON FUNCTION public.cloudos_lapse(s public.subscriber, p public.plan, u public.usage_counter, p_now timestamp with time zone) TO cloudos_op_support;
GRANT ALL ON FUNCTION public.cloudos_lapse(s public.subscriber, p public.plan, u public.usage_counter, p_now timestamp with time zone) TO cloudos_op_auditor;

--
-- Name: FUNCTION cloudos_notification_consent(); Type: ACL; Schema: public; Owner: -
--

REVOKE ALL ON FUNCTION public.cloudos_notification_consent() FROM PUBLIC;

--
-- Name: FUNCTION cloudos_operator_add(p_login text, p_tenant bigint, p_role text, p_verifier text); Type: ACL; Schema: public; Owner: -
--

REVOKE ALL ON FUNCTION public.cloudos_operator_add(p_login text, p_tenant bigint, p_role text, p_verifier text) FROM PUBLIC;
GRANT ALL ON FUNCTION public.cloudos_operator_add(p_login text, p_tenant bigint, p_role text, p_verifier text) TO cloudos_admin;

--
-- Name: FUNCTION cloudos_operator_group(p_role text); Type: ACL; Schema: public; Owner: -
--

REVOKE ALL ON FUNCTION public.cloudos_operator_group(p_role text) FROM PUBLIC;

--
-- Name: FUNCTION cloudos_operator_remove(p_login text); Type: ACL; Schema: public; Owner: -
--

REVOKE ALL ON FUNCTION public.cloudos_operator_remove(p_login text) FROM PUBLIC;
GRANT ALL ON FUNCTION public.cloudos_operator_remove(p_login text) TO cloudos_admin;

--
-- Name: FUNCTION cloudos_operator_set_password(p_login text, p_verifier text); Type: ACL; Schema: public; Owner: -
--

REVOKE ALL ON FUNCTION public.cloudos_operator_set_password(p_login text, p_verifier text) FROM PUBLIC;
GRANT ALL ON FUNCTION public.cloudos_operator_set_password(p_login text, p_verifier text) TO cloudos_admin;

--
-- Name: FUNCTION cloudos_operator_set_role(p_login text, p_role text); Type: ACL; Schema: public; Owner: -
--

REVOKE ALL ON FUNCTION public.cloudos_operator_set_role(p_login text, p_role text) FROM PUBLIC;
GRANT ALL ON FUNCTION public.cloudos_operator_set_role(p_login text, p_role text) TO cloudos_admin;

--
-- Name: FUNCTION cloudos_period(p_period text, p_tz text, p_expires timestamp with time zone, p_at timestamp with time zone, OUT period_start timestamp with time zone, OUT period_end timestamp with time zone); Type: ACL; Schema: public; Owner: -
--

REVOKE ALL ON FUNCTION public.cloudos_period(p_period text, p_tz text, p_expires timestamp with time zone, p_at timestamp with time zone, OUT period_start timestamp with time zone, OUT period_end timestamp with time zone) FROM PUBLIC;
GRANT ALL ON FUNCTION public.cloudos_period(p_period text, p_tz text, p_expires timestamp with time zone, p_at timestamp with time zone, OUT period_start timestamp with time zone, OUT period_end timestamp with time zone) TO cloudos_radius;
GRANT ALL ON FUNCTION public.cloudos_period(p_period text, p_tz text, p_expires timestamp with time zone, p_at timestamp with time zone, OUT period_start timestamp with time zone, OUT period_end timestamp with time zone) TO cloudos_admin;
GRANT ALL ON FUNCTION public.cloudos_period(p_period text, p_tz text, p_expires timestamp with time zone, p_at timestamp with time zone, OUT period_start timestamp with time zone, OUT period_end timestamp with time zone) TO cloudos_op_admin;
GRANT ALL ON FUNCTION public.cloudos_period(p_period text, p_tz text, p_expires timestamp with time zone, p_at timestamp with time zone, OUT period_start timestamp with time zone, OUT period_end timestamp with time zone) TO cloudos_op_billing;
GRANT ALL ON FUNCTION public.cloudos_period(p_period text, p_tz text, p_expires timestamp with time zone, p_at timestamp with time zone, OUT period_start timestamp with time zone, OUT period_end timestamp with time zone) TO cloudos_op_support;
GRANT ALL ON FUNCTION public.cloudos_period(p_period text, p_tz text, p_expires timestamp with time zone, p_at timestamp with time zone, OUT period_start timestamp with time zone, OUT period_end timestamp with time zone) TO cloudos_op_auditor;

--
-- Name: FUNCTION cloudos_queue_coa(p_subscriber bigint, p_kind text, p_rate text, p_reason text); Type: ACL; Schema: public; Owner: -
--

REVOKE ALL ON FUNCTION public.cloudos_queue_coa(p_subscriber bigint, p_kind text, p_rate text, p_reason text) FROM PUBLIC;
GRANT ALL ON FUNCTION public.cloudos_queue_coa(p_subscriber bigint, p_kind text, p_rate text, p_reason text) TO cloudos_admin;
GRANT ALL ON FUNCTION public.cloudos_queue_coa(p_subscriber bigint, p_kind text, p_rate text, p_reason text) TO cloudos_radius;
GRANT ALL ON FUNCTION public.cloudos_queue_coa(p_subscriber bigint, p_kind text, p_rate text, p_reason text) TO cloudos_op_admin;
GRANT ALL ON FUNCTION public.cloudos_queue_coa(p_subscriber bigint, p_kind text, p_rate text, p_reason text) TO cloudos_op_billing;
GRANT ALL ON FUNCTION public.cloudos_queue_coa(p_subscriber bigint, p_kind text, p_rate text, p_reason text) TO cloudos_op_support;

--
-- Name: FUNCTION cloudos_queue_coa_release(p_subscriber bigint, p_now timestamp with time zone, p_reason text); Type: ACL; Schema: public; Owner: -
--

REVOKE ALL ON FUNCTION public.cloudos_queue_coa_release(p_subscriber bigint, p_now timestamp with time zone, p_reason text) FROM PUBLIC;
GRANT ALL ON FUNCTION public.cloudos_queue_coa_release(p_subscriber bigint, p_now timestamp with time zone, p_reason text) TO cloudos_admin;
GRANT ALL ON FUNCTION public.cloudos_queue_coa_release(p_subscriber bigint, p_now timestamp with time zone, p_reason text) TO cloudos_op_admin;
GRANT ALL ON FUNCTION public.cloudos_queue_coa_release(p_subscriber bigint, p_now timestamp with time zone, p_reason text) TO cloudos_op_billing;
GRANT ALL ON FUNCTION public.cloudos_queue_coa_release(p_subscriber bigint, p_now timestamp with time zone, p_reason text) TO cloudos_op_support;

--
-- Name: FUNCTION cloudos_queue_coa_sessions(p_ids text[], p_kind text, p_rate text, p_reason text); Type: ACL; Schema: public; Owner: -
--

REVOKE ALL ON FUNCTION public.cloudos_queue_coa_sessions(p_ids text[], p_kind text, p_rate text, p_reason text) FROM PUBLIC;
GRANT ALL ON FUNCTION public.cloudos_queue_coa_sessions(p_ids text[], p_kind text, p_rate text, p_reason text) TO cloudos_admin;
GRANT ALL ON FUNCTION public.cloudos_queue_coa_sessions(p_ids text[], p_kind text, p_rate text, p_reason text) TO cloudos_radius;
GRANT ALL ON FUNCTION public.cloudos_queue_coa_sessions(p_ids text[], p_kind text, p_rate text, p_reason text) TO cloudos_worker;
GRANT ALL ON FUNCTION public.cloudos_queue_coa_sessions(p_ids text[], p_kind text, p_rate text, p_reason text) TO cloudos_op_admin;
GRANT ALL ON FUNCTION public.cloudos_queue_coa_sessions(p_ids text[], p_kind text, p_rate text, p_reason text) TO cloudos_op_billing;
GRANT ALL ON FUNCTION public.cloudos_queue_coa_sessions(p_ids text[], p_kind text, p_rate text, p_reason text) TO cloudos_op_support;

--
-- Name: FUNCTION cloudos_reap_sessions(p_now timestamp with time zone, OUT reaped integer, OUT purged integer, OUT as_of timestamp with time zone, OUT forgotten text[]); Type: ACL; Schema: public; Owner: -
--

REVOKE ALL ON FUNCTION public.cloudos_reap_sessions(p_now timestamp with time zone, OUT reaped integer, OUT purged integer, OUT as_of timestamp with time zone, OUT forgotten text[]) FROM PUBLIC;
GRANT ALL ON FUNCTION public.cloudos_reap_sessions(p_now timestamp with time zone, OUT reaped integer, OUT purged integer, OUT as_of timestamp with time zone, OUT forgotten text[]) TO cloudos_admin;
GRANT ALL ON FUNCTION public.cloudos_reap_sessions(p_now timestamp with time zone, OUT reaped integer, OUT purged integer, OUT as_of timestamp with time zone, OUT forgotten text[]) TO cloudos_worker;

--
-- Name: FUNCTION cloudos_refuse_change(); Type: ACL; Schema: public; Owner: -
--

REVOKE ALL ON FUNCTION public.cloudos_refuse_change() FROM PUBLIC;

--
-- Name: FUNCTION cloudos_retention_check(p_what text, p_cutoff timestamp with time zone, p_latest timestamp with time zone); Type: ACL; Schema: public; Owner: -
--

REVOKE ALL ON FUNCTION public.cloudos_retention_check(p_what text, p_cutoff timestamp with time zone, p_latest timestamp with time zone) FROM PUBLIC;

--
-- Name: FUNCTION cloudos_retention_partitions(p_parent text, p_before timestamp with time zone, p_ahead_from date, p_ahead integer, p_dry boolean, OUT dropped text[], OUT created integer, OUT default_rows bigint); Type: ACL; Schema: public; Owner: -
--

REVOKE ALL ON FUNCTION public.cloudos_retention_partitions(p_parent text, p_before timestamp with time zone, p_ahead_from date, p_ahead integer, p_dry boolean, OUT dropped text[], OUT created integer, OUT default_rows bigint) FROM PUBLIC;
GRANT ALL ON FUNCTION public.cloudos_retention_partitions(p_parent text, p_before timestamp with time zone, p_ahead_from date, p_ahead integer, p_dry boolean, OUT dropped text[], OUT created integer, OUT default_rows bigint) TO cloudos_admin;

--
-- Name: FUNCTION cloudos_retention_purge(p_notifications timestamp with time zone, p_support timestamp with time zone, p_nonessential timestamp with time zone, p_billing timestamp with time zone); Type: ACL; Schema: public; Owner: -
--

REVOKE ALL ON FUNCTION public.cloudos_retention_purge(p_notifications timestamp with time zone, p_support timestamp with time zone, p_nonessential timestamp with time zone, p_billing timestamp with time zone) FROM PUBLIC;
GRANT ALL ON FUNCTION public.cloudos_retention_purge(p_notifications timestamp with time zone, p_support timestamp with time zone, p_nonessential timestamp with time zone, p_billing timestamp with time zone) TO cloudos_admin;

--
-- Name: FUNCTION cloudos_scope(); Type: ACL; Schema: public; Owner: -
--

REVOKE ALL ON FUNCTION public.cloudos_scope() FROM PUBLIC;
GRANT ALL ON FUNCTION public.cloudos_scope() TO cloudos_admin;
GRANT ALL ON FUNCTION public.cloudos_scope() TO cloudos_operator;
GRANT ALL ON FUNCTION public.cloudos_scope() TO cloudos_radius;
GRANT ALL ON FUNCTION public.cloudos_scope() TO cloudos_worker;
GRANT ALL ON FUNCTION public.cloudos_scope() TO cloudos_metrics;

--
-- Name: FUNCTION cloudos_stale_cutoff(p_now timestamp with time zone, p_interim integer); Type: ACL; Schema: public; Owner: -
--

REVOKE ALL ON FUNCTION public.cloudos_stale_cutoff(p_now timestamp with time zone, p_interim integer) FROM PUBLIC;
GRANT ALL ON FUNCTION public.cloudos_stale_cutoff(p_now timestamp with time zone, p_interim integer) TO cloudos_radius;
GRANT ALL ON FUNCTION public.cloudos_stale_cutoff(p_now timestamp with time zone, p_interim integer) TO cloudos_admin;
GRANT ALL ON FUNCTION public.cloudos_stale_cutoff(p_now timestamp with time zone, p_interim integer) TO cloudos_worker;
GRANT ALL ON FUNCTION public.cloudos_stale_cutoff(p_now timestamp with time zone, p_interim integer) TO cloudos_metrics;
GRANT ALL ON FUNCTION public.cloudos_stale_cutoff(p_now timestamp with time zone, p_interim integer) TO cloudos_op_admin;
GRANT ALL ON FUNCTION public.cloudos_stale_cutoff(p_now timestamp with time zone, p_interim integer) TO cloudos_op_billing;
GRANT ALL ON FUNCTION public.cloudos_stale_cutoff(p_now timestamp with time zone, p_interim integer) TO cloudos_op_support;
GRANT ALL ON FUNCTION public.cloudos_stale_cutoff(p_now timestamp with time zone, p_interim integer) TO cloudos_op_auditor;

--
-- Name: FUNCTION cloudos_tenant(); Type: ACL; Schema: public; Owner: -
--

REVOKE ALL ON FUNCTION public.cloudos_tenant() FROM PUBLIC;
GRANT ALL ON FUNCTION public.cloudos_tenant() TO cloudos_admin;
GRANT ALL ON FUNCTION public.cloudos_tenant() TO cloudos_operator;
GRANT ALL ON FUNCTION public.cloudos_tenant() TO cloudos_radius;
GRANT ALL ON FUNCTION public.cloudos_tenant() TO cloudos_worker;
GRANT ALL ON FUNCTION public.cloudos_tenant() TO cloudos_metrics;

--
-- Name: FUNCTION cloudos_touch(); Type: ACL; Schema: public; Owner: -
--

REVOKE ALL ON FUNCTION public.cloudos_touch() FROM PUBLIC;

--
-- Name: FUNCTION cloudos_whoami(OUT login text, OUT role text, OUT tenant_id bigint); Type: ACL; Schema: public; Owner: -
--

REVOKE ALL ON FUNCTION public.cloudos_whoami(OUT login text, OUT role text, OUT tenant_id bigint) FROM PUBLIC;
GRANT ALL ON FUNCTION public.cloudos_whoami(OUT login text, OUT role text, OUT tenant_id bigint) TO cloudos_admin;
GRANT ALL ON FUNCTION public.cloudos_whoami(OUT login text, OUT role text, OUT tenant_id bigint) TO cloudos_operator;
GRANT ALL ON FUNCTION public.cloudos_whoami(OUT login text, OUT role text, OUT tenant_id bigint) TO cloudos_radius;
GRANT ALL ON FUNCTION public.cloudos_whoami(OUT login text, OUT role text, OUT tenant_id bigint) TO cloudos_worker;
GRANT ALL ON FUNCTION public.cloudos_whoami(OUT login text, OUT role text, OUT tenant_id bigint) TO cloudos_metrics;

--
-- Name: TABLE admin_audit; Type: ACL; Schema: public; Owner: -
--

GRANT SELECT,INSERT ON TABLE public.admin_audit TO cloudos_admin;
GRANT SELECT,INSERT ON TABLE public.admin_audit TO cloudos_op_admin;
GRANT SELECT,INSERT ON TABLE public.admin_audit TO cloudos_op_billing;
GRANT SELECT,INSERT ON TABLE public.admin_audit TO cloudos_op_support;
GRANT SELECT ON TABLE public.admin_audit TO cloudos_op_auditor;

--
-- Name: TABLE alembic_version; Type: ACL; Schema: public; Owner: -
--

GRANT SELECT ON TABLE public.alembic_version TO cloudos_admin;

--
-- Name: TABLE auth_log; Type: ACL; Schema: public; Owner: -
--

GRANT INSERT ON TABLE public.auth_log TO cloudos_radius;
GRANT SELECT ON TABLE public.auth_log TO cloudos_admin;
GRANT SELECT ON TABLE public.auth_log TO cloudos_op_admin;
GRANT SELECT ON TABLE public.auth_log TO cloudos_op_support;
GRANT SELECT ON TABLE public.auth_log TO cloudos_op_auditor;

--
-- Name: COLUMN auth_log.at; Type: ACL; Schema: public; Owner: -
--

GRANT SELECT(at) ON TABLE public.auth_log TO cloudos_metrics;

--
-- Name: COLUMN auth_log.tenant_id; Type: ACL; Schema: public; Owner: -
--

GRANT SELECT(tenant_id) ON TABLE public.auth_log TO cloudos_metrics;

--
-- Name: COLUMN auth_log.outcome; Type: ACL; Schema: public; Owner: -
--

GRANT SELECT(outcome) ON TABLE public.auth_log TO cloudos_metrics;

--
-- Name: COLUMN auth_log.reason; Type: ACL; Schema: public; Owner: -
--

GRANT SELECT(reason) ON TABLE public.auth_log TO cloudos_metrics;

--
-- Name: TABLE coa_outbox; Type: ACL; Schema: public; Owner: -
--

GRANT INSERT ON TABLE public.coa_outbox TO cloudos_radius;
GRANT SELECT,INSERT,DELETE,UPDATE ON TABLE public.coa_outbox TO cloudos_admin;
GRANT SELECT,INSERT,UPDATE ON TABLE public.coa_outbox TO cloudos_worker;
GRANT SELECT,INSERT,DELETE,UPDATE ON TABLE public.coa_outbox TO cloudos_op_admin;
GRANT SELECT,INSERT,UPDATE ON TABLE public.coa_outbox TO cloudos_op_billing;
GRANT SELECT,INSERT,UPDATE ON TABLE public.coa_outbox TO cloudos_op_support;
GRANT SELECT ON TABLE public.coa_outbox TO cloudos_op_auditor;

--
-- Name: COLUMN coa_outbox.tenant_id; Type: ACL; Schema: public; Owner: -
--

GRANT SELECT(tenant_id) ON TABLE public.coa_outbox TO cloudos_metrics;

--
-- Name: COLUMN coa_outbox.kind; Type: ACL; Schema: public; Owner: -
--

GRANT SELECT(kind) ON TABLE public.coa_outbox TO cloudos_metrics;

--
-- Name: COLUMN coa_outbox.status; Type: ACL; Schema: public; Owner: -
--

GRANT SELECT(status) ON TABLE public.coa_outbox TO cloudos_metrics;

--
-- Name: COLUMN coa_outbox.created_at; Type: ACL; Schema: public; Owner: -
--

GRANT SELECT(created_at) ON TABLE public.coa_outbox TO cloudos_metrics;

--
-- Name: COLUMN coa_outbox.done_at; Type: ACL; Schema: public; Owner: -
--

GRANT SELECT(done_at) ON TABLE public.coa_outbox TO cloudos_metrics;

--
-- Name: COLUMN coa_outbox.subscriber_id; Type: ACL; Schema: public; Owner: -
--

GRANT SELECT(subscriber_id) ON TABLE public.coa_outbox TO cloudos_radius;

--
-- Name: TABLE consent; Type: ACL; Schema: public; Owner: -
--

GRANT SELECT,INSERT ON TABLE public.consent TO cloudos_admin;
GRANT SELECT,INSERT ON TABLE public.consent TO cloudos_op_admin;
GRANT SELECT,INSERT ON TABLE public.consent TO cloudos_op_support;
GRANT SELECT ON TABLE public.consent TO cloudos_op_billing;
GRANT SELECT ON TABLE public.consent TO cloudos_op_auditor;
GRANT SELECT ON TABLE public.consent TO cloudos_worker;

--
-- Name: TABLE data_request; Type: ACL; Schema: public; Owner: -
--

GRANT SELECT,INSERT,UPDATE ON TABLE public.data_request TO cloudos_admin;
GRANT SELECT,INSERT,UPDATE ON TABLE public.data_request TO cloudos_op_admin;
GRANT SELECT ON TABLE public.data_request TO cloudos_op_support;
GRANT SELECT ON TABLE public.data_request TO cloudos_op_auditor;

--
-- Name: TABLE invoice; Type: ACL; Schema: public; Owner: -
--

GRANT SELECT,INSERT,UPDATE ON TABLE public.invoice TO cloudos_admin;
GRANT SELECT,INSERT,UPDATE ON TABLE public.invoice TO cloudos_op_admin;
GRANT SELECT,INSERT,UPDATE ON TABLE public.invoice TO cloudos_op_billing;
GRANT SELECT ON TABLE public.invoice TO cloudos_op_support;
GRANT SELECT ON TABLE public.invoice TO cloudos_op_auditor;

--
-- Name: TABLE invoice_line; Type: ACL; Schema: public; Owner: -
--

GRANT SELECT,INSERT ON TABLE public.invoice_line TO cloudos_admin;
GRANT SELECT,INSERT ON TABLE public.invoice_line TO cloudos_op_admin;
GRANT SELECT,INSERT ON TABLE public.invoice_line TO cloudos_op_billing;
GRANT SELECT ON TABLE public.invoice_line TO cloudos_op_support;
GRANT SELECT ON TABLE public.invoice_line TO cloudos_op_auditor;

--
-- Name: TABLE invoice_tax; Type: ACL; Schema: public; Owner: -
--

GRANT SELECT,INSERT ON TABLE public.invoice_tax TO cloudos_admin;
GRANT SELECT,INSERT ON TABLE public.invoice_tax TO cloudos_op_admin;
GRANT SELECT,INSERT ON TABLE public.invoice_tax TO cloudos_op_billing;
GRANT SELECT ON TABLE public.invoice_tax TO cloudos_op_support;
GRANT SELECT ON TABLE public.invoice_tax TO cloudos_op_auditor;

--
-- Name: TABLE journal_node; Type: ACL; Schema: public; Owner: -
--

GRANT SELECT,INSERT,DELETE,UPDATE ON TABLE public.journal_node TO cloudos_radius;
GRANT SELECT,INSERT,DELETE,UPDATE ON TABLE public.journal_node TO cloudos_admin;
GRANT SELECT,DELETE ON TABLE public.journal_node TO cloudos_worker;

--
-- Name: COLUMN journal_node.node; Type: ACL; Schema: public; Owner: -
--

GRANT SELECT(node) ON TABLE public.journal_node TO cloudos_metrics;

--
-- Name: COLUMN journal_node.caught_up_at; Type: ACL; Schema: public; Owner: -
--

GRANT SELECT(caught_up_at) ON TABLE public.journal_node TO cloudos_metrics;

--
-- Name: COLUMN journal_node.seen_at; Type: ACL; Schema: public; Owner: -
--

GRANT SELECT(seen_at) ON TABLE public.journal_node TO cloudos_metrics;

--
-- Name: TABLE ledger_entry; Type: ACL; Schema: public; Owner: -
--

GRANT SELECT,INSERT ON TABLE public.ledger_entry TO cloudos_admin;
GRANT SELECT,INSERT ON TABLE public.ledger_entry TO cloudos_op_admin;
GRANT SELECT,INSERT ON TABLE public.ledger_entry TO cloudos_op_billing;
GRANT SELECT ON TABLE public.ledger_entry TO cloudos_op_support;
GRANT SELECT ON TABLE public.ledger_entry TO cloudos_op_auditor;

--
-- Name: TABLE nas; Type: ACL; Schema: public; Owner: -
--

GRANT SELECT ON TABLE public.nas TO cloudos_radius;
GRANT SELECT,INSERT,DELETE,UPDATE ON TABLE public.nas TO cloudos_admin;
GRANT SELECT ON TABLE public.nas TO cloudos_worker;
GRANT SELECT,INSERT,DELETE,UPDATE ON TABLE public.nas TO cloudos_op_admin;

--
-- Name: COLUMN nas.id; Type: ACL; Schema: public; Owner: -
--

GRANT SELECT(id) ON TABLE public.nas TO cloudos_metrics;
GRANT SELECT(id) ON TABLE public.nas TO cloudos_op_billing;
GRANT SELECT(id) ON TABLE public.nas TO cloudos_op_support;
GRANT SELECT(id) ON TABLE public.nas TO cloudos_op_auditor;

--
-- Name: COLUMN nas.tenant_id; Type: ACL; Schema: public; Owner: -
--

GRANT SELECT(tenant_id) ON TABLE public.nas TO cloudos_metrics;
GRANT SELECT(tenant_id) ON TABLE public.nas TO cloudos_op_billing;
GRANT SELECT(tenant_id) ON TABLE public.nas TO cloudos_op_support;
GRANT SELECT(tenant_id) ON TABLE public.nas TO cloudos_op_auditor;

--
-- Name: COLUMN nas.name; Type: ACL; Schema: public; Owner: -
--

GRANT SELECT(name) ON TABLE public.nas TO cloudos_metrics;
GRANT SELECT(name) ON TABLE public.nas TO cloudos_op_billing;
GRANT SELECT(name) ON TABLE public.nas TO cloudos_op_support;
GRANT SELECT(name) ON TABLE public.nas TO cloudos_op_auditor;

--
-- Name: COLUMN nas.address; Type: ACL; Schema: public; Owner: -
--

GRANT SELECT(address) ON TABLE public.nas TO cloudos_op_billing;
GRANT SELECT(address) ON TABLE public.nas TO cloudos_op_support;
GRANT SELECT(address) ON TABLE public.nas TO cloudos_op_auditor;

--
-- Name: COLUMN nas.coa_port; Type: ACL; Schema: public; Owner: -
--

GRANT SELECT(coa_port) ON TABLE public.nas TO cloudos_op_billing;
GRANT SELECT(coa_port) ON TABLE public.nas TO cloudos_op_support;
GRANT SELECT(coa_port) ON TABLE public.nas TO cloudos_op_auditor;

--
-- Name: COLUMN nas.nas_type; Type: ACL; Schema: public; Owner: -
--

GRANT SELECT(nas_type) ON TABLE public.nas TO cloudos_op_billing;
GRANT SELECT(nas_type) ON TABLE public.nas TO cloudos_op_support;
GRANT SELECT(nas_type) ON TABLE public.nas TO cloudos_op_auditor;

--
-- Name: COLUMN nas.description; Type: ACL; Schema: public; Owner: -
--

GRANT SELECT(description) ON TABLE public.nas TO cloudos_op_billing;
GRANT SELECT(description) ON TABLE public.nas TO cloudos_op_support;
GRANT SELECT(description) ON TABLE public.nas TO cloudos_op_auditor;

--
-- Name: COLUMN nas.created_at; Type: ACL; Schema: public; Owner: -
--

GRANT SELECT(created_at) ON TABLE public.nas TO cloudos_op_billing;
GRANT SELECT(created_at) ON TABLE public.nas TO cloudos_op_support;
GRANT SELECT(created_at) ON TABLE public.nas TO cloudos_op_auditor;

--
-- Name: COLUMN nas.updated_at; Type: ACL; Schema: public; Owner: -
--

GRANT SELECT(updated_at) ON TABLE public.nas TO cloudos_op_billing;
GRANT SELECT(updated_at) ON TABLE public.nas TO cloudos_op_support;
GRANT SELECT(updated_at) ON TABLE public.nas TO cloudos_op_auditor;

--
-- Name: TABLE notification; Type: ACL; Schema: public; Owner: -
--

GRANT SELECT,INSERT,DELETE,UPDATE ON TABLE public.notification TO cloudos_admin;
GRANT SELECT,INSERT,DELETE,UPDATE ON TABLE public.notification TO cloudos_op_admin;
GRANT SELECT,INSERT ON TABLE public.notification TO cloudos_op_billing;
GRANT SELECT ON TABLE public.notification TO cloudos_op_auditor;

--
-- Name: TABLE number_series; Type: ACL; Schema: public; Owner: -
--

GRANT SELECT,INSERT,UPDATE ON TABLE public.number_series TO cloudos_admin;
GRANT SELECT,INSERT,UPDATE ON TABLE public.number_series TO cloudos_op_admin;
GRANT SELECT,INSERT,UPDATE ON TABLE public.number_series TO cloudos_op_billing;
GRANT SELECT ON TABLE public.number_series TO cloudos_op_auditor;

--
-- Name: TABLE operator; Type: ACL; Schema: public; Owner: -
--

GRANT SELECT ON TABLE public.operator TO cloudos_admin;

--
-- Name: TABLE payment; Type: ACL; Schema: public; Owner: -
--

GRANT SELECT,INSERT ON TABLE public.payment TO cloudos_admin;
GRANT SELECT,INSERT ON TABLE public.payment TO cloudos_op_admin;
GRANT SELECT,INSERT ON TABLE public.payment TO cloudos_op_billing;
GRANT SELECT ON TABLE public.payment TO cloudos_op_support;
GRANT SELECT ON TABLE public.payment TO cloudos_op_auditor;

--
-- Name: TABLE payment_allocation; Type: ACL; Schema: public; Owner: -
--

GRANT SELECT,INSERT ON TABLE public.payment_allocation TO cloudos_admin;
GRANT SELECT,INSERT ON TABLE public.payment_allocation TO cloudos_op_admin;
GRANT SELECT,INSERT ON TABLE public.payment_allocation TO cloudos_op_billing;
GRANT SELECT ON TABLE public.payment_allocation TO cloudos_op_support;
GRANT SELECT ON TABLE public.payment_allocation TO cloudos_op_auditor;

--
-- Name: TABLE payment_gateway; Type: ACL; Schema: public; Owner: -
--

GRANT SELECT,INSERT,DELETE,UPDATE ON TABLE public.payment_gateway TO cloudos_admin;
GRANT SELECT,INSERT,DELETE,UPDATE ON TABLE public.payment_gateway TO cloudos_op_admin;

--
-- Name: COLUMN payment_gateway.tenant_id; Type: ACL; Schema: public; Owner: -
--

GRANT SELECT(tenant_id) ON TABLE public.payment_gateway TO cloudos_op_billing;
GRANT SELECT(tenant_id) ON TABLE public.payment_gateway TO cloudos_op_auditor;

--
-- Name: COLUMN payment_gateway.gateway; Type: ACL; Schema: public; Owner: -
--

GRANT SELECT(gateway) ON TABLE public.payment_gateway TO cloudos_op_billing;
GRANT SELECT(gateway) ON TABLE public.payment_gateway TO cloudos_op_auditor;

--
-- Name: COLUMN payment_gateway.merchant_id; Type: ACL; Schema: public; Owner: -
--

GRANT SELECT(merchant_id) ON TABLE public.payment_gateway TO cloudos_op_billing;
GRANT SELECT(merchant_id) ON TABLE public.payment_gateway TO cloudos_op_auditor;

--
-- Name: COLUMN payment_gateway.base_url; Type: ACL; Schema: public; Owner: -
--

GRANT SELECT(base_url) ON TABLE public.payment_gateway TO cloudos_op_billing;
GRANT SELECT(base_url) ON TABLE public.payment_gateway TO cloudos_op_auditor;

--
-- Name: COLUMN payment_gateway.updated_at; Type: ACL; Schema: public; Owner: -
--

GRANT SELECT(updated_at) ON TABLE public.payment_gateway TO cloudos_op_billing;
GRANT SELECT(updated_at) ON TABLE public.payment_gateway TO cloudos_op_auditor;

--
-- Name: COLUMN payment_gateway.updated_by; Type: ACL; Schema: public; Owner: -
--

GRANT SELECT(updated_by) ON TABLE public.payment_gateway TO cloudos_op_billing;
GRANT SELECT(updated_by) ON TABLE public.payment_gateway TO cloudos_op_auditor;

--
-- Name: TABLE privacy_holiday; Type: ACL; Schema: public; Owner: -
--

GRANT SELECT,INSERT,DELETE ON TABLE public.privacy_holiday TO cloudos_admin;
GRANT SELECT,INSERT,DELETE ON TABLE public.privacy_holiday TO cloudos_op_admin;
GRANT SELECT ON TABLE public.privacy_holiday TO cloudos_op_billing;
GRANT SELECT ON TABLE public.privacy_holiday TO cloudos_op_auditor;

--
-- Name: TABLE retention_setting; Type: ACL; Schema: public; Owner: -
--

GRANT SELECT,UPDATE ON TABLE public.retention_setting TO cloudos_admin;
GRANT SELECT ON TABLE public.retention_setting TO cloudos_op_admin;
GRANT SELECT ON TABLE public.retention_setting TO cloudos_op_auditor;

--
-- Name: TABLE session; Type: ACL; Schema: public; Owner: -
--

GRANT SELECT,INSERT,UPDATE ON TABLE public.session TO cloudos_radius;
GRANT SELECT,INSERT,DELETE,UPDATE ON TABLE public.session TO cloudos_admin;
GRANT SELECT,INSERT,UPDATE ON TABLE public.session TO cloudos_worker;
GRANT SELECT,INSERT,DELETE,UPDATE ON TABLE public.session TO cloudos_op_admin;
GRANT SELECT ON TABLE public.session TO cloudos_op_support;
GRANT SELECT ON TABLE public.session TO cloudos_op_auditor;

--
-- Name: TABLE subscriber_key; Type: ACL; Schema: public; Owner: -
--

GRANT SELECT,INSERT,DELETE ON TABLE public.subscriber_key TO cloudos_admin;
GRANT SELECT,INSERT,DELETE ON TABLE public.subscriber_key TO cloudos_op_admin;

--
-- Name: TABLE support_ticket; Type: ACL; Schema: public; Owner: -
--

GRANT SELECT,INSERT,DELETE,UPDATE ON TABLE public.support_ticket TO cloudos_admin;
GRANT SELECT,INSERT,DELETE,UPDATE ON TABLE public.support_ticket TO cloudos_op_admin;
GRANT SELECT,INSERT,UPDATE ON TABLE public.support_ticket TO cloudos_op_support;
GRANT SELECT ON TABLE public.support_ticket TO cloudos_op_auditor;

--
-- Name: TABLE tax_rule; Type: ACL; Schema: public; Owner: -
--

GRANT SELECT,INSERT,DELETE,UPDATE ON TABLE public.tax_rule TO cloudos_admin;
GRANT SELECT,INSERT,DELETE,UPDATE ON TABLE public.tax_rule TO cloudos_op_admin;
GRANT SELECT ON TABLE public.tax_rule TO cloudos_op_billing;
GRANT SELECT ON TABLE public.tax_rule TO cloudos_op_auditor;

--
-- Name: TABLE tenant; Type: ACL; Schema: public; Owner: -
--

GRANT SELECT ON TABLE public.tenant TO cloudos_radius;
GRANT SELECT,INSERT,DELETE,UPDATE ON TABLE public.tenant TO cloudos_admin;
GRANT SELECT ON TABLE public.tenant TO cloudos_worker;
GRANT SELECT,UPDATE ON TABLE public.tenant TO cloudos_op_admin;
GRANT SELECT ON TABLE public.tenant TO cloudos_op_billing;
GRANT SELECT ON TABLE public.tenant TO cloudos_op_support;
GRANT SELECT ON TABLE public.tenant TO cloudos_op_auditor;

--
-- Name: COLUMN tenant.id; Type: ACL; Schema: public; Owner: -
--

GRANT SELECT(id) ON TABLE public.tenant TO cloudos_metrics;

--
-- Name: COLUMN tenant.name; Type: ACL; Schema: public; Owner: -
--

GRANT SELECT(name) ON TABLE public.tenant TO cloudos_metrics;

--
-- Name: COLUMN tenant.interim_interval; Type: ACL; Schema: public; Owner: -
--

GRANT SELECT(interim_interval) ON TABLE public.tenant TO cloudos_metrics;

--
-- Name: DEFAULT PRIVILEGES FOR FUNCTIONS; Type: DEFAULT ACL; Schema: -; Owner: -
--

ALTER DEFAULT PRIVILEGES FOR ROLE cloudos REVOKE ALL ON FUNCTIONS  FROM PUBLIC;

--
-- PostgreSQL database dump complete
--
