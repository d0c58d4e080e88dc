"""cloudos_metrics: a read-only group role for `cloudos metrics`, and a BRIN index on auth_log.at.

`cloudos metrics` (tools/cloudos/commands/metrics.py) runs every minute from a
timer and writes Prometheus text for node_exporter. It needs counts, not rows:
no role of 0012 fits. cloudos_admin can rewrite every tenant's data, and
cloudos_worker claims CoA requests and cannot read the auth log. So a role of its
own, with SELECT on the columns the counts group by and nothing else: no
username, no address, no MAC, no secret, no personal data. It may write nothing
and execute one function, the stale rule (cloudos_stale_cutoff) that tells online
sessions from silent ones, as radiusd and the reaper judge them.

The accept and reject counts read today's auth log rows every minute. auth_log
has an index on (tenant_id, username, at) only, so that would scan the month's
partition. Rows arrive in time order (batched COPY, a second behind at most),
which is what a BRIN index is for: a few pages per partition, and next to nothing
per insert. autosummarize: a page range is summarized as soon as it fills (by
autovacuum), not at the next VACUUM; until then a BRIN index returns it as a
match. Measured (3,000,000 rows in a month's partition, one day counted): 45 ms
with the index summarized, 190 ms without it (a parallel scan of the partition,
which grows with the month); the index is 24 kB for 2,000,000 rows.

Idempotent: the role is created only when missing, GRANT repeats harmlessly, and
the index is created IF NOT EXISTS.

Revision ID: 0014
Revises: 0013
"""

from alembic import op

revision = "0014"
down_revision = "0013"
branch_labels = None
depends_on = None

#: Column lists, per table: what the metrics group by and filter on.
COLUMNS = {
    "tenant": ("id", "name", "interim_interval"),
    "nas": ("id", "tenant_id", "name"),
    "session_open": ("tenant_id", "nas_id", "stopped_at", "updated_at"),
    "auth_log": ("at", "tenant_id", "outcome", "reason"),
    "coa_outbox": ("tenant_id", "kind", "status", "created_at", "done_at"),
    "journal_node": ("node", "caught_up_at", "seen_at"),
}

UPGRADE = "\n".join((
    "DO $$ BEGIN",
    "  IF NOT EXISTS (SELECT 1 FROM pg_roles WHERE rolname = 'cloudos_metrics') THEN",
    "    CREATE ROLE cloudos_metrics NOLOGIN;",
    "  END IF;",
    "END $$;",
    *(f"GRANT SELECT ({', '.join(cols)}) ON {table} TO cloudos_metrics;" for table, cols in COLUMNS.items()),
    "GRANT EXECUTE ON FUNCTION cloudos_stale_cutoff(timestamptz, integer) TO cloudos_metrics;",
    "CREATE INDEX IF NOT EXISTS auth_log_at ON auth_log USING brin (at) WITH (autosummarize = on);",
))

DOWNGRADE = """
DROP INDEX IF EXISTS auth_log_at;
REVOKE ALL ON ALL TABLES IN SCHEMA public FROM cloudos_metrics;
REVOKE ALL ON ALL FUNCTIONS IN SCHEMA public FROM cloudos_metrics;
"""


def upgrade() -> None:
    op.execute(UPGRADE)


def downgrade() -> None:
    op.execute(DOWNGRADE)
