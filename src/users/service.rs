//! Admin operations on users: every rule of listing, reading and changing users, for both
//! doors. Each takes an [`Admin`]: proof, made by the auth service on this very request,
//! that the caller is an admin right now. What ends logins or lifts a throttle is asked of
//! the auth service, which owns those records.

use super::{
    User, UserPage,
    repository::{self, UpdateOutcome},
};
use crate::{
    auth::service::{Admin, AuthService},
    db::Db,
    domain::Role,
    error::{AppError, FieldErrors},
};
use std::sync::Arc;
use uuid::Uuid;

pub const DEFAULT_PAGE_SIZE: i64 = 50;
pub const MAX_PAGE_SIZE: i64 = 200;
/// A search longer than any username or email cannot match; SQLite also refuses LIKE
/// patterns of about 50 KB ("pattern too complex").
pub const MAX_QUERY_CHARS: usize = 254;

/// A search and page of the user list, as a caller asked for it.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct ListQuery {
    /// A substring of username or email; blank means everyone.
    pub q: Option<String>,
    /// Rows per page: [`DEFAULT_PAGE_SIZE`] when absent, at most [`MAX_PAGE_SIZE`].
    pub limit: Option<i64>,
    pub offset: Option<i64>,
}

impl ListQuery {
    /// Reads `q`, `limit` and `offset` from query parameters (`get` looks one up). Every
    /// problem is reported at once, in the same words as [`UserService::list`]'s checks.
    pub fn from_params<'a>(get: impl Fn(&str) -> Option<&'a str>) -> Result<Self, AppError> {
        let mut errors = FieldErrors::new();
        let mut number = |name: &str, min: i64| match get(name).filter(|raw| !raw.is_empty()) {
            None => None,
            Some(raw) => raw.parse::<i64>().map_err(|_| errors.insert(name.into(), at_least(min))).ok(),
        };
        let (limit, offset) = (number("limit", 1), number("offset", 0));
        if !errors.is_empty() {
            return Err(AppError::Validation(errors));
        }
        Ok(Self { q: get("q").map(str::to_owned), limit, offset })
    }
}

fn at_least(min: i64) -> String {
    format!("Must be a whole number of at least {min}")
}

/// A change an admin asks for; `None` leaves that attribute as it is.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct UserChange {
    pub role: Option<Role>,
    pub disabled: Option<bool>,
}

pub struct UserService {
    db: Db,
    auth: Arc<AuthService>,
}

impl UserService {
    pub fn new(db: Db, auth: Arc<AuthService>) -> Self {
        Self { db, auth }
    }

    /// One page of users in creation order, optionally filtered by `q`.
    pub async fn list(&self, _admin: &Admin, query: ListQuery) -> Result<UserPage, AppError> {
        self.list_for_operator(query).await
    }

    /// [`Self::list`] for the operator's command line, who holds the database itself.
    pub async fn list_for_operator(&self, query: ListQuery) -> Result<UserPage, AppError> {
        let mut errors = FieldErrors::new();
        let limit = query.limit.unwrap_or(DEFAULT_PAGE_SIZE);
        if limit < 1 {
            errors.insert("limit".into(), at_least(1));
        }
        let offset = query.offset.unwrap_or(0);
        if offset < 0 {
            errors.insert("offset".into(), at_least(0));
        }
        let q = query.q.as_deref().map(str::trim).filter(|q| !q.is_empty());
        if q.is_some_and(|q| q.chars().count() > MAX_QUERY_CHARS) {
            errors.insert("q".into(), format!("Must be at most {MAX_QUERY_CHARS} characters"));
        }
        if !errors.is_empty() {
            return Err(AppError::Validation(errors));
        }
        let limit = limit.min(MAX_PAGE_SIZE);
        let (rows, total) = repository::list(&self.db, q, limit, offset).await?;
        Ok(UserPage { items: rows.iter().map(repository::UserRow::to_user).collect(), total, limit, offset })
    }

    pub async fn get(&self, _admin: &Admin, id: &str) -> Result<User, AppError> {
        let id = user_id(id)?;
        repository::find_by_id(&self.db, &id).await?.map(|row| row.to_user()).ok_or(AppError::NotFound)
    }

    pub async fn update(&self, admin: &Admin, id: &str, change: UserChange) -> Result<User, AppError> {
        if change == UserChange::default() {
            return Err(AppError::field("body", "Send \"role\" and/or \"disabled\""));
        }
        let id = user_id(id)?;
        match repository::update_role_status(&self.db, &id, change.role, change.disabled).await? {
            UpdateOutcome::NotFound => Err(AppError::NotFound),
            UpdateOutcome::LastAdmin => {
                Err(AppError::conflict("This change would leave no enabled admin; promote another user first"))
            }
            UpdateOutcome::Updated(row) => {
                if change.disabled == Some(true) {
                    // The disabled flag already stops every token; ending the logins as well
                    // means enabling the account again does not bring its old sessions back.
                    self.auth.end_all_logins(&row.id).await?;
                }
                if change.disabled == Some(false) {
                    // Enabling is also how an admin unlocks an account that guessers locked.
                    self.auth.unlock(&row.username).await?;
                }
                tracing::info!(
                    admin_id = %admin.current().user.id, user_id = %row.id,
                    role = %row.role, disabled = row.disabled, "user changed by admin"
                );
                Ok(row.to_user())
            }
        }
    }
}

/// Ids that are not UUIDs name no user: 404, like any other unknown id.
fn user_id(raw: &str) -> Result<Uuid, AppError> {
    Uuid::parse_str(raw).map_err(|_| AppError::NotFound)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn params<'a>(pairs: &'a [(&'a str, &'a str)]) -> impl Fn(&str) -> Option<&'a str> {
        move |name| pairs.iter().find(|(k, _)| *k == name).map(|(_, v)| *v)
    }

    #[test]
    fn query_parameters_become_a_list_query_or_one_error_naming_every_bad_number() {
        let query = ListQuery::from_params(params(&[("q", " al "), ("limit", "10"), ("offset", "")])).unwrap();
        assert_eq!(query, ListQuery { q: Some(" al ".into()), limit: Some(10), offset: None });
        let Err(AppError::Validation(fields)) = ListQuery::from_params(params(&[("limit", "x"), ("offset", "1.5")]))
        else {
            panic!("expected a validation error");
        };
        assert_eq!(fields["limit"], at_least(1));
        assert_eq!(fields["offset"], at_least(0));
    }
}
