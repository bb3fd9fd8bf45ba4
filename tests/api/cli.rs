//! The command line (`shared/spec/operations.md`), run as the real binary against the test
//! database: subcommands, exit codes, and that nothing printed carries a secret.

use crate::helpers::{ADMIN, MASTER_KEY, TestApp, TestDatabase};
use serde_json::Value;
use std::{
    io::Write as _,
    process::{Command, Output, Stdio},
};

const PASSWORD: &str = "a long passphrase";

/// Runs `gatehouse ARGS` on `database_url` with `stdin` as its standard input.
fn gatehouse(database_url: &str, args: &[&str], stdin: &str) -> Output {
    let dir = std::env::temp_dir().join(format!("gatehouse-cli-{}", uuid::Uuid::new_v4().simple()));
    std::fs::create_dir_all(&dir).unwrap();
    let mut child = Command::new(env!("CARGO_BIN_EXE_gatehouse"))
        .args(args)
        .current_dir(&dir)
        .env_clear()
        .env("PATH", std::env::var("PATH").unwrap_or_default())
        .env("GATEHOUSE_DATABASE_URL", database_url)
        .env("GATEHOUSE_MASTER_KEY", MASTER_KEY)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    child.stdin.take().unwrap().write_all(stdin.as_bytes()).unwrap();
    let output = child.wait_with_output().unwrap();
    let _ = std::fs::remove_dir_all(&dir);
    output
}

fn text(output: &Output) -> String {
    format!("{}{}", String::from_utf8_lossy(&output.stdout), String::from_utf8_lossy(&output.stderr))
}

#[test]
fn help_and_version_exit_0_and_a_usage_error_exits_2() {
    let help = gatehouse("sqlite::memory:", &["--help"], "");
    assert_eq!(help.status.code(), Some(0), "{}", text(&help));
    for command in ["serve", "migrate", "create-admin", "reset-link", "remove-mfa", "users", "keys"] {
        assert!(text(&help).contains(command), "--help names {command}: {}", text(&help));
    }
    let version = gatehouse("sqlite::memory:", &["--version"], "");
    assert_eq!(version.status.code(), Some(0));
    assert!(text(&version).contains(env!("CARGO_PKG_VERSION")), "{}", text(&version));
    assert_eq!(gatehouse("sqlite::memory:", &["frobnicate"], "").status.code(), Some(2));
    assert_eq!(gatehouse("sqlite::memory:", &["create-admin"], "").status.code(), Some(2), "USERNAME is required");
}

#[tokio::test]
async fn migrate_brings_a_fresh_database_up_to_date_and_a_dead_one_fails_with_one_line() {
    let database = TestDatabase::create().await;
    let migrated = gatehouse(&database.url, &["migrate"], "");
    assert_eq!(migrated.status.code(), Some(0), "{}", text(&migrated));
    // Migrated: listing works on it (and shows no one yet).
    let listed = gatehouse(&database.url, &["users", "list"], "");
    assert_eq!(listed.status.code(), Some(0), "{}", text(&listed));
    assert_eq!(String::from_utf8_lossy(&listed.stdout).lines().count(), 1, "the header only");
    let dead = gatehouse("postgres://nobody:hunter2-secret@127.0.0.1:1/none", &["migrate"], "");
    assert_eq!(dead.status.code(), Some(1));
    let stderr = String::from_utf8_lossy(&dead.stderr);
    assert!(stderr.lines().any(|l| l.starts_with("gatehouse: GATEHOUSE_DATABASE_URL")), "{stderr}");
    assert!(!stderr.contains("hunter2"), "{stderr}");
}

