-- resgate journal, schema 5, PostgreSQL dialect: as migrations/sqlite/005.
CREATE TABLE fact_changes (
    seq      BIGSERIAL PRIMARY KEY,
    at       TEXT COLLATE "C" NOT NULL,
    relation TEXT COLLATE "C" NOT NULL,
    added    TEXT NOT NULL,
    removed  TEXT NOT NULL
);
CREATE INDEX fact_changes_at ON fact_changes (at);
