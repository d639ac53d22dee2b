//! SQLite's error codes that mean "unavailable, try again" (the rest of the mapping is
//! `crate::error`'s).

use sqlx::error::DatabaseError;

use patgate_store::StoreError;

// Primary SQLite result codes (the low byte of an extended code).
const SQLITE_BUSY: i64 = 5;
const SQLITE_LOCKED: i64 = 6;
const SQLITE_NOMEM: i64 = 7;
const SQLITE_IOERR: i64 = 10;
const SQLITE_FULL: i64 = 13;
const SQLITE_CANTOPEN: i64 = 14;

fn unavailable(db: &dyn DatabaseError) -> bool {
    let primary = db
        .code()
        .and_then(|c| c.parse::<i64>().ok())
        .map(|c| c & 0xff);
    matches!(
        primary,
        Some(
            SQLITE_BUSY
                | SQLITE_LOCKED
                | SQLITE_NOMEM
                | SQLITE_IOERR
                | SQLITE_FULL
                | SQLITE_CANTOPEN
        )
    )
}

pub(crate) fn db_err(e: sqlx::Error) -> StoreError {
    crate::error::map_error(e, unavailable)
}
