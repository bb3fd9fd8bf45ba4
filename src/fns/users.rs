//! Server functions of the admin page: thin doors onto the users service. Each checks that
//! its caller's bearer token belongs to an admin right now.

use crate::{
    audit::EventLines,
    domain::Role,
    error::AppError,
    fns::client::AuthClient,
    users::{LoginSession, ResetLink, User, UserPage},
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
    context::state()?.users.update(&admin, &id, UserChange { role, disabled }, &context::client()?).await
}

/// How many of an account's events `/admin/users/{id}` shows.
pub const USER_HISTORY_LENGTH: i64 = 50;

/// One account, with its live logins and its last events.
#[derive(Clone, Debug, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct AccountDetail {
    pub user: User,
    pub logins: Vec<LoginSession>,
    pub events: EventLines,
}

#[server(prefix = "/fn", endpoint = "user-detail", client = AuthClient)]
pub async fn user_detail(id: String) -> Result<AccountDetail, AppError> {
    use crate::{fns::context, users::service::AuditQuery};
    let admin = context::admin().await?;
    let state = context::state()?;
    let user = state.users.get(&admin, &id).await?;
    let logins = state.auth.logins_of(&admin, &id).await?;
    let query = AuditQuery { user_id: Some(user.id.clone()), limit: Some(USER_HISTORY_LENGTH), ..Default::default() };
    let events = state.users.audit_lines(&admin, query).await?;
    Ok(AccountDetail { user, logins, events })
}

#[server(prefix = "/fn", endpoint = "delete-user", client = AuthClient)]
pub async fn delete_user(id: String) -> Result<(), AppError> {
    use crate::fns::context;
    let admin = context::admin().await?;
    context::state()?.auth.delete_user_for(&admin, &id, &context::client()?).await
}

/// A single-use password reset link for the account, voiding any older one.
#[server(prefix = "/fn", endpoint = "create-reset-link", client = AuthClient)]
pub async fn create_reset_link(id: String) -> Result<ResetLink, AppError> {
    use crate::fns::context;
    let admin = context::admin().await?;
    let state = context::state()?;
    let origin = state.public_origin(&context::request_parts()?.headers)?;
    state.auth.create_reset_link(&admin, &id, &origin, &context::client()?).await
}

/// Removes the account's two-factor authentication (its person lost their authenticator).
#[server(prefix = "/fn", endpoint = "remove-user-mfa", client = AuthClient)]
pub async fn remove_user_mfa(id: String) -> Result<(), AppError> {
    use crate::fns::context;
    let admin = context::admin().await?;
    context::state()?.auth.remove_mfa_for(&admin, &id, &context::client()?).await
}

#[server(prefix = "/fn", endpoint = "end-user-login", client = AuthClient)]
pub async fn end_user_login(id: String, login_id: String) -> Result<(), AppError> {
    use crate::fns::context;
    let admin = context::admin().await?;
    context::state()?.auth.end_login_of(&admin, &id, &login_id, &context::client()?).await
}

/// A page of the audit log: of one event type (empty: all) and one username (empty: all),
/// older than `before` when given.
#[server(prefix = "/fn", endpoint = "audit-log", client = AuthClient)]
pub async fn audit_log(kind: String, username: String, before: Option<String>) -> Result<EventLines, AppError> {
    use crate::{fns::context, users::service::AuditQuery};
    let admin = context::admin().await?;
    let state = context::state()?;
    let username = username.trim();
    let user_id = if username.is_empty() {
        None
    } else {
        match state.users.id_of(&admin, username).await? {
            Some(id) => Some(id),
            None => return Err(AppError::field("user", "No account has that username")),
        }
    };
    let kind = Some(kind).filter(|k| !k.is_empty());
    state.users.audit_lines(&admin, AuditQuery { user_id, kind, limit: None, before }).await
}
