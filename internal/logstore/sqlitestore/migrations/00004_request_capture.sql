-- Each attempt keeps the request it sent: its headers (a JSON object of
-- name to value, the signature shortened) and, on a round's first attempt,
-- its body (at most 64 KiB of UTF-8, request_body_truncated when cut).
-- Rows written before this version have NULL there: nothing recorded.
--
-- Each attempt also keeps its destination host, for the statistics per
-- host (Store.Hosts), which read a time window of attempts from partial
-- indexes in started_at order, never from the rows (wide with their
-- bodies) and without looking up each attempt's round in deliveries:
-- attempts_started (all organizations) and attempts_org_started (one)
-- hold every column the statistics need; attempts_refused holds only the
-- attempts that sent nothing after a connection error, the only ones
-- whose error text is read (to count those an open circuit refused). Rows
-- written before this version have host '' and are in none of them: the
-- statistics leave them out.
--
-- Measured with 1,000,000 attempts of 20 organizations and 200 hosts in
-- one day (bodies of 1 KiB): the whole day of every organization took
-- 2.9 s through an index of started_at alone, 1.1 to 1.5 s (most of it
-- grouping by host) through these; one organization's day 290 ms and
-- 40 ms; an hour of every organization 94 ms and 28 ms.

-- +goose Up
ALTER TABLE attempts ADD COLUMN request_headers TEXT NULL;
ALTER TABLE attempts ADD COLUMN request_body TEXT NULL;
ALTER TABLE attempts ADD COLUMN request_body_truncated INTEGER NOT NULL DEFAULT 0;
ALTER TABLE attempts ADD COLUMN host TEXT NOT NULL DEFAULT '';
CREATE INDEX attempts_started ON attempts (started_at, host, sent, decision, duration_ms) WHERE host <> '';
CREATE INDEX attempts_org_started ON attempts (org_id, started_at, host, sent, decision, duration_ms) WHERE host <> '';
CREATE INDEX attempts_refused ON attempts (started_at, org_id, host)
    WHERE host <> '' AND sent = 0 AND error_class = 'connection';

-- +goose Down
DROP INDEX attempts_refused;
DROP INDEX attempts_org_started;
DROP INDEX attempts_started;
ALTER TABLE attempts DROP COLUMN host;
ALTER TABLE attempts DROP COLUMN request_body_truncated;
ALTER TABLE attempts DROP COLUMN request_body;
ALTER TABLE attempts DROP COLUMN request_headers;
