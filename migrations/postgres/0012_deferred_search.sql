-- The SQLite side of this migration lets an import write the search index once, after its rows.
-- PostgreSQL needs no schema for that: an import into a small list drops the trigram indexes and
-- builds them again before it commits (src/store/import.rs). This file keeps the two backends'
-- migration numbers in step.
SELECT 1;
