"""Operators with roles, and tenants isolated by row-level security.

Operators. Each person who runs the `cloudos` CLI logs in as a PostgreSQL login role of
their own (SCRAM), a member of one group role:

  cloudos_admin         the platform operator (no tenant): every tenant, tenants and
                        operators themselves (0001's grants; `db create-login admin`
                        logins are platform operators too).
  cloudos_op_admin      all of one tenant: subscribers, plans, NAS, billing, privacy.
  cloudos_op_billing    invoices, payments, the ledger; reads subscribers (no CNIC, no
                        password); suspends and resumes as dunning and payments do.
  cloudos_op_support    reads subscribers with the CNIC masked (and their balance and
                        invoices), suspends and resumes, sessions and disconnects,
                        explain, support tickets; no plan, price or billing change.
  cloudos_op_auditor    reads everything of its tenant but secrets and the CNIC, and
                        the tenant's audit rows; changes nothing.

The four tenant groups are members of cloudos_operator, which carries the tenant policy.
``operator`` maps each tenant operator's login to its tenant and role. Logins are made,
re-roled and dropped only through the SECURITY DEFINER functions below (EXECUTE for
cloudos_admin), which touch no role that is not an operator of this database.

Row-level security. Every table with a tenant_id (and tenant itself) has ENABLE and FORCE
ROW LEVEL SECURITY and three permissive policies:

  tenant_operator  TO cloudos_operator: the rows of the login's own tenant,
                   cloudos_tenant(), read from ``operator`` by session_user, so no
                   setting a session can change widens it.
  platform         TO cloudos_admin: every tenant, or only the one the transaction
                   names with set_config('cloudos.tenant', id, true) (the CLI does,
                   once it has resolved --tenant: a bug further on cannot reach
                   another tenant). Transaction-local, so safe behind a
                   transaction-pooling PgBouncer.
  cross_tenant     TO cloudos_radius, cloudos_worker, cloudos_metrics: every row.
                   radiusd answers every tenant's NAS, the worker sends every
                   tenant's CoA; what they may touch is bounded by their grants (0012,
                   0014), not by tenant.

``cloudos_isolate(table, key, programs)`` makes the three for a table; a later migration's
tenant table calls it (with the programs that read it, if any).

The schema owner (who runs migrations and owns the SECURITY DEFINER functions) must
bypass row-level security: a superuser, or a role with BYPASSRLS. The migration refuses
to run otherwise, since FORCE would hide every row from the owner's own functions.

Columns added to subscriber or nas by a later migration must be granted to the
restricted groups there: their SELECT is per column.

Revision ID: 0018
Revises: 0017
"""

from alembic import op

revision = "0018"
down_revision = "0017"
branch_labels = None
depends_on = None

#: Every table scoped by tenant_id (tenant itself is scoped by id).
TENANT_TABLES = ("session_open", "plan", "subscriber", "usage_counter", "auth_log", "coa_outbox", "data_request",
                 "invoice", "invoice_line", "invoice_tax", "ledger_entry", "nas", "notification", "number_series",
                 "payment", "payment_allocation", "privacy_holiday", "session", "support_ticket", "tax_rule",
                 "admin_audit")
GROUPS = ("cloudos_op_admin", "cloudos_op_billing", "cloudos_op_support", "cloudos_op_auditor")
#: Columns no restricted group reads: secrets, and the CNIC (shown masked).
HIDDEN = {"subscriber": ("password_enc", "cnic_enc"), "nas": ("secret_enc",)}
#: Functions every operator group may call (pure, or invoker-rights readers bounded by RLS).
READ_FUNCTIONS = ("cloudos_period(text, text, timestamptz, timestamptz)",
                  "cloudos_stale_cutoff(timestamptz, integer)",
                  "cloudos_lapse(subscriber, plan, usage_counter, timestamptz)",
                  "cloudos_coa_policy_reason(text)")
