//! Errors: every failed request answers with a status code and an [`ApiError`] JSON body
//! (a stable `code` and a human `message`); 4xx for the client's faults, 5xx for ours.

use axum::http::StatusCode;
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
    #[error("browser sync is not enabled for population {0}; a population admin can enable it")]
    AccessDenied(String),
    #[error("{0} not found")]
    NotFound(String),
    #[error("{0}")]
    Conflict(String),
    #[error("database error: {0}")]
    Db(#[from] rusqlite::Error),
    #[error("blob storage error: {0}")]
    Blob(#[from] crate::blob::BlobError),
    #[error("internal error: {0}")]
    Internal(String),
}

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
            AppError::AccessDenied(_) => (StatusCode::FORBIDDEN, "accessDenied"),
            AppError::NotFound(_) => (StatusCode::NOT_FOUND, "notFound"),
            AppError::Conflict(_) => (StatusCode::CONFLICT, "conflict"),
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
        (status, Json(body)).into_response()
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
}
