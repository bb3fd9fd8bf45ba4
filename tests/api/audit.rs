//! The audit log: who may read it, its filters and paging, which action writes which event,
//! and what an event never holds.

use crate::helpers::{ADMIN_PASSWORD, TestApp, Tokens, expect_error, rfc3339};
use serde_json::{Value, json};
use std::collections::HashSet;

const PASSWORD: &str = "a long passphrase";
const NEW_PASSWORD: &str = "a brand new passphrase";

fn id_of(value: &Value) -> String {
    value["id"].as_str().unwrap_or_else(|| panic!("id in {value}")).to_owned()
}

/// Every event, newest first (fewer than 200 in these tests).
async fn all_events(app: &TestApp, admin: &Tokens) -> Vec<Value> {
    let response = app.get("/api/v1/audit?limit=200", &admin.access).await;
    assert_eq!(response.status(), 200);
    let page: Value = response.json().await.unwrap();
    assert_eq!(page["next_before"], Value::Null, "fewer than 200 events: {page}");
    page["items"].as_array().unwrap().clone()
}

/// The one event of `kind` about `user_id`, checking the shape every event has.
fn the_one<'a>(events: &'a [Value], kind: &str, user_id: &str) -> &'a Value {
    let found: Vec<&Value> = events.iter().filter(|e| e["type"] == kind && e["user_id"] == user_id).collect();
    assert_eq!(found.len(), 1, "one {kind} of {user_id} in {events:#?}");
    let event = found[0];
    let mut keys: Vec<&str> = event.as_object().unwrap().keys().map(String::as_str).collect();
    keys.sort_unstable();
    assert_eq!(keys, ["actor_id", "at", "detail", "id", "ip", "type", "user_agent", "user_id"], "{event}");
    assert!(uuid::Uuid::parse_str(event["id"].as_str().unwrap()).is_ok(), "{event}");
    let age = time::OffsetDateTime::now_utc() - rfc3339(&event["at"]);
    assert!(age >= time::Duration::seconds(-1) && age < time::Duration::seconds(120), "at: {event}");
    assert!(event["detail"].is_object(), "{event}");
    event
}

/// Who the event is about and who acted, as (user_id, actor_id).
fn who(event: &Value) -> (Value, Value) {
    (event["user_id"].clone(), event["actor_id"].clone())
}

fn types(events: &[Value]) -> Vec<&str> {
    events.iter().map(|e| e["type"].as_str().unwrap()).collect()
}

async fn login_with_agent(app: &TestApp, username: &str, password: &str, agent: &str) -> reqwest::Response {
    app.client
        .post(app.url("/api/v1/auth/token"))
        .header("user-agent", agent)
        .form(&[("username", username), ("password", password)])
        .send()
        .await
        .unwrap()
}

#[tokio::test]
async fn only_admins_read_the_audit_log() {
    let app = TestApp::spawn().await;
    app.create_user("alice", PASSWORD).await;
    let alice = app.tokens("alice", PASSWORD).await;
    expect_error(app.get("/api/v1/audit", &alice.access).await, 403, "insufficient_scope").await;
    expect_error(app.client.get(app.url("/api/v1/audit")).send().await.unwrap(), 401, "unauthorized").await;
    let admin = app.admin_tokens().await;
    let response = app.get("/api/v1/audit", &admin.access).await;
    assert_eq!(response.status(), 200);
    assert_eq!(response.headers()["cache-control"], "no-store");
    let page: Value = response.json().await.unwrap();
    assert!(page["items"].as_array().is_some_and(|items| !items.is_empty()), "{page}");
    assert!(page.as_object().unwrap().contains_key("next_before"), "{page}");
}

