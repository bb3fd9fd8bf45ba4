//! Server functions of the admin page: thin doors onto the users service. Each checks that
//! its caller's bearer token belongs to an admin right now.

use crate::{
    domain::Role,
    error::AppError,
    fns::client::AuthClient,
    users::{User, UserPage},
};
use leptos::prelude::*;

/// A page of users matching `q`, from `offset`, at the service's default page size.
#[server(prefix = "/fn", endpoint = "list-users", client = AuthClient)]
pub async fn list_users(q: String, offset: i64) -> Result<UserPage, AppError> {
    use crate::{fns::context, users::service::ListQuery};
    let admin = context::admin().await?;
    let query = ListQuery { q: Some(q), limit: None, offset: Some(offset) };
    context::state()?.users.list(&admin, query).await
}

#[server(prefix = "/fn", endpoint = "update-user", client = AuthClient)]
pub async fn update_user(id: String, role: Option<Role>, disabled: Option<bool>) -> Result<User, AppError> {
    use crate::{fns::context, users::service::UserChange};
    let admin = context::admin().await?;
    context::state()?.users.update(&admin, &id, UserChange { role, disabled }).await
}
