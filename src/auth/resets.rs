//! Password reset links in SQL: at most one per user (a newer one replaces, and so voids, the
//! older), stored only as the SHA-256 of the token, spent by the one transaction that sets
//! the new password.

use crate::{
    audit::repository::{NewEvent, record},
    auth::logins::end_all,
    db::{Db, is_foreign_key_violation, now_micros, with_pool},
};

/// Stores the link of `user_id` in place of any older one and records `event`
/// (`password.reset_link_created`). False, writing nothing, when there is no such user.
pub async fn create(
    db: &Db,
    user_id: &str,
    token_hash: &str,
    created_by: &str,
    expires_at: i64,
    event: &NewEvent,
) -> Result<bool, sqlx::Error> {
    let now = now_micros();
    with_pool!(db, pool => {
        let mut tx = pool.begin().await?;
        // One statement replaces the older link: two links made at once cannot both insert.
        let inserted = sqlx::query(
            "INSERT INTO password_resets (user_id, token_hash, created_by, created_at, expires_at) \
             VALUES ($1, $2, $3, $4, $5) ON CONFLICT (user_id) DO UPDATE SET token_hash = excluded.token_hash, \
             created_by = excluded.created_by, created_at = excluded.created_at, expires_at = excluded.expires_at",
        )
        .bind(user_id)
        .bind(token_hash)
        .bind(created_by)
        .bind(now)
        .bind(expires_at)
        .execute(&mut *tx)
        .await;
        match inserted {
            Err(e) if is_foreign_key_violation(&e) => {
                tx.rollback().await?;
                return Ok(false);
            }
            other => other?,
        };
        record!(&mut *tx, event)?;
        tx.commit().await?;
        Ok(true)
    })
}

/// The account a live link belongs to: its id and username.
pub async fn find_live(db: &Db, token_hash: &str) -> Result<Option<(String, String)>, sqlx::Error> {
    with_pool!(db, pool => {
        sqlx::query_as(
            "SELECT u.id, u.username FROM password_resets p JOIN users u ON u.id = p.user_id \
             WHERE p.token_hash = $1 AND p.expires_at > $2",
        )
        .bind(token_hash)
        .bind(now_micros())
        .fetch_optional(pool)
        .await
    })
}

/// Spends the link and, in the same transaction, sets the user's password hash, ends every
/// login of the user and records `event` (`password.reset`). False, writing nothing, when
/// the link is no longer live (spent by a concurrent use, replaced, expired).
pub async fn spend(
    db: &Db,
    token_hash: &str,
    user_id: &str,
    new_hash: &str,
    event: &NewEvent,
) -> Result<bool, sqlx::Error> {
    with_pool!(db, pool => {
        let mut tx = pool.begin().await?;
        // The claim: of two uses at once, one deletes the row and the other finds it gone.
        let claimed = sqlx::query("DELETE FROM password_resets WHERE token_hash = $1 AND user_id = $2 AND expires_at > $3")
            .bind(token_hash)
            .bind(user_id)
            .bind(now_micros())
            .execute(&mut *tx)
            .await?
            .rows_affected();
        if claimed != 1 {
            tx.rollback().await?;
            return Ok(false);
        }
        sqlx::query("UPDATE users SET password_hash = $1 WHERE id = $2").bind(new_hash).bind(user_id).execute(&mut *tx).await?;
        end_all!(&mut *tx, user_id, None)?;
        record!(&mut *tx, event)?;
        tx.commit().await?;
        Ok(true)
    })
}

/// Deletes links that expired before `cutoff`; returns how many.
pub async fn purge(db: &Db, cutoff: i64) -> Result<u64, sqlx::Error> {
    with_pool!(db, pool => {
        sqlx::query("DELETE FROM password_resets WHERE expires_at < $1")
            .bind(cutoff)
            .execute(pool)
            .await
            .map(|done| done.rows_affected())
    })
}