#[tokio::test]
async fn create_admin_reads_the_password_from_standard_input_and_rescues_an_existing_account() {
    let app = TestApp::spawn().await;
    // A new admin.
    let created = gatehouse(app.database_url(), &["create-admin", "boss"], &format!("{PASSWORD}\n"));
    assert_eq!(created.status.code(), Some(0), "{}", text(&created));
    assert!(!text(&created).contains(PASSWORD), "{}", text(&created));
    let boss = app.tokens("boss", PASSWORD).await;
    let me: Value = app.me(&boss.access).await.json().await.unwrap();
    assert_eq!(me["role"], "admin");

    // An existing account that lost its password: promoted, new password, old logins gone.
    app.create_user("carol", "carol's old passphrase").await;
    let old = app.tokens("carol", "carol's old passphrase").await;
    let rescued = gatehouse(app.database_url(), &["create-admin", "carol"], "carol's new passphrase\r\n");
    assert_eq!(rescued.status.code(), Some(0), "{}", text(&rescued));
    assert_eq!(app.me(&old.access).await.status(), 401, "its logins ended");
    assert_eq!(app.login("carol", "carol's old passphrase").await.status(), 400);
    let carol = app.tokens("carol", "carol's new passphrase").await;
    let me: Value = app.me(&carol.access).await.json().await.unwrap();
    assert_eq!((me["role"].as_str(), me["disabled"].as_bool()), (Some("admin"), Some(false)));

    // A password breaking the policy: exit 1, one line, the password not echoed.
    let refused = gatehouse(app.database_url(), &["create-admin", "dave"], "password1\n");
    assert_eq!(refused.status.code(), Some(1));
    let stderr = String::from_utf8_lossy(&refused.stderr);
    assert!(stderr.starts_with("gatehouse: ") && !stderr.contains("password1"), "{stderr}");
    assert_eq!(app.login("dave", "password1").await.status(), 400);
}

#[tokio::test]
async fn users_list_prints_a_table_without_secrets_and_filters_by_query() {
    let app = TestApp::spawn().await;
    app.create_user("alice", PASSWORD).await;
    app.register(serde_json::json!({"username": "bob", "password": PASSWORD, "email": "bob@example.com"})).await;
    let listed = gatehouse(app.database_url(), &["users", "list"], "");
    assert_eq!(listed.status.code(), Some(0), "{}", text(&listed));
    let stdout = String::from_utf8_lossy(&listed.stdout);
    let lines: Vec<&str> = stdout.lines().collect();
    assert_eq!(lines.len(), 4, "a header and three accounts: {stdout}");
    assert!(lines[0].starts_with("USERNAME") && lines[0].contains("CREATED"), "{stdout}");
    assert!(lines[1].starts_with(ADMIN) && lines[1].contains("admin"), "{stdout}");
    assert!(lines[3].starts_with("bob") && lines[3].contains("bob@example.com") && lines[3].contains("enabled"));
    assert!(!stdout.contains("$argon2") && !stdout.contains(PASSWORD), "{stdout}");
    let filtered = gatehouse(app.database_url(), &["users", "list", "--query", "EXAMPLE.com"], "");
    assert_eq!(String::from_utf8_lossy(&filtered.stdout).lines().count(), 2, "{}", text(&filtered));
}

#[tokio::test]
async fn keys_rotate_publishes_a_key_the_running_server_follows_and_keys_list_shows_its_state() {
    let app = TestApp::spawn().await;
    let first = gatehouse(app.database_url(), &["keys", "list"], "");
    assert_eq!(first.status.code(), Some(0), "{}", text(&first));
    let stdout = String::from_utf8_lossy(&first.stdout).into_owned();
    let lines: Vec<&str> = stdout.lines().collect();
    assert_eq!(lines.len(), 2, "a header and the one key: {stdout}");
    assert!(lines[0].starts_with("KID") && lines[1].contains("EdDSA") && lines[1].contains("current"), "{stdout}");
    let kid = lines[1].split_whitespace().next().unwrap().to_owned();

    let rotated = gatehouse(app.database_url(), &["keys", "rotate"], "");
    assert_eq!(rotated.status.code(), Some(0), "{}", text(&rotated));
    let listed = gatehouse(app.database_url(), &["keys", "list"], "");
    let stdout = String::from_utf8_lossy(&listed.stdout).into_owned();
    let lines: Vec<&str> = stdout.lines().collect();
    assert_eq!(lines.len(), 3, "{stdout}");
    assert!(lines[1].starts_with(&kid) && lines[1].contains("current"), "{stdout}");
    assert!(lines[2].contains("next"), "the new key waits for the rotation delay: {stdout}");
    let new_kid = lines[2].split_whitespace().next().unwrap();
    assert!(rotated.stdout.starts_with(format!("New signing key {new_kid}").as_bytes()), "{}", text(&rotated));
    // Nothing printed is a private part.
    assert!(!text(&listed).contains("v1.") && !text(&rotated).contains("v1."), "{}", text(&listed));

    // The running server publishes the key made by the command line within 10 s.
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(10);
    loop {
        let jwks: Value = app.client.get(app.url("/.well-known/jwks.json")).send().await.unwrap().json().await.unwrap();
        if jwks["keys"].as_array().unwrap().iter().any(|k| k["kid"] == new_kid) {
            break;
        }
        assert!(std::time::Instant::now() < deadline, "the server did not follow within 10 s: {jwks}");
        tokio::time::sleep(std::time::Duration::from_millis(250)).await;
    }
}

