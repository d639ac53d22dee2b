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
    db.code()
        .and_then(|c| c.parse::<i64>().ok())
        .is_some_and(unavailable_code)
}

/// Whether an (extended) SQLite result code means "unavailable, try again".
fn unavailable_code(code: i64) -> bool {
    matches!(
        code & 0xff,
        SQLITE_BUSY | SQLITE_LOCKED | SQLITE_NOMEM | SQLITE_IOERR | SQLITE_FULL | SQLITE_CANTOPEN
    )
}

pub(crate) fn db_err(e: sqlx::Error) -> StoreError {
    crate::error::map_error(e, unavailable)
}

/// The same mapping for the hot reads' own connections (`hot.rs`): the engine's "try again"
/// codes are `Unavailable`, a row that does not decode is `Corrupt`, the rest `Backend`.
pub(crate) fn hot_err(e: rusqlite::Error) -> StoreError {
    match &e {
        rusqlite::Error::SqliteFailure(failure, _)
            if unavailable_code(i64::from(failure.extended_code)) =>
        {
            StoreError::Unavailable(e.to_string())
        }
        rusqlite::Error::FromSqlConversionFailure(..)
        | rusqlite::Error::InvalidColumnType(..)
        | rusqlite::Error::InvalidColumnName(_)
        | rusqlite::Error::IntegralValueOutOfRange(..) => StoreError::Corrupt(e.to_string()),
        _ => StoreError::Backend(Box::new(e)),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn failure(code: i32) -> rusqlite::Error {
        rusqlite::Error::SqliteFailure(rusqlite::ffi::Error::new(code), None)
    }

    #[test]
    fn a_busy_or_locked_hot_read_is_unavailable() {
        // SQLITE_BUSY, SQLITE_LOCKED and an extended code of SQLITE_IOERR (SQLITE_IOERR_READ).
        for code in [5, 6, 10 | (1 << 8)] {
            assert!(
                matches!(hot_err(failure(code)), StoreError::Unavailable(_)),
                "{code}"
            );
        }
    }

    #[test]
    fn other_hot_read_failures_are_not_unavailable() {
        // SQLITE_CORRUPT is a real failure, not "try again".
        assert!(matches!(hot_err(failure(11)), StoreError::Backend(_)));
        assert!(matches!(
            hot_err(rusqlite::Error::InvalidColumnName("id".into())),
            StoreError::Corrupt(_)
        ));
    }
}
