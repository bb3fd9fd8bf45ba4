-- Asymmetric signing keys, shared by every instance on this database. A key signs from
-- `signing_from` until the next key's `signing_from`; it stays published and verifying until
-- the last token it signed has expired. The private part is sealed (XChaCha20-Poly1305) under
-- a key derived from GATEHOUSE_MASTER_KEY, with the kid as associated data: a copy of the
-- database alone signs nothing.
CREATE TABLE signing_keys (
    kid TEXT PRIMARY KEY,
    alg TEXT NOT NULL,
    public_jwk TEXT NOT NULL,
    private_key TEXT NOT NULL,
    created_at BIGINT NOT NULL,
    signing_from BIGINT NOT NULL
);
