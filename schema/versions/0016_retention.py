"""Retention: the privacy policy's schedule, applied by `cloudos retention run`.

* ``retention_setting``: one row, the periods (the policy's values by default: logs and
  notifications 12 months, support records 2 years after resolution, billing records 5
  years after termination, non-essential data 30 days after termination).
* ``cloudos_retention_partitions(parent, before, ahead_from, ahead, dry)``: for the log
  tables (``session``, ``auth_log``) drops each monthly partition wholly older than
  ``before``, deletes what the default partition holds from before it (rows of months that
  had no partition), and makes the partitions from ``ahead_from`` for ``ahead`` months, so
  no row lands in a default partition. Only the schema's owner may drop a table: it runs
  SECURITY DEFINER, for those two tables alone, with a lock timeout so a busy table makes it
  fail rather than stall radiusd's writes.
* ``cloudos_retention_purge(...)``: notifications, resolved support tickets, the
  non-essential fields of terminated accounts (phone, email, MAC, static IP, their queued
  notifications) and, once the billing period has passed, their billing records and the
  rest of their identity (name, address, CNIC). Returns what it removed, as counts.
* Billing records stay append-only for everyone else: their triggers
  (``cloudos_billing_kept``) refuse UPDATE always and DELETE unless the statement runs as
  the table's owner with ``cloudos.retention_purge`` on, which ``cloudos_retention_purge`` sets for its own
  statements. The audit trail keeps its own trigger
  (cloudos_refuse_change) and is never purged.

Revision ID: 0016
Revises: 0015
"""

from alembic import op

revision = "0016"
down_revision = "0015"
branch_labels = None
depends_on = None

BILLING_TABLES = ("invoice_line", "invoice_tax", "payment_allocation", "ledger_entry", "payment")

