//! Logins and their refresh tokens in SQL.
//!
//! A login is what one password login starts; its refresh tokens form one family (each
//! records its parent). Ending a login revokes the whole family and, because access tokens
//! carry the login id, rejects its access tokens from the next request on.

use crate::{
    audit::{
        ClientInfo,
        repository::{NewEvent, record},
    },
    db::{Db, is_foreign_key_violation, now_micros, rfc3339, with_pool},
    users::repository::{UserRow, user_columns},
};
use uuid::Uuid;

/// A refresh token looked up by hash, with what decides whether it may be used and the
/// account it belongs to (read in the same lookup, so that nothing is left to read, and
/// nothing can fail, once the token has been rotated).
#[derive(Debug, sqlx::FromRow)]
pub struct RefreshRecord {
    pub token_id: String,
    pub login_id: String,
    pub expires_at: i64,
    pub used_at: Option<i64>,
    pub revoked_at: Option<i64>,
    pub login_ended_at: Option<i64>,
    #[sqlx(flatten)]
    pub user: UserRow,
}

impl RefreshRecord {
    /// Not revoked, its login not ended, its account enabled, not expired at `now`. (Whether
    /// it was already used is for the caller: a used token is a replay to `refresh`.)
    pub fn is_live(&self, now: i64) -> bool {
        self.revoked_at.is_none() && self.login_ended_at.is_none() && !self.user.disabled && self.expires_at > now
    }
}

/// The ids of user `$1`'s newest `$2` live logins (the ones a new login keeps).
macro_rules! newest_live_logins {
    () => {
        "SELECT id FROM logins WHERE user_id = $1 AND ended_at IS NULL ORDER BY created_at DESC, id DESC LIMIT $2"
    };
}
pub(crate) use newest_live_logins;

/// Live logins one user may have; a new login beyond them deletes the oldest. A valid
/// password replayed without end cannot grow the tables without bound.
pub const MAX_LIVE_LOGINS_PER_USER: i64 = 100;

/// A login about to start: what [`begin_login!`] writes.
pub struct NewLogin<'a> {
    pub id: Uuid,
    pub user_id: &'a str,
    /// The SHA-256 of its first refresh token.
    pub token_hash: &'a str,
    pub expires_at: i64,
    pub client: &'a ClientInfo,
    pub now: i64,
}

impl<'a> NewLogin<'a> {
    pub fn new(user_id: &'a str, token_hash: &'a str, expires_at: i64, client: &'a ClientInfo) -> Self {
        Self { id: Uuid::now_v7(), user_id, token_hash, expires_at, client, now: now_micros() }
    }
}

/// Starts `$login` (a [`NewLogin`]) with `$executor`, inside a caller's transaction: the login,
/// its first refresh token, and the deletion of the user's oldest live logins beyond
/// [`MAX_LIVE_LOGINS_PER_USER`] (deleted, not ended: a password replayed without end must not
/// leave a day of ended logins behind either; their refresh tokens go with them by ON DELETE
/// CASCADE). A macro for both databases, as `record!` is.
macro_rules! begin_login {
    ($executor:expr, $login:expr) => {{
        let login: &$crate::auth::logins::NewLogin<'_> = $login;
        let id = login.id.to_string();
        let inserted = sqlx::query(
            "INSERT INTO logins (id, user_id, created_at, last_used_at, user_agent, ip) VALUES ($1, $2, $3, $3, $4, $5)",
        )
        .bind(&id)
        .bind(login.user_id)
        .bind(login.now)
        .bind(&login.client.user_agent)
        .bind(login.client.ip.to_string())
        .execute(&mut *$executor)
        .await;
        let inserted = match inserted {
            Ok(_) => {
                sqlx::query(
                    "INSERT INTO refresh_tokens (id, login_id, parent_id, token_hash, created_at, expires_at) \
                     VALUES ($1, $2, NULL, $3, $4, $5)",
                )
                .bind(uuid::Uuid::now_v7().to_string())
                .bind(&id)
                .bind(login.token_hash)
                .bind(login.now)
                .bind(login.expires_at)
                .execute(&mut *$executor)
                .await
            }
            Err(e) => Err(e),
        };
        match inserted {
            Ok(_) => sqlx::query(concat!(
                "DELETE FROM logins WHERE user_id = $1 AND ended_at IS NULL AND id NOT IN (",
                $crate::auth::logins::newest_live_logins!(),
                ")"
            ))
            .bind(login.user_id)
            .bind($crate::auth::logins::MAX_LIVE_LOGINS_PER_USER)
            .execute(&mut *$executor)
            .await
            .map(|_| ()),
            Err(e) => Err(e),
        }
    }};
}
pub(crate) use begin_login;

