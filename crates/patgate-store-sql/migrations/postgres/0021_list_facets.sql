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
-- them. `grant_facet_rows` and `request_facet_rows` say what the facets are; the triggers copy
-- from them. The same as SQLite's, except that the triggers here run once per statement over
-- its transition table (a bulk review inserts 100 grants in one statement: one trigger run,
-- not 100).

CREATE TABLE grant_facets (
    grant_id          BIGINT NOT NULL REFERENCES grants (id) ON DELETE CASCADE,
    org_id            BIGINT NOT NULL,
    facet             TEXT   NOT NULL,
    access_granted_at BIGINT NOT NULL,
    PRIMARY KEY (org_id, facet, access_granted_at, grant_id)
);
CREATE INDEX grant_facets_grant_idx ON grant_facets (grant_id);

-- Only pending requests are listed, so only they have facets.
CREATE TABLE request_facets (
    request_id BIGINT NOT NULL REFERENCES token_requests (id) ON DELETE CASCADE,
    org_id     BIGINT NOT NULL,
    facet      TEXT   NOT NULL,
    created_at BIGINT NOT NULL,
    PRIMARY KEY (org_id, facet, created_at, request_id)
);
CREATE INDEX request_facets_request_idx ON request_facets (request_id);

-- The facets of some grants, and of some pending requests: functions of the ids rather than
-- views, because PostgreSQL does not push a semi-join (`WHERE id IN (SELECT ...)`) into the
-- branches of a `UNION ALL` view: a trigger filtering a view would compute the facets of every
-- grant. The stored permission set is `name:level,name:level`; each entry gives a facet for its
-- level and every level below it.
CREATE FUNCTION grant_facet_rows(ids BIGINT[])
RETURNS TABLE (grant_id BIGINT, org_id BIGINT, facet TEXT, access_granted_at BIGINT)
LANGUAGE sql STABLE AS $$
    SELECT g.id, g.org_id, split_part(p.entry, ':', 1) || ':' || l.level, g.access_granted_at
    FROM grants g
    JOIN tokens t ON t.id = g.token_id
    CROSS JOIN LATERAL unnest(string_to_array(t.granted_permissions, ',')) AS p (entry)
    JOIN (VALUES ('read', 1), ('write', 2), ('admin', 3)) AS l (level, rank)
        ON l.rank <= CASE split_part(p.entry, ':', 2)
            WHEN 'admin' THEN 3 WHEN 'write' THEN 2 ELSE 1 END
    WHERE g.id = ANY (ids) AND p.entry <> ''
    UNION ALL
    SELECT g.id, g.org_id, 'repositories:all', g.access_granted_at
    FROM grants g JOIN tokens t ON t.id = g.token_id
    WHERE g.id = ANY (ids) AND t.granted_selection = 'all'
    UNION ALL
    SELECT g.id, g.org_id, 'repository:' || tr.repo_id, g.access_granted_at
    FROM grants g
    JOIN tokens t ON t.id = g.token_id
    JOIN token_repositories tr ON tr.token_id = g.token_id AND tr.granted
    WHERE g.id = ANY (ids) AND t.granted_selection = 'subset'
$$;

CREATE FUNCTION request_facet_rows(ids BIGINT[])
RETURNS TABLE (request_id BIGINT, org_id BIGINT, facet TEXT, created_at BIGINT)
LANGUAGE sql STABLE AS $$
    SELECT r.id, r.org_id, split_part(p.entry, ':', 1) || ':' || l.level, r.created_at
    FROM token_requests r
    CROSS JOIN LATERAL unnest(string_to_array(r.requested_permissions, ',')) AS p (entry)
    JOIN (VALUES ('read', 1), ('write', 2), ('admin', 3)) AS l (level, rank)
        ON l.rank <= CASE split_part(p.entry, ':', 2)
            WHEN 'admin' THEN 3 WHEN 'write' THEN 2 ELSE 1 END
    WHERE r.id = ANY (ids) AND r.status = 'pending' AND p.entry <> ''
    UNION ALL
    SELECT r.id, r.org_id, 'repositories:all', r.created_at
    FROM token_requests r
    WHERE r.id = ANY (ids) AND r.status = 'pending' AND r.requested_selection = 'all'
    UNION ALL
    SELECT r.id, r.org_id, 'repository:' || rr.repo_id, r.created_at
    FROM token_requests r JOIN request_repositories rr ON rr.request_id = r.id
    WHERE r.id = ANY (ids) AND r.status = 'pending' AND r.requested_selection = 'subset'
$$;

