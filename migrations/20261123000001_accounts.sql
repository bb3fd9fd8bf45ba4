-- Portable SQL: this one file runs on SQLite and on PostgreSQL.
-- Ids are UUID text; times are microseconds since the Unix epoch (UTC) in BIGINT, which both
-- databases order and compare the same way.

CREATE TABLE users (
    id            TEXT PRIMARY KEY,
    username      TEXT NOT NULL,
    email         TEXT,
    full_name     TEXT,
    password_hash TEXT NOT NULL,
    role          TEXT NOT NULL DEFAULT 'user' CHECK (role IN ('user', 'admin')),
    disabled      BOOLEAN NOT NULL DEFAULT FALSE,
    created_at    BIGINT NOT NULL
);

-- Case-insensitive uniqueness lives in the database, not only in code. Usernames are ASCII,
-- so lower() means the same on both databases.
CREATE UNIQUE INDEX users_username_lower ON users (lower(username));
CREATE UNIQUE INDEX users_email_lower ON users (lower(email));
CREATE INDEX users_created_at_id ON users (created_at, id);

-- A login: what one password login started. Its refresh tokens form one family and its
-- access tokens carry its id (`sid`). Ending it ends all of them.
CREATE TABLE logins (
    id         TEXT PRIMARY KEY,
    user_id    TEXT NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    created_at BIGINT NOT NULL,
    ended_at   BIGINT
);
CREATE INDEX logins_user_id ON logins (user_id);

-- Refresh tokens are stored only as SHA-256 hashes of 256-bit random values.
CREATE TABLE refresh_tokens (
    id         TEXT PRIMARY KEY,
    login_id   TEXT NOT NULL REFERENCES logins (id) ON DELETE CASCADE,
    parent_id  TEXT REFERENCES refresh_tokens (id) ON DELETE SET NULL,
    token_hash TEXT NOT NULL UNIQUE,
    created_at BIGINT NOT NULL,
    expires_at BIGINT NOT NULL,
    used_at    BIGINT,
    revoked_at BIGINT
);
CREATE INDEX refresh_tokens_login_id ON refresh_tokens (login_id);

-- One row that admin role/status changes lock first, so that two concurrent changes cannot
-- both remove "the other" last enabled admin (a row lock on PostgreSQL, the write lock on SQLite).
CREATE TABLE admin_guard (
    id      INTEGER PRIMARY KEY,
    version BIGINT NOT NULL
);
INSERT INTO admin_guard (id, version) VALUES (1, 0);
