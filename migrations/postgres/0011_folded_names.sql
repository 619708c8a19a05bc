-- The console's search folds names as people write them: case, accents and ß (so "weiss" finds
-- "Weiß" and "muller" finds "Müller"). `name_key` is the folded name, written by the program;
-- names stored before this migration are folded by the first search, found by the small index
-- below. The trigram index covers the folded name instead of the lowercase name.
ALTER TABLE subscribers ADD COLUMN name_key TEXT;
CREATE INDEX subscribers_name_key_missing ON subscribers (id) WHERE name IS NOT NULL AND name_key IS NULL;
DROP INDEX subscribers_name_trgm;
CREATE INDEX subscribers_name_key_trgm ON subscribers USING gin (name_key gin_trgm_ops);
