-- How a campaign is to be sent (issue #23): the transport URL (never a password: those come from the
-- environment), the rate in messages per second (0 = no limit) and the connections, as `send` or
-- `send --at` was given them, so that a later `worker` sends it the same way. NULL for campaigns
-- created before this column: the worker's own settings apply.
ALTER TABLE campaigns ADD COLUMN transport TEXT;
ALTER TABLE campaigns ADD COLUMN rate DOUBLE PRECISION;
ALTER TABLE campaigns ADD COLUMN concurrency BIGINT;
