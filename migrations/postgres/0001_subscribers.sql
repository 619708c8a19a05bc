-- Subscribers, their status history, and erased addresses. Times are UNIX seconds.
CREATE TABLE subscribers (
    id            BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    email         TEXT    NOT NULL,             -- local part as given, domain lowercase ASCII
    email_key     TEXT    NOT NULL UNIQUE,      -- lowercase, for case-insensitive uniqueness
    name          TEXT,
    status        TEXT    NOT NULL CHECK (status IN ('pending', 'active', 'unsubscribed', 'bounced', 'complained')),
    token         TEXT    NOT NULL UNIQUE,      -- unsubscribe token, from the OS CSPRNG
    confirm_token TEXT             UNIQUE,      -- double opt-in token while pending
    created_at    BIGINT  NOT NULL,
    updated_at    BIGINT  NOT NULL
);

CREATE TABLE subscriber_events (
    id            BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    subscriber_id BIGINT  REFERENCES subscribers (id) ON DELETE SET NULL,
    at            BIGINT  NOT NULL,
    source        TEXT    NOT NULL CHECK (source IN ('cli', 'web', 'api', 'bounce', 'import')),
    old_status    TEXT,
    new_status    TEXT    NOT NULL,
    detail        TEXT
);
CREATE INDEX subscriber_events_subscriber ON subscriber_events (subscriber_id, id);

-- Salted hashes of erased addresses: a later import cannot silently re-add them.
CREATE TABLE forgotten (
    hash         TEXT    PRIMARY KEY,
    forgotten_at BIGINT  NOT NULL
);

CREATE TABLE settings (
    key   TEXT PRIMARY KEY,
    value TEXT NOT NULL
);
