-- 007: renewals that never storm (acme/schedule.h).
--
-- jobs.priority orders the claim (jobs_due_idx: priority, next_attempt_at,
-- an index scan that stops at the first due row):
--   0  propagation checks and urgent renewals (past their window's end,
--      or asked for with "regzonectl renew")
--   1  everything else: first certificates, records, removals
--   2  renewals inside their window, until their order is made (then 1:
--      an order in flight holds a slot and goes on)
-- The cert steps say which in their step data ("prio"); store_job_finish()
-- writes it with every step.
UPDATE jobs SET priority = 2 WHERE kind = 'cert' AND step = 'renew' AND priority = 1;
COMMENT ON COLUMN jobs.priority IS
    '0 checks and urgent renewals, 1 the rest (first certificates), 2 renewals in their window';

-- The orders not made yet (step order): the budget asks whether first
-- certificates wait before a renewal may use the reserve, and status counts
-- the orders waiting for the budget.  Few rows, whatever the number of
-- certificates.
CREATE INDEX jobs_ordering_idx ON jobs (priority) WHERE kind = 'cert' AND step = 'order';

-- The budget's units taken before the CA was asked and not yet given an
-- order (a crash in between leaves one: it counts until it ages out).
COMMENT ON COLUMN acme_events.order_id IS
    'the order; NULL for a unit of the budget taken while the order is being made';
