//! Admin operations on users. Each takes an [`Admin`]: proof, made by the auth service on
//! this very request, that the caller is an admin right now.

use super::{
    User, UserPage,
    repository::{self, UpdateOutcome},
};
use crate::{
    auth::{service::Admin, sessions, throttle},
    db::Db,
    domain::Role,
    error::AppError,
};
use uuid::Uuid;

pub const DEFAULT_PAGE_SIZE: i64 = 50;
pub const MAX_PAGE_SIZE: i64 = 200;

/// A change an admin asks for; `None` leaves that attribute as it is.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct UserChange {
    pub role: Option<Role>,
    pub disabled: Option<bool>,
}

pub async fn list(db: &Db, _admin: &Admin, q: Option<&str>, limit: i64, offset: i64) -> Result<UserPage, AppError> {
    let limit = limit.clamp(1, MAX_PAGE_SIZE);
    let q = q.filter(|q| !q.is_empty());
    let (rows, total) = repository::list(db, q, limit, offset).await?;
    Ok(UserPage { items: rows.iter().map(repository::UserRow::to_user).collect(), total, limit, offset })
}

pub async fn get(db: &Db, _admin: &Admin, id: &Uuid) -> Result<User, AppError> {
    repository::find_by_id(db, id).await?.map(|row| row.to_user()).ok_or(AppError::NotFound)
}

pub async fn update(db: &Db, admin: &Admin, id: &Uuid, change: UserChange) -> Result<User, AppError> {
    match repository::update_role_status(db, id, change.role, change.disabled).await? {
        UpdateOutcome::NotFound => Err(AppError::NotFound),
        UpdateOutcome::LastAdmin => {
            Err(AppError::Conflict("This change would leave no enabled admin; promote another user first".into()))
        }
        UpdateOutcome::Updated(row) => {
            if change.disabled == Some(true) {
                // The disabled flag already stops every token; ending the logins as well means
                // enabling the account again does not bring its old sessions back.
                sessions::end_all_logins(db, &row.id).await?;
            }
            if change.disabled == Some(false) {
                // Enabling is also how an admin unlocks an account that guessers locked.
                throttle::reset(db, &throttle::account_key(&row.username)).await?;
            }
            tracing::info!(
                admin_id = %admin.current().user.id, user_id = %row.id,
                role = %row.role, disabled = row.disabled, "user changed by admin"
            );
            Ok(row.to_user())
        }
    }
}
