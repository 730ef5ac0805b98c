-- The delivery log: rounds (deliveries) and attempts, both partitioned by
-- day of queued_at (UTC). Partitions are created by the store on demand
-- (deliveries_pYYYYMMDD, attempts_pYYYYMMDD) and dropped by Prune.

-- +goose Up
CREATE TABLE deliveries (
    event_id            text COLLATE "C" NOT NULL,
    replay              integer NOT NULL,
    queued_at           timestamptz NOT NULL,
    org_id              text NOT NULL DEFAULT '',
    source              text NOT NULL DEFAULT '',
    event_type          text NOT NULL DEFAULT '',
    task_id             text NOT NULL DEFAULT '',
    run_id              text NOT NULL DEFAULT '',
    workflow_id         text NOT NULL DEFAULT '',
    host                text NOT NULL DEFAULT '',
    state               text NOT NULL,
    final               boolean NOT NULL,
    attempts            integer NOT NULL,
    status_code         integer NOT NULL,
    response_excerpt    text NOT NULL,
    error_class         text NOT NULL,
    error               text NOT NULL,
    first_attempt_at    timestamptz NOT NULL,
    last_attempt_at     timestamptz NOT NULL,
    next_attempt_at     timestamptz NULL,
    superseded          boolean NOT NULL DEFAULT false,
    webhook_status_code integer NULL,
    webhook_response    text NULL,
    webhook_success     boolean NULL,
    PRIMARY KEY (event_id, replay, queued_at)
) PARTITION BY RANGE (queued_at);

CREATE INDEX deliveries_org_time ON deliveries (org_id, queued_at DESC, event_id DESC, replay DESC);
CREATE INDEX deliveries_time ON deliveries (queued_at DESC, event_id DESC, replay DESC);
CREATE INDEX deliveries_org_state ON deliveries (org_id, state, queued_at DESC);
CREATE INDEX deliveries_task ON deliveries (task_id) WHERE task_id <> '';
CREATE INDEX deliveries_run ON deliveries (run_id) WHERE run_id <> '';

CREATE TABLE attempts (
    event_id         text COLLATE "C" NOT NULL,
    replay           integer NOT NULL,
    attempt          integer NOT NULL,
    queued_at        timestamptz NOT NULL,
    org_id           text NOT NULL DEFAULT '',
    started_at       timestamptz NOT NULL,
    finished_at      timestamptz NOT NULL,
    duration_ms      double precision NOT NULL,
    sent             boolean NOT NULL,
    status_code      integer NOT NULL,
    response_excerpt text NOT NULL,
    error_class      text NOT NULL,
    error            text NOT NULL,
    decision         text NOT NULL,
    retry_delay_ms   bigint NOT NULL,
    next_attempt_at  timestamptz NULL,
    PRIMARY KEY (event_id, replay, attempt, queued_at)
) PARTITION BY RANGE (queued_at);

CREATE TABLE markers (
    name    text PRIMARY KEY,
    done_at timestamptz NOT NULL
);

-- +goose Down
DROP TABLE markers;
DROP TABLE attempts;
DROP TABLE deliveries;
