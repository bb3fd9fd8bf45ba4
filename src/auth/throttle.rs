//! Throttling of password guessing and scripted sign-ups, counted in the database so that
//! every instance of Gatehouse sees the same numbers.
//!
//! Each key (an account name, a client address) has a count of events and a time before
//! which it is refused. An attempt is *charged* before it runs, in one short transaction
//! that also refuses it while the key is blocked: a burst of parallel guesses cannot all slip
//! past a check made before the first one is counted. A success then gives its charge back
//! (or, for an account, clears the count). No transaction is held across a password hash.

use crate::{
    config::{LimitSettings, MAX_CONSECUTIVE_ACCOUNT_FAILURES},
    db::{Db, now_micros, with_pool},
};
use sha2::{Digest as _, Sha256};
use std::net::IpAddr;

const MICROS: i64 = 1_000_000;

/// `blocked_until` of a locked key: never free by itself.
const LOCKED: i64 = i64::MAX;

/// The fixed window of both per-address counts (login failures, sign-ups), in seconds.
const ADDRESS_WINDOW_SECONDS: u64 = 3600;

/// Key prefixes (`purge` finds the counters by these).
const LOGIN_ADDRESS_PREFIX: &str = "login-address:";
const REGISTER_ADDRESS_PREFIX: &str = "register-address:";
const REFRESH_LOGIN_PREFIX: &str = "refresh-login:";
const LOGIN_ACCOUNT_PREFIX: &str = "login-account:";

/// An account counter with no attempt at all for this long is forgotten, so that guesses at
/// names that are no account cannot grow the table without bound. A lock is never
/// forgotten: only an admin (or, for the configured admin, a restart) lifts it.
pub const ACCOUNT_IDLE_PURGE_SECONDS: i64 = 30 * 86_400;

/// What `Retry-After` says for a locked account: it stays locked until an admin enables it.
pub const LOCKED_RETRY_AFTER_SECONDS: u64 = 86_400;

/// How one kind of key is throttled.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Policy {
    /// Events allowed before the first delay; 0 switches the policy off.
    pub limit: u32,
    /// The first delay, doubled by every further event, up to `max_delay` (seconds).
    pub first_delay: u64,
    pub max_delay: u64,
    /// Counting starts afresh this long after a key's first counted attempt (a fixed
    /// window); `None`: only a success (or an admin) clears it.
    pub window: Option<u64>,
    /// From this count on the key is locked until reset (an account's 100 failures).
    pub lock_at: Option<u32>,
}

impl Policy {
    /// Consecutive failed logins of one account name, known or not.
    pub fn login_per_account(limit: u32) -> Self {
        Self {
            limit,
            first_delay: 1,
            max_delay: 15 * 60,
            window: None,
            lock_at: Some(MAX_CONSECUTIVE_ACCOUNT_FAILURES),
        }
    }

    /// Failed logins from one client address, whatever the account, per hour.
    pub fn login_per_address(limit: u32) -> Self {
        Self { limit, first_delay: 1, max_delay: 15 * 60, window: Some(ADDRESS_WINDOW_SECONDS), lock_at: None }
    }

    /// Accounts created from one client address: `limit` an hour.
    pub fn register_per_address(limit: u32) -> Self {
        Self { limit, first_delay: 3600, max_delay: 3600, window: Some(ADDRESS_WINDOW_SECONDS), lock_at: None }
    }

    /// Refreshes of one login: `limit` an hour, then a wait until the hour has passed. Each
    /// refresh adds a row to the login's chain; this bounds how fast one login can grow it.
    pub fn refresh_per_login(limit: u32) -> Self {
        Self { limit, first_delay: 60, max_delay: 3600, window: Some(ADDRESS_WINDOW_SECONDS), lock_at: None }
    }

    pub fn is_off(&self) -> bool {
        self.limit == 0
    }

    /// When a key is free again after its `count`-th event at `now`; `None` while under the
    /// limit.
    pub fn blocked_until(&self, count: i64, now: i64) -> Option<i64> {
        let limit = i64::from(self.limit);
        if self.is_off() || count < limit {
            return None;
        }
        if self.lock_at.is_some_and(|lock| count >= i64::from(lock)) {
            return Some(LOCKED);
        }
        let doublings = u32::try_from(count - limit).unwrap_or(u32::MAX).min(40);
        let delay = self.first_delay.saturating_mul(1u64 << doublings).min(self.max_delay);
        Some(now.saturating_add(i64::try_from(delay).unwrap_or(i64::MAX).saturating_mul(MICROS)))
    }
}

/// The three policies of `shared/spec/http-api.md` ("Throttling").
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Limits {
    pub login_per_account: Policy,
    pub login_per_address: Policy,
    pub register_per_address: Policy,
    pub refresh_per_login: Policy,
}

