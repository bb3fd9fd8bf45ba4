//! Users in SQL. One query text for both databases (see `crate::db`).

use super::User;
use crate::{
    audit::repository::{NewEvent, record},
    db::{Db, is_unique_violation, now_micros, with_pool},
    domain::Role,
};
use serde_json::{Map, Value};
use uuid::Uuid;

/// The user columns, aliased `u`, in `UserRow` order.
macro_rules! user_columns {
    () => {
        "u.id, u.username, u.email, u.full_name, u.password_hash, u.role, u.disabled, u.created_at, \
         u.totp_secret IS NOT NULL AS mfa_enabled"
    };
}
pub(crate) use user_columns;

/// A stored user, hash included. Deliberately not `Serialize`: only [`User`] goes on the wire.
#[derive(Clone, sqlx::FromRow)]
pub struct UserRow {
    pub id: String,
    pub username: String,
    pub email: Option<String>,
    pub full_name: Option<String>,
    pub password_hash: String,
    pub role: String,
    pub disabled: bool,
    pub created_at: i64,
    /// A second factor is on (the account has a confirmed TOTP secret).
    pub mfa_enabled: bool,
}

impl std::fmt::Debug for UserRow {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("UserRow")
            .field("id", &self.id)
            .field("username", &self.username)
            .field("role", &self.role)
            .field("disabled", &self.disabled)
            .finish_non_exhaustive()
    }
}

impl UserRow {
    pub fn role(&self) -> Role {
        // The column has a CHECK constraint; anything else would be a corrupt row.
        self.role.parse().unwrap_or(Role::User)
    }

    pub fn is_enabled_admin(&self) -> bool {
        self.role() == Role::Admin && !self.disabled
    }

    pub fn to_user(&self) -> User {
        User {
            id: self.id.clone(),
            username: self.username.clone(),
            email: self.email.clone(),
            full_name: self.full_name.clone(),
            role: self.role(),
            disabled: self.disabled,
            created_at: rfc3339(self.created_at),
            mfa_enabled: self.mfa_enabled,
        }
    }
}

pub use crate::db::rfc3339;

pub struct NewUser<'a> {
    pub username: &'a str,
    pub email: Option<&'a str>,
    pub full_name: Option<&'a str>,
    pub password_hash: &'a str,
    pub role: Role,
}

/// The form of an email address that uniqueness compares: lowercased with Unicode's rules
/// here, not by the database (SQLite's lower() folds ASCII only).
fn email_key(email: &str) -> String {
    email.to_lowercase()
}

/// Which of a username and an email are already used (ignoring case), as (username, email).
pub async fn taken(db: &Db, username: &str, email: Option<&str>) -> Result<(bool, bool), sqlx::Error> {
    let key = email.map(email_key);
    let rows: Vec<(bool, Option<bool>)> = with_pool!(db, pool => {
        sqlx::query_as(
            "SELECT lower(username) = lower($1), email_key = $2 FROM users \
             WHERE lower(username) = lower($1) OR email_key = $2",
        )
        .bind(username)
        .bind(&key)
        .fetch_all(pool)
        .await
    })?;
    let username_taken = rows.iter().any(|(name, _)| *name);
    let email_taken = rows.iter().any(|(_, email)| *email == Some(true));
    Ok((username_taken, email_taken))
}

