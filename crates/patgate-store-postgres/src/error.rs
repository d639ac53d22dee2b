//! The one mapping from `sqlx::Error` to `StoreError`.
//!
//! * the database is unreachable, restarting or overloaded (I/O errors, pool timeouts, SQLSTATE
//!   classes `08` connection exception and `53` insufficient resources, `57P01` admin shutdown,
//!   `57P02` crash shutdown, `57P03` cannot connect now, `57014` statement timeout) →
//!   `Unavailable`, which the server answers with 503;
//! * `40001` serialization failure and `40P01` deadlock → `Unavailable` too (retry);
//! * `23505` unique violation → `UniqueViolation(constraint name)`; `23503` foreign key
//!   violation → `Conflict`;
//! * undecodable values → `Corrupt`; the rest → `Backend`.

use patgate_store::StoreError;

pub(crate) fn db_err(e: sqlx::Error) -> StoreError {
    match e {
        sqlx::Error::RowNotFound => StoreError::NotFound,
        sqlx::Error::PoolTimedOut
        | sqlx::Error::PoolClosed
        | sqlx::Error::WorkerCrashed
        | sqlx::Error::Io(_)
        | sqlx::Error::Tls(_) => StoreError::Unavailable(e.to_string()),
        sqlx::Error::ColumnDecode { .. }
        | sqlx::Error::Decode(_)
        | sqlx::Error::ColumnNotFound(_)
        | sqlx::Error::ColumnIndexOutOfBounds { .. }
        | sqlx::Error::TypeNotFound { .. } => StoreError::Corrupt(e.to_string()),
        sqlx::Error::Database(ref db) => {
            let code = db.code().map(|c| c.into_owned()).unwrap_or_default();
            match code.as_str() {
                "23505" => StoreError::UniqueViolation(
                    db.constraint()
                        .map(str::to_owned)
                        .unwrap_or_else(|| db.message().to_owned()),
                ),
                "23503" => StoreError::Conflict(format!(
                    "a referenced row does not exist: {}",
                    db.message()
                )),
                "57P01" | "57P02" | "57P03" | "57014" | "40001" | "40P01" => {
                    StoreError::Unavailable(e.to_string())
                }
                c if c.starts_with("08") || c.starts_with("53") => {
                    StoreError::Unavailable(e.to_string())
                }
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
            db_err(sqlx::Error::Io(
                std::io::ErrorKind::ConnectionRefused.into()
            )),
            StoreError::Unavailable(_)
        ));
        assert!(matches!(
            db_err(sqlx::Error::Io(std::io::ErrorKind::ConnectionReset.into())),
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
