-- 008: what the retention thread (daemon/retention.c) needs to trim the
-- tables that only grow, a batch at a time, without reading a whole table.
--
-- events, audit and acme_events are walked in (time, id) order, which
-- finds exactly the old rows (events' ids are the publishers', and rows may
-- come late or be backdated).  An index on an ever-growing timestamp
-- costs an insert at its right edge.  certificates and acme_orders, few
-- and written in time order, are walked by their primary key.
CREATE INDEX events_received_idx ON events (received_at, id);
CREATE INDEX audit_at_idx ON audit (at, id);
-- (at, id) serves the budget's "at > now() - window" as (at) did.
CREATE INDEX acme_events_at_id_idx ON acme_events (at, id);
DROP INDEX acme_events_at_idx;

-- Deleting an order checks the rows that refer to it (the foreign keys of
-- certificates and acme_events): without these, every deleted order would
-- read both tables whole.
CREATE INDEX certificates_order_idx ON certificates (order_id) WHERE order_id IS NOT NULL;
CREATE INDEX acme_events_order_idx ON acme_events (order_id) WHERE order_id IS NOT NULL;
