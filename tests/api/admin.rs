//! Admin routes: list, search, paging, get, patch; disabled accounts; role changes.

use crate::helpers::{ADMIN, TestApp, expect_error, www_authenticate};
use serde_json::{Value, json};

const PASSWORD: &str = "a long passphrase";

async fn user_id(app: &TestApp, admin: &str, username: &str) -> String {
    let page: Value = app.get(&format!("/api/v1/users?q={username}"), admin).await.json().await.unwrap();
    page["items"].as_array().unwrap().iter().find(|u| u["username"] == username).unwrap()["id"]
        .as_str()
        .unwrap()
        .to_owned()
}

#[tokio::test]
async fn the_configured_admin_exists_and_lists_users_in_creation_order() {
    let app = TestApp::spawn().await;
    for name in ["carol", "alice", "bob"] {
        app.create_user(name, PASSWORD).await;
    }
    let admin = app.admin_tokens().await;
    let response = app.get("/api/v1/users", &admin.access).await;
    assert_eq!(response.status(), 200);
    assert_eq!(response.headers()["cache-control"], "no-store");
    let page: Value = response.json().await.unwrap();
    assert_eq!(page["total"], 4);
    assert_eq!((page["limit"].as_i64(), page["offset"].as_i64()), (Some(50), Some(0)));
    let names: Vec<&str> = page["items"].as_array().unwrap().iter().map(|u| u["username"].as_str().unwrap()).collect();
    assert_eq!(names, [ADMIN, "carol", "alice", "bob"]);
    assert_eq!(page["items"][0]["role"], "admin");
}

#[tokio::test]
async fn paging_uses_limit_and_offset_and_clamps_the_limit() {
    let app = TestApp::spawn().await;
    for i in 0..7 {
        app.create_user(&format!("user{i}"), PASSWORD).await;
    }
    let admin = app.admin_tokens().await;
    let page: Value = app.get("/api/v1/users?limit=3&offset=2", &admin.access).await.json().await.unwrap();
    let names: Vec<&str> = page["items"].as_array().unwrap().iter().map(|u| u["username"].as_str().unwrap()).collect();
    assert_eq!(names, ["user1", "user2", "user3"]);
    assert_eq!(page["total"], 8);
    let page: Value = app.get("/api/v1/users?limit=5000", &admin.access).await.json().await.unwrap();
    assert_eq!(page["limit"], 200);
    assert_eq!(page["items"].as_array().unwrap().len(), 8);
    let page: Value = app.get("/api/v1/users?offset=100", &admin.access).await.json().await.unwrap();
    assert_eq!(page["items"].as_array().unwrap().len(), 0);
    assert_eq!(page["total"], 8);
    for bad in ["limit=0", "limit=abc", "offset=-1", "limit=1.5"] {
        let body =
            expect_error(app.get(&format!("/api/v1/users?{bad}"), &admin.access).await, 422, "invalid_request").await;
        assert!(body["fields"].is_object(), "{bad}");
    }
}

#[tokio::test]
async fn search_matches_username_or_email_substrings_ignoring_case_and_wildcards() {
    let app = TestApp::spawn().await;
    app.register(json!({"username": "Alice", "password": PASSWORD, "email": "alice@wonder.land"})).await;
    app.register(json!({"username": "bob", "password": PASSWORD, "email": "bob@WONDER.land"})).await;
    app.register(json!({"username": "carol_x", "password": PASSWORD})).await;
    app.register(json!({"username": "carolyx", "password": PASSWORD})).await;
    let admin = app.admin_tokens().await;
    let names = |page: Value| -> Vec<String> {
        page["items"].as_array().unwrap().iter().map(|u| u["username"].as_str().unwrap().to_owned()).collect()
    };
    let page: Value = app.get("/api/v1/users?q=ALI", &admin.access).await.json().await.unwrap();
    assert_eq!(names(page), ["Alice"]);
    let page: Value = app.get("/api/v1/users?q=Wonder", &admin.access).await.json().await.unwrap();
    assert_eq!(page["total"], 2);
    // `_` is a literal, not a LIKE wildcard.
    let page: Value = app.get("/api/v1/users?q=carol_", &admin.access).await.json().await.unwrap();
    assert_eq!(names(page), ["carol_x"]);
    let page: Value = app.get("/api/v1/users?q=%25", &admin.access).await.json().await.unwrap();
    assert_eq!(page["total"], 0);
}

