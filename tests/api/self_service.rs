//! Account self-service: the profile, the password, one's own logins, deleting one's account
//! and one's own security events.

use crate::helpers::{ADMIN_PASSWORD, TestApp, Tokens, expect_error, rfc3339, www_authenticate};
use serde_json::{Value, json};
use std::time::Duration;

const PASSWORD: &str = "a long passphrase";
const NEW_PASSWORD: &str = "a brand new passphrase";

async fn logins(app: &TestApp, access: &str) -> Vec<Value> {
    let response = app.get("/api/v1/users/me/logins", access).await;
    assert_eq!(response.status(), 200);
    assert_eq!(response.headers()["cache-control"], "no-store");
    let body: Value = response.json().await.unwrap();
    body["items"].as_array().unwrap_or_else(|| panic!("items in {body}")).clone()
}

async fn own_events(app: &TestApp, access: &str, query: &str) -> Vec<Value> {
    let response = app.get(&format!("/api/v1/users/me/events{query}"), access).await;
    assert_eq!(response.status(), 200);
    let body: Value = response.json().await.unwrap();
    body["items"].as_array().unwrap_or_else(|| panic!("items in {body}")).clone()
}

fn types(events: &[Value]) -> Vec<&str> {
    events.iter().map(|e| e["type"].as_str().unwrap()).collect()
}

async fn change_password(app: &TestApp, access: &str, current: &str, new: &str) -> reqwest::Response {
    app.post_json("/api/v1/users/me/password", access, json!({"current_password": current, "new_password": new})).await
}

/// The access token no longer works, and neither does the refresh token.
async fn expect_ended(app: &TestApp, tokens: &Tokens) {
    let response = app.me(&tokens.access).await;
    assert_eq!(www_authenticate(&response), "Bearer error=\"invalid_token\"");
    expect_error(response, 401, "invalid_token").await;
    expect_error(app.refresh(&tokens.refresh).await, 400, "invalid_grant").await;
}

#[tokio::test]
async fn self_service_routes_need_a_bearer_token() {
    let app = TestApp::spawn().await;
    let anonymous = [
        app.client.patch(app.url("/api/v1/users/me")).json(&json!({"full_name": "x"})),
        app.client
            .post(app.url("/api/v1/users/me/password"))
            .json(&json!({"current_password": PASSWORD, "new_password": NEW_PASSWORD})),
        app.client.delete(app.url("/api/v1/users/me")).json(&json!({"password": PASSWORD})),
        app.client.get(app.url("/api/v1/users/me/logins")),
        app.client.delete(app.url(&format!("/api/v1/users/me/logins/{}", uuid::Uuid::new_v4()))),
        app.client.get(app.url("/api/v1/users/me/events")),
    ];
    for request in anonymous {
        let response = request.send().await.unwrap();
        assert_eq!(www_authenticate(&response), "Bearer");
        expect_error(response, 401, "unauthorized").await;
    }
}

#[tokio::test]
async fn a_profile_edit_sets_and_clears_the_email_and_the_full_name() {
    let app = TestApp::spawn().await;
    app.create_user("alice", PASSWORD).await;
    let tokens = app.tokens("alice", PASSWORD).await;
    let response = app
        .patch("/api/v1/users/me", &tokens.access, json!({"email": "alice@example.com", "full_name": "Alice Liddell"}))
        .await;
    assert_eq!(response.status(), 200);
    assert_eq!(response.headers()["cache-control"], "no-store");
    let user: Value = response.json().await.unwrap();
    assert_eq!(
        (user["email"].as_str(), user["full_name"].as_str()),
        (Some("alice@example.com"), Some("Alice Liddell"))
    );
    assert_eq!(user["username"], "alice");
    assert_eq!(user.as_object().unwrap().len(), 8, "a user object: {user}");
    assert_eq!(app.me(&tokens.access).await.json::<Value>().await.unwrap(), user);

    // `null` clears one field and leaves the other alone.
    let user: Value = app.patch("/api/v1/users/me", &tokens.access, json!({"email": null})).await.json().await.unwrap();
    assert_eq!((user["email"].clone(), user["full_name"].as_str()), (Value::Null, Some("Alice Liddell")));
    // So does `""`.
    let user: Value =
        app.patch("/api/v1/users/me", &tokens.access, json!({"full_name": ""})).await.json().await.unwrap();
    assert_eq!((user["email"].clone(), user["full_name"].clone()), (Value::Null, Value::Null));
    let user: Value =
        app.patch("/api/v1/users/me", &tokens.access, json!({"email": "a@example.com"})).await.json().await.unwrap();
    let user_again: Value =
        app.patch("/api/v1/users/me", &tokens.access, json!({"email": ""})).await.json().await.unwrap();
    assert_eq!(user["email"], "a@example.com");
    assert_eq!(user_again["email"], Value::Null);
    let me: Value = app.me(&tokens.access).await.json().await.unwrap();
    assert_eq!((me["email"].clone(), me["full_name"].clone()), (Value::Null, Value::Null));
}