#[tokio::test]
async fn the_audit_log_filters_by_type_and_by_user() {
    let app = TestApp::spawn().await;
    let alice = app.create_user("alice", PASSWORD).await;
    let bob = app.create_user("bob", PASSWORD).await;
    for _ in 0..3 {
        app.tokens("alice", PASSWORD).await;
    }
    app.tokens("bob", PASSWORD).await;
    expect_error(app.login("bob", "wrong passphrase").await, 400, "invalid_grant").await;
    let admin = app.admin_tokens().await;

    let logins = app.audit(&admin.access, "type=login.succeeded").await;
    assert_eq!(logins.len(), 5, "alice thrice, bob, the admin: {logins:#?}");
    assert!(logins.iter().all(|e| e["type"] == "login.succeeded"));
    let alices = app.audit(&admin.access, &format!("user_id={}", id_of(&alice))).await;
    assert_eq!(types(&alices), ["login.succeeded", "login.succeeded", "login.succeeded", "user.registered"]);
    assert!(alices.iter().all(|e| e["user_id"] == alice["id"]));
    let bobs_failures = app.audit(&admin.access, &format!("user_id={}&type=login.failed", id_of(&bob))).await;
    assert_eq!(bobs_failures.len(), 1);
    assert_eq!(bobs_failures[0]["user_id"], bob["id"]);
    // A type no one caused yet, and a user without events: empty pages.
    assert_eq!(app.audit(&admin.access, "type=mfa.enabled").await, Vec::<Value>::new());
    assert_eq!(app.audit(&admin.access, &format!("user_id={}", uuid::Uuid::new_v4())).await, Vec::<Value>::new());
}

#[tokio::test]
async fn paging_with_limit_and_before_reaches_every_event_exactly_once_newest_first() {
    let app = TestApp::spawn().await;
    app.create_user("alice", PASSWORD).await;
    let tokens = app.tokens("alice", PASSWORD).await;
    for i in 0..10 {
        let body = json!({"full_name": format!("Alice the {i}th")});
        assert_eq!(app.patch("/api/v1/users/me", &tokens.access, body).await.status(), 200);
    }
    let admin = app.admin_tokens().await;
    let everything = all_events(&app, &admin).await;
    assert!(everything.len() >= 13, "{}", everything.len());
    let times: Vec<_> = everything.iter().map(|e| rfc3339(&e["at"])).collect();
    assert!(times.windows(2).all(|w| w[0] >= w[1]), "newest first: {times:?}");

    for limit in [1, 3, 4, everything.len()] {
        let mut seen = Vec::new();
        let mut query = format!("limit={limit}");
        loop {
            let page: Value = app.get(&format!("/api/v1/audit?{query}"), &admin.access).await.json().await.unwrap();
            let items = page["items"].as_array().unwrap();
            assert!(items.len() <= limit, "limit {limit}: {page}");
            seen.extend(items.iter().cloned());
            match page["next_before"].as_str() {
                Some(before) => {
                    assert_eq!(items.len(), limit, "a page with more after it is full");
                    assert!(seen.len() < everything.len(), "limit {limit}: next_before after the oldest event");
                    query = format!("limit={limit}&before={before}");
                }
                None => break,
            }
        }
        assert_eq!(seen, everything, "limit {limit}: every event once, in order");
    }

    // Paging within a filter keeps the filter.
    let updates: Vec<Value> = everything.iter().filter(|e| e["type"] == "profile.updated").cloned().collect();
    let first: Value = app.get("/api/v1/audit?type=profile.updated&limit=6", &admin.access).await.json().await.unwrap();
    let before = first["next_before"].as_str().expect("more than 6 updates");
    let second: Value = app
        .get(&format!("/api/v1/audit?type=profile.updated&limit=6&before={before}"), &admin.access)
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(second["next_before"], Value::Null);
    let paged: Vec<Value> =
        [first["items"].as_array().unwrap().clone(), second["items"].as_array().unwrap().clone()].concat();
    assert_eq!(paged, updates);
}