/// Starts `login` in a transaction of its own and records `event` (`login.succeeded`, which
/// gains the login's id) with it.
pub async fn start_login(db: &Db, login: &NewLogin<'_>, event: NewEvent) -> Result<(), sqlx::Error> {
    let event = event.detail("login_id", login.id.to_string());
    with_pool!(db, pool => {
        let mut tx = pool.begin().await?;
        begin_login!(&mut *tx, login)?;
        record!(&mut *tx, &event)?;
        tx.commit().await
    })
}

pub async fn find_refresh(db: &Db, token_hash: &str) -> Result<Option<RefreshRecord>, sqlx::Error> {
    with_pool!(db, pool => {
        sqlx::query_as(concat!(
            "SELECT r.id AS token_id, r.login_id, r.expires_at, r.used_at, r.revoked_at, \
                    l.ended_at AS login_ended_at, ",
            user_columns!(),
            " FROM refresh_tokens r JOIN logins l ON l.id = r.login_id JOIN users u ON u.id = l.user_id \
             WHERE r.token_hash = $1"
        ))
        .bind(token_hash)
        .fetch_optional(pool)
        .await
    })
}

/// How a refresh token is replaced by its successor.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Rotation {
    /// The usual case: the token is marked used. Compare-and-set: of two concurrent
    /// rotations only one sees it unused.
    Fresh,
    /// The grace-window retry of a token already used: its one unused successor (whose
    /// response was lost) is revoked instead. There is none when that successor was used,
    /// or when this token was retried once already.
    GraceRetry,
}

impl Rotation {
    /// The statement that claims the right to rotate; both bind `$1` = now, `$2` = the token.
    fn claim_sql(self) -> &'static str {
        match self {
            Rotation::Fresh => {
                "UPDATE refresh_tokens SET used_at = $1 WHERE id = $2 AND used_at IS NULL AND revoked_at IS NULL"
            }
            Rotation::GraceRetry => {
                "UPDATE refresh_tokens SET revoked_at = $1 \
                 WHERE parent_id = $2 AND used_at IS NULL AND revoked_at IS NULL \
                   AND (SELECT COUNT(*) FROM refresh_tokens s WHERE s.parent_id = $2) = 1"
            }
        }
    }
}

/// Replaces `parent_id` by a successor with `token_hash`, atomically. Returns false, writing
/// nothing, when the claim fails: a replay (or a concurrent refresh).
pub async fn rotate(
    db: &Db,
    how: Rotation,
    parent_id: &str,
    login_id: &str,
    token_hash: &str,
    expires_at: i64,
) -> Result<Rotated, sqlx::Error> {
    let now = now_micros();
    with_pool!(db, pool => {
        let mut tx = pool.begin().await?;
        // The login's row first, then its tokens: the order every writer takes them in (ending
        // logins, deleting the account), so that two transactions never wait for each other.
        let login = sqlx::query("UPDATE logins SET last_used_at = $1 WHERE id = $2").bind(now).bind(login_id).execute(&mut *tx).await?;
        if login.rows_affected() != 1 {
            // Deleted with its account by a transaction that committed meanwhile.
            tx.rollback().await?;
            return Ok(Rotated::Gone);
        }
        let claimed = sqlx::query(how.claim_sql()).bind(now).bind(parent_id).execute(&mut *tx).await?.rows_affected();
        if claimed != 1 {
            tx.rollback().await?;
            return Ok(Rotated::Refused);
        }
        let inserted = sqlx::query(
            "INSERT INTO refresh_tokens (id, login_id, parent_id, token_hash, created_at, expires_at) \
             VALUES ($1, $2, $3, $4, $5, $6)",
        )
        .bind(Uuid::now_v7().to_string())
        .bind(login_id)
        .bind(parent_id)
        .bind(token_hash)
        .bind(now)
        .bind(expires_at)
        .execute(&mut *tx)
        .await;
        match inserted {
            // The login (its account) was deleted by a transaction that committed meanwhile.
            Err(e) if is_foreign_key_violation(&e) => {
                tx.rollback().await?;
                return Ok(Rotated::Gone);
            }
            other => other?,
        };
        tx.commit().await?;
        Ok(Rotated::Yes)
    })
}

/// What [`rotate`] did.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Rotated {
    Yes,
    /// The claim failed: the token was used (or revoked) meanwhile, a replay.
    Refused,
    /// The login no longer exists (its account was deleted).
    Gone,
}

