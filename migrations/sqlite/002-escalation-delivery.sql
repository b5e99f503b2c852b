-- resgate journal, schema 2: escalations are delivered, not only decided.
--
-- decision  the escalate decision (JSON, with its proof): what the page says.
-- sent      NULL until the escalation remediator answered: 'accepted',
--           'refused' or 'unknown'. A restart sends again every escalation
--           still NULL (same Idempotency-Key), so a crash between deciding to
--           page and paging does not leave nobody paged.
ALTER TABLE escalations ADD COLUMN decision TEXT;
ALTER TABLE escalations ADD COLUMN sent TEXT;
