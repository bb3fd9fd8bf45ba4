//! The application state: everything a request may need, passed explicitly (no global
//! state), so a test can build the whole application against its own database. Built by
//! `server::build_state`; read by both doors (the JSON API and the server functions).

use crate::{
    auth::service::AuthService,
    db::Db,
    http::{client_address::TrustedProxies, cookie::RefreshCookie, cors::CorsOrigins, security::SecurityHeaders},
    users::service::UserService,
};
use axum::{extract::FromRef, http::request::Parts};
use leptos::config::LeptosOptions;
use std::{net::IpAddr, sync::Arc};

#[derive(Clone)]
pub struct AppState {
    pub leptos_options: LeptosOptions,
    pub db: Db,
    pub auth: Arc<AuthService>,
    pub users: Arc<UserService>,
    pub refresh_cookie: RefreshCookie,
    /// The public origin when configured (`GATEHOUSE_PUBLIC_URL`), for origin checks.
    pub public_url: Option<Arc<str>>,
    pub trusted_proxies: Arc<TrustedProxies>,
    /// Origins allowed to call the JSON API from a browser (none: no CORS).
    pub cors_origins: Arc<CorsOrigins>,
    /// Security headers for every response (CSP, HSTS over HTTPS, ...).
    pub security: Arc<SecurityHeaders>,
}

impl AppState {
    /// The client's address for throttling: the socket peer, or what trusted proxies say.
    pub fn client_ip(&self, parts: &Parts) -> IpAddr {
        self.trusted_proxies.client_of(parts)
    }
}

impl FromRef<AppState> for LeptosOptions {
    fn from_ref(state: &AppState) -> Self {
        state.leptos_options.clone()
    }
}