#[tokio::test]
async fn an_email_taken_by_another_account_is_409_ignoring_case() {
    let app = TestApp::spawn().await;
    app.register(json!({"username": "bob", "password": PASSWORD, "email": "Bob@Example.com"})).await;
    app.register(json!({"username": "alice", "password": PASSWORD, "email": "alice@example.com"})).await;
    let tokens = app.tokens("alice", PASSWORD).await;
    let body = expect_error(
        app.patch("/api/v1/users/me", &tokens.access, json!({"email": "bob@example.COM", "full_name": "Al"})).await,
        409,
        "conflict",
    )
    .await;
    let me: Value = app.me(&tokens.access).await.json().await.unwrap();
    assert_eq!((me["email"].as_str(), me["full_name"].clone()), (Some("alice@example.com"), Value::Null));
    assert!(body["fields"]["email"].is_string(), "the field is named: {body}");
}

#[tokio::test]
async fn the_address_of_ones_own_account_is_not_taken_from_oneself() {
    let app = TestApp::spawn().await;
    app.register(json!({"username": "alice", "password": PASSWORD, "email": "alice@example.com"})).await;
    let tokens = app.tokens("alice", PASSWORD).await;
    let response = app.patch("/api/v1/users/me", &tokens.access, json!({"email": "Alice@Example.com"})).await;
    assert_eq!(response.status(), 200);
    assert_eq!(response.json::<Value>().await.unwrap()["email"], "Alice@Example.com");
}

#[tokio::test]
async fn bad_profile_values_unknown_fields_and_an_empty_body_are_422() {
    let app = TestApp::spawn().await;
    let alice = app.create_user("alice", PASSWORD).await;
    let tokens = app.tokens("alice", PASSWORD).await;
    for (body, field) in [
        (json!({"email": "nope"}), "email"),
        (json!({"email": "a@b@example.com"}), "email"),
        (json!({"email": format!("{}@example.com", "a".repeat(250))}), "email"),
        (json!({"email": 5}), "email"),
        (json!({"full_name": "x".repeat(129)}), "full_name"),
        (json!({"full_name": "tab\there"}), "full_name"),
        (json!({"full_name": true}), "full_name"),
        (json!({"username": "alicia"}), "username"),
        (json!({"role": "admin"}), "role"),
        (json!({"disabled": true}), "disabled"),
        (json!({"full_name": "Alice", "role": "admin"}), "role"),
    ] {
        let refused =
            expect_error(app.patch("/api/v1/users/me", &tokens.access, body.clone()).await, 422, "invalid_request")
                .await;
        assert!(refused["fields"][field].is_string(), "{body} names {field}: {refused}");
    }
    expect_error(app.patch("/api/v1/users/me", &tokens.access, json!({})).await, 422, "invalid_request").await;
    expect_error(app.patch("/api/v1/users/me", &tokens.access, json!([1])).await, 422, "invalid_request").await;
    let malformed = app
        .client
        .patch(app.url("/api/v1/users/me"))
        .bearer_auth(&tokens.access)
        .header("content-type", "application/json")
        .body("{\"email\": ")
        .send()
        .await
        .unwrap();
    expect_error(malformed, 400, "invalid_request").await;
    let me: Value = app.me(&tokens.access).await.json().await.unwrap();
    assert_eq!(me, alice, "nothing refused was applied");
}

