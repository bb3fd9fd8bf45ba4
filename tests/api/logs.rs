//! Secrets never reach a log line: a whole session of accounts (sign-up, logins right and
//! wrong, throttling, refreshes, a replay, server functions, admin changes, sign-out) is run
//! against the real binary with Gatehouse's own logging at its most verbose, and no password,
//! token or cookie it used may appear in any line the process wrote.

use crate::helpers::{ADMIN, ADMIN_PASSWORD, Api, MASTER_KEY, TestDatabase, Tokens};
use serde_json::{Value, json};
use std::process::{Command, Stdio};
use std::time::Duration;

const PASSWORD: &str = "a long passphrase for the log test";
const WRONG: &str = "a wrong passphrase for the log test";

#[tokio::test]
async fn no_log_line_of_a_whole_session_carries_a_password_a_token_or_a_cookie() {
    whole_session_logged_without_secrets("text").await;
}

#[tokio::test]
async fn no_json_log_line_of_a_whole_session_carries_a_password_a_token_or_a_cookie() {
    whole_session_logged_without_secrets("json").await;
}

async fn whole_session_logged_without_secrets(format: &str) {
    let database = TestDatabase::create().await;
    let port = std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
    let child = Command::new(env!("CARGO_BIN_EXE_gatehouse"))
        .current_dir(database.dir())
        .env_clear()
        .env("PATH", std::env::var("PATH").unwrap_or_default())
        .env("RUST_LOG", "info,gatehouse=trace")
        .env("GATEHOUSE_LOG_FORMAT", format)
        .env("LEPTOS_OUTPUT_NAME", "gatehouse")
        .env("LEPTOS_SITE_ADDR", format!("127.0.0.1:{port}"))
        .env("GATEHOUSE_DATABASE_URL", &database.url)
        .env("GATEHOUSE_MASTER_KEY", MASTER_KEY)
        .env("GATEHOUSE_ADMIN_USERNAME", ADMIN)
        .env("GATEHOUSE_ADMIN_PASSWORD", ADMIN_PASSWORD)
        .env("GATEHOUSE_LIMIT_LOGIN_PER_ACCOUNT", "2")
        .env("GATEHOUSE_LIMIT_LOGIN_PER_ADDRESS", "0")
        .env("GATEHOUSE_LIMIT_REGISTER_PER_ADDRESS", "0")
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let app = Api::new(format!("http://127.0.0.1:{port}"));
    let mut healthy = false;
    for _ in 0..200 {
        tokio::time::sleep(Duration::from_millis(50)).await;
        if app.client.get(app.url("/api/v1/health")).send().await.is_ok_and(|r| r.status() == 200) {
            healthy = true;
            break;
        }
    }
    assert!(healthy, "gatehouse became healthy");

    let mut secrets: Vec<String> = vec![PASSWORD.into(), WRONG.into(), ADMIN_PASSWORD.into()];
    let alice = app.create_user("alice", PASSWORD).await;
    let first = app.tokens("alice", PASSWORD).await;
    let refreshed: Value = app.refresh(&first.refresh).await.json().await.unwrap();
    let second = Tokens {
        access: refreshed["access_token"].as_str().unwrap().to_owned(),
        refresh: refreshed["refresh_token"].as_str().unwrap().to_owned(),
    };
    assert_eq!(app.refresh(&first.refresh).await.status(), 400, "a replay");
    assert_eq!(app.me(&second.access).await.status(), 401, "the replay ended the login");
    for _ in 0..3 {
        app.login("alice", WRONG).await;
    }
    assert_eq!(app.login("alice", PASSWORD).await.status(), 429, "throttled");
    let browser = app
        .client
        .post(app.url("/fn/signup"))
        .header("accept", "application/json")
        .form(&[("username", "bob"), ("password", PASSWORD)])
        .send()
        .await
        .unwrap();
    assert_eq!(browser.status(), 200);
    let cookie = browser.headers()["set-cookie"].to_str().unwrap().split(';').next().unwrap().to_owned();
    let signed_in: Value = browser.json().await.unwrap();
    let refreshed = app.client.post(app.url("/fn/refresh")).header("cookie", &cookie).send().await.unwrap();
    assert_eq!(refreshed.status(), 200);
    let new_cookie = refreshed.headers()["set-cookie"].to_str().unwrap().split(';').next().unwrap().to_owned();
    let admin = app.admin_tokens().await;
    let path = format!("/api/v1/users/{}", alice["id"].as_str().unwrap());
    assert_eq!(app.patch(&path, &admin.access, json!({"disabled": true})).await.status(), 200);
    app.client.post(app.url("/fn/logout")).header("cookie", &new_cookie).send().await.unwrap();
    app.client.post(app.url("/api/v1/auth/revoke")).form(&[("token", admin.refresh.as_str())]).send().await.unwrap();

    for tokens in [&first, &second, &admin] {
        secrets.push(tokens.access.clone());
        secrets.push(tokens.refresh.clone());
    }
    secrets.push(signed_in["access_token"].as_str().unwrap().to_owned());
    for c in [&cookie, &new_cookie] {
        secrets.push(c.split_once('=').unwrap().1.to_owned());
    }
    // SIGTERM: the server drains, flushes its log and exits. SAFETY: kill(2) with our own
    // child's pid and a plain signal number.
    unsafe { libc::kill(i32::try_from(child.id()).unwrap(), libc::SIGTERM) };
    let output = child.wait_with_output().unwrap();
    let text = format!("{}{}", String::from_utf8_lossy(&output.stdout), String::from_utf8_lossy(&output.stderr));
    assert!(text.lines().count() >= 20, "the session was logged:\n{text}");
    assert!(text.contains("login started") && text.contains("replay"), "{text}");
    if format == "json" {
        for line in String::from_utf8_lossy(&output.stdout).lines() {
            let parsed: Value = serde_json::from_str(line).unwrap_or_else(|e| panic!("not JSON: {line}: {e}"));
            assert!(parsed["timestamp"].is_string() && parsed["level"].is_string(), "{line}");
        }
    }
    for secret in &secrets {
        assert!(secret.len() >= 16, "a real secret: {secret}");
        assert!(!text.contains(secret.as_str()), "a secret reached the log:\n{text}");
    }
}
