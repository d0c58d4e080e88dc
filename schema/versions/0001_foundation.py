"""Foundation: tenants, NAS, plans, subscribers, sessions, usage, auth log, audit,
and the tables the privacy policy needs (billing, payments, notifications,
support, exports).

Every row carries its tenant. Session history and the auth log are partitioned
by calendar month (UTC) so retention drops whole partitions. The admin audit
log is append-only, enforced by the database.

Revision ID: 0001
Revises:
"""

from alembic import op

revision = "0001"
down_revision = None
branch_labels = None
depends_on = None

UPGRADE = r"""
-- ---------------------------------------------------------------- roles
-- Least privilege: radiusd connects as cloudos_radius (reads what authorize
-- needs, writes sessions, counters and the auth log); the tools as cloudos_admin.
-- Both are group roles: a deployment grants them to its login roles.
DO $$
BEGIN
  IF NOT EXISTS (SELECT 1 FROM pg_roles WHERE rolname = 'cloudos_radius') THEN
    CREATE ROLE cloudos_radius NOLOGIN;
  END IF;
  IF NOT EXISTS (SELECT 1 FROM pg_roles WHERE rolname = 'cloudos_admin') THEN
    CREATE ROLE cloudos_admin NOLOGIN;
  END IF;
END $$;

-- ---------------------------------------------------------------- helpers
CREATE FUNCTION cloudos_touch() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  NEW.updated_at := now();
  RETURN NEW;
END $$;

-- Monthly range partitions (UTC month boundaries) named <parent>_yYYYYmMM.
-- Idempotent: returns how many partitions it created.
CREATE FUNCTION cloudos_ensure_month_partitions(parent regclass, first_month date, months integer)
RETURNS integer LANGUAGE plpgsql AS $$
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

CREATE FUNCTION cloudos_refuse_change() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  RAISE EXCEPTION '% is append-only: % refused', TG_TABLE_NAME, TG_OP
    USING ERRCODE = 'insufficient_privilege';
END $$;

-- ---------------------------------------------------------------- tenants
CREATE TABLE tenant (
  id               bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
  name             text NOT NULL UNIQUE CHECK (name ~ '^[A-Za-z0-9][A-Za-z0-9._-]{0,62}$'),
  display_name     text,
  timezone         text NOT NULL DEFAULT 'Asia/Karachi',
  currency         char(3) NOT NULL DEFAULT 'PKR',
  interim_interval integer NOT NULL DEFAULT 300 CHECK (interim_interval BETWEEN 60 AND 86400),
  -- Walled garden: expired or suspended subscribers are accepted into this
  -- address list at this rate instead of being rejected (both set, or neither).
  walled_garden_address_list text,
  walled_garden_rate_limit   text,
  -- What authorize does when PostgreSQL is unreachable: reject, or serve a
  -- cached decision no older than backend_down_cache_seconds.
  backend_down_policy        text NOT NULL DEFAULT 'reject' CHECK (backend_down_policy IN ('reject', 'cached')),
  backend_down_cache_seconds integer NOT NULL DEFAULT 900 CHECK (backend_down_cache_seconds >= 0),
  created_at       timestamptz NOT NULL DEFAULT now(),
  updated_at       timestamptz NOT NULL DEFAULT now(),
  terminated_at    timestamptz,
  CHECK ((walled_garden_address_list IS NULL) = (walled_garden_rate_limit IS NULL))
);
CREATE TRIGGER tenant_touch BEFORE UPDATE ON tenant FOR EACH ROW EXECUTE FUNCTION cloudos_touch();

-- ---------------------------------------------------------------- NAS
CREATE TABLE nas (
  id          bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
  tenant_id   bigint NOT NULL REFERENCES tenant (id),
  name        text NOT NULL CHECK (name ~ '^[A-Za-z0-9][A-Za-z0-9._-]{0,62}$'),
  -- The source address (or network) the NAS sends from. No two NAS overlap,
  -- across all tenants: the source address alone decides the tenant.
  address     cidr NOT NULL,
  secret_enc  bytea NOT NULL,
  coa_port    integer NOT NULL DEFAULT 3799 CHECK (coa_port BETWEEN 1 AND 65535),
  nas_type    text NOT NULL DEFAULT 'mikrotik',
  description text,
  created_at  timestamptz NOT NULL DEFAULT now(),
  updated_at  timestamptz NOT NULL DEFAULT now(),
  UNIQUE (tenant_id, name),
  UNIQUE (tenant_id, id),
  CONSTRAINT nas_address_no_overlap EXCLUDE USING gist (address inet_ops WITH &&)
);
CREATE TRIGGER nas_touch BEFORE UPDATE ON nas FOR EACH ROW EXECUTE FUNCTION cloudos_touch();

-- ---------------------------------------------------------------- plans
CREATE TABLE plan (
  id                   bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
  tenant_id            bigint NOT NULL REFERENCES tenant (id),
  name                 text NOT NULL CHECK (length(name) BETWEEN 1 AND 64),
  rate_limit           text NOT NULL,
  quota_bytes          bigint CHECK (quota_bytes > 0),
  quota_download_bytes bigint CHECK (quota_download_bytes > 0),
  quota_upload_bytes   bigint CHECK (quota_upload_bytes > 0),
  time_quota_seconds   bigint CHECK (time_quota_seconds > 0),
  fup_rate_limit       text,
  -- 'monthly' (calendar month in the tenant's zone) or 'Nd' (N days from renewal).
  period               text NOT NULL DEFAULT 'monthly' CHECK (period ~ '^(monthly|[1-9][0-9]{0,3}d)$'),
  price                numeric(12, 2) CHECK (price >= 0),
  simultaneous_use     integer NOT NULL DEFAULT 1 CHECK (simultaneous_use BETWEEN 1 AND 1000),
  address_list         text,
  ip_pool              text,
  active               boolean NOT NULL DEFAULT true,
  created_at           timestamptz NOT NULL DEFAULT now(),
  updated_at           timestamptz NOT NULL DEFAULT now(),
  UNIQUE (tenant_id, name),
  UNIQUE (tenant_id, id)
);
CREATE TRIGGER plan_touch BEFORE UPDATE ON plan FOR EACH ROW EXECUTE FUNCTION cloudos_touch();

-- ---------------------------------------------------------------- subscribers
CREATE TABLE subscriber (
  id            bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
  tenant_id     bigint NOT NULL REFERENCES tenant (id),
  username      text NOT NULL CHECK (length(username) BETWEEN 1 AND 253),
  -- AES-256-GCM ciphertexts (rlm_cloudos.crypto), each naming its key id.
  password_enc  bytea NOT NULL,
  plan_id       bigint,
  status        text NOT NULL DEFAULT 'active' CHECK (status IN ('active', 'suspended', 'terminated')),
  status_reason text,
  -- The instant service ends: local midnight after the paid-until day.
  expires_at    timestamptz,
  mac           macaddr,
  static_ip     inet,
  full_name     text,
  phone         text,
  email         text,
  cnic_enc      bytea,
  postal_address text,
  created_at    timestamptz NOT NULL DEFAULT now(),
  updated_at    timestamptz NOT NULL DEFAULT now(),
  terminated_at timestamptz,
  UNIQUE (tenant_id, username),
  UNIQUE (tenant_id, id),
  FOREIGN KEY (tenant_id, plan_id) REFERENCES plan (tenant_id, id)
);
CREATE INDEX subscriber_plan ON subscriber (plan_id);
CREATE TRIGGER subscriber_touch BEFORE UPDATE ON subscriber FOR EACH ROW EXECUTE FUNCTION cloudos_touch();

-- ---------------------------------------------------------------- sessions
-- One row per accounting session while it is open (and for a while after its
-- Stop, so late duplicates still find it): the hot, small table accounting
-- updates. Keyed by FreeRADIUS Acct-Unique-Session-Id.
CREATE TABLE session_open (
  acct_unique_id     text PRIMARY KEY,
  tenant_id          bigint NOT NULL REFERENCES tenant (id),
  subscriber_id      bigint,
  nas_id             bigint,
  username           text NOT NULL,
  acct_session_id    text NOT NULL,
  started_at         timestamptz NOT NULL,
  updated_at         timestamptz NOT NULL,
  stopped_at         timestamptz,
  framed_ip          inet,
  calling_station_id text,
  nas_port_id        text,
  -- Last cumulative counters seen (Gigawords folded in): deltas are computed against these.
  input_octets       bigint NOT NULL DEFAULT 0,
  output_octets      bigint NOT NULL DEFAULT 0,
  session_time       bigint NOT NULL DEFAULT 0,
  terminate_cause    text
);
CREATE INDEX session_open_subscriber ON session_open (subscriber_id) WHERE stopped_at IS NULL;
CREATE INDEX session_open_nas ON session_open (nas_id) WHERE stopped_at IS NULL;

-- Session history, partitioned by month of start.
CREATE TABLE session (
  tenant_id          bigint NOT NULL,
  acct_unique_id     text NOT NULL,
  started_at         timestamptz NOT NULL,
  stopped_at         timestamptz,
  subscriber_id      bigint,
  nas_id             bigint,
  username           text NOT NULL,
  acct_session_id    text NOT NULL,
  framed_ip          inet,
  calling_station_id text,
  nas_port_id        text,
  input_octets       bigint NOT NULL DEFAULT 0,
  output_octets      bigint NOT NULL DEFAULT 0,
  session_time       bigint NOT NULL DEFAULT 0,
  terminate_cause    text,
  PRIMARY KEY (tenant_id, acct_unique_id, started_at)
) PARTITION BY RANGE (started_at);
CREATE TABLE session_default PARTITION OF session DEFAULT;
CREATE INDEX session_subscriber ON session (subscriber_id, started_at);

-- Pre-aggregated usage per subscriber per billing period: authorize reads one
-- row, accounting adds deltas. Never summed from history at request time.
CREATE TABLE usage_counter (
  tenant_id     bigint NOT NULL REFERENCES tenant (id),
  subscriber_id bigint NOT NULL,
  period_start  timestamptz NOT NULL,
  period_end    timestamptz NOT NULL,
  input_octets  bigint NOT NULL DEFAULT 0,
  output_octets bigint NOT NULL DEFAULT 0,
  session_time  bigint NOT NULL DEFAULT 0,
  updated_at    timestamptz NOT NULL DEFAULT now(),
  PRIMARY KEY (subscriber_id, period_start),
  CHECK (period_end > period_start)
);

-- ---------------------------------------------------------------- auth log
CREATE TABLE auth_log (
  at                 timestamptz NOT NULL,
  tenant_id          bigint NOT NULL,
  nas_id             bigint,
  subscriber_id      bigint,
  username           text NOT NULL,
  outcome            text NOT NULL CHECK (outcome IN ('accept', 'reject')),
  reason             text NOT NULL,
  auth_method        text,
  calling_station_id text,
  nas_port_id        text,
  nas_port_type      text,
  framed_ip          inet,
  walled_garden      boolean NOT NULL DEFAULT false
) PARTITION BY RANGE (at);
CREATE TABLE auth_log_default PARTITION OF auth_log DEFAULT;
CREATE INDEX auth_log_user ON auth_log (tenant_id, username, at);

-- ---------------------------------------------------------------- audit
-- Every administrative change, hash-chained: hash = sha256(prev_hash || canonical row).
-- The database refuses UPDATE, DELETE and TRUNCATE; `cloudos audit verify` walks the chain.
CREATE TABLE admin_audit (
  id        bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
  at        timestamptz NOT NULL,
  actor     text NOT NULL,
  tenant_id bigint,
  action    text NOT NULL,
  target    text NOT NULL,
  before    jsonb,
  after     jsonb,
  prev_hash text NOT NULL,
  hash      text NOT NULL UNIQUE
);
CREATE TRIGGER admin_audit_append_only BEFORE UPDATE OR DELETE ON admin_audit
  FOR EACH ROW EXECUTE FUNCTION cloudos_refuse_change();
CREATE TRIGGER admin_audit_no_truncate BEFORE TRUNCATE ON admin_audit
  FOR EACH STATEMENT EXECUTE FUNCTION cloudos_refuse_change();

-- ---------------------------------------------------------------- billing
-- Billing records are kept 5 years after termination (privacy policy).
CREATE TABLE invoice (
  id            bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
  tenant_id     bigint NOT NULL REFERENCES tenant (id),
  subscriber_id bigint NOT NULL,
  plan_id       bigint,
  period_start  timestamptz NOT NULL,
  period_end    timestamptz NOT NULL,
  amount        numeric(12, 2) NOT NULL CHECK (amount >= 0),
  currency      char(3) NOT NULL,
  status        text NOT NULL DEFAULT 'open' CHECK (status IN ('open', 'paid', 'void')),
  issued_at     timestamptz NOT NULL DEFAULT now(),
  due_at        timestamptz,
  paid_at       timestamptz,
  FOREIGN KEY (tenant_id, subscriber_id) REFERENCES subscriber (tenant_id, id),
  UNIQUE (tenant_id, subscriber_id, period_start)
);

-- Payments arrive from JazzCash, EasyPaisa and bank transfer (or cash at the
-- counter). Card details are never stored: there is no column for them.
CREATE TABLE payment (
  id                 bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
  tenant_id          bigint NOT NULL REFERENCES tenant (id),
  subscriber_id      bigint NOT NULL,
  invoice_id         bigint REFERENCES invoice (id),
  method             text NOT NULL CHECK (method IN ('jazzcash', 'easypaisa', 'bank_transfer', 'cash')),
  provider_reference text NOT NULL,
  amount             numeric(12, 2) NOT NULL CHECK (amount > 0),
  currency           char(3) NOT NULL,
  status             text NOT NULL DEFAULT 'received' CHECK (status IN ('pending', 'received', 'failed', 'refunded')),
  received_at        timestamptz NOT NULL DEFAULT now(),
  FOREIGN KEY (tenant_id, subscriber_id) REFERENCES subscriber (tenant_id, id),
  -- A provider callback delivered twice records one payment.
  UNIQUE (tenant_id, method, provider_reference)
);

-- ---------------------------------------------------------------- notifications
CREATE TABLE notification (
  id            bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
  tenant_id     bigint NOT NULL REFERENCES tenant (id),
  subscriber_id bigint,
  channel       text NOT NULL CHECK (channel IN ('whatsapp', 'sms', 'email')),
  template      text NOT NULL,
  recipient     text NOT NULL,
  body          text NOT NULL,
  status        text NOT NULL DEFAULT 'queued' CHECK (status IN ('queued', 'sent', 'failed')),
  attempts      integer NOT NULL DEFAULT 0,
  last_error    text,
  created_at    timestamptz NOT NULL DEFAULT now(),
  sent_at       timestamptz
);
CREATE INDEX notification_queue ON notification (created_at) WHERE status = 'queued';

-- ---------------------------------------------------------------- CoA outbox
-- CoA-Request / Disconnect-Request to a NAS, sent by `cloudos worker` off the request thread.
CREATE TABLE coa_outbox (
  id              bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
  tenant_id       bigint NOT NULL REFERENCES tenant (id),
  nas_id          bigint NOT NULL,
  acct_unique_id  text,
  kind            text NOT NULL CHECK (kind IN ('coa', 'disconnect')),
  attributes      jsonb NOT NULL,
  status          text NOT NULL DEFAULT 'pending' CHECK (status IN ('pending', 'ack', 'nak', 'timeout', 'failed')),
  attempts        integer NOT NULL DEFAULT 0,
  next_attempt_at timestamptz NOT NULL DEFAULT now(),
  result          text,
  created_at      timestamptz NOT NULL DEFAULT now(),
  done_at         timestamptz
);
CREATE INDEX coa_outbox_due ON coa_outbox (next_attempt_at) WHERE status = 'pending';

-- ---------------------------------------------------------------- support, exports
-- Support records are kept 2 years after resolution.
CREATE TABLE support_ticket (
  id            bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
  tenant_id     bigint NOT NULL REFERENCES tenant (id),
  subscriber_id bigint,
  subject       text NOT NULL,
  body          text NOT NULL,
  status        text NOT NULL DEFAULT 'open' CHECK (status IN ('open', 'pending', 'resolved')),
  opened_at     timestamptz NOT NULL DEFAULT now(),
  resolved_at   timestamptz
);

-- A subscriber's request for their data (CSV or JSON) and its fulfilment.
CREATE TABLE data_request (
  id            bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
  tenant_id     bigint NOT NULL REFERENCES tenant (id),
  subscriber_id bigint NOT NULL,
  kind          text NOT NULL CHECK (kind IN ('export', 'rectification', 'deletion')),
  format        text CHECK (format IN ('csv', 'json')),
  requested_at  timestamptz NOT NULL DEFAULT now(),
  completed_at  timestamptz,
  outcome       text
);

-- ---------------------------------------------------------------- accounting
-- One call per Accounting-Request (one round trip from radiusd). Idempotent:
-- the usage delta is the new cumulative counter minus the last one recorded,
-- never negative, taken under a row lock, so retransmits, duplicates and
-- out-of-order interims add nothing. A Stop without a Start still records the
-- session. Accounting-On/Off closes the NAS's open sessions.
CREATE FUNCTION cloudos_account(
  p_nas_address inet, p_uid text, p_status text, p_username text, p_acct_session_id text,
  p_event_time timestamptz, p_in bigint, p_out bigint, p_time bigint,
  p_framed_ip inet, p_calling text, p_nas_port_id text, p_cause text)
RETURNS TABLE (result text, tenant_id bigint, subscriber_id bigint, d_in bigint, d_out bigint, d_time bigint)
LANGUAGE plpgsql AS $$
#variable_conflict use_column
DECLARE
  n record;
  sub_id bigint;
  o session_open%ROWTYPE;
  local_month timestamp;
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
    INSERT INTO session (tenant_id, acct_unique_id, started_at, stopped_at, subscriber_id, nas_id, username,
                         acct_session_id, framed_ip, calling_station_id, nas_port_id, input_octets,
                         output_octets, session_time, terminate_cause)
    SELECT c.tenant_id, c.acct_unique_id, c.started_at, c.stopped_at, c.subscriber_id, c.nas_id, c.username,
           c.acct_session_id, c.framed_ip, c.calling_station_id, c.nas_port_id, c.input_octets,
           c.output_octets, c.session_time, c.terminate_cause
      FROM closed c
    ON CONFLICT ON CONSTRAINT session_pkey DO NOTHING;
    RETURN QUERY SELECT 'nas_reset'::text, n.tenant_id, NULL::bigint, 0::bigint, 0::bigint, 0::bigint;
    RETURN;
  END IF;

  SELECT s.id INTO sub_id FROM subscriber s WHERE s.tenant_id = n.tenant_id AND s.username = p_username;

  INSERT INTO session_open AS so (acct_unique_id, tenant_id, subscriber_id, nas_id, username, acct_session_id,
                                  started_at, updated_at, framed_ip, calling_station_id, nas_port_id)
  VALUES (p_uid, n.tenant_id, sub_id, n.id, p_username, p_acct_session_id,
          p_event_time - make_interval(secs => p_time), p_event_time, p_framed_ip, p_calling, p_nas_port_id)
  ON CONFLICT (acct_unique_id) DO NOTHING;

  SELECT * INTO o FROM session_open so WHERE so.acct_unique_id = p_uid FOR UPDATE;

  d_in := greatest(p_in - o.input_octets, 0);
  d_out := greatest(p_out - o.output_octets, 0);
  d_time := greatest(p_time - o.session_time, 0);

  UPDATE session_open so
     SET input_octets = greatest(o.input_octets, p_in),
         output_octets = greatest(o.output_octets, p_out),
         session_time = greatest(o.session_time, p_time),
         updated_at = greatest(o.updated_at, p_event_time),
         framed_ip = coalesce(o.framed_ip, p_framed_ip),
         stopped_at = CASE WHEN p_status = 'Stop' THEN coalesce(o.stopped_at, p_event_time) ELSE o.stopped_at END,
         terminate_cause = CASE WHEN p_status = 'Stop' THEN coalesce(o.terminate_cause, p_cause) ELSE o.terminate_cause END
   WHERE so.acct_unique_id = p_uid
  RETURNING so.* INTO o;

  IF o.subscriber_id IS NOT NULL AND (d_in > 0 OR d_out > 0 OR d_time > 0) THEN
    -- The calendar month in the tenant's zone that contains the event.
    local_month := date_trunc('month', p_event_time AT TIME ZONE n.timezone);
    INSERT INTO usage_counter AS u (tenant_id, subscriber_id, period_start, period_end,
                                    input_octets, output_octets, session_time)
    VALUES (n.tenant_id, o.subscriber_id, local_month AT TIME ZONE n.timezone,
            (local_month + interval '1 month') AT TIME ZONE n.timezone, d_in, d_out, d_time)
    ON CONFLICT (subscriber_id, period_start) DO UPDATE
       SET input_octets = u.input_octets + EXCLUDED.input_octets,
           output_octets = u.output_octets + EXCLUDED.output_octets,
           session_time = u.session_time + EXCLUDED.session_time,
           updated_at = now();
  END IF;

  IF o.stopped_at IS NOT NULL THEN
    INSERT INTO session AS h (tenant_id, acct_unique_id, started_at, stopped_at, subscriber_id, nas_id, username,
                              acct_session_id, framed_ip, calling_station_id, nas_port_id, input_octets,
                              output_octets, session_time, terminate_cause)
    VALUES (o.tenant_id, o.acct_unique_id, o.started_at, o.stopped_at, o.subscriber_id, o.nas_id, o.username,
            o.acct_session_id, o.framed_ip, o.calling_station_id, o.nas_port_id, o.input_octets,
            o.output_octets, o.session_time, o.terminate_cause)
    ON CONFLICT ON CONSTRAINT session_pkey DO UPDATE
       SET input_octets = EXCLUDED.input_octets, output_octets = EXCLUDED.output_octets,
           session_time = EXCLUDED.session_time, stopped_at = EXCLUDED.stopped_at;
  END IF;

  result := 'ok';
  tenant_id := o.tenant_id;
  subscriber_id := o.subscriber_id;
  RETURN NEXT;
END $$;

-- ---------------------------------------------------------------- grants
GRANT SELECT ON tenant, nas, plan, subscriber TO cloudos_radius;
GRANT SELECT, INSERT, UPDATE ON session_open, session, usage_counter TO cloudos_radius;
GRANT INSERT ON auth_log, coa_outbox TO cloudos_radius;
GRANT EXECUTE ON FUNCTION cloudos_account(inet, text, text, text, text, timestamptz, bigint, bigint, bigint, inet, text, text, text) TO cloudos_radius;
GRANT SELECT, INSERT, UPDATE, DELETE ON tenant, nas, plan, subscriber, session_open, session,
  usage_counter, invoice, payment, notification, coa_outbox, support_ticket, data_request TO cloudos_admin;
GRANT SELECT ON auth_log TO cloudos_admin;
GRANT SELECT, INSERT ON admin_audit TO cloudos_admin;
"""

DOWNGRADE = r"""
DROP TABLE IF EXISTS data_request, support_ticket, coa_outbox, notification, payment, invoice,
  admin_audit, auth_log, usage_counter, session, session_open, subscriber, plan, nas, tenant CASCADE;
DROP FUNCTION IF EXISTS cloudos_account(inet, text, text, text, text, timestamptz, bigint, bigint, bigint, inet, text, text, text), cloudos_refuse_change(), cloudos_ensure_month_partitions(regclass, date, integer), cloudos_touch();
"""


def upgrade() -> None:
    op.execute(UPGRADE)
    # Partitions for the past month through the next twelve; `cloudos db migrate`
    # tops this up on every run, and the default partitions catch anything else.
    op.execute(
        "SELECT cloudos_ensure_month_partitions('session', (now() - interval '1 month')::date, 14),"
        " cloudos_ensure_month_partitions('auth_log', (now() - interval '1 month')::date, 14)"
    )


def downgrade() -> None:
    op.execute(DOWNGRADE)
