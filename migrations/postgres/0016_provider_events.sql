-- Provider event webhooks (issue #25). Each signed event is claimed here by its provider's own id
-- before it is acted on, so an event delivered twice (providers retry) is acted on once; Mailgun's
-- one-time signing tokens are kept here too, so a captured request cannot be replayed. Rows older
-- than 30 days are dropped as new ones come.
CREATE TABLE provider_events (
    provider    TEXT   NOT NULL,
    event_id    TEXT   NOT NULL,
    received_at BIGINT NOT NULL,
    PRIMARY KEY (provider, event_id)
);
CREATE INDEX provider_events_received ON provider_events (received_at);
-- Events name the message by the id the provider gave it; find its delivery without a scan.
CREATE INDEX deliveries_provider_message_id ON deliveries (provider_message_id)
    WHERE provider_message_id IS NOT NULL;
