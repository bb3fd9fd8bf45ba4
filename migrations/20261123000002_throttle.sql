-- Abuse protection shared by every instance: one row per throttled key (an account's
-- consecutive login failures, an address's login failures, an address's registrations).
-- Keys carry no raw input: account names are stored as SHA-256 hashes.
CREATE TABLE throttle (
    key           TEXT PRIMARY KEY,
    failures      BIGINT NOT NULL,
    last_at       BIGINT NOT NULL,
    blocked_until BIGINT NOT NULL
);
