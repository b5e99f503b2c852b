-- resgate journal, schema 2, PostgreSQL dialect: as migrations/sqlite/002.
ALTER TABLE escalations ADD COLUMN decision TEXT COLLATE "C";
ALTER TABLE escalations ADD COLUMN sent TEXT COLLATE "C";