#[tokio::test]
async fn the_limit_defaults_to_50_and_more_than_200_is_served_as_200() {
    let app = TestApp::spawn().await;
    app.create_user("alice", PASSWORD).await;
    let tokens = app.tokens("alice", PASSWORD).await;
    for i in 0..205 {
        let body = json!({"full_name": format!("Alice number {i}")});
        assert_eq!(app.patch("/api/v1/users/me", &tokens.access, body).await.status(), 200);
    }
    let admin = app.admin_tokens().await;
    let page: Value = app.get("/api/v1/audit", &admin.access).await.json().await.unwrap();
    assert_eq!(page["items"].as_array().unwrap().len(), 50);
    assert!(page["next_before"].is_string());
    let page: Value = app.get("/api/v1/audit?limit=5000", &admin.access).await.json().await.unwrap();
    assert_eq!(page["items"].as_array().unwrap().len(), 200);
    assert!(page["next_before"].is_string());
    // The caller's own list has the same bounds.
    let own: Value = app.get("/api/v1/users/me/events", &tokens.access).await.json().await.unwrap();
    assert_eq!(own["items"].as_array().unwrap().len(), 50);
    let own: Value = app.get("/api/v1/users/me/events?limit=5000", &tokens.access).await.json().await.unwrap();
    assert_eq!(own["items"].as_array().unwrap().len(), 200);
}

#[tokio::test]
async fn bad_audit_queries_are_422_naming_the_parameter() {
    let app = TestApp::spawn().await;
    let admin = app.admin_tokens().await;
    let unknown_event = uuid::Uuid::new_v4();
    for (query, field) in [
        ("type=nonsense".to_owned(), "type"),
        ("type=LOGIN.SUCCEEDED".to_owned(), "type"),
        ("user_id=alice".to_owned(), "user_id"),
        ("before=not-an-id".to_owned(), "before"),
        (format!("before={unknown_event}"), "before"),
        ("limit=0".to_owned(), "limit"),
        ("limit=-1".to_owned(), "limit"),
        ("limit=ten".to_owned(), "limit"),
    ] {
        let body =
            expect_error(app.get(&format!("/api/v1/audit?{query}"), &admin.access).await, 422, "invalid_request").await;
        assert!(body["fields"][field].is_string(), "{query} names {field}: {body}");
    }
}

#[tokio::test]
async fn logins_write_succeeded_failed_and_throttled_events_about_the_account() {
    let app = TestApp::spawn_with(&[("GATEHOUSE_LIMIT_LOGIN_PER_ACCOUNT", "3")]).await;
    let alice = app.create_user("alice", PASSWORD).await;
    let bob = app.create_user("bob", PASSWORD).await;
    let carol = app.create_user("carol", PASSWORD).await;
    let admin = app.admin_tokens().await;
    let admin_id = id_of(&app.me(&admin.access).await.json::<Value>().await.unwrap());
    assert_eq!(login_with_agent(&app, "alice", PASSWORD, "agent/1.0").await.status(), 200);
    expect_error(login_with_agent(&app, "ALICE", "wrong passphrase", "agent/2.0").await, 400, "invalid_grant").await;
    let bob_path = format!("/api/v1/users/{}", id_of(&bob));
    assert_eq!(app.patch(&bob_path, &admin.access, json!({"disabled": true})).await.status(), 200);
    expect_error(app.login("bob", PASSWORD).await, 400, "invalid_grant").await;
    for _ in 0..3 {
        expect_error(app.login("carol", "wrong passphrase").await, 400, "invalid_grant").await;
    }
    expect_error(app.login("carol", PASSWORD).await, 429, "too_many_requests").await;
    // Failed and throttled logins are recorded beside the answer (so that its time does not
    // say whether the account exists): wait for the five failures and the one throttling.
    let mut events = all_events(&app, &admin).await;
    for _ in 0..100 {
        let count = |kind: &str| events.iter().filter(|e| e["type"] == kind).count();
        if count("login.failed") == 5 && count("login.throttled") == 1 {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(20)).await;
        events = all_events(&app, &admin).await;
    }

    let succeeded = the_one(&events, "login.succeeded", alice["id"].as_str().unwrap());
    assert_eq!(who(succeeded), (alice["id"].clone(), alice["id"].clone()));
    assert_eq!((succeeded["ip"].as_str(), succeeded["user_agent"].as_str()), (Some("127.0.0.1"), Some("agent/1.0")));
    let failed = the_one(&events, "login.failed", alice["id"].as_str().unwrap());
    assert_eq!(who(failed), (alice["id"].clone(), Value::Null));
    assert_eq!((failed["ip"].as_str(), failed["user_agent"].as_str()), (Some("127.0.0.1"), Some("agent/2.0")));
    assert_eq!(failed["detail"]["reason"], "password");
    let disabled = the_one(&events, "login.failed", bob["id"].as_str().unwrap());
    assert_eq!(who(disabled), (bob["id"].clone(), Value::Null));
    assert_eq!(disabled["detail"]["reason"], "disabled");
    assert_eq!(disabled["user_agent"], Value::Null, "the test client sends no User-Agent");
    let updated = the_one(&events, "user.updated", bob["id"].as_str().unwrap());
    assert_eq!(who(updated), (bob["id"].clone(), json!(admin_id)));
    assert_eq!(updated["detail"], json!({"before": {"disabled": false}, "after": {"disabled": true}}));
    let carols = app.audit(&admin.access, &format!("user_id={}", id_of(&carol))).await;
    assert_eq!(types(&carols), ["login.throttled", "login.failed", "login.failed", "login.failed", "user.registered"]);
    let throttled = the_one(&events, "login.throttled", carol["id"].as_str().unwrap());
    assert_eq!(who(throttled), (carol["id"].clone(), Value::Null));
    assert_eq!(throttled["ip"], "127.0.0.1");
}

