-- resgate journal, schema 7, PostgreSQL dialect: as
-- migrations/sqlite/007-local-writes.sql (read it for why). PostgreSQL's
-- B-tree indexes pay for keys spread over the key space as SQLite's do: a
-- page changed per insert, written whole to the WAL after each checkpoint.
CREATE TABLE inbound_undecided (id BIGINT PRIMARY KEY);
INSERT INTO inbound_undecided (id) SELECT id FROM inbound WHERE done_at IS NULL;
DROP INDEX inbound_pending;
CREATE FUNCTION resgate_inbound_starts_undecided() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    INSERT INTO inbound_undecided (id) VALUES (NEW.id);
    RETURN NULL;
END;
$$;
CREATE TRIGGER inbound_starts_undecided AFTER INSERT ON inbound
    FOR EACH ROW EXECUTE FUNCTION resgate_inbound_starts_undecided();

DROP INDEX decisions_alert;

CREATE TABLE alerts_7 (
    first_seen  TEXT COLLATE "C" NOT NULL,
    fingerprint TEXT COLLATE "C" NOT NULL,
    alert       TEXT COLLATE "C" NOT NULL,
    last_seen   TEXT COLLATE "C" NOT NULL,
    resolved_at TEXT COLLATE "C",
    PRIMARY KEY (first_seen, fingerprint)
);
INSERT INTO alerts_7 (first_seen, fingerprint, alert, last_seen, resolved_at)
    SELECT first_seen, fingerprint, alert, last_seen, resolved_at FROM alerts;
DROP TABLE alerts;
ALTER TABLE alerts_7 RENAME TO alerts;