impl From<LimitSettings> for Limits {
    fn from(settings: LimitSettings) -> Self {
        Self {
            login_per_account: Policy::login_per_account(settings.login_per_account),
            login_per_address: Policy::login_per_address(settings.login_per_address),
            register_per_address: Policy::register_per_address(settings.register_per_address),
            refresh_per_login: Policy::refresh_per_login(settings.refresh_per_login),
        }
    }
}

/// Why an attempt was refused.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Refusal {
    /// Try again after this many seconds.
    Wait(u64),
    /// Locked until an admin enables the account again.
    Locked,
}

/// Counts one attempt against `key` unless the key is blocked, in which case nothing is
/// counted and the refusal says for how long.
pub async fn charge(db: &Db, key: &str, policy: &Policy) -> Result<Result<(), Refusal>, sqlx::Error> {
    if policy.is_off() {
        return Ok(Ok(()));
    }
    let now = now_micros();
    // A window that started before this has ended: the count starts again at this attempt.
    let window_ended_before =
        policy.window.map_or(i64::MIN, |s| now.saturating_sub(i64::try_from(s).unwrap_or(0) * MICROS));
    with_pool!(db, pool => {
        // The upsert takes the row's write lock first, so concurrent charges of one key run
        // one after another until this transaction ends.
        let mut tx = pool.begin().await?;
        let counted: Option<(i64,)> = sqlx::query_as(
            "INSERT INTO throttle (key, failures, window_start, blocked_until, last_at) VALUES ($1, 1, $2, 0, $2) \
             ON CONFLICT (key) DO UPDATE SET \
                 failures = CASE WHEN throttle.window_start < $3 THEN 1 ELSE throttle.failures + 1 END, \
                 window_start = CASE WHEN throttle.window_start < $3 THEN $2 ELSE throttle.window_start END, \
                 last_at = $2 \
             WHERE throttle.blocked_until <= $2 \
             RETURNING failures",
        )
        .bind(key)
        .bind(now)
        .bind(window_ended_before)
        .fetch_optional(&mut *tx)
        .await?;
        let verdict = match counted {
            Some((count,)) => {
                if let Some(until) = policy.blocked_until(count, now) {
                    sqlx::query("UPDATE throttle SET blocked_until = $1 WHERE key = $2")
                        .bind(until)
                        .bind(key)
                        .execute(&mut *tx)
                        .await?;
                }
                Ok(())
            }
            None => {
                // A refused attempt is an attempt too: a key under attack is never idle.
                let (until,): (i64,) =
                    sqlx::query_as("UPDATE throttle SET last_at = $2 WHERE key = $1 RETURNING blocked_until")
                        .bind(key)
                        .bind(now)
                        .fetch_one(&mut *tx)
                        .await?;
                Err(refusal(until, now))
            }
        };
        tx.commit().await?;
        Ok(verdict)
    })
}

fn refusal(blocked_until: i64, now: i64) -> Refusal {
    if blocked_until == LOCKED {
        return Refusal::Locked;
    }
    let micros = blocked_until.saturating_sub(now).max(0);
    Refusal::Wait(u64::try_from((micros + MICROS - 1) / MICROS).unwrap_or(1).max(1))
}

/// Gives back one charge (the attempt succeeded, or was never made), lifting the block when
/// the count falls under the limit again.
pub async fn refund(db: &Db, key: &str, policy: &Policy) -> Result<(), sqlx::Error> {
    if policy.is_off() {
        return Ok(());
    }
    with_pool!(db, pool => {
        sqlx::query(
            "UPDATE throttle SET failures = failures - 1, \
                 blocked_until = CASE WHEN failures - 1 < $2 THEN 0 ELSE blocked_until END \
             WHERE key = $1 AND failures > 0",
        )
        .bind(key)
        .bind(i64::from(policy.limit))
        .execute(pool)
        .await
        .map(|_| ())
    })
}

/// Forgets a key entirely: a successful login clears its account's count.
pub async fn reset(db: &Db, key: &str) -> Result<(), sqlx::Error> {
    with_pool!(db, pool => {
        sqlx::query("DELETE FROM throttle WHERE key = $1").bind(key).execute(pool).await.map(|_| ())
    })
}

