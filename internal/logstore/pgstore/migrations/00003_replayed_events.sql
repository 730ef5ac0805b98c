-- The events that have a replay round, each with its highest replay and
-- the queued_at of its latest round. A write looks up its batch's events
-- here (one small unpartitioned table, read through its primary key) to
-- learn which have rounds to mark superseded, instead of searching every
-- daily partition of deliveries for each event of the batch. Prune drops
-- an event's row with the day of its latest round.

-- +goose Up
CREATE TABLE replayed_events (
    event_id   text COLLATE "C" PRIMARY KEY,
    top_replay integer NOT NULL,
    queued_at  timestamptz NOT NULL
);
CREATE INDEX replayed_events_time ON replayed_events (queued_at);
INSERT INTO replayed_events (event_id, top_replay, queued_at)
SELECT event_id, max(replay), max(queued_at) FROM deliveries
WHERE event_id IN (SELECT event_id FROM deliveries WHERE replay > 0)
GROUP BY event_id;

-- +goose Down
DROP TABLE replayed_events;
