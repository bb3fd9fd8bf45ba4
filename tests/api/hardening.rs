//! Abuse protection and browser-facing hardening over real HTTP: throttling (per account,
//! per address, sign-ups, shared through the database), security headers and the CSP nonce,
//! the refresh grace window, and rehashing of weaker password hashes.

use crate::helpers::{TestApp, Tokens, expect_error, retry_after};
use reqwest::{Response, StatusCode};
use serde_json::{Value, json};
use std::time::Duration;

const PASSWORD: &str = "a long passphrase";

async fn expect_throttled(response: Response) -> u64 {
    let wait = retry_after(&response);
    assert!(wait >= 1);
    let body = expect_error(response, 429, "too_many_requests").await;
    assert!(body["error_description"].as_str().unwrap().contains("wait"), "{body}");
    wait
}

async fn login_from(app: &TestApp, username: &str, password: &str, forwarded_for: &str) -> Response {
    app.client
        .post(app.url("/api/v1/auth/token"))
        .header("x-forwarded-for", forwarded_for)
        .form(&[("username", username), ("password", password)])
        .send()
        .await
        .unwrap()
}

#[tokio::test]
async fn an_account_is_throttled_after_the_limit_even_for_the_right_password_and_waits_grow() {
    let app = TestApp::spawn_with(&[("GATEHOUSE_LIMIT_LOGIN_PER_ACCOUNT", "3")]).await;
    app.create_user("alice", PASSWORD).await;
    for _ in 0..3 {
        expect_error(app.login("alice", "wrong passphrase").await, 400, "invalid_grant").await;
    }
    // The fourth attempt is refused before the password is looked at.
    assert_eq!(expect_throttled(app.login("alice", PASSWORD).await).await, 1);
    // Usernames match ignoring case, and so do their counts.
    expect_throttled(app.login("ALICE", PASSWORD).await).await;
    // Honouring Retry-After lets one more attempt through; failing it doubles the wait.
    tokio::time::sleep(Duration::from_millis(1100)).await;
    expect_error(app.login("alice", "wrong again").await, 400, "invalid_grant").await;
    assert_eq!(expect_throttled(app.login("alice", PASSWORD).await).await, 2);
    tokio::time::sleep(Duration::from_millis(2100)).await;
    // A success clears the count: the next failure is an ordinary 400 again.
    assert_eq!(app.login("alice", PASSWORD).await.status(), 200);
    expect_error(app.login("alice", "wrong passphrase").await, 400, "invalid_grant").await;
    assert_eq!(app.login("alice", PASSWORD).await.status(), 200);
}

#[tokio::test]
async fn unknown_usernames_are_throttled_exactly_like_known_ones() {
    let app = TestApp::spawn_with(&[("GATEHOUSE_LIMIT_LOGIN_PER_ACCOUNT", "2")]).await;
    app.create_user("alice", PASSWORD).await;
    let mut answers = Vec::new();
    for name in ["alice", "nobody_here"] {
        for _ in 0..2 {
            expect_error(app.login(name, "wrong passphrase").await, 400, "invalid_grant").await;
        }
        let response = app.login(name, "wrong passphrase").await;
        let wait = retry_after(&response);
        let body: Value = response.json().await.unwrap();
        answers.push((wait, body));
    }
    assert_eq!(answers[0], answers[1], "a 429 says nothing about whether the account exists");
}

#[tokio::test]
async fn parallel_guesses_cannot_slip_past_the_count() {
    let app = TestApp::spawn_with(&[("GATEHOUSE_LIMIT_LOGIN_PER_ACCOUNT", "3")]).await;
    app.create_user("alice", PASSWORD).await;
    let guesses = (0..12).map(|i| {
        let app = &app;
        async move { app.login("alice", &format!("wrong passphrase {i}")).await.status() }
    });
    let statuses = futures_util::future::join_all(guesses).await;
    let checked = statuses.iter().filter(|s| **s == StatusCode::BAD_REQUEST).count();
    let refused = statuses.iter().filter(|s| **s == StatusCode::TOO_MANY_REQUESTS).count();
    assert_eq!((checked, refused), (3, 9), "{statuses:?}");
}

