"""cloudos_account_journal(): a batch of accounting journal records as they are on disk.

rlm_cloudos's drainer (rlm_cloudos.store.journal) used to decode each journal line
in Python and hand cloudos_account_many() thirteen arrays: about 20 µs of Python per
packet, under the GIL every radiusd lane needs. It now sends the lines themselves,
joined into one JSON array, and PostgreSQL takes them apart.

A record is ``[received, lane, status, user, nas address, unique id, session id,
input, output, time, delay, framed ip, calling station, nas port, cause]``
(``rlm_cloudos.store.journal.encode``). ``received`` is the radiusd host's clock when
the request came in, and ``p_now`` the same clock now: the time a record spent in
the journal is added to its Acct-Delay-Time, so the event is dated when it happened,
whatever the skew between the radiusd host and this one.

Returns a row only for what the drainer must act on: a result other than ok (to log
it), and an interim's feed (to apply to its own authorize cache; starts, stops and
quota crossings reach every radiusd by NOTIFY anyway).

Revision ID: 0005
Revises: 0004
"""

from alembic import op

revision = "0005"
down_revision = "0004"
branch_labels = None
depends_on = None

UPGRADE = r"""
CREATE FUNCTION cloudos_account_journal(p_records jsonb, p_now double precision)
RETURNS TABLE (n integer, result text, feed text)
LANGUAGE plpgsql SET enable_seqscan = off AS $$
DECLARE
  r jsonb;
  a record;
  i integer := 0;
BEGIN
  FOR r IN SELECT value FROM jsonb_array_elements(p_records) LOOP
    i := i + 1;
    SELECT * INTO a FROM cloudos_account(
      (r->>4)::inet, r->>5, r->>2, r->>3, r->>6,
      now() - make_interval(secs => (r->>10)::double precision + greatest(0, p_now - (r->>0)::double precision)),
      (r->>7)::bigint, (r->>8)::bigint, (r->>9)::bigint, (r->>11)::inet, r->>12, r->>13, r->>14) AS x;
    IF a.result <> 'ok' OR (a.feed IS NOT NULL AND r->>2 IN ('Interim-Update', 'Alive')) THEN
      n := i;
      result := a.result;
      feed := a.feed;
      RETURN NEXT;
    END IF;
  END LOOP;
END $$;

GRANT EXECUTE ON FUNCTION cloudos_account_journal(jsonb, double precision) TO cloudos_radius;

-- Replaced by the above; nothing calls it any more.
DROP FUNCTION cloudos_account_many(inet[], text[], text[], text[], text[], integer[], bigint[], bigint[], bigint[],
                                   inet[], text[], text[], text[]);
"""


def upgrade() -> None:
    op.execute(UPGRADE)


def downgrade() -> None:
    raise NotImplementedError("schema downgrades are not supported: restore the daily backup instead")
