-- Email uniqueness ignoring case, the same on both databases: SQLite's lower() folds ASCII
-- only, so the application stores the address lowercased (Unicode) in `email_key` and the
-- unique index is on that. Existing rows are keyed with the database's lower().
ALTER TABLE users ADD COLUMN email_key TEXT;
UPDATE users SET email_key = lower(email);
CREATE UNIQUE INDEX users_email_key ON users (email_key);
DROP INDEX users_email_lower;