#[tokio::test]
async fn addresses_and_accounts_are_counted_independently_and_only_trusted_proxies_are_believed() {
    let app = TestApp::spawn_with(&[
        ("GATEHOUSE_LIMIT_LOGIN_PER_ACCOUNT", "2"),
        ("GATEHOUSE_LIMIT_LOGIN_PER_ADDRESS", "4"),
        ("GATEHOUSE_TRUSTED_PROXIES", "127.0.0.1"),
    ])
    .await;
    app.create_user("alice", PASSWORD).await;
    app.create_user("bob", PASSWORD).await;
    // One guesser, 203.0.113.5, spreads guesses over accounts: the address limit stops it.
    for name in ["carol", "dave", "erin", "frank"] {
        expect_error(login_from(&app, name, "wrong passphrase", "203.0.113.5").await, 400, "invalid_grant").await;
    }
    expect_throttled(login_from(&app, "alice", PASSWORD, "203.0.113.5").await).await;
    // Another address is unaffected, and alice's account was never charged by the refusal.
    assert_eq!(login_from(&app, "alice", PASSWORD, "198.51.100.7").await.status(), 200);
    // Guesses on bob from two addresses: the account limit stops the third whatever its address.
    expect_error(login_from(&app, "bob", "wrong", "198.51.100.8").await, 400, "invalid_grant").await;
    expect_error(login_from(&app, "bob", "wrong", "198.51.100.9").await, 400, "invalid_grant").await;
    expect_throttled(login_from(&app, "bob", PASSWORD, "198.51.100.10").await).await;

    // Without trusted proxies the header is the client's own claim and changes nothing.
    let direct = TestApp::spawn_with(&[("GATEHOUSE_LIMIT_LOGIN_PER_ADDRESS", "2")]).await;
    for spoofed in ["192.0.2.1", "192.0.2.2"] {
        expect_error(login_from(&direct, "zed", "wrong", spoofed).await, 400, "invalid_grant").await;
    }
    expect_throttled(login_from(&direct, "yan", "wrong", "192.0.2.3").await).await;
}

#[tokio::test]
async fn the_login_server_function_is_throttled_like_the_token_endpoint() {
    let app = TestApp::spawn_with(&[("GATEHOUSE_LIMIT_LOGIN_PER_ACCOUNT", "2")]).await;
    app.create_user("alice", PASSWORD).await;
    // Counts are shared by both doors: two failures through the API...
    for _ in 0..2 {
        expect_error(app.login("alice", "wrong passphrase").await, 400, "invalid_grant").await;
    }
    // ...and the browser's login is refused too, with 429 and Retry-After.
    let response = app
        .client
        .post(app.url("/fn/login"))
        .header("accept", "application/json")
        .form(&[("username", "alice"), ("password", PASSWORD)])
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 429);
    assert!(retry_after(&response) >= 1);
    assert!(response.headers().get("set-cookie").is_none(), "no session for a refused login");
}

#[tokio::test]
async fn registrations_are_limited_per_address_and_taken_names_count_but_mistakes_do_not() {
    let app = TestApp::spawn_with(&[("GATEHOUSE_LIMIT_REGISTER_PER_ADDRESS", "3")]).await;
    // A mistake is not a registration.
    assert_eq!(app.register(json!({"username": "x", "password": "short"})).await.status(), 422);
    app.create_user("first", PASSWORD).await;
    // Probing whether a name is taken counts like creating one (else probing is free).
    assert_eq!(app.register(json!({"username": "first", "password": PASSWORD})).await.status(), 409);
    app.create_user("second", PASSWORD).await;
    let wait = expect_throttled(app.register(json!({"username": "third", "password": PASSWORD})).await).await;
    assert!(wait > 3000, "an hour's pause, got {wait}");
    // Nothing was written for the refused one.
    let admin = app.admin_tokens().await;
    let page: Value = app.get("/api/v1/users?q=third", &admin.access).await.json().await.unwrap();
    assert_eq!(page["total"], 0);
}

