-- no-transaction
-- Scheduling and control of a campaign, and mailbox providers.
-- - A campaign can be `scheduled` (snapshotted, waiting for `scheduled_at`), `paused` (no new claims)
--   or `cancelled` (ended by an operator) as well as created, sending and done.
-- - Each delivery remembers its recipient's provider (gmail.com is `google`), so a worker can claim
--   per provider and `status` can count per provider.
-- - `provider_rates` keeps each provider's current pace, for `status` and for a worker that resumes.
-- SQLite cannot change a CHECK constraint in place and `campaigns` is referenced by `deliveries`, so
-- the table is rebuilt with foreign keys off, inside one transaction (SQLite's documented procedure).
PRAGMA foreign_keys = OFF;
BEGIN;
CREATE TABLE campaigns_new (
    id            INTEGER PRIMARY KEY AUTOINCREMENT,
    issue_number  INTEGER NOT NULL UNIQUE,
    content_hash  TEXT    NOT NULL,
    subject       TEXT    NOT NULL,
    state         TEXT    NOT NULL CHECK (state IN ('created', 'scheduled', 'sending', 'paused', 'cancelled', 'done')),
    created_at    INTEGER NOT NULL,
    started_at    INTEGER,
    finished_at   INTEGER,
    source        TEXT,
    scheduled_at  INTEGER
);
INSERT INTO campaigns_new (id, issue_number, content_hash, subject, state, created_at, started_at, finished_at, source)
    SELECT id, issue_number, content_hash, subject, state, created_at, started_at, finished_at, source FROM campaigns;
DROP TABLE campaigns;
ALTER TABLE campaigns_new RENAME TO campaigns;
ALTER TABLE deliveries ADD COLUMN provider TEXT NOT NULL DEFAULT 'other';
-- One index serves claims per provider (campaign, state, provider) and every query by campaign and
-- state; it replaces the claim index of 0002, so that each update of a row maintains one index less.
DROP INDEX deliveries_claim;
CREATE INDEX deliveries_claim ON deliveries (campaign_id, state, provider, lease_until);
CREATE TABLE provider_rates (
    campaign_id   INTEGER NOT NULL REFERENCES campaigns (id),
    provider      TEXT    NOT NULL,
    rate          REAL,                         -- messages per second now; NULL: not limited
    throttled     INTEGER NOT NULL DEFAULT 0,   -- throttling replies so far
    updated_at    INTEGER NOT NULL,
    PRIMARY KEY (campaign_id, provider)
);
COMMIT;
PRAGMA foreign_keys = ON;
