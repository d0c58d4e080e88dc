"""Data requests with deadlines: `cloudos privacy request` and `privacy holiday`.

* ``data_request`` (reshaped from 0001's sketch, which no command wrote): a subscriber's
  request under the privacy policy (access, rectify, erase, object, withdraw), the day it was
  received, who recorded it, and once closed, when, by whom and how. Its deadline (14 business
  days from the day after receipt, rlm_cloudos.policy.privacy) is computed when read, so a
  holiday added later moves it.
* ``privacy_holiday``: the public holidays a tenant's operator keeps (none by default); they
  are not business days.

Revision ID: 0017
Revises: 0016
"""

from alembic import op

revision = "0017"
down_revision = "0016"
branch_labels = None
depends_on = None

UPGRADE = r"""
DO $$ BEGIN
  IF EXISTS (SELECT 1 FROM data_request) THEN
    RAISE EXCEPTION 'data_request holds rows: 0017 reshapes it and would lose them'
      USING HINT = 'export them, empty the table, migrate, then record them again with the CLI';
  END IF;
END $$;
DROP TABLE data_request;
CREATE TABLE data_request (
  id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
  tenant_id bigint NOT NULL REFERENCES tenant(id) ON DELETE CASCADE,
  subscriber_id bigint NOT NULL,
  kind text NOT NULL CHECK (kind IN ('access', 'rectify', 'erase', 'object', 'withdraw')),
  received_on date NOT NULL,
  note text CHECK (length(note) BETWEEN 1 AND 500),
  created_at timestamptz NOT NULL DEFAULT now(),
  created_by text NOT NULL,
  closed_at timestamptz,
  closed_by text,
  outcome text CHECK (length(outcome) BETWEEN 1 AND 500),
  UNIQUE (tenant_id, id),
  FOREIGN KEY (tenant_id, subscriber_id) REFERENCES subscriber (tenant_id, id),
  CHECK ((closed_at IS NULL) = (closed_by IS NULL) AND (closed_at IS NULL) = (outcome IS NULL))
);
CREATE INDEX data_request_open ON data_request (tenant_id, received_on) WHERE closed_at IS NULL;
CREATE TABLE privacy_holiday (
  tenant_id bigint NOT NULL REFERENCES tenant(id) ON DELETE CASCADE,
  day date NOT NULL,
  name text NOT NULL CHECK (length(name) BETWEEN 1 AND 100),
  PRIMARY KEY (tenant_id, day)
);
GRANT SELECT, INSERT, UPDATE ON data_request TO cloudos_admin;
GRANT SELECT, INSERT, DELETE ON privacy_holiday TO cloudos_admin;
"""

DOWNGRADE = r"""
DROP TABLE IF EXISTS privacy_holiday;
DROP TABLE IF EXISTS data_request;
CREATE TABLE data_request (
  id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
  tenant_id bigint NOT NULL REFERENCES tenant(id) ON DELETE CASCADE,
  subscriber_id bigint NOT NULL REFERENCES subscriber(id) ON DELETE CASCADE,
  kind text NOT NULL CHECK (kind IN ('export', 'rectification', 'deletion')),
  format text CHECK (format IN ('csv', 'json')),
  requested_at timestamptz NOT NULL DEFAULT now(),
  completed_at timestamptz,
  outcome text
);
GRANT SELECT, INSERT, UPDATE, DELETE ON data_request TO cloudos_admin;
"""


def upgrade() -> None:
    op.execute(UPGRADE)


def downgrade() -> None:
    op.execute(DOWNGRADE)
