-- The periodic purge deletes refresh tokens by expiry: an index keeps that a range scan
-- instead of a full scan holding SQLite's write lock.
CREATE INDEX refresh_tokens_expires_at ON refresh_tokens (expires_at);
