"""Least privilege: one group role per program, EXECUTE only where it is needed.

radiusd, the worker and the CLI connected as the database owner (a superuser in
the local stack), so a compromised radiusd could rewrite any tenant's data,
disable the audit triggers or run programs on the database host (COPY … PROGRAM).
Now each program logs in as a member of its own group role:

  cloudos_radius  radiusd: reads what authorize needs (the subscriber's personal
                  data excepted: no cnic_enc, phone, email, full_name or
                  postal_address), writes sessions, counters, the auth log and
                  CoA requests; EXECUTE on the accounting functions only.
  cloudos_worker  `cloudos worker`: claims and settles coa_outbox rows, reads the
                  NAS (address, CoA port, secret), reaps stale sessions.
  cloudos_admin   the `cloudos` CLI (0001's grants, unchanged here).

Migrations run as the owner. The login roles, with their passwords, are made by
whoever provisions the database (`cloudos db create-login ROLE NAME
--password-stdin`): a migration never holds a password.

PostgreSQL grants EXECUTE on every new function to PUBLIC: that is revoked from
every cloudos_* function, and from the owner's future functions by default
privileges, so a function added later is callable only by the roles its
migration grants it to (add it to the lists below, or grant it in its own
migration). Trigger functions need no EXECUTE grant: PostgreSQL checks it when a
trigger is created, not when it fires.

cloudos_account() calls cloudos_queue_coa() when a quota is crossed, with the
caller's rights: cloudos_radius never had EXECUTE on it (radiusd ran as the owner,
so nobody noticed) and gets it here.

Idempotent: roles are created only when missing, GRANT and REVOKE repeat harmlessly.

Revision ID: 0012
Revises: 0011
"""

from alembic import op

revision = "0012"
down_revision = "0011"
branch_labels = None
depends_on = None

#: The subscriber columns radiusd reads (store.sql's AUTHORIZE, cloudos_account()); the rest is personal data.
RADIUS_SUBSCRIBER_COLUMNS = ("id", "tenant_id", "username", "password_enc", "plan_id", "status", "expires_at",
                             "mac", "static_ip", "locked_until")

#: EXECUTE, per group role. A new function the role calls (or that a function it calls calls) goes here.
FUNCTIONS = {
    "cloudos_radius": (
        "cloudos_account(inet, text, text, text, text, timestamptz, bigint, bigint, bigint, inet, text, text, text)",
        "cloudos_account_journal(jsonb, double precision)",
        "cloudos_period(text, text, timestamptz, timestamptz)",
        "cloudos_stale_cutoff(timestamptz, integer)",
        "cloudos_archive_session(session_open)",
        "cloudos_queue_coa(bigint, text, text, text)",
        "cloudos_queue_coa_sessions(text[], text, text, text)",
    ),
    "cloudos_worker": (
        "cloudos_reap_sessions(timestamptz)",
        "cloudos_stale_cutoff(timestamptz, integer)",
        "cloudos_archive_session(session_open)",
        # 0008's enforcement policy (see DEFINER below), and its escalation of a failed CoA.
        "cloudos_queue_coa_sessions(text[], text, text, text)",
        "cloudos_coa_moot(timestamptz)",
        "cloudos_coa_sweep(timestamptz, timestamptz)",
    ),
    "cloudos_admin": (
        "cloudos_period(text, text, timestamptz, timestamptz)",
        "cloudos_stale_cutoff(timestamptz, integer)",
        "cloudos_archive_session(session_open)",
        "cloudos_reap_sessions(timestamptz)",
        "cloudos_queue_coa(bigint, text, text, text)",
        "cloudos_queue_coa_sessions(text[], text, text, text)",
    ),
}

#: Table privileges, per group role, beyond 0001's (cloudos_admin keeps 0001's and gains alembic_version).
TABLES = {
    "cloudos_radius": (
        "SELECT ON tenant, nas, plan",
        "SELECT ({}) ON subscriber".format(", ".join(RADIUS_SUBSCRIBER_COLUMNS)),
        "UPDATE (locked_until) ON subscriber",
        "SELECT, INSERT, UPDATE ON session_open, session, usage_counter",
        "INSERT ON auth_log, coa_outbox",
        # cloudos_queue_coa_sessions() counts what it queued with INSERT … RETURNING subscriber_id.
        "SELECT (subscriber_id) ON coa_outbox",
    ),
    "cloudos_worker": (
        "SELECT ON tenant, nas",
        "SELECT, INSERT, UPDATE ON coa_outbox",
        "SELECT, UPDATE, DELETE ON session_open",
        "SELECT, INSERT, UPDATE ON session",
        # The reaper judges staleness as of the journals' progress and forgets silent nodes (0011).
        "SELECT, DELETE ON journal_node",
    ),
}

