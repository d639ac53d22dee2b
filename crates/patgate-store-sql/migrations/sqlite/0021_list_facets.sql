-- patgate schema, version 21: what the organization's lists filter on, beside the rows they
-- page, so that a filtered page and its count are index ranges (issue 9; `src/repo/lists.rs`,
-- docs/benchmarks.md "A large organization").
--
-- A facet is one thing a filter can ask of a grant or of a pending request:
--   `<permission>:<level>` for each level the access reaches (`contents:write` gives
--                          `contents:read` and `contents:write`), so `permission=` is one
--                          equality whatever the level asked;
--   `repositories:all`     for a selection of all repositories;
--   `repository:<id>`      for each repository of a `subset` selection.
-- The facets are derived data, like an index: triggers keep them equal to what the grants,
-- requests, tokens and repository rows say, whichever path writes those (the change sets, the
-- dump import, the directory's batches, cascades), and the dump neither exports nor imports
-- them. `*_facet_source` says what the facets are; the triggers copy from it.

CREATE TABLE grant_facets (
    grant_id          INTEGER NOT NULL REFERENCES grants (id) ON DELETE CASCADE,
    org_id            INTEGER NOT NULL,
    facet             TEXT    NOT NULL,
    access_granted_at INTEGER NOT NULL,
    PRIMARY KEY (org_id, facet, access_granted_at, grant_id)
) WITHOUT ROWID;
CREATE INDEX grant_facets_grant_idx ON grant_facets (grant_id);

-- Only pending requests are listed, so only they have facets.
CREATE TABLE request_facets (
    request_id INTEGER NOT NULL REFERENCES token_requests (id) ON DELETE CASCADE,
    org_id     INTEGER NOT NULL,
    facet      TEXT    NOT NULL,
    created_at INTEGER NOT NULL,
    PRIMARY KEY (org_id, facet, created_at, request_id)
) WITHOUT ROWID;
CREATE INDEX request_facets_request_idx ON request_facets (request_id);

-- The stored permission set is `name:level,name:level` (names are `[a-z_]`): as a JSON array,
-- one element per entry; each entry gives a facet for its level and every level below it.
CREATE VIEW grant_facet_source (grant_id, org_id, facet, access_granted_at) AS
    SELECT g.id, g.org_id, substr(p.value, 1, instr(p.value, ':')) || l.level, g.access_granted_at
    FROM grants g
    JOIN tokens t ON t.id = g.token_id
    JOIN json_each('["' || replace(t.granted_permissions, ',', '","') || '"]') p
    JOIN (SELECT 'read' AS level, 1 AS rank UNION ALL SELECT 'write', 2 UNION ALL SELECT 'admin', 3) l
        ON l.rank <= CASE substr(p.value, instr(p.value, ':') + 1)
            WHEN 'admin' THEN 3 WHEN 'write' THEN 2 ELSE 1 END
    WHERE t.granted_permissions <> ''
    UNION ALL
    SELECT g.id, g.org_id, 'repositories:all', g.access_granted_at
    FROM grants g JOIN tokens t ON t.id = g.token_id
    WHERE t.granted_selection = 'all'
    UNION ALL
    SELECT g.id, g.org_id, 'repository:' || tr.repo_id, g.access_granted_at
    FROM grants g
    JOIN tokens t ON t.id = g.token_id
    JOIN token_repositories tr ON tr.token_id = g.token_id AND tr.granted = 1
    WHERE t.granted_selection = 'subset';

CREATE VIEW request_facet_source (request_id, org_id, facet, created_at) AS
    SELECT r.id, r.org_id, substr(p.value, 1, instr(p.value, ':')) || l.level, r.created_at
    FROM token_requests r
    JOIN json_each('["' || replace(r.requested_permissions, ',', '","') || '"]') p
    JOIN (SELECT 'read' AS level, 1 AS rank UNION ALL SELECT 'write', 2 UNION ALL SELECT 'admin', 3) l
        ON l.rank <= CASE substr(p.value, instr(p.value, ':') + 1)
            WHEN 'admin' THEN 3 WHEN 'write' THEN 2 ELSE 1 END
    WHERE r.status = 'pending' AND r.requested_permissions <> ''
    UNION ALL
    SELECT r.id, r.org_id, 'repositories:all', r.created_at
    FROM token_requests r
    WHERE r.status = 'pending' AND r.requested_selection = 'all'
    UNION ALL
    SELECT r.id, r.org_id, 'repository:' || rr.repo_id, r.created_at
    FROM token_requests r JOIN request_repositories rr ON rr.request_id = r.id
    WHERE r.status = 'pending' AND r.requested_selection = 'subset';

CREATE TRIGGER grant_facets_on_grant AFTER INSERT ON grants BEGIN
    INSERT OR IGNORE INTO grant_facets (grant_id, org_id, facet, access_granted_at)
        SELECT grant_id, org_id, facet, access_granted_at FROM grant_facet_source
        WHERE grant_id = NEW.id;
END;

CREATE TRIGGER grant_facets_on_token AFTER UPDATE OF granted_permissions, granted_selection ON tokens
WHEN OLD.granted_permissions IS NOT NEW.granted_permissions
    OR OLD.granted_selection IS NOT NEW.granted_selection
BEGIN
    DELETE FROM grant_facets WHERE grant_id IN (SELECT id FROM grants WHERE token_id = NEW.id);
    INSERT OR IGNORE INTO grant_facets (grant_id, org_id, facet, access_granted_at)
        SELECT grant_id, org_id, facet, access_granted_at FROM grant_facet_source
        WHERE grant_id IN (SELECT id FROM grants WHERE token_id = NEW.id);
END;

CREATE TRIGGER grant_facets_on_repository_added AFTER INSERT ON token_repositories
WHEN NEW.granted = 1
BEGIN
    INSERT OR IGNORE INTO grant_facets (grant_id, org_id, facet, access_granted_at)
        SELECT g.id, g.org_id, 'repository:' || NEW.repo_id, g.access_granted_at
        FROM grants g JOIN tokens t ON t.id = g.token_id
        WHERE g.token_id = NEW.token_id AND t.granted_selection = 'subset';
END;

CREATE TRIGGER grant_facets_on_repository_removed AFTER DELETE ON token_repositories
WHEN OLD.granted = 1
BEGIN
    DELETE FROM grant_facets
    WHERE grant_id IN (SELECT id FROM grants WHERE token_id = OLD.token_id)
        AND facet = 'repository:' || OLD.repo_id;
END;

CREATE TRIGGER request_facets_on_request AFTER INSERT ON token_requests
WHEN NEW.status = 'pending'
BEGIN
    INSERT OR IGNORE INTO request_facets (request_id, org_id, facet, created_at)
        SELECT request_id, org_id, facet, created_at FROM request_facet_source
        WHERE request_id = NEW.id;
END;

CREATE TRIGGER request_facets_on_status AFTER UPDATE OF status ON token_requests
WHEN OLD.status IS NOT NEW.status
BEGIN
    DELETE FROM request_facets WHERE request_id = NEW.id;
    INSERT OR IGNORE INTO request_facets (request_id, org_id, facet, created_at)
        SELECT request_id, org_id, facet, created_at FROM request_facet_source
        WHERE request_id = NEW.id;
END;

CREATE TRIGGER request_facets_on_repository_added AFTER INSERT ON request_repositories BEGIN
    INSERT OR IGNORE INTO request_facets (request_id, org_id, facet, created_at)
        SELECT r.id, r.org_id, 'repository:' || NEW.repo_id, r.created_at
        FROM token_requests r
        WHERE r.id = NEW.request_id AND r.status = 'pending' AND r.requested_selection = 'subset';
END;

CREATE TRIGGER request_facets_on_repository_removed AFTER DELETE ON request_repositories BEGIN
    DELETE FROM request_facets
    WHERE request_id = OLD.request_id AND facet = 'repository:' || OLD.repo_id;
END;

-- What is already there.
INSERT INTO grant_facets (grant_id, org_id, facet, access_granted_at)
    SELECT grant_id, org_id, facet, access_granted_at FROM grant_facet_source;
INSERT INTO request_facets (request_id, org_id, facet, created_at)
    SELECT request_id, org_id, facet, created_at FROM request_facet_source;
