"""The audit chain is keyed, names the database login, and leaves personal data out.

0001's chain was plain SHA-256, so whoever owned the database could rewrite a row
and recompute every hash after it, and could drop the newest rows unnoticed.
Rows are now versioned:

* ``version`` 1: the rows written before this migration, hashed as 0001 said.
  They are not re-chained: re-chaining would need the audit key inside the
  migration (alembic runs without the key ring) and would rewrite rows the table
  exists to keep as written. They stay verifiable under their old rule, and the
  first version-2 row seals them: its HMAC covers its ``prev_hash``, the hash of
  the last version-1 row, which depends on every row before it.
* ``version`` 2: ``hash`` is HMAC-SHA256 under a key derived from the key ring
  (``key_id`` names the key ring key, so keys can rotate), over the row including
  ``db_user`` and ``changed``. `cloudos audit verify` refuses a version-1 row that
  follows a version-2 row.

``db_user`` is the PostgreSQL login (session_user) that inserted the row, set by
a trigger whatever the client sent; the client reads session_user in the same
transaction to sign it. ``changed`` names the fields the change touched.

Revision ID: 0009
Revises: 0008
"""

from alembic import op

revision = "0009"
down_revision = "0008"
branch_labels = None
depends_on = None

UPGRADE = r"""
ALTER TABLE admin_audit
  ADD COLUMN version smallint NOT NULL DEFAULT 1,
  ADD COLUMN key_id  text,
  ADD COLUMN db_user text,
  ADD COLUMN changed text[];
-- Writers say which rule their row follows; only the rows already there are version 1.
ALTER TABLE admin_audit ALTER COLUMN version DROP DEFAULT;
ALTER TABLE admin_audit ADD CONSTRAINT admin_audit_version CHECK (
  (version = 1 AND key_id IS NULL AND db_user IS NULL AND changed IS NULL)
  OR (version = 2 AND key_id IS NOT NULL AND db_user IS NOT NULL AND changed IS NOT NULL));

-- The login comes from the server, never from the client.
CREATE FUNCTION cloudos_audit_stamp() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  NEW.db_user := session_user;
  RETURN NEW;
END $$;
CREATE TRIGGER admin_audit_stamp BEFORE INSERT ON admin_audit
  FOR EACH ROW EXECUTE FUNCTION cloudos_audit_stamp();
"""

DOWNGRADE = r"""
DROP TRIGGER IF EXISTS admin_audit_stamp ON admin_audit;
DROP FUNCTION IF EXISTS cloudos_audit_stamp();
ALTER TABLE admin_audit DROP CONSTRAINT IF EXISTS admin_audit_version,
  DROP COLUMN IF EXISTS changed, DROP COLUMN IF EXISTS db_user, DROP COLUMN IF EXISTS key_id,
  DROP COLUMN IF EXISTS version;
"""


def upgrade() -> None:
    op.execute(UPGRADE)


def downgrade() -> None:
    op.execute(DOWNGRADE)
