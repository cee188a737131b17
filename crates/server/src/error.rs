//! Errors: every failed request answers with a status code and an [`ApiError`] JSON body
//! (a stable `code` and a human `message`); 4xx for the client's faults, 5xx for ours.

use axum::http::{HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::Json;
use finsync_core::api::ApiError;

/// A failed API request.
#[derive(Debug, thiserror::Error)]
pub enum AppError {
    #[error("{message}")]
    BadRequest { code: &'static str, message: String },
    #[error("the API key is missing, unknown or revoked")]
    InvalidKey,
    #[error("the session token is missing, unknown or expired; sign in again")]
    InvalidSession,
    #[error("the email or password is wrong")]
    InvalidCredentials,
    #[error("browser sync is not enabled for population {0}; a population admin can enable it")]
    AccessDenied(String),
    #[error("{0}")]
    Forbidden(String),
    #[error("{0} not found")]
    NotFound(String),
    /// A key asked for a thing outside its population. The same answer whether the thing is
    /// in another population or does not exist at all, so a key never learns what exists
    /// elsewhere.
    #[error("this {0} is not in your key's population, or does not exist")]
    NotInPopulation(String),
    #[error("{0}")]
    Conflict(String),
    #[error("the request body is larger than {0} bytes")]
    TooLarge(usize),
    /// A 409 with its own stable code.
    #[error("{message}")]
    ConflictCode { code: &'static str, message: String },
    #[error("too many failed sign-in or key attempts from this address; try again in {retry_after_secs} s")]
    RateLimited { retry_after_secs: u64 },
    #[error("database error: {0}")]
    Db(#[from] rusqlite::Error),
    #[error("blob storage error: {0}")]
    Blob(#[from] crate::blob::BlobError),
    #[error("internal error: {0}")]
    Internal(String),
}

/// Marks a response whose request presented a credential that did not check out; the rate
/// limiter counts these per client IP.
#[derive(Debug, Clone, Copy)]
pub struct AuthFailure;

impl AppError {
    pub fn bad(code: &'static str, message: impl Into<String>) -> Self {
        AppError::BadRequest {
            code,
            message: message.into(),
        }
    }

    fn status_and_code(&self) -> (StatusCode, &'static str) {
        match self {
            AppError::BadRequest { code, .. } => (StatusCode::BAD_REQUEST, code),
            AppError::InvalidKey => (StatusCode::UNAUTHORIZED, "invalidKey"),
            AppError::InvalidSession => (StatusCode::UNAUTHORIZED, "invalidSession"),
            AppError::InvalidCredentials => (StatusCode::UNAUTHORIZED, "invalidCredentials"),
            AppError::AccessDenied(_) => (StatusCode::FORBIDDEN, "accessDenied"),
            AppError::Forbidden(_) => (StatusCode::FORBIDDEN, "forbidden"),
            AppError::NotFound(_) => (StatusCode::NOT_FOUND, "notFound"),
            AppError::NotInPopulation(_) => (StatusCode::FORBIDDEN, "notInPopulation"),
            AppError::Conflict(_) => (StatusCode::CONFLICT, "conflict"),
            AppError::TooLarge(_) => (StatusCode::PAYLOAD_TOO_LARGE, "tooLarge"),
            AppError::ConflictCode { code, .. } => (StatusCode::CONFLICT, code),
            AppError::RateLimited { .. } => (StatusCode::TOO_MANY_REQUESTS, "rateLimited"),
            AppError::Db(_) => (StatusCode::INTERNAL_SERVER_ERROR, "database"),
            AppError::Blob(_) => (StatusCode::BAD_GATEWAY, "blobStorage"),
            AppError::Internal(_) => (StatusCode::INTERNAL_SERVER_ERROR, "internal"),
        }
    }
}

impl IntoResponse for AppError {
    fn into_response(self) -> Response {
        let (status, code) = self.status_and_code();
        if status.is_server_error() {
            tracing::error!(%code, error = %self, "request failed");
        }
        let body = ApiError {
            code: code.to_string(),
            message: self.to_string(),
        };
        let mut resp = (status, Json(body)).into_response();
        match self {
            AppError::InvalidKey | AppError::InvalidSession | AppError::InvalidCredentials => {
                resp.extensions_mut().insert(AuthFailure);
            }
            AppError::RateLimited { retry_after_secs } => {
                resp.headers_mut().insert(
                    axum::http::header::RETRY_AFTER,
                    HeaderValue::from(retry_after_secs),
                );
            }
            _ => {}
        }
        resp
    }
}

/// Why the server could not start.
#[derive(Debug, thiserror::Error)]
pub enum StartError {
    #[error("cannot open the database: {0}")]
    Db(#[from] rusqlite::Error),
    #[error("cannot create the database folder: {0}")]
    Io(#[from] std::io::Error),
    #[error("blob storage: {0}")]
    Blob(#[from] crate::blob::BlobError),
    #[error("cannot restart the variants queue: {0}")]
    Queue(String),
}

/// A client's value as an error message quotes it: debug-quoted, and cut to 40 characters
/// (with `…`), so a 100 000-character field does not come back whole in the answer.
pub fn excerpt(value: &str) -> String {
    const MAX: usize = 40;
    match value.char_indices().nth(MAX) {
        None => format!("{value:?}"),
        Some((cut, _)) => format!("{:?}…", &value[..cut]),
    }
}

#[cfg(test)]
mod tests {
    use super::excerpt;

    #[test]
    fn excerpts_quote_short_values_whole_and_cut_long_ones() {
        assert_eq!(excerpt("J35"), "\"J35\"");
        let long = "é".repeat(100_000);
        let e = excerpt(&long);
        assert_eq!(e, format!("{:?}…", "é".repeat(40)));
    }
}
