"""Accounting's point lookups use their indexes, whatever the statistics say.

cloudos_account() finds a session by its Acct-Unique-Session-Id, a subscriber by
(tenant, username), a usage counter by (subscriber, period). PL/pgSQL plans those
statements once per connection and keeps the plans. When ``session_open`` was
empty at its last ANALYZE (a fresh install, a quiet night, a VACUUM ANALYZE right
after the last session closed), the planner believes it always is: the plan is a
sequential scan, and each packet then reads every row the table has grown to
since. In the benchmark that made PostgreSQL's work per packet climb from about
100 to over 500 µs within one run of 28,000 packets, until autovacuum analyzed
the table again. Turned off for these functions only (and what they call), the
planner takes the index for every lookup; a statement with no index to use still
runs as a scan.

Revision ID: 0004
Revises: 0003
"""

from alembic import op

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None

ACCOUNT = "cloudos_account(inet, text, text, text, text, timestamptz, bigint, bigint, bigint, inet, text, text, text)"
ACCOUNT_MANY = ("cloudos_account_many(inet[], text[], text[], text[], text[], integer[], bigint[], bigint[], bigint[], "
                "inet[], text[], text[], text[])")


def upgrade() -> None:
    op.execute(f"ALTER FUNCTION {ACCOUNT} SET enable_seqscan = off")
    op.execute(f"ALTER FUNCTION {ACCOUNT_MANY} SET enable_seqscan = off")


def downgrade() -> None:
    raise NotImplementedError("schema downgrades are not supported: restore the daily backup instead")
