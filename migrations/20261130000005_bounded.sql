-- Deleting a refresh token sets its child's parent_id to NULL: without this index every
-- deleted row scanned the whole table, so purging one long chain took minutes.
CREATE INDEX refresh_tokens_parent_id ON refresh_tokens (parent_id);

-- When a throttle key last saw an attempt (refused ones included): account counters idle
-- for 30 days (and locking nothing) are purged, so guesses at names that are not accounts
-- cannot grow the table for ever. Existing rows take their window's start (their first
-- counted attempt: the last one was not recorded); locked rows are never purged.
ALTER TABLE throttle ADD COLUMN last_at BIGINT NOT NULL DEFAULT 0;
UPDATE throttle SET last_at = window_start;