UPGRADE = r"""
CREATE TABLE retention_setting (
  id smallint PRIMARY KEY DEFAULT 1 CHECK (id = 1),
  -- What is kept may be kept longer (PTA may ask it of hotspot logs), never shorter; what is
  -- purged after termination may go sooner, never later.
  log_months smallint NOT NULL DEFAULT 12 CHECK (log_months BETWEEN 12 AND 600),
  notification_months smallint NOT NULL DEFAULT 12 CHECK (notification_months BETWEEN 12 AND 600),
  support_years smallint NOT NULL DEFAULT 2 CHECK (support_years BETWEEN 2 AND 50),
  billing_years smallint NOT NULL DEFAULT 5 CHECK (billing_years BETWEEN 5 AND 50),
  nonessential_days smallint NOT NULL DEFAULT 30 CHECK (nonessential_days BETWEEN 0 AND 30),
  updated_at timestamptz NOT NULL DEFAULT now()
);
INSERT INTO retention_setting DEFAULT VALUES;
GRANT SELECT, UPDATE ON retention_setting TO cloudos_admin;

CREATE FUNCTION cloudos_billing_kept() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  IF TG_OP = 'DELETE' AND current_setting('cloudos.retention_purge', true) = 'on'
     AND current_user = (SELECT pg_get_userbyid(relowner) FROM pg_class WHERE oid = TG_RELID) THEN
    RETURN OLD;
  END IF;
  RAISE EXCEPTION '% is append-only: % refused (billing records go only by the retention schedule)',
    TG_TABLE_NAME, TG_OP USING ERRCODE = 'insufficient_privilege';
END $$;
REVOKE EXECUTE ON FUNCTION cloudos_billing_kept() FROM PUBLIC;

-- The latest cutoff the settings allow as of the real clock. The two functions below run as
-- the owner; a caller who is not the owner (the admin login) is refused a later one, so no
-- login but the owner's can drop a log or purge a record before its time, whatever --date it
-- gives. The owner may rehearse a future day (the tests do).
CREATE FUNCTION cloudos_retention_check(p_what text, p_cutoff timestamptz, p_latest timestamptz)
RETURNS void LANGUAGE plpgsql AS $$
BEGIN
  IF p_cutoff > p_latest AND session_user <> (SELECT pg_get_userbyid(relowner) FROM pg_class
                                               WHERE oid = 'retention_setting'::regclass) THEN
    RAISE EXCEPTION 'retention: % before % is later than the settings allow today (%): only the schema owner may run a day ahead',
      p_what, p_cutoff, p_latest USING ERRCODE = 'insufficient_privilege';
  END IF;
END $$;
REVOKE EXECUTE ON FUNCTION cloudos_retention_check(text, timestamptz, timestamptz) FROM PUBLIC;

CREATE OR REPLACE FUNCTION cloudos_invoice_final() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  IF TG_OP = 'DELETE' THEN
    IF current_setting('cloudos.retention_purge', true) = 'on'
       AND current_user = (SELECT pg_get_userbyid(relowner) FROM pg_class WHERE oid = TG_RELID) THEN
      RETURN OLD;
    END IF;
    RAISE EXCEPTION 'invoice % was issued: it is voided by a credit note, never deleted', OLD.number
      USING ERRCODE = 'insufficient_privilege';
  END IF;
  IF OLD.status <> 'open' OR NEW.status NOT IN ('paid', 'void')
     OR (to_jsonb(NEW) - 'status' - 'paid_at') IS DISTINCT FROM (to_jsonb(OLD) - 'status' - 'paid_at') THEN
    RAISE EXCEPTION 'invoice % was issued: only its status changes, once (open to paid or void)', OLD.number
      USING ERRCODE = 'insufficient_privilege';
  END IF;
  RETURN NEW;
END $$;

CREATE FUNCTION cloudos_retention_partitions(p_parent text, p_before timestamptz, p_ahead_from date,
                                             p_ahead integer, p_dry boolean,
                                             OUT dropped text[], OUT created integer, OUT default_rows bigint)
LANGUAGE plpgsql SECURITY DEFINER SET search_path = public, pg_temp SET lock_timeout = '10s' AS $$
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
END $$;
REVOKE EXECUTE ON FUNCTION cloudos_retention_partitions(text, timestamptz, date, integer, boolean) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION cloudos_retention_partitions(text, timestamptz, date, integer, boolean) TO cloudos_admin;

CREATE FUNCTION cloudos_retention_purge(p_notifications timestamptz, p_support timestamptz,
                                        p_nonessential timestamptz, p_billing timestamptz)
RETURNS jsonb LANGUAGE plpgsql SECURITY DEFINER SET search_path = public, pg_temp SET lock_timeout = '10s'
  -- For this function's statements only (restored when it returns): the billing triggers let
  -- the owner's deletes through.
  SET cloudos.retention_purge = 'on' AS $$
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
REVOKE EXECUTE ON FUNCTION cloudos_retention_purge(timestamptz, timestamptz, timestamptz, timestamptz) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION cloudos_retention_purge(timestamptz, timestamptz, timestamptz, timestamptz) TO cloudos_admin;
""" + "".join(f"""
DROP TRIGGER {t}_append_only ON {t};
CREATE TRIGGER {t}_append_only BEFORE UPDATE OR DELETE ON {t}
  FOR EACH ROW EXECUTE FUNCTION cloudos_billing_kept();
""" for t in BILLING_TABLES)

DOWNGRADE = r"""
DROP FUNCTION IF EXISTS cloudos_retention_purge(timestamptz, timestamptz, timestamptz, timestamptz);
DROP FUNCTION IF EXISTS cloudos_retention_partitions(text, timestamptz, date, integer, boolean);
DROP FUNCTION IF EXISTS cloudos_retention_check(text, timestamptz, timestamptz);
""" + "".join(f"""
DROP TRIGGER {t}_append_only ON {t};
CREATE TRIGGER {t}_append_only BEFORE UPDATE OR DELETE ON {t}
  FOR EACH ROW EXECUTE FUNCTION cloudos_refuse_change();
""" for t in BILLING_TABLES) + r"""
DROP FUNCTION IF EXISTS cloudos_billing_kept();
CREATE OR REPLACE FUNCTION cloudos_invoice_final() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  IF TG_OP = 'DELETE' THEN
    RAISE EXCEPTION 'invoice % was issued: it is voided by a credit note, never deleted', OLD.number
      USING ERRCODE = 'insufficient_privilege';
  END IF;
  IF OLD.status <> 'open' OR NEW.status NOT IN ('paid', 'void')
     OR (to_jsonb(NEW) - 'status' - 'paid_at') IS DISTINCT FROM (to_jsonb(OLD) - 'status' - 'paid_at') THEN
    RAISE EXCEPTION 'invoice % was issued: only its status changes, once (open to paid or void)', OLD.number
      USING ERRCODE = 'insufficient_privilege';
  END IF;
  RETURN NEW;
END $$;
DROP TABLE IF EXISTS retention_setting;
"""


def upgrade() -> None:
    op.execute(UPGRADE)


def downgrade() -> None:
    op.execute(DOWNGRADE)
