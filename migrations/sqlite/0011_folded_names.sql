-- The console's search folds names as people write them: case, accents and ß (so "weiss" finds
-- "Weiß" and "muller" finds "Müller"). `name_key` is the folded name, written by the program (no
-- SQL function folds as it does); names stored before this migration are folded by the first
-- search, found by the small index below. The trigram index covers the folded name instead of
-- the name.
ALTER TABLE subscribers ADD COLUMN name_key TEXT;
CREATE INDEX subscribers_name_key_missing ON subscribers (id) WHERE name IS NOT NULL AND name_key IS NULL;

DROP TRIGGER subscriber_search_insert;
DROP TRIGGER subscriber_search_delete;
DROP TRIGGER subscriber_search_update;
DROP TABLE subscriber_search;
CREATE VIRTUAL TABLE subscriber_search USING fts5(
    email_key, name_key, status UNINDEXED,
    content = 'subscribers', content_rowid = 'id', tokenize = 'trigram'
);
INSERT INTO subscriber_search (subscriber_search) VALUES ('rebuild');

CREATE TRIGGER subscriber_search_insert AFTER INSERT ON subscribers BEGIN
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