#[tokio::test]
async fn token_and_login_ending_actions_write_their_events() {
    let app = TestApp::spawn().await;
    let alice = app.create_user("alice", PASSWORD).await;
    let id = id_of(&alice);
    let me = json!(id);

    // A replayed refresh token.
    let first = app.tokens("alice", PASSWORD).await;
    assert_eq!(app.refresh(&first.refresh).await.status(), 200);
    expect_error(app.refresh(&first.refresh).await, 400, "invalid_grant").await;
    // A logout (revocation).
    let second = app.tokens("alice", PASSWORD).await;
    assert_eq!(app.revoke(&second.refresh).await.status(), 200);
    // One login ended by its owner.
    let kept = app.tokens("alice", PASSWORD).await;
    let ended = app.tokens_with_agent("alice", PASSWORD, "to-be-ended").await;
    let logins: Value = app.get("/api/v1/users/me/logins", &kept.access).await.json().await.unwrap();
    let ended_id = logins["items"].as_array().unwrap().iter().find(|l| l["user_agent"] == "to-be-ended").unwrap()["id"]
        .as_str()
        .unwrap()
        .to_owned();
    assert_eq!(app.delete(&format!("/api/v1/users/me/logins/{ended_id}"), &kept.access).await.status(), 204);
    assert_eq!(app.me(&ended.access).await.status(), 401);
    // Sign out everywhere.
    assert_eq!(app.post("/api/v1/users/me/sign-out-everywhere", &kept.access).await.status(), 204);

    let admin = app.admin_tokens().await;
    let events = all_events(&app, &admin).await;
    let replayed = the_one(&events, "refresh.replayed", &id);
    assert_eq!(who(replayed), (me.clone(), Value::Null));
    let logout = the_one(&events, "logout", &id);
    assert_eq!(who(logout), (me.clone(), me.clone()));
    let login_ended = the_one(&events, "login.ended", &id);
    assert_eq!(who(login_ended), (me.clone(), me.clone()));
    let everywhere = the_one(&events, "sign_out_everywhere", &id);
    assert_eq!(who(everywhere), (me.clone(), me.clone()));
    let alices = app.audit(&admin.access, &format!("user_id={id}")).await;
    assert_eq!(
        types(&alices),
        [
            "sign_out_everywhere",
            "login.ended",
            "login.succeeded",
            "login.succeeded",
            "logout",
            "login.succeeded",
            "refresh.replayed",
            "login.succeeded",
            "user.registered",
        ]
    );
    // Revoking a token that is already revoked, or unknown, ends nothing and records nothing.
    assert_eq!(app.revoke(&second.refresh).await.status(), 200);
    assert_eq!(app.revoke("not-a-token").await.status(), 200);
    assert_eq!(app.audit(&admin.access, "type=logout").await.len(), 1);
    // Every event names the request that caused it, the replayed refresh included.
    for event in &alices {
        assert_eq!(event["ip"], "127.0.0.1", "{event}");
    }
}

