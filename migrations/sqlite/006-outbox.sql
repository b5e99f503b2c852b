-- resgate journal: the notification outbox (DESIGN.md §9, issue 21).
--
-- A row is written in the same transaction as the decision or event change
-- that causes it, so a crash never loses a notification; the sender marks it
-- `sent_at` after the receiver's 2xx (or `failed_at` after the last try), so a
-- restart resends what is unsent and never what was sent.
--
-- notifier    the notifier's name in the rules.
-- key         the notification's idempotency key (also sent as a header).
-- event       the event it is about, if any (Grafana closes that region).
-- notice      the notice as JSON (notifier::Notice).
-- attempts    deliveries tried so far; next_at: not before (backoff, Retry-After).
-- annotation  Grafana's ID for the region this row opened.
CREATE TABLE outbox (
    id          INTEGER PRIMARY KEY,
    notifier    TEXT NOT NULL,
    key         TEXT NOT NULL,
    event       TEXT,
    created_at  TEXT NOT NULL,
    notice      TEXT NOT NULL,
    attempts    INTEGER NOT NULL DEFAULT 0,
    next_at     TEXT,
    sent_at     TEXT,
    failed_at   TEXT,
    error       TEXT,
    annotation  INTEGER
);
CREATE INDEX outbox_unsent ON outbox (notifier, id) WHERE sent_at IS NULL AND failed_at IS NULL;
CREATE INDEX outbox_event ON outbox (notifier, event) WHERE annotation IS NOT NULL;
