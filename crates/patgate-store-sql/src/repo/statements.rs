//! Every static statement of the store, prepared against this engine's migrated schema: the
//! check sqlx's `query!` macros would make at build time, made here for both engines from one
//! list (see `docs/architecture.md`, "Why not `query!`"). A statement that names a missing
//! table or column, or whose parameter types PostgreSQL cannot infer, fails here.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use patgate_store::Store;
use sqlx::{Executor, SqlSafeStr};

/// Every module's statements, as `(module, name, sql)`.
fn all() -> Vec<(&'static str, &'static str, &'static str)> {
    let modules: [(&str, &[(&str, &str)]); 12] = [
        ("admin", super::admin::STATEMENTS),
        ("audit", super::audit::STATEMENTS),
        ("changes", super::changes::STATEMENTS),
        ("directory", super::directory::STATEMENTS),
        ("dump", super::dump::STATEMENTS),
        ("governance", super::governance::STATEMENTS),
        ("jobs", super::jobs::STATEMENTS),
        ("keys", super::keys::STATEMENTS),
        ("lists", super::lists::STATEMENTS),
        ("outbox", super::outbox::STATEMENTS),
        ("sessions", super::sessions::STATEMENTS),
        ("tokens", super::tokens::STATEMENTS),
    ];
    modules
        .into_iter()
        .flat_map(|(module, list)| list.iter().map(move |(name, sql)| (module, *name, *sql)))
        .collect()
}

#[tokio::test]
async fn every_static_statement_prepares() {
    let Some((store, _guard)) = super::test_store().await else {
        return;
    };
    let mut conn = store.read_conn().await.unwrap();
    let statements = all();
    assert!(statements.len() > 100, "the list is complete");
    let mut failures = Vec::new();
    for (module, name, sql) in &statements {
        if let Err(e) = (&mut *conn).prepare(sql.into_sql_str()).await {
            failures.push(format!("{module}::{name}: {e}\n    {sql}"));
        }
    }
    assert!(
        failures.is_empty(),
        "statements that do not prepare on {}:\n{}",
        store.backend(),
        failures.join("\n")
    );
}

/// The statements built at run time (batches, and the listings with every filter) run, with
/// sample values, each in a transaction rolled back
/// afterwards: preparing them alone would not do on PostgreSQL, which types a `VALUES` list by
/// the values bound. Rows that name nothing that exists may break a foreign key; that is the
/// data, not the statement; so may two sample rows that repeat a key.
#[tokio::test]
async fn every_batch_statement_runs() {
    let Some((store, _guard)) = super::test_store().await else {
        return;
    };
    let built = [
        super::audit::batch_statements(),
        super::changes::batch_statements(),
        super::lists::batch_statements(),
        super::outbox::batch_statements(),
        super::tokens::batch_statements(),
    ];
    let mut failures = Vec::new();
    for (name, mut q) in built.into_iter().flatten() {
        let mut tx = store.write_tx().await.unwrap();
        match q.build().execute(&mut *tx).await {
            Ok(_) => {}
            Err(sqlx::Error::Database(e))
                if matches!(
                    e.kind(),
                    sqlx::error::ErrorKind::ForeignKeyViolation
                        | sqlx::error::ErrorKind::UniqueViolation
                ) => {}
            Err(e) => failures.push(format!("{name}: {e}\n    {}", q.sql().as_str())),
        }
        tx.rollback().await.unwrap();
    }
    assert!(
        failures.is_empty(),
        "batch statements that do not run on {}:\n{}",
        store.backend(),
        failures.join("\n")
    );
}

/// The repository sources, to check that every statement is one of the named ones above.
const SOURCES: [(&str, &str); 12] = [
    ("audit.rs", include_str!("audit.rs")),
    ("changes.rs", include_str!("changes.rs")),
    ("directory.rs", include_str!("directory.rs")),
    ("dump.rs", include_str!("dump.rs")),
    ("governance.rs", include_str!("governance.rs")),
    ("jobs.rs", include_str!("jobs.rs")),
    ("keys.rs", include_str!("keys.rs")),
    ("lists.rs", include_str!("lists.rs")),
    ("rows.rs", include_str!("rows.rs")),
    ("outbox.rs", include_str!("outbox.rs")),
    ("sessions.rs", include_str!("sessions.rs")),
    ("tokens.rs", include_str!("tokens.rs")),
];

#[test]
fn no_statement_is_written_inline() {
    let inline = ["query(\"", "query_as(\"", "query_scalar(\"", "(concat!("];
    let mut found = Vec::new();
    for (file, source) in SOURCES {
        // The code without comments and whitespace, so that a call split over lines is seen.
        let code: String = source
            .lines()
            .map(|line| line.split("//").next().unwrap_or_default())
            .collect::<String>()
            .split_whitespace()
            .collect();
        for pattern in inline {
            for (at, _) in code.match_indices(pattern) {
                let end = (at + 60).min(code.len());
                found.push(format!("{file}: {}", code.get(at..end).unwrap_or(pattern)));
            }
        }
    }
    assert!(
        found.is_empty(),
        "declare these statements in the module's `statements!` block:\n{}",
        found.join("\n")
    );
}