/// Inserts a user and records `event` (`user.registered`, about the new id); `None` when a
/// unique index refused it (a race lost to another insert: [`taken`] then says which value
/// is in use). Never a duplicate.
pub async fn insert(db: &Db, new: &NewUser<'_>, event: NewEvent) -> Result<Option<UserRow>, sqlx::Error> {
    let row = UserRow {
        id: Uuid::now_v7().to_string(),
        username: new.username.to_owned(),
        email: new.email.map(str::to_owned),
        full_name: new.full_name.map(str::to_owned),
        password_hash: new.password_hash.to_owned(),
        role: new.role.as_str().to_owned(),
        disabled: false,
        created_at: now_micros(),
        mfa_enabled: false,
    };
    let event = event.user(&row.id).detail("username", row.username.as_str()).detail("role", row.role.as_str());
    let result = with_pool!(db, pool => {
        let mut tx = pool.begin().await?;
        let inserted = sqlx::query(
            "INSERT INTO users (id, username, email, email_key, full_name, password_hash, role, disabled, created_at) \
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)",
        )
        .bind(&row.id)
        .bind(&row.username)
        .bind(&row.email)
        .bind(row.email.as_deref().map(email_key))
        .bind(&row.full_name)
        .bind(&row.password_hash)
        .bind(&row.role)
        .bind(row.disabled)
        .bind(row.created_at)
        .execute(&mut *tx)
        .await;
        match inserted {
            Ok(_) => {
                record!(&mut *tx, &event)?;
                tx.commit().await
            }
            Err(e) => Err(e),
        }
    });
    match result {
        Ok(()) => Ok(Some(row)),
        Err(e) if is_unique_violation(&e) => Ok(None),
        Err(e) => Err(e),
    }
}

pub async fn find_by_username(db: &Db, username: &str) -> Result<Option<UserRow>, sqlx::Error> {
    with_pool!(db, pool => {
        sqlx::query_as(concat!("SELECT ", user_columns!(), " FROM users u WHERE lower(u.username) = lower($1)"))
            .bind(username)
            .fetch_optional(pool)
            .await
    })
}

pub async fn find_by_id(db: &Db, id: &Uuid) -> Result<Option<UserRow>, sqlx::Error> {
    with_pool!(db, pool => {
        sqlx::query_as(concat!("SELECT ", user_columns!(), " FROM users u WHERE u.id = $1"))
            .bind(id.to_string())
            .fetch_optional(pool)
            .await
    })
}

/// A user together with the state of one of their logins, read in one indexed lookup:
/// the whole per-request cost of authenticating an access token.
#[derive(sqlx::FromRow)]
pub struct UserWithLogin {
    #[sqlx(flatten)]
    pub user: UserRow,
    pub login_ended_at: Option<i64>,
}

pub async fn find_with_login(db: &Db, user_id: &Uuid, login_id: &Uuid) -> Result<Option<UserWithLogin>, sqlx::Error> {
    with_pool!(db, pool => {
        sqlx::query_as(concat!(
            "SELECT ", user_columns!(), ", l.ended_at AS login_ended_at \
             FROM logins l JOIN users u ON u.id = l.user_id WHERE l.id = $1 AND l.user_id = $2"
        ))
        .bind(login_id.to_string())
        .bind(user_id.to_string())
        .fetch_optional(pool)
        .await
    })
}

/// Escapes `%`, `_` and `\` so a search term matches literally inside LIKE.
fn like_pattern(q: &str) -> String {
    let mut out = String::with_capacity(q.len() + 2);
    out.push('%');
    for c in q.to_lowercase().chars() {
        if matches!(c, '%' | '_' | '\\') {
            out.push('\\');
        }
        out.push(c);
    }
    out.push('%');
    out
}

/// One page of users ordered by creation then id, optionally filtered by a case-insensitive
/// substring of username or email; with the total count of matches.
pub async fn list(db: &Db, q: Option<&str>, limit: i64, offset: i64) -> Result<(Vec<UserRow>, i64), sqlx::Error> {
    let pattern = q.map(like_pattern);
    with_pool!(db, pool => {
        let total: i64 = sqlx::query_scalar(
            "SELECT COUNT(*) FROM users u \
             WHERE (CAST($1 AS TEXT) IS NULL OR lower(u.username) LIKE $1 ESCAPE '\\' OR u.email_key LIKE $1 ESCAPE '\\')",
        )
        .bind(&pattern)
        .fetch_one(pool)
        .await?;
        let rows: Vec<UserRow> = sqlx::query_as(concat!(
            "SELECT ", user_columns!(), " FROM users u \
             WHERE (CAST($1 AS TEXT) IS NULL OR lower(u.username) LIKE $1 ESCAPE '\\' OR u.email_key LIKE $1 ESCAPE '\\') \
             ORDER BY u.created_at, u.id LIMIT $2 OFFSET $3"
        ))
        .bind(&pattern)
        .bind(limit)
        .bind(offset)
        .fetch_all(pool)
        .await?;
        Ok((rows, total))
    })
}

