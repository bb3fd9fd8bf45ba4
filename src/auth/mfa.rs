//! The second factor in SQL: pending enrolments, the confirmed secret and its last accepted
//! step (on `users`), recovery codes, and the challenges of logins waiting for a code. Every
//! claim (a step, a recovery code, a challenge) is one conditional write, so of two requests
//! at once exactly one wins, on every instance.

use crate::{
    audit::repository::{NewEvent, record},
    auth::logins::{NewLogin, begin_login},
    db::{Db, now_micros, with_pool},
    users::repository::{UserRow, user_columns},
};

/// The most codes one challenge takes (the right one among them); after that its answer is
/// `invalid_grant` whatever the code.
pub const CHALLENGE_MAX_FAILURES: i64 = 5;

/// Replaces the pending (unconfirmed) secret of `user_id`. False, writing nothing, when the
/// account already has a second factor or is gone.
pub async fn begin_enrolment(db: &Db, user_id: &str, sealed_secret: &str) -> Result<bool, sqlx::Error> {
    with_pool!(db, pool => {
        sqlx::query(
            "INSERT INTO totp_enrolments (user_id, secret, created_at) \
             SELECT id, $2, $3 FROM users WHERE id = $1 AND totp_secret IS NULL \
             ON CONFLICT (user_id) DO UPDATE SET secret = excluded.secret, created_at = excluded.created_at",
        )
        .bind(user_id)
        .bind(sealed_secret)
        .bind(now_micros())
        .execute(pool)
        .await
        .map(|done| done.rows_affected() == 1)
    })
}

/// The pending secret of `user_id`, sealed, if one was made in the last `max_age` micros.
pub async fn pending(db: &Db, user_id: &str, max_age: i64) -> Result<Option<String>, sqlx::Error> {
    with_pool!(db, pool => {
        sqlx::query_scalar("SELECT secret FROM totp_enrolments WHERE user_id = $1 AND created_at > $2")
            .bind(user_id)
            .bind(now_micros().saturating_sub(max_age))
            .fetch_optional(pool)
            .await
    })
}

/// What turning the second factor on writes.
pub struct Enable<'a> {
    pub user_id: &'a str,
    /// The pending secret that was confirmed, sealed as it was stored.
    pub sealed_secret: &'a str,
    /// The step of the confirming code (spent: it cannot log in).
    pub step: i64,
    pub code_hashes: &'a [String],
}

/// Turns the second factor on with the confirmed pending secret, in one transaction: the
/// enrolment is claimed, the secret set, the recovery codes replaced, `event` recorded.
/// False, writing nothing, when the enrolment is no longer the one confirmed (replaced by a
/// newer set-up, or confirmed by a concurrent request) or the account has a second factor.
pub async fn enable(db: &Db, enable: &Enable<'_>, event: &NewEvent) -> Result<bool, sqlx::Error> {
    with_pool!(db, pool => {
        let mut tx = pool.begin().await?;
        let claimed = sqlx::query("DELETE FROM totp_enrolments WHERE user_id = $1 AND secret = $2")
            .bind(enable.user_id)
            .bind(enable.sealed_secret)
            .execute(&mut *tx)
            .await?
            .rows_affected();
        let set = if claimed == 1 {
            sqlx::query(
                "UPDATE users SET totp_secret = $1, totp_last_step = $2 WHERE id = $3 AND totp_secret IS NULL",
            )
            .bind(enable.sealed_secret)
            .bind(enable.step)
            .bind(enable.user_id)
            .execute(&mut *tx)
            .await?
            .rows_affected()
        } else {
            0
        };
        if set != 1 {
            tx.rollback().await?;
            return Ok(false);
        }
        replace_codes!(&mut *tx, enable.user_id, enable.code_hashes)?;
        record!(&mut *tx, event)?;
        tx.commit().await?;
        Ok(true)
    })
}

/// Deletes the recovery codes of a user and stores `hashes` in their place.
macro_rules! replace_codes {
    ($tx:expr, $user_id:expr, $hashes:expr) => {{
        let (user_id, hashes): (&str, &[String]) = ($user_id, $hashes);
        let mut done =
            sqlx::query("DELETE FROM recovery_codes WHERE user_id = $1").bind(user_id).execute($tx).await.map(|_| ());
        for hash in hashes {
            if done.is_err() {
                break;
            }
            done = sqlx::query("INSERT INTO recovery_codes (user_id, code_hash) VALUES ($1, $2)")
                .bind(user_id)
                .bind(hash)
                .execute($tx)
                .await
                .map(|_| ());
        }
        done
    }};
}
use replace_codes;

