"""Consent: a subscriber's yes or no to marketing and to analytics, with its time and source.

* ``consent``: one row per statement of the subscriber (append-only: a later row overrides an
  earlier one; the history is what the policy's "without affecting the lawfulness of prior
  processing" needs). No row means no consent: marketing and analytics are opt-in.
* ``cloudos_consented(subscriber, purpose)``: the newest statement, false without one.
* A notification whose template is ``marketing.…`` is not queued for a subscriber without
  marketing consent (a BEFORE INSERT trigger returns no row), whichever program queues it.
  Service notices (invoices, reminders, suspension, quota) are the contract's, not consent's.

Under row-level security as 0018's tables are.

Revision ID: 0020
Revises: 0019
"""

from alembic import op

revision = "0020"
down_revision = "0019"
branch_labels = None
depends_on = None

UPGRADE = r"""
CREATE TABLE consent (
  id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
  tenant_id bigint NOT NULL,
  subscriber_id bigint NOT NULL,
  purpose text NOT NULL CHECK (purpose IN ('marketing', 'analytics')),
  granted boolean NOT NULL,
  at timestamptz NOT NULL DEFAULT now(),
  source text NOT NULL CHECK (length(source) BETWEEN 1 AND 200),
  recorded_by text NOT NULL DEFAULT session_user,
  FOREIGN KEY (tenant_id, subscriber_id) REFERENCES subscriber (tenant_id, id) ON DELETE CASCADE
);
CREATE INDEX consent_latest ON consent (subscriber_id, purpose, at DESC, id DESC);
-- A statement is never rewritten (no login may delete one either: no grant; they go with their
-- subscriber's row).
CREATE TRIGGER consent_append_only BEFORE UPDATE ON consent FOR EACH ROW EXECUTE FUNCTION cloudos_refuse_change();

CREATE FUNCTION cloudos_consented(p_subscriber bigint, p_purpose text) RETURNS boolean
  LANGUAGE sql STABLE SECURITY DEFINER SET search_path = public, pg_temp AS $f$
  SELECT COALESCE((SELECT granted FROM consent WHERE subscriber_id = p_subscriber AND purpose = p_purpose
                    ORDER BY at DESC, id DESC LIMIT 1), false)
$f$;

CREATE FUNCTION cloudos_notification_consent() RETURNS trigger
  LANGUAGE plpgsql SECURITY DEFINER SET search_path = public, pg_temp AS $f$
BEGIN
  IF NEW.template LIKE 'marketing.%' AND NOT cloudos_consented(NEW.subscriber_id, 'marketing') THEN
    RETURN NULL;
  END IF;
  RETURN NEW;
END $f$;
REVOKE ALL ON FUNCTION cloudos_notification_consent() FROM PUBLIC;
CREATE TRIGGER notification_consent BEFORE INSERT ON notification
  FOR EACH ROW EXECUTE FUNCTION cloudos_notification_consent();

REVOKE ALL ON FUNCTION cloudos_consented(bigint, text) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION cloudos_consented(bigint, text)
  TO cloudos_admin, cloudos_operator, cloudos_worker;
GRANT SELECT, INSERT ON consent TO cloudos_admin, cloudos_op_admin, cloudos_op_support;
GRANT SELECT ON consent TO cloudos_op_billing, cloudos_op_auditor, cloudos_worker;

SELECT cloudos_isolate('consent', 'tenant_id', ARRAY['cloudos_worker']);  -- 0018's policies; the worker sends
"""

DOWNGRADE = r"""
DROP TRIGGER notification_consent ON notification;
DROP FUNCTION cloudos_notification_consent();
DROP FUNCTION cloudos_consented(bigint, text);
DROP TABLE consent;
"""


def upgrade() -> None:
    op.execute(UPGRADE)


def downgrade() -> None:
    op.execute(DOWNGRADE)