COA_FUNCTIONS = ("cloudos_queue_coa(bigint, text, text, text)",
                 "cloudos_queue_coa_sessions(text[], text, text, text)",
                 "cloudos_queue_coa_release(bigint, timestamptz, text)")

#: Table privileges per group. ``(cols)`` after a table: SELECT on every column but HIDDEN's.
TABLES = {
    "cloudos_op_admin": (
        "SELECT, INSERT, UPDATE, DELETE ON session_open, plan, subscriber, usage_counter, coa_outbox, nas, "
        "notification, session, support_ticket, tax_rule",
        "SELECT ON auth_log, retention_setting",
        "SELECT, INSERT, UPDATE ON data_request, invoice, number_series",
        "SELECT, INSERT ON invoice_line, invoice_tax, ledger_entry, payment, payment_allocation, admin_audit",
        "SELECT, INSERT, DELETE ON privacy_holiday",
        "SELECT, UPDATE ON tenant",
    ),
    "cloudos_op_billing": (
        "SELECT ON tenant, plan, tax_rule, usage_counter, session_open, privacy_holiday",
        "SELECT (cols) ON subscriber, nas",
        "UPDATE (status, status_reason, expires_at, updated_at) ON subscriber",
        "SELECT, INSERT ON invoice_line, invoice_tax, ledger_entry, payment, payment_allocation, notification, "
        "admin_audit",
        # A resume (a payment's) cancels the suspension's queued Disconnect.
        "SELECT, INSERT, UPDATE ON invoice, number_series, coa_outbox",
    ),
    "cloudos_op_support": (
        # A subscriber's balance and invoices are what a caller asks support about: read, not changed.
        "SELECT ON tenant, plan, usage_counter, session_open, session, auth_log, data_request, ledger_entry, "
        "invoice, invoice_line, invoice_tax, payment, payment_allocation",
        "SELECT (cols) ON subscriber, nas",
        "UPDATE (status, status_reason, updated_at, locked_until) ON subscriber",
        "SELECT, INSERT ON admin_audit",
        "SELECT, INSERT, UPDATE ON support_ticket, coa_outbox",
    ),
    "cloudos_op_auditor": (
        "SELECT ON tenant, plan, usage_counter, session_open, session, auth_log, coa_outbox, data_request, invoice, "
        "invoice_line, invoice_tax, ledger_entry, notification, number_series, payment, payment_allocation, "
        "privacy_holiday, support_ticket, tax_rule, admin_audit, retention_setting",
        "SELECT (cols) ON subscriber, nas",
    ),
}
FUNCTIONS = {
    "cloudos_op_admin": READ_FUNCTIONS + COA_FUNCTIONS + ("cloudos_archive_session(session_open)",),
    "cloudos_op_billing": READ_FUNCTIONS + COA_FUNCTIONS,
    "cloudos_op_support": READ_FUNCTIONS + COA_FUNCTIONS,
    "cloudos_op_auditor": READ_FUNCTIONS,
}

