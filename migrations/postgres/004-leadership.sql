-- resgate journal, schema 4, PostgreSQL dialect: who may decide and fire.
--
-- Several `resgate serve` may share one PostgreSQL journal. All of them take
-- webhooks; only the holder of the lease decides, calls remediators and polls.
--
-- lease    one row. `holder` is the instance (host:pid:random) holding it,
--          `token` the fencing token: it goes up by one at every change of
--          holder, every write of the leader checks it in the same transaction
--          (SELECT … FOR SHARE), and every remediator call carries it. A leader
--          that was deposed while paused therefore cannot write, nor can its
--          late calls be mistaken for the new leader's. `expires_at` is the
--          database's clock (now() + the lease period), so the instances'
--          clocks do not matter.
CREATE TABLE lease (
    id         INTEGER PRIMARY KEY CHECK (id = 1),
    holder     TEXT COLLATE "C",
    token      BIGINT NOT NULL,
    expires_at TIMESTAMPTZ NOT NULL
);
INSERT INTO lease (id, holder, token, expires_at) VALUES (1, NULL, 0, '-infinity');
