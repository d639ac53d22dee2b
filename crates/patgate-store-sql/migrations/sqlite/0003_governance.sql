-- patgate schema, version 3: organization governance (issue 4) — approval requests, grants and
-- registered apps. Portable as 0001 is (PostgreSQL's 0003 is the same translated).
--
-- Requests, grants and tokens have distinct ids (GitHub's `pat_request_id`, `pat_id` and
-- `token_id`): each table has its own sequence. The store keeps the rows in step with the
-- tokens (patgate-store::governance): a grant row exists exactly while its token is
-- fine-grained, organization-owned and approved with granted access; a token has at most one
-- pending request.

CREATE TABLE token_requests (
    id                    INTEGER PRIMARY KEY AUTOINCREMENT,
    token_id              INTEGER NOT NULL REFERENCES tokens (id) ON DELETE CASCADE,
    org_id                INTEGER NOT NULL REFERENCES accounts (id) ON DELETE CASCADE,
    -- The token's user.
    user_id               INTEGER NOT NULL REFERENCES accounts (id) ON DELETE CASCADE,
    -- The requester's justification.
    reason                TEXT,
    -- The access asked for, as it was when the request was made (the repositories of a
    -- `subset` selection are rows of request_repositories).
    requested_selection   TEXT    NOT NULL CHECK (requested_selection IN ('none', 'subset', 'all')),
    requested_permissions TEXT    NOT NULL,
    created_at            INTEGER NOT NULL,
    status                TEXT    NOT NULL CHECK (status IN ('pending', 'approved', 'denied', 'cancelled')),
    -- Set when the request leaves `pending` (decided_by: the reviewer, NULL for a cancellation
    -- or an app acting on its own).
    decided_at            INTEGER,
    decided_by            INTEGER REFERENCES accounts (id) ON DELETE SET NULL,
    decision_reason       TEXT,
    CHECK ((status = 'pending') = (decided_at IS NULL))
);
CREATE INDEX token_requests_org_idx ON token_requests (org_id, status, created_at);
CREATE INDEX token_requests_token_idx ON token_requests (token_id);
-- At most one pending request per token.
CREATE UNIQUE INDEX token_requests_pending_key ON token_requests (token_id) WHERE status = 'pending';

CREATE TABLE request_repositories (
    request_id INTEGER NOT NULL REFERENCES token_requests (id) ON DELETE CASCADE,
    repo_id    INTEGER NOT NULL REFERENCES repositories (id) ON DELETE CASCADE,
    PRIMARY KEY (request_id, repo_id)
);
CREATE INDEX request_repositories_repo_idx ON request_repositories (repo_id);

-- One per token whose access to its organization is in force.
CREATE TABLE grants (
    id                INTEGER PRIMARY KEY AUTOINCREMENT,
    token_id          INTEGER NOT NULL REFERENCES tokens (id) ON DELETE CASCADE,
    org_id            INTEGER NOT NULL REFERENCES accounts (id) ON DELETE CASCADE,
    access_granted_at INTEGER NOT NULL,
    CONSTRAINT grants_token_key UNIQUE (token_id)
);
CREATE INDEX grants_org_idx ON grants (org_id, access_granted_at);

-- Apps an organization registered; names are unique per organization, case-insensitively
-- (name_lower is computed by the backend, as for logins).
CREATE TABLE apps (
    id          INTEGER PRIMARY KEY AUTOINCREMENT,
    org_id      INTEGER NOT NULL REFERENCES accounts (id) ON DELETE CASCADE,
    name        TEXT    NOT NULL,
    name_lower  TEXT    NOT NULL,
    permissions TEXT    NOT NULL,
    created_by  INTEGER REFERENCES accounts (id) ON DELETE SET NULL,
    created_at  INTEGER NOT NULL,
    CONSTRAINT apps_org_name_key UNIQUE (org_id, name_lower)
);

-- Tokens stored before this version: grants for the approved organization tokens (granted when
-- created, the best time known), and pending requests for those awaiting review: tokens in
-- state `pending`, and approved tokens that ask for more than they were granted (an edit
-- awaiting review), dated when the token was created.
INSERT INTO grants (token_id, org_id, access_granted_at)
SELECT id, resource_owner_id, created_at FROM tokens
WHERE kind = 'fine_grained' AND resource_owner_kind = 'organization'
  AND grant_state = 'approved' AND granted_selection IS NOT NULL
ORDER BY id;

INSERT INTO token_requests (token_id, org_id, user_id, reason, requested_selection,
                            requested_permissions, created_at, status)
SELECT t.id, t.resource_owner_id, t.user_id, t.justification, t.requested_selection,
       t.requested_permissions, t.created_at, 'pending'
FROM tokens t
WHERE t.kind = 'fine_grained' AND t.resource_owner_kind = 'organization'
  AND (t.grant_state = 'pending'
       OR (t.grant_state = 'approved'
           AND (t.granted_selection IS NULL
                OR t.granted_selection <> t.requested_selection
                OR t.granted_permissions <> t.requested_permissions
                OR EXISTS (SELECT repo_id FROM token_repositories
                           WHERE token_id = t.id AND granted = 0
                           EXCEPT
                           SELECT repo_id FROM token_repositories
                           WHERE token_id = t.id AND granted = 1)
                OR EXISTS (SELECT repo_id FROM token_repositories
                           WHERE token_id = t.id AND granted = 1
                           EXCEPT
                           SELECT repo_id FROM token_repositories
                           WHERE token_id = t.id AND granted = 0))))
ORDER BY t.id;

INSERT INTO request_repositories (request_id, repo_id)
SELECT r.id, tr.repo_id FROM token_requests r
JOIN token_repositories tr ON tr.token_id = r.token_id AND tr.granted = 0
WHERE r.requested_selection = 'subset';