/// Turns the second factor of `user_id` off: the secret, the recovery codes, any pending
/// enrolment and every login waiting for a code go, and `event` is recorded. False, writing
/// nothing, when it was not on.
pub async fn disable(db: &Db, user_id: &str, event: &NewEvent) -> Result<bool, sqlx::Error> {
    with_pool!(db, pool => {
        let mut tx = pool.begin().await?;
        if !turn_off!(&mut *tx, user_id)? {
            tx.rollback().await?;
            return Ok(false);
        }
        record!(&mut *tx, event)?;
        tx.commit().await?;
        Ok(true)
    })
}

/// Turns the second factor of `$user_id` off inside a caller's transaction: the secret, the
/// recovery codes, any pending enrolment and every login waiting for a code. `Ok(false)` when
/// it was not on (nothing else is touched then).
macro_rules! turn_off {
    ($executor:expr, $user_id:expr) => {{
        let user_id: &str = $user_id;
        let off = sqlx::query(
            "UPDATE users SET totp_secret = NULL, totp_last_step = 0 WHERE id = $1 AND totp_secret IS NOT NULL",
        )
        .bind(user_id)
        .execute(&mut *$executor)
        .await
        .map(|done| done.rows_affected() == 1);
        let mut done = off;
        if matches!(done, Ok(true)) {
            for sql in [
                "DELETE FROM recovery_codes WHERE user_id = $1",
                "DELETE FROM totp_enrolments WHERE user_id = $1",
                "DELETE FROM mfa_challenges WHERE user_id = $1",
            ] {
                if let Err(e) = sqlx::query(sql).bind(user_id).execute(&mut *$executor).await {
                    done = Err(e);
                    break;
                }
            }
        }
        done
    }};
}
use turn_off;

/// Which second-factor proof a claim spends.
pub enum Proof<'a> {
    /// A TOTP code of this step: taken only when the account's last accepted step is earlier.
    Step(i64),
    /// The hash of a recovery code not used yet.
    RecoveryCode(&'a str),
}

