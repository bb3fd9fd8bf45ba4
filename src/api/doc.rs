//! The OpenAPI 3.1 document: its frame (title, security scheme, tags) and the schemas of
//! inputs the handlers read field by field (so they have no typed extractor to derive from).
//! The operations themselves are described on the handlers, and the router that serves them
//! is the one that collects their descriptions (`super::router`): a route cannot exist
//! without its description.

use crate::domain::Role;
use axum::{Extension, http::header, response::IntoResponse};
use bytes::Bytes;
use serde::{Deserialize, Serialize};
use utoipa::{
    Modify, OpenApi, ToSchema,
    openapi::security::{Flow, OAuth2, Password, Scopes, SecurityScheme},
};

/// The token endpoint, for the password flow of the security scheme (and Swagger UI's
/// "Authorize").
pub const TOKEN_URL: &str = "/api/v1/auth/token";

#[derive(OpenApi)]
#[openapi(
    info(
        title = "Gatehouse",
        description = "Accounts and JWT authentication. Errors are `{\"error\", \"error_description\"}` \
                       (RFC 6749 §5.2 codes where they apply), with `fields` on 422.",
    ),
    modifiers(&SecurityAddon),
    tags(
        (name = "auth", description = "Registration, tokens (RFC 6749) and revocation (RFC 7009)"),
        (name = "users", description = "The caller's account, and the accounts (admins)"),
        (name = "two-factor", description = "TOTP (RFC 6238) with recovery codes: setting it up, turning it off, \
                                             an admin's removal"),
        (name = "audit", description = "Security events"),
        (name = "keys", description = "Signing keys and discovery"),
        (name = "service", description = "Health and this document"),
    ),
)]
pub struct ApiDoc;

/// The OAuth2 password flow, whose access token is sent as a bearer token.
struct SecurityAddon;

impl Modify for SecurityAddon {
    fn modify(&self, openapi: &mut utoipa::openapi::OpenApi) {
        let components = openapi.components.get_or_insert_with(Default::default);

        components.add_security_scheme(
            "oauth2",
            SecurityScheme::OAuth2(OAuth2::with_description(
                [Flow::Password(Password::with_refresh_url(TOKEN_URL, Scopes::new(), TOKEN_URL))],
                "The password grant of the token endpoint; send the access token as `Authorization: Bearer`.",
            )),
        );
    }
}

/// What the derives cannot say, once the operations' schemas are in the document.
pub fn complete(document: &mut utoipa::openapi::OpenApi) {
    use utoipa::openapi::{RefOr, Schema};
    let schemas = document.components.as_mut().map(|c| &mut c.schemas);
    // At least one field (utoipa 5.5's `min_properties` on a struct writes `maxProperties`).
    if let Some(schemas) = schemas {
        for name in ["UserChange", "ProfileChange"] {
            if let Some(RefOr::T(Schema::Object(change))) = schemas.get_mut(name) {
                change.min_properties = Some(1);
            }
        }
    }
}

/// `POST /auth/register` (JSON). Unknown fields are refused.
#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
#[allow(dead_code)]
pub struct Registration {
    /// Letters, digits, `_`, `.`, `-`; unique ignoring case.
    #[schema(min_length = 3, max_length = 32, pattern = r"^[A-Za-z0-9_.-]+$")]
    username: String,
    /// Not a common password, and not the username.
    #[schema(min_length = 8, max_length = 128)]
    password: String,
    /// An address, unique ignoring case, or `""` for none.
    #[schema(
        max_length = 254,
        pattern = r"^(|[^@\s\x00-\x1F\x7F-\x9F]+@[^@\s\x00-\x1F\x7F-\x9F.]+(\.[^@\s\x00-\x1F\x7F-\x9F.]+)+)$"
    )]
    email: Option<String>,
    /// Without control characters, not only spaces; `""` for none.
    #[schema(max_length = 128, pattern = r"^(|[^\x00-\x1F\x7F-\x9F]*[^\s\x00-\x1F\x7F-\x9F][^\x00-\x1F\x7F-\x9F]*)$")]
    full_name: Option<String>,
}

/// The grants of the token endpoint.
#[derive(ToSchema)]
#[allow(dead_code)]
#[schema(rename_all = "snake_case")]
pub enum GrantType {
    Password,
    RefreshToken,
    /// The second step of a login on an account with two-factor authentication.
    #[schema(rename = "urn:gatehouse:grant-type:mfa-otp")]
    MfaOtp,
}

/// `POST /auth/token` (form, RFC 6749 §4.3 and §6).
#[derive(ToSchema)]
#[allow(dead_code)]
pub struct TokenRequest {
    /// `password` when absent.
    grant_type: Option<GrantType>,
    /// Required by the password grant.
    #[schema(min_length = 1)]
    username: Option<String>,
    /// Required by the password grant.
    #[schema(min_length = 1)]
    password: Option<String>,
    /// Required by the refresh grant: used once, answered with a new one.
    #[schema(min_length = 1)]
    refresh_token: Option<String>,
    /// Required by the mfa-otp grant: from the password grant's `mfa_required` answer.
    #[schema(min_length = 1)]
    mfa_token: Option<String>,
    /// The mfa-otp grant's TOTP code (6 digits), or give `recovery_code` instead.
    #[schema(min_length = 1)]
    otp: Option<String>,
    /// The mfa-otp grant's recovery code, in place of `otp`; it works once.
    #[schema(min_length = 1)]
    recovery_code: Option<String>,
    /// Accepted and ignored (OAuth2 clients send it).
    scope: Option<String>,
}

