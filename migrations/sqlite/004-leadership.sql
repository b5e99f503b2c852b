-- resgate journal, schema 4: who may decide and fire.
--
-- Kept in step with migrations/postgres/004-leadership.sql, where several
-- instances share one journal and the lease row elects the one that decides.
-- A SQLite journal has one daemon (the data directory's lock file), which is
-- always the leader: the row stays as created, token 0.
CREATE TABLE lease (
    id         INTEGER PRIMARY KEY CHECK (id = 1),
    holder     TEXT,
    token      INTEGER NOT NULL,
    expires_at TEXT NOT NULL
);
INSERT INTO lease (id, holder, token, expires_at) VALUES (1, NULL, 0, '');
