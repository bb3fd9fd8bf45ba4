//! Server functions of the admin page: thin doors onto the users service. Each checks that
//! its caller's bearer token belongs to an admin right now.

use crate::{
    domain::Role,
    error::AppError,
    session::AuthClient,
    users::{User, UserPage},
};
use leptos::prelude::*;

/// Rows per page on the admin page.
pub const PAGE_SIZE: i64 = 50;

#[server(prefix = "/fn", endpoint = "list-users", client = AuthClient)]
pub async fn list_users(q: String, offset: i64) -> Result<UserPage, AppError> {
    use crate::auth::web;
    let admin = web::admin().await?;
    if offset < 0 {
        return Err(AppError::field("offset", "Must be at least 0"));
    }
    crate::users::service::list(web::state()?.auth.db(), &admin, Some(q.trim()), PAGE_SIZE, offset).await
}

#[server(prefix = "/fn", endpoint = "update-user", client = AuthClient)]
pub async fn update_user(id: String, role: Option<Role>, disabled: Option<bool>) -> Result<User, AppError> {
    use crate::{auth::web, users::service};
    let admin = web::admin().await?;
    let id = uuid::Uuid::parse_str(&id).map_err(|_| AppError::NotFound)?;
    if role.is_none() && disabled.is_none() {
        return Err(AppError::field("body", "Send a role and/or a status"));
    }
    service::update(web::state()?.auth.db(), &admin, &id, service::UserChange { role, disabled }).await
}
