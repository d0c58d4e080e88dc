"""Erasure: a data key per subscriber (crypto-shredding), and the erased mark.

* ``subscriber_key``: each subscriber's data key, 32 random bytes sealed under the key ring
  (rlm_cloudos.crypto.wrap_data_key, bound to the subscriber). The CNIC is sealed under it
  (format ``d1``). `cloudos subscriber erase` deletes the row: every copy of the
  subscriber's ``d1`` fields (a replica, a dump, a backup) is then unreadable, with or
  without the key ring. Backups of this table are what keep an erased key alive: issue
  16's backups keep it apart from the data, on a shorter retention.
* ``subscriber.erased_at``: when the subscriber was erased. Its username is then
  ``erased-<id>``, so radiusd finds no such user; its billing records stay with the
  identity tax law requires (name and address) until retention's 5 years.

Both under row-level security as 0018's tables are; the key is readable by admins only.

Revision ID: 0019
Revises: 0018
"""

from alembic import op

revision = "0019"
down_revision = "0018"
branch_labels = None
depends_on = None

UPGRADE = r"""
CREATE TABLE subscriber_key (
  subscriber_id bigint PRIMARY KEY,
  tenant_id bigint NOT NULL,
  key_enc bytea NOT NULL,
  created_at timestamptz NOT NULL DEFAULT now(),
  FOREIGN KEY (tenant_id, subscriber_id) REFERENCES subscriber (tenant_id, id) ON DELETE CASCADE
);
COMMENT ON TABLE subscriber_key IS 'each subscriber''s data key, sealed under the key ring; deleted on erasure (crypto-shredding)';
ALTER TABLE subscriber ADD COLUMN erased_at timestamptz;
ALTER TABLE subscriber ADD CONSTRAINT subscriber_erased_terminated
  CHECK (erased_at IS NULL OR (status = 'terminated' AND cnic_enc IS NULL AND phone IS NULL AND email IS NULL));

GRANT SELECT, INSERT, DELETE ON subscriber_key TO cloudos_admin, cloudos_op_admin;
GRANT SELECT (erased_at) ON subscriber TO cloudos_op_billing, cloudos_op_support, cloudos_op_auditor;

SELECT cloudos_isolate('subscriber_key', 'tenant_id', '{}');  -- 0018's policies; no program reads it

CREATE OR REPLACE FUNCTION cloudos_invoice_final() RETURNS trigger
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

-- The buyer's phone and e-mail off the subscriber's invoices, its username replaced by the erased
-- one; only the caller's tenant's (an operator's own, or the one a platform transaction named).
CREATE FUNCTION cloudos_erase_billing_identity(p_subscriber bigint, p_username text) RETURNS integer
  LANGUAGE plpgsql SECURITY DEFINER SET search_path = public, pg_temp SET cloudos.erasure = 'on' AS $f$
DECLARE n integer;
BEGIN
  UPDATE invoice SET buyer = (buyer - 'phone' - 'email') || jsonb_build_object('username', p_username)
   WHERE subscriber_id = p_subscriber AND tenant_id = COALESCE(cloudos_tenant(), cloudos_scope(), tenant_id);
  GET DIAGNOSTICS n = ROW_COUNT;
  RETURN n;
END $f$;
REVOKE ALL ON FUNCTION cloudos_erase_billing_identity(bigint, text) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION cloudos_erase_billing_identity(bigint, text) TO cloudos_admin, cloudos_op_admin;
"""

DOWNGRADE = r"""
DROP FUNCTION cloudos_erase_billing_identity(bigint, text);
ALTER TABLE subscriber DROP CONSTRAINT subscriber_erased_terminated;
ALTER TABLE subscriber DROP COLUMN erased_at;
DROP TABLE subscriber_key;
"""


def upgrade() -> None:
    op.execute(UPGRADE)


def downgrade() -> None:
    op.execute(DOWNGRADE)
