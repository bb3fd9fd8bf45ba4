-- Issue 13: a second factor (TOTP, RFC 6238) with recovery codes.

-- The confirmed TOTP secret, sealed under the master key (never stored in the clear); NULL
-- while the account has no second factor. `totp_last_step` is the 30-second step of the
-- last code accepted: a code is taken only for a later step, by one compare-and-set, so a
-- code used once is refused on every instance until its steps pass.
ALTER TABLE users ADD COLUMN totp_secret TEXT;
ALTER TABLE users ADD COLUMN totp_last_step BIGINT NOT NULL DEFAULT 0;

-- A secret shown to its person and not yet confirmed with a code. A new set-up replaces it.
CREATE TABLE totp_enrolments (
    user_id    TEXT PRIMARY KEY REFERENCES users (id) ON DELETE CASCADE,
    secret     TEXT NOT NULL,
    created_at BIGINT NOT NULL
);
CREATE INDEX totp_enrolments_created_at ON totp_enrolments (created_at);

-- Recovery codes: only a keyed hash of each (HMAC under a key derived from the master key),
-- spent by setting `used_at` once.
CREATE TABLE recovery_codes (
    user_id   TEXT NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    code_hash TEXT NOT NULL,
    used_at   BIGINT,
    PRIMARY KEY (user_id, code_hash)
);

-- The second step of a login: what a right password on an account with TOTP hands out (only
-- the SHA-256 of its token is kept). It serves one success, dies after 5 wrong codes, and
-- lives 5 minutes.
CREATE TABLE mfa_challenges (
    token_hash TEXT PRIMARY KEY,
    user_id    TEXT NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    expires_at BIGINT NOT NULL,
    failures   INTEGER NOT NULL DEFAULT 0,
    spent      BOOLEAN NOT NULL DEFAULT FALSE
);
CREATE INDEX mfa_challenges_user_id ON mfa_challenges (user_id);
CREATE INDEX mfa_challenges_expires_at ON mfa_challenges (expires_at);
