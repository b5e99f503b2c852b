-- resgate journal, schema 3: reading by time without scanning everything.
--
-- The status page's timeline and `GET /api/v1/decisions?since=` ask for the
-- rows of a time window. Without these indexes each such read walked the whole
-- table (decisions and event changes are kept forever, webhooks for the
-- retention period); with them it reads the window. The cost is one more
-- index entry per row written.
CREATE INDEX decisions_at ON decisions (at);
CREATE INDEX event_changes_at ON event_changes (at);
CREATE INDEX inbound_received_at ON inbound (received_at);
