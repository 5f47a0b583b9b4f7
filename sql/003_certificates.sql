-- 003: what the cert job needs.
--
-- A cert job (jobs.kind = 'cert') drives one order at a time per
-- (domain, service); its step data (jobs.state) names the acme_orders row,
-- whose order URL is stored as soon as the CA created it, so that a restart
-- resumes the same order instead of making a new one.

-- The order's progress as the job saw it (authorizations, challenge
-- values, finalize and certificate URLs), and why it was made.
ALTER TABLE acme_orders ADD COLUMN job_state jsonb NOT NULL DEFAULT '{}'::jsonb;
ALTER TABLE acme_orders ADD COLUMN reason text NOT NULL DEFAULT 'issue'
    CHECK (reason IN ('issue', 'renew'));
ALTER TABLE acme_orders ADD COLUMN finished_at timestamptz;
CREATE INDEX acme_orders_domain_idx ON acme_orders (domain, service, created_at);

-- Where the certificate's key and chain were written, and the hook's last
-- run for it.
ALTER TABLE certificates ADD COLUMN key_path text;
ALTER TABLE certificates ADD COLUMN chain_path text;
ALTER TABLE certificates ADD COLUMN key_type text;
ALTER TABLE certificates ADD COLUMN hook_status integer;
ALTER TABLE certificates ADD COLUMN hook_at timestamptz;
CREATE UNIQUE INDEX certificates_serial_idx ON certificates (serial, issuer);

-- The rate-limit budget's history (acme/budget.h): every order the CA
-- accepted, every certificate issued and every validation that failed,
-- per name and registered domain, with its time.  The budget is a pure
-- function over these rows; nothing here is ever updated.
CREATE TABLE acme_events (
    id          bigserial PRIMARY KEY,
    at          timestamptz NOT NULL DEFAULT now(),
    kind        text NOT NULL
                CHECK (kind IN ('order_created', 'cert_issued', 'validation_failed')),
    account     text,                         -- the account URL (kid), when known
    domain      text NOT NULL,                -- the service's domain
    reg_domain  text NOT NULL,                -- registered domain of the names
    names       text[] NOT NULL,              -- the order's / certificate's names
    name        text,                         -- validation_failed: the identifier
    order_id    bigint REFERENCES acme_orders (id)
);
CREATE INDEX acme_events_at_idx ON acme_events (at);
CREATE INDEX acme_events_reg_domain_idx ON acme_events (reg_domain, at);

-- The ACME account regzone uses, per directory URL: the account URL is
-- looked up once and kept.
CREATE TABLE acme_accounts (
    directory    text PRIMARY KEY,
    account_url  text NOT NULL,
    created_at   timestamptz NOT NULL DEFAULT now()
);

-- A renew request is an event like enable/disable (events.action already
-- allows 'renew'); the cert job's steps.
COMMENT ON COLUMN jobs.step IS
    'dns: publish|verify|remove|verify_removed; '
    'cert: order|publish|verify|respond|poll|finalize|download|cleanup|verify_clean|deploy|'
    'renew|remove';