-- What the facets are, whole (as SQLite's views of the same names): for the tests that compare.
CREATE VIEW grant_facet_source AS
    SELECT * FROM grant_facet_rows(ARRAY(SELECT id FROM grants));
CREATE VIEW request_facet_source AS
    SELECT * FROM request_facet_rows(ARRAY(SELECT id FROM token_requests));

CREATE FUNCTION grant_facets_on_grant() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    INSERT INTO grant_facets (grant_id, org_id, facet, access_granted_at)
        SELECT * FROM grant_facet_rows(ARRAY(SELECT id FROM inserted_grants))
        ON CONFLICT DO NOTHING;
    RETURN NULL;
END $$;
CREATE TRIGGER grant_facets_on_grant AFTER INSERT ON grants
    REFERENCING NEW TABLE AS inserted_grants
    FOR EACH STATEMENT EXECUTE FUNCTION grant_facets_on_grant();

-- Once per statement too (a bulk review updates 100 tokens in one): a row-level trigger would
-- plan the facet query once per token. Transition tables rule out a column list, so it runs
-- for every update of tokens, and looks for the rows whose granted access changed.
CREATE FUNCTION grant_facets_on_token() RETURNS trigger LANGUAGE plpgsql AS $$
DECLARE
    ids BIGINT[] := ARRAY(
        SELECT g.id FROM updated_new n
        JOIN updated_old o ON o.id = n.id
        JOIN grants g ON g.token_id = n.id
        WHERE n.granted_permissions IS DISTINCT FROM o.granted_permissions
            OR n.granted_selection IS DISTINCT FROM o.granted_selection);
BEGIN
    IF cardinality(ids) = 0 THEN
        RETURN NULL;
    END IF;
    DELETE FROM grant_facets WHERE grant_id = ANY (ids);
    INSERT INTO grant_facets (grant_id, org_id, facet, access_granted_at)
        SELECT * FROM grant_facet_rows(ids)
        ON CONFLICT DO NOTHING;
    RETURN NULL;
END $$;
CREATE TRIGGER grant_facets_on_token AFTER UPDATE ON tokens
    REFERENCING OLD TABLE AS updated_old NEW TABLE AS updated_new
    FOR EACH STATEMENT EXECUTE FUNCTION grant_facets_on_token();

CREATE FUNCTION grant_facets_on_repository_added() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    INSERT INTO grant_facets (grant_id, org_id, facet, access_granted_at)
        SELECT g.id, g.org_id, 'repository:' || a.repo_id, g.access_granted_at
        FROM added_repositories a
        JOIN grants g ON g.token_id = a.token_id
        JOIN tokens t ON t.id = g.token_id
        WHERE a.granted AND t.granted_selection = 'subset'
        ON CONFLICT DO NOTHING;
    RETURN NULL;
END $$;
CREATE TRIGGER grant_facets_on_repository_added AFTER INSERT ON token_repositories
    REFERENCING NEW TABLE AS added_repositories
    FOR EACH STATEMENT EXECUTE FUNCTION grant_facets_on_repository_added();

CREATE FUNCTION grant_facets_on_repository_removed() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    DELETE FROM grant_facets f
        USING removed_repositories d, grants g
        WHERE d.granted AND g.token_id = d.token_id AND f.grant_id = g.id
            AND f.facet = 'repository:' || d.repo_id;
    RETURN NULL;
END $$;
CREATE TRIGGER grant_facets_on_repository_removed AFTER DELETE ON token_repositories
    REFERENCING OLD TABLE AS removed_repositories
    FOR EACH STATEMENT EXECUTE FUNCTION grant_facets_on_repository_removed();

CREATE FUNCTION request_facets_on_request() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    INSERT INTO request_facets (request_id, org_id, facet, created_at)
        SELECT * FROM request_facet_rows(
            ARRAY(SELECT id FROM inserted_requests WHERE status = 'pending'))
        ON CONFLICT DO NOTHING;
    RETURN NULL;
END $$;
CREATE TRIGGER request_facets_on_request AFTER INSERT ON token_requests
    REFERENCING NEW TABLE AS inserted_requests
    FOR EACH STATEMENT EXECUTE FUNCTION request_facets_on_request();

CREATE FUNCTION request_facets_on_status() RETURNS trigger LANGUAGE plpgsql AS $$
DECLARE
    ids BIGINT[] := ARRAY(
        SELECT n.id FROM updated_new n JOIN updated_old o ON o.id = n.id
        WHERE n.status IS DISTINCT FROM o.status);
BEGIN
    IF cardinality(ids) = 0 THEN
        RETURN NULL;
    END IF;
    DELETE FROM request_facets WHERE request_id = ANY (ids);
    INSERT INTO request_facets (request_id, org_id, facet, created_at)
        SELECT * FROM request_facet_rows(ids)
        ON CONFLICT DO NOTHING;
    RETURN NULL;
END $$;
CREATE TRIGGER request_facets_on_status AFTER UPDATE ON token_requests
    REFERENCING OLD TABLE AS updated_old NEW TABLE AS updated_new
    FOR EACH STATEMENT EXECUTE FUNCTION request_facets_on_status();

CREATE FUNCTION request_facets_on_repository_added() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    INSERT INTO request_facets (request_id, org_id, facet, created_at)
        SELECT r.id, r.org_id, 'repository:' || a.repo_id, r.created_at
        FROM added_repositories a JOIN token_requests r ON r.id = a.request_id
        WHERE r.status = 'pending' AND r.requested_selection = 'subset'
        ON CONFLICT DO NOTHING;
    RETURN NULL;
END $$;
CREATE TRIGGER request_facets_on_repository_added AFTER INSERT ON request_repositories
    REFERENCING NEW TABLE AS added_repositories
    FOR EACH STATEMENT EXECUTE FUNCTION request_facets_on_repository_added();

CREATE FUNCTION request_facets_on_repository_removed() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    DELETE FROM request_facets f
        USING removed_repositories d
        WHERE f.request_id = d.request_id AND f.facet = 'repository:' || d.repo_id;
    RETURN NULL;
END $$;
CREATE TRIGGER request_facets_on_repository_removed AFTER DELETE ON request_repositories
    REFERENCING OLD TABLE AS removed_repositories
    FOR EACH STATEMENT EXECUTE FUNCTION request_facets_on_repository_removed();

-- What is already there.
INSERT INTO grant_facets (grant_id, org_id, facet, access_granted_at)
    SELECT grant_id, org_id, facet, access_granted_at FROM grant_facet_source;
INSERT INTO request_facets (request_id, org_id, facet, created_at)
    SELECT request_id, org_id, facet, created_at FROM request_facet_source;
