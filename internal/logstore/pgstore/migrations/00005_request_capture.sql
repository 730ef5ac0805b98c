-- Each attempt keeps the request it sent: its headers (a JSON object of
-- name to value, the signature shortened; text, not jsonb: it is written
-- once and read whole, never queried, and text takes any value as
-- encoding/json writes it, \u0000 included, which jsonb refuses) and, on
-- a round's first attempt, its body (at most 64 KiB of UTF-8,
-- request_body_truncated when cut). Rows written before this version have
-- NULL there: nothing recorded.
--
-- Each attempt also keeps its destination host, for the statistics per
-- host (Store.Hosts), which read a time window of attempts from partial
-- indexes of each partition in started_at order, without looking up each
-- attempt's round in deliveries: attempts_started (all organizations) and
-- attempts_org_started (one) include every column the statistics need,
-- so that the rows (wide with their bodies) are not read where the
-- visibility map allows an index-only scan (attempts are only ever
-- inserted, and autovacuum marks them); attempts_refused holds only the
-- attempts that sent nothing after a connection error, the only rows
-- read (for their error text, to count those an open circuit refused).
-- Rows written before this version have host '' and are in none of them:
-- the statistics leave them out.
--
-- Adding columns that are NULL or have a constant default rewrites no
-- partition; the indexes are built on every existing partition, under a
-- lock that holds writers for as long as that takes.

-- +goose Up
ALTER TABLE attempts ADD COLUMN request_headers text NULL;
ALTER TABLE attempts ADD COLUMN request_body text NULL;
ALTER TABLE attempts ADD COLUMN request_body_truncated boolean NOT NULL DEFAULT false;
ALTER TABLE attempts ADD COLUMN host text NOT NULL DEFAULT '';
CREATE INDEX attempts_started ON attempts (started_at)
    INCLUDE (host, sent, decision, duration_ms) WHERE host <> '';
CREATE INDEX attempts_org_started ON attempts (org_id, started_at)
    INCLUDE (host, sent, decision, duration_ms) WHERE host <> '';
CREATE INDEX attempts_refused ON attempts (started_at)
    INCLUDE (org_id, host) WHERE host <> '' AND NOT sent AND error_class = 'connection';

-- +goose Down
DROP INDEX attempts_refused;
DROP INDEX attempts_org_started;
DROP INDEX attempts_started;
ALTER TABLE attempts DROP COLUMN host;
ALTER TABLE attempts DROP COLUMN request_body_truncated;
ALTER TABLE attempts DROP COLUMN request_body;
ALTER TABLE attempts DROP COLUMN request_headers;
