//! Several Gatehouse processes on one database behave as one service: whatever one instance
//! does to a login, an account or a throttle count, the other sees at the next request.
//! Real processes (the release-profile or debug binary cargo built), real HTTP, and the
//! database of `GATEHOUSE_TEST_BACKEND` (PostgreSQL in CI; SQLite shares a file in WAL mode).

use crate::helpers::{ADMIN, ADMIN_PASSWORD, Api, MASTER_KEY, TestDatabase, Tokens};
use serde_json::{Value, json};
use std::ops::Deref;
use std::process::{Child, Command, Stdio};
use std::time::Duration;

const PASSWORD: &str = "a long passphrase";

/// One `gatehouse` process on a free port, called through the same [`Api`] as the in-process
/// app (`Deref`, so `a.login(..)` and `a.client` read alike in both kinds of test).
pub(crate) struct Instance {
    child: Child,
    api: Api,
}

impl Instance {
    async fn start(db: &TestDatabase) -> Self {
        Self::start_with(db, &[]).await
    }

    /// An instance with these variables on top of the defaults.
    pub(crate) async fn start_with(db: &TestDatabase, vars: &[(&str, &str)]) -> Self {
        let port = std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
        let child = Command::new(env!("CARGO_BIN_EXE_gatehouse"))
            .current_dir(db.dir())
            .env_clear()
            .env("PATH", std::env::var("PATH").unwrap_or_default())
            .env("RUST_LOG", "error")
            .env("LEPTOS_OUTPUT_NAME", "gatehouse")
            .env("LEPTOS_SITE_ADDR", format!("127.0.0.1:{port}"))
            .env("GATEHOUSE_DATABASE_URL", &db.url)
            .env("GATEHOUSE_MASTER_KEY", MASTER_KEY)
            .env("GATEHOUSE_ADMIN_USERNAME", ADMIN)
            .env("GATEHOUSE_ADMIN_PASSWORD", ADMIN_PASSWORD)
            .env("GATEHOUSE_LIMIT_LOGIN_PER_ACCOUNT", "3")
            .env("GATEHOUSE_LIMIT_LOGIN_PER_ADDRESS", "0")
            .env("GATEHOUSE_LIMIT_REGISTER_PER_ADDRESS", "0")
            .envs(vars.iter().copied())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("start gatehouse");
        let instance = Self { child, api: Api::new(format!("http://127.0.0.1:{port}")) };
        for _ in 0..200 {
            if let Ok(r) = instance.client.get(instance.url("/api/v1/health")).send().await
                && r.status() == 200
            {
                return instance;
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        panic!("gatehouse on port {port} never became healthy");
    }
}

impl Deref for Instance {
    type Target = Api;

    fn deref(&self) -> &Api {
        &self.api
    }
}

impl Drop for Instance {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

async fn two_instances() -> (TestDatabase, Instance, Instance) {
    let db = TestDatabase::create().await;
    // Started one after the other: both run the migrations, the second finds them done.
    let a = Instance::start(&db).await;
    let b = Instance::start(&db).await;
    (db, a, b)
}

#[tokio::test]
async fn tokens_logins_and_replays_are_shared_by_every_instance() {
    let (_db, a, b) = two_instances().await;
    assert_eq!(a.register(json!({"username": "alice", "password": PASSWORD})).await.status(), 201);

    // A token from A works on B, and B rotates A's refresh token.
    let Tokens { access, refresh } = a.tokens("alice", PASSWORD).await;
    assert_eq!(b.me(&access).await.status(), 200);
    let rotated = b.refresh(&refresh).await;
    assert_eq!(rotated.status(), 200);
    let rotated: Value = rotated.json().await.unwrap();
    // The old token replayed on A is caught, and ends the login everywhere.
    assert_eq!(a.refresh(&refresh).await.status(), 400);
    assert_eq!(b.me(rotated["access_token"].as_str().unwrap()).await.status(), 401);
    assert_eq!(b.refresh(rotated["refresh_token"].as_str().unwrap()).await.status(), 400);

    // Revoke (logout) on B ends a login made on A.
    let Tokens { access, refresh } = a.tokens("alice", PASSWORD).await;
    let revoked = b.client.post(b.url("/api/v1/auth/revoke")).form(&[("token", refresh.as_str())]).send().await;
    assert_eq!(revoked.unwrap().status(), 200);
    assert_eq!(a.me(&access).await.status(), 401);

    // Sign-out-everywhere on A ends a login made on B.
    let on_a = a.tokens("alice", PASSWORD).await.access;
    let on_b = b.tokens("alice", PASSWORD).await.access;
    let everywhere = a.client.post(a.url("/api/v1/users/me/sign-out-everywhere")).bearer_auth(&on_a).send().await;
    assert_eq!(everywhere.unwrap().status(), 204);
    assert_eq!(b.me(&on_b).await.status(), 401);
}

#[tokio::test]
async fn admin_changes_and_throttle_counts_are_seen_by_the_other_instance() {
    let (_db, a, b) = two_instances().await;
    let bob: Value = a.register(json!({"username": "bob", "password": PASSWORD})).await.json().await.unwrap();
    let bob_path = a.url(&format!("/api/v1/users/{}", bob["id"].as_str().unwrap()));
    let admin = a.tokens(ADMIN, ADMIN_PASSWORD).await.access;
    let bob_on_b = b.tokens("bob", PASSWORD).await.access;
    let list = |token: String| {
        let b = &b;
        async move { b.client.get(b.url("/api/v1/users")).bearer_auth(token).send().await.unwrap().status() }
    };

    // A role change through A: bob's token on B is an admin's at its next request, then not.
    let patch = |body: Value| a.client.patch(&bob_path).bearer_auth(&admin).json(&body).send();
    assert_eq!(list(bob_on_b.clone()).await, 403);
    assert_eq!(patch(json!({"role": "admin"})).await.unwrap().status(), 200);
    assert_eq!(list(bob_on_b.clone()).await, 200);
    assert_eq!(patch(json!({"role": "user"})).await.unwrap().status(), 200);
    assert_eq!(list(bob_on_b.clone()).await, 403);

    // Disabling through A rejects bob's token on B at once.
    assert_eq!(patch(json!({"disabled": true})).await.unwrap().status(), 200);
    assert_eq!(b.me(&bob_on_b).await.status(), 403);
    assert_eq!(b.login("bob", PASSWORD).await.status(), 400);
    assert_eq!(patch(json!({"disabled": false})).await.unwrap().status(), 200);
    assert_eq!(b.login("bob", PASSWORD).await.status(), 200);

    // Failures counted on either instance add up: the limit is 3 in all.
    assert_eq!(a.login("bob", "wrong passphrase").await.status(), 400);
    assert_eq!(b.login("bob", "wrong passphrase").await.status(), 400);
    assert_eq!(a.login("bob", "wrong passphrase").await.status(), 400);
    assert_eq!(b.login("bob", PASSWORD).await.status(), 429);
    assert_eq!(a.login("bob", PASSWORD).await.status(), 429);
}
