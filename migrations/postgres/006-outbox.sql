-- resgate journal: the notification outbox, PostgreSQL dialect: as
-- migrations/sqlite/006-outbox.sql.
CREATE TABLE outbox (
    id          BIGSERIAL PRIMARY KEY,
    notifier    TEXT COLLATE "C" NOT NULL,
    key         TEXT COLLATE "C" NOT NULL,
    event       TEXT COLLATE "C",
    created_at  TEXT COLLATE "C" NOT NULL,
    notice      TEXT COLLATE "C" NOT NULL,
    attempts    BIGINT NOT NULL DEFAULT 0,
    next_at     TEXT COLLATE "C",
    sent_at     TEXT COLLATE "C",
    failed_at   TEXT COLLATE "C",
    error       TEXT COLLATE "C",
    annotation  BIGINT
);
CREATE INDEX outbox_unsent ON outbox (notifier, id) WHERE sent_at IS NULL AND failed_at IS NULL;
CREATE INDEX outbox_event ON outbox (notifier, event) WHERE annotation IS NOT NULL;
