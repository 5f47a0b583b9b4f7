-- 005: when the desired state of a service last changed (the request that
-- bumped its generation), so that the time from a request to its effect
-- (records published, certificate in place) can be measured and shown.
ALTER TABLE services ADD COLUMN desired_at timestamptz NOT NULL DEFAULT now();
UPDATE services SET desired_at = updated_at;
