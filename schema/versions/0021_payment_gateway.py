"""Payment gateways per tenant: `cloudos gateway set jazzcash|easypaisa` (issue 15, item 2).

``payment_gateway`` holds, per tenant and gateway, the merchant id, the base URL the
service talks to (the only address it will ever send a gateway request to) and the
gateway's secrets, sealed under the key ring (AES-256-GCM, ``c2``, bound to tenant and
gateway): JazzCash's password and integrity salt, EasyPaisa's store id, hash key,
username, password and account number. No login but an admin reads the secrets; billing
and auditor operators see which gateways are configured.

Under row-level security as 0018's tables are.

Revision ID: 0021
Revises: 0020
"""

from alembic import op

revision = "0021"
down_revision = "0020"
branch_labels = None
depends_on = None

UPGRADE = r"""
CREATE TABLE payment_gateway (
  tenant_id bigint NOT NULL REFERENCES tenant(id) ON DELETE CASCADE,
  gateway text NOT NULL CHECK (gateway IN ('jazzcash', 'easypaisa')),
  merchant_id text NOT NULL CHECK (merchant_id ~ '^[A-Za-z0-9_-]{1,64}$'),
  base_url text NOT NULL CHECK (base_url ~ '^https?://[^/?#@[:space:]]+$'),
  credentials_enc bytea NOT NULL,
  updated_at timestamptz NOT NULL DEFAULT now(),
  updated_by text NOT NULL DEFAULT session_user,
  PRIMARY KEY (tenant_id, gateway)
);
COMMENT ON COLUMN payment_gateway.credentials_enc IS
  'AES-256-GCM, rlm_cloudos.crypto format c2 bound to tenant_id and gateway: the gateway''s secrets as JSON';
GRANT SELECT, INSERT, UPDATE, DELETE ON payment_gateway TO cloudos_admin, cloudos_op_admin;
GRANT SELECT (tenant_id, gateway, merchant_id, base_url, updated_at, updated_by) ON payment_gateway
  TO cloudos_op_billing, cloudos_op_auditor;

SELECT cloudos_isolate('payment_gateway', 'tenant_id', '{}');  -- 0018's policies; no program reads it yet
"""

DOWNGRADE = r"""
DROP TABLE payment_gateway;
"""


def upgrade() -> None:
    op.execute(UPGRADE)


def downgrade() -> None:
    op.execute(DOWNGRADE)