OPERATORS = r"""
DO $$ BEGIN
  IF NOT EXISTS (SELECT 1 FROM pg_roles WHERE rolname = current_user AND (rolsuper OR rolbypassrls)) THEN
    RAISE EXCEPTION 'the schema owner % does not bypass row-level security: 0018 forces it on every tenant table',
      current_user USING HINT = 'run migrations as a superuser, or ALTER ROLE ' || current_user || ' BYPASSRLS';
  END IF;
  IF NOT EXISTS (SELECT 1 FROM pg_roles WHERE rolname = 'cloudos_operator') THEN
    CREATE ROLE cloudos_operator NOLOGIN;
  END IF;
END $$;
DO $$ DECLARE g text; BEGIN  -- roles are global: another database of the server may have made them
  FOREACH g IN ARRAY ARRAY['cloudos_op_admin', 'cloudos_op_billing', 'cloudos_op_support', 'cloudos_op_auditor'] LOOP
    IF NOT EXISTS (SELECT 1 FROM pg_roles WHERE rolname = g) THEN
      EXECUTE format('CREATE ROLE %I NOLOGIN IN ROLE cloudos_operator', g);
    END IF;
  END LOOP;
END $$;

CREATE TABLE operator (
  login text PRIMARY KEY CHECK (login ~ '^[a-z][a-z0-9_.-]{1,62}$' AND login !~ '^(cloudos|pg)_'),
  tenant_id bigint REFERENCES tenant(id) ON DELETE RESTRICT,
  role text NOT NULL CHECK (role IN ('platform', 'admin', 'billing', 'support', 'auditor')),
  created_at timestamptz NOT NULL DEFAULT now(),
  created_by text NOT NULL DEFAULT session_user,
  CHECK ((role = 'platform') = (tenant_id IS NULL))
);
CREATE INDEX operator_tenant ON operator (tenant_id);
GRANT SELECT ON operator TO cloudos_admin;

-- The tenant of this session's operator login; NULL for any other login.
CREATE FUNCTION cloudos_tenant() RETURNS bigint
  LANGUAGE sql STABLE SECURITY DEFINER SET search_path = pg_catalog, public AS $f$
  SELECT o.tenant_id FROM public.operator o WHERE o.login = session_user AND o.role <> 'platform'
$f$;
-- The tenant the transaction has narrowed a platform operator to, or NULL.
CREATE FUNCTION cloudos_scope() RETURNS bigint
  LANGUAGE sql STABLE SET search_path = pg_catalog AS $f$
  SELECT NULLIF(current_setting('cloudos.tenant', true), '')::bigint
$f$;
-- Who this login is to the CLI: its role and tenant (NULL tenant: the platform).
CREATE FUNCTION cloudos_whoami(OUT login text, OUT role text, OUT tenant_id bigint)
  LANGUAGE sql STABLE SECURITY DEFINER SET search_path = pg_catalog, public AS $f$
  SELECT session_user::text,
         COALESCE(o.role, CASE WHEN pg_has_role(session_user, 'cloudos_admin', 'MEMBER') THEN 'platform' END),
         o.tenant_id
    FROM (SELECT 1) one LEFT JOIN public.operator o ON o.login = session_user
$f$;
-- The newest link of the audit chain, whichever tenant's rows the caller may read.
CREATE FUNCTION cloudos_audit_head() RETURNS text
  LANGUAGE sql STABLE SECURITY DEFINER SET search_path = pg_catalog, public AS $f$
  SELECT hash FROM public.admin_audit ORDER BY id DESC LIMIT 1
$f$;

CREATE FUNCTION cloudos_operator_group(p_role text) RETURNS text
  LANGUAGE sql IMMUTABLE SET search_path = pg_catalog AS $f$
  SELECT CASE p_role WHEN 'platform' THEN 'cloudos_admin' ELSE 'cloudos_op_' || p_role END
$f$;

-- A new operator login: the role (a SCRAM verifier, never a password) joins its group.
CREATE FUNCTION cloudos_operator_add(p_login text, p_tenant bigint, p_role text, p_verifier text) RETURNS void
  LANGUAGE plpgsql SECURITY DEFINER SET search_path = pg_catalog, public AS $f$
BEGIN
  IF p_verifier !~ '^SCRAM-SHA-256\$[0-9]+:[A-Za-z0-9+/=]+\$[A-Za-z0-9+/=]+:[A-Za-z0-9+/=]+$' THEN
    RAISE EXCEPTION 'the password must arrive as a SCRAM-SHA-256 verifier';
  END IF;
  IF EXISTS (SELECT 1 FROM pg_roles WHERE rolname = p_login) THEN
    RAISE EXCEPTION 'a PostgreSQL role named % exists already', p_login
      USING HINT = 'choose another name (operator names are global to the PostgreSQL server)';
  END IF;
  INSERT INTO operator (login, tenant_id, role) VALUES (p_login, p_tenant, p_role);
  EXECUTE format('CREATE ROLE %I LOGIN NOSUPERUSER NOCREATEDB NOCREATEROLE NOREPLICATION NOBYPASSRLS INHERIT '
                 'PASSWORD %L', p_login, p_verifier);
  EXECUTE format('GRANT %I TO %I', cloudos_operator_group(p_role), p_login);
END $f$;

-- Another role for an operator (a platform operator stays one, a tenant operator stays in its tenant).
CREATE FUNCTION cloudos_operator_set_role(p_login text, p_role text) RETURNS text
  LANGUAGE plpgsql SECURITY DEFINER SET search_path = pg_catalog, public AS $f$
DECLARE old text;
BEGIN
  SELECT role INTO old FROM operator WHERE login = p_login FOR UPDATE;
  IF old IS NULL THEN
    RAISE EXCEPTION 'no operator named %', p_login;
  END IF;
  IF (old = 'platform') <> (p_role = 'platform') THEN
    RAISE EXCEPTION 'an operator cannot move between the platform and a tenant'
      USING HINT = 'remove the operator and add it again';
  END IF;
  UPDATE operator SET role = p_role WHERE login = p_login;
  EXECUTE format('REVOKE %I FROM %I', cloudos_operator_group(old), p_login);
  EXECUTE format('GRANT %I TO %I', cloudos_operator_group(p_role), p_login);
  RETURN old;
END $f$;

CREATE FUNCTION cloudos_operator_set_password(p_login text, p_verifier text) RETURNS void
  LANGUAGE plpgsql SECURITY DEFINER SET search_path = pg_catalog, public AS $f$
BEGIN
  IF p_verifier !~ '^SCRAM-SHA-256\$[0-9]+:[A-Za-z0-9+/=]+\$[A-Za-z0-9+/=]+:[A-Za-z0-9+/=]+$' THEN
    RAISE EXCEPTION 'the password must arrive as a SCRAM-SHA-256 verifier';
  END IF;
  PERFORM 1 FROM operator WHERE login = p_login FOR UPDATE;
  IF NOT FOUND THEN
    RAISE EXCEPTION 'no operator named %', p_login;
  END IF;
  EXECUTE format('ALTER ROLE %I PASSWORD %L', p_login, p_verifier);
END $f$;

-- The operator's login goes, and so do its open connections: removal takes effect now.
CREATE FUNCTION cloudos_operator_remove(p_login text) RETURNS integer
  LANGUAGE plpgsql SECURITY DEFINER SET search_path = pg_catalog, public AS $f$
DECLARE
  ended integer := 0;
  victim integer;
BEGIN
  DELETE FROM operator WHERE login = p_login;
  IF NOT FOUND THEN
    RAISE EXCEPTION 'no operator named %', p_login;
  END IF;
  IF p_login = session_user THEN
    RAISE EXCEPTION 'an operator cannot remove itself';
  END IF;
  EXECUTE format('ALTER ROLE %I NOLOGIN', p_login);
  -- The pids first, then the signals: a WHERE does not promise the order it evaluates in.
  FOR victim IN SELECT pid FROM pg_stat_activity WHERE usename = p_login AND pid <> pg_backend_pid() LOOP
    IF pg_terminate_backend(victim) THEN
      ended := ended + 1;
    END IF;
  END LOOP;
  EXECUTE format('DROP ROLE %I', p_login);
  RETURN ended;
END $f$;

-- cloudos_lapse() takes the subscriber's whole row, which needs SELECT on every column, the CNIC
-- too: billing, which releases a walled garden when a payment lands, has no SELECT on it. The
-- release now runs with its owner's rights, bounded by hand to the caller's tenant (an operator's
-- own, or the one a platform transaction named).
CREATE OR REPLACE FUNCTION cloudos_queue_coa_release(p_subscriber bigint, p_now timestamp with time zone, p_reason text) RETURNS integer
  LANGUAGE plpgsql SECURITY DEFINER SET search_path = public, pg_temp AS $$
DECLARE
  queued integer;
BEGIN
  WITH target AS (
    SELECT s.id, cloudos_lapse(s, p, u.uc, p_now) AS lapse, p.rate_limit, p.fup_rate_limit, p.address_list
      FROM subscriber s
      JOIN tenant t ON t.id = s.tenant_id
      JOIN plan p ON p.id = s.plan_id
      LEFT JOIN LATERAL (SELECT uc FROM usage_counter uc
                          WHERE uc.subscriber_id = s.id AND uc.period_start <= p_now AND p_now < uc.period_end
                          ORDER BY uc.period_start DESC LIMIT 1) u ON true
     WHERE s.id = p_subscriber AND t.walled_garden_address_list IS NOT NULL
       AND s.tenant_id = COALESCE(cloudos_tenant(), cloudos_scope(), s.tenant_id)),
  q AS (
    INSERT INTO coa_outbox (tenant_id, nas_id, nas_address, acct_unique_id, subscriber_id, kind, reason, attributes)
    SELECT o.tenant_id, o.nas_id, o.nas_address, o.acct_unique_id, o.subscriber_id,
           CASE WHEN x.address_list IS NULL THEN 'disconnect' ELSE 'coa' END, p_reason,
           jsonb_strip_nulls(jsonb_build_object(
             'User-Name', o.username,
             'Acct-Session-Id', o.acct_session_id,
             'Framed-IP-Address', host(o.framed_ip),
             'Mikrotik-Rate-Limit', CASE WHEN x.address_list IS NOT NULL THEN
               CASE WHEN x.lapse = 'quota_exhausted' THEN x.fup_rate_limit ELSE x.rate_limit END END,
             'Mikrotik-Address-List', x.address_list))
      FROM session_open o
      JOIN target x ON x.id = o.subscriber_id
     WHERE o.stopped_at IS NULL AND o.nas_id IS NOT NULL
       AND (x.lapse IS NULL OR (x.lapse = 'quota_exhausted' AND x.fup_rate_limit IS NOT NULL))
    RETURNING 1)
  SELECT count(*) INTO queued FROM q;
  IF queued > 0 THEN
    PERFORM pg_notify('cloudos_coa', p_subscriber::text);
  END IF;
  RETURN queued;
END $$;
"""


