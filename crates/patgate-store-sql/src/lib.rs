//! The patgate store in SQL, written once for two engines:
//!
//! * [`sqlite`]: one file, the embedded default (one server process);
//! * [`postgres`]: one database shared by many server processes (replicas).
//!
//! # How one implementation serves both
//!
//! The repositories (`src/repo/*.rs`: directory, tokens, governance, keys, audit, jobs, dump)
//! are written once, against a handful of names each engine module defines: `Db` (the sqlx
//! database), `Conn`, `Tx`, `DbRow`, `EngineStore` (the store type), `IdList` and `id_list`,
//! `db_err`, `commit`, `bump_sequence`, the store's `write_tx`, `snapshot_tx`, `read_conn`,
//! `reads`, `writes` and `notify_*` methods, and the dialect macros (`for_update!`,
//! `for_update_skip_locked!`, `serialize_on!`, `in_ids!`, `id_rows!`, `id_pairs!`). Each engine module then compiles every repository file with
//! `#[path = "../repo/<file>.rs"] mod <file>;`, so the same source becomes two sets of
//! concrete, monomorphic code, with no generic bounds over `sqlx::Database` in sight.
//!
//! The SQL is one string per statement for both engines: sqlx's SQLite driver takes
//! PostgreSQL's `$1` placeholders, both engines take `ON CONFLICT`, `RETURNING`,
//! `string_agg(... ORDER BY ...)`, `TRUE`/`FALSE` and `CAST(... AS ...)`, and a Rust `bool`
//! binds to PostgreSQL's `BOOLEAN` and SQLite's 0/1 `INTEGER` alike. What differs is in the
//! dialect macros, which expand to string literals so that `concat!` still builds each
//! statement at compile time: row locks (`FOR UPDATE`, empty on SQLite, whose one writer
//! already serialises), id lists (a PostgreSQL array, a JSON array on SQLite) and sequences
//! after an import. Each engine keeps what is truly its own: opening connections and pools,
//! migrations (`migrations/<engine>`), error codes, and on PostgreSQL the change feed
//! (`LISTEN/NOTIFY`).
//!
//! Every static statement is a named `const` declared with [`statements!`]; a test prepares
//! each of them against both engines (`repo/statements.rs`), which is what sqlx's `query!`
//! macros would check at build time (they check against one database per crate, so they would
//! need one implementation per engine again; see `docs/architecture.md`).

// Each repository file is compiled twice on purpose, once per engine (see above).
#![allow(clippy::duplicate_mod)]

/// Declares a module's static SQL statements: one `const` each, and, for the test that prepares
/// every statement against both engines, the list of them as `STATEMENTS`.
macro_rules! statements {
    ($( $(#[$doc:meta])* $vis:vis $name:ident = $sql:expr; )*) => {
        $( $(#[$doc])* $vis const $name: &str = $sql; )*
        /// Every static statement of this module, by name.
        #[cfg(test)]
        pub(super) const STATEMENTS: &[(&str, &str)] = &[$((stringify!($name), $name)),*];
    };
}

/// The store's repositories, written once, compiled into the engine module that invokes this
/// (both engines' `mod.rs` sit beside `repo/`, which the paths are relative to).
macro_rules! repositories {
    () => {
        #[path = "../repo/admin.rs"]
        mod admin;
        #[path = "../repo/audit.rs"]
        mod audit;
        #[path = "../repo/changes.rs"]
        mod changes;
        #[path = "../repo/directory.rs"]
        mod directory;
        #[path = "../repo/dump.rs"]
        mod dump;
        #[path = "../repo/governance.rs"]
        mod governance;
        #[path = "../repo/jobs.rs"]
        mod jobs;
        #[path = "../repo/keys.rs"]
        mod keys;
        #[path = "../repo/lists.rs"]
        mod lists;
        #[path = "../repo/outbox.rs"]
        mod outbox;
        #[path = "../repo/rows.rs"]
        mod rows;
        #[path = "../repo/sessions.rs"]
        mod sessions;
        #[cfg(test)]
        #[path = "../repo/statements.rs"]
        mod statements;
        #[path = "../repo/tokens.rs"]
        mod tokens;
    };
}

mod error;
pub mod postgres;
pub mod sqlite;