#[tokio::test]
async fn non_admins_get_403_insufficient_scope_and_anonymous_callers_401() {
    let app = TestApp::spawn().await;
    let alice = app.create_user("alice", PASSWORD).await;
    let tokens = app.tokens("alice", PASSWORD).await;
    let id = alice["id"].as_str().unwrap();
    for path in ["/api/v1/users".to_owned(), format!("/api/v1/users/{id}")] {
        let response = app.get(&path, &tokens.access).await;
        assert_eq!(www_authenticate(&response), "Bearer error=\"insufficient_scope\"");
        expect_error(response, 403, "insufficient_scope").await;
        expect_error(app.client.get(app.url(&path)).send().await.unwrap(), 401, "unauthorized").await;
    }
    expect_error(
        app.patch(&format!("/api/v1/users/{id}"), &tokens.access, json!({"role": "admin"})).await,
        403,
        "insufficient_scope",
    )
    .await;
    let me: Value = app.me(&tokens.access).await.json().await.unwrap();
    assert_eq!(me["role"], "user", "the refused self-promotion changed nothing");
}

#[tokio::test]
async fn admins_get_users_by_id_and_unknown_or_malformed_ids_are_404() {
    let app = TestApp::spawn().await;
    let alice = app.create_user("alice", PASSWORD).await;
    let admin = app.admin_tokens().await;
    let got: Value =
        app.get(&format!("/api/v1/users/{}", alice["id"].as_str().unwrap()), &admin.access).await.json().await.unwrap();
    assert_eq!(got, alice);
    expect_error(app.get(&format!("/api/v1/users/{}", uuid::Uuid::new_v4()), &admin.access).await, 404, "not_found")
        .await;
    expect_error(app.get("/api/v1/users/not-a-uuid", &admin.access).await, 404, "not_found").await;
    expect_error(
        app.patch("/api/v1/users/not-a-uuid", &admin.access, json!({"disabled": true})).await,
        404,
        "not_found",
    )
    .await;
}

#[tokio::test]
async fn ids_that_do_not_decode_are_404_json_and_overlong_searches_422() {
    let app = TestApp::spawn().await;
    let admin = app.admin_tokens().await;
    for path in ["/api/v1/users/%FF", "/api/v1/users/%C3%28"] {
        expect_error(app.get(path, &admin.access).await, 404, "not_found").await;
        expect_error(app.patch(path, &admin.access, json!({"disabled": true})).await, 404, "not_found").await;
    }
    // 50 KB of `%` made SQLite give up on the LIKE pattern (a 500); now the search is bounded.
    let long = "%25".repeat(50_000 / 3);
    let body =
        expect_error(app.get(&format!("/api/v1/users?q={long}"), &admin.access).await, 422, "invalid_request").await;
    assert!(body["fields"]["q"].as_str().unwrap().contains("254"), "{body}");
    let longest_email = format!("{}@example.com", "a".repeat(242));
    let page: Value = app.get(&format!("/api/v1/users?q={longest_email}"), &admin.access).await.json().await.unwrap();
    assert_eq!(page["total"], 0, "a search as long as the longest email is fine");
}

#[tokio::test]
async fn search_finds_emails_ignoring_case_beyond_ascii_on_both_databases() {
    let app = TestApp::spawn().await;
    app.register(json!({"username": "elodie", "password": PASSWORD, "email": "ÉLODIE@Example.com"})).await;
    let admin = app.admin_tokens().await;
    for q in ["élodie", "ÉLODIE", "Élodie@example"] {
        let page: Value = app.get(&format!("/api/v1/users?q={q}"), &admin.access).await.json().await.unwrap();
        assert_eq!(page["total"], 1, "searching {q:?}: {page}");
        assert_eq!(page["items"][0]["email"], "ÉLODIE@Example.com", "shown as typed");
    }
}

