-- 004: the Knot transactions regzone opens, recorded before zone-begin.
--
-- knotd keeps one transaction per zone and says nothing about who opened
-- it.  A writer records its intent here (its PostgreSQL session, which
-- dies with the process) before zone-begin and deletes the row after the
-- commit or abort.  A transaction found open on a zone may be aborted by
-- regzone only when a row of a session that is gone names that zone AND
-- the transaction holds nothing but records of regzone's ledger: anything
-- else (an operator's knotc zone-begin, with or without staged changes) is
-- waited for, however long it stays open.
CREATE TABLE knot_txns (
    id            bigserial PRIMARY KEY,
    zone          text NOT NULL,
    backend_pid   integer NOT NULL,
    backend_start timestamptz,
    worker        text NOT NULL,
    job_id        bigint,
    begun_at      timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX knot_txns_zone_idx ON knot_txns (zone);
-- Jobs count how often they were claimed (a job that waits is not polled).
ALTER TABLE jobs ADD COLUMN claims bigint NOT NULL DEFAULT 0;
-- A step that waits for something outside regzone (a zone busy with an
-- operator's transaction) says so in the audit trail.
ALTER TABLE audit DROP CONSTRAINT audit_kind_check;
ALTER TABLE audit ADD CONSTRAINT audit_kind_check CHECK (kind IN ('event', 'step',
    'record_added', 'record_removed', 'error', 'acme', 'hook', 'state', 'wait'));
