-- Complaint control (issue #25): each complaint recorded for a campaign asks how many readers of
-- that campaign complained, per mailbox provider, to pause it when the rate reaches the limit; and
-- `status` shows the rates. Without this index each such question read the whole bounce log.
CREATE INDEX bounces_campaign_kind ON bounces (campaign_id, kind);
