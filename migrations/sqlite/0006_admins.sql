-- The administrators' console: accounts, their sessions, and the audit log of every admin action.
CREATE TABLE admins (
    id            INTEGER PRIMARY KEY AUTOINCREMENT,
    email         TEXT    NOT NULL UNIQUE,          -- lowercase
    role          TEXT    NOT NULL CHECK (role IN ('admin', 'editor')),
    password_hash TEXT    NOT NULL,                 -- argon2id, PHC string
    created_at    INTEGER NOT NULL
);
-- A session is known by the SHA-256 of its cookie, so the table holds nothing that logs anyone in.
CREATE TABLE admin_sessions (
    id_hash       TEXT    PRIMARY KEY,
    admin_id      INTEGER NOT NULL REFERENCES admins (id) ON DELETE CASCADE,
    csrf          TEXT    NOT NULL,
    created_at    INTEGER NOT NULL,
    last_seen     INTEGER NOT NULL
);
CREATE TABLE admin_audit (
    id            INTEGER PRIMARY KEY AUTOINCREMENT,
    admin_email   TEXT,
    action        TEXT    NOT NULL,
    detail        TEXT,
    ip            TEXT,
    at            INTEGER NOT NULL
);
CREATE INDEX admin_audit_at ON admin_audit (at);
