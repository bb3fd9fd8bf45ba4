//! The periodic purge: ended and expired logins, expired refresh tokens and spent address
//! throttle counters are deleted a day after they stopped counting, and nothing else is.
//! The purge is called with a clock moved forward instead of waiting days.

use crate::helpers::{TestApp, expect_error};
use gatehouse::{
    auth::service::{PURGE_RETENTION_SECONDS, Purged},
    db::now_micros,
};

const PASSWORD: &str = "a long passphrase";
const SECOND: i64 = 1_000_000;
const REFRESH_TTL: i64 = 3 * 86_400;

/// Rows of `table` (a fixed name from this file), read through the app's own pool.
async fn count(app: &TestApp, table: &str) -> i64 {
    app.sql_i64(&format!("SELECT COUNT(*) FROM {table}")).await
}

#[tokio::test]
async fn a_day_after_a_login_ends_it_is_deleted_and_live_logins_are_untouched() {
    let refresh_ttl = REFRESH_TTL.to_string();
    let app = TestApp::spawn_with(&[("GATEHOUSE_REFRESH_TOKEN_TTL", &refresh_ttl)]).await;
    app.create_user("alice", PASSWORD).await;
    let ended = app.tokens("alice", PASSWORD).await;
    let revoked =
        app.client.post(app.url("/api/v1/auth/revoke")).form(&[("token", &ended.refresh)]).send().await.unwrap();
    assert_eq!(revoked.status(), 200);
    let live = app.tokens("alice", PASSWORD).await;
    assert_eq!(count(&app, "logins").await, 2);

    // Within the retention time nothing goes, not even the ended login.
    let soon = now_micros() + (PURGE_RETENTION_SECONDS - 60) * SECOND;
    assert_eq!(app.auth.purge(soon).await.unwrap(), Purged::default());
    assert_eq!(count(&app, "logins").await, 2);

    // A day after it ended, the ended login and its token go; the live one stays and works.
    let next_day = now_micros() + (PURGE_RETENTION_SECONDS + 60) * SECOND;
    let purged = app.auth.purge(next_day).await.unwrap();
    assert_eq!(purged.logins, 1, "{purged:?}");
    assert_eq!(count(&app, "logins").await, 1);
    assert_eq!(count(&app, "refresh_tokens").await, 1);
    expect_error(app.refresh(&ended.refresh).await, 400, "invalid_grant").await;
    assert_eq!(app.me(&live.access).await.status(), 200);
    let refreshed = app.refresh(&live.refresh).await;
    assert_eq!(refreshed.status(), 200);
    let refreshed: serde_json::Value = refreshed.json().await.unwrap();

    // The live login's used token is kept until it expires, for reuse detection; only the
    // refresh's counter goes (its hour has passed by then).
    assert_eq!(app.auth.purge(next_day).await.unwrap(), Purged { throttle_counters: 1, ..Purged::default() });
    assert_eq!(count(&app, "refresh_tokens").await, 2);

    // A day after its last refresh token expired, the login that was never ended goes too,
    // and with it every access token it issued.
    let after_expiry = now_micros() + (REFRESH_TTL + PURGE_RETENTION_SECONDS + 60) * SECOND;
    let purged = app.auth.purge(after_expiry).await.unwrap();
    assert_eq!(purged.logins, 1, "{purged:?}");
    assert_eq!(count(&app, "logins").await, 0);
    assert_eq!(count(&app, "refresh_tokens").await, 0);
    let access = refreshed["access_token"].as_str().unwrap();
    expect_error(app.me(access).await, 401, "invalid_token").await;
    // The account itself is never purged: a new login works.
    assert_eq!(app.login("alice", PASSWORD).await.status(), 200);
}

#[tokio::test]
async fn spent_address_counters_go_and_account_counters_stay() {
    let app = TestApp::spawn_with(&[
        ("GATEHOUSE_LIMIT_LOGIN_PER_ACCOUNT", "5"),
        ("GATEHOUSE_LIMIT_LOGIN_PER_ADDRESS", "30"),
        ("GATEHOUSE_LIMIT_REGISTER_PER_ADDRESS", "10"),
    ])
    .await;
    app.create_user("bob", PASSWORD).await;
    expect_error(app.login("bob", "not the passphrase").await, 400, "invalid_grant").await;
    // One counter for the account, one for the address's failures, one for its sign-ups.
    assert_eq!(count(&app, "throttle").await, 3);

    // Inside the hour, the address counters still count.
    let in_window = now_micros() + 3000 * SECOND;
    assert_eq!(app.auth.purge(in_window).await.unwrap().throttle_counters, 0);

    let after_window = now_micros() + 3700 * SECOND;
    assert_eq!(app.auth.purge(after_window).await.unwrap().throttle_counters, 2);
    assert_eq!(count(&app, "throttle").await, 1, "the account's consecutive failures stay");

    // An account counter goes only after 30 days without a single attempt, so guesses at
    // names that are no account cannot grow the table for ever.
    let idle = gatehouse::auth::throttle::ACCOUNT_IDLE_PURGE_SECONDS * SECOND;
    assert_eq!(app.auth.purge(now_micros() + idle - 3600 * SECOND).await.unwrap().throttle_counters, 0);
    assert_eq!(app.auth.purge(now_micros() + idle + 60 * SECOND).await.unwrap().throttle_counters, 1);
    assert_eq!(count(&app, "throttle").await, 0);
}

#[tokio::test]
async fn logins_keep_working_while_a_login_refreshed_fifty_thousand_times_is_purged() {
    let app = TestApp::spawn().await;
    app.create_user("chained", PASSWORD).await;
    app.create_user("bob", PASSWORD).await;
    // A login whose chain of refresh tokens is 50,000 long, every one expired long ago.
    app.sql_execute(
        "INSERT INTO logins (id, user_id, created_at) SELECT 'chain', id, 0 FROM users WHERE username = 'chained'",
    )
    .await;
    let chain = app
        .sql_execute(
            "WITH RECURSIVE seq(n) AS (SELECT 1 UNION ALL SELECT n + 1 FROM seq WHERE n < 50000) \
             INSERT INTO refresh_tokens (id, login_id, parent_id, token_hash, created_at, expires_at, used_at) \
             SELECT 'chain-' || n, 'chain', CASE WHEN n = 1 THEN NULL ELSE 'chain-' || (n - 1) END, \
                    'chain-hash-' || n, 0, 1, 1 FROM seq",
        )
        .await;
    assert_eq!(chain, 50_000);
    let started = std::time::Instant::now();
    let purge = tokio::spawn({
        let auth = std::sync::Arc::clone(&app.auth);
        async move { auth.purge(now_micros()).await.unwrap() }
    });
    // Meanwhile people keep logging in: none waits long for the purge (each login writes).
    let (mut logins, mut slowest) = (0, std::time::Duration::ZERO);
    while !purge.is_finished() {
        let login = std::time::Instant::now();
        assert_eq!(app.login("bob", PASSWORD).await.status(), 200, "a login during the purge");
        slowest = slowest.max(login.elapsed());
        logins += 1;
    }
    let purged = purge.await.unwrap();
    println!(
        "purged a 50,000-token chain in {:?}; {logins} logins meanwhile, the slowest {slowest:?}",
        started.elapsed()
    );
    // One statement deleting the chain would hold the write lock for all of it.
    assert!(slowest < std::time::Duration::from_secs(2), "a login waited {slowest:?} for the purge");
    assert_eq!(purged.logins, 1);
    assert_eq!(app.sql_i64("SELECT COUNT(*) FROM refresh_tokens WHERE login_id = 'chain'").await, 0);
    assert!(logins >= 1);
}
