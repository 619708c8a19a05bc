-- The console's subscriber search: any part of an address or a name, fast on a million rows.
-- Trigram indexes (pg_trgm, a trusted extension since PostgreSQL 13: the database's owner may
-- create it) serve `LIKE '%part%'` on the lowercase address and name.
CREATE EXTENSION IF NOT EXISTS pg_trgm;
CREATE INDEX subscribers_email_trgm ON subscribers USING gin (email_key gin_trgm_ops);
CREATE INDEX subscribers_name_trgm ON subscribers USING gin ((lower(COALESCE(name, ''))) gin_trgm_ops);
-- A beginning of an address (the search's one- and two-character queries): byte order, whatever
-- the database's collation.
CREATE INDEX subscribers_email_prefix ON subscribers ((email_key COLLATE "C"));
