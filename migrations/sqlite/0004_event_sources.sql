-- Two more sources of a status change: an unsubscribe by mail (the List-Unsubscribe mailto), and
-- an administrator in the web console. SQLite cannot change a CHECK constraint in place, so the table
-- is rebuilt with its rows and index.
CREATE TABLE subscriber_events_new (
    id            INTEGER PRIMARY KEY AUTOINCREMENT,
    subscriber_id INTEGER REFERENCES subscribers (id) ON DELETE SET NULL,
    at            INTEGER NOT NULL,
    source        TEXT    NOT NULL CHECK (source IN ('cli', 'web', 'api', 'bounce', 'import', 'mail', 'admin')),
    old_status    TEXT,
    new_status    TEXT    NOT NULL,
    detail        TEXT
);
INSERT INTO subscriber_events_new (id, subscriber_id, at, source, old_status, new_status, detail)
    SELECT id, subscriber_id, at, source, old_status, new_status, detail FROM subscriber_events;
DROP TABLE subscriber_events;
ALTER TABLE subscriber_events_new RENAME TO subscriber_events;
CREATE INDEX subscriber_events_subscriber ON subscriber_events (subscriber_id, id);
