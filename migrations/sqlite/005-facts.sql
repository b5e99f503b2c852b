-- resgate journal, schema 5: what fact relations held, and when (DESIGN.md §8).
--
-- Kept in step with migrations/postgres/005-facts.sql. One row per refresh
-- that changed a relation: the rows it added and removed (JSON arrays of
-- rows), so `explain` can show the values a decision saw and a backtest can
-- replay them at their recorded times. Refreshes that change nothing are
-- not recorded.
CREATE TABLE fact_changes (
    seq      INTEGER PRIMARY KEY,
    at       TEXT NOT NULL,
    relation TEXT NOT NULL,
    added    TEXT NOT NULL,
    removed  TEXT NOT NULL
);
CREATE INDEX fact_changes_at ON fact_changes (at);
