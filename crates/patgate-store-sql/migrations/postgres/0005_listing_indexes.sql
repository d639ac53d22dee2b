-- patgate schema, version 5: the indexes the governance listings page with (issue 9;
-- `src/repo/lists.rs`, measured in docs/benchmarks.md, "A large organization"). The same on
-- both engines. Numbered 5 although 0006 and later came first: sqlx applies every version a
-- database has not recorded, in order, so a database at 0020 takes this one next.
--
-- An organization's pending requests, newest or oldest first, ties by id: the page is the
-- first rows of the index (PostgreSQL needs the id in it; SQLite has it as the rowid).
CREATE INDEX token_requests_org_page_idx ON token_requests (org_id, status, created_at, id);
DROP INDEX token_requests_org_idx;
-- ... of some owners (owner[]=).
CREATE INDEX token_requests_org_user_idx ON token_requests (org_id, status, user_id, created_at);
-- An organization's grants, by time granted then id.
CREATE INDEX grants_org_page_idx ON grants (org_id, access_granted_at, id);
DROP INDEX grants_org_idx;
