//! Admin tools: deleting accounts, password reset links, and a user's logins.

use crate::helpers::{ADMIN, TestApp, Tokens, expect_error, rfc3339};
use reqwest::StatusCode;
use serde_json::{Value, json};
use std::{sync::Arc, time::Duration};

const PASSWORD: &str = "a long passphrase";
const NEW_PASSWORD: &str = "a brand new passphrase";

fn id_of(user: &Value) -> String {
    user["id"].as_str().unwrap_or_else(|| panic!("id in {user}")).to_owned()
}

async fn my_id(app: &TestApp, access: &str) -> String {
    id_of(&app.me(access).await.json::<Value>().await.unwrap())
}

/// The access token is rejected and the refresh token refused.
async fn expect_dead(app: &TestApp, tokens: &Tokens) {
    assert_eq!(app.me(&tokens.access).await.status(), StatusCode::UNAUTHORIZED);
    expect_error(app.refresh(&tokens.refresh).await, 400, "invalid_grant").await;
}

#[tokio::test]
async fn an_admin_deletes_an_account_whose_tokens_and_password_stop_working() {
    let app = TestApp::spawn().await;
    let alice = app.register(json!({"username": "alice", "password": PASSWORD, "email": "alice@example.com"})).await;
    let alice: Value = alice.json().await.unwrap();
    let id = id_of(&alice);
    let tokens = app.tokens("alice", PASSWORD).await;
    let admin = app.admin_tokens().await;
    let (_, reset_token) = app.reset_link(&admin.access, &id).await;

    assert_eq!(app.delete(&format!("/api/v1/users/{id}"), &admin.access).await.status(), 204);
    expect_error(app.get(&format!("/api/v1/users/{id}"), &admin.access).await, 404, "not_found").await;
    expect_dead(&app, &tokens).await;
    expect_error(app.login("alice", PASSWORD).await, 400, "invalid_grant").await;
    expect_error(app.reset_password(&reset_token, NEW_PASSWORD).await, 400, "invalid_grant").await;
    assert_eq!(app.sql_i64(&format!("SELECT COUNT(*) FROM password_resets WHERE user_id = '{id}'")).await, 0);
    // As with self-deletion, the name and the address are free again.
    let again = app.register(json!({"username": "Alice", "password": PASSWORD, "email": "ALICE@example.com"})).await;
    assert_eq!(again.status(), 201);
}

#[tokio::test]
async fn deleting_an_unknown_malformed_or_deleted_id_is_404() {
    let app = TestApp::spawn().await;
    let alice = app.create_user("alice", PASSWORD).await;
    let admin = app.admin_tokens().await;
    let path = format!("/api/v1/users/{}", id_of(&alice));
    assert_eq!(app.delete(&path, &admin.access).await.status(), 204);
    let unknown = format!("/api/v1/users/{}", uuid::Uuid::new_v4());
    for path in [path.as_str(), unknown.as_str(), "/api/v1/users/not-a-uuid", "/api/v1/users/%FF"] {
        expect_error(app.delete(path, &admin.access).await, 404, "not_found").await;
    }
}

#[tokio::test]
async fn the_last_enabled_admin_cannot_be_deleted() {
    let app = TestApp::spawn().await;
    let admin = app.admin_tokens().await;
    let root_path = format!("/api/v1/users/{}", my_id(&app, &admin.access).await);
    expect_error(app.delete(&root_path, &admin.access).await, 409, "conflict").await;
    assert_eq!(app.me(&admin.access).await.status(), 200);

    // A second admin may delete the first; then the second is the last one.
    let alice = app.create_user("alice", PASSWORD).await;
    let alice_path = format!("/api/v1/users/{}", id_of(&alice));
    assert_eq!(app.patch(&alice_path, &admin.access, json!({"role": "admin"})).await.status(), 200);
    let alice_tokens = app.tokens("alice", PASSWORD).await;
    assert_eq!(app.delete(&root_path, &alice_tokens.access).await.status(), 204);
    expect_error(app.delete(&alice_path, &alice_tokens.access).await, 409, "conflict").await;
    let me: Value = app.me(&alice_tokens.access).await.json().await.unwrap();
    assert_eq!((me["role"].as_str(), me["disabled"].as_bool()), (Some("admin"), Some(false)));
    expect_error(app.login(ADMIN, crate::helpers::ADMIN_PASSWORD).await, 400, "invalid_grant").await;
}

