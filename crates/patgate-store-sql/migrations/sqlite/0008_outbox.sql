-- The transactional outbox: every message a change sends (an email, a webhook delivery) is a row
-- written in the same transaction as the change, and a delivery worker sends it. A dedupe key,
-- unique, makes a message at most one row however often it is enqueued; a claim (holder and
-- lease) makes one process deliver it at a time.
CREATE TABLE outbox (
    id              INTEGER PRIMARY KEY AUTOINCREMENT,
    channel         TEXT    NOT NULL CHECK (channel IN ('email', 'webhook')),
    kind            TEXT    NOT NULL,
    recipient       TEXT    NOT NULL,
    dedupe_key      TEXT    NOT NULL,
    payload         TEXT    NOT NULL,
    -- A secret the message carries (an email verification link), until it is delivered.
    secret          TEXT,
    created_at      INTEGER  NOT NULL,
    status          TEXT    NOT NULL DEFAULT 'pending' CHECK (status IN ('pending', 'sent', 'failed')),
    attempts        INTEGER  NOT NULL DEFAULT 0,
    next_attempt_at INTEGER  NOT NULL,
    claimed_by      TEXT,
    claimed_until   INTEGER,
    last_error      TEXT,
    response_code   INTEGER,
    sent_at         INTEGER
);
CREATE UNIQUE INDEX outbox_dedupe ON outbox (dedupe_key);
CREATE INDEX outbox_due ON outbox (status, next_attempt_at);
CREATE INDEX outbox_recipient ON outbox (channel, recipient, id);

CREATE TABLE outbox_attempts (
    id            INTEGER PRIMARY KEY AUTOINCREMENT,
    message_id    INTEGER NOT NULL REFERENCES outbox (id) ON DELETE CASCADE,
    attempted_at  INTEGER NOT NULL,
    outcome       TEXT   NOT NULL CHECK (outcome IN ('sent', 'failed')),
    response_code INTEGER,
    error         TEXT
);
CREATE INDEX outbox_attempts_message ON outbox_attempts (message_id, id);

-- Organization webhooks (GitHub's org hooks): personal_access_token_request events.
CREATE TABLE webhooks (
    id         INTEGER PRIMARY KEY AUTOINCREMENT,
    org_id     INTEGER NOT NULL REFERENCES accounts (id) ON DELETE CASCADE,
    url        TEXT    NOT NULL,
    -- The HMAC key of X-Hub-Signature-256: kept to sign, never shown again.
    secret     TEXT,
    events     TEXT    NOT NULL,
    active     INTEGER NOT NULL,
    created_at INTEGER NOT NULL,
    created_by INTEGER REFERENCES accounts (id) ON DELETE SET NULL
);
CREATE INDEX webhooks_org ON webhooks (org_id, id);

-- Email verification links: only the SHA-256 of the link's secret.
CREATE TABLE email_verifications (
    hash       BLOB NOT NULL PRIMARY KEY,
    user_id    INTEGER NOT NULL REFERENCES accounts (id) ON DELETE CASCADE,
    email      TEXT   NOT NULL,
    created_at INTEGER NOT NULL,
    expires_at INTEGER NOT NULL
);
CREATE INDEX email_verifications_user ON email_verifications (user_id);
