-- Searches filtered by state or status class read an index in page order
-- instead of walking every round of the organization: the state index
-- gains the rest of the page order, and the status class (status_code /
-- 100: 0 for no response, 2 for 2xx, ...) becomes a column with its own
-- index.

-- +goose Up
DROP INDEX IF EXISTS deliveries_org_state;
CREATE INDEX deliveries_org_state ON deliveries (org_id, state, queued_at DESC, event_id DESC, replay DESC);
ALTER TABLE deliveries ADD COLUMN status_class smallint GENERATED ALWAYS AS (status_code / 100) STORED;
CREATE INDEX deliveries_org_class ON deliveries (org_id, status_class, queued_at DESC, event_id DESC, replay DESC);

-- +goose Down
DROP INDEX deliveries_org_class;
ALTER TABLE deliveries DROP COLUMN status_class;
DROP INDEX deliveries_org_state;
CREATE INDEX deliveries_org_state ON deliveries (org_id, state, queued_at DESC);