#[tokio::test]
async fn a_profile_edit_records_profile_updated_with_the_changed_fields_before_and_after() {
    let app = TestApp::spawn().await;
    let alice = app.create_user("alice", PASSWORD).await;
    let tokens = app.tokens("alice", PASSWORD).await;
    let both = json!({"email": "alice@example.com", "full_name": "Alice"});
    assert_eq!(app.patch("/api/v1/users/me", &tokens.access, both).await.status(), 200);
    let renamed = json!({"email": "alice@example.com", "full_name": "Alice Liddell"});
    assert_eq!(app.patch("/api/v1/users/me", &tokens.access, renamed).await.status(), 200);

    let events = own_events(&app, &tokens.access, "").await;
    let updates: Vec<&Value> = events.iter().filter(|e| e["type"] == "profile.updated").collect();
    assert_eq!(updates.len(), 2, "{events:?}");
    for event in &updates {
        assert_eq!((&event["user_id"], &event["actor_id"]), (&alice["id"], &alice["id"]), "{event}");
    }
    // Newest first; only what changed.
    assert_eq!(
        updates[0]["detail"],
        json!({"before": {"full_name": "Alice"}, "after": {"full_name": "Alice Liddell"}})
    );
    assert_eq!(
        updates[1]["detail"],
        json!({"before": {"email": null, "full_name": null}, "after": {"email": "alice@example.com", "full_name": "Alice"}})
    );
}

#[tokio::test]
async fn a_password_change_ends_every_other_login_and_keeps_the_callers() {
    let app = TestApp::spawn().await;
    app.create_user("alice", PASSWORD).await;
    let other = app.tokens("alice", PASSWORD).await;
    let caller = app.tokens("alice", PASSWORD).await;
    assert_eq!(change_password(&app, &caller.access, PASSWORD, NEW_PASSWORD).await.status(), 204);

    expect_ended(&app, &other).await;
    assert_eq!(app.me(&caller.access).await.status(), 200, "the caller's access token keeps working");
    let refreshed = app.refresh(&caller.refresh).await;
    assert_eq!(refreshed.status(), 200, "and so does its refresh token");
    let refreshed: Value = refreshed.json().await.unwrap();
    assert_eq!(app.me(refreshed["access_token"].as_str().unwrap()).await.status(), 200);

    expect_error(app.login("alice", PASSWORD).await, 400, "invalid_grant").await;
    assert_eq!(app.login("alice", NEW_PASSWORD).await.status(), 200);
}

#[tokio::test]
async fn a_wrong_current_password_is_422_and_changes_nothing() {
    let app = TestApp::spawn().await;
    app.create_user("alice", PASSWORD).await;
    let other = app.tokens("alice", PASSWORD).await;
    let caller = app.tokens("alice", PASSWORD).await;
    let body = expect_error(
        change_password(&app, &caller.access, "not my passphrase", NEW_PASSWORD).await,
        422,
        "invalid_request",
    )
    .await;
    assert!(body["fields"]["current_password"].is_string(), "{body}");
    let body = expect_error(
        app.post_json("/api/v1/users/me/password", &caller.access, json!({"new_password": NEW_PASSWORD})).await,
        422,
        "invalid_request",
    )
    .await;
    assert!(body["fields"]["current_password"].is_string(), "a missing one too: {body}");
    assert_eq!(app.me(&other.access).await.status(), 200, "no login was ended");
    assert_eq!(app.login("alice", PASSWORD).await.status(), 200);
    expect_error(app.login("alice", NEW_PASSWORD).await, 400, "invalid_grant").await;
}

#[tokio::test]
async fn wrong_current_passwords_count_as_failed_logins_and_end_in_429() {
    let app = TestApp::spawn_with(&[("GATEHOUSE_LIMIT_LOGIN_PER_ACCOUNT", "3")]).await;
    app.create_user("alice", PASSWORD).await;
    let tokens = app.tokens("alice", PASSWORD).await;
    for i in 0..3 {
        let response = change_password(&app, &tokens.access, &format!("wrong guess {i}"), NEW_PASSWORD).await;
        expect_error(response, 422, "invalid_request").await;
    }
    // The account is throttled now: the password login and the change alike, the right
    // current password included.
    let response = change_password(&app, &tokens.access, PASSWORD, NEW_PASSWORD).await;
    assert!(response.headers().contains_key("retry-after"), "Retry-After on {}", response.status());
    expect_error(response, 429, "too_many_requests").await;
    let response = app.login("alice", PASSWORD).await;
    assert!(response.headers().contains_key("retry-after"));
    expect_error(response, 429, "too_many_requests").await;
    // After the wait the right password works again; the refused change changed nothing.
    tokio::time::sleep(Duration::from_millis(1100)).await;
    assert_eq!(app.login("alice", PASSWORD).await.status(), 200);
}

