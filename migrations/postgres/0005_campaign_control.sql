-- Scheduling and control of a campaign, and mailbox providers.
-- - A campaign can be `scheduled` (snapshotted, waiting for `scheduled_at`), `paused` (no new claims)
--   or `cancelled` (ended by an operator) as well as created, sending and done.
-- - Each delivery remembers its recipient's provider (gmail.com is `google`), so a worker can claim
--   per provider and `status` can count per provider.
-- - `provider_rates` keeps each provider's current pace, for `status` and for a worker that resumes.
ALTER TABLE campaigns DROP CONSTRAINT campaigns_state_check;
ALTER TABLE campaigns ADD CONSTRAINT campaigns_state_check
    CHECK (state IN ('created', 'scheduled', 'sending', 'paused', 'cancelled', 'done'));
ALTER TABLE campaigns ADD COLUMN scheduled_at BIGINT;
ALTER TABLE deliveries ADD COLUMN provider TEXT NOT NULL DEFAULT 'other';
-- One index serves claims per provider (campaign, state, provider) and every query by campaign and
-- state; it replaces the claim index of 0002, so that each update of a row maintains one index less.
DROP INDEX deliveries_claim;
CREATE INDEX deliveries_claim ON deliveries (campaign_id, state, provider, lease_until);
CREATE TABLE provider_rates (
    campaign_id   BIGINT  NOT NULL REFERENCES campaigns (id),
    provider      TEXT    NOT NULL,
    rate          DOUBLE PRECISION,             -- messages per second now; NULL: not limited
    throttled     BIGINT  NOT NULL DEFAULT 0,   -- throttling replies so far
    updated_at    BIGINT  NOT NULL,
    PRIMARY KEY (campaign_id, provider)
);
