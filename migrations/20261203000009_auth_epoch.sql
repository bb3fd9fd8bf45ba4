-- The auth epoch: one row whose number moves on in every transaction that changes what
-- authentication reads (a login ended or deleted, a user changed or deleted). The triggers
-- that move it differ between SQLite and PostgreSQL: `db::epoch::install_triggers` replaces
-- them after every migration run.
CREATE TABLE auth_epoch (
    id INTEGER PRIMARY KEY CHECK (id = 1),
    epoch BIGINT NOT NULL
);
INSERT INTO auth_epoch (id, epoch) VALUES (1, 0);
