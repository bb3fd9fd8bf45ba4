-- Abuse protection shared by every instance: one row per throttled key (an account's
-- consecutive login failures, an address's login failures, an address's registrations).
-- Keys carry no raw input: account names are stored as SHA-256 hashes. `failures` counts
-- attempts since `window_start` (successes give theirs back); `blocked_until` refuses every
-- attempt until then.
CREATE TABLE throttle (
    key           TEXT PRIMARY KEY,
    failures      BIGINT NOT NULL,
    window_start  BIGINT NOT NULL,
    blocked_until BIGINT NOT NULL
);