#[tokio::test]
async fn a_new_password_that_breaks_the_policy_is_422_on_new_password() {
    let app = TestApp::spawn().await;
    app.create_user("alice_smith", PASSWORD).await;
    let tokens = app.tokens("alice_smith", PASSWORD).await;
    for bad in ["short", "password1", "Alice_Smith", &"p".repeat(129)] {
        let body =
            expect_error(change_password(&app, &tokens.access, PASSWORD, bad).await, 422, "invalid_request").await;
        assert!(body["fields"]["new_password"].is_string(), "{bad:?}: {body}");
    }
    assert_eq!(app.login("alice_smith", PASSWORD).await.status(), 200);
}

#[tokio::test]
async fn a_password_change_records_password_changed_and_a_refused_one_records_nothing() {
    let app = TestApp::spawn().await;
    let alice = app.create_user("alice", PASSWORD).await;
    let tokens = app.tokens("alice", PASSWORD).await;
    expect_error(change_password(&app, &tokens.access, "wrong passphrase", NEW_PASSWORD).await, 422, "invalid_request")
        .await;
    expect_error(change_password(&app, &tokens.access, PASSWORD, "password1").await, 422, "invalid_request").await;
    let events = own_events(&app, &tokens.access, "").await;
    assert!(!types(&events).contains(&"password.changed"), "{events:?}");

    let response = app
        .client
        .post(app.url("/api/v1/users/me/password"))
        .bearer_auth(&tokens.access)
        .header("user-agent", "password-changer/1.0")
        .json(&json!({"current_password": PASSWORD, "new_password": NEW_PASSWORD}))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 204);
    let events = own_events(&app, &tokens.access, "").await;
    let changed: Vec<&Value> = events.iter().filter(|e| e["type"] == "password.changed").collect();
    assert_eq!(changed.len(), 1, "{events:?}");
    assert_eq!(events[0]["type"], "password.changed", "the newest");
    let event = changed[0];
    assert_eq!((&event["user_id"], &event["actor_id"]), (&alice["id"], &alice["id"]));
    assert_eq!((event["ip"].as_str(), event["user_agent"].as_str()), (Some("127.0.0.1"), Some("password-changer/1.0")));
}

