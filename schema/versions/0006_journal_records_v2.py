"""cloudos_account_journal() reads journal records by name (version 2), and version 1 still.

A journal record was a JSON array in the order of AcctRequest's fields, read here by
position (``r->>2 … r->>14``): reordering a dataclass field would have silently
broken this function and every journal still on disk. Version 2 is a JSON object
whose keys are the request's field names (rlm_cloudos.store.journal_record, which
defines the format; a test holds the keys read here equal to the keys written
there). Arrays are version 1: a journal written before this upgrade is applied as
it was. An object of any other version is refused, so the drainer replays the
batch record by record and logs the one it cannot read.

Revision ID: 0006
Revises: 0005
"""

from alembic import op

revision = "0006"
down_revision = "0005"
branch_labels = None
depends_on = None

UPGRADE = r"""
CREATE OR REPLACE FUNCTION cloudos_account_journal(p_records jsonb, p_now double precision)
RETURNS TABLE (n integer, result text, feed text)
LANGUAGE plpgsql SET enable_seqscan = off AS $$
DECLARE
  r jsonb;
  a record;
  i integer := 0;
BEGIN
  FOR r IN SELECT value FROM jsonb_array_elements(p_records) LOOP
    i := i + 1;
    IF jsonb_typeof(r) = 'array' THEN
      -- Version 1: [received, lane, status, user_name, nas_address, acct_unique_id,
      -- acct_session_id, input_octets, output_octets, session_time, delay, framed_ip,
      -- calling_station_id, nas_port_id, terminate_cause]
      r := jsonb_build_object('v', 2, 'received', r->0, 'status', r->2, 'user_name', r->3,
                              'nas_address', r->4, 'acct_unique_id', r->5, 'acct_session_id', r->6,
                              'input_octets', r->7, 'output_octets', r->8, 'session_time', r->9,
                              'delay', r->10, 'framed_ip', r->11, 'calling_station_id', r->12,
                              'nas_port_id', r->13, 'terminate_cause', r->14);
    ELSIF (r->>'v') IS DISTINCT FROM '2' THEN
      RAISE EXCEPTION 'accounting journal record % has version %, not 2', i, coalesce(r->>'v', 'none')
        USING ERRCODE = 'invalid_parameter_value';
    END IF;
    SELECT * INTO a FROM cloudos_account(
      (r->>'nas_address')::inet, r->>'acct_unique_id', r->>'status', r->>'user_name', r->>'acct_session_id',
      now() - make_interval(secs => (r->>'delay')::double precision
                                    + greatest(0, p_now - (r->>'received')::double precision)),
      (r->>'input_octets')::bigint, (r->>'output_octets')::bigint, (r->>'session_time')::bigint,
      (r->>'framed_ip')::inet, r->>'calling_station_id', r->>'nas_port_id', r->>'terminate_cause') AS x;
    IF a.result <> 'ok' OR (a.feed IS NOT NULL AND r->>'status' IN ('Interim-Update', 'Alive')) THEN
      n := i;
      result := a.result;
      feed := a.feed;
      RETURN NEXT;
    END IF;
  END LOOP;
END $$;
"""


def upgrade() -> None:
    op.execute(UPGRADE)


def downgrade() -> None:
    raise NotImplementedError("schema downgrades are not supported: restore the daily backup instead")