#[tokio::test]
async fn a_hundred_consecutive_failures_lock_the_account_until_an_admin_enables_it() {
    let app = TestApp::spawn_with(&[("GATEHOUSE_LIMIT_LOGIN_PER_ACCOUNT", "100")]).await;
    let alice = app.create_user("alice", PASSWORD).await;
    // Bring alice to 99 consecutive failures without spending a day on delays.
    let key = gatehouse::auth::throttle::account_key("alice");
    set_failures(&app, &key, 99).await;
    expect_error(app.login("alice", "wrong passphrase").await, 400, "invalid_grant").await;
    let response = app.login("alice", PASSWORD).await;
    assert_eq!(retry_after(&response), 86_400);
    let body = expect_error(response, 429, "too_many_requests").await;
    assert!(body["error_description"].as_str().unwrap().contains("administrator"), "{body}");
    // An admin enabling the account unlocks it.
    let admin = app.admin_tokens().await;
    let path = format!("/api/v1/users/{}", alice["id"].as_str().unwrap());
    assert_eq!(app.patch(&path, &admin.access, json!({"disabled": false})).await.status(), 200);
    assert_eq!(app.login("alice", PASSWORD).await.status(), 200);
}

/// Writes a throttle row directly, as if `failures` attempts had been made. The values go
/// into the SQL text: `key` is a hex digest with a fixed prefix and `failures` a number.
async fn set_failures(app: &TestApp, key: &str, failures: i64) {
    let sql =
        format!("INSERT INTO throttle (key, failures, window_start, blocked_until) VALUES ('{key}', {failures}, 0, 0)");
    assert_eq!(app.sql_execute(&sql).await, 1);
}

/// The stored password hash of `username` (a plain name from this file).
async fn stored_hash(app: &TestApp, username: &str) -> String {
    app.sql_string(&format!("SELECT password_hash FROM users WHERE username = '{username}'")).await
}

#[tokio::test]
async fn throttle_counts_are_shared_by_instances_on_one_database() {
    let one = TestApp::spawn_with(&[("GATEHOUSE_LIMIT_LOGIN_PER_ACCOUNT", "2")]).await;
    let two = one.spawn_sharing(&[("GATEHOUSE_LIMIT_LOGIN_PER_ACCOUNT", "2")]).await;
    one.create_user("alice", PASSWORD).await;
    expect_error(one.login("alice", "wrong passphrase").await, 400, "invalid_grant").await;
    expect_error(two.login("alice", "wrong passphrase").await, 400, "invalid_grant").await;
    expect_throttled(one.login("alice", PASSWORD).await).await;
    expect_throttled(two.login("alice", PASSWORD).await).await;
}

#[tokio::test]
async fn a_login_rehashes_a_password_stored_with_weaker_parameters() {
    let weak =
        TestApp::spawn_with(&[("GATEHOUSE_ARGON2_MEMORY_KIB", "7168"), ("GATEHOUSE_ARGON2_ITERATIONS", "5")]).await;
    weak.create_user("alice", PASSWORD).await;
    let before = stored_hash(&weak, "alice").await;
    assert!(before.starts_with("$argon2id$v=19$m=7168,t=5,p=1$"), "{before}");
    // A login on the weak instance keeps the hash as it is.
    assert_eq!(weak.login("alice", PASSWORD).await.status(), 200);
    assert_eq!(stored_hash(&weak, "alice").await, before);
    // The stronger configuration upgrades it at the next login; a wrong password does not.
    let strong = weak.spawn_sharing(&[]).await;
    expect_error(strong.login("alice", "wrong passphrase").await, 400, "invalid_grant").await;
    assert_eq!(stored_hash(&weak, "alice").await, before);
    assert_eq!(strong.login("alice", PASSWORD).await.status(), 200);
    let after = stored_hash(&weak, "alice").await;
    assert!(after.starts_with("$argon2id$v=19$m=19456,t=2,p=1$"), "{after}");
    // The new hash still lets the person in, on either instance.
    assert_eq!(strong.login("alice", PASSWORD).await.status(), 200);
    assert_eq!(weak.login("alice", PASSWORD).await.status(), 200);
}

