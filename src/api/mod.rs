//! The JSON API of `shared/spec/http-api.md`: thin handlers that convert HTTP to the
//! services' inputs and their results back; every rule lives in the services. Every route
//! is registered with its OpenAPI description (`routes!` takes both from the handler), so
//! the document served at `/api/v1/openapi.json` lists exactly what the router serves.

mod account;
mod audit;
mod auth;
mod discovery;
pub mod doc;
mod extract;
mod health;
mod keys;
mod mfa;
mod users;

use crate::{error::AppError, http::private::no_store, state::AppState};
use axum::{Extension, Router, middleware};
use utoipa::OpenApi as _;
use utoipa_axum::{router::OpenApiRouter, routes};

/// The routes under `/api/v1`, with their descriptions.
fn v1() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(auth::register))
        .routes(routes!(auth::token))
        .routes(routes!(auth::revoke))
        .routes(routes!(auth::password_reset))
        .routes(routes!(users::me, account::update_profile, account::delete_account))
        .routes(routes!(users::sign_out_everywhere))
        .routes(routes!(account::change_password))
        .routes(routes!(account::logins))
        .routes(routes!(account::end_login))
        .routes(routes!(account::events))
        .routes(routes!(mfa::start_totp, mfa::disable_totp))
        .routes(routes!(mfa::confirm_totp))
        .routes(routes!(mfa::replace_recovery_codes))
        .routes(routes!(users::list))
        .routes(routes!(users::get, users::update, users::delete))
        .routes(routes!(users::reset_link))
        .routes(routes!(users::logins))
        .routes(routes!(users::end_login))
        .routes(routes!(mfa::remove))
        .routes(routes!(audit::list))
        .routes(routes!(keys::list))
        .routes(routes!(keys::rotate))
        .routes(routes!(health::health))
        .routes(routes!(doc::openapi))
}

/// The routes under `/.well-known` (public, cacheable), with their descriptions.
fn well_known() -> OpenApiRouter<AppState> {
    OpenApiRouter::new().routes(routes!(discovery::jwks)).routes(routes!(discovery::authorization_server))
}

/// The JSON API's routers and their document.
pub struct Api {
    /// To nest under `/api/v1`.
    pub v1: Router<AppState>,
    /// To nest under `/.well-known`.
    pub well_known: Router<AppState>,
    pub document: utoipa::openapi::OpenApi,
}

/// The JSON API, its discovery routes, and the OpenAPI document of both.
pub fn api() -> Api {
    let (v1, v1_doc) = v1().split_for_parts();
    let (well_known, well_known_doc) = well_known().split_for_parts();
    let well_known = well_known
        .fallback(|| async { AppError::NotFound })
        .method_not_allowed_fallback(|| async { AppError::MethodNotAllowed });
    let mut document = doc::ApiDoc::openapi().nest("/api/v1", v1_doc).nest("/.well-known", well_known_doc);
    document.info.version = env!("CARGO_PKG_VERSION").to_owned();
    doc::complete(&mut document);
    let json = document.to_json().expect("the OpenAPI document serializes");
    let v1 = v1
        .fallback(|| async { AppError::NotFound })
        .method_not_allowed_fallback(|| async { AppError::MethodNotAllowed })
        .layer(Extension(doc::Document(json.into())))
        .layer(middleware::map_response(no_store));
    Api { v1, well_known, document }
}

/// The methods of each documented path under `prefix`, with the prefix taken off (the paths
/// as the router nested there sees them).
pub fn methods_by_path(document: &utoipa::openapi::OpenApi, prefix: &str) -> Vec<(String, Vec<&'static str>)> {
    document
        .paths
        .paths
        .iter()
        .filter_map(|(path, item)| {
            let path = path.strip_prefix(prefix)?;
            let methods = [
                ("GET", &item.get),
                ("POST", &item.post),
                ("PUT", &item.put),
                ("PATCH", &item.patch),
                ("DELETE", &item.delete),
                ("HEAD", &item.head),
                ("OPTIONS", &item.options),
                ("TRACE", &item.trace),
            ];
            Some((path.to_owned(), methods.iter().filter(|(_, op)| op.is_some()).map(|(m, _)| *m).collect()))
        })
        .collect()
}