def _grants() -> str:
    out: list[str] = []
    for group, lines in TABLES.items():
        for line in lines:
            if "(cols)" in line:
                tables = line.split(" ON ", 1)[1].split(", ")
                for t in tables:
                    out.append(_column_grant(t, group))
            else:
                out.append(f"GRANT {line} TO {group};")
    for group, fs in FUNCTIONS.items():
        out += [f"GRANT EXECUTE ON FUNCTION {f} TO {group};" for f in fs]
    out += [f"GRANT EXECUTE ON FUNCTION {f} TO cloudos_admin;" for f in (
        "cloudos_operator_add(text, bigint, text, text)", "cloudos_operator_set_role(text, text)",
        "cloudos_operator_set_password(text, text)", "cloudos_operator_remove(text)")]
    everyone = "cloudos_admin, cloudos_operator, cloudos_radius, cloudos_worker, cloudos_metrics"
    out += [f"GRANT EXECUTE ON FUNCTION {f} TO {everyone};" for f in (
        "cloudos_tenant()", "cloudos_scope()", "cloudos_whoami()", "cloudos_audit_head()")]
    return "\n".join(out)


def _column_grant(table: str, group: str) -> str:
    hidden = ", ".join(f"'{c}'" for c in HIDDEN[table])
    return f"""DO $$ BEGIN
  EXECUTE (SELECT format('GRANT SELECT (%s) ON {table} TO {group}', string_agg(quote_ident(attname), ', ' ORDER BY attnum))
             FROM pg_attribute WHERE attrelid = '{table}'::regclass AND attnum > 0 AND NOT attisdropped
              AND attname NOT IN ({hidden}));
END $$;"""