#[tokio::test]
async fn a_refresh_retried_inside_the_grace_window_gets_a_new_pair_once() {
    let app = TestApp::spawn_with(&[("GATEHOUSE_REFRESH_REUSE_GRACE", "5")]).await;
    app.create_user("alice", PASSWORD).await;
    let first = app.tokens("alice", PASSWORD).await;
    let lost = refreshed(&app, &first).await;
    // The response carrying `lost` never arrived: the client retries with the old token.
    let retried = refreshed(&app, &first).await;
    assert_ne!(retried.refresh, lost.refresh);
    // The retried pair lives on in the same login.
    let next = refreshed(&app, &retried).await;
    assert_eq!(app.me(&next.access).await.status(), 200);
    // Only once: a second retry of the same token is a replay, and ends the login.
    expect_error(app.refresh(&first.refresh).await, 400, "invalid_grant").await;
    expect_error(app.refresh(&next.refresh).await, 400, "invalid_grant").await;
    assert_eq!(app.me(&next.access).await.status(), 401);
}

#[tokio::test]
async fn a_thief_who_retries_inside_the_grace_window_is_caught_when_the_owner_comes_back() {
    let app = TestApp::spawn_with(&[("GATEHOUSE_REFRESH_REUSE_GRACE", "5")]).await;
    app.create_user("alice", PASSWORD).await;
    let first = app.tokens("alice", PASSWORD).await;
    // Alice refreshes; a thief holding a copy of her old token "retries" it in the window.
    let owners = refreshed(&app, &first).await;
    let thiefs = refreshed(&app, &first).await;
    // Alice's successor was revoked by that retry: presenting it is a replay, the login ends.
    expect_error(app.refresh(&owners.refresh).await, 400, "invalid_grant").await;
    expect_error(app.refresh(&thiefs.refresh).await, 400, "invalid_grant").await;
    assert_eq!(app.me(&thiefs.access).await.status(), 401);
    assert_eq!(app.me(&owners.access).await.status(), 401);
}

#[tokio::test]
async fn a_replay_after_the_grace_window_ends_the_login() {
    let app = TestApp::spawn_with(&[("GATEHOUSE_REFRESH_REUSE_GRACE", "1")]).await;
    app.create_user("alice", PASSWORD).await;
    let first = app.tokens("alice", PASSWORD).await;
    let second = refreshed(&app, &first).await;
    tokio::time::sleep(Duration::from_millis(1300)).await;
    expect_error(app.refresh(&first.refresh).await, 400, "invalid_grant").await;
    expect_error(app.refresh(&second.refresh).await, 400, "invalid_grant").await;
    assert_eq!(app.me(&second.access).await.status(), 401);
}

#[tokio::test]
async fn without_a_grace_window_any_reuse_is_a_replay() {
    let app = TestApp::spawn().await;
    app.create_user("alice", PASSWORD).await;
    let first = app.tokens("alice", PASSWORD).await;
    let second = refreshed(&app, &first).await;
    expect_error(app.refresh(&first.refresh).await, 400, "invalid_grant").await;
    expect_error(app.refresh(&second.refresh).await, 400, "invalid_grant").await;
}

async fn refreshed(app: &TestApp, tokens: &Tokens) -> Tokens {
    let response = app.refresh(&tokens.refresh).await;
    assert_eq!(response.status(), 200, "refreshing");
    let body: Value = response.json().await.unwrap();
    Tokens {
        access: body["access_token"].as_str().unwrap().to_owned(),
        refresh: body["refresh_token"].as_str().unwrap().to_owned(),
    }
}

fn header(response: &Response, name: &str) -> String {
    response.headers().get(name).and_then(|v| v.to_str().ok()).unwrap_or_default().to_owned()
}

