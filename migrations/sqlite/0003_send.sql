-- Delivery retries and the bounce log.
-- A transient failure puts the row back to 'queued' with not_before = when to try again, so the
-- backoff survives a crash and a later run (or another worker) honours it.
ALTER TABLE deliveries ADD COLUMN not_before INTEGER;
-- The issue's Markdown, so that a worker on another machine renders exactly what was enqueued.
ALTER TABLE campaigns ADD COLUMN source TEXT;

-- Every bounce, complaint and synchronous rejection, with its evidence. Policy reads this log.
CREATE TABLE bounces (
    id            INTEGER PRIMARY KEY AUTOINCREMENT,
    subscriber_id INTEGER REFERENCES subscribers (id) ON DELETE SET NULL,
    campaign_id   INTEGER,
    email         TEXT,                         -- the recipient the evidence names
    kind          TEXT    NOT NULL CHECK (kind IN ('hard', 'soft', 'complaint', 'policy')),
    status        TEXT,                         -- enhanced status code, e.g. 5.1.1
    diagnostic    TEXT,
    source        TEXT    NOT NULL,             -- smtp (during send), dsn, arf, heuristic
    attribution   TEXT    NOT NULL,             -- verp, final-recipient, message-id, heuristic, delivery
    received_at   INTEGER NOT NULL
);
CREATE INDEX bounces_subscriber ON bounces (subscriber_id, received_at);
CREATE INDEX bounces_received ON bounces (received_at);