/// Ends one login of `user_id`: its refresh tokens are revoked and its access tokens stop
/// working; `event` is recorded with it. False, writing nothing, when it is not a live login
/// of that user.
pub async fn end_login(db: &Db, user_id: &str, login_id: &str, event: &NewEvent) -> Result<bool, sqlx::Error> {
    let now = now_micros();
    with_pool!(db, pool => {
        let mut tx = pool.begin().await?;
        // Live as `live_logins` says: not ended, with a refresh token that can still be used.
        let ended = sqlx::query(
            "UPDATE logins SET ended_at = $1 WHERE id = $2 AND user_id = $3 AND ended_at IS NULL \
             AND EXISTS (SELECT 1 FROM refresh_tokens r WHERE r.login_id = logins.id AND r.revoked_at IS NULL \
                 AND r.used_at IS NULL AND r.expires_at > $1)",
        )
        .bind(now)
        .bind(login_id)
        .bind(user_id)
        .execute(&mut *tx)
        .await?
        .rows_affected();
        if ended != 1 {
            tx.rollback().await?;
            return Ok(false);
        }
        sqlx::query("UPDATE refresh_tokens SET revoked_at = $1 WHERE login_id = $2 AND revoked_at IS NULL")
            .bind(now)
            .bind(login_id)
            .execute(&mut *tx)
            .await?;
        record!(&mut *tx, event)?;
        tx.commit().await?;
        Ok(true)
    })
}

/// A live login as its owner (or an admin) sees it.
#[derive(Debug, sqlx::FromRow)]
pub struct LoginRow {
    pub id: String,
    pub created_at: i64,
    pub last_used_at: Option<i64>,
    pub user_agent: Option<String>,
    pub ip: Option<String>,
}

impl LoginRow {
    pub fn created(&self) -> String {
        rfc3339(self.created_at)
    }

    pub fn last_used(&self) -> String {
        rfc3339(self.last_used_at.unwrap_or(self.created_at))
    }
}

/// The live logins of `user_id`, newest first: not ended, with a refresh token that can still
/// be used (at most [`MAX_LIVE_LOGINS_PER_USER`]).
pub async fn live_logins(db: &Db, user_id: &str) -> Result<Vec<LoginRow>, sqlx::Error> {
    let now = now_micros();
    with_pool!(db, pool => {
        sqlx::query_as(
            "SELECT l.id, l.created_at, l.last_used_at, l.user_agent, l.ip FROM logins l \
             WHERE l.user_id = $1 AND l.ended_at IS NULL AND EXISTS (SELECT 1 FROM refresh_tokens r \
                 WHERE r.login_id = l.id AND r.revoked_at IS NULL AND r.used_at IS NULL AND r.expires_at > $2) \
             ORDER BY l.created_at DESC, l.id DESC LIMIT $3",
        )
        .bind(user_id)
        .bind(now)
        .bind(MAX_LIVE_LOGINS_PER_USER)
        .fetch_all(pool)
        .await
    })
}

/// Rows one purge statement deletes at most. Each statement is a transaction of its own,
/// and the purge pauses between them, so that however much there is to delete (a login
/// refreshed 200,000 times), logins, refreshes and sign-ups never wait long for the write
/// lock (SQLite) or the rows (PostgreSQL).
pub const PURGE_BATCH: i64 = 1000;
const PURGE_PAUSE: std::time::Duration = std::time::Duration::from_millis(10);

/// Deletes what can no longer authenticate anyone since before `cutoff`: logins that ended
/// before it, logins none of whose refresh tokens is still valid at it (their access tokens
/// expired before their last refresh token did), and refresh tokens that expired before it.
/// Returns the number of logins and of (further) refresh tokens deleted.
pub async fn purge(db: &Db, cutoff: i64) -> Result<(u64, u64), sqlx::Error> {
    let mut logins = 0;
    loop {
        // `created_at < cutoff`: a login is created with its first token in one transaction,
        // but never judge a login younger than the cutoff by its tokens.
        let ids: Vec<(String,)> = with_pool!(db, pool => {
            sqlx::query_as(
                "SELECT id FROM logins WHERE (ended_at IS NOT NULL AND ended_at < $1) \
                 OR (created_at < $1 AND NOT EXISTS \
                     (SELECT 1 FROM refresh_tokens r WHERE r.login_id = logins.id AND r.expires_at >= $1)) \
                 LIMIT $2",
            )
            .bind(cutoff)
            .bind(PURGE_BATCH)
            .fetch_all(pool)
            .await
        })?;
        for (id,) in &ids {
            // The tokens first, in batches: deleting the login would cascade to all of its
            // tokens in one long statement.
            delete_in_batches(
                db,
                "DELETE FROM refresh_tokens WHERE id IN (SELECT id FROM refresh_tokens WHERE login_id = $1 LIMIT $2)",
                id,
            )
            .await?;
            logins += with_pool!(db, pool => {
                sqlx::query("DELETE FROM logins WHERE id = $1").bind(id).execute(pool).await.map(|done| done.rows_affected())
            })?;
        }
        if ids.len() < PURGE_BATCH as usize {
            break;
        }
    }
    let tokens = delete_in_batches(
        db,
        "DELETE FROM refresh_tokens WHERE id IN (SELECT id FROM refresh_tokens WHERE expires_at < $1 LIMIT $2)",
        cutoff,
    )
    .await?;
    Ok((logins, tokens))
}

