//! The one mapping from `sqlx::Error` to `StoreError`.

use sqlx::error::ErrorKind;

use patgate_store::StoreError;

// Primary SQLite result codes (the low byte of an extended code).
const SQLITE_BUSY: i64 = 5;
const SQLITE_LOCKED: i64 = 6;
const SQLITE_NOMEM: i64 = 7;
const SQLITE_IOERR: i64 = 10;
const SQLITE_FULL: i64 = 13;
const SQLITE_CANTOPEN: i64 = 14;

pub(crate) fn db_err(e: sqlx::Error) -> StoreError {
    match e {
        sqlx::Error::RowNotFound => StoreError::NotFound,
        sqlx::Error::PoolTimedOut
        | sqlx::Error::PoolClosed
        | sqlx::Error::WorkerCrashed
        | sqlx::Error::Io(_) => StoreError::Unavailable(e.to_string()),
        sqlx::Error::ColumnDecode { .. }
        | sqlx::Error::Decode(_)
        | sqlx::Error::ColumnNotFound(_)
        | sqlx::Error::ColumnIndexOutOfBounds { .. }
        | sqlx::Error::TypeNotFound { .. } => StoreError::Corrupt(e.to_string()),
        sqlx::Error::Database(ref db) => {
            match db.kind() {
                ErrorKind::UniqueViolation => {
                    let message = db.message();
                    // PostgreSQL names the constraint; SQLite names the columns in its message
                    // ("UNIQUE constraint failed: tokens.hash").
                    let what = db
                        .constraint()
                        .map(str::to_owned)
                        .or_else(|| {
                            message
                                .strip_prefix("UNIQUE constraint failed: ")
                                .map(str::to_owned)
                        })
                        .unwrap_or_else(|| message.to_owned());
                    return StoreError::UniqueViolation(what);
                }
                ErrorKind::ForeignKeyViolation => {
                    return StoreError::Conflict(format!(
                        "a referenced row does not exist: {}",
                        db.message()
                    ));
                }
                _ => {}
            }
            let primary = db
                .code()
                .and_then(|c| c.parse::<i64>().ok())
                .map(|c| c & 0xff);
            match primary {
                Some(
                    SQLITE_BUSY | SQLITE_LOCKED | SQLITE_NOMEM | SQLITE_IOERR | SQLITE_FULL
                    | SQLITE_CANTOPEN,
                ) => StoreError::Unavailable(e.to_string()),
                _ => StoreError::Backend(Box::new(e)),
            }
        }
        other => StoreError::Backend(Box::new(other)),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn plain_errors_map_to_their_kinds() {
        assert!(matches!(
            db_err(sqlx::Error::RowNotFound),
            StoreError::NotFound
        ));
        assert!(matches!(
            db_err(sqlx::Error::PoolTimedOut),
            StoreError::Unavailable(_)
        ));
        assert!(matches!(
            db_err(sqlx::Error::Io(std::io::Error::other("x"))),
            StoreError::Unavailable(_)
        ));
        assert!(matches!(
            db_err(sqlx::Error::ColumnNotFound("x".into())),
            StoreError::Corrupt(_)
        ));
        assert!(matches!(
            db_err(sqlx::Error::Protocol("x".into())),
            StoreError::Backend(_)
        ));
    }
}
