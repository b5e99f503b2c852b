-- resgate journal, schema 1.
--
-- One SQLite file, DATA/resgate.db, in WAL mode with synchronous=FULL. Migrations
-- are applied in file-name order; `PRAGMA user_version` records the last one.
-- Times are RFC 3339 text in UTC; JSON columns hold what the engine serializes.
--
-- inbound       the durable queue: each accepted webhook body and the alerts it
--               mapped to, committed before the sender gets its 2xx. The decision
--               thread decides rows in id order and sets done_at; done rows are
--               pruned after the retention period.
-- alerts        the engine's view of every alert it knows (firing or resolved).
-- decisions     every decision, with its proof, journaled before it is acted on.
-- events        one row per fire, with the call's progress (`call`) so that a
--               restart knows whether the call was never sent, may have been
--               sent, or was answered.
-- event_changes every state change of an event and every status poll.
-- pauses        active pauses (target '' covers every target).
-- escalations   the last escalation per (remediation, target).
-- deferrals     alerts waiting on a deferral, decided again after a restart.
-- meta          key/value: `instance` (random, part of every Idempotency-Key).

CREATE TABLE inbound (
    id          INTEGER PRIMARY KEY,
    received_at TEXT NOT NULL,
    source      TEXT NOT NULL,
    body        BLOB NOT NULL,
    alerts      TEXT NOT NULL,
    done_at     TEXT
);
CREATE INDEX inbound_pending ON inbound (id) WHERE done_at IS NULL;

CREATE TABLE alerts (
    fingerprint TEXT PRIMARY KEY,
    alert       TEXT NOT NULL,
    first_seen  TEXT NOT NULL,
    last_seen   TEXT NOT NULL,
    resolved_at TEXT
);

CREATE TABLE decisions (
    seq         INTEGER PRIMARY KEY,
    inbound_id  INTEGER,
    at          TEXT NOT NULL,
    alert       TEXT NOT NULL,
    remediation TEXT,
    target      TEXT,
    verdict     TEXT NOT NULL,
    reason      TEXT,
    event       TEXT,
    proof       TEXT NOT NULL
);
CREATE INDEX decisions_event ON decisions (event) WHERE event IS NOT NULL;
CREATE INDEX decisions_alert ON decisions (alert);

CREATE TABLE events (
    id              TEXT PRIMARY KEY,
    seq             INTEGER NOT NULL UNIQUE,
    remediation     TEXT NOT NULL,
    target          TEXT NOT NULL,
    alert           TEXT NOT NULL,
    alerts          TEXT NOT NULL,
    state           TEXT NOT NULL,
    remote_id       TEXT,
    fired_at        TEXT NOT NULL,
    succeeded_at    TEXT,
    warm_until      TEXT,
    updated_at      TEXT NOT NULL,
    history         TEXT NOT NULL,
    -- queued: decided, not sent yet; sending: may have reached the remediator;
    -- answered: the remediator answered (accepted or refused); shadow: never called.
    call            TEXT NOT NULL,
    idempotency_key TEXT NOT NULL,
    status_url      TEXT
);
CREATE INDEX events_open ON events (state)
    WHERE state IN ('pending', 'accepted', 'running', 'warming');

CREATE TABLE event_changes (
    seq        INTEGER PRIMARY KEY,
    event      TEXT NOT NULL,
    at         TEXT NOT NULL,
    from_state TEXT,
    to_state   TEXT,
    detail     TEXT
);
CREATE INDEX event_changes_event ON event_changes (event);

CREATE TABLE pauses (
    remediation TEXT NOT NULL,
    target      TEXT NOT NULL DEFAULT '',
    reason      TEXT NOT NULL,
    until       TEXT,
    created_at  TEXT NOT NULL,
    PRIMARY KEY (remediation, target)
);

CREATE TABLE escalations (
    remediation TEXT NOT NULL,
    target      TEXT NOT NULL,
    at          TEXT NOT NULL,
    PRIMARY KEY (remediation, target)
);

CREATE TABLE deferrals (
    alert       TEXT NOT NULL,
    remediation TEXT NOT NULL,
    reason      TEXT NOT NULL,
    PRIMARY KEY (alert, remediation)
);

CREATE TABLE meta (
    key   TEXT PRIMARY KEY,
    value TEXT NOT NULL
);
