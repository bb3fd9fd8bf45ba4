//! One error type for the whole application and one table from error to HTTP status and
//! RFC error code. Clients see the stable code and a human sentence; causes go to the log
//! where the error is made (a database error in its `From` impl, anything else where it
//! happens), never into a response. The server turns it into HTTP in one place (`http`).

#[cfg(feature = "ssr")]
mod http;

use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;

/// Field name → message shown next to that field.
pub type FieldErrors = BTreeMap<String, String>;

/// The token endpoint's grant type of a login's second step.
pub const MFA_OTP_GRANT: &str = "urn:gatehouse:grant-type:mfa-otp";

/// The token of a login waiting for its second factor. Its `Debug` hides it, so an error
/// that is logged never shows it.
#[derive(Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(transparent)]
pub struct MfaToken(pub String);

impl std::fmt::Debug for MfaToken {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("MfaToken(<redacted>)")
    }
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, thiserror::Error)]
pub enum AppError {
    /// Unparsable body or query, missing or repeated parameters (RFC 6749 `invalid_request`).
    #[error("{0}")]
    BadRequest(String),
    /// Parsable, but some fields are wrong or missing.
    #[error("Some fields are invalid")]
    Validation(FieldErrors),
    /// Wrong credentials, or an unusable refresh token. One body for every cause.
    #[error("Incorrect username or password, or the refresh token is not valid")]
    InvalidGrant,
    #[error("grant_type must be \"password\", \"refresh_token\" or \"{MFA_OTP_GRANT}\"")]
    UnsupportedGrantType,
    /// A right password on an account with a second factor: the login goes on with a code
    /// and this token. (The browser's login keeps it in a cookie and never answers this.)
    #[error("This account has two-factor authentication: send a code with the mfa_token")]
    MfaRequired(MfaToken),
    /// No bearer credentials at all (RFC 6750 §3.1: no error code in the challenge).
    #[error("Authentication is required")]
    Unauthenticated,
    /// Bearer credentials that are not acceptable, whatever the reason.
    #[error("The access token is invalid or has expired")]
    InvalidToken,
    #[error("This account has been disabled")]
    AccountDisabled,
    #[error("You do not have access to this resource")]
    InsufficientScope,
    /// Refused for a reason other than the caller's identity (a cross-site request).
    #[error("{0}")]
    Forbidden(String),
    #[error("Not found")]
    NotFound,
    #[error("Method not allowed")]
    MethodNotAllowed,
    /// Taken by someone else, or a change the current state forbids. `field` names the input
    /// at fault when there is one (a taken username or email), so forms need not guess.
    #[error("{message}")]
    Conflict { field: Option<String>, message: String },
    #[error("The request body is larger than 64 KiB")]
    PayloadTooLarge,
    /// Throttled: too many failed attempts (or sign-ups) from this caller or on this account.
    #[error("{}", too_many_requests_message(*retry_after, *locked))]
    TooManyRequests { retry_after: u64, locked: bool },
    #[error("{0}")]
    UnsupportedMediaType(String),
    #[error("The service is temporarily unavailable")]
    Unavailable,
    /// Something broke on our side. The cause was logged where it happened.
    #[error("Something went wrong on our side; please try again")]
    Internal,
}

impl AppError {
    pub fn bad_request(description: impl Into<String>) -> Self {
        AppError::BadRequest(description.into())
    }

    pub fn field(field: &str, message: impl Into<String>) -> Self {
        AppError::Validation(BTreeMap::from([(field.to_owned(), message.into())]))
    }

    /// A value of `field` that someone else already has.
    pub fn taken(field: &str, message: impl Into<String>) -> Self {
        AppError::Conflict { field: Some(field.to_owned()), message: message.into() }
    }

    /// A change the current state forbids (no single input is at fault).
    pub fn conflict(message: impl Into<String>) -> Self {
        AppError::Conflict { field: None, message: message.into() }
    }

    /// The message for `name` when this error is about that input (a field of a 422, or the
    /// field a 409 names).
    pub fn message_for(&self, name: &str) -> Option<String> {
        match self {
            AppError::Validation(fields) => fields.get(name).cloned(),
            AppError::Conflict { field: Some(field), message } if field == name => Some(message.clone()),
            _ => None,
        }
    }

    /// The HTTP status this error is answered with.
    pub fn status(&self) -> u16 {
        match self {
            AppError::BadRequest(_) | AppError::InvalidGrant | AppError::UnsupportedGrantType => 400,
            AppError::Unauthenticated | AppError::InvalidToken => 401,
            AppError::AccountDisabled
            | AppError::InsufficientScope
            | AppError::Forbidden(_)
            | AppError::MfaRequired(_) => 403,
            AppError::NotFound => 404,
            AppError::MethodNotAllowed => 405,
            AppError::Conflict { .. } => 409,
            AppError::PayloadTooLarge => 413,
            AppError::TooManyRequests { .. } => 429,
            AppError::UnsupportedMediaType(_) => 415,
            AppError::Validation(_) => 422,
            AppError::Internal => 500,
            AppError::Unavailable => 503,
        }
    }

