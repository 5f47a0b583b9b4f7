-- 006: the Knot primary that serves a service's zone (knot.primaries; the
-- single knot.socket is the primary 'default'), set at enable: the dns and
-- cert jobs write to that primary and check its servers.
ALTER TABLE services ADD COLUMN knot_primary text NOT NULL DEFAULT 'default'
    CHECK (knot_primary ~ '^[a-z0-9-]{1,32}$');
