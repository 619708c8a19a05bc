-- The console's subscriber search: any part of an address or a name, fast on a million rows.
-- An FTS5 index of trigrams over the subscribers table itself (external content: the text is
-- not stored twice, and forgetting a subscriber removes it from the index with the row). Queries
-- of three characters or more use it; shorter ones scan in id order until a page is full.
CREATE VIRTUAL TABLE subscriber_search USING fts5(
    email_key, name, status UNINDEXED,
    content = 'subscribers', content_rowid = 'id', tokenize = 'trigram'
);
INSERT INTO subscriber_search (subscriber_search) VALUES ('rebuild');

CREATE TRIGGER subscriber_search_insert AFTER INSERT ON subscribers BEGIN
    INSERT INTO subscriber_search (rowid, email_key, name, status)
        VALUES (new.id, new.email_key, new.name, new.status);
END;
CREATE TRIGGER subscriber_search_delete AFTER DELETE ON subscribers BEGIN
    INSERT INTO subscriber_search (subscriber_search, rowid, email_key, name, status)
        VALUES ('delete', old.id, old.email_key, old.name, old.status);
END;
CREATE TRIGGER subscriber_search_update AFTER UPDATE OF email_key, name, status ON subscribers BEGIN
    INSERT INTO subscriber_search (subscriber_search, rowid, email_key, name, status)
        VALUES ('delete', old.id, old.email_key, old.name, old.status);
    INSERT INTO subscriber_search (rowid, email_key, name, status)
        VALUES (new.id, new.email_key, new.name, new.status);
END;
