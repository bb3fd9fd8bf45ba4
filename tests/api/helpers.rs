//! Test harness: the real server on an ephemeral port, against a fresh database of the
//! backend chosen by `GATEHOUSE_TEST_BACKEND` (`sqlite`, the default, or `postgres`), and
//! one HTTP client for it and for the real processes of the multi-instance tests.

use gatehouse::{config::Config, db::Db, server};
use leptos::config::LeptosOptions;
use reqwest::{Client, Response, StatusCode};
use serde_json::{Value, json};
use std::{collections::HashMap, ops::Deref, path::PathBuf, sync::Arc};

/// The HS256 secret of the tests that run with a shared secret.
pub const SECRET: &str = "integration-test-secret-0123456789abcdef";
/// Seals the signing keys of every test app (EdDSA, the default algorithm).
pub const MASTER_KEY: &str = "integration-test-master-key-0123456789abcdef";
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

/// The JSON API of one running server, whether in this process ([`TestApp`]) or a real
/// `gatehouse` process (the multi-instance tests): the same calls, the same assertions.
#[derive(Clone, Debug)]
pub struct Api {
    pub base: String,
    pub client: Client,
}

impl Api {
    /// A client for the server at `base` (`http://host:port`, no trailing slash).
    pub fn new(base: String) -> Self {
        Self { base, client: Client::new() }
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

    /// Revokes a refresh token (RFC 7009): that login ends.
    pub async fn revoke(&self, refresh_token: &str) -> Response {
        self.client.post(self.url("/api/v1/auth/revoke")).form(&[("token", refresh_token)]).send().await.unwrap()
    }

    pub async fn get(&self, path: &str, access: &str) -> Response {
        self.client.get(self.url(path)).bearer_auth(access).send().await.unwrap()
    }

    /// A POST without a body, as `access`.
    pub async fn post(&self, path: &str, access: &str) -> Response {
        self.client.post(self.url(path)).bearer_auth(access).send().await.unwrap()
    }

    pub async fn patch(&self, path: &str, access: &str, body: Value) -> Response {
        self.client.patch(self.url(path)).bearer_auth(access).json(&body).send().await.unwrap()
    }

    pub async fn me(&self, access: &str) -> Response {
        self.get("/api/v1/users/me", access).await
    }

    /// A POST with a JSON body, as `access`.
    pub async fn post_json(&self, path: &str, access: &str, body: Value) -> Response {
        self.client.post(self.url(path)).bearer_auth(access).json(&body).send().await.unwrap()
    }

    /// A DELETE without a body, as `access`.
    pub async fn delete(&self, path: &str, access: &str) -> Response {
        self.client.delete(self.url(path)).bearer_auth(access).send().await.unwrap()
    }

    /// A DELETE with a JSON body, as `access` (`DELETE /users/me` takes the password).
    pub async fn delete_json(&self, path: &str, access: &str, body: Value) -> Response {
        self.client.delete(self.url(path)).bearer_auth(access).json(&body).send().await.unwrap()
    }

    /// Logs in sending this `User-Agent`, asserting success (the login records it).
    pub async fn tokens_with_agent(&self, username: &str, password: &str, user_agent: &str) -> Tokens {
        let response = self
            .client
            .post(self.url("/api/v1/auth/token"))
            .header("user-agent", user_agent)
            .form(&[("grant_type", "password"), ("username", username), ("password", password)])
            .send()
            .await
            .unwrap();
        assert_eq!(response.status(), StatusCode::OK, "logging in {username}");
        let body: Value = response.json().await.unwrap();
        Tokens {
            access: body["access_token"].as_str().unwrap().to_owned(),
            refresh: body["refresh_token"].as_str().unwrap().to_owned(),
        }
    }

    /// Makes a password reset link for `user_id` as the admin `admin_access`, asserting 201;
    /// returns the answer and the token taken from the link's fragment.
    pub async fn reset_link(&self, admin_access: &str, user_id: &str) -> (Value, String) {
        let response = self.post(&format!("/api/v1/users/{user_id}/password-reset"), admin_access).await;
        assert_eq!(response.status(), StatusCode::CREATED, "a reset link for {user_id}");
        let body: Value = response.json().await.unwrap();
        let url = body["reset_url"].as_str().unwrap_or_else(|| panic!("reset_url in {body}"));
        let token = url.split_once("#token=").unwrap_or_else(|| panic!("#token= in {url}")).1.to_owned();
        (body, token)
    }

    /// Spends a reset token (no bearer token: the person holding the link has none).
    pub async fn reset_password(&self, token: &str, new_password: &str) -> Response {
        self.client
            .post(self.url("/api/v1/auth/password-reset"))
            .json(&json!({ "token": token, "new_password": new_password }))
            .send()
            .await
            .unwrap()
    }

    /// The audit log's events for `query` (e.g. `type=logout&limit=200`) read by the admin
    /// `admin_access`, asserting 200: one page, newest first.
    pub async fn audit(&self, admin_access: &str, query: &str) -> Vec<Value> {
        let response = self.get(&format!("/api/v1/audit?{query}"), admin_access).await;
        assert_eq!(response.status(), StatusCode::OK, "GET /api/v1/audit?{query}");
        let page: Value = response.json().await.unwrap();
        page["items"].as_array().unwrap_or_else(|| panic!("items in {page}")).clone()
    }
}

/// Runs `$body` with `$pool` bound to the pool of `$db`, whichever backend it is: the one
/// place the tests fork on the backend (the same body compiles against both drivers).
macro_rules! with_pool {
    ($db:expr, $pool:ident => $body:expr) => {
        match $db {
            Db::Sqlite($pool, _) => $body,
            Db::Postgres($pool) => $body,
        }
    };
}

/// The app in this process, served on an ephemeral port; its [`Api`] is reached through
/// `Deref`, so `app.login(..)`, `app.url(..)` and `app.client` read as before.
pub struct TestApp {
    pub api: Api,
    /// The app's own database pool, for tests that look at or prepare rows themselves.
    pub db: Db,
    /// The app's services, for tests that call one directly (e.g. with a chosen clock).
    pub auth: Arc<gatehouse::auth::service::AuthService>,
    /// Owned by the first app on a database; apps sharing it hold `None`.
    database: Option<TestDatabase>,
}

impl Deref for TestApp {
    type Target = Api;