/// Runs `sql` (which binds `$1` = `value` and deletes at most `$2` rows) until it deletes
/// fewer than a batch, pausing between batches; returns the rows deleted.
async fn delete_in_batches<T>(db: &Db, sql: &'static str, value: T) -> Result<u64, sqlx::Error>
where
    T: Clone + Send + for<'q> sqlx::Encode<'q, sqlx::Sqlite> + for<'q> sqlx::Encode<'q, sqlx::Postgres>,
    T: sqlx::Type<sqlx::Sqlite> + sqlx::Type<sqlx::Postgres>,
{
    let mut deleted = 0;
    loop {
        let batch = with_pool!(db, pool => {
            sqlx::query(sql).bind(value.clone()).bind(PURGE_BATCH).execute(pool).await.map(|done| done.rows_affected())
        })?;
        deleted += batch;
        if batch < PURGE_BATCH as u64 {
            return Ok(deleted);
        }
        tokio::time::sleep(PURGE_PAUSE).await;
    }
}

/// Ends every login of `$user_id` but `$keep` (an `Option<&str>`) with `$executor`, inside
/// a caller's transaction. A macro for both databases, as `record!` is.
macro_rules! end_all {
    ($executor:expr, $user_id:expr, $keep:expr) => {{
        let now = $crate::db::now_micros();
        let (user_id, keep): (&str, Option<&str>) = ($user_id, $keep);
        let keep = keep.unwrap_or("");
        // The logins first, then their tokens: the order `rotate` takes them in.
        let ended =
            match sqlx::query("UPDATE logins SET ended_at = $1 WHERE user_id = $2 AND ended_at IS NULL AND id <> $3")
                .bind(now)
                .bind(user_id)
                .bind(keep)
                .execute(&mut *$executor)
                .await
            {
                Ok(_) => sqlx::query(
                    "UPDATE refresh_tokens SET revoked_at = $1 WHERE revoked_at IS NULL AND login_id IN \
                 (SELECT id FROM logins WHERE user_id = $2 AND id <> $3)",
                )
                .bind(now)
                .bind(user_id)
                .bind(keep)
                .execute(&mut *$executor)
                .await
                .map(|_| ()),
                Err(e) => Err(e),
            };
        // A login still waiting for its second factor must not finish either.
        match ended {
            Ok(()) => sqlx::query("DELETE FROM mfa_challenges WHERE user_id = $1")
                .bind(user_id)
                .execute(&mut *$executor)
                .await
                .map(|_| ()),
            Err(e) => Err(e),
        }
    }};
}
pub(crate) use end_all;

/// Ends every login of a user (but `keep`, when given), recording `event` when there is one.
pub async fn end_all_logins(
    db: &Db,
    user_id: &str,
    keep: Option<&str>,
    event: Option<&NewEvent>,
) -> Result<(), sqlx::Error> {
    with_pool!(db, pool => {
        let mut tx = pool.begin().await?;
        end_all!(&mut *tx, user_id, keep)?;
        if let Some(event) = event {
            record!(&mut *tx, event)?;
        }
        tx.commit().await
    })
}

/// Sets a user's password hash, ends every login of the user but `keep` (the caller's), and
/// records `event` (`password.changed`), in one transaction. The hash is replaced only if it
/// is still `old_hash`, the one the current password was checked against: of two changes
/// made at once with the same current password, one wins. False, writing nothing, otherwise.
pub async fn change_password(
    db: &Db,
    user_id: &str,
    old_hash: &str,
    new_hash: &str,
    keep: &str,
    event: &NewEvent,
) -> Result<bool, sqlx::Error> {
    with_pool!(db, pool => {
        let mut tx = pool.begin().await?;
        let changed = sqlx::query("UPDATE users SET password_hash = $1 WHERE id = $2 AND password_hash = $3")
            .bind(new_hash)
            .bind(user_id)
            .bind(old_hash)
            .execute(&mut *tx)
            .await?
            .rows_affected();
        if changed != 1 {
            tx.rollback().await?;
            return Ok(false);
        }
        end_all!(&mut *tx, user_id, Some(keep))?;
        record!(&mut *tx, event)?;
        tx.commit().await?;
        Ok(true)
    })
}