/// The successful token response (RFC 6749 §5.1).
#[derive(Serialize, ToSchema)]
pub struct TokenResponse {
    pub access_token: String,
    /// Always `bearer`.
    pub token_type: String,
    /// Seconds until the access token expires.
    pub expires_in: u64,
    pub refresh_token: String,
}

/// `POST /auth/revoke` (form, RFC 7009).
#[derive(ToSchema)]
#[allow(dead_code)]
pub struct RevocationRequest {
    /// A refresh token: its whole login ends.
    #[schema(min_length = 1)]
    token: String,
    /// Accepted and ignored.
    token_type_hint: Option<String>,
}

/// `PATCH /users/{id}` (JSON): at least one field. Unknown fields are refused.
#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
#[allow(dead_code)]
pub struct UserChange {
    #[schema(nullable = false)]
    role: Option<Role>,
    /// Disabling ends every login of the account.
    #[schema(nullable = false)]
    disabled: Option<bool>,
}

/// `PATCH /users/me` (JSON): at least one field; `null` or `""` clears it. Unknown fields
/// (`username`, `role`, `disabled`, ...) are refused.
#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
#[allow(dead_code)]
pub struct ProfileChange {
    /// An address, unique ignoring case, or `""`/`null` for none.
    #[schema(
        max_length = 254,
        pattern = r"^(|[^@\s\x00-\x1F\x7F-\x9F]+@[^@\s\x00-\x1F\x7F-\x9F.]+(\.[^@\s\x00-\x1F\x7F-\x9F.]+)+)$"
    )]
    email: Option<String>,
    /// Without control characters, not only spaces; `""`/`null` for none.
    #[schema(max_length = 128, pattern = r"^(|[^\x00-\x1F\x7F-\x9F]*[^\s\x00-\x1F\x7F-\x9F][^\x00-\x1F\x7F-\x9F]*)$")]
    full_name: Option<String>,
}

/// `POST /users/me/password` (JSON).
#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
#[allow(dead_code)]
pub struct PasswordChange {
    /// The password now; a wrong one counts as a failed login.
    current_password: String,
    /// Not a common password, and not the username.
    #[schema(min_length = 8, max_length = 128)]
    new_password: String,
}

/// `DELETE /users/me` (JSON).
#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
#[allow(dead_code)]
pub struct PasswordConfirmation {
    /// The account's password; a wrong one counts as a failed login.
    password: String,
}

/// `POST /users/me/mfa/totp/confirm` and `POST /users/me/mfa/recovery-codes` (JSON).
#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
#[allow(dead_code)]
pub struct CodeConfirmation {
    /// A current TOTP code (6 digits); to replace recovery codes, a recovery code works too.
    code: String,
}

/// `DELETE /users/me/mfa/totp` (JSON).
#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
#[allow(dead_code)]
pub struct TotpRemoval {
    /// The account's password; a wrong one counts as a failed login.
    password: String,
    /// A current TOTP code or a recovery code.
    code: String,
}

/// `POST /auth/password-reset` (JSON).
#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
#[allow(dead_code)]
pub struct PasswordReset {
    /// The token of the link (after `#token=`).
    token: String,
    /// Not a common password, and not the username.
    #[schema(min_length = 8, max_length = 128)]
    new_password: String,
}

/// `GET /health`.
#[derive(Serialize, ToSchema)]
pub struct Health {
    /// `ok`.
    pub status: String,
}

/// The public signing keys (RFC 7517): Ed25519 (`OKP`) or P-256 (`EC`) keys with `kid`,
/// `alg` and `use: sig`; empty under HS256.
#[derive(ToSchema)]
#[allow(dead_code)]
pub struct JwkSet {
    keys: Vec<serde_json::Value>,
}

/// The authorization server's metadata (RFC 8414).
#[derive(ToSchema)]
#[allow(dead_code)]
pub struct AuthorizationServerMetadata {
    issuer: String,
    token_endpoint: String,
    revocation_endpoint: String,
    jwks_uri: String,
    grant_types_supported: Vec<String>,
    token_endpoint_auth_methods_supported: Vec<String>,
    revocation_endpoint_auth_methods_supported: Vec<String>,
    response_types_supported: Vec<String>,
    service_documentation: String,
}

/// The document as served, made once when the router is built.
#[derive(Clone)]
pub struct Document(pub Bytes);

/// This document.
#[utoipa::path(
    get,
    path = "/openapi.json",
    tag = "service",
    responses((status = 200, description = "The OpenAPI 3.1 document of this API", content_type = "application/json")),
)]
pub async fn openapi(Extension(Document(json)): Extension<Document>) -> impl IntoResponse {
    ([(header::CONTENT_TYPE, "application/json")], json)
}

/// Swagger UI at `/api/docs`, served from the files embedded in the binary, on this
/// document, under a policy that lets it load only from here (no inline script or style;
/// images from `data:` URLs, which its stylesheet uses for icons).
pub fn swagger_ui<S: Clone + Send + Sync + 'static>() -> axum::Router<S> {
    use utoipa_swagger_ui::{Config, SwaggerUi};
    let ui = SwaggerUi::new("/api/docs").config(
        Config::new(["/api/v1/openapi.json"])
            // The base layout has no top bar (whose logo carries an inline style).
            .use_base_layout()
            // Else the page asks an outside validator about the document.
            .validator_url("none")
            .try_it_out_enabled(true)
            .display_operation_id(true),
    );
    axum::Router::from(ui).layer(axum::middleware::map_response(|mut response: axum::response::Response| async move {
        response.headers_mut().insert(
            header::CONTENT_SECURITY_POLICY,
            axum::http::HeaderValue::from_static(crate::http::security::DOCS_CSP),
        );
        response
    }))
}
