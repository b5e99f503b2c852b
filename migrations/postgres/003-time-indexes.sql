-- resgate journal, schema 3, PostgreSQL dialect: as migrations/sqlite/003.
CREATE INDEX decisions_at ON decisions (at);
CREATE INDEX event_changes_at ON event_changes (at);
CREATE INDEX inbound_received_at ON inbound (received_at);
