"""CoA enforcement that does not give up: the policy a session is held to, in SQL.

A quota crossing was enforced once (cloudos_account queued a CoA or Disconnect)
and a suspend once (the CLI queued a Disconnect for the sessions open at that
moment); the worker gave up after five sends. Now `cloudos worker` keeps at it:

* cloudos_lapse(): why a subscriber is out of policy at an instant, as authorize
  decides it (rlm_cloudos.policy.access): terminated, suspended, expired, or over
  a quota of the plan in this period's usage_counter row. NULL: within policy.
* cloudos_coa_moot(): each round, pending requests whose session has closed, or
  whose subscriber is back within policy (resumed, renewed, quota reset, plan
  changed), are settled as 'cancelled' with why. An 'admin' request (a Disconnect
  an operator asked for) stops only when the session closes.
* cloudos_coa_sweep(): open sessions that authorize would not have let in (a login
  that raced a suspend, or a crossing) and that no request is pending for, nor any
  Disconnect was ever queued for, get a Disconnect. Under a walled garden a
  suspended or expired subscriber's new session is let in, so those are left; an
  over-quota subscriber is left when the plan has a FUP rate (the login got it).
  With p_since, only sessions that started since then (session_open_started, a
  range scan of the few recent ones: the worker runs this every 2 s); without,
  every open session (the worker does that once a minute: 65 ms for 20,000).
  The subscriber, plan and this period's counter row are primary-key look-ups,
  and the "nothing queued yet" test uses coa_outbox_session.

Revision ID: 0008
Revises: 0007
"""

from alembic import op

revision = "0008"
down_revision = "0007"
branch_labels = None
depends_on = None

