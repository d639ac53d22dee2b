//! PostgreSQL's error codes that mean "unavailable, try again" (the rest of the mapping is
//! `crate::error`'s): SQLSTATE classes `08` connection exception and `53` insufficient
//! resources, `57P01` admin shutdown, `57P02` crash shutdown, `57P03` cannot connect now,
//! `57014` statement timeout, and `40001` serialization failure and `40P01` deadlock (retry).

use sqlx::error::DatabaseError;

use patgate_store::StoreError;

fn unavailable(db: &dyn DatabaseError) -> bool {
    let code = db.code().map(|c| c.into_owned()).unwrap_or_default();
    matches!(
        code.as_str(),
        "57P01" | "57P02" | "57P03" | "57014" | "40001" | "40P01"
    ) || code.starts_with("08")
        || code.starts_with("53")
}

pub(crate) fn db_err(e: sqlx::Error) -> StoreError {
    crate::error::map_error(e, unavailable)
}