#: The three policies of a tenant table, for this migration's tables and every later one: ENABLE and
#: FORCE row-level security on ``p_table``, whose column ``p_key`` names the tenant; ``p_cross``: the
#: program roles that see every tenant's rows (none for a table no program reads).
ISOLATE = r"""
CREATE FUNCTION cloudos_isolate(p_table regclass, p_key text, p_cross text[]) RETURNS void
  LANGUAGE plpgsql SET search_path = pg_catalog, public AS $f$
DECLARE
  mine text := format('%I = (SELECT cloudos_tenant())', p_key);
  scoped text := format('(SELECT cloudos_scope()) IS NULL OR %I = (SELECT cloudos_scope())', p_key);
BEGIN
  EXECUTE format('ALTER TABLE %s ENABLE ROW LEVEL SECURITY, FORCE ROW LEVEL SECURITY', p_table);
  EXECUTE format('CREATE POLICY tenant_operator ON %s TO cloudos_operator USING (%s) WITH CHECK (%s)',
                 p_table, mine, mine);
  EXECUTE format('CREATE POLICY platform ON %s TO cloudos_admin USING (%s) WITH CHECK (%s)', p_table, scoped, scoped);
  IF cardinality(p_cross) > 0 THEN
    EXECUTE format('CREATE POLICY cross_tenant ON %s TO %s USING (true) WITH CHECK (true)', p_table,
                   (SELECT string_agg(quote_ident(r), ', ') FROM unnest(p_cross) AS r));
  END IF;
END $f$;
REVOKE ALL ON FUNCTION cloudos_isolate(regclass, text, text[]) FROM PUBLIC;
"""
PROGRAMS = "ARRAY['cloudos_radius', 'cloudos_worker', 'cloudos_metrics']"


