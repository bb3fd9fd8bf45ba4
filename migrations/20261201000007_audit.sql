-- Issue 12: what a person sees of their own logins, single-use password reset links, and the
-- audit log.

-- Where and with what a login was started, and when it was last used by a password or
-- refresh grant (not by every request: that would be a write per request).
ALTER TABLE logins ADD COLUMN user_agent TEXT;
ALTER TABLE logins ADD COLUMN ip TEXT;
ALTER TABLE logins ADD COLUMN last_used_at BIGINT;
UPDATE logins SET last_used_at = created_at;

-- At most one live reset link per user (a newer link replaces the older, voiding it). The
-- token itself is never stored: only its SHA-256.
CREATE TABLE password_resets (
    user_id    TEXT PRIMARY KEY REFERENCES users (id) ON DELETE CASCADE,
    token_hash TEXT NOT NULL UNIQUE,
    created_by TEXT,
    created_at BIGINT NOT NULL,
    expires_at BIGINT NOT NULL
);

-- The audit log. `user_id` is whom the event is about and `actor_id` who caused it; neither
-- references users, so a deleted user's events stay (with their username in `detail`).
-- `detail` is a JSON object as text (the same on both databases).
CREATE TABLE audit_events (
    id         TEXT PRIMARY KEY,
    at         BIGINT NOT NULL,
    type       TEXT NOT NULL,
    user_id    TEXT,
    actor_id   TEXT,
    ip         TEXT,
    user_agent TEXT,
    detail     TEXT NOT NULL
);
-- The listing queries: everything newest first, one user's events, one type's events. Each
-- is a backwards range scan of one index, with no sort, whatever the table's size.
CREATE INDEX audit_events_at ON audit_events (at, id);
CREATE INDEX audit_events_user ON audit_events (user_id, at, id);
CREATE INDEX audit_events_type ON audit_events (type, at, id);