#[tokio::test]
async fn non_admins_get_403_and_anonymous_callers_401_on_the_admin_tools() {
    let app = TestApp::spawn().await;
    let bob = app.create_user("bob", PASSWORD).await;
    app.create_user("alice", PASSWORD).await;
    let alice = app.tokens("alice", PASSWORD).await;
    let bob_id = id_of(&bob);
    let requests = |access: Option<&str>| {
        let mut requests = vec![
            app.client.delete(app.url(&format!("/api/v1/users/{bob_id}"))),
            app.client.post(app.url(&format!("/api/v1/users/{bob_id}/password-reset"))),
            app.client.get(app.url(&format!("/api/v1/users/{bob_id}/logins"))),
            app.client.get(app.url("/api/v1/audit")),
        ];
        if let Some(access) = access {
            requests = requests.into_iter().map(|r| r.bearer_auth(access)).collect();
        }
        requests
    };
    for request in requests(Some(&alice.access)) {
        expect_error(request.send().await.unwrap(), 403, "insufficient_scope").await;
    }
    for request in requests(None) {
        expect_error(request.send().await.unwrap(), 401, "unauthorized").await;
    }
    let admin = app.admin_tokens().await;
    assert_eq!(app.get(&format!("/api/v1/users/{bob_id}"), &admin.access).await.status(), 200, "bob is still there");
    assert_eq!(app.sql_i64(&format!("SELECT COUNT(*) FROM password_resets WHERE user_id = '{bob_id}'")).await, 0);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn two_admins_deleting_each_other_at_once_leave_exactly_one_admin() {
    let app = Arc::new(TestApp::spawn().await);
    let mut survivor = app.admin_tokens().await;
    // A few rounds: each time the survivor promotes a newcomer and both strike at once.
    for round in 0..3 {
        let name = format!("admin{round}");
        let newcomer = app.create_user(&name, PASSWORD).await;
        let newcomer_id = id_of(&newcomer);
        let newcomer_path = format!("/api/v1/users/{newcomer_id}");
        assert_eq!(app.patch(&newcomer_path, &survivor.access, json!({"role": "admin"})).await.status(), 200);
        let newcomer_tokens = app.tokens(&name, PASSWORD).await;
        let survivor_path = format!("/api/v1/users/{}", my_id(&app, &survivor.access).await);
        // Sent at once, the first deletion tends to commit before the second is even
        // authenticated (the second is then a deleted admin's request, 401). Holding the
        // admin guard lets both get past authentication, so that the guard alone decides.
        let ((), (a, b)) = tokio::join!(
            app.hold_lock("UPDATE admin_guard SET version = version", Duration::from_millis(400)),
            async {
                tokio::time::sleep(Duration::from_millis(50)).await;
                tokio::join!(
                    app.delete(&newcomer_path, &survivor.access),
                    app.delete(&survivor_path, &newcomer_tokens.access),
                )
            }
        );
        let statuses = [a.status().as_u16(), b.status().as_u16()];
        let mut sorted = statuses;
        sorted.sort_unstable();
        assert_eq!(sorted, [204, 409], "round {round}: one wins, the other meets the guard: {statuses:?}");
        let loser_path = if statuses[0] == 204 { &newcomer_path } else { &survivor_path };
        if statuses[1] == 204 {
            survivor = newcomer_tokens;
        }
        expect_error(app.get(loser_path, &survivor.access).await, 404, "not_found").await;
        let admins = app.sql_i64("SELECT COUNT(*) FROM users WHERE role = 'admin' AND disabled = FALSE").await;
        assert_eq!(admins, 1, "round {round}: {statuses:?}");
        let me: Value = app.me(&survivor.access).await.json().await.unwrap();
        assert_eq!(me["role"], "admin", "round {round}: the winner is the admin left");
        assert_eq!(app.get("/api/v1/users", &survivor.access).await.status(), 200);
    }
}

#[tokio::test]
async fn a_reset_link_is_201_with_the_apps_origin_and_expires_after_the_ttl() {
    let app = TestApp::spawn_with(&[("GATEHOUSE_PASSWORD_RESET_TTL", "600")]).await;
    let alice = app.create_user("alice", PASSWORD).await;
    let admin = app.admin_tokens().await;
    let asked_at = time::OffsetDateTime::now_utc();
    let response = app.post(&format!("/api/v1/users/{}/password-reset", id_of(&alice)), &admin.access).await;
    assert_eq!(response.status(), 201);
    assert_eq!(response.headers()["cache-control"], "no-store");
    let body: Value = response.json().await.unwrap();
    let mut keys: Vec<&str> = body.as_object().unwrap().keys().map(String::as_str).collect();
    keys.sort_unstable();
    assert_eq!(keys, ["expires_at", "reset_url"]);
    let url = body["reset_url"].as_str().unwrap();
    let prefix = format!("{}/reset-password#token=", app.base);
    assert!(url.starts_with(&prefix), "{url} starts with {prefix}");
    let token = &url[prefix.len()..];
    assert!(token.len() >= 43, "256 bits or more: {token}");
    let ahead = rfc3339(&body["expires_at"]) - asked_at;
    assert!(ahead > time::Duration::seconds(590) && ahead < time::Duration::seconds(610), "expires in {ahead}");
    // Stored only as a hash.
    let stored =
        app.sql_string(&format!("SELECT token_hash FROM password_resets WHERE user_id = '{}'", id_of(&alice))).await;
    assert!(!stored.contains(token) && !token.contains(&stored), "{stored}");

    for path in
        [format!("/api/v1/users/{}/password-reset", uuid::Uuid::new_v4()), "/api/v1/users/nope/password-reset".into()]
    {
        expect_error(app.post(&path, &admin.access).await, 404, "not_found").await;
    }
}

#[tokio::test]
async fn a_reset_link_names_the_public_origin_when_one_is_configured() {
    let app = TestApp::spawn_with(&[("GATEHOUSE_PUBLIC_URL", "https://auth.example.com")]).await;
    let alice = app.create_user("alice", PASSWORD).await;
    let admin = app.admin_tokens().await;
    let (body, token) = app.reset_link(&admin.access, &id_of(&alice)).await;
    assert_eq!(body["reset_url"], format!("https://auth.example.com/reset-password#token={token}"));
    let ahead = rfc3339(&body["expires_at"]) - time::OffsetDateTime::now_utc();
    assert!(ahead > time::Duration::seconds(3590) && ahead < time::Duration::seconds(3601), "default TTL: {ahead}");
}

#[tokio::test]
async fn a_reset_link_sets_the_password_once_and_ends_every_login_of_the_person() {
    let app = TestApp::spawn().await;
    let alice = app.create_user("alice", PASSWORD).await;
    let phone = app.tokens("alice", PASSWORD).await;
    let laptop = app.tokens("alice", PASSWORD).await;
    let admin = app.admin_tokens().await;
    let (_, token) = app.reset_link(&admin.access, &id_of(&alice)).await;

    let response = app.reset_password(&token, NEW_PASSWORD).await;
    assert_eq!(response.status(), 204);
    expect_dead(&app, &phone).await;
    expect_dead(&app, &laptop).await;
    expect_error(app.login("alice", PASSWORD).await, 400, "invalid_grant").await;
    let fresh = app.tokens("alice", NEW_PASSWORD).await;
    assert_eq!(app.me(&fresh.access).await.status(), 200);
    // Spent: it works once.
    expect_error(app.reset_password(&token, "a third passphrase").await, 400, "invalid_grant").await;
    assert_eq!(app.login("alice", NEW_PASSWORD).await.status(), 200);
    assert_eq!(app.me(&admin.access).await.status(), 200, "the admin's own login is not the person's");
}

#[tokio::test]
async fn a_newer_link_voids_the_older() {
    let app = TestApp::spawn().await;
    let alice = app.create_user("alice", PASSWORD).await;
    let admin = app.admin_tokens().await;
    let (_, older) = app.reset_link(&admin.access, &id_of(&alice)).await;
    let (_, newer) = app.reset_link(&admin.access, &id_of(&alice)).await;
    assert_ne!(older, newer);
    expect_error(app.reset_password(&older, NEW_PASSWORD).await, 400, "invalid_grant").await;
    assert_eq!(app.login("alice", PASSWORD).await.status(), 200, "the voided link changed nothing");
    assert_eq!(app.reset_password(&newer, NEW_PASSWORD).await.status(), 204);
    assert_eq!(app.login("alice", NEW_PASSWORD).await.status(), 200);
}

#[tokio::test]
async fn a_link_expires_after_its_ttl() {
    let app = TestApp::spawn_with(&[("GATEHOUSE_PASSWORD_RESET_TTL", "1")]).await;
    let alice = app.create_user("alice", PASSWORD).await;
    let admin = app.admin_tokens().await;
    let (_, token) = app.reset_link(&admin.access, &id_of(&alice)).await;
    tokio::time::sleep(Duration::from_millis(1500)).await;
    expect_error(app.reset_password(&token, NEW_PASSWORD).await, 400, "invalid_grant").await;
    assert_eq!(app.login("alice", PASSWORD).await.status(), 200);
    // A link made now is valid for the same second again.
    let (_, token) = app.reset_link(&admin.access, &id_of(&alice)).await;
    assert_eq!(app.reset_password(&token, NEW_PASSWORD).await.status(), 204);
}

#[tokio::test]
async fn unknown_spent_voided_and_expired_tokens_fail_with_one_body() {
    let app = TestApp::spawn().await;
    let admin = app.admin_tokens().await;
    let mut ids = Vec::new();
    for name in ["spent", "voided", "expired"] {
        ids.push(id_of(&app.create_user(name, PASSWORD).await));
    }
    let (_, spent) = app.reset_link(&admin.access, &ids[0]).await;
    assert_eq!(app.reset_password(&spent, NEW_PASSWORD).await.status(), 204);
    let (_, voided) = app.reset_link(&admin.access, &ids[1]).await;
    app.reset_link(&admin.access, &ids[1]).await;
    let (_, expired) = app.reset_link(&admin.access, &ids[2]).await;
    assert_eq!(
        app.sql_execute(&format!("UPDATE password_resets SET expires_at = 0 WHERE user_id = '{}'", ids[2])).await,
        1
    );

    let unknown = "A".repeat(43);
    let mut bodies = Vec::new();
    for token in [unknown.as_str(), &spent, &voided, &expired] {
        bodies
            .push(expect_error(app.reset_password(token, "yet another passphrase").await, 400, "invalid_grant").await);
    }
    assert!(bodies.windows(2).all(|w| w[0] == w[1]), "one body for all: {bodies:?}");
    for name in ["voided", "expired"] {
        assert_eq!(app.login(name, PASSWORD).await.status(), 200, "{name} keeps the old password");
    }
}

#[tokio::test]
async fn a_new_password_that_breaks_the_policy_is_422_and_leaves_the_link_usable() {
    let app = TestApp::spawn().await;
    let alice = app.create_user("alice_smith", PASSWORD).await;
    let admin = app.admin_tokens().await;
    let (_, token) = app.reset_link(&admin.access, &id_of(&alice)).await;
    for bad in ["short", "password1", "ALICE_SMITH"] {
        let body = expect_error(app.reset_password(&token, bad).await, 422, "invalid_request").await;
        assert!(body["fields"]["new_password"].is_string(), "{bad:?}: {body}");
    }
    let missing = app.client.post(app.url("/api/v1/auth/password-reset")).json(&json!({"token": token})).send().await;
    let body = expect_error(missing.unwrap(), 422, "invalid_request").await;
    assert!(body["fields"]["new_password"].is_string(), "{body}");
    let malformed = app
        .client
        .post(app.url("/api/v1/auth/password-reset"))
        .header("content-type", "application/json")
        .body("{\"token\": ")
        .send()
        .await
        .unwrap();
    expect_error(malformed, 400, "invalid_request").await;
    assert_eq!(app.login("alice_smith", PASSWORD).await.status(), 200);
    // A typo in the new password does not burn the link.
    assert_eq!(app.reset_password(&token, NEW_PASSWORD).await.status(), 204);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_link_used_twice_at_once_works_once() {
    let app = Arc::new(TestApp::spawn().await);
    let alice = app.create_user("alice", PASSWORD).await;
    let admin = app.admin_tokens().await;
    let (_, token) = app.reset_link(&admin.access, &id_of(&alice)).await;
    let (a, b) = tokio::join!(
        app.reset_password(&token, "first racing passphrase"),
        app.reset_password(&token, "second racing passphrase")
    );
    let mut statuses = [a.status().as_u16(), b.status().as_u16()];
    statuses.sort_unstable();
    assert_eq!(statuses, [204, 400], "{statuses:?}");
    let first = app.login("alice", "first racing passphrase").await.status();
    let second = app.login("alice", "second racing passphrase").await.status();
    assert_eq!(
        [first, second].iter().filter(|s| **s == StatusCode::OK).count(),
        1,
        "exactly one new password took: {first} {second}"
    );
    expect_error(app.login("alice", PASSWORD).await, 400, "invalid_grant").await;
}

#[tokio::test]
async fn a_reset_clears_the_accounts_login_throttle() {
    let app = TestApp::spawn_with(&[("GATEHOUSE_LIMIT_LOGIN_PER_ACCOUNT", "3")]).await;
    let alice = app.create_user("alice", PASSWORD).await;
    let admin = app.admin_tokens().await;
    for _ in 0..3 {
        expect_error(app.login("alice", "wrong passphrase").await, 400, "invalid_grant").await;
    }
    expect_error(app.login("alice", PASSWORD).await, 429, "too_many_requests").await;
    let (_, token) = app.reset_link(&admin.access, &id_of(&alice)).await;
    assert_eq!(app.reset_password(&token, NEW_PASSWORD).await.status(), 204);
    // The count starts afresh: two more failures stay under the limit of three (with the old
    // count kept, the first would be refused or would block the second), then the new
    // password logs in.
    for _ in 0..2 {
        expect_error(app.login("alice", "wrong passphrase").await, 400, "invalid_grant").await;
    }
    assert_eq!(app.login("alice", NEW_PASSWORD).await.status(), 200);
}

#[tokio::test]
async fn an_admin_lists_a_users_live_logins_without_a_current_flag() {
    let app = TestApp::spawn().await;
    let alice = app.create_user("alice", PASSWORD).await;
    let id = id_of(&alice);
    let first = app.tokens_with_agent("alice", PASSWORD, "first-agent").await;
    tokio::time::sleep(Duration::from_millis(20)).await;
    app.tokens_with_agent("alice", PASSWORD, "second-agent").await;
    app.create_user("bob", PASSWORD).await;
    app.tokens_with_agent("bob", PASSWORD, "bobs-agent").await;
    assert_eq!(app.revoke(&first.refresh).await.status(), 200);
    let admin = app.admin_tokens().await;

    let response = app.get(&format!("/api/v1/users/{id}/logins"), &admin.access).await;
    assert_eq!(response.status(), 200);
    assert_eq!(response.headers()["cache-control"], "no-store");
    let body: Value = response.json().await.unwrap();
    let items = body["items"].as_array().unwrap();
    assert_eq!(items.len(), 1, "only alice's live logins: {body}");
    let login = &items[0];
    for key in ["id", "created_at", "last_used_at", "user_agent", "ip"] {
        assert!(login.as_object().unwrap().contains_key(key), "{key} in {login}");
    }
    assert!(login.get("current").is_none(), "no current flag in an admin's view: {login}");
    assert_eq!((login["user_agent"].as_str(), login["ip"].as_str()), (Some("second-agent"), Some("127.0.0.1")));

    for path in [format!("/api/v1/users/{}/logins", uuid::Uuid::new_v4()), "/api/v1/users/nope/logins".into()] {
        expect_error(app.get(&path, &admin.access).await, 404, "not_found").await;
    }
    // A user without logins has an empty list, not a 404.
    let carol = app.create_user("carol", PASSWORD).await;
    let body: Value =
        app.get(&format!("/api/v1/users/{}/logins", id_of(&carol)), &admin.access).await.json().await.unwrap();
    assert_eq!(body["items"], json!([]));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn deleting_a_user_while_they_refresh_in_a_loop_leaves_nothing_behind() {
    // Off: the per-login refresh limit (120 an hour by default) would end the loop first.
    let app = Arc::new(TestApp::spawn_with(&[("GATEHOUSE_LIMIT_REFRESH_PER_LOGIN", "0")]).await);
    let alice = app.create_user("alice", PASSWORD).await;
    let id = id_of(&alice);
    let admin = app.admin_tokens().await;
    let mut refreshers = Vec::new();
    for _ in 0..2 {
        let app = Arc::clone(&app);
        let tokens = app.tokens("alice", PASSWORD).await;
        refreshers.push(tokio::spawn(async move {
            let mut current = tokens;
            let mut statuses = Vec::new();
            loop {
                let response = app.refresh(&current.refresh).await;
                let status = response.status().as_u16();
                statuses.push(status);
                if status != 200 {
                    return (current, statuses, response.json::<Value>().await.unwrap());
                }
                let body: Value = response.json().await.unwrap();
                current = Tokens {
                    access: body["access_token"].as_str().unwrap().to_owned(),
                    refresh: body["refresh_token"].as_str().unwrap().to_owned(),
                };
                if statuses.len() > 2000 {
                    return (current, statuses, Value::Null);
                }
            }
        }));
    }
    let login_ids: Vec<String> =
        app.get(&format!("/api/v1/users/{id}/logins"), &admin.access).await.json::<Value>().await.unwrap()["items"]
            .as_array()
            .unwrap()
            .iter()
            .map(|l| l["id"].as_str().unwrap().to_owned())
            .collect();
    assert_eq!(login_ids.len(), 2);
    tokio::time::sleep(Duration::from_millis(150)).await;
    assert_eq!(app.delete(&format!("/api/v1/users/{id}"), &admin.access).await.status(), 204);

    for refresher in refreshers {
        let (last, statuses, error) = refresher.await.unwrap();
        assert!(statuses.len() > 1, "the loop ran before the deletion: {statuses:?}");
        assert_eq!(statuses.last(), Some(&400), "it ends with invalid_grant, never a 500: {statuses:?}");
        assert!(statuses[..statuses.len() - 1].iter().all(|s| *s == 200), "{statuses:?}");
        assert_eq!(error["error"], "invalid_grant");
        expect_dead(&app, &last).await;
    }
    expect_error(app.login("alice", PASSWORD).await, 400, "invalid_grant").await;
    let ids = login_ids.iter().map(|l| format!("'{l}'")).collect::<Vec<_>>().join(", ");
    for sql in [
        format!("SELECT COUNT(*) FROM users WHERE id = '{id}'"),
        format!("SELECT COUNT(*) FROM logins WHERE user_id = '{id}' OR id IN ({ids})"),
        format!("SELECT COUNT(*) FROM refresh_tokens WHERE login_id IN ({ids})"),
        format!("SELECT COUNT(*) FROM password_resets WHERE user_id = '{id}'"),
    ] {
        assert_eq!(app.sql_i64(&sql).await, 0, "{sql}");
    }
}
