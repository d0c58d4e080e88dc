"""Billing: tenant settings, tax rules, gap-free invoice and credit-note numbers, a ledger.

What `cloudos billing run`, `invoice`, `payment record` and `ledger` keep
(tools/cloudos/store/billing.py; the decisions are rlm_cloudos.policy.billing):

* ``tenant``: the billing cycle (anniversary or calendar, with its billing day),
  invoice lead days, grace days, the province it invoices from, and what an
  invoice prints of the ISP: legal name, NTN, STRN, the bank IBAN payments go to.
* ``subscriber``: a service province (the tenant's when unset), an exemption from
  advance income tax until a date (Income Tax Ordinance 2001, s.236(4)), and the
  anchor day monthly periods keep.
* ``tax_rule``: a rate (percent) with effective dates, per tenant, kind and
  province (none: every province). Rates change on 1 July; an invoice keeps the
  rates it was issued with, in its own rows.
* ``number_series``: the next number per tenant, series (INV, CN) and fiscal
  year (July–June). Taken with an upsert in the transaction that writes the
  document: the row lock serialises concurrent runs, and a rollback returns the
  number, so the numbers have no gap and no duplicate.
* ``invoice`` (reshaped from 0001's sketch, which held no rows): invoices and
  credit notes in one table (``kind``), money in integer paisa, the seller and
  the buyer as printed on the day of issue. ``invoice_line`` and ``invoice_tax``
  hold each line and each tax with the rate it was computed at.
* ``payment`` (reshaped likewise): integer paisa, one row per (method,
  reference) per tenant, which makes recording one twice record it once.
  ``payment_allocation``: what each payment settled.
* ``ledger_entry``: debits (invoices, positive) and credits (payments and credit
  notes, negative): a subscriber's balance is their sum, owed when positive.

An issued document is never edited or deleted: lines, taxes, allocations and the
ledger refuse UPDATE and DELETE (cloudos_refuse_change); an invoice may change only
its status and paid_at, once, by trigger. No column holds card data: a gateway
payment is its method and the gateway's reference.

Revision ID: 0015
Revises: 0014
"""

from alembic import op

revision = "0015"
down_revision = "0014"
branch_labels = None
depends_on = None

PROVINCE = "('punjab', 'sindh', 'kp', 'balochistan', 'ict')"

