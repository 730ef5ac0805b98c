-- Each retry records what set its delay: the schedule, the receiver's
-- Retry-After header, or the deliverer's cap on it. Rows written before
-- this version have '' (their delays came from the schedule).

-- +goose Up
ALTER TABLE attempts ADD COLUMN retry_delay_from TEXT NOT NULL DEFAULT '';

-- +goose Down
ALTER TABLE attempts DROP COLUMN retry_delay_from;
