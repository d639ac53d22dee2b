-- The directory API (issue 13).
--
-- Suspended users: a user with a row here cannot sign in, and every one of their tokens is
-- refused with GitHub's 403 "Sorry. Your account was suspended."; lifting the suspension
-- deletes the row and their tokens work again, as on GitHub Enterprise Server.
CREATE TABLE user_suspensions (
    user_id      INTEGER PRIMARY KEY REFERENCES accounts (id) ON DELETE CASCADE,
    suspended_at INTEGER NOT NULL
);

-- The processes serving this database (replicas), with their last heartbeat: a directory change
-- waits until each live one confirms it has forgotten what the change made stale (barriers,
-- over the change feed). Runtime state only: never dumped, and unused by SQLite's single
-- process.
CREATE TABLE replicas (
    id           TEXT    PRIMARY KEY,
    heartbeat_at INTEGER NOT NULL
);