def _policies() -> str:
    out = [f"SELECT cloudos_isolate('{t}', '{'id' if t == 'tenant' else 'tenant_id'}', {PROGRAMS});"
           for t in (*TENANT_TABLES, "tenant")]
    # The platform sees the audit trail whole (its anchors cover all of it); elsewhere a transaction
    # that named a tenant sees only that tenant.
    out += ["ALTER POLICY platform ON admin_audit USING (true) WITH CHECK (true);"]
    return "\n".join(out)


def upgrade() -> None:
    op.execute(OPERATORS)
    op.execute(_grants())
    op.execute(ISOLATE)
    op.execute(_policies())


def downgrade() -> None:
    out: list[str] = []
    for t in (*TENANT_TABLES, "tenant"):
        out += [f"DROP POLICY IF EXISTS {p} ON {t};" for p in ("tenant_operator", "platform", "cross_tenant")]
        out.append(f"ALTER TABLE {t} NO FORCE ROW LEVEL SECURITY, DISABLE ROW LEVEL SECURITY;")
    out.append("""
DO $$ DECLARE r text; BEGIN
  FOR r IN SELECT login FROM operator WHERE role <> 'platform' LOOP EXECUTE format('DROP ROLE IF EXISTS %I', r); END LOOP;
  FOR r IN SELECT login FROM operator WHERE role = 'platform' LOOP EXECUTE format('DROP ROLE IF EXISTS %I', r); END LOOP;
END $$;
ALTER FUNCTION cloudos_queue_coa_release(bigint, timestamptz, text) SECURITY INVOKER RESET search_path;
DROP FUNCTION cloudos_operator_remove(text), cloudos_operator_set_password(text, text),
  cloudos_operator_set_role(text, text), cloudos_operator_add(text, bigint, text, text), cloudos_operator_group(text),
  cloudos_audit_head(), cloudos_whoami(), cloudos_scope(), cloudos_tenant(),
  cloudos_isolate(regclass, text, text[]);
DROP TABLE operator;
""")
    for g in GROUPS:
        out.append(f"REVOKE ALL ON ALL TABLES IN SCHEMA public FROM {g};")
        out.append(f"REVOKE ALL ON ALL FUNCTIONS IN SCHEMA public FROM {g};")
    op.execute("\n".join(out))
