-- patgate schema, version 4: a user's fine-grained token names are unique, case-insensitively,
-- and the unique index says so, so that concurrent creations cannot both take a name.
--
-- name_folded is the name folded by patgate_store::codec::fold (in Rust: SQLite's lower() folds
-- ASCII only), set for fine-grained tokens and NULL for the other kinds (NULLs never collide).
-- Rows stored before this version are folded by the store right after the migrations run
-- (Store::migrate), which renames the later of two tokens that share a folded name
-- (`name (2)`, ...), in id order; until then they are NULL and collide with nothing.
ALTER TABLE tokens ADD COLUMN name_folded TEXT;
CREATE UNIQUE INDEX tokens_user_name_key ON tokens (user_id, kind, name_folded);
