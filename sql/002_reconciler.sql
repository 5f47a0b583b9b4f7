-- 002: what the reconciler needs to survive crashes and two daemons, and
-- the billing views.

-- A claimed job names the PostgreSQL backend of the worker holding it: when
-- that backend is gone (the daemon died), the claim is void.
ALTER TABLE jobs ADD COLUMN claimed_pid integer;
ALTER TABLE jobs ADD COLUMN first_attempt_at timestamptz;
-- Checks of propagation (cheap, no Knot transaction) go before publications,
-- so that workers not holding knotd's control socket keep verifying.
ALTER TABLE jobs ADD COLUMN priority smallint NOT NULL DEFAULT 1;
DROP INDEX jobs_due_idx;
CREATE INDEX jobs_due_idx ON jobs (priority, next_attempt_at) WHERE claimed_pid IS NULL;

-- Ledger rows are written as 'pending' inside the Knot transaction, before
-- its commit, and become 'live' after it: a crash in between leaves a row
-- that says "maybe ours", which the next run settles.
ALTER TABLE published_records ADD COLUMN state text NOT NULL DEFAULT 'live'
    CHECK (state IN ('pending', 'live'));

-- Intervals a service was active, kept by a trigger on services.active.
CREATE TABLE service_periods (
    id          bigserial PRIMARY KEY,
    domain      text NOT NULL,
    service     text NOT NULL,
    started_at  timestamptz NOT NULL,
    ended_at    timestamptz,
    FOREIGN KEY (domain, service) REFERENCES services (domain, service)
);
CREATE UNIQUE INDEX service_periods_open_idx ON service_periods (domain, service)
    WHERE ended_at IS NULL;

-- active_since is set before the row is written; the period rows after it,
-- since they refer to the services row.
CREATE FUNCTION services_active_since() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF NEW.active AND (TG_OP = 'INSERT' OR NOT OLD.active) THEN
        NEW.active_since := now();
    ELSIF NOT NEW.active THEN
        NEW.active_since := NULL;
    END IF;
    RETURN NEW;
END $$;

CREATE FUNCTION services_active_period() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF NEW.active AND (TG_OP = 'INSERT' OR NOT OLD.active) THEN
        INSERT INTO service_periods (domain, service, started_at)
            VALUES (NEW.domain, NEW.service, now());
    ELSIF NOT NEW.active AND TG_OP = 'UPDATE' AND OLD.active THEN
        UPDATE service_periods SET ended_at = now()
            WHERE domain = NEW.domain AND service = NEW.service AND ended_at IS NULL;
    END IF;
    RETURN NULL;
END $$;

CREATE TRIGGER services_active_since BEFORE INSERT OR UPDATE OF active ON services
    FOR EACH ROW EXECUTE FUNCTION services_active_since();
CREATE TRIGGER services_active_period AFTER INSERT OR UPDATE OF active ON services
    FOR EACH ROW EXECUTE FUNCTION services_active_period();

CREATE VIEW billing_service_status AS
    SELECT domain, service, desired, active, active_since, updated_at
    FROM services;

CREATE VIEW billing_service_periods AS
    SELECT domain, service, started_at, ended_at,
           coalesce(ended_at, now()) - started_at AS duration
    FROM service_periods;

-- Billing reads the two views and nothing else.  Creating a role needs
-- CREATEROLE: without it the views still exist and ops grant by hand.
DO $$
BEGIN
    IF NOT EXISTS (SELECT 1 FROM pg_roles WHERE rolname = 'regzone_billing') THEN
        CREATE ROLE regzone_billing NOLOGIN;
    END IF;
    REVOKE ALL ON ALL TABLES IN SCHEMA public FROM regzone_billing;
    GRANT USAGE ON SCHEMA public TO regzone_billing;
    GRANT SELECT ON billing_service_status, billing_service_periods TO regzone_billing;
EXCEPTION WHEN insufficient_privilege THEN
    RAISE NOTICE 'regzone_billing not created (no CREATEROLE): grant SELECT on the billing views by hand';
END $$;
