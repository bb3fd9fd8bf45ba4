//! The application state: everything a request may need, passed explicitly (no global
//! state), so a test can build the whole application against its own database. Built by
//! `server::build_state`; read by both doors (the JSON API and the server functions).

use crate::{
    audit::ClientInfo,
    auth::service::AuthService,
    db::Db,
    http::{
        client_address::TrustedProxies,
        cookie::{PrivateCookie, RefreshCookie},
        cors::CorsOrigins,
        security::SecurityHeaders,
    },
    users::service::UserService,
};
use axum::{extract::FromRef, http::request::Parts};
use leptos::config::LeptosOptions;
use std::{net::IpAddr, sync::Arc};

/// What a request may need, behind one `Arc`: axum clones the state for every request, and
/// this costs one reference count (the fields cloned one by one cost 5 % of a cached
/// `GET /users/me`).
#[derive(Clone)]
pub struct AppState(Arc<Shared>);

impl AppState {
    pub fn new(shared: Shared) -> Self {
        Self(Arc::new(shared))
    }
}

impl std::ops::Deref for AppState {
    type Target = Shared;

    fn deref(&self) -> &Shared {
        &self.0
    }
}

pub struct Shared {
    pub leptos_options: LeptosOptions,
    pub db: Db,
    pub auth: Arc<AuthService>,
    pub users: Arc<UserService>,
    pub refresh_cookie: RefreshCookie,
    /// Carries a login's `mfa_token` from its password step to its code step.
    pub mfa_cookie: PrivateCookie,
    /// The public origin when configured (`GATEHOUSE_PUBLIC_URL`), for origin checks.
    pub public_url: Option<Arc<str>>,
    pub trusted_proxies: Arc<TrustedProxies>,
    /// Origins allowed to call the JSON API from a browser (none: no CORS).
    pub cors_origins: Arc<CorsOrigins>,
    /// Security headers for every response (CSP, HSTS over HTTPS, ...).
    pub security: Arc<SecurityHeaders>,
}

impl Shared {
    /// The client's address for throttling: the socket peer, or what trusted proxies say.
    pub fn client_ip(&self, parts: &Parts) -> IpAddr {
        self.trusted_proxies.client_of(parts)
    }

    /// The origin links to this server start with: `GATEHOUSE_PUBLIC_URL`, or else
    /// `http://` and the request's `Host` when it is a plain `name[:port]` (nothing that could
    /// bend a URL).
    pub fn public_origin(&self, headers: &axum::http::HeaderMap) -> Result<String, crate::error::AppError> {
        if let Some(url) = &self.public_url {
            return Ok(url.trim_end_matches('/').to_owned());
        }
        let host = headers.get(axum::http::header::HOST).and_then(|v| v.to_str().ok()).unwrap_or_default();
        let sane = !host.is_empty()
            && host.len() <= 255
            && host.bytes().all(|b| b.is_ascii_alphanumeric() || matches!(b, b'.' | b'-' | b':' | b'[' | b']'));
        if sane {
            Ok(format!("http://{host}"))
        } else {
            Err(crate::error::AppError::bad_request("The Host header is missing or malformed"))
        }
    }

    /// The client's address and user agent, as logins and audit events record them.
    pub fn client_info(&self, parts: &Parts) -> ClientInfo {
        let user_agent = parts.headers.get(axum::http::header::USER_AGENT).and_then(|v| v.to_str().ok());
        ClientInfo::new(self.client_ip(parts), user_agent)
    }
}

impl FromRef<AppState> for LeptosOptions {
    fn from_ref(state: &AppState) -> Self {
        state.leptos_options.clone()
    }
}