UPGRADE = r"""
ALTER TABLE coa_outbox DROP CONSTRAINT coa_outbox_status_check;
ALTER TABLE coa_outbox ADD CONSTRAINT coa_outbox_status_check
  CHECK (status IN ('pending', 'ack', 'nak', 'timeout', 'failed', 'cancelled'));
CREATE INDEX coa_outbox_session ON coa_outbox (acct_unique_id);
-- started_at is never updated, so an interim's update stays HOT.
CREATE INDEX session_open_started ON session_open (started_at) WHERE stopped_at IS NULL;

-- Why a subscriber is out of policy at p_now, or NULL: the order authorize checks in.
-- Over quota is this period's counter (the row whose period holds p_now) against the plan.
CREATE FUNCTION cloudos_lapse(s subscriber, p plan, u usage_counter, p_now timestamptz)
RETURNS text LANGUAGE sql STABLE AS $$
  SELECT CASE
    WHEN s.status = 'terminated' THEN 'terminated'
    WHEN s.status = 'suspended' THEN 'suspended'
    WHEN s.expires_at IS NOT NULL AND p_now >= s.expires_at THEN 'expired'
    WHEN u.subscriber_id IS NOT NULL AND (
            (p.quota_bytes IS NOT NULL AND u.input_octets + u.output_octets >= p.quota_bytes)
         OR (p.quota_download_bytes IS NOT NULL AND u.output_octets >= p.quota_download_bytes)
         OR (p.quota_upload_bytes IS NOT NULL AND u.input_octets >= p.quota_upload_bytes)
         OR (p.time_quota_seconds IS NOT NULL AND u.session_time >= p.time_quota_seconds))
      THEN 'quota_exhausted'
  END
$$;

-- The reasons whose requests stop when the subscriber is back within policy.
CREATE FUNCTION cloudos_coa_policy_reason(p_reason text) RETURNS boolean LANGUAGE sql IMMUTABLE AS $$
  SELECT p_reason IN ('terminated', 'suspended', 'expired', 'quota_exhausted')
$$;

-- Settle pending requests there is no point sending any more; returns how many.
CREATE FUNCTION cloudos_coa_moot(p_now timestamptz) RETURNS integer LANGUAGE plpgsql AS $$
DECLARE
  settled integer;
BEGIN
  WITH pending AS (
    SELECT c.id, c.attempts,
           CASE WHEN o.acct_unique_id IS NULL THEN 'session closed'
                WHEN cloudos_coa_policy_reason(c.reason) AND cloudos_lapse(s, p, u.uc, p_now) IS NULL
                  THEN 'back within policy'
           END AS why
      FROM coa_outbox c
      LEFT JOIN session_open o ON o.acct_unique_id = c.acct_unique_id AND o.stopped_at IS NULL
      LEFT JOIN subscriber s ON s.id = o.subscriber_id
      LEFT JOIN plan p ON p.id = s.plan_id
      LEFT JOIN LATERAL (SELECT uc FROM usage_counter uc
                          WHERE uc.subscriber_id = s.id AND uc.period_start <= p_now AND p_now < uc.period_end
                          ORDER BY uc.period_start DESC LIMIT 1) u ON true
     WHERE c.status = 'pending'
       FOR UPDATE OF c SKIP LOCKED),
  done AS (
    UPDATE coa_outbox c
       SET status = 'cancelled', done_at = now(),
           result = pending.why || ' after ' || pending.attempts || ' attempts'
                    || coalesce(' (last: ' || c.result || ')', '')
      FROM pending
     WHERE c.id = pending.id AND pending.why IS NOT NULL
    RETURNING c.id)
  SELECT count(*) INTO settled FROM done;
  RETURN settled;
END $$;

-- Queue a Disconnect for each open session authorize would not have let in, that no
-- request is pending for and no Disconnect was ever queued for; returns how many.
CREATE FUNCTION cloudos_coa_sweep(p_now timestamptz, p_since timestamptz) RETURNS integer LANGUAGE plpgsql AS $$
DECLARE
  r record;
  queued integer := 0;
BEGIN
  FOR r IN
    SELECT x.lapse, array_agg(x.acct_unique_id) AS ids
      FROM (SELECT o.acct_unique_id, cloudos_lapse(s, p, u.uc, p_now) AS lapse,
                   t.walled_garden_address_list IS NOT NULL AS garden, p.fup_rate_limit IS NOT NULL AS fup
              FROM session_open o
              JOIN subscriber s ON s.id = o.subscriber_id
              JOIN tenant t ON t.id = s.tenant_id
              LEFT JOIN plan p ON p.id = s.plan_id
              LEFT JOIN LATERAL (SELECT uc FROM usage_counter uc
                                  WHERE uc.subscriber_id = s.id AND uc.period_start <= p_now
                                    AND p_now < uc.period_end
                                  ORDER BY uc.period_start DESC LIMIT 1) u ON true
             WHERE o.stopped_at IS NULL AND o.subscriber_id IS NOT NULL AND o.nas_id IS NOT NULL
               AND (p_since IS NULL OR o.started_at >= p_since)
               -- Not while one is pending, nor after a Disconnect the NAS answered; a cancelled one
               -- (the session was closed, or the subscriber was back within policy) does not count:
               -- a reaped session heard from again comes back (0011) and is held to policy again.
               AND NOT EXISTS (SELECT 1 FROM coa_outbox c
                                WHERE c.acct_unique_id = o.acct_unique_id
                                  AND (c.status = 'pending' OR (c.kind = 'disconnect' AND c.status <> 'cancelled')))) x
     WHERE x.lapse = 'terminated'
        OR (x.lapse IN ('suspended', 'expired') AND NOT x.garden)
        OR (x.lapse = 'quota_exhausted' AND NOT x.fup)
     GROUP BY x.lapse
  LOOP
    queued := queued + cloudos_queue_coa_sessions(r.ids, 'disconnect', NULL, r.lapse);
  END LOOP;
  RETURN queued;
END $$;

GRANT EXECUTE ON FUNCTION cloudos_lapse(subscriber, plan, usage_counter, timestamptz) TO cloudos_admin;
GRANT EXECUTE ON FUNCTION cloudos_coa_policy_reason(text) TO cloudos_admin;
GRANT EXECUTE ON FUNCTION cloudos_coa_moot(timestamptz) TO cloudos_admin;
GRANT EXECUTE ON FUNCTION cloudos_coa_sweep(timestamptz, timestamptz) TO cloudos_admin;
"""


def upgrade() -> None:
    op.execute(UPGRADE)


def downgrade() -> None:
    raise NotImplementedError("schema downgrades are not supported: restore the daily backup instead")