#[tokio::test]
async fn pages_carry_a_csp_whose_nonce_is_on_every_inline_script() {
    let app = TestApp::spawn().await;
    for path in ["/", "/login", "/signup", "/no-such-page"] {
        let response = app.client.get(app.url(path)).send().await.unwrap();
        let csp = header(&response, "content-security-policy");
        assert!(!csp.contains("unsafe-inline") && !csp.contains("'unsafe-eval'"), "{path}: {csp}");
        assert!(csp.contains("frame-ancestors 'none'") && csp.contains("'wasm-unsafe-eval'"), "{path}: {csp}");
        let nonce = csp
            .split_whitespace()
            .find_map(|part| part.strip_prefix("'nonce-").and_then(|n| n.strip_suffix('\'')))
            .unwrap_or_else(|| panic!("{path}: a nonce in {csp}"))
            .to_owned();
        assert!(nonce.len() >= 16, "{path}: nonce {nonce}");
        assert_eq!(header(&response, "x-content-type-options"), "nosniff");
        assert_eq!(header(&response, "referrer-policy"), "same-origin");
        assert!(header(&response, "permissions-policy").contains("camera=()"));
        assert!(header(&response, "strict-transport-security").is_empty(), "no HSTS over plain HTTP");
        let html = response.text().await.unwrap();
        let scripts: Vec<&str> = html.split("<script").skip(1).map(|s| &s[..s.find('>').unwrap()]).collect();
        assert!(!scripts.is_empty(), "{path}: the hydration script");
        for script in scripts {
            let is_inline = !script.contains(" src=");
            if is_inline {
                assert!(
                    script.contains(&format!("nonce=\"{nonce}\"")),
                    "{path}: inline <script{script}> lacks the nonce"
                );
            }
        }
        assert!(!html.contains(" style=\""), "{path}: no inline style attributes");
    }
    // A fresh nonce per response.
    let a = header(&app.client.get(app.url("/")).send().await.unwrap(), "content-security-policy");
    let b = header(&app.client.get(app.url("/")).send().await.unwrap(), "content-security-policy");
    assert_ne!(a, b);
}

#[tokio::test]
async fn api_answers_are_locked_down_and_https_adds_hsts() {
    let app = TestApp::spawn().await;
    let response = app.client.get(app.url("/api/v1/health")).send().await.unwrap();
    assert!(header(&response, "content-security-policy").starts_with("default-src 'none'"));
    assert_eq!(header(&response, "x-frame-options"), "DENY");
    let too_big = app
        .client
        .post(app.url("/api/v1/auth/register"))
        .header("content-type", "application/json")
        .body(vec![b' '; 70 * 1024])
        .send()
        .await
        .unwrap();
    assert_eq!(too_big.status(), 413);
    assert_eq!(header(&too_big, "x-content-type-options"), "nosniff", "even early refusals");

    let https = TestApp::spawn_with(&[("GATEHOUSE_PUBLIC_URL", "https://auth.example.com")]).await;
    let response = https.client.get(https.url("/api/v1/health")).send().await.unwrap();
    assert!(header(&response, "strict-transport-security").starts_with("max-age="));
}

#[tokio::test]
async fn nothing_changes_state_on_get() {
    let app = TestApp::spawn().await;
    app.create_user("alice", PASSWORD).await;
    let tokens = app.tokens("alice", PASSWORD).await;
    for path in ["/fn/logout", "/fn/sign-out-everywhere", "/fn/refresh", "/api/v1/users/me/sign-out-everywhere"] {
        let response = app.client.get(app.url(path)).bearer_auth(&tokens.access).send().await.unwrap();
        assert!(response.status().is_client_error(), "GET {path}: {}", response.status());
    }
    let revoke =
        app.client.get(app.url(&format!("/api/v1/auth/revoke?token={}", tokens.refresh))).send().await.unwrap();
    assert!(revoke.status().is_client_error());
    // Still signed in, and the refresh token still works.
    assert_eq!(app.me(&tokens.access).await.status(), 200);
    assert_eq!(app.refresh(&tokens.refresh).await.status(), 200);
}

#[tokio::test]
async fn one_login_refreshes_at_most_the_documented_number_of_times_an_hour() {
    let app = TestApp::spawn_with(&[("GATEHOUSE_LIMIT_REFRESH_PER_LOGIN", "3")]).await;
    app.create_user("alice", PASSWORD).await;
    let mut tokens = app.tokens("alice", PASSWORD).await;
    for _ in 0..3 {
        tokens = refreshed(&app, &tokens).await;
    }
    let wait = expect_throttled(app.refresh(&tokens.refresh).await).await;
    assert!((1..=3600).contains(&wait), "{wait}");
    // The token was not spent by the refused attempt, and other logins are not slowed.
    assert_eq!(app.me(&tokens.access).await.status(), 200);
    let other = app.tokens("alice", PASSWORD).await;
    refreshed(&app, &other).await;
}