UPGRADE = rf"""
DO $$ BEGIN
  IF EXISTS (SELECT 1 FROM invoice) OR EXISTS (SELECT 1 FROM payment) THEN
    RAISE EXCEPTION 'invoice or payment holds rows: 0015 reshapes these tables and would lose them'
      USING HINT = 'export them, empty both tables, migrate, then record them again with the CLI';
  END IF;
END $$;
DROP TABLE invoice, payment CASCADE;

ALTER TABLE tenant
  ADD COLUMN billing_cycle text NOT NULL DEFAULT 'anniversary' CHECK (billing_cycle IN ('anniversary', 'calendar')),
  ADD COLUMN billing_day smallint NOT NULL DEFAULT 1 CHECK (billing_day BETWEEN 1 AND 28),
  ADD COLUMN invoice_lead_days smallint NOT NULL DEFAULT 5 CHECK (invoice_lead_days BETWEEN 0 AND 60),
  ADD COLUMN grace_days smallint NOT NULL DEFAULT 3 CHECK (grace_days BETWEEN 0 AND 60),
  ADD COLUMN province text CHECK (province IN {PROVINCE}),
  ADD COLUMN legal_name text CHECK (length(legal_name) BETWEEN 1 AND 200),
  ADD COLUMN ntn text CHECK (ntn ~ '^[0-9A-Za-z-]{{1,20}}$'),
  ADD COLUMN strn text CHECK (strn ~ '^[0-9A-Za-z-]{{1,20}}$'),
  ADD COLUMN bank_iban text CHECK (bank_iban ~ '^[A-Z]{{2}}[0-9]{{2}}[A-Z0-9]{{11,30}}$');

ALTER TABLE subscriber
  ADD COLUMN province text CHECK (province IN {PROVINCE}),
  ADD COLUMN tax_exempt_until date,
  ADD COLUMN billing_anchor smallint CHECK (billing_anchor BETWEEN 1 AND 31);

CREATE TABLE tax_rule (
  id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
  tenant_id bigint NOT NULL REFERENCES tenant(id) ON DELETE CASCADE,
  name text NOT NULL CHECK (length(name) BETWEEN 1 AND 80),
  kind text NOT NULL CHECK (kind IN ('sales', 'advance_income')),
  rate numeric(6,3) NOT NULL CHECK (rate >= 0 AND rate <= 100),
  province text CHECK (province IN {PROVINCE}),
  base text NOT NULL DEFAULT 'net' CHECK (base IN ('net', 'net_plus_sales')),
  valid_from date NOT NULL,
  valid_to date CHECK (valid_to >= valid_from),
  reference text CHECK (length(reference) <= 200),
  created_at timestamptz NOT NULL DEFAULT now(),
  UNIQUE (tenant_id, id)
);
CREATE INDEX tax_rule_tenant ON tax_rule (tenant_id, kind, valid_from);

CREATE TABLE number_series (
  tenant_id bigint NOT NULL REFERENCES tenant(id) ON DELETE CASCADE,
  series text NOT NULL CHECK (series IN ('INV', 'CN')),
  fiscal_year text NOT NULL CHECK (fiscal_year ~ '^[0-9]{{4}}-[0-9]{{2}}$'),
  last_value bigint NOT NULL CHECK (last_value >= 1),
  PRIMARY KEY (tenant_id, series, fiscal_year)
);

CREATE TABLE invoice (
  id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
  tenant_id bigint NOT NULL REFERENCES tenant(id),
  subscriber_id bigint NOT NULL,
  kind text NOT NULL DEFAULT 'invoice' CHECK (kind IN ('invoice', 'credit_note')),
  number text NOT NULL,
  -- A credit note: the invoice it credits, and why.
  credits_id bigint,
  reason text CHECK (length(reason) BETWEEN 1 AND 500),
  plan_id bigint,
  plan_name text,
  period_start date NOT NULL,
  period_end date NOT NULL CHECK (period_end >= period_start),
  issued_on date NOT NULL,
  due_on date,
  -- The last day of service this invoice's grace days granted (none when it granted none): a void
  -- gives them back.
  grace_until date,
  net_paisa bigint NOT NULL CHECK (net_paisa >= 0),
  tax_paisa bigint NOT NULL CHECK (tax_paisa >= 0),
  total_paisa bigint NOT NULL CHECK (total_paisa = net_paisa + tax_paisa),
  status text NOT NULL CHECK (status IN ('open', 'paid', 'void', 'issued')),
  paid_at timestamptz,
  seller jsonb NOT NULL,
  buyer jsonb NOT NULL,
  created_at timestamptz NOT NULL DEFAULT now(),
  created_by text NOT NULL,
  UNIQUE (tenant_id, number),
  UNIQUE (tenant_id, id),
  FOREIGN KEY (tenant_id, subscriber_id) REFERENCES subscriber (tenant_id, id),
  FOREIGN KEY (tenant_id, credits_id) REFERENCES invoice (tenant_id, id),
  CHECK ((kind = 'credit_note') = (credits_id IS NOT NULL)),
  CHECK ((kind = 'credit_note') = (status = 'issued')),
  CHECK ((status = 'paid') = (paid_at IS NOT NULL))
);
CREATE INDEX invoice_subscriber ON invoice (tenant_id, subscriber_id, period_start);
CREATE INDEX invoice_open ON invoice (tenant_id, due_on) WHERE status = 'open';
-- One credit note per invoice (a void, or a plan change's unused days); one invoice from the run
-- per subscriber and period start (a crashed or concurrent run cannot issue a second). A plan
-- change's invoice (its reason says so) covers the rest of a period and stands beside it.
CREATE UNIQUE INDEX invoice_credited_once ON invoice (credits_id) WHERE kind = 'credit_note';
CREATE UNIQUE INDEX invoice_one_per_period ON invoice (tenant_id, subscriber_id, period_start)
  WHERE kind = 'invoice' AND status <> 'void' AND reason IS NULL;

CREATE TABLE invoice_line (
  id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
  tenant_id bigint NOT NULL,
  invoice_id bigint NOT NULL,
  position smallint NOT NULL CHECK (position >= 1),
  description text NOT NULL CHECK (length(description) BETWEEN 1 AND 300),
  net_paisa bigint NOT NULL CHECK (net_paisa >= 0),
  tax_paisa bigint NOT NULL CHECK (tax_paisa >= 0),
  total_paisa bigint NOT NULL CHECK (total_paisa = net_paisa + tax_paisa),
  UNIQUE (invoice_id, position),
  UNIQUE (tenant_id, id),
  FOREIGN KEY (tenant_id, invoice_id) REFERENCES invoice (tenant_id, id)
);

CREATE TABLE invoice_tax (
  id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
  tenant_id bigint NOT NULL,
  line_id bigint NOT NULL,
  tax_rule_id bigint,
  name text NOT NULL,
  kind text NOT NULL CHECK (kind IN ('sales', 'advance_income')),
  rate numeric(6,3) NOT NULL,
  base_paisa bigint NOT NULL CHECK (base_paisa >= 0),
  amount_paisa bigint NOT NULL CHECK (amount_paisa >= 0),
  reference text,
  FOREIGN KEY (tenant_id, line_id) REFERENCES invoice_line (tenant_id, id),
  FOREIGN KEY (tenant_id, tax_rule_id) REFERENCES tax_rule (tenant_id, id)
);
CREATE INDEX invoice_tax_line ON invoice_tax (line_id);

CREATE TABLE payment (
  id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
  tenant_id bigint NOT NULL REFERENCES tenant(id),
  subscriber_id bigint NOT NULL,
  method text NOT NULL CHECK (method IN ('cash', 'bank', 'jazzcash', 'easypaisa')),
  reference text NOT NULL CHECK (length(reference) BETWEEN 1 AND 100),
  amount_paisa bigint NOT NULL CHECK (amount_paisa > 0),
  -- held: a gateway amount that differs from the invoice, kept for review and not credited.
  status text NOT NULL DEFAULT 'received' CHECK (status IN ('received', 'held')),
  received_at timestamptz NOT NULL,
  created_at timestamptz NOT NULL DEFAULT now(),
  created_by text NOT NULL,
  UNIQUE (tenant_id, method, reference),
  UNIQUE (tenant_id, id),
  FOREIGN KEY (tenant_id, subscriber_id) REFERENCES subscriber (tenant_id, id)
);
CREATE INDEX payment_subscriber ON payment (tenant_id, subscriber_id, received_at);

CREATE TABLE payment_allocation (
  tenant_id bigint NOT NULL,
  payment_id bigint,
  -- A credit note's (or a credit balance's) share, when no payment.
  credit_id bigint,
  invoice_id bigint NOT NULL,
  amount_paisa bigint NOT NULL CHECK (amount_paisa > 0),
  at timestamptz NOT NULL DEFAULT now(),
  FOREIGN KEY (tenant_id, payment_id) REFERENCES payment (tenant_id, id),
  FOREIGN KEY (tenant_id, credit_id) REFERENCES invoice (tenant_id, id),
  FOREIGN KEY (tenant_id, invoice_id) REFERENCES invoice (tenant_id, id)
);
CREATE INDEX payment_allocation_invoice ON payment_allocation (invoice_id);

CREATE TABLE ledger_entry (
  id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
  tenant_id bigint NOT NULL,
  subscriber_id bigint NOT NULL,
  at timestamptz NOT NULL DEFAULT now(),
  kind text NOT NULL CHECK (kind IN ('invoice', 'credit_note', 'payment')),
  invoice_id bigint,
  payment_id bigint,
  -- Owed grows with an invoice (positive), shrinks with a payment or a credit note (negative).
  amount_paisa bigint NOT NULL CHECK (amount_paisa <> 0),
  description text NOT NULL,
  FOREIGN KEY (tenant_id, subscriber_id) REFERENCES subscriber (tenant_id, id),
  FOREIGN KEY (tenant_id, invoice_id) REFERENCES invoice (tenant_id, id),
  FOREIGN KEY (tenant_id, payment_id) REFERENCES payment (tenant_id, id),
  CHECK ((kind = 'payment') = (payment_id IS NOT NULL)),
  CHECK ((kind = 'payment') = (invoice_id IS NULL)),
  CHECK ((kind = 'invoice') = (amount_paisa > 0))
);
CREATE INDEX ledger_entry_subscriber ON ledger_entry (tenant_id, subscriber_id, id);

-- A notification about an invoice (issued, due): one per invoice, template and channel, so a
-- second run the same day queues nothing twice.
ALTER TABLE notification ADD COLUMN invoice_id bigint REFERENCES invoice(id);
CREATE UNIQUE INDEX notification_once_per_invoice ON notification (invoice_id, template, channel)
  WHERE invoice_id IS NOT NULL;

-- Issued is final: lines, taxes, allocations and the ledger are append-only; an invoice
-- changes its status once (open to paid or void) and nothing else.
CREATE FUNCTION cloudos_invoice_final() RETURNS trigger LANGUAGE plpgsql AS $$
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
CREATE TRIGGER invoice_final BEFORE UPDATE OR DELETE ON invoice
  FOR EACH ROW EXECUTE FUNCTION cloudos_invoice_final();
CREATE TRIGGER invoice_line_append_only BEFORE UPDATE OR DELETE ON invoice_line
  FOR EACH ROW EXECUTE FUNCTION cloudos_refuse_change();
CREATE TRIGGER invoice_tax_append_only BEFORE UPDATE OR DELETE ON invoice_tax
  FOR EACH ROW EXECUTE FUNCTION cloudos_refuse_change();
CREATE TRIGGER payment_allocation_append_only BEFORE UPDATE OR DELETE ON payment_allocation
  FOR EACH ROW EXECUTE FUNCTION cloudos_refuse_change();
CREATE TRIGGER ledger_entry_append_only BEFORE UPDATE OR DELETE ON ledger_entry
  FOR EACH ROW EXECUTE FUNCTION cloudos_refuse_change();
CREATE TRIGGER payment_append_only BEFORE UPDATE OR DELETE ON payment
  FOR EACH ROW EXECUTE FUNCTION cloudos_refuse_change();
CREATE TRIGGER invoice_no_truncate BEFORE TRUNCATE ON invoice
  FOR EACH STATEMENT EXECUTE FUNCTION cloudos_refuse_change();
CREATE TRIGGER ledger_entry_no_truncate BEFORE TRUNCATE ON ledger_entry
  FOR EACH STATEMENT EXECUTE FUNCTION cloudos_refuse_change();
REVOKE EXECUTE ON FUNCTION cloudos_invoice_final() FROM PUBLIC;

-- Out of the walled garden without a redial (a payment, a resume): a CoA-Request for each open
-- session of the subscriber back to the plan's rate (its FUP rate when the quota is spent) and
-- address list. A plan with no address list cannot take the garden's list away by CoA: those
-- sessions get a Disconnect-Request, and the redial is accepted on the plan. Nothing when the
-- tenant has no walled garden or the subscriber is still out of policy.
CREATE FUNCTION cloudos_queue_coa_release(p_subscriber bigint, p_now timestamptz, p_reason text)
RETURNS integer LANGUAGE plpgsql AS $$
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
     WHERE s.id = p_subscriber AND t.walled_garden_address_list IS NOT NULL),
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
REVOKE EXECUTE ON FUNCTION cloudos_queue_coa_release(bigint, timestamptz, text) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION cloudos_queue_coa_release(bigint, timestamptz, text) TO cloudos_admin;

GRANT SELECT, INSERT, UPDATE, DELETE ON tax_rule TO cloudos_admin;
GRANT SELECT, INSERT, UPDATE ON number_series TO cloudos_admin;
GRANT SELECT, INSERT, UPDATE ON invoice TO cloudos_admin;
GRANT SELECT, INSERT ON invoice_line, invoice_tax, payment, payment_allocation, ledger_entry TO cloudos_admin;
"""

