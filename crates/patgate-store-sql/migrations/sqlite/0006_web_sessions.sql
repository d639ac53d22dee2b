-- Web sessions of the UI's sign-in. The browser's cookie holds a random secret; only its
-- SHA-256 is kept here (as for tokens), so a copy of the database signs nobody in.
CREATE TABLE web_sessions (
    id           INTEGER PRIMARY KEY AUTOINCREMENT,
    hash         BLOB    NOT NULL,
    user_id      INTEGER NOT NULL REFERENCES accounts (id) ON DELETE CASCADE,
    created_at   INTEGER NOT NULL,
    last_seen_at INTEGER NOT NULL,
    expires_at   INTEGER NOT NULL,
    user_agent   TEXT,
    ip           TEXT
);
CREATE UNIQUE INDEX web_sessions_hash ON web_sessions (hash);
CREATE INDEX web_sessions_user ON web_sessions (user_id, last_seen_at);
CREATE INDEX web_sessions_expiry ON web_sessions (expires_at);