#: Functions that run with their owner's rights, each with a fixed search_path. 0008's policy hands
#: whole subscriber rows to cloudos_lapse(), and a whole-row reference needs SELECT on every column
#: (the personal ones too): the worker gets these two functions instead of the table.
DEFINER = (
    "cloudos_coa_moot(timestamptz)",
    "cloudos_coa_sweep(timestamptz, timestamptz)",
)

TABLES["cloudos_admin"] = (
    "SELECT ON alembic_version",  # `cloudos db status` as the CLI's login
)

ROLES = ("cloudos_radius", "cloudos_worker", "cloudos_admin")


def _upgrade_sql() -> str:
    create = "\n".join(
        f"  IF NOT EXISTS (SELECT 1 FROM pg_roles WHERE rolname = '{r}') THEN CREATE ROLE {r} NOLOGIN; END IF;"
        for r in ROLES)
    grants = [f"GRANT {t} TO {role};" for role, ts in TABLES.items() for t in ts]
    grants += [f"GRANT EXECUTE ON FUNCTION {f} TO {role};" for role, fs in FUNCTIONS.items() for f in fs]
    grants += [f"ALTER FUNCTION {f} SECURITY DEFINER SET search_path = public, pg_temp;" for f in DEFINER]
    return f"""
DO $$
BEGIN
{create}
END $$;

-- Every cloudos function: no EXECUTE for PUBLIC (PostgreSQL's default), now and for those created later.
DO $$
DECLARE f regprocedure;
BEGIN
  FOR f IN SELECT p.oid::regprocedure FROM pg_proc p JOIN pg_namespace n ON n.oid = p.pronamespace
            WHERE n.nspname = 'public' AND p.proname LIKE 'cloudos\\_%' LOOP
    EXECUTE format('REVOKE EXECUTE ON FUNCTION %s FROM PUBLIC', f);
  END LOOP;
END $$;
ALTER DEFAULT PRIVILEGES REVOKE EXECUTE ON FUNCTIONS FROM PUBLIC;

-- Nobody but the owner creates objects: not in public (PostgreSQL 15's default, made explicit),
-- not even temporary tables.
REVOKE CREATE ON SCHEMA public FROM PUBLIC;
DO $$ BEGIN EXECUTE format('REVOKE TEMPORARY ON DATABASE %I FROM PUBLIC', current_database()); END $$;

-- radiusd reads no personal data: the table-wide SELECT of 0001 becomes a column list.
REVOKE SELECT ON subscriber FROM cloudos_radius;

{chr(10).join(grants)}
"""


def _downgrade_sql() -> str:
    return """
ALTER DEFAULT PRIVILEGES GRANT EXECUTE ON FUNCTIONS TO PUBLIC;
DO $$
DECLARE f regprocedure;
BEGIN
  FOR f IN SELECT p.oid::regprocedure FROM pg_proc p JOIN pg_namespace n ON n.oid = p.pronamespace
            WHERE n.nspname = 'public' AND p.proname LIKE 'cloudos\\_%' LOOP
    EXECUTE format('GRANT EXECUTE ON FUNCTION %s TO PUBLIC', f);
  END LOOP;
END $$;
DO $$ BEGIN EXECUTE format('GRANT TEMPORARY ON DATABASE %I TO PUBLIC', current_database()); END $$;
GRANT SELECT ON subscriber TO cloudos_radius;
REVOKE EXECUTE ON FUNCTION cloudos_queue_coa(bigint, text, text, text) FROM cloudos_radius;
REVOKE EXECUTE ON FUNCTION cloudos_queue_coa_sessions(text[], text, text, text) FROM cloudos_radius;
REVOKE ALL ON ALL TABLES IN SCHEMA public FROM cloudos_worker;
REVOKE ALL ON ALL FUNCTIONS IN SCHEMA public FROM cloudos_worker;
"""


def upgrade() -> None:
    op.execute(_upgrade_sql())


def downgrade() -> None:
    op.execute(_downgrade_sql())