#[tokio::test]
async fn ones_logins_are_listed_newest_first_with_agent_address_and_the_current_one_marked() {
    let app = TestApp::spawn().await;
    app.create_user("alice", PASSWORD).await;
    let mut all = Vec::new();
    for agent in ["agent-one", "agent-two", "agent-three"] {
        all.push(app.tokens_with_agent("alice", PASSWORD, agent).await);
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    let plain = app.tokens("alice", PASSWORD).await;

    let items = logins(&app, &all[1].access).await;
    let agents: Vec<Value> = items.iter().map(|l| l["user_agent"].clone()).collect();
    assert_eq!(agents, [Value::Null, json!("agent-three"), json!("agent-two"), json!("agent-one")]);
    let current: Vec<&Value> = items.iter().filter(|l| l["current"] == true).collect();
    assert_eq!(current.len(), 1, "{items:?}");
    assert_eq!(current[0]["user_agent"], "agent-two");
    for login in &items {
        for key in ["id", "created_at", "last_used_at", "user_agent", "ip", "current"] {
            assert!(login.as_object().unwrap().contains_key(key), "{key} in {login}");
        }
        assert!(uuid::Uuid::parse_str(login["id"].as_str().unwrap()).is_ok());
        assert_eq!(login["ip"], "127.0.0.1");
        assert!(login["current"].is_boolean());
        assert!(rfc3339(&login["last_used_at"]) >= rfc3339(&login["created_at"]));
    }
    let created: Vec<_> = items.iter().map(|l| rfc3339(&l["created_at"])).collect();
    assert!(created.windows(2).all(|w| w[0] >= w[1]), "newest first: {created:?}");

    // An ended login is no longer listed; another account's logins never are.
    assert_eq!(app.revoke(&plain.refresh).await.status(), 200);
    app.create_user("bob", PASSWORD).await;
    app.tokens_with_agent("bob", PASSWORD, "bobs-agent").await;
    let items = logins(&app, &all[0].access).await;
    let agents: Vec<&str> = items.iter().map(|l| l["user_agent"].as_str().unwrap()).collect();
    assert_eq!(agents, ["agent-three", "agent-two", "agent-one"]);
    assert_eq!(items[2]["current"], true);
}

#[tokio::test]
async fn a_long_user_agent_is_cut_to_256_characters() {
    let app = TestApp::spawn().await;
    app.create_user("alice", PASSWORD).await;
    let agent = format!("{}{}", "a".repeat(256), "b".repeat(44));
    let tokens = app.tokens_with_agent("alice", PASSWORD, &agent).await;
    let items = logins(&app, &tokens.access).await;
    assert_eq!(items[0]["user_agent"].as_str().unwrap(), "a".repeat(256));
}

#[tokio::test]
async fn a_refresh_grant_moves_the_logins_last_used_at() {
    let app = TestApp::spawn().await;
    app.create_user("alice", PASSWORD).await;
    let tokens = app.tokens("alice", PASSWORD).await;
    let before = logins(&app, &tokens.access).await.remove(0);
    // Not every request counts as a use: only grants do.
    tokio::time::sleep(Duration::from_millis(1100)).await;
    assert_eq!(app.me(&tokens.access).await.status(), 200);
    let unchanged = logins(&app, &tokens.access).await.remove(0);
    assert_eq!(unchanged["last_used_at"], before["last_used_at"]);

    let refreshed: Value = app.refresh(&tokens.refresh).await.json().await.unwrap();
    let after = logins(&app, refreshed["access_token"].as_str().unwrap()).await.remove(0);
    assert_eq!(after["id"], before["id"], "the same login");
    assert_eq!(after["created_at"], before["created_at"]);
    assert_eq!(after["current"], true);
    let moved = rfc3339(&after["last_used_at"]) - rfc3339(&before["last_used_at"]);
    assert!(moved >= time::Duration::seconds(1), "last_used_at moved by {moved}");
}

#[tokio::test]
async fn ending_one_of_ones_logins_stops_its_tokens_and_leaves_the_others() {
    let app = TestApp::spawn().await;
    app.create_user("alice", PASSWORD).await;
    let phone = app.tokens_with_agent("alice", PASSWORD, "phone").await;
    let laptop = app.tokens_with_agent("alice", PASSWORD, "laptop").await;
    let items = logins(&app, &laptop.access).await;
    let phone_id = items.iter().find(|l| l["user_agent"] == "phone").unwrap()["id"].as_str().unwrap().to_owned();
    let response = app.delete(&format!("/api/v1/users/me/logins/{phone_id}"), &laptop.access).await;
    assert_eq!(response.status(), 204);
    expect_ended(&app, &phone).await;
    assert_eq!(app.me(&laptop.access).await.status(), 200);
    let items = logins(&app, &laptop.access).await;
    assert_eq!(items.len(), 1);
    assert_eq!(items[0]["user_agent"], "laptop");

    // One's own current login may be ended too.
    let laptop_id = items[0]["id"].as_str().unwrap().to_owned();
    assert_eq!(app.delete(&format!("/api/v1/users/me/logins/{laptop_id}"), &laptop.access).await.status(), 204);
    expect_ended(&app, &laptop).await;
}

#[tokio::test]
async fn ending_a_login_that_is_not_a_live_one_of_the_callers_is_404() {
    let app = TestApp::spawn().await;
    app.create_user("alice", PASSWORD).await;
    app.create_user("bob", PASSWORD).await;
    let alice = app.tokens("alice", PASSWORD).await;
    let ended = app.tokens("alice", PASSWORD).await;
    let bob = app.tokens("bob", PASSWORD).await;
    let bob_login = logins(&app, &bob.access).await.remove(0)["id"].as_str().unwrap().to_owned();
    let ended_login = logins(&app, &ended.access).await.into_iter().find(|l| l["current"] == true).unwrap()["id"]
        .as_str()
        .unwrap()
        .to_owned();
    assert_eq!(app.delete(&format!("/api/v1/users/me/logins/{ended_login}"), &ended.access).await.status(), 204);

    for id in [bob_login.as_str(), ended_login.as_str(), &uuid::Uuid::new_v4().to_string(), "not-a-login", "%FF"] {
        let response = app.delete(&format!("/api/v1/users/me/logins/{id}"), &alice.access).await;
        expect_error(response, 404, "not_found").await;
    }
    assert_eq!(app.me(&bob.access).await.status(), 200, "bob's login lives on");
    assert_eq!(app.refresh(&bob.refresh).await.status(), 200);
    assert_eq!(app.me(&alice.access).await.status(), 200);
}

#[tokio::test]
async fn deleting_ones_account_ends_every_token_and_frees_the_username_and_email() {
    let app = TestApp::spawn().await;
    let response = app.register(json!({"username": "alice", "password": PASSWORD, "email": "alice@example.com"})).await;
    let alice: Value = response.json().await.unwrap();
    let id = alice["id"].as_str().unwrap();
    let other = app.tokens("alice", PASSWORD).await;
    let tokens = app.tokens("alice", PASSWORD).await;
    let response = app.delete_json("/api/v1/users/me", &tokens.access, json!({"password": PASSWORD})).await;
    assert_eq!(response.status(), 204);

    for login in [&tokens, &other] {
        let response = app.me(&login.access).await;
        assert_eq!(response.status(), 401);
        expect_error(app.refresh(&login.refresh).await, 400, "invalid_grant").await;
    }
    expect_error(app.login("alice", PASSWORD).await, 400, "invalid_grant").await;
    assert_eq!(app.sql_i64(&format!("SELECT COUNT(*) FROM logins WHERE user_id = '{id}'")).await, 0);

    let again =
        app.register(json!({"username": "ALICE", "password": NEW_PASSWORD, "email": "Alice@example.com"})).await;
    assert_eq!(again.status(), 201, "the name and the address are free again");
    let again: Value = again.json().await.unwrap();
    assert_ne!(again["id"], alice["id"]);
    assert_eq!(app.login("alice", NEW_PASSWORD).await.status(), 200);
}

#[tokio::test]
async fn a_wrong_password_refuses_the_deletion_with_422() {
    let app = TestApp::spawn().await;
    app.create_user("alice", PASSWORD).await;
    let tokens = app.tokens("alice", PASSWORD).await;
    for body in [json!({"password": "not my passphrase"}), json!({})] {
        let refused = expect_error(
            app.delete_json("/api/v1/users/me", &tokens.access, body.clone()).await,
            422,
            "invalid_request",
        )
        .await;
        assert!(refused["fields"]["password"].is_string(), "{body}: {refused}");
    }
    assert_eq!(app.me(&tokens.access).await.status(), 200);
    assert_eq!(app.login("alice", PASSWORD).await.status(), 200);
}

#[tokio::test]
async fn wrong_deletion_passwords_are_throttled_like_failed_logins() {
    let app = TestApp::spawn_with(&[("GATEHOUSE_LIMIT_LOGIN_PER_ACCOUNT", "3")]).await;
    app.create_user("alice", PASSWORD).await;
    let tokens = app.tokens("alice", PASSWORD).await;
    for i in 0..3 {
        let body = json!({"password": format!("wrong guess {i}")});
        expect_error(app.delete_json("/api/v1/users/me", &tokens.access, body).await, 422, "invalid_request").await;
    }
    let body = json!({"password": PASSWORD});
    expect_error(app.delete_json("/api/v1/users/me", &tokens.access, body).await, 429, "too_many_requests").await;
    expect_error(app.login("alice", PASSWORD).await, 429, "too_many_requests").await;
    assert_eq!(app.me(&tokens.access).await.status(), 200, "the account is still there");
}

#[tokio::test]
async fn the_last_enabled_admin_cannot_delete_their_own_account() {
    let app = TestApp::spawn().await;
    let admin = app.admin_tokens().await;
    let body = json!({"password": ADMIN_PASSWORD});
    expect_error(app.delete_json("/api/v1/users/me", &admin.access, body.clone()).await, 409, "conflict").await;
    // A disabled admin does not count.
    let alice = app.create_user("alice", PASSWORD).await;
    let alice_path = format!("/api/v1/users/{}", alice["id"].as_str().unwrap());
    assert_eq!(app.patch(&alice_path, &admin.access, json!({"role": "admin"})).await.status(), 200);
    assert_eq!(app.patch(&alice_path, &admin.access, json!({"disabled": true})).await.status(), 200);
    expect_error(app.delete_json("/api/v1/users/me", &admin.access, body.clone()).await, 409, "conflict").await;
    assert_eq!(app.me(&admin.access).await.status(), 200);
    // With another enabled admin, the first may go.
    assert_eq!(app.patch(&alice_path, &admin.access, json!({"disabled": false})).await.status(), 200);
    assert_eq!(app.delete_json("/api/v1/users/me", &admin.access, body).await.status(), 204);
    let alice_tokens = app.tokens("alice", PASSWORD).await;
    assert_eq!(app.get("/api/v1/users", &alice_tokens.access).await.status(), 200);
}

#[tokio::test]
async fn a_deleted_accounts_events_stay_with_its_id_and_its_username() {
    let app = TestApp::spawn().await;
    let alice = app.create_user("Alice", PASSWORD).await;
    let id = alice["id"].as_str().unwrap();
    let tokens = app.tokens("alice", PASSWORD).await;
    assert_eq!(app.delete_json("/api/v1/users/me", &tokens.access, json!({"password": PASSWORD})).await.status(), 204);

    let admin = app.admin_tokens().await;
    let events = app.audit(&admin.access, &format!("user_id={id}&limit=200")).await;
    assert_eq!(types(&events), ["user.deleted", "login.succeeded", "user.registered"]);
    let deleted = &events[0];
    assert_eq!((deleted["user_id"].as_str(), deleted["actor_id"].as_str()), (Some(id), Some(id)));
    assert_eq!(deleted["detail"]["username"], "Alice", "the name as it was at deletion");
}

#[tokio::test]
async fn ones_own_events_are_newest_first_only_ones_own_and_limited() {
    let app = TestApp::spawn().await;
    let alice = app.create_user("alice", PASSWORD).await;
    let bob = app.create_user("bob", PASSWORD).await;
    expect_error(app.login("alice", "wrong passphrase").await, 400, "invalid_grant").await;
    let tokens = app.tokens("alice", PASSWORD).await;
    let bob_tokens = app.tokens("bob", PASSWORD).await;
    assert_eq!(app.patch("/api/v1/users/me", &tokens.access, json!({"full_name": "Alice"})).await.status(), 200);
    assert_eq!(app.patch("/api/v1/users/me", &bob_tokens.access, json!({"full_name": "Bob"})).await.status(), 200);
    // An admin's change to alice is about her: it is hers to see, not the admin's.
    let admin = app.admin_tokens().await;
    let alice_path = format!("/api/v1/users/{}", alice["id"].as_str().unwrap());
    assert_eq!(app.patch(&alice_path, &admin.access, json!({"role": "admin"})).await.status(), 200);

    let response = app.get("/api/v1/users/me/events", &tokens.access).await;
    assert_eq!(response.status(), 200);
    assert_eq!(response.headers()["cache-control"], "no-store");
    let events: Vec<Value> = response.json::<Value>().await.unwrap()["items"].as_array().unwrap().clone();
    assert_eq!(
        types(&events),
        ["user.updated", "profile.updated", "login.succeeded", "login.failed", "user.registered"]
    );
    assert!(events.iter().all(|e| e["user_id"] == alice["id"]), "{events:?}");
    let times: Vec<_> = events.iter().map(|e| rfc3339(&e["at"])).collect();
    assert!(times.windows(2).all(|w| w[0] >= w[1]), "{times:?}");
    let limited = own_events(&app, &tokens.access, "?limit=2").await;
    assert_eq!(limited, events[..2].to_vec());

    let bobs = own_events(&app, &bob_tokens.access, "").await;
    assert_eq!(types(&bobs), ["profile.updated", "login.succeeded", "user.registered"]);
    assert!(bobs.iter().all(|e| e["user_id"] == bob["id"]));
    let admins = own_events(&app, &admin.access, "").await;
    assert!(admins.iter().all(|e| e["type"] != "user.updated"), "the change was alice's: {admins:?}");
}
