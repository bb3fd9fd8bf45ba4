//! Registration, the user object, request parsing and the error shape.

use crate::helpers::{TestApp, expect_error};
use serde_json::{Value, json};

#[tokio::test]
async fn registering_returns_201_and_a_user_object_without_secrets() {
    let app = TestApp::spawn().await;
    let response = app
        .register(json!({"username": "Alice", "password": "a long passphrase", "email": "alice@example.com", "full_name": "Alice Liddell"}))
        .await;
    assert_eq!(response.status(), 201);
    assert_eq!(response.headers()["cache-control"], "no-store");
    let user: Value = response.json().await.unwrap();
    assert!(uuid::Uuid::parse_str(user["id"].as_str().unwrap()).is_ok());
    assert_eq!(user["username"], "Alice");
    assert_eq!(user["email"], "alice@example.com");
    assert_eq!(user["full_name"], "Alice Liddell");
    assert_eq!(user["role"], "user");
    assert_eq!(user["disabled"], false);
    assert!(time_is_rfc3339(user["created_at"].as_str().unwrap()));
    assert_eq!(user["mfa_enabled"], false);
    let keys: Vec<&String> = user.as_object().unwrap().keys().collect();
    assert_eq!(keys.len(), 8, "exactly the documented fields: {keys:?}");
    let text = user.to_string();
    assert!(!text.contains("passphrase") && !text.contains("argon2"));
}

fn time_is_rfc3339(s: &str) -> bool {
    s.len() >= 20 && s.as_bytes()[4] == b'-' && s.contains('T') && (s.ends_with('Z') || s.contains('+'))
}

#[tokio::test]
async fn optional_fields_may_be_absent_null_or_empty() {
    let app = TestApp::spawn().await;
    for (name, extra) in [
        ("bob_one", json!({})),
        ("bob_two", json!({"email": null, "full_name": null})),
        ("bob_three", json!({"email": "", "full_name": ""})),
    ] {
        let mut body = json!({"username": name, "password": "a long passphrase"});
        body.as_object_mut().unwrap().extend(extra.as_object().unwrap().clone());
        let response = app.register(body).await;
        assert_eq!(response.status(), 201, "{name}");
        let user: Value = response.json().await.unwrap();
        assert_eq!(user["email"], Value::Null);
        assert_eq!(user["full_name"], Value::Null);
    }
}

#[tokio::test]
async fn invalid_fields_are_422_with_a_message_per_field() {
    let app = TestApp::spawn().await;
    let response = app.register(json!({"username": "a b", "password": "short", "email": "nope"})).await;
    let body = expect_error(response, 422, "invalid_request").await;
    for field in ["username", "password", "email"] {
        assert!(body["fields"][field].as_str().is_some_and(|m| !m.is_empty()), "{field} in {body}");
    }
}

#[tokio::test]
async fn username_rules_are_enforced() {
    let app = TestApp::spawn().await;
    let long = "x".repeat(33);
    for bad in ["ab", long.as_str(), " alice", "alice ", "al!ce", "ünïcode"] {
        let body = expect_error(
            app.register(json!({"username": bad, "password": "a long passphrase"})).await,
            422,
            "invalid_request",
        )
        .await;
        assert!(body["fields"]["username"].is_string(), "{bad:?}: {body}");
    }
    for good in ["abc", "a.b-c_d", &"y".repeat(32)] {
        assert_eq!(
            app.register(json!({"username": good, "password": "a long passphrase"})).await.status(),
            201,
            "{good}"
        );
    }
}

#[tokio::test]
async fn password_policy_counts_characters_and_refuses_common_and_username_passwords() {
    let app = TestApp::spawn().await;
    let cases = [
        ("carol", "1234567"),           // too short
        ("carol", &"p".repeat(129)),    // too long
        ("carol", "password1"),         // among the most common
        ("carol", "BASEBALL1"),         // common, ignoring case
        ("carol_smith", "Carol_Smith"), // equals the username, ignoring case
        // The policy judges the NFKC form, the one that is hashed and would log in.
        ("carol", "ｐａｓｓｗｏｒｄ１"),           // full-width "password1"
        ("carol_smith", "ｃａｒｏｌ＿ｓｍｉｔｈ"), // full-width username
    ];
    for (username, password) in cases {
        let body = expect_error(
            app.register(json!({"username": username, "password": password})).await,
            422,
            "invalid_request",
        )
        .await;
        assert!(body["fields"]["password"].is_string(), "{password:?}: {body}");
    }
    // Eight characters of two bytes each are eight characters; 128 characters are allowed.
    assert_eq!(app.register(json!({"username": "dave", "password": "éèêëēėęě"})).await.status(), 201);
    assert_eq!(app.register(json!({"username": "erin", "password": "q".repeat(128)})).await.status(), 201);
    // Five ligatures normalise to ten letters: long enough, and they log in as typed or not.
    assert_eq!(app.register(json!({"username": "fiona", "password": "ﬁﬁﬁﬁﬁ"})).await.status(), 201);
    assert_eq!(app.login("fiona", "fififififi").await.status(), 200);
}

