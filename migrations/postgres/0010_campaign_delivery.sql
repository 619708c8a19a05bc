-- How a campaign is to be sent (issue #23): the transport URL (never a password: those come from the
-- environment), the rate in messages per second (0 = no limit) and the connections, as `send` or
-- `send --at` was given them, so that a later `worker` sends it the same way. NULL for campaigns
-- created before this column: the worker's own settings apply.
ALTER TABLE campaigns ADD COLUMN transport TEXT;
ALTER TABLE campaigns ADD COLUMN rate DOUBLE PRECISION;
ALTER TABLE campaigns ADD COLUMN concurrency BIGINT;

-- A subscriber's deliveries over every campaign: a soft bounce asks when the last delivery to its
-- reader that did not bounce went out, and the console shows a reader's history. Without it each
-- such question read every delivery of every campaign.
CREATE INDEX deliveries_subscriber ON deliveries (subscriber_id);
