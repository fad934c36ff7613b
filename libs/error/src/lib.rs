//! The one error type every Pulsepoint API returns, and its one mapping to gRPC.
//!
//! Handlers and layers build an [`ApiError`]; `impl From<ApiError> for Status` is the
//! only place a `tonic::Code` is chosen. Every status carries `google.rpc.ErrorInfo`
//! (reason + domain); bad input carries `google.rpc.BadRequest` field violations; rate
//! limits carry `google.rpc.RetryInfo`. Internal causes are logged, never sent.

use std::time::Duration;

use tonic::{Code, Status};
use tonic_types::{ErrorDetails, StatusExt};

/// The `ErrorInfo.domain` of every Pulsepoint error.
pub const ERROR_DOMAIN: &str = "pulsepoint.dev";

/// One invalid field of a request.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FieldViolation {
    pub field: String,
    pub description: String,
}

impl FieldViolation {
    pub fn new(field: impl Into<String>, description: impl Into<String>) -> Self {
        FieldViolation {
            field: field.into(),
            description: description.into(),
        }
    }
}

/// What went wrong, in the terms a client can act on.
#[derive(Debug)]
pub enum ApiError {
    /// The request is malformed; each violation names its field.
    InvalidArgument(Vec<FieldViolation>),
    /// No token, or a token that is not valid (forged, expired, revoked...).
    Unauthenticated(&'static str),
    /// The caller is known but its role may not do this.
    PermissionDenied,
    /// Does not exist, or exists in another tenant: the two are indistinguishable.
    NotFound(&'static str),
    /// The object already exists (a unique name, an email...).
    AlreadyExists(&'static str),
    /// The request is valid but the system is not in a state to perform it.
    FailedPrecondition(&'static str),
    /// Too many requests; retry after the given delay.
    ResourceExhausted {
        reason: &'static str,
        retry_after: Duration,
    },
    /// A dependency is down; retrying later may succeed.
    Unavailable(&'static str),
    /// The work took longer than it may (a statement timeout, a deadline).
    DeadlineExceeded(&'static str),
    /// Data the client asked for was lost on the way (a live stream whose reader fell
    /// behind): `missed` items, which the client may fetch again another way.
    DataLoss { reason: &'static str, missed: u64 },
    /// A bug or an unexpected failure. The cause is logged, the client sees a generic message.
    Internal(String),
}

impl ApiError {
    pub fn invalid(field: impl Into<String>, description: impl Into<String>) -> Self {
        ApiError::InvalidArgument(vec![FieldViolation::new(field, description)])
    }

    /// `Ok` when nothing was wrong, else `INVALID_ARGUMENT` naming every field.
    pub fn check(violations: Vec<FieldViolation>) -> Result<(), ApiError> {
        if violations.is_empty() {
            Ok(())
        } else {
            Err(ApiError::InvalidArgument(violations))
        }
    }

    /// Wraps an unexpected failure; the cause is logged when the error reaches the wire.
    pub fn internal(cause: impl std::fmt::Display) -> Self {
        ApiError::Internal(cause.to_string())
    }

    fn reason(&self) -> &'static str {
        match self {
            ApiError::InvalidArgument(_) => "INVALID_ARGUMENT",
            ApiError::Unauthenticated(reason)
            | ApiError::NotFound(reason)
            | ApiError::AlreadyExists(reason)
            | ApiError::FailedPrecondition(reason)
            | ApiError::Unavailable(reason)
            | ApiError::DeadlineExceeded(reason)
            | ApiError::ResourceExhausted { reason, .. }
            | ApiError::DataLoss { reason, .. } => reason,
            ApiError::PermissionDenied => "PERMISSION_DENIED",
            ApiError::Internal(_) => "INTERNAL",
        }
    }
}

impl std::fmt::Display for ApiError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}", self.reason())
    }
}

impl std::error::Error for ApiError {}

impl From<ApiError> for Status {
    fn from(error: ApiError) -> Status {
        let reason = error.reason();
        let mut metadata = std::collections::HashMap::<String, String>::new();
        if let ApiError::DataLoss { missed, .. } = &error {
            metadata.insert("missed".to_owned(), missed.to_string());
        }
        let mut details = ErrorDetails::with_error_info(reason, ERROR_DOMAIN, metadata);
        let (code, message) = match &error {
            ApiError::InvalidArgument(violations) => {
                for violation in violations {
                    details.add_bad_request_violation(&violation.field, &violation.description);
                }
                let fields: Vec<&str> = violations.iter().map(|v| v.field.as_str()).collect();
                (
                    Code::InvalidArgument,
                    format!("invalid argument: {}", fields.join(", ")),
                )
            }
            ApiError::Unauthenticated(_) => (
                Code::Unauthenticated,
                "missing or invalid credentials".to_owned(),
            ),
            ApiError::PermissionDenied => (
                Code::PermissionDenied,
                "your role may not do this".to_owned(),
            ),
            ApiError::NotFound(_) => (Code::NotFound, "not found".to_owned()),
            ApiError::AlreadyExists(_) => (Code::AlreadyExists, "already exists".to_owned()),
            ApiError::FailedPrecondition(what) => (
                Code::FailedPrecondition,
                format!("failed precondition: {}", what.to_lowercase()),
            ),
            ApiError::ResourceExhausted { retry_after, .. } => {
                details.set_retry_info(Some(*retry_after));
                (
                    Code::ResourceExhausted,
                    "too many requests, retry later".to_owned(),
                )
            }
            ApiError::Unavailable(_) => (
                Code::Unavailable,
                "temporarily unavailable, retry later".to_owned(),
            ),
            ApiError::DeadlineExceeded(_) => (
                Code::DeadlineExceeded,
                "took too long, retry with a narrower request".to_owned(),
            ),
            ApiError::DataLoss { missed, .. } => (
                Code::DataLoss,
                format!(
                    "missed {missed} events: the reader fell behind; list them to fill the gap"
                ),
            ),
            ApiError::Internal(cause) => {
                // The span carries the request id and tenant id.
                tracing::error!(%cause, "internal error");
                (Code::Internal, "internal error".to_owned())
            }
        };
        Status::with_error_details(code, message, details)
    }
}

/// Reads the field violations of a status (for clients and tests).
pub fn field_violations(status: &Status) -> Vec<String> {
    status
        .get_details_bad_request()
        .map(|bad| bad.field_violations.into_iter().map(|v| v.field).collect())
        .unwrap_or_default()
}

/// Reads the `ErrorInfo.reason` of a status (for clients and tests).
pub fn error_reason(status: &Status) -> Option<String> {
    status.get_details_error_info().map(|info| info.reason)
}

/// Reads the `RetryInfo.retry_delay` of a status.
pub fn retry_delay(status: &Status) -> Option<Duration> {
    status
        .get_details_retry_info()
        .and_then(|info| info.retry_delay)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn internal_cause_never_reaches_the_wire() {
        let status = Status::from(ApiError::internal("connection refused to 10.0.0.3:5432"));
        assert_eq!(status.code(), Code::Internal);
        assert!(!status.message().contains("10.0.0.3"));
        assert_eq!(error_reason(&status).as_deref(), Some("INTERNAL"));
    }

    #[test]
    fn invalid_argument_names_fields() {
        let status = Status::from(ApiError::invalid("brand_id", "must be a UUID"));
        assert_eq!(status.code(), Code::InvalidArgument);
        assert_eq!(field_violations(&status), vec!["brand_id".to_owned()]);
    }

    #[test]
    fn rate_limit_carries_retry_info() {
        let status = Status::from(ApiError::ResourceExhausted {
            reason: "TENANT_RATE_LIMITED",
            retry_after: Duration::from_millis(250),
        });
        assert_eq!(status.code(), Code::ResourceExhausted);
        assert_eq!(retry_delay(&status), Some(Duration::from_millis(250)));
    }
}
