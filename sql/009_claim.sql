-- The claim looks at each priority in turn (daemon/store_jobs.c): an
-- index range per priority, however many jobs are parked or scheduled for
-- later.  The priorities are the three it knows; any other would never be
-- claimed, so none can be written.
ALTER TABLE jobs ADD CONSTRAINT jobs_priority_known CHECK (priority BETWEEN 0 AND 2);

-- When nothing is due, the claim also says when the next free job is: the
-- first entry of this index, not a walk over every scheduled job.
CREATE INDEX jobs_next_idx ON jobs (next_attempt_at)
    WHERE claimed_pid IS NULL AND next_attempt_at < 'infinity';