#[tokio::test]
async fn self_service_actions_write_their_events_with_the_person_as_actor() {
    let app = TestApp::spawn().await;
    let alice = app.create_user("alice", PASSWORD).await;
    let id = id_of(&alice);
    let me = json!(id);
    let tokens = app.tokens("alice", PASSWORD).await;
    assert_eq!(
        app.patch("/api/v1/users/me", &tokens.access, json!({"email": "alice@example.com"})).await.status(),
        200
    );
    let change = json!({"current_password": PASSWORD, "new_password": NEW_PASSWORD});
    assert_eq!(app.post_json("/api/v1/users/me/password", &tokens.access, change).await.status(), 204);
    let response = app
        .client
        .delete(app.url("/api/v1/users/me"))
        .bearer_auth(&tokens.access)
        .header("user-agent", "leaving/1.0")
        .json(&json!({"password": NEW_PASSWORD}))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 204);

    let admin = app.admin_tokens().await;
    let events = all_events(&app, &admin).await;
    let registered = the_one(&events, "user.registered", &id);
    assert_eq!(registered["user_id"], me);
    // Nobody was signed in to register; the person registered themself.
    assert!(registered["actor_id"].is_null() || registered["actor_id"] == me, "{registered}");
    assert_eq!(registered["ip"], "127.0.0.1");
    let profile = the_one(&events, "profile.updated", &id);
    assert_eq!(who(profile), (me.clone(), me.clone()));
    assert_eq!(profile["detail"], json!({"before": {"email": null}, "after": {"email": "alice@example.com"}}));
    let changed = the_one(&events, "password.changed", &id);
    assert_eq!(who(changed), (me.clone(), me.clone()));
    let deleted = the_one(&events, "user.deleted", &id);
    assert_eq!(who(deleted), (me.clone(), me.clone()));
    assert_eq!(deleted["detail"]["username"], "alice");
    assert_eq!((deleted["ip"].as_str(), deleted["user_agent"].as_str()), (Some("127.0.0.1"), Some("leaving/1.0")));
}

#[tokio::test]
async fn admin_actions_write_their_events_with_the_admin_as_actor() {
    let app = TestApp::spawn().await;
    let alice = app.create_user("alice", PASSWORD).await;
    let bob = app.create_user("Bob", PASSWORD).await;
    let (alice_id, bob_id) = (id_of(&alice), id_of(&bob));
    let admin = app.admin_tokens().await;
    let admin_id = json!(id_of(&app.me(&admin.access).await.json::<Value>().await.unwrap()));

    let promoted = app.patch(&format!("/api/v1/users/{alice_id}"), &admin.access, json!({"role": "admin"})).await;
    assert_eq!(promoted.status(), 200);
    let (link, token) = app.reset_link(&admin.access, &alice_id).await;
    assert_eq!(app.reset_password(&token, NEW_PASSWORD).await.status(), 204);
    assert_eq!(app.delete(&format!("/api/v1/users/{bob_id}"), &admin.access).await.status(), 204);
    let rotated = app.post("/api/v1/admin/keys/rotate", &admin.access).await;
    assert_eq!(rotated.status(), 200);
    let kid = rotated.json::<Value>().await.unwrap()["kid"].clone();

    let events = all_events(&app, &admin).await;
    let updated = the_one(&events, "user.updated", &alice_id);
    assert_eq!(who(updated), (json!(alice_id), admin_id.clone()));
    assert_eq!(updated["detail"], json!({"before": {"role": "user"}, "after": {"role": "admin"}}));
    let created = the_one(&events, "password.reset_link_created", &alice_id);
    assert_eq!(who(created), (json!(alice_id), admin_id.clone()));
    assert_eq!(rfc3339(&created["detail"]["expires_at"]), rfc3339(&link["expires_at"]));
    let reset = the_one(&events, "password.reset", &alice_id);
    assert_eq!(who(reset), (json!(alice_id), Value::Null), "nobody signed in used the link");
    assert_eq!(reset["ip"], "127.0.0.1");
    let deleted = the_one(&events, "user.deleted", &bob_id);
    assert_eq!(who(deleted), (json!(bob_id), admin_id.clone()));
    assert_eq!(deleted["detail"]["username"], "Bob");
    let rotations: Vec<&Value> = events.iter().filter(|e| e["type"] == "key.rotated").collect();
    assert_eq!(rotations.len(), 1, "{events:#?}");
    assert_eq!(rotations[0]["actor_id"], admin_id);
    assert_eq!(rotations[0]["user_id"], Value::Null, "a key is nobody's account");
    assert_eq!(rotations[0]["detail"]["kid"], kid);
}