#[tokio::test]
async fn reset_link_prints_a_working_single_use_link_and_an_unknown_name_exits_1() {
    let app = TestApp::spawn().await;
    app.create_user("locked_out", PASSWORD).await;
    let made = gatehouse(app.database_url(), &["reset-link", "LOCKED_OUT"], "");
    assert_eq!(made.status.code(), Some(0), "{}", text(&made));
    let printed = String::from_utf8_lossy(&made.stdout).into_owned();
    let url = printed.lines().next().unwrap_or_default();
    assert!(url.starts_with("http://127.0.0.1:3000/reset-password#token="), "{printed}");
    let token = url.split_once("#token=").unwrap().1;
    let reset = |password: &'static str| {
        let body = serde_json::json!({ "token": token, "new_password": password });
        app.client.post(app.url("/api/v1/auth/password-reset")).json(&body).send()
    };
    assert_eq!(reset("a fresh passphrase here").await.unwrap().status(), 204);
    assert_eq!(app.login("locked_out", "a fresh passphrase here").await.status(), 200);
    assert_eq!(reset("another passphrase here").await.unwrap().status(), 400, "the link works once");
    let events = app.sql_i64("SELECT COUNT(*) FROM audit_events WHERE type = 'password.reset_link_created'").await;
    assert_eq!(events, 1);

    let unknown = gatehouse(app.database_url(), &["reset-link", "nobody_here"], "");
    assert_eq!(unknown.status.code(), Some(1));
    assert_eq!(text(&unknown).trim().lines().count(), 1, "one line: {}", text(&unknown));
    assert!(text(&unknown).contains("nobody_here"), "{}", text(&unknown));
}

#[tokio::test]
async fn remove_mfa_lets_a_password_alone_log_in_again_and_says_when_there_is_none() {
    let app = TestApp::spawn().await;
    crate::mfa::enrolled(&app, "lost_phone").await;
    let before = app.login("lost_phone", crate::mfa::PASSWORD).await;
    assert_eq!(before.status(), 403);

    let removed = gatehouse(app.database_url(), &["remove-mfa", "LOST_PHONE"], "");
    assert_eq!(removed.status.code(), Some(0), "{}", text(&removed));
    assert!(text(&removed).contains("lost_phone"), "the account's own name: {}", text(&removed));
    assert_eq!(app.login("lost_phone", crate::mfa::PASSWORD).await.status(), 200);
    let events = app.sql_i64("SELECT COUNT(*) FROM audit_events WHERE type = 'mfa.disabled'").await;
    assert_eq!(events, 1);

    for (name, says) in [("lost_phone", "no two-factor"), ("nobody_here", "nobody_here")] {
        let refused = gatehouse(app.database_url(), &["remove-mfa", name], "");
        assert_eq!(refused.status.code(), Some(1), "{}", text(&refused));
        assert_eq!(text(&refused).trim().lines().count(), 1, "one line: {}", text(&refused));
        assert!(text(&refused).contains(says), "{}", text(&refused));
    }
}