#[tokio::test]
async fn a_user_keeps_at_most_a_hundred_live_logins_and_a_new_one_ends_the_oldest() {
    let app = TestApp::spawn().await;
    app.create_user("alice", PASSWORD).await;
    let oldest = app.tokens("alice", PASSWORD).await;
    let second = app.tokens("alice", PASSWORD).await;
    for _ in 0..98 {
        app.tokens("alice", PASSWORD).await;
    }
    assert_eq!(app.me(&oldest.access).await.status(), 200, "a hundred live logins are allowed");
    let newest = app.tokens("alice", PASSWORD).await;
    assert_eq!(app.me(&newest.access).await.status(), 200);
    assert_eq!(app.me(&oldest.access).await.status(), 401, "the 101st login ended the oldest");
    expect_error(app.refresh(&oldest.refresh).await, 400, "invalid_grant").await;
    assert_eq!(app.me(&second.access).await.status(), 200);
    assert_eq!(app.sql_i64("SELECT COUNT(*) FROM logins").await, 100, "the oldest is gone, not kept ended");
}

#[tokio::test]
async fn cors_lets_the_configured_origins_call_the_api_with_bearer_tokens_and_no_one_else() {
    let app =
        TestApp::spawn_with(&[("GATEHOUSE_CORS_ORIGINS", "https://app.example.com, http://localhost:5173")]).await;
    let preflight = |origin: &'static str, path: &'static str| {
        app.client
            .request(reqwest::Method::OPTIONS, app.url(path))
            .header("origin", origin)
            .header("access-control-request-method", "GET")
            .header("access-control-request-headers", "authorization")
            .send()
    };
    let allowed = preflight("https://app.example.com", "/api/v1/users/me/logins").await.unwrap();
    assert!(allowed.status().is_success(), "{}", allowed.status());
    assert_eq!(header(&allowed, "access-control-allow-origin"), "https://app.example.com");
    assert!(header(&allowed, "access-control-allow-headers").to_lowercase().contains("authorization"));
    assert_eq!(header(&allowed, "access-control-allow-methods"), "GET", "the methods of that route");
    let update =
        preflight("https://app.example.com", "/api/v1/users/0192f0e2-0000-7000-8000-000000000000").await.unwrap();
    assert_eq!(header(&update, "access-control-allow-methods"), "GET, PATCH, DELETE");
    let token = preflight("https://app.example.com", "/api/v1/auth/token").await.unwrap();
    assert_eq!(header(&token, "access-control-allow-methods"), "POST");
    let nothing = preflight("https://app.example.com", "/api/v1/no/such/route").await.unwrap();
    assert_eq!(nothing.status(), 404, "no route, no preflight");
    assert_eq!(header(&allowed, "access-control-max-age"), "600");
    assert!(allowed.headers().get("access-control-allow-credentials").is_none(), "bearer tokens, never cookies");
    // The call itself: marked for that origin, and varying by origin.
    let tokens = app.admin_tokens().await;
    let call = app
        .client
        .get(app.url("/api/v1/users/me"))
        .header("origin", "http://localhost:5173")
        .bearer_auth(&tokens.access)
        .send()
        .await
        .unwrap();
    assert_eq!(call.status(), 200);
    assert_eq!(header(&call, "access-control-allow-origin"), "http://localhost:5173");
    assert!(header(&call, "vary").contains("Origin"), "{}", header(&call, "vary"));
    // Another origin, a page, a server function: no CORS header at all.
    let other = preflight("https://evil.example", "/api/v1/users/me").await.unwrap();
    assert!(other.headers().get("access-control-allow-origin").is_none());
    assert!(!other.headers().keys().any(|k| k.as_str().starts_with("access-control-")), "{:?}", other.headers());
    for path in ["/login", "/fn/login"] {
        let answer = preflight("https://app.example.com", path).await.unwrap();
        assert!(answer.headers().get("access-control-allow-origin").is_none(), "{path}");
    }
    // Unset, there is no CORS.
    let plain = TestApp::spawn().await;
    let answer = plain
        .client
        .request(reqwest::Method::OPTIONS, plain.url("/api/v1/users/me"))
        .header("origin", "https://app.example.com")
        .header("access-control-request-method", "GET")
        .send()
        .await
        .unwrap();
    assert!(answer.headers().get("access-control-allow-origin").is_none());
}
