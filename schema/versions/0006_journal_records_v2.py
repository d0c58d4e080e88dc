"""cloudos_account_journal() reads journal records by name (version 2), and version 1 still.

A journal record was a JSON array in the order of AcctRequest's fields, read here by
position (``r->>2 … r->>14``): reordering a dataclass field would have silently
broken this function and every journal still on disk. Version 2 is a JSON object
with a short key for each of the request's fields (rlm_cloudos.store.journal_record,
which defines the format; a test holds the keys read here equal to the keys written
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
      r := jsonb_build_object('v', 2, 'rcv', r->0, 'st', r->2, 'u', r->3, 'n', r->4, 'id', r->5, 'sid', r->6,
                              'in', r->7, 'out', r->8, 't', r->9, 'd', r->10, 'ip', r->11, 'mac', r->12,
                              'port', r->13, 'cause', r->14);
    ELSIF (r->>'v') IS DISTINCT FROM '2' THEN
      RAISE EXCEPTION 'accounting journal record % has version %, not 2', i, coalesce(r->>'v', 'none')
        USING ERRCODE = 'invalid_parameter_value';
    END IF;
    -- Version 2: rlm_cloudos.store.journal_record.KEYS names each key.
    SELECT * INTO a FROM cloudos_account(
      (r->>'n')::inet, r->>'id', r->>'st', r->>'u', r->>'sid',
      now() - make_interval(secs => (r->>'d')::double precision + greatest(0, p_now - (r->>'rcv')::double precision)),
      (r->>'in')::bigint, (r->>'out')::bigint, (r->>'t')::bigint,
      (r->>'ip')::inet, r->>'mac', r->>'port', r->>'cause') AS x;
    IF a.result <> 'ok' OR (a.feed IS NOT NULL AND r->>'st' IN ('Interim-Update', 'Alive')) THEN
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
