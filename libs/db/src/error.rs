//! The one database error type: store functions return it, and `?` turns it into
//! the API error a client can act on (no `.map_err` at every call).

use pp_error::ApiError;

/// `Result` of a store function.
pub type Result<T, E = DbError> = std::result::Result<T, E>;

/// A database failure.
#[derive(Debug, thiserror::Error)]
pub enum DbError {
    #[error(transparent)]
    Sqlx(#[from] sqlx::Error),
    /// A stored value could not be read back (a bug or a corrupted row).
    #[error("stored value unreadable: {0}")]
    Corrupt(String),
}

impl DbError {
    fn sqlstate(&self) -> Option<String> {
        match self {
            DbError::Sqlx(sqlx::Error::Database(db)) => db.code().map(|c| c.into_owned()),
            _ => None,
        }
    }

    /// A unique violation (SQLSTATE 23505).
    pub fn is_unique_violation(&self) -> bool {
        self.sqlstate().as_deref() == Some("23505")
    }

    /// A row-level-security `WITH CHECK` violation (SQLSTATE 42501).
    pub fn is_rls_violation(&self) -> bool {
        self.sqlstate().as_deref() == Some("42501")
    }

    /// This error as `conflict` when it is a unique violation, else the usual mapping.
    pub fn unique_as(self, conflict: ApiError) -> ApiError {
        if self.is_unique_violation() {
            conflict
        } else {
            self.into()
        }
    }

    /// Whether the database could not be reached or refused new work for now.
    fn is_unavailable(&self) -> bool {
        match self {
            DbError::Sqlx(
                sqlx::Error::PoolTimedOut
                | sqlx::Error::PoolClosed
                | sqlx::Error::Io(_)
                | sqlx::Error::Tls(_)
                | sqlx::Error::WorkerCrashed,
            ) => true,
            DbError::Sqlx(sqlx::Error::Database(_)) => {
                let code = self.sqlstate().unwrap_or_default();
                // 08: connection exception; 57P01-03: shutdown / cannot connect now;
                // 53300: too many connections.
                code.starts_with("08") || code.starts_with("57P") || code == "53300"
            }
            _ => false,
        }
    }

    /// `statement_timeout` (or a cancel) stopped the statement: SQLSTATE 57014.
    fn is_timeout(&self) -> bool {
        self.sqlstate().as_deref() == Some("57014")
    }
}

impl From<DbError> for ApiError {
    fn from(error: DbError) -> ApiError {
        if error.is_unavailable() {
            tracing::warn!(%error, "database unavailable");
            ApiError::Unavailable("DATABASE_UNAVAILABLE")
        } else if error.is_timeout() {
            tracing::warn!(%error, "statement timed out");
            ApiError::DeadlineExceeded("DATABASE_TIMEOUT")
        } else {
            ApiError::internal(error)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pool_timeouts_are_unavailable_and_other_failures_internal() {
        let status = tonic::Status::from(ApiError::from(DbError::from(sqlx::Error::PoolTimedOut)));
        assert_eq!(status.code(), tonic::Code::Unavailable);
        let status = tonic::Status::from(ApiError::from(DbError::from(sqlx::Error::RowNotFound)));
        assert_eq!(status.code(), tonic::Code::Internal);
        assert!(!status.message().contains("row"), "{}", status.message());
    }
}
