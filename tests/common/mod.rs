//! Test harness: the real router on an ephemeral port, against a fresh database of the
//! backend chosen by `GATEHOUSE_TEST_BACKEND` (`sqlite`, the default, or `postgres`).
#![allow(dead_code)]

use gatehouse::{config::Config, server};
use leptos::config::LeptosOptions;
use reqwest::{Client, Response, StatusCode};
use serde_json::{Value, json};
use std::{collections::HashMap, path::PathBuf};

pub const SECRET: &str = "integration-test-secret-0123456789abcdef";
pub const ADMIN: &str = "root_admin";
pub const ADMIN_PASSWORD: &str = "admin-passphrase-42";

pub fn postgres_url() -> String {
    std::env::var("GATEHOUSE_TEST_POSTGRES_URL").unwrap_or_else(|_| "postgres://postgres@127.0.0.1:5432/test".into())
}

pub fn backend() -> String {
    std::env::var("GATEHOUSE_TEST_BACKEND").unwrap_or_else(|_| "sqlite".into())
}

/// A fresh, empty database; dropped (PostgreSQL) or deleted (SQLite) with the value.
pub struct TestDatabase {
    pub url: String,
    dir: PathBuf,
    pg_name: Option<String>,
}

impl TestDatabase {
    pub async fn create() -> Self {
        let dir = std::env::temp_dir().join(format!("gatehouse-test-{}", uuid::Uuid::new_v4().simple()));
        std::fs::create_dir_all(&dir).unwrap();
        match backend().as_str() {
            "sqlite" => Self { url: format!("sqlite://{}", dir.join("test.db").display()), dir, pg_name: None },
            "postgres" => {
                let admin_url = postgres_url();
                let name = format!("gatehouse_test_{}", uuid::Uuid::new_v4().simple());
                let pool = sqlx::PgPool::connect(&admin_url)
                    .await
                    .unwrap_or_else(|e| panic!("PostgreSQL at {admin_url} is unreachable: {e}"));
                sqlx::query(sqlx::AssertSqlSafe(format!("CREATE DATABASE {name}"))).execute(&pool).await.unwrap();
                pool.close().await;
                let base = admin_url.rsplit_once('/').map_or(admin_url.as_str(), |(b, _)| b).to_owned();
                Self { url: format!("{base}/{name}"), dir, pg_name: Some(name) }
            }
            other => panic!("GATEHOUSE_TEST_BACKEND must be sqlite or postgres, not {other:?}"),
        }
    }
}

impl TestDatabase {
    /// A private scratch directory that lives as long as the database.
    pub fn dir(&self) -> &std::path::Path {
        &self.dir
    }
}

impl Drop for TestDatabase {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.dir);
        if let Some(name) = self.pg_name.take() {
            // Drop runs inside the test's runtime: do the async clean-up on a thread of its own.
            let admin_url = postgres_url();
            let _ = std::thread::spawn(move || {
                let rt = tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap();
                rt.block_on(async {
                    if let Ok(pool) = sqlx::PgPool::connect(&admin_url).await {
                        let sql = format!("DROP DATABASE IF EXISTS {name} WITH (FORCE)");
                        let _ = sqlx::query(sqlx::AssertSqlSafe(sql)).execute(&pool).await;
                        pool.close().await;
                    }
                });
            })
            .join();
        }
    }
}

pub struct TestApp {
    pub base: String,
    pub client: Client,
    /// The database URL, for tests that look at or prepare rows themselves.
    pub db_url: String,
    /// The app's services, for tests that call one directly (e.g. with a chosen clock).
    pub auth: std::sync::Arc<gatehouse::auth::service::AuthService>,
    /// Owned by the first app on a database; apps sharing it hold `None`.
    db: Option<TestDatabase>,
}

impl TestApp {
    /// An app with the admin `ADMIN` and a 15-minute access token.
    pub async fn spawn() -> Self {
        Self::spawn_with(&[]).await
    }

    /// An app configured by these variables on top of the test defaults. Throttling is off
    /// unless a test turns it on (most tests make many logins and sign-ups from one address).
    pub async fn spawn_with(vars: &[(&str, &str)]) -> Self {
        let db = TestDatabase::create().await;
        let mut app = Self::serve(&db.url, &db.dir, vars).await;
        app.db = Some(db);
        app
    }

    /// A second instance on this app's database (for example with other settings).
    pub async fn spawn_sharing(&self, vars: &[(&str, &str)]) -> Self {
        let dir = &self.db.as_ref().expect("the owning app").dir;
        Self::serve(&self.db_url, dir, vars).await
    }