pub enum UpdateOutcome {
    Updated(UserRow),
    NotFound,
    /// The change would leave no enabled admin.
    LastAdmin,
}

/// Changes a user's role and/or disabled flag, refusing to remove the last enabled admin,
/// and records `event` (`user.updated`) with the changed values before and after; disabling
/// also ends every login (`end_logins` runs the statements, inside the transaction). One
/// transaction that first locks the `admin_guard` row, so that concurrent changes are
/// serialised and cannot each remove "the other" last admin.
pub async fn update_role_status(
    db: &Db,
    id: &Uuid,
    role: Option<Role>,
    disabled: Option<bool>,
    event: NewEvent,
) -> Result<UpdateOutcome, sqlx::Error> {
    let id = id.to_string();
    with_pool!(db, pool => {
        let mut tx = pool.begin().await?;
        sqlx::query("UPDATE admin_guard SET version = version + 1 WHERE id = 1")
            .execute(&mut *tx)
            .await?;
        let current: Option<UserRow> =
            sqlx::query_as(concat!("SELECT ", user_columns!(), " FROM users u WHERE u.id = $1"))
                .bind(&id)
                .fetch_optional(&mut *tx)
                .await?;
        let Some(mut row) = current else {
            return Ok(UpdateOutcome::NotFound);
        };
        let before = row.clone();
        let was_enabled_admin = row.is_enabled_admin();
        if let Some(role) = role {
            row.role = role.as_str().to_owned();
        }
        if let Some(disabled) = disabled {
            row.disabled = disabled;
        }
        if was_enabled_admin && !row.is_enabled_admin() {
            let others: i64 = sqlx::query_scalar(
                "SELECT COUNT(*) FROM users WHERE role = 'admin' AND NOT disabled AND id <> $1",
            )
            .bind(&id)
            .fetch_one(&mut *tx)
            .await?;
            if others == 0 {
                return Ok(UpdateOutcome::LastAdmin);
            }
        }
        if row.role == before.role && row.disabled == before.disabled {
            // Nothing changes: nothing is written, and no event records a non-change.
            tx.rollback().await?;
            return Ok(UpdateOutcome::Updated(row));
        }
        sqlx::query("UPDATE users SET role = $1, disabled = $2 WHERE id = $3")
            .bind(&row.role)
            .bind(row.disabled)
            .bind(&id)
            .execute(&mut *tx)
            .await?;
        if row.disabled && !before.disabled {
            // The disabled flag already stops every token; ending the logins as well means
            // enabling the account again does not bring its old sessions back.
            crate::auth::logins::end_all!(&mut *tx, id.as_str(), None)?;
        }
        let (old, new) = changes(&[
            ("role", Value::from(before.role.as_str()), Value::from(row.role.as_str())),
            ("disabled", Value::from(before.disabled), Value::from(row.disabled)),
        ]);
        record!(&mut *tx, &event.user(&id).detail("before", old).detail("after", new))?;
        tx.commit().await?;
        Ok(UpdateOutcome::Updated(row))
    })
}

/// The fields whose value changed, as `before` and `after` objects of an event's detail.
pub fn changes(fields: &[(&str, Value, Value)]) -> (Map<String, Value>, Map<String, Value>) {
    let (mut before, mut after) = (Map::new(), Map::new());
    for (name, old, new) in fields {
        if old != new {
            before.insert((*name).to_owned(), old.clone());
            after.insert((*name).to_owned(), new.clone());
        }
    }
    (before, after)
}

pub enum ProfileOutcome {
    Updated(UserRow),
    NotFound,
    /// The email is another account's.
    EmailTaken,
}