    fn deref(&self) -> &Api {
        &self.api
    }
}

impl TestApp {
    /// An app with the admin `ADMIN` and a 15-minute access token.
    pub async fn spawn() -> Self {
        Self::spawn_with(&[]).await
    }

    /// An app configured by these variables on top of the test defaults. Throttling is off
    /// unless a test turns it on (most tests make many logins and sign-ups from one address).
    /// An app on `database` reached through `url` (a proxy in front of it, say); the test
    /// keeps the database.
    pub async fn spawn_on(database: &TestDatabase, url: &str) -> Self {
        Self::serve(url, database.dir(), &[]).await.unwrap_or_else(|line| panic!("start-up failed: {line}"))
    }

    pub async fn spawn_with(vars: &[(&str, &str)]) -> Self {
        let database = TestDatabase::create().await;
        let mut app = Self::serve(&database.url, database.dir(), vars)
            .await
            .unwrap_or_else(|line| panic!("start-up failed: {line}"));
        app.database = Some(database);
        app
    }

    /// A second instance on this app's database (for example with other settings).
    pub async fn spawn_sharing(&self, vars: &[(&str, &str)]) -> Self {
        self.try_spawn_sharing(vars).await.unwrap_or_else(|line| panic!("start-up failed: {line}"))
    }

    /// The URL of this app's database, for the binary's subcommands.
    pub fn database_url(&self) -> &str {
        &self.database.as_ref().expect("the owning app").url
    }

    /// A second instance on this app's database, or the one line start-up stopped with.
    pub async fn try_spawn_sharing(&self, vars: &[(&str, &str)]) -> Result<Self, String> {
        let database = self.database.as_ref().expect("the owning app");
        Self::serve(&database.url, database.dir(), vars).await
    }

