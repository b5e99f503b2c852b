-- resgate journal, schema 1, PostgreSQL dialect.
--
-- The same tables and meaning as migrations/sqlite/001-journal.sql (read its
-- header for what each table holds). Differences, and why:
-- - Every text column is COLLATE "C": times are fixed-width RFC 3339 text whose
--   byte order is time order, as in SQLite; a locale collation would not keep
--   that promise for every database a user creates.
-- - Row IDs are BIGSERIAL (SQLite's INTEGER PRIMARY KEY is a 64-bit rowid).
-- - Bodies are BYTEA.
-- Migrations run in a transaction each, under an advisory lock, and are
-- recorded in resgate_schema (PostgreSQL has no PRAGMA user_version).

CREATE TABLE inbound (
    id          BIGSERIAL PRIMARY KEY,
    received_at TEXT COLLATE "C" NOT NULL,
    source      TEXT COLLATE "C" NOT NULL,
    body        BYTEA NOT NULL,
    alerts      TEXT COLLATE "C" NOT NULL,
    done_at     TEXT COLLATE "C"
);
CREATE INDEX inbound_pending ON inbound (id) WHERE done_at IS NULL;

CREATE TABLE alerts (
    fingerprint TEXT COLLATE "C" PRIMARY KEY,
    alert       TEXT COLLATE "C" NOT NULL,
    first_seen  TEXT COLLATE "C" NOT NULL,
    last_seen   TEXT COLLATE "C" NOT NULL,
    resolved_at TEXT COLLATE "C"
);

CREATE TABLE decisions (
    seq         BIGSERIAL PRIMARY KEY,
    inbound_id  BIGINT,
    at          TEXT COLLATE "C" NOT NULL,
    alert       TEXT COLLATE "C" NOT NULL,
    remediation TEXT COLLATE "C",
    target      TEXT COLLATE "C",
    verdict     TEXT COLLATE "C" NOT NULL,
    reason      TEXT COLLATE "C",
    event       TEXT COLLATE "C",
    proof       TEXT COLLATE "C" NOT NULL
);
CREATE INDEX decisions_event ON decisions (event) WHERE event IS NOT NULL;
CREATE INDEX decisions_alert ON decisions (alert);

CREATE TABLE events (
    id              TEXT COLLATE "C" PRIMARY KEY,
    seq             BIGINT NOT NULL UNIQUE,
    remediation     TEXT COLLATE "C" NOT NULL,
    target          TEXT COLLATE "C" NOT NULL,
    alert           TEXT COLLATE "C" NOT NULL,
    alerts          TEXT COLLATE "C" NOT NULL,
    state           TEXT COLLATE "C" NOT NULL,
    remote_id       TEXT COLLATE "C",
    fired_at        TEXT COLLATE "C" NOT NULL,
    succeeded_at    TEXT COLLATE "C",
    warm_until      TEXT COLLATE "C",
    updated_at      TEXT COLLATE "C" NOT NULL,
    history         TEXT COLLATE "C" NOT NULL,
    call            TEXT COLLATE "C" NOT NULL,
    idempotency_key TEXT COLLATE "C" NOT NULL,
    status_url      TEXT COLLATE "C"
);
CREATE INDEX events_open ON events (state)
    WHERE state IN ('pending', 'accepted', 'running', 'warming');

CREATE TABLE event_changes (
    seq        BIGSERIAL PRIMARY KEY,
    event      TEXT COLLATE "C" NOT NULL,
    at         TEXT COLLATE "C" NOT NULL,
    from_state TEXT COLLATE "C",
    to_state   TEXT COLLATE "C",
    detail     TEXT COLLATE "C"
);
CREATE INDEX event_changes_event ON event_changes (event);

CREATE TABLE pauses (
    remediation TEXT COLLATE "C" NOT NULL,
    target      TEXT COLLATE "C" NOT NULL DEFAULT '',
    reason      TEXT COLLATE "C" NOT NULL,
    until       TEXT COLLATE "C",
    created_at  TEXT COLLATE "C" NOT NULL,
    PRIMARY KEY (remediation, target)
);

CREATE TABLE escalations (
    remediation TEXT COLLATE "C" NOT NULL,
    target      TEXT COLLATE "C" NOT NULL,
    at          TEXT COLLATE "C" NOT NULL,
    PRIMARY KEY (remediation, target)
);

CREATE TABLE deferrals (
    alert       TEXT COLLATE "C" NOT NULL,
    remediation TEXT COLLATE "C" NOT NULL,
    reason      TEXT COLLATE "C" NOT NULL,
    PRIMARY KEY (alert, remediation)
);

CREATE TABLE meta (
    key   TEXT COLLATE "C" PRIMARY KEY,
    value TEXT COLLATE "C" NOT NULL
);
