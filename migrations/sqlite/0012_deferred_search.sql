-- A bulk import writes the search index once, after its rows, instead of a row at a time from the
-- insert trigger: FTS5 flushes what it holds in memory at the end of every statement that a
-- trigger runs in, so a million rows imported 2,000 to a statement left hundreds of small index
-- segments to merge. While `search_deferred` holds a row (only inside an import's transaction,
-- which is the only writer), inserted subscribers are not indexed by the trigger; the import
-- indexes every row it added before it commits, and empties the table again.
CREATE TABLE search_deferred (
    one INTEGER PRIMARY KEY CHECK (one = 1)
);

-- The index no longer keeps each row's column sizes (`columnsize = 0`): only ranking functions
-- read them, and the search orders by id; it was a second table of one row per subscriber.
DROP TRIGGER subscriber_search_insert;
DROP TRIGGER subscriber_search_delete;
DROP TRIGGER subscriber_search_update;
DROP TABLE subscriber_search;
CREATE VIRTUAL TABLE subscriber_search USING fts5(
    email_key, name_key, status UNINDEXED,
    content = 'subscribers', content_rowid = 'id', tokenize = 'trigram', columnsize = 0
);
INSERT INTO subscriber_search (subscriber_search) VALUES ('rebuild');

CREATE TRIGGER subscriber_search_insert AFTER INSERT ON subscribers
WHEN NOT EXISTS (SELECT 1 FROM search_deferred) BEGIN
    INSERT INTO subscriber_search (rowid, email_key, name_key, status)
        VALUES (new.id, new.email_key, new.name_key, new.status);
END;
CREATE TRIGGER subscriber_search_delete AFTER DELETE ON subscribers BEGIN
    INSERT INTO subscriber_search (subscriber_search, rowid, email_key, name_key, status)
        VALUES ('delete', old.id, old.email_key, old.name_key, old.status);
END;
CREATE TRIGGER subscriber_search_update AFTER UPDATE OF email_key, name_key, status ON subscribers BEGIN
    INSERT INTO subscriber_search (subscriber_search, rowid, email_key, name_key, status)
        VALUES ('delete', old.id, old.email_key, old.name_key, old.status);
    INSERT INTO subscriber_search (rowid, email_key, name_key, status)
        VALUES (new.id, new.email_key, new.name_key, new.status);
END;