#[tokio::test]
async fn usernames_are_unique_ignoring_case_and_either_casing_logs_in() {
    let app = TestApp::spawn().await;
    app.create_user("Alice", "a long passphrase").await;
    let body = expect_error(
        app.register(json!({"username": "aLiCe", "password": "another passphrase"})).await,
        409,
        "conflict",
    )
    .await;
    assert!(body["error_description"].as_str().unwrap().to_lowercase().contains("username"));
    assert_eq!(app.login("alice", "a long passphrase").await.status(), 200);
    assert_eq!(app.login("ALICE", "a long passphrase").await.status(), 200);
}

#[tokio::test]
async fn emails_are_unique_ignoring_case() {
    let app = TestApp::spawn().await;
    assert_eq!(
        app.register(json!({"username": "one", "password": "a long passphrase", "email": "Same@Example.com"}))
            .await
            .status(),
        201
    );
    let response =
        app.register(json!({"username": "two", "password": "a long passphrase", "email": "same@example.COM"})).await;
    let body = expect_error(response, 409, "conflict").await;
    assert!(body["error_description"].as_str().unwrap().to_lowercase().contains("email"));

    // Beyond ASCII too, on both databases (SQLite's own lower() would see two addresses),
    // and the address is kept as typed.
    let first = app
        .register(json!({"username": "three", "password": "a long passphrase", "email": "ÉLODIE@Example.com"}))
        .await;
    assert_eq!(first.status(), 201);
    assert_eq!(first.json::<Value>().await.unwrap()["email"], "ÉLODIE@Example.com");
    let response =
        app.register(json!({"username": "four", "password": "a long passphrase", "email": "élodie@example.com"})).await;
    expect_error(response, 409, "conflict").await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn two_concurrent_registrations_of_one_email_in_different_case_create_one_account() {
    let app = std::sync::Arc::new(TestApp::spawn().await);
    let statuses = futures_util::future::join_all(
        ["Ünïque@example.com", "üNÏQUE@EXAMPLE.COM"].into_iter().enumerate().map(|(i, email)| {
            let app = app.clone();
            async move {
                let body = json!({"username": format!("racer{i}"), "password": "a long passphrase", "email": email});
                app.register(body).await.status().as_u16()
            }
        }),
    )
    .await;
    let mut sorted = statuses.clone();
    sorted.sort_unstable();
    assert_eq!(sorted, [201, 409], "{statuses:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn twenty_concurrent_registrations_of_one_username_create_exactly_one_account() {
    let app = std::sync::Arc::new(TestApp::spawn().await);
    let mut tasks = Vec::new();
    for i in 0..20 {
        let app = app.clone();
        tasks.push(tokio::spawn(async move {
            let name = if i % 2 == 0 { "racer" } else { "RACER" };
            app.register(json!({"username": name, "password": format!("passphrase number {i}")}))
                .await
                .status()
                .as_u16()
        }));
    }
    let mut statuses = Vec::new();
    for t in tasks {
        statuses.push(t.await.unwrap());
    }
    assert_eq!(statuses.iter().filter(|s| **s == 201).count(), 1, "{statuses:?}");
    assert_eq!(statuses.iter().filter(|s| **s == 409).count(), 19, "{statuses:?}");
    let admin = app.admin_tokens().await;
    let page: Value = app.get("/api/v1/users?q=racer", &admin.access).await.json().await.unwrap();
    assert_eq!(page["total"], 1);
}

#[tokio::test]
async fn malformed_json_is_400_and_wrong_shapes_are_422() {
    let app = TestApp::spawn().await;
    let url = app.url("/api/v1/auth/register");
    let send = |body: &'static str| app.client.post(&url).header("content-type", "application/json").body(body).send();
    expect_error(send("{\"username\": ").await.unwrap(), 400, "invalid_request").await;
    expect_error(send("[1, 2]").await.unwrap(), 422, "invalid_request").await;
    let body = expect_error(send("{\"username\": 5, \"password\": true}").await.unwrap(), 422, "invalid_request").await;
    assert!(body["fields"]["username"].is_string() && body["fields"]["password"].is_string());
    let body = expect_error(send("{}").await.unwrap(), 422, "invalid_request").await;
    assert!(body["fields"]["username"].is_string() && body["fields"]["password"].is_string());
    let body = expect_error(
        send("{\"username\":\"zed\",\"password\":\"a long passphrase\",\"role\":\"admin\"}").await.unwrap(),
        422,
        "invalid_request",
    )
    .await;
    assert!(body["fields"]["role"].is_string(), "unknown fields are refused, not ignored: {body}");
}

#[tokio::test]
async fn a_wrong_content_type_is_415() {
    let app = TestApp::spawn().await;
    let response = app
        .client
        .post(app.url("/api/v1/auth/register"))
        .header("content-type", "text/plain")
        .body("{\"username\":\"x\"}")
        .send()
        .await
        .unwrap();
    expect_error(response, 415, "invalid_request").await;
    let response = app.client.post(app.url("/api/v1/auth/token")).json(&json!({"username": "x"})).send().await.unwrap();
    expect_error(response, 415, "invalid_request").await;
}

#[tokio::test]
async fn bodies_over_64_kib_are_413_everywhere_even_without_a_length() {
    let app = TestApp::spawn().await;
    let big = format!("{{\"username\":\"{}\"}}", "a".repeat(70 * 1024));
    for path in ["/api/v1/auth/register", "/api/v1/auth/token", "/api/v1/auth/revoke"] {
        let response = app
            .client
            .post(app.url(path))
            .header("content-type", "application/json")
            .body(big.clone())
            .send()
            .await
            .unwrap();
        expect_error(response, 413, "invalid_request").await;
    }
    // Chunked: no Content-Length announced.
    let chunks: Vec<Result<Vec<u8>, std::io::Error>> = (0..70).map(|_| Ok(vec![b'a'; 1024])).collect();
    let stream = futures_util::stream::iter(chunks);
    let response = app
        .client
        .post(app.url("/api/v1/auth/token"))
        .header("content-type", "application/x-www-form-urlencoded")
        .body(reqwest::Body::wrap_stream(stream))
        .send()
        .await
        .unwrap();
    expect_error(response, 413, "invalid_request").await;
    // Just under the limit is parsed normally (and refused for its content, not its size).
    let small = format!("{{\"username\":\"{}\",\"password\":\"a long passphrase\"}}", "a".repeat(60 * 1024));
    let response = app
        .client
        .post(app.url("/api/v1/auth/register"))
        .header("content-type", "application/json")
        .body(small)
        .send()
        .await
        .unwrap();
    expect_error(response, 422, "invalid_request").await;
}

#[tokio::test]
async fn unknown_api_paths_and_methods_answer_json() {
    let app = TestApp::spawn().await;
    expect_error(app.client.get(app.url("/api/v1/nope")).send().await.unwrap(), 404, "not_found").await;
    expect_error(app.client.put(app.url("/api/v1/users/me")).send().await.unwrap(), 405, "method_not_allowed").await;
}

#[tokio::test]
async fn malformed_paths_queries_and_headers_answer_the_error_json_on_every_route() {
    let app = TestApp::spawn().await;
    let admin = app.admin_tokens().await;
    let bearer = format!("Bearer {}", admin.access);
    let auth = "authorization";
    let bearer = bearer.as_bytes();
    let cases: [(&str, &str, &str, &[u8], u16); 8] = [
        ("GET", "/api/v1/users/%FF", auth, bearer, 404),
        ("GET", "/api/v1/users?limit=%FF", auth, bearer, 422),
        ("GET", "/api/v1/users?limit=ten&offset=-1", auth, bearer, 422),
        ("GET", "/api/v1/users?q=a&q=b", auth, bearer, 400),
        ("GET", "/api/v1/users/me", auth, b"Bearer \xff\xfe", 401),
        ("POST", "/api/v1/auth/token", "content-type", b"application/x-www-form-urlencoded; charset=\xff", 415),
        ("POST", "/api/v1/auth/register", "content-type", b"text/\xffplain", 415),
        ("POST", "/api/v1/auth/revoke", "content-type", b"application/json", 415),
    ];
    for (method, path, name, value, status) in cases {
        let request = app
            .client
            .request(method.parse().unwrap(), app.url(path))
            .header(name, reqwest::header::HeaderValue::from_bytes(value).unwrap());
        let response = request.send().await.unwrap();
        assert_eq!(response.status().as_u16(), status, "{method} {path}");
        let body: Value = response.json().await.unwrap_or_else(|e| panic!("{method} {path}: not JSON: {e}"));
        assert!(body["error"].is_string() && body["error_description"].is_string(), "{method} {path}: {body}");
    }
}

#[tokio::test]
async fn health_answers_ok_while_the_database_answers() {
    let app = TestApp::spawn().await;
    let response = app.client.get(app.url("/api/v1/health")).send().await.unwrap();
    assert_eq!(response.status(), 200);
    let body: Value = response.json().await.unwrap();
    assert_eq!(body, json!({"status": "ok"}));
}

/// A TCP proxy in front of PostgreSQL that the test can cut (its connections end, new ones
/// hang unanswered) and restore, as a network failure would.
struct CuttableProxy {
    port: u16,
    open: std::sync::Arc<std::sync::atomic::AtomicBool>,
    generation: tokio::sync::watch::Sender<u64>,
}

impl CuttableProxy {
    async fn start(upstream: String) -> Self {
        use std::sync::atomic::Ordering;
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let port = listener.local_addr().unwrap().port();
        let open = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(true));
        let (generation, _) = tokio::sync::watch::channel(0u64);
        let (is_open, cuts) = (std::sync::Arc::clone(&open), generation.clone());
        tokio::spawn(async move {
            loop {
                let Ok((mut client, _)) = listener.accept().await else { return };
                if !is_open.load(Ordering::SeqCst) {
                    // A database that does not answer (the worst kind of outage: a refused
                    // connection would fail at once): hold the socket, say nothing.
                    tokio::spawn(async move {
                        tokio::time::sleep(std::time::Duration::from_secs(30)).await;
                        drop(client);
                    });
                    continue;
                }
                let (upstream, mut cut) = (upstream.clone(), cuts.subscribe());
                tokio::spawn(async move {
                    let Ok(mut server) = tokio::net::TcpStream::connect(upstream).await else { return };
                    tokio::select! {
                        _ = tokio::io::copy_bidirectional(&mut client, &mut server) => {}
                        _ = cut.changed() => {}
                    }
                });
            }
        });
        Self { port, open, generation }
    }

    fn set_open(&self, open: bool) {
        self.open.store(open, std::sync::atomic::Ordering::SeqCst);
        if !open {
            self.generation.send_modify(|g| *g += 1);
        }
    }
}

#[tokio::test]
async fn while_postgresql_is_unreachable_requests_answer_503_within_a_second_and_recover_without_a_restart() {
    if crate::helpers::backend() != "postgres" {
        eprintln!("(PostgreSQL only: the outage is a cut connection to the database server)");
        return;
    }
    let database = crate::helpers::TestDatabase::create().await;
    let authority = database.url.split_once("://").unwrap().1.split_once('/').unwrap();
    let host = authority.0.rsplit_once('@').map_or(authority.0, |(_, host)| host);
    let upstream = if host.contains(':') { host.to_owned() } else { format!("{host}:5432") };
    let proxy = CuttableProxy::start(upstream).await;
    let proxied = format!("postgres://postgres@127.0.0.1:{}/{}", proxy.port, authority.1);
    let app = TestApp::spawn_on(&database, &proxied).await;
    let health = || async { app.client.get(app.url("/api/v1/health")).send().await.unwrap() };
    assert_eq!(health().await.status(), 200);

    proxy.set_open(false);
    for request in ["health", "register"] {
        let started = std::time::Instant::now();
        let response = match request {
            "health" => health().await,
            _ => app.register(json!({"username": "during_outage", "password": "a long passphrase"})).await,
        };
        let waited = started.elapsed();
        expect_error(response, 503, "temporarily_unavailable").await;
        assert!(waited < std::time::Duration::from_millis(2500), "{request} waited {waited:?}");
    }

    proxy.set_open(true);
    let mut recovered = false;
    for _ in 0..50 {
        if health().await.status() == 200 {
            recovered = true;
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
    assert!(recovered, "health is 200 again once the database answers, without a restart");
    assert_eq!(app.register(json!({"username": "after_outage", "password": "a long passphrase"})).await.status(), 201);
    let taken = app.register(json!({"username": "during_outage", "password": "a long passphrase"})).await;
    assert_eq!(taken.status(), 201, "nothing was half-written during the outage");
}
