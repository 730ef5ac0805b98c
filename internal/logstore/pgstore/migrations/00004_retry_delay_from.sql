-- Each retry records what set its delay: the schedule, the receiver's
-- Retry-After header, or the deliverer's cap on it. Rows written before
-- this version have '' (their delays came from the schedule). Adding a
-- column with a constant default rewrites no partition.

-- +goose Up
ALTER TABLE attempts ADD COLUMN retry_delay_from text NOT NULL DEFAULT '';

-- +goose Down
ALTER TABLE attempts DROP COLUMN retry_delay_from;
