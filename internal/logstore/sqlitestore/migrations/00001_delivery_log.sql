-- The delivery log in SQLite: one row per delivery round (deliveries) and
-- one per attempt (attempts). Times are INTEGER Unix microseconds (UTC),
-- booleans INTEGER 0/1. Every statement is idempotent (IF NOT EXISTS).

-- +goose Up
CREATE TABLE IF NOT EXISTS deliveries (
    event_id            TEXT    NOT NULL,
    replay              INTEGER NOT NULL,
    queued_at           INTEGER NOT NULL,
    org_id              TEXT    NOT NULL,
    source              TEXT    NOT NULL,
    event_type          TEXT    NOT NULL,
    task_id             TEXT    NOT NULL DEFAULT '',
    run_id              TEXT    NOT NULL DEFAULT '',
    workflow_id         TEXT    NOT NULL DEFAULT '',
    host                TEXT    NOT NULL,
    state               TEXT    NOT NULL,
    final               INTEGER NOT NULL,
    attempts            INTEGER NOT NULL,
    status_code         INTEGER NOT NULL,
    response_excerpt    TEXT    NOT NULL,
    error_class         TEXT    NOT NULL,
    error               TEXT    NOT NULL,
    first_attempt_at    INTEGER NOT NULL,
    last_attempt_at     INTEGER NOT NULL,
    next_attempt_at     INTEGER NULL,
    superseded          INTEGER NOT NULL DEFAULT 0,
    webhook_status_code INTEGER NULL,
    webhook_response    TEXT    NULL,
    webhook_success     INTEGER NULL,
    PRIMARY KEY (event_id, replay)
);

-- Search of one organization and of all, in the page order; the second
-- also serves Prune (queued_at < cutoff).
CREATE INDEX IF NOT EXISTS deliveries_org_time ON deliveries (org_id, queued_at DESC, event_id DESC, replay DESC);
CREATE INDEX IF NOT EXISTS deliveries_time ON deliveries (queued_at DESC, event_id DESC, replay DESC);
-- Counts and state-filtered searches of one organization.
CREATE INDEX IF NOT EXISTS deliveries_org_state ON deliveries (org_id, state, queued_at DESC);
-- Find by task or run (most rounds have only one of them).
CREATE INDEX IF NOT EXISTS deliveries_task ON deliveries (task_id) WHERE task_id <> '';
CREATE INDEX IF NOT EXISTS deliveries_run ON deliveries (run_id) WHERE run_id <> '';

CREATE TABLE IF NOT EXISTS attempts (
    event_id         TEXT    NOT NULL,
    replay           INTEGER NOT NULL,
    attempt          INTEGER NOT NULL,
    queued_at        INTEGER NOT NULL,
    org_id           TEXT    NOT NULL,
    started_at       INTEGER NOT NULL,
    finished_at      INTEGER NOT NULL,
    duration_ms      REAL    NOT NULL,
    sent             INTEGER NOT NULL,
    status_code      INTEGER NOT NULL,
    response_excerpt TEXT    NOT NULL,
    error_class      TEXT    NOT NULL,
    error            TEXT    NOT NULL,
    decision         TEXT    NOT NULL,
    retry_delay_ms   INTEGER NOT NULL,
    next_attempt_at  INTEGER NULL,
    PRIMARY KEY (event_id, replay, attempt)
);

-- Prune (queued_at < cutoff).
CREATE INDEX IF NOT EXISTS attempts_time ON attempts (queued_at);

CREATE TABLE IF NOT EXISTS markers (
    name    TEXT    PRIMARY KEY,
    done_at INTEGER NOT NULL
);

-- +goose Down
DROP TABLE IF EXISTS markers;
DROP TABLE IF EXISTS attempts;
DROP TABLE IF EXISTS deliveries;
