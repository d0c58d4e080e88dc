"""One subscriber per username whatever its case, one per static IP, within a tenant.

* ``subscriber_username_folded``: a unique index on (tenant_id, lower(username)). ``ALI``
  beside ``ali`` is two accounts to PostgreSQL and one person to a NOC reading a ticket;
  now the second is refused. Logins still match the stored username exactly, as
  radiusd looks it up (``subscriber_tenant_id_username_key`` stays for that).
* ``subscriber_static_ip``: a unique index on (tenant_id, static_ip) where one is set.
  Two subscribers with one Framed-IP-Address would both be accepted and the NAS
  would route the address to whichever logged in last. And it is one IPv4 address
  (``subscriber_static_ip_ipv4``): Framed-IP-Address carries nothing else, and an
  IPv6 value reached the NAS as 0.0.0.0.

An installation that already holds such pairs cannot take the indexes: the upgrade
stops and names them (rename or re-address one of each pair, then migrate again).

Revision ID: 0013
Revises: 0012
"""

from alembic import op

revision = "0013"
down_revision = "0012"
branch_labels = None
depends_on = None

UPGRADE = r"""
DO $$
DECLARE
  clash text;
BEGIN
  SELECT string_agg(format('tenant %s: %s', tenant_id, names), '; ') INTO clash
    FROM (SELECT tenant_id, string_agg(username, ', ' ORDER BY username) AS names
            FROM subscriber GROUP BY tenant_id, lower(username) HAVING count(*) > 1) d;
  IF clash IS NOT NULL THEN
    RAISE EXCEPTION 'usernames that differ only in case: %', clash
      USING HINT = 'rename one of each pair in SQL (logins use the stored case), then migrate again';
  END IF;
  SELECT string_agg(format('tenant %s: %s (%s)', tenant_id, host(static_ip), names), '; ') INTO clash
    FROM (SELECT tenant_id, static_ip, string_agg(username, ', ' ORDER BY username) AS names
            FROM subscriber WHERE static_ip IS NOT NULL GROUP BY tenant_id, static_ip HAVING count(*) > 1) d;
  IF clash IS NOT NULL THEN
    RAISE EXCEPTION 'static IPs given to more than one subscriber: %', clash
      USING HINT = 'give each a different address (cloudos subscriber set USER --static-ip IP), then migrate again';
  END IF;
  SELECT string_agg(format('tenant %s: %s (%s)', tenant_id, static_ip, username), '; ') INTO clash
    FROM subscriber WHERE static_ip IS NOT NULL AND (family(static_ip) <> 4 OR masklen(static_ip) <> 32);
  IF clash IS NOT NULL THEN
    RAISE EXCEPTION 'static IPs that are not one IPv4 address: %', clash
      USING HINT = 'give each a different address (cloudos subscriber set USER --static-ip IP), then migrate again';
  END IF;
END
$$;

CREATE UNIQUE INDEX subscriber_username_folded ON subscriber (tenant_id, lower(username));
CREATE UNIQUE INDEX subscriber_static_ip ON subscriber (tenant_id, static_ip) WHERE static_ip IS NOT NULL;
ALTER TABLE subscriber ADD CONSTRAINT subscriber_static_ip_ipv4
  CHECK (static_ip IS NULL OR (family(static_ip) = 4 AND masklen(static_ip) = 32));
"""

DOWNGRADE = r"""
ALTER TABLE subscriber DROP CONSTRAINT subscriber_static_ip_ipv4;
DROP INDEX subscriber_static_ip;
DROP INDEX subscriber_username_folded;
"""


def upgrade() -> None:
    op.execute(UPGRADE)


def downgrade() -> None:
    op.execute(DOWNGRADE)
