-- 001: regzone's core schema.
-- Events change desired state only; jobs carry the reconciler's work; the
-- ledger (published_records) says exactly what regzone added to a zone.

CREATE TABLE events (
    id           text PRIMARY KEY,            -- the publisher's event id
    received_at  timestamptz NOT NULL DEFAULT now(),
    action       text NOT NULL CHECK (action IN ('enable', 'disable', 'renew', 'status', 'retry')),
    service      text NOT NULL,
    domain       text NOT NULL,
    profile      text,
    params       jsonb NOT NULL DEFAULT '{}'::jsonb,
    body_sha256  text NOT NULL,               -- same id + other body is refused
    reply        text NOT NULL                -- the first reply, byte for byte
);
CREATE INDEX events_domain_idx ON events (domain, received_at);

CREATE TABLE services (
    domain        text NOT NULL,
    service       text NOT NULL,
    zone          text NOT NULL,              -- the Knot zone holding the records
    profile       text NOT NULL,
    params        jsonb NOT NULL DEFAULT '{}'::jsonb,
    desired       text NOT NULL CHECK (desired IN ('enabled', 'disabled')),
    generation    bigint NOT NULL DEFAULT 1,  -- bumped by every desired change
    dns           text NOT NULL DEFAULT 'pending'
                  CHECK (dns IN ('pending', 'published', 'conflict', 'removing', 'removed', 'error')),
    cert_state    text NOT NULL DEFAULT 'none'
                  CHECK (cert_state IN ('none', 'ordering', 'issued', 'renewing', 'failed')),
    active        boolean NOT NULL DEFAULT false,
    active_since  timestamptz,
    last_error    text,
    created_at    timestamptz NOT NULL DEFAULT now(),
    updated_at    timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (domain, service)
);
CREATE INDEX services_dns_idx ON services (dns);

CREATE TABLE jobs (
    id               bigserial PRIMARY KEY,
    domain           text NOT NULL,
    service          text NOT NULL,
    kind             text NOT NULL CHECK (kind IN ('dns', 'cert')),
    step             text NOT NULL,
    generation       bigint NOT NULL,         -- the services.generation it works toward
    attempts         integer NOT NULL DEFAULT 0,
    next_attempt_at  timestamptz NOT NULL DEFAULT now(),
    claimed_by       text,                    -- worker id while a step runs
    claimed_at       timestamptz,
    last_error       text,
    state            jsonb NOT NULL DEFAULT '{}'::jsonb,  -- step data (order URL, ...)
    created_at       timestamptz NOT NULL DEFAULT now(),
    updated_at       timestamptz NOT NULL DEFAULT now(),
    UNIQUE (domain, service, kind),
    FOREIGN KEY (domain, service) REFERENCES services (domain, service)
);
CREATE INDEX jobs_due_idx ON jobs (next_attempt_at) WHERE claimed_by IS NULL;

-- The ledger: every record regzone put into a zone, until it took it out.
CREATE TABLE published_records (
    id          bigserial PRIMARY KEY,
    domain      text NOT NULL,
    service     text NOT NULL,
    zone        text NOT NULL,
    owner       text NOT NULL,                -- FQDN, lowercase, trailing dot
    ttl         integer NOT NULL CHECK (ttl > 0),
    rtype       text NOT NULL,
    rdata       text NOT NULL,                -- presentation format as Knot prints it
    purpose     text NOT NULL DEFAULT 'service' CHECK (purpose IN ('service', 'acme')),
    added_at    timestamptz NOT NULL DEFAULT now(),
    removed_at  timestamptz,
    FOREIGN KEY (domain, service) REFERENCES services (domain, service)
);
CREATE UNIQUE INDEX published_records_live_idx
    ON published_records (zone, owner, rtype, rdata) WHERE removed_at IS NULL;
-- What a domain has in the zones now (the ledger read by every step).
CREATE INDEX published_records_domain_idx ON published_records (domain, service)
    WHERE removed_at IS NULL;
CREATE INDEX published_records_history_idx ON published_records (domain, added_at);

CREATE TABLE acme_orders (
    id           bigserial PRIMARY KEY,
    domain       text NOT NULL,
    service      text NOT NULL,
    order_url    text UNIQUE,                 -- set once the CA created it
    names        text[] NOT NULL,
    status       text NOT NULL DEFAULT 'new'
                 CHECK (status IN ('new', 'pending', 'ready', 'processing', 'valid', 'invalid', 'abandoned')),
    replaces     text,                        -- ARI certificate id of the renewed one
    problem      jsonb,                       -- the CA's problem document
    created_at   timestamptz NOT NULL DEFAULT now(),
    updated_at   timestamptz NOT NULL DEFAULT now(),
    FOREIGN KEY (domain, service) REFERENCES services (domain, service)
);
CREATE INDEX acme_orders_created_idx ON acme_orders (created_at);

CREATE TABLE certificates (
    id           bigserial PRIMARY KEY,
    domain       text NOT NULL,
    service      text NOT NULL,
    order_id     bigint REFERENCES acme_orders (id),
    serial       text NOT NULL,
    issuer       text NOT NULL,
    names        text[] NOT NULL,
    profile      text NOT NULL,
    not_before   timestamptz NOT NULL,
    not_after    timestamptz NOT NULL,
    chain_pem    text NOT NULL,               -- public material only; keys stay on disk
    ari_cert_id  text,
    renew_after  timestamptz,
    deployed_at  timestamptz,
    revoked_at   timestamptz,
    created_at   timestamptz NOT NULL DEFAULT now(),
    FOREIGN KEY (domain, service) REFERENCES services (domain, service)
);
CREATE INDEX certificates_domain_idx ON certificates (domain, service, not_after DESC);

-- The audit trail ops read with "regzonectl logs".
CREATE TABLE audit (
    id        bigserial PRIMARY KEY,
    at        timestamptz NOT NULL DEFAULT clock_timestamp(),
    domain    text NOT NULL,
    service   text,
    event_id  text,
    kind      text NOT NULL CHECK (kind IN ('event', 'step', 'record_added', 'record_removed',
                                            'error', 'acme', 'hook', 'state')),
    message   text NOT NULL,
    detail    jsonb
);
CREATE INDEX audit_domain_idx ON audit (domain, at);