#[tokio::test]
async fn patch_validates_its_body() {
    let app = TestApp::spawn().await;
    let alice = app.create_user("alice", PASSWORD).await;
    let admin = app.admin_tokens().await;
    let path = format!("/api/v1/users/{}", alice["id"].as_str().unwrap());
    for body in [
        json!({}),
        json!({"role": "root"}),
        json!({"disabled": "yes"}),
        json!({"username": "x"}),
        json!({"role": "admin", "extra": 1}),
    ] {
        expect_error(app.patch(&path, &admin.access, body.clone()).await, 422, "invalid_request").await;
    }
    let got: Value = app.get(&path, &admin.access).await.json().await.unwrap();
    assert_eq!(got, alice, "refused patches changed nothing");
}

#[tokio::test]
async fn disabling_rejects_tokens_at_once_and_enabling_lets_the_person_log_in_again() {
    let app = TestApp::spawn().await;
    let alice = app.create_user("alice", PASSWORD).await;
    let tokens = app.tokens("alice", PASSWORD).await;
    let admin = app.admin_tokens().await;
    let path = format!("/api/v1/users/{}", alice["id"].as_str().unwrap());
    let updated: Value = app.patch(&path, &admin.access, json!({"disabled": true})).await.json().await.unwrap();
    assert_eq!(updated["disabled"], true);

    let response = app.me(&tokens.access).await;
    assert_eq!(www_authenticate(&response), "Bearer error=\"invalid_token\"");
    expect_error(response, 403, "account_disabled").await;
    expect_error(app.refresh(&tokens.refresh).await, 400, "invalid_grant").await;
    expect_error(app.login("alice", PASSWORD).await, 400, "invalid_grant").await;

    let updated: Value = app.patch(&path, &admin.access, json!({"disabled": false})).await.json().await.unwrap();
    assert_eq!(updated["disabled"], false);
    let fresh = app.tokens("alice", PASSWORD).await;
    assert_eq!(app.me(&fresh.access).await.status(), 200);
}

#[tokio::test]
async fn a_role_change_takes_effect_on_the_next_request_without_a_new_login() {
    let app = TestApp::spawn().await;
    let alice = app.create_user("alice", PASSWORD).await;
    let tokens = app.tokens("alice", PASSWORD).await;
    let admin = app.admin_tokens().await;
    let path = format!("/api/v1/users/{}", alice["id"].as_str().unwrap());
    assert_eq!(app.get("/api/v1/users", &tokens.access).await.status(), 403);
    assert_eq!(app.patch(&path, &admin.access, json!({"role": "admin"})).await.status(), 200);
    assert_eq!(app.get("/api/v1/users", &tokens.access).await.status(), 200);
    assert_eq!(app.patch(&path, &admin.access, json!({"role": "user"})).await.status(), 200);
    assert_eq!(app.get("/api/v1/users", &tokens.access).await.status(), 403);
}