    async fn serve(db_url: &str, dir: &std::path::Path, vars: &[(&str, &str)]) -> Self {
        let mut env: HashMap<String, String> = HashMap::from([
            ("GATEHOUSE_DATABASE_URL".into(), db_url.to_owned()),
            ("GATEHOUSE_JWT_SECRET".into(), SECRET.into()),
            ("GATEHOUSE_ADMIN_USERNAME".into(), ADMIN.into()),
            ("GATEHOUSE_ADMIN_PASSWORD".into(), ADMIN_PASSWORD.into()),
            ("GATEHOUSE_DATABASE_POOL_SIZE".into(), "8".into()),
            ("GATEHOUSE_LIMIT_LOGIN_PER_ACCOUNT".into(), "0".into()),
            ("GATEHOUSE_LIMIT_LOGIN_PER_ADDRESS".into(), "0".into()),
            ("GATEHOUSE_LIMIT_REGISTER_PER_ADDRESS".into(), "0".into()),
        ]);
        for (k, v) in vars {
            env.insert((*k).into(), (*v).into());
        }
        let config = Config::from_lookup(|k| env.get(k).cloned(), dir).expect("test configuration");
        let options = LeptosOptions::builder().output_name("gatehouse").site_root("target/site").build();
        let state = server::build_state(&config, options).await.expect("state");
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let auth = std::sync::Arc::clone(&state.auth);
        let router = server::build_router(state);
        tokio::spawn(async move {
            axum::serve(listener, router.into_make_service_with_connect_info::<std::net::SocketAddr>()).await.unwrap();
        });
        Self { base: format!("http://{addr}"), client: Client::new(), db_url: db_url.to_owned(), auth, db: None }
    }

    pub fn url(&self, path: &str) -> String {
        format!("{}{}", self.base, path)
    }

    pub async fn register(&self, body: Value) -> Response {
        self.client.post(self.url("/api/v1/auth/register")).json(&body).send().await.unwrap()
    }

    /// Registers `username` with `password`, asserting success; returns the user object.
    pub async fn create_user(&self, username: &str, password: &str) -> Value {
        let response = self.register(json!({ "username": username, "password": password })).await;
        assert_eq!(response.status(), StatusCode::CREATED, "registering {username}");
        response.json().await.unwrap()
    }

    pub async fn token(&self, form: &[(&str, &str)]) -> Response {
        self.client.post(self.url("/api/v1/auth/token")).form(form).send().await.unwrap()
    }

    pub async fn login(&self, username: &str, password: &str) -> Response {
        self.token(&[("grant_type", "password"), ("username", username), ("password", password)]).await
    }

    /// Logs in, asserting success; returns the token response.
    pub async fn tokens(&self, username: &str, password: &str) -> Tokens {
        let response = self.login(username, password).await;
        assert_eq!(response.status(), StatusCode::OK, "logging in {username}");
        let body: Value = response.json().await.unwrap();
        Tokens {
            access: body["access_token"].as_str().unwrap().to_owned(),
            refresh: body["refresh_token"].as_str().unwrap().to_owned(),
        }
    }

    pub async fn admin_tokens(&self) -> Tokens {
        self.tokens(ADMIN, ADMIN_PASSWORD).await
    }

    pub async fn refresh(&self, refresh_token: &str) -> Response {
        self.token(&[("grant_type", "refresh_token"), ("refresh_token", refresh_token)]).await
    }

    pub async fn get(&self, path: &str, access: &str) -> Response {
        self.client.get(self.url(path)).bearer_auth(access).send().await.unwrap()
    }

    pub async fn patch(&self, path: &str, access: &str, body: Value) -> Response {
        self.client.patch(self.url(path)).bearer_auth(access).json(&body).send().await.unwrap()
    }

    pub async fn me(&self, access: &str) -> Response {
        self.get("/api/v1/users/me", access).await
    }
}

#[derive(Clone, Debug)]
pub struct Tokens {
    pub access: String,
    pub refresh: String,
}

/// Asserts the documented error shape and returns the body.
pub async fn expect_error(response: Response, status: u16, code: &str) -> Value {
    assert_eq!(response.status().as_u16(), status, "status");
    let content_type = response.headers().get("content-type").and_then(|v| v.to_str().ok()).unwrap_or("").to_owned();
    assert!(content_type.starts_with("application/json"), "content type {content_type:?}");
    let body: Value = response.json().await.unwrap();
    assert_eq!(body["error"], code, "error code in {body}");
    assert!(body["error_description"].as_str().is_some_and(|d| !d.is_empty()), "description in {body}");
    body
}

pub fn www_authenticate(response: &Response) -> String {
    response.headers().get("www-authenticate").and_then(|v| v.to_str().ok()).unwrap_or("").to_owned()
}
