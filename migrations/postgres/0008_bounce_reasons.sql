-- Why each bounce came back (issue #22): the reason (a word of domain::BounceReason, e.g.
-- `user-unknown`, `sender-rejected`) and the evidence that decided it (which field or phrase), so
-- `bounces list`, `subscribers show` and the console can say why. Rows logged before this are NULL.
ALTER TABLE bounces ADD COLUMN reason TEXT;
ALTER TABLE bounces ADD COLUMN evidence TEXT;