/// Sets the email and/or full name of a user (`Some(None)` clears one) and records `event`
/// (`profile.updated`) with the changed values, in one transaction.
pub async fn update_profile(
    db: &Db,
    id: &str,
    email: Option<Option<&str>>,
    full_name: Option<Option<&str>>,
    event: NewEvent,
) -> Result<ProfileOutcome, sqlx::Error> {
    with_pool!(db, pool => {
        let mut tx = pool.begin().await?;
        // A write first: it locks the row (PostgreSQL) or takes the write lock (SQLite), so
        // two edits at once are serialised and neither is lost.
        let locked = sqlx::query("UPDATE users SET id = id WHERE id = $1").bind(id).execute(&mut *tx).await?;
        if locked.rows_affected() != 1 {
            return Ok(ProfileOutcome::NotFound);
        }
        let current: Option<UserRow> =
            sqlx::query_as(concat!("SELECT ", user_columns!(), " FROM users u WHERE u.id = $1"))
                .bind(id)
                .fetch_optional(&mut *tx)
                .await?;
        let Some(mut row) = current else {
            return Ok(ProfileOutcome::NotFound);
        };
        let before = row.clone();
        if let Some(email) = email {
            row.email = email.map(str::to_owned);
        }
        if let Some(full_name) = full_name {
            row.full_name = full_name.map(str::to_owned);
        }
        if row.email == before.email && row.full_name == before.full_name {
            // Nothing changes: nothing is written, and no event records a non-change.
            tx.rollback().await?;
            return Ok(ProfileOutcome::Updated(row));
        }
        let updated = sqlx::query("UPDATE users SET email = $1, email_key = $2, full_name = $3 WHERE id = $4")
            .bind(&row.email)
            .bind(row.email.as_deref().map(email_key))
            .bind(&row.full_name)
            .bind(id)
            .execute(&mut *tx)
            .await;
        match updated {
            Err(e) if is_unique_violation(&e) => return Ok(ProfileOutcome::EmailTaken),
            other => other?,
        };
        let (old, new) = changes(&[
            ("email", Value::from(before.email.clone()), Value::from(row.email.clone())),
            ("full_name", Value::from(before.full_name.clone()), Value::from(row.full_name.clone())),
        ]);
        record!(&mut *tx, &event.user(id).detail("before", old).detail("after", new))?;
        tx.commit().await?;
        Ok(ProfileOutcome::Updated(row))
    })
}

pub enum DeleteOutcome {
    /// The account as it was.
    Deleted(UserRow),
    NotFound,
    /// It is the last enabled admin.
    LastAdmin,
}

/// Deletes a user (their logins, refresh tokens and reset link go with them, by cascade) and
/// records `event` (`user.deleted`, with the username), unless they are the last enabled
/// admin. Serialised with role changes by the `admin_guard` row.
pub async fn delete(db: &Db, id: &str, event: NewEvent) -> Result<DeleteOutcome, sqlx::Error> {
    with_pool!(db, pool => {
        let mut tx = pool.begin().await?;
        sqlx::query("UPDATE admin_guard SET version = version + 1 WHERE id = 1").execute(&mut *tx).await?;
        let current: Option<UserRow> =
            sqlx::query_as(concat!("SELECT ", user_columns!(), " FROM users u WHERE u.id = $1"))
                .bind(id)
                .fetch_optional(&mut *tx)
                .await?;
        let Some(row) = current else {
            return Ok(DeleteOutcome::NotFound);
        };
        if row.is_enabled_admin() {
            let others: i64 =
                sqlx::query_scalar("SELECT COUNT(*) FROM users WHERE role = 'admin' AND NOT disabled AND id <> $1")
                    .bind(id)
                    .fetch_one(&mut *tx)
                    .await?;
            if others == 0 {
                return Ok(DeleteOutcome::LastAdmin);
            }
        }
        sqlx::query("DELETE FROM users WHERE id = $1").bind(id).execute(&mut *tx).await?;
        record!(&mut *tx, &event.user(id).detail("username", row.username.as_str()))?;
        tx.commit().await?;
        Ok(DeleteOutcome::Deleted(row))
    })
}

/// `event` about `row`, with what making it an enabled admin changes before and after.
fn promotion(row: &UserRow, event: NewEvent) -> NewEvent {
    let (old, new) = changes(&[
        ("role", Value::from(row.role.as_str()), Value::from("admin")),
        ("disabled", Value::from(row.disabled), Value::from(false)),
    ]);
    event.user(&row.id).detail("before", old).detail("after", new)
}

