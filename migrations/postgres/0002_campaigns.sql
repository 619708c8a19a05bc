-- One campaign per issue, and one delivery row per recipient: the database is the source of truth
-- for what was sent. A worker claims rows with a lease; an expired lease can be claimed again.
CREATE TABLE campaigns (
    id            BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    issue_number  BIGINT  NOT NULL UNIQUE,
    content_hash  TEXT    NOT NULL,
    subject       TEXT    NOT NULL,
    state         TEXT    NOT NULL CHECK (state IN ('created', 'sending', 'done')),
    created_at    BIGINT  NOT NULL,
    started_at    BIGINT,
    finished_at   BIGINT
);

CREATE TABLE deliveries (
    campaign_id   BIGINT  NOT NULL REFERENCES campaigns (id),
    subscriber_id BIGINT  NOT NULL,
    email         TEXT    NOT NULL,           -- the address at snapshot time
    state         TEXT    NOT NULL CHECK (state IN ('queued', 'sending', 'sent', 'deferred', 'failed', 'skipped')),
    attempts      BIGINT  NOT NULL DEFAULT 0,
    last_error    TEXT,
    lease_owner   TEXT,
    lease_until   BIGINT,
    updated_at    BIGINT  NOT NULL,
    sent_at       BIGINT,
    PRIMARY KEY (campaign_id, subscriber_id)
);
CREATE INDEX deliveries_claim ON deliveries (campaign_id, state, lease_until);