    /// The stable machine-readable code (RFC 6749 §5.2 and RFC 6750 §3.1 where they apply).
    pub fn code(&self) -> &'static str {
        match self {
            AppError::BadRequest(_)
            | AppError::Validation(_)
            | AppError::PayloadTooLarge
            | AppError::UnsupportedMediaType(_) => "invalid_request",
            AppError::InvalidGrant => "invalid_grant",
            AppError::UnsupportedGrantType => "unsupported_grant_type",
            AppError::MfaRequired(_) => "mfa_required",
            AppError::Unauthenticated => "unauthorized",
            AppError::InvalidToken => "invalid_token",
            AppError::AccountDisabled => "account_disabled",
            AppError::InsufficientScope => "insufficient_scope",
            AppError::Forbidden(_) => "forbidden",
            AppError::TooManyRequests { .. } => "too_many_requests",
            AppError::NotFound => "not_found",
            AppError::MethodNotAllowed => "method_not_allowed",
            AppError::Conflict { .. } => "conflict",
            AppError::Unavailable => "temporarily_unavailable",
            AppError::Internal => "server_error",
        }
    }

    /// The `WWW-Authenticate` challenge that goes with this error, if any (RFC 6750 §3).
    pub fn www_authenticate(&self) -> Option<&'static str> {
        match self {
            AppError::Unauthenticated => Some("Bearer"),
            AppError::InvalidToken | AppError::AccountDisabled => Some("Bearer error=\"invalid_token\""),
            AppError::InsufficientScope => Some("Bearer error=\"insufficient_scope\""),
            _ => None,
        }
    }

    /// Seconds to wait before trying again (the `Retry-After` header), for throttled calls.
    pub fn retry_after(&self) -> Option<u64> {
        match self {
            AppError::TooManyRequests { retry_after, .. } => Some(*retry_after),
            _ => None,
        }
    }

    pub fn fields(&self) -> Option<&FieldErrors> {
        match self {
            AppError::Validation(fields) => Some(fields),
            _ => None,
        }
    }

    /// The JSON body of every error: `{"error", "error_description", "fields"?}`.
    pub fn body(&self) -> ErrorBody {
        // A 409 about one input (a taken username or email) names it as a 422 would.
        let fields = match self {
            AppError::Conflict { field: Some(field), message } => {
                Some(FieldErrors::from([(field.clone(), message.clone())]))
            }
            other => other.fields().cloned(),
        };
        let mfa_token = match self {
            AppError::MfaRequired(MfaToken(token)) if !token.is_empty() => Some(token.clone()),
            _ => None,
        };
        ErrorBody { error: self.code().to_owned(), error_description: self.to_string(), fields, mfa_token }
    }
}

fn too_many_requests_message(retry_after: u64, locked: bool) -> String {
    if locked {
        "Too many failed attempts: this sign-in is locked until an administrator unlocks it".into()
    } else if retry_after == 1 {
        "Too many attempts; please wait a second and try again".into()
    } else {
        format!("Too many attempts; please wait {retry_after} seconds and try again")
    }
}

/// The documented error shape of the JSON API.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
pub struct ErrorBody {
    pub error: String,
    pub error_description: String,
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub fields: Option<FieldErrors>,
    /// With `mfa_required` only: the token of the login's second step.
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub mfa_token: Option<String>,
}

/// Server functions use `AppError` as their error type: the browser receives the same
/// variants the JSON API maps to statuses, and failures of the transport itself map onto them.
impl leptos::server_fn::error::FromServerFnError for AppError {
    type Encoder = leptos::server_fn::codec::JsonEncoding;

    fn from_server_fn_error(value: leptos::server_fn::error::ServerFnErrorErr) -> Self {
        use leptos::server_fn::error::ServerFnErrorErr as E;
        match value {
            E::Args(_) | E::MissingArg(_) | E::Deserialization(_) | E::UnsupportedRequestMethod(_) => {
                AppError::bad_request("The request could not be understood")
            }
            E::Request(_) | E::Response(_) => AppError::Unavailable,
            _ => AppError::Internal,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_auth_failure_carries_the_rfc_6750_challenge() {
        assert_eq!(AppError::Unauthenticated.www_authenticate(), Some("Bearer"));
        assert_eq!(AppError::InvalidToken.www_authenticate(), Some("Bearer error=\"invalid_token\""));
        assert_eq!(AppError::AccountDisabled.www_authenticate(), Some("Bearer error=\"invalid_token\""));
        assert_eq!(AppError::InsufficientScope.status(), 403);
        assert_eq!(AppError::AccountDisabled.code(), "account_disabled");
    }

    #[test]
    fn internal_errors_say_nothing_of_the_cause() {
        let body = AppError::Internal.body();
        assert_eq!(body.error, "server_error");
        assert!(!body.error_description.to_lowercase().contains("sql"));
    }

    #[test]
    fn throttling_is_429_with_the_wait_in_words_and_in_retry_after() {
        let e = AppError::TooManyRequests { retry_after: 30, locked: false };
        assert_eq!((e.status(), e.code(), e.retry_after()), (429, "too_many_requests", Some(30)));
        assert!(e.to_string().contains("30 seconds"));
        assert!(AppError::TooManyRequests { retry_after: 86_400, locked: true }.to_string().contains("administrator"));
        assert_eq!(AppError::InvalidGrant.retry_after(), None);
    }

    #[test]
    fn mfa_required_is_403_with_its_token_in_the_body_and_never_in_debug() {
        let e = AppError::MfaRequired(MfaToken("secret-token".into()));
        assert_eq!((e.status(), e.code()), (403, "mfa_required"));
        assert_eq!(e.body().mfa_token.as_deref(), Some("secret-token"));
        assert!(!format!("{e:?} {e}").contains("secret-token"));
        assert_eq!(AppError::MfaRequired(MfaToken::default()).body().mfa_token, None);
        assert!(AppError::UnsupportedGrantType.to_string().contains(MFA_OTP_GRANT));
    }

    #[test]
    fn validation_errors_list_their_fields() {
        let body = AppError::field("username", "Username is required").body();
        assert_eq!(body.fields.unwrap()["username"], "Username is required");
        assert_eq!(AppError::field("x", "y").status(), 422);
    }
}