/// Deletes the counters that count nothing any more: address and refresh counters whose
/// window has passed (the next attempt would start them afresh) and that block nothing, and
/// account counters that saw no attempt for [`ACCOUNT_IDLE_PURGE_SECONDS`] and lock nothing
/// (until then they count consecutive failures, until a success or an admin clears them).
pub async fn purge(db: &Db, now: i64) -> Result<u64, sqlx::Error> {
    let window_ended_before = now.saturating_sub(ADDRESS_WINDOW_SECONDS as i64 * MICROS);
    let idle_since = now.saturating_sub(ACCOUNT_IDLE_PURGE_SECONDS * MICROS);
    with_pool!(db, pool => {
        sqlx::query(
            "DELETE FROM throttle WHERE \
             ((key LIKE $1 OR key LIKE $2 OR key LIKE $3) AND window_start < $4 AND blocked_until <= $5) \
             OR (key LIKE $6 AND last_at < $7 AND blocked_until <> $8)",
        )
        .bind(format!("{LOGIN_ADDRESS_PREFIX}%"))
        .bind(format!("{REGISTER_ADDRESS_PREFIX}%"))
        .bind(format!("{REFRESH_LOGIN_PREFIX}%"))
        .bind(window_ended_before)
        .bind(now)
        .bind(format!("{LOGIN_ACCOUNT_PREFIX}%"))
        .bind(idle_since)
        .bind(LOCKED)
        .execute(pool)
        .await
        .map(|done| done.rows_affected())
    })
}

/// The key of an account name, matched ignoring ASCII case like usernames are. It is a hash:
/// whatever was typed as a username is not stored.
pub fn account_key(username: &str) -> String {
    let digest = Sha256::digest(username.to_ascii_lowercase().as_bytes());
    let hex: String = digest.iter().map(|b| format!("{b:02x}")).collect();
    format!("{LOGIN_ACCOUNT_PREFIX}{hex}")
}

/// The key counting the refreshes of one login.
pub fn refresh_login_key(login_id: &str) -> String {
    format!("{REFRESH_LOGIN_PREFIX}{login_id}")
}

pub fn login_address_key(client: IpAddr) -> String {
    format!("{LOGIN_ADDRESS_PREFIX}{}", address_bucket(client))
}

pub fn register_address_key(client: IpAddr) -> String {
    format!("{REGISTER_ADDRESS_PREFIX}{}", address_bucket(client))
}

/// One IPv4 address, or one IPv6 /64 (what a single customer is usually given, so that
/// changing the low bits does not give a fresh count).
pub fn address_bucket(client: IpAddr) -> String {
    match client {
        IpAddr::V4(v4) => v4.to_string(),
        IpAddr::V6(v6) => match v6.to_ipv4_mapped() {
            Some(v4) => v4.to_string(),
            None => {
                let s = v6.segments();
                format!("{:x}:{:x}:{:x}:{:x}::/64", s[0], s[1], s[2], s[3])
            }
        },
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn delays_start_at_the_limit_double_and_stop_at_the_cap() {
        let p = Policy::login_per_account(5);
        let now = 1_000 * MICROS;
        assert_eq!(p.blocked_until(4, now), None);
        assert_eq!(p.blocked_until(5, now), Some(now + MICROS));
        assert_eq!(p.blocked_until(6, now), Some(now + 2 * MICROS));
        assert_eq!(p.blocked_until(8, now), Some(now + 8 * MICROS));
        assert_eq!(p.blocked_until(60, now), Some(now + 900 * MICROS));
        assert_eq!(p.blocked_until(99, now), Some(now + 900 * MICROS));
        assert_eq!(p.blocked_until(100, now), Some(i64::MAX));
        assert_eq!(Policy::login_per_account(0).blocked_until(1_000, now), None);
    }

    #[test]
    fn registrations_pause_for_an_hour_at_the_limit() {
        let p = Policy::register_per_address(3);
        assert_eq!(p.blocked_until(2, 0), None);
        assert_eq!(p.blocked_until(3, 0), Some(3600 * MICROS));
        assert_eq!(p.blocked_until(9, 0), Some(3600 * MICROS));
    }

    #[test]
    fn refusals_round_up_and_report_locks() {
        assert_eq!(refusal(10 * MICROS + 1, 0), Refusal::Wait(11));
        assert_eq!(refusal(5, 10), Refusal::Wait(1));
        assert_eq!(refusal(i64::MAX, 0), Refusal::Locked);
    }

    #[test]
    fn account_keys_ignore_case_and_hide_the_name() {
        assert_eq!(account_key("Alice"), account_key("aLICE"));
        assert_ne!(account_key("alice"), account_key("alice2"));
        assert!(!account_key("alice").contains("alice"));
    }

    #[test]
    fn ipv6_clients_share_their_64_and_mapped_ipv4_is_ipv4() {
        let a: IpAddr = "2001:db8:1:2:aaaa::1".parse().unwrap();
        let b: IpAddr = "2001:db8:1:2:bbbb::9".parse().unwrap();
        assert_eq!(address_bucket(a), address_bucket(b));
        assert_eq!(address_bucket(a), "2001:db8:1:2::/64");
        assert_eq!(address_bucket("::ffff:192.0.2.7".parse().unwrap()), "192.0.2.7");
    }
}