    /// Builds the state as `main` does and serves it through the same `server::serve`, so the
    /// tests exercise the router, middleware and connect-info of the real binary.
    async fn serve(db_url: &str, dir: &std::path::Path, vars: &[(&str, &str)]) -> Result<Self, String> {
        let mut env: HashMap<String, String> = HashMap::from([
            ("GATEHOUSE_DATABASE_URL".into(), db_url.to_owned()),
            ("GATEHOUSE_MASTER_KEY".into(), MASTER_KEY.into()),
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
        let config = Config::from_lookup(|k| env.get(k).cloned(), dir).map_err(|e| e.to_string())?;
        let options = LeptosOptions::builder().output_name("gatehouse").site_root("target/site").build();
        let state = server::build_state(&config, options).await?;
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let db = state.db.clone();
        let auth = Arc::clone(&state.auth);
        // Never shut down: the server lives until the test's runtime ends.
        tokio::spawn(async move {
            server::serve(listener, state, std::future::pending::<()>()).await.expect("the test server");
        });
        Ok(Self { api: Api::new(format!("http://{addr}")), db, auth, database: None })
    }

    /// The first column of the one row `sql` returns, as an integer (e.g. a `COUNT(*)`).
    pub async fn sql_i64(&self, sql: &str) -> i64 {
        with_pool!(&self.db, pool => {
            let (value,): (i64,) = sqlx::query_as(sqlx::AssertSqlSafe(sql.to_owned()))
                .fetch_one(pool)
                .await
                .unwrap_or_else(|e| panic!("{sql}: {e}"));
            value
        })
    }

    /// The first column of the one row `sql` returns, as text.
    pub async fn sql_string(&self, sql: &str) -> String {
        with_pool!(&self.db, pool => {
            let (value,): (String,) = sqlx::query_as(sqlx::AssertSqlSafe(sql.to_owned()))
                .fetch_one(pool)
                .await
                .unwrap_or_else(|e| panic!("{sql}: {e}"));
            value
        })
    }

    /// Runs `statement` in a transaction held open for `hold`, then commits it: what the
    /// statement locks (a row on PostgreSQL, every write on SQLite) stays locked that long,
    /// so that requests sent meanwhile get past their reads and queue at their first write.
    pub async fn hold_lock(&self, statement: &str, hold: std::time::Duration) {
        with_pool!(&self.db, pool => {
            let mut tx = pool.begin().await.unwrap();
            sqlx::query(sqlx::AssertSqlSafe(statement.to_owned()))
                .execute(&mut *tx)
                .await
                .unwrap_or_else(|e| panic!("{statement}: {e}"));
            tokio::time::sleep(hold).await;
            tx.commit().await.unwrap();
        })
    }

    /// Runs a statement that returns no rows; returns how many rows it changed.
    pub async fn sql_execute(&self, sql: &str) -> u64 {
        with_pool!(&self.db, pool => {
            sqlx::query(sqlx::AssertSqlSafe(sql.to_owned()))
                .execute(pool)
                .await
                .unwrap_or_else(|e| panic!("{sql}: {e}"))
                .rows_affected()
        })
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

/// An RFC 3339 time of a response (`created_at`, `expires_at`, an event's `at`), parsed.
pub fn rfc3339(value: &Value) -> time::OffsetDateTime {
    let text = value.as_str().unwrap_or_else(|| panic!("an RFC 3339 string, not {value}"));
    time::OffsetDateTime::parse(text, &time::format_description::well_known::Rfc3339)
        .unwrap_or_else(|e| panic!("{text:?} is not RFC 3339: {e}"))
}

/// The `Retry-After` seconds of a throttled answer (panics when there is none).
pub fn retry_after(response: &Response) -> u64 {
    response
        .headers()
        .get("retry-after")
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse().ok())
        .unwrap_or_else(|| panic!("Retry-After on {}", response.status()))
}