#[tokio::test]
async fn a_refused_change_writes_no_event() {
    let app = TestApp::spawn().await;
    app.register(json!({"username": "bob", "password": PASSWORD, "email": "bob@example.com"})).await;
    let alice = app.create_user("alice", PASSWORD).await;
    let tokens = app.tokens("alice", PASSWORD).await;
    let admin = app.admin_tokens().await;
    let admin_id = id_of(&app.me(&admin.access).await.json::<Value>().await.unwrap());
    let before = all_events(&app, &admin).await;

    let root = format!("/api/v1/users/{admin_id}");
    expect_error(app.patch(&root, &admin.access, json!({"role": "user"})).await, 409, "conflict").await;
    expect_error(app.patch(&root, &admin.access, json!({"disabled": true})).await, 409, "conflict").await;
    let alice_path = format!("/api/v1/users/{}", id_of(&alice));
    expect_error(app.patch(&alice_path, &admin.access, json!({"role": "root"})).await, 422, "invalid_request").await;
    expect_error(app.delete(&root, &admin.access).await, 409, "conflict").await;
    let own = json!({"password": ADMIN_PASSWORD});
    expect_error(app.delete_json("/api/v1/users/me", &admin.access, own).await, 409, "conflict").await;
    let taken = json!({"email": "BOB@example.com", "full_name": "Alice"});
    expect_error(app.patch("/api/v1/users/me", &tokens.access, taken).await, 409, "conflict").await;
    let bad = json!({"email": "nope", "full_name": "Alice"});
    expect_error(app.patch("/api/v1/users/me", &tokens.access, bad).await, 422, "invalid_request").await;
    let wrong = json!({"current_password": "wrong passphrase", "new_password": NEW_PASSWORD});
    expect_error(app.post_json("/api/v1/users/me/password", &tokens.access, wrong).await, 422, "invalid_request").await;
    let weak = json!({"current_password": PASSWORD, "new_password": "password1"});
    expect_error(app.post_json("/api/v1/users/me/password", &tokens.access, weak).await, 422, "invalid_request").await;
    let wrong = json!({"password": "wrong passphrase"});
    expect_error(app.delete_json("/api/v1/users/me", &tokens.access, wrong).await, 422, "invalid_request").await;
    expect_error(app.reset_password(&"A".repeat(43), NEW_PASSWORD).await, 400, "invalid_grant").await;
    let unknown_login = format!("/api/v1/users/me/logins/{}", uuid::Uuid::new_v4());
    expect_error(app.delete(&unknown_login, &tokens.access).await, 404, "not_found").await;

    // Wrong passwords may be recorded as failed logins (they count as such); nothing else is.
    let after: Vec<Value> =
        all_events(&app, &admin).await.into_iter().filter(|e| e["type"] != "login.failed").collect();
    assert_eq!(after, before, "no event of a refused change");
}

