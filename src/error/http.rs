//! `AppError` as HTTP: the one mapping to status and headers, used by the JSON API's
//! responses and by the layer that fixes server-function answers; and database errors as
//! `AppError`, their cause logged here and never sent.

use super::AppError;
use axum::{
    Json,
    http::{HeaderMap, HeaderValue, StatusCode, header},
    response::{IntoResponse, Response},
};

impl AppError {
    /// Sets the status of this error's answer and its `WWW-Authenticate` and `Retry-After`.
    pub fn write_head(&self, status: &mut StatusCode, headers: &mut HeaderMap) {
        *status = StatusCode::from_u16(self.status()).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
        if let Some(challenge) = self.www_authenticate() {
            headers.insert(header::WWW_AUTHENTICATE, HeaderValue::from_static(challenge));
        }
        if let Some(seconds) = self.retry_after() {
            headers.insert(header::RETRY_AFTER, HeaderValue::from(seconds));
        }
    }
}

impl IntoResponse for AppError {
    fn into_response(self) -> Response {
        let mut response = Json(self.body()).into_response();
        let mut status = response.status();
        self.write_head(&mut status, response.headers_mut());
        *response.status_mut() = status;
        response
    }
}

impl From<sqlx::Error> for AppError {
    /// The cause goes to the log, never to the client.
    fn from(err: sqlx::Error) -> Self {
        match err {
            sqlx::Error::PoolTimedOut | sqlx::Error::Io(_) | sqlx::Error::PoolClosed => {
                tracing::error!(error = %err, "the database is unreachable");
                AppError::Unavailable
            }
            other => {
                tracing::error!(error = %other, "database error");
                AppError::Internal
            }
        }
    }
}
