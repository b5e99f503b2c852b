-- resgate journal, schema 7: an alert storm's writes land at the end of each
-- table, not all over it (issue 22).
--
-- Alertmanager fingerprints are hashes of the label set: a storm's new alerts
-- have keys spread over the whole key space. Every index keyed by fingerprint
-- then gets one insert on a different page per alert, and each page a commit
-- changes is written whole to the WAL (and again by the checkpoint). At 700k
-- alerts, a step of 4,100 new alerts took ~150 ms to write this way, and ~24 ms
-- with the three changes below (a model of the step's statements, same
-- pragmas; numbers in benches/README.md).
--
-- 1. Undecided webhooks are listed in their own small table, not marked by
--    setting inbound.done_at: setting it changed the row's size, and SQLite
--    then rewrote the whole row, webhook body and alerts included (tens of KB
--    for a 50-alert webhook). A row is undecided while its id is in
--    inbound_undecided; a trigger puts every new inbound row there, and the
--    decision thread deletes it in the commit that journals its decisions.
--    done_at stays, set for rows decided before this migration.
CREATE TABLE inbound_undecided (id INTEGER PRIMARY KEY);
INSERT INTO inbound_undecided (id) SELECT id FROM inbound WHERE done_at IS NULL;
DROP INDEX inbound_pending;
CREATE TRIGGER inbound_starts_undecided AFTER INSERT ON inbound
BEGIN
    INSERT INTO inbound_undecided (id) VALUES (new.id);
END;

-- 2. Decisions are no longer indexed by alert. The only reader, the story of
--    one alert (`resgate explain FINGERPRINT`), reads inbound whole anyway;
--    reading decisions whole too kept it at 0.80 s on a 1.2 GB journal of
--    718k decisions (0.84 s with the index).
DROP INDEX decisions_alert;

-- 3. Alerts are keyed by when they were first seen, then fingerprint: a new
--    alert's key is the largest so far, as a decision's seq is. The engine
--    keeps first_seen for as long as it keeps the alert (a re-fire after a
--    resolve keeps it too), and writes it as the same text (`{t:.6}`) every
--    time, so an alert keeps one row.
CREATE TABLE alerts_7 (
    first_seen  TEXT NOT NULL,
    fingerprint TEXT NOT NULL,
    alert       TEXT NOT NULL,
    last_seen   TEXT NOT NULL,
    resolved_at TEXT,
    PRIMARY KEY (first_seen, fingerprint)
);
INSERT INTO alerts_7 (first_seen, fingerprint, alert, last_seen, resolved_at)
    SELECT first_seen, fingerprint, alert, last_seen, resolved_at FROM alerts
    ORDER BY first_seen, fingerprint;
DROP TABLE alerts;
ALTER TABLE alerts_7 RENAME TO alerts;