DOWNGRADE = rf"""
DROP INDEX IF EXISTS notification_once_per_invoice;
ALTER TABLE notification DROP COLUMN IF EXISTS invoice_id;
DROP TABLE IF EXISTS ledger_entry, payment_allocation, payment, invoice_tax, invoice_line, invoice,
  number_series, tax_rule CASCADE;
DROP FUNCTION IF EXISTS cloudos_invoice_final();
DROP FUNCTION IF EXISTS cloudos_queue_coa_release(bigint, timestamptz, text);
ALTER TABLE subscriber DROP COLUMN province, DROP COLUMN tax_exempt_until, DROP COLUMN billing_anchor;
ALTER TABLE tenant DROP COLUMN billing_cycle, DROP COLUMN billing_day, DROP COLUMN invoice_lead_days,
  DROP COLUMN grace_days, DROP COLUMN province, DROP COLUMN legal_name, DROP COLUMN ntn, DROP COLUMN strn,
  DROP COLUMN bank_iban;
CREATE TABLE invoice (
  id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
  tenant_id bigint NOT NULL REFERENCES tenant(id) ON DELETE CASCADE,
  subscriber_id bigint NOT NULL REFERENCES subscriber(id) ON DELETE CASCADE,
  plan_id bigint REFERENCES plan(id),
  period_start timestamptz NOT NULL,
  period_end timestamptz NOT NULL,
  amount numeric(12,2) NOT NULL CHECK (amount >= 0),
  currency char(3) NOT NULL,
  status text NOT NULL DEFAULT 'open' CHECK (status IN ('open', 'paid', 'void')),
  issued_at timestamptz NOT NULL DEFAULT now(),
  due_at timestamptz,
  paid_at timestamptz
);
CREATE TABLE payment (
  id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
  tenant_id bigint NOT NULL REFERENCES tenant(id) ON DELETE CASCADE,
  subscriber_id bigint NOT NULL REFERENCES subscriber(id) ON DELETE CASCADE,
  invoice_id bigint REFERENCES invoice(id),
  method text NOT NULL CHECK (method IN ('jazzcash', 'easypaisa', 'bank_transfer', 'cash')),
  provider_reference text NOT NULL,
  amount numeric(12,2) NOT NULL CHECK (amount > 0),
  currency char(3) NOT NULL,
  status text NOT NULL DEFAULT 'received' CHECK (status IN ('pending', 'received', 'failed', 'refunded')),
  received_at timestamptz NOT NULL DEFAULT now()
);
GRANT SELECT, INSERT, UPDATE, DELETE ON invoice, payment TO cloudos_admin;
"""


def upgrade() -> None:
    op.execute(UPGRADE)


def downgrade() -> None:
    op.execute(DOWNGRADE)
