//! The one mapping from `sqlx::Error` to `StoreError`, shared by both engines; each engine
//! only says which of its database error codes mean "unavailable, try again".
//!
//! * the database is unreachable, restarting or overloaded (I/O and protocol errors, pool
//!   timeouts, and the engine's own codes) → `Unavailable`, which the server answers with 503;
//! * a unique violation → `UniqueViolation` naming what it violated (PostgreSQL names the
//!   constraint; SQLite names the columns in its message, `UNIQUE constraint failed:
//!   tokens.hash`); a foreign key violation → `Conflict`;
//! * undecodable values → `Corrupt`; the rest → `Backend`.

use sqlx::error::{DatabaseError, ErrorKind};

use patgate_store::StoreError;

pub(crate) fn map_error(e: sqlx::Error, unavailable: fn(&dyn DatabaseError) -> bool) -> StoreError {
    match e {
        sqlx::Error::RowNotFound => StoreError::NotFound,
        sqlx::Error::PoolTimedOut
        | sqlx::Error::PoolClosed
        | sqlx::Error::WorkerCrashed
        | sqlx::Error::Io(_)
        | sqlx::Error::Tls(_)
        // The conversation with the server broke off: a connection cut mid-handshake (the TLS
        // negotiation of `sslmode=prefer` reads garbage from a dying peer) or mid-reply.
        | sqlx::Error::Protocol(_) => StoreError::Unavailable(e.to_string()),
        sqlx::Error::ColumnDecode { .. }
        | sqlx::Error::Decode(_)
        | sqlx::Error::ColumnNotFound(_)
        | sqlx::Error::ColumnIndexOutOfBounds { .. }
        | sqlx::Error::TypeNotFound { .. } => StoreError::Corrupt(e.to_string()),
        sqlx::Error::Database(ref db) => match db.kind() {
            ErrorKind::UniqueViolation => {
                let message = db.message();
                StoreError::UniqueViolation(
                    db.constraint()
                        .map(str::to_owned)
                        .or_else(|| {
                            message
                                .strip_prefix("UNIQUE constraint failed: ")
                                .map(str::to_owned)
                        })
                        .unwrap_or_else(|| message.to_owned()),
                )
            }
            ErrorKind::ForeignKeyViolation => {
                StoreError::Conflict(format!("a referenced row does not exist: {}", db.message()))
            }
            _ if unavailable(db.as_ref()) => StoreError::Unavailable(e.to_string()),
            _ => StoreError::Backend(Box::new(e)),
        },
        other => StoreError::Backend(Box::new(other)),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn never(_: &dyn DatabaseError) -> bool {
        false
    }

    #[test]
    fn plain_errors_map_to_their_kinds() {
        let map = |e| map_error(e, never);
        assert!(matches!(
            map(sqlx::Error::RowNotFound),
            StoreError::NotFound
        ));
        assert!(matches!(
            map(sqlx::Error::PoolTimedOut),
            StoreError::Unavailable(_)
        ));
        assert!(matches!(
            map(sqlx::Error::Io(
                std::io::ErrorKind::ConnectionRefused.into()
            )),
            StoreError::Unavailable(_)
        ));
        assert!(matches!(
            map(sqlx::Error::Io(std::io::ErrorKind::ConnectionReset.into())),
            StoreError::Unavailable(_)
        ));
        assert!(matches!(
            map(sqlx::Error::ColumnNotFound("x".into())),
            StoreError::Corrupt(_)
        ));
        assert!(matches!(
            map(sqlx::Error::Protocol(
                "unexpected response from SSLRequest: 0x00".into()
            )),
            StoreError::Unavailable(_)
        ));
        assert!(matches!(
            map(sqlx::Error::InvalidArgument("x".into())),
            StoreError::Backend(_)
        ));
    }
}