#[tokio::test]
async fn the_last_enabled_admin_cannot_be_demoted_or_disabled() {
    let app = TestApp::spawn().await;
    let admin = app.admin_tokens().await;
    let admin_id = user_id(&app, &admin.access, ADMIN).await;
    let path = format!("/api/v1/users/{admin_id}");
    expect_error(app.patch(&path, &admin.access, json!({"role": "user"})).await, 409, "conflict").await;
    expect_error(app.patch(&path, &admin.access, json!({"disabled": true})).await, 409, "conflict").await;
    let me: Value = app.me(&admin.access).await.json().await.unwrap();
    assert_eq!((me["role"].as_str(), me["disabled"].as_bool()), (Some("admin"), Some(false)));

    // With a second admin, the first may step down; then the second is the last one.
    let alice = app.create_user("alice", PASSWORD).await;
    let alice_path = format!("/api/v1/users/{}", alice["id"].as_str().unwrap());
    assert_eq!(app.patch(&alice_path, &admin.access, json!({"role": "admin"})).await.status(), 200);
    assert_eq!(app.patch(&path, &admin.access, json!({"role": "user"})).await.status(), 200);
    let alice_tokens = app.tokens("alice", PASSWORD).await;
    expect_error(app.patch(&alice_path, &alice_tokens.access, json!({"disabled": true})).await, 409, "conflict").await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn two_admins_demoting_each_other_at_once_leave_one_admin() {
    let app = std::sync::Arc::new(TestApp::spawn().await);
    let admin = app.admin_tokens().await;
    let alice = app.create_user("alice", PASSWORD).await;
    let alice_path = format!("/api/v1/users/{}", alice["id"].as_str().unwrap());
    assert_eq!(app.patch(&alice_path, &admin.access, json!({"role": "admin"})).await.status(), 200);
    let alice_tokens = app.tokens("alice", PASSWORD).await;
    let admin_path = format!("/api/v1/users/{}", user_id(&app, &admin.access, ADMIN).await);
    let (a, b) = tokio::join!(
        app.patch(&alice_path, &admin.access, json!({"role": "user"})),
        app.patch(&admin_path, &alice_tokens.access, json!({"role": "user"})),
    );
    let statuses = [a.status().as_u16(), b.status().as_u16()];
    // The loser either met the last-admin guard (409) or had already lost its own admin
    // role when its request was authenticated (403): both are correct, never two 200s.
    assert_eq!(statuses.iter().filter(|s| **s == 200).count(), 1, "exactly one may pass: {statuses:?}");
    assert!(statuses.iter().any(|s| *s == 409 || *s == 403), "the other is refused: {statuses:?}");
    // Whoever was not demoted is still an admin and can list.
    let survivor = if statuses[0] == 200 { &admin.access } else { &alice_tokens.access };
    let page: Value = app.get("/api/v1/users", survivor).await.json().await.unwrap();
    let admins = page["items"].as_array().unwrap().iter().filter(|u| u["role"] == "admin").count();
    assert_eq!(admins, 1);
}

#[tokio::test]
async fn the_environment_admin_promotes_an_existing_account_only_with_its_password() {
    let app = TestApp::spawn().await;
    let boss = app.create_user("boss", PASSWORD).await;
    let boss_path = format!("/api/v1/users/{}", boss["id"].as_str().unwrap());
    let admin = app.admin_tokens().await;
    let role = || async { app.get(&boss_path, &admin.access).await.json::<Value>().await.unwrap()["role"].clone() };
    // Someone registered "boss" first: an operator's other password must not make them admin.
    let refused = app
        .try_spawn_sharing(&[
            ("GATEHOUSE_ADMIN_USERNAME", "BOSS"),
            ("GATEHOUSE_ADMIN_PASSWORD", "the operator's own phrase"),
        ])
        .await
        .err()
        .expect("start-up stops");
    assert!(refused.starts_with("GATEHOUSE_ADMIN_PASSWORD does not match"), "{refused}");
    assert!(!refused.contains("operator's own phrase"), "the password is not echoed: {refused}");
    assert_eq!(role().await, "user");
    // A password breaking the policy stops start-up, whether the account exists or not.
    for username in ["boss", "newcomer"] {
        let refused = app
            .try_spawn_sharing(&[("GATEHOUSE_ADMIN_USERNAME", username), ("GATEHOUSE_ADMIN_PASSWORD", "password")])
            .await
            .err()
            .expect("start-up stops");
        assert!(refused.starts_with("GATEHOUSE_ADMIN_PASSWORD: "), "{refused}");
    }
    assert_eq!(role().await, "user");
    // With the account's own password it is promoted.
    app.try_spawn_sharing(&[("GATEHOUSE_ADMIN_USERNAME", "boss"), ("GATEHOUSE_ADMIN_PASSWORD", PASSWORD)])
        .await
        .expect("start-up goes on");
    assert_eq!(role().await, "admin");
}
