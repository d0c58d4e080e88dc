"""Subscriber passwords are sealed to their tenant and username.

A password ciphertext's associated data was only its purpose (``subscriber.password``),
so one copied from subscriber A's row onto B's (in PostgreSQL or in a Redis snapshot)
opened as B's password. From this revision a password is the ``c2`` format of
rlm_cloudos.crypto, whose associated data is the purpose, the tenant id and the
username, and radiusd opens no other. Re-sealing the existing ``c1`` rows needs the key
ring, which the database never sees, so it is not done here: ``cloudos db migrate``
does it in Python right after this upgrade (``cloudos db reencrypt`` on its own), and
refuses to report success while a ``c1`` password is left. The column says so.

Revision ID: 0010
Revises: 0009
"""

from alembic import op

revision = "0010"
down_revision = "0009"
branch_labels = None
depends_on = None

UPGRADE = r"""
COMMENT ON COLUMN subscriber.password_enc IS
  'AES-256-GCM, rlm_cloudos.crypto format c2: associated data binds it to tenant_id and username '
  '(c1 rows, unbound, are re-sealed by cloudos db reencrypt; radiusd refuses them)';
"""


def upgrade() -> None:
    op.execute(UPGRADE)


def downgrade() -> None:
    raise NotImplementedError("schema downgrades are not supported: restore the daily backup instead")