/// What a spent proof pays for, in the same transaction.
pub enum Then<'a> {
    /// A login starts (the second step of a login: `challenge` is its challenge).
    StartLogin { challenge: &'a str, login: &'a NewLogin<'a> },
    /// The second factor is turned off.
    TurnOff,
    /// The recovery codes are replaced by these (hashes).
    ReplaceCodes(&'a [String]),
}

/// Spends `proof` for `user_id` and does `then`, recording `events`, all in one transaction:
/// a code is never spent for nothing, nor anything done without its code. False, writing
/// nothing, when the proof or the challenge was spent already (by a concurrent request on
/// any instance), the challenge is dead, or the account has no second factor.
pub async fn spend(
    db: &Db,
    user_id: &str,
    proof: &Proof<'_>,
    then: &Then<'_>,
    events: &[&NewEvent],
) -> Result<bool, sqlx::Error> {
    let now = now_micros();
    with_pool!(db, pool => {
        let mut tx = pool.begin().await?;
        // The challenge first: of two uses of one challenge, the second finds it spent. (Its
        // attempt was counted by `claim_attempt` before the code was checked.)
        if let Then::StartLogin { challenge: token_hash, .. } = then {
            let claimed = sqlx::query(
                "UPDATE mfa_challenges SET spent = TRUE \
                 WHERE token_hash = $1 AND user_id = $2 AND NOT spent AND expires_at > $3",
            )
            .bind(token_hash)
            .bind(user_id)
            .bind(now)
            .execute(&mut *tx)
            .await?
            .rows_affected();
            if claimed != 1 {
                tx.rollback().await?;
                return Ok(false);
            }
        }
        let spent = match proof {
            Proof::Step(step) => sqlx::query(
                "UPDATE users SET totp_last_step = $1 WHERE id = $2 AND totp_secret IS NOT NULL AND totp_last_step < $1",
            )
            .bind(step)
            .bind(user_id)
            .execute(&mut *tx)
            .await?
            .rows_affected(),
            Proof::RecoveryCode(hash) => sqlx::query(
                "UPDATE recovery_codes SET used_at = $1 WHERE user_id = $2 AND code_hash = $3 AND used_at IS NULL \
                 AND EXISTS (SELECT 1 FROM users WHERE id = $2 AND totp_secret IS NOT NULL)",
            )
            .bind(now)
            .bind(user_id)
            .bind(hash)
            .execute(&mut *tx)
            .await?
            .rows_affected(),
        };
        if spent != 1 {
            tx.rollback().await?;
            return Ok(false);
        }
        match then {
            Then::StartLogin { login, .. } => begin_login!(&mut *tx, login)?,
            Then::TurnOff => {
                turn_off!(&mut *tx, user_id)?;
            }
            Then::ReplaceCodes(hashes) => replace_codes!(&mut *tx, user_id, hashes)?,
        }
        for event in events {
            record!(&mut *tx, event)?;
        }
        tx.commit().await?;
        Ok(true)
    })
}

/// The account's second factor as stored: its sealed secret and last accepted step.
pub async fn secret_of(db: &Db, user_id: &str) -> Result<Option<(String, i64)>, sqlx::Error> {
    let row: Option<(Option<String>, i64)> = with_pool!(db, pool => {
        sqlx::query_as("SELECT totp_secret, totp_last_step FROM users WHERE id = $1")
            .bind(user_id)
            .fetch_optional(pool)
            .await
    })?;
    Ok(row.and_then(|(secret, step)| secret.map(|secret| (secret, step))))
}

/// One stored secret and its account's id, if any account has a second factor (to check at
/// start-up that the master key opens them).
pub async fn any_secret(db: &Db) -> Result<Option<(String, String)>, sqlx::Error> {
    with_pool!(db, pool => {
        sqlx::query_as("SELECT id, totp_secret FROM users WHERE totp_secret IS NOT NULL LIMIT 1")
            .fetch_optional(pool)
            .await
    })
}

/// How many of the account's recovery codes are still unused.
pub async fn unused_recovery_codes(db: &Db, user_id: &str) -> Result<i64, sqlx::Error> {
    with_pool!(db, pool => {
        sqlx::query_scalar("SELECT COUNT(*) FROM recovery_codes WHERE user_id = $1 AND used_at IS NULL")
            .bind(user_id)
            .fetch_one(pool)
            .await
    })
}

/// Stores the challenge of a login that waits for a code.
pub async fn create_challenge(db: &Db, token_hash: &str, user_id: &str, expires_at: i64) -> Result<(), sqlx::Error> {
    with_pool!(db, pool => {
        sqlx::query("INSERT INTO mfa_challenges (token_hash, user_id, expires_at) VALUES ($1, $2, $3)")
            .bind(token_hash)
            .bind(user_id)
            .bind(expires_at)
            .execute(pool)
            .await
            .map(|_| ())
    })
}

/// A live challenge (not spent, not expired, attempts left) and its account with the stored
/// second factor.
#[derive(sqlx::FromRow)]
pub struct Challenge {
    #[sqlx(flatten)]
    pub user: UserRow,
    pub totp_secret: Option<String>,
    pub totp_last_step: i64,
}

pub async fn find_challenge(db: &Db, token_hash: &str) -> Result<Option<Challenge>, sqlx::Error> {
    with_pool!(db, pool => {
        sqlx::query_as(concat!(
            "SELECT ", user_columns!(), ", u.totp_secret, u.totp_last_step \
             FROM mfa_challenges c JOIN users u ON u.id = c.user_id \
             WHERE c.token_hash = $1 AND NOT c.spent AND c.failures < $2 AND c.expires_at > $3"
        ))
        .bind(token_hash)
        .bind(CHALLENGE_MAX_FAILURES)
        .bind(now_micros())
        .fetch_optional(pool)
        .await
    })
}

/// Counts one attempt (a code about to be checked) against a live challenge, in one
/// statement, before the code is checked: of any number of attempts at once, at most
/// [`CHALLENGE_MAX_FAILURES`] get through. False when the challenge is dead (spent, expired,
/// out of attempts).
pub async fn claim_attempt(db: &Db, token_hash: &str) -> Result<bool, sqlx::Error> {
    with_pool!(db, pool => {
        sqlx::query(
            "UPDATE mfa_challenges SET failures = failures + 1 \
             WHERE token_hash = $1 AND NOT spent AND failures < $2 AND expires_at > $3",
        )
        .bind(token_hash)
        .bind(CHALLENGE_MAX_FAILURES)
        .bind(now_micros())
        .execute(pool)
        .await
        .map(|done| done.rows_affected() == 1)
    })
}

/// Deletes challenges that expired before `now` and pending enrolments made before
/// `enrolled_before` (micros); returns how many.
pub async fn purge(db: &Db, now: i64, enrolled_before: i64) -> Result<u64, sqlx::Error> {
    with_pool!(db, pool => {
        let challenges = sqlx::query("DELETE FROM mfa_challenges WHERE expires_at < $1")
            .bind(now)
            .execute(pool)
            .await?
            .rows_affected();
        let enrolments = sqlx::query("DELETE FROM totp_enrolments WHERE created_at < $1")
            .bind(enrolled_before)
            .execute(pool)
            .await?
            .rows_affected();
        Ok(challenges + enrolments)
    })
}