/// Makes an existing user an enabled admin (its password is kept), recording `event`
/// (`user.updated`) when that changed anything.
pub async fn promote_to_enabled_admin(db: &Db, row: &UserRow, event: NewEvent) -> Result<(), sqlx::Error> {
    if row.is_enabled_admin() {
        return Ok(());
    }
    let event = promotion(row, event);
    with_pool!(db, pool => {
        let mut tx = pool.begin().await?;
        let changed = sqlx::query("UPDATE users SET role = 'admin', disabled = FALSE WHERE id = $1 AND (role <> 'admin' OR disabled)")
            .bind(&row.id)
            .execute(&mut *tx)
            .await?
            .rows_affected();
        if changed == 1 {
            record!(&mut *tx, &event)?;
        }
        tx.commit().await
    })
}

/// The usernames of those of `ids` that exist.
pub async fn usernames(db: &Db, ids: &[&str]) -> Result<std::collections::HashMap<String, String>, sqlx::Error> {
    if ids.is_empty() {
        return Ok(Default::default());
    }
    let placeholders: Vec<String> = (1..=ids.len()).map(|n| format!("${n}")).collect();
    let sql = format!("SELECT id, username FROM users WHERE id IN ({})", placeholders.join(", "));
    let rows: Vec<(String, String)> = with_pool!(db, pool => {
        let mut query = sqlx::query_as(sqlx::AssertSqlSafe(sql.clone()));
        for id in ids {
            query = query.bind(*id);
        }
        query.fetch_all(pool).await
    })?;
    Ok(rows.into_iter().collect())
}

/// How many accounts there are.
pub async fn count(db: &Db) -> Result<i64, sqlx::Error> {
    with_pool!(db, pool => sqlx::query_scalar("SELECT COUNT(*) FROM users").fetch_one(pool).await)
}

/// Makes an existing user an enabled admin with a new password hash and ends every one of its
/// logins, recording `event` (`password.reset` by the operator), in one transaction.
pub async fn make_admin_with_password(
    db: &Db,
    row: &UserRow,
    new_hash: &str,
    event: NewEvent,
) -> Result<(), sqlx::Error> {
    let event = promotion(row, event);
    with_pool!(db, pool => {
        let mut tx = pool.begin().await?;
        sqlx::query("UPDATE users SET role = 'admin', disabled = FALSE, password_hash = $1 WHERE id = $2")
            .bind(new_hash)
            .bind(&row.id)
            .execute(&mut *tx)
            .await?;
        crate::auth::logins::end_all!(&mut *tx, row.id.as_str(), None)?;
        record!(&mut *tx, &event)?;
        tx.commit().await
    })
}

/// Replaces a password hash, but only if it is still `old_hash`: a hash upgraded at login
/// never overwrites one changed in between.
pub async fn replace_password_hash(db: &Db, id: &str, old_hash: &str, new_hash: &str) -> Result<bool, sqlx::Error> {
    with_pool!(db, pool => {
        sqlx::query("UPDATE users SET password_hash = $1 WHERE id = $2 AND password_hash = $3")
            .bind(new_hash)
            .bind(id)
            .bind(old_hash)
            .execute(pool)
            .await
            .map(|r| r.rows_affected() == 1)
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn like_patterns_match_wildcards_literally_and_ignore_case() {
        assert_eq!(like_pattern("Al_ice%"), "%al\\_ice\\%%");
        assert_eq!(like_pattern("a\\b"), "%a\\\\b%");
    }

    #[test]
    fn times_are_rfc3339_utc() {
        assert_eq!(rfc3339(0), "1970-01-01T00:00:00Z");
        assert_eq!(rfc3339(1_500_000), "1970-01-01T00:00:01.5Z");
    }

    /// A column added to what authentication returns must also move the auth epoch when it
    /// changes, or a cached login would go on showing its old value.
    #[test]
    fn the_auth_epoch_triggers_watch_every_column_authentication_returns() {
        let read: Vec<&str> = user_columns!()
            .split(',')
            .map(|column| column.trim().trim_start_matches("u.").split_whitespace().next().unwrap_or_default())
            .filter(|column| *column != "password_hash")
            .collect();
        assert_eq!(read, crate::db::epoch::USER_COLUMNS_WATCHED);
    }
}
