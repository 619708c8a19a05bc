-- Two more sources of a status change: an unsubscribe by mail (the List-Unsubscribe mailto), and
-- an administrator in the web console.
ALTER TABLE subscriber_events DROP CONSTRAINT subscriber_events_source_check;
ALTER TABLE subscriber_events ADD CONSTRAINT subscriber_events_source_check
    CHECK (source IN ('cli', 'web', 'api', 'bounce', 'import', 'mail', 'admin'));
