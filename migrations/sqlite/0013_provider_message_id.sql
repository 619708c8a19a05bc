-- The id an API transport's provider gave each message it accepted (Amazon SES's MessageId), kept
-- with the delivery: the provider's bounce and complaint events name the message by it, and are
-- tied to their delivery through it. NULL for SMTP and the file outbox, which name no message.
-- No index yet: nothing looks a delivery up by it until the event webhooks do.
ALTER TABLE deliveries ADD COLUMN provider_message_id TEXT;