#[tokio::test]
async fn a_login_of_an_unknown_name_writes_nothing() {
    let app = TestApp::spawn_with(&[("GATEHOUSE_LIMIT_LOGIN_PER_ACCOUNT", "2")]).await;
    app.create_user("alice", PASSWORD).await;
    let admin = app.admin_tokens().await;
    let before = all_events(&app, &admin).await;
    for _ in 0..2 {
        expect_error(app.login("nobody_here", PASSWORD).await, 400, "invalid_grant").await;
    }
    // Throttled now, as a known name would be: still nothing to record.
    expect_error(app.login("nobody_here", PASSWORD).await, 429, "too_many_requests").await;
    expect_error(app.login("a b", PASSWORD).await, 400, "invalid_grant").await;
    let after = all_events(&app, &admin).await;
    assert_eq!(after, before);
    assert!(!serde_json::to_string(&after).unwrap().contains("nobody_here"));
}

#[tokio::test]
async fn no_event_holds_a_password_or_a_token() {
    let app = TestApp::spawn().await;
    let passwords =
        ["first secret passphrase", "guessed wrong passphrase", "second secret passphrase", "third secret passphrase"];
    let mut secrets: Vec<String> = passwords.iter().map(|p| (*p).to_owned()).collect();
    let alice = app.create_user("alice", passwords[0]).await;
    let alice_id = id_of(&alice);
    expect_error(app.login("alice", passwords[1]).await, 400, "invalid_grant").await;
    let first = app.tokens("alice", passwords[0]).await;
    let refreshed: Value = app.refresh(&first.refresh).await.json().await.unwrap();
    expect_error(app.refresh(&first.refresh).await, 400, "invalid_grant").await;
    let second = app.tokens("alice", passwords[0]).await;
    let wrong = json!({"current_password": passwords[1], "new_password": passwords[2]});
    expect_error(app.post_json("/api/v1/users/me/password", &second.access, wrong).await, 422, "invalid_request").await;
    let change = json!({"current_password": passwords[0], "new_password": passwords[2]});
    assert_eq!(app.post_json("/api/v1/users/me/password", &second.access, change).await.status(), 204);
    assert_eq!(app.revoke(&second.refresh).await.status(), 200);
    let admin = app.admin_tokens().await;
    let (link, reset) = app.reset_link(&admin.access, &alice_id).await;
    assert_eq!(app.reset_password(&reset, passwords[3]).await.status(), 204);
    let third = app.tokens("alice", passwords[3]).await;
    let delete = json!({"password": passwords[3]});
    assert_eq!(app.delete_json("/api/v1/users/me", &third.access, delete).await.status(), 204);

    for tokens in [&first, &second, &third, &admin] {
        secrets.push(tokens.refresh.clone());
        secrets.push(tokens.access.clone());
        // The signature alone, and a refresh token's head, would give them away too.
        secrets.push(tokens.access.rsplit('.').next().unwrap().to_owned());
        secrets.push(tokens.refresh[..16].to_owned());
    }
    secrets.push(refreshed["refresh_token"].as_str().unwrap().to_owned());
    secrets.push(refreshed["access_token"].as_str().unwrap().to_owned());
    secrets.push(reset.clone());
    secrets.push(reset[..16].to_owned());
    secrets.push(link["reset_url"].as_str().unwrap().to_owned());

    let events = all_events(&app, &admin).await;
    let kinds: HashSet<&str> = types(&events).into_iter().collect();
    for kind in ["login.failed", "refresh.replayed", "password.changed", "logout", "password.reset", "user.deleted"] {
        assert!(kinds.contains(kind), "the scenario wrote {kind}: {kinds:?}");
    }
    let text = serde_json::to_string(&events).unwrap();
    for secret in &secrets {
        assert!(!text.contains(secret.as_str()), "an event holds {secret:?}: {text}");
    }
    assert!(!text.contains("argon2"), "nor a hash: {text}");
}
