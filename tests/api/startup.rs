//! The real binary: a bad configuration stops start-up with one clear line and a non-zero
//! exit; a good one serves.

use std::process::{Command, Stdio};
use std::time::Duration;

fn gatehouse(vars: &[(&str, &str)]) -> Command {
    let dir = std::env::temp_dir().join(format!("gatehouse-startup-{}", uuid::Uuid::new_v4().simple()));
    std::fs::create_dir_all(&dir).unwrap();
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_gatehouse"));
    cmd.current_dir(&dir).env_clear().env("PATH", std::env::var("PATH").unwrap_or_default()).env("RUST_LOG", "error");
    for (k, v) in vars {
        cmd.env(k, v);
    }
    cmd.stdout(Stdio::piped()).stderr(Stdio::piped());
    cmd
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port()
}

/// The binary serving on a free port with `vars`, once its health answers: the process and
/// its base URL.
async fn serving(vars: &[(&str, &str)]) -> (std::process::Child, String) {
    let addr = format!("127.0.0.1:{}", free_port());
    let mut all = vec![("LEPTOS_SITE_ADDR", addr.as_str())];
    all.extend_from_slice(vars);
    let mut child = gatehouse(&all).spawn().unwrap();
    let base = format!("http://{addr}");
    for _ in 0..100 {
        tokio::time::sleep(Duration::from_millis(100)).await;
        if reqwest::get(format!("{base}/api/v1/health")).await.is_ok_and(|r| r.status() == 200) {
            return (child, base);
        }
    }
    let _ = child.kill();
    panic!("the server never answered health: {}", String::from_utf8_lossy(&child.wait_with_output().unwrap().stderr));
}

/// Stops the process as an operator would (SIGTERM: it drains, flushes its log and exits)
/// and hands back what it wrote.
fn stopped(child: std::process::Child) -> std::process::Output {
    let pid = i32::try_from(child.id()).unwrap();
    // SAFETY: kill(2) with our own child's pid and a plain signal number.
    unsafe { libc::kill(pid, libc::SIGTERM) };
    child.wait_with_output().unwrap()
}

fn fails_naming(vars: &[(&str, &str)], variable: &str) -> String {
    let out = gatehouse(vars).output().unwrap();
    assert!(!out.status.success(), "should fail for {vars:?}");
    let stderr = String::from_utf8_lossy(&out.stderr).into_owned();
    let line =
        stderr.lines().find(|l| l.starts_with("gatehouse: ")).unwrap_or_else(|| panic!("no error line in {stderr:?}"));
    assert!(line.contains(variable), "{line:?} should name {variable}");
    assert!(!stderr.contains("panicked"), "{stderr}");
    line.to_owned()
}

#[test]
fn bad_values_stop_start_up_with_one_line_naming_the_variable() {
    let line = fails_naming(&[("GATEHOUSE_JWT_SECRET", "too-short-secret")], "GATEHOUSE_JWT_SECRET");
    assert!(!line.contains("too-short-secret"), "the secret is not echoed");
    fails_naming(&[("GATEHOUSE_ACCESS_TOKEN_TTL", "fifteen")], "GATEHOUSE_ACCESS_TOKEN_TTL");
    fails_naming(&[("GATEHOUSE_REFRESH_TOKEN_TTL", "0")], "GATEHOUSE_REFRESH_TOKEN_TTL");
    fails_naming(&[("GATEHOUSE_DATABASE_URL", "postgres://nobody@127.0.0.1:1/none")], "GATEHOUSE_DATABASE_URL");
    for url in
        ["postgres://app:hunter2-in-userinfo@127.0.0.1:1/x", "postgres://127.0.0.1:1/x?password=hunter2-in-query"]
    {
        let line = fails_naming(&[("GATEHOUSE_DATABASE_URL", url)], "GATEHOUSE_DATABASE_URL");
        assert!(!line.contains("hunter2"), "the database password is not echoed: {line}");
    }
    fails_naming(
        &[("GATEHOUSE_ADMIN_USERNAME", "boss"), ("GATEHOUSE_ADMIN_PASSWORD", "password")],
        "GATEHOUSE_ADMIN_PASSWORD",
    );
    fails_naming(&[("LEPTOS_SITE_ADDR", "not-an-address")], "LEPTOS");
    fails_naming(&[("GATEHOUSE_ARGON2_MEMORY_KIB", "4096")], "GATEHOUSE_ARGON2_MEMORY_KIB");
    fails_naming(&[("GATEHOUSE_TRUSTED_PROXIES", "everyone")], "GATEHOUSE_TRUSTED_PROXIES");
    fails_naming(&[("GATEHOUSE_LIMIT_LOGIN_PER_ACCOUNT", "500")], "GATEHOUSE_LIMIT_LOGIN_PER_ACCOUNT");
    fails_naming(&[("GATEHOUSE_LOG_FORMAT", "xml")], "GATEHOUSE_LOG_FORMAT");
    fails_naming(&[("GATEHOUSE_CORS_ORIGINS", "*")], "GATEHOUSE_CORS_ORIGINS");
}

#[test]
fn well_known_placeholder_secrets_are_refused_whatever_their_length() {
    // The SECRET_KEY of the FastAPI JWT tutorial, which many deployments never changed.
    let tutorial = "09d25e094faa6ca2556c818166b7a9563b93f7099f6f0f4caa6cf63b88e8d3e7";
    let line = fails_naming(&[("GATEHOUSE_JWT_SECRET", tutorial)], "GATEHOUSE_JWT_SECRET");
    assert!(line.contains("placeholder") && !line.contains(tutorial), "{line}");
    fails_naming(&[("GATEHOUSE_JWT_SECRET", "changeme-changeme-changeme-changeme")], "GATEHOUSE_JWT_SECRET");
}

#[test]
fn plain_http_on_a_non_loopback_address_is_warned_about_loudly() {
    use std::io::{BufRead, BufReader};
    let port = std::net::TcpListener::bind("0.0.0.0:0").unwrap().local_addr().unwrap().port();
    let addr = format!("0.0.0.0:{port}");
    let mut child = gatehouse(&[("LEPTOS_SITE_ADDR", &addr)]).spawn().unwrap();
    let stderr = child.stderr.take().unwrap();
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        for line in BufReader::new(stderr).lines().map_while(Result::ok) {
            if tx.send(line).is_err() {
                break;
            }
        }
    });
    let deadline = std::time::Instant::now() + Duration::from_secs(20);
    let mut seen = Vec::new();
    while let Ok(line) = rx.recv_timeout(deadline.saturating_duration_since(std::time::Instant::now())) {
        let found = line.contains("WARNING");
        seen.push(line);
        if found {
            break;
        }
    }
    let _ = child.kill();
    let _ = child.wait();
    let warning = seen.iter().find(|l| l.contains("WARNING")).unwrap_or_else(|| panic!("no warning in {seen:?}"));
    assert!(warning.contains("plain HTTP") && warning.contains("HTTPS"), "{warning}");
}

#[test]
fn a_first_run_creates_data_with_a_private_secret_and_serves_health() {
    let port = std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
    let addr = format!("127.0.0.1:{port}");
    let mut cmd = gatehouse(&[("LEPTOS_SITE_ADDR", &addr)]);
    let dir = cmd.get_current_dir().unwrap().to_path_buf();
    let mut child = cmd.spawn().unwrap();
    let mut healthy = false;
    for _ in 0..100 {
        std::thread::sleep(Duration::from_millis(100));
        if let Ok(mut stream) = std::net::TcpStream::connect(&addr) {
            use std::io::{Read, Write};
            stream.write_all(b"GET /api/v1/health HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n").unwrap();
            let mut response = String::new();
            let _ = stream.read_to_string(&mut response);
            healthy = response.starts_with("HTTP/1.1 200") && response.contains("\"status\":\"ok\"");
            break;
        }
    }
    let _ = child.kill();
    let _ = child.wait();
    assert!(healthy, "the server answered health");
    assert!(dir.join("data/gatehouse.db").exists());
    use std::os::unix::fs::PermissionsExt as _;
    // EdDSA by default: a master key seals the signing keys; no shared secret is made.
    let mode = std::fs::metadata(dir.join("data/master-key")).unwrap().permissions().mode();
    assert_eq!(mode & 0o777, 0o600);
    assert!(!dir.join("data/jwt-secret").exists());
}

#[tokio::test]
async fn lines_logged_while_serving_carry_the_method_the_matched_route_and_a_request_id() {
    let (child, base) = serving(&[("RUST_LOG", "info")]).await;
    let client = reqwest::Client::new();
    let account = serde_json::json!({"username": "spanned", "password": "a long passphrase"});
    let registered = client.post(format!("{base}/api/v1/auth/register")).json(&account).send().await;
    let form = [("username", "spanned"), ("password", "a long passphrase")];
    let api_login = client.post(format!("{base}/api/v1/auth/token")).form(&form).send().await;
    let fn_login =
        client.post(format!("{base}/fn/login")).header("accept", "application/json").form(&form).send().await;
    let output = stopped(child);
    assert_eq!(registered.unwrap().status(), 201);
    assert_eq!(api_login.unwrap().status(), 200);
    assert_eq!(fn_login.unwrap().status(), 200);
    let log = String::from_utf8_lossy(&output.stdout);
    let line = |event: &str, route: &str| {
        log.lines()
            .find(|l| l.contains(event) && l.contains(&format!("route={route}")))
            .unwrap_or_else(|| panic!("no {event:?} line in the span of {route}:\n{log}"))
            .to_owned()
    };
    let created = line("account created", "/api/v1/auth/register");
    let by_api = line("login started", "/api/v1/auth/token");
    let by_fn = line("login started", "/fn/");
    for l in [&created, &by_api, &by_fn] {
        assert!(l.contains("method=POST") && l.contains(" id="), "{l}");
        assert!(!l.contains("a long passphrase"), "{l}");
    }
    let id = |l: &str| l.split(" id=").nth(1).unwrap().split(['}', ':', ' ']).next().unwrap().to_owned();
    assert_ne!(id(&by_api), id(&by_fn), "each request has an id of its own");
}

#[tokio::test]
async fn json_logs_give_each_request_one_line_and_its_id_which_goes_back_to_the_client() {
    let (child, base) = serving(&[("RUST_LOG", "info"), ("GATEHOUSE_LOG_FORMAT", "json")]).await;
    let client = reqwest::Client::new();
    let traced = client.get(format!("{base}/api/v1/users/me")).header("x-request-id", "proxy-7f3a.1").send().await;
    let garbage = client.get(format!("{base}/api/v1/health")).header("x-request-id", "two words").send().await;
    let account = serde_json::json!({"username": "json_logged", "password": "a long passphrase"});
    let registered = client.post(format!("{base}/api/v1/auth/register")).json(&account).send().await;
    let output = stopped(child);
    let registered = registered.unwrap();
    assert_eq!(registered.status(), 201);
    let registration_id = registered.headers()["x-request-id"].to_str().unwrap().to_owned();
    let traced = traced.unwrap();
    assert_eq!(traced.status(), 401);
    assert_eq!(traced.headers()["x-request-id"], "proxy-7f3a.1", "a sane incoming id is kept and echoed");
    let made = garbage.unwrap().headers()["x-request-id"].to_str().unwrap().to_owned();
    assert!(made.len() == 32 && made.bytes().all(|b| b.is_ascii_hexdigit()), "{made}");
    let log = String::from_utf8_lossy(&output.stdout);
    let lines: Vec<serde_json::Value> = log
        .lines()
        .filter(|l| l.starts_with('{'))
        .map(|l| serde_json::from_str(l).unwrap_or_else(|e| panic!("{l}: {e}")))
        .collect();
    assert!(lines.iter().all(|l| l["timestamp"].is_string() && l["level"].is_string() && l["message"].is_string()));
    let done: Vec<&serde_json::Value> =
        lines.iter().filter(|l| l["message"] == "request done" && l["id"] == "proxy-7f3a.1").collect();
    assert_eq!(done.len(), 1, "one line for the request: {log}");
    assert_eq!(done[0]["status"], 401);
    assert_eq!(done[0]["route"], "/api/v1/users/me");
    assert_eq!(done[0]["method"], "GET");
    assert!(done[0]["latency_ms"].as_f64().is_some_and(|ms| ms >= 0.0), "{}", done[0]);
    assert!(lines.iter().any(|l| l["id"] == made.as_str()), "the made-up id is the one logged");
    // A line written while serving carries the request's fields at the top level, beside its own.
    let created = lines.iter().find(|l| l["message"] == "account created").unwrap_or_else(|| panic!("{log}"));
    assert_eq!(created["id"], registration_id.as_str(), "{created}");
    assert_eq!(created["route"], "/api/v1/auth/register");
    assert_eq!(created["method"], "POST");
    assert_eq!(created["level"], "INFO");
    assert!(created["user_id"].as_str().is_some_and(|id| id.len() == 36), "{created}");
    assert!(!log.contains("a long passphrase"), "{log}");
}

#[tokio::test]
async fn sigterm_lets_requests_in_flight_finish_for_up_to_ten_seconds_then_exits_0() {
    use tokio::io::{AsyncReadExt as _, AsyncWriteExt as _};
    let (mut child, base) = serving(&[]).await;
    let addr = base.strip_prefix("http://").unwrap().to_owned();
    // A registration whose body is still on its way when SIGTERM arrives.
    let body = br#"{"username": "in_flight", "password": "a long passphrase"}"#;
    let mut stream = tokio::net::TcpStream::connect(&addr).await.unwrap();
    let head = format!(
        "POST /api/v1/auth/register HTTP/1.1\r\nHost: {addr}\r\nContent-Type: application/json\r\n\
         Content-Length: {}\r\nConnection: close\r\n\r\n",
        body.len()
    );
    stream.write_all(head.as_bytes()).await.unwrap();
    stream.write_all(&body[..10]).await.unwrap();
    // And one whose body never comes: it must not keep the server up for ever.
    let mut stalled = tokio::net::TcpStream::connect(&addr).await.unwrap();
    stalled.write_all(head.as_bytes()).await.unwrap();
    stalled.write_all(&body[..10]).await.unwrap();
    tokio::time::sleep(Duration::from_millis(300)).await;
    let pid = i32::try_from(child.id()).unwrap();
    // SAFETY: kill(2) with our own child's pid and a plain signal number.
    assert_eq!(unsafe { libc::kill(pid, libc::SIGTERM) }, 0);
    tokio::time::sleep(Duration::from_millis(300)).await;
    stream.write_all(&body[10..]).await.unwrap();
    let mut answer = String::new();
    stream.read_to_string(&mut answer).await.unwrap();
    assert!(answer.starts_with("HTTP/1.1 201"), "the request in flight finished: {answer}");
    let started = std::time::Instant::now();
    let status = loop {
        if let Some(status) = child.try_wait().unwrap() {
            break status;
        }
        // The drain limit is 10 s; the stalled request is given up after it.
        assert!(started.elapsed() < Duration::from_secs(14), "the server did not stop");
        tokio::time::sleep(Duration::from_millis(50)).await;
    };
    assert_eq!(status.code(), Some(0));
    assert!(started.elapsed() >= Duration::from_secs(8), "it waited for the stalled request first");
    drop(stalled);
}

#[tokio::test]
async fn metrics_are_served_on_their_own_listener_with_bounded_labels() {
    let metrics_addr = format!("127.0.0.1:{}", free_port());
    let vars = [("GATEHOUSE_METRICS_ADDR", metrics_addr.as_str()), ("GATEHOUSE_LIMIT_LOGIN_PER_ACCOUNT", "2")];
    let (child, base) = serving(&vars).await;
    let client = reqwest::Client::new();
    let account = serde_json::json!({"username": "counted", "password": "a long passphrase"});
    let user: serde_json::Value =
        client.post(format!("{base}/api/v1/auth/register")).json(&account).send().await.unwrap().json().await.unwrap();
    let token = |form: Vec<(&'static str, String)>| client.post(format!("{base}/api/v1/auth/token")).form(&form).send();
    let login = |password: &str| token(vec![("username", "counted".into()), ("password", password.to_owned())]);
    let tokens: serde_json::Value = login("a long passphrase").await.unwrap().json().await.unwrap();
    let refresh = tokens["refresh_token"].as_str().unwrap().to_owned();
    let grant = || vec![("grant_type", "refresh_token".to_owned()), ("refresh_token", refresh.clone())];
    assert_eq!(token(grant()).await.unwrap().status(), 200);
    assert_eq!(token(grant()).await.unwrap().status(), 400, "a replay");
    for _ in 0..3 {
        login("not the passphrase").await.unwrap();
    }
    let id = user["id"].as_str().unwrap();
    client.get(format!("{base}/api/v1/users/{id}")).send().await.unwrap();
    let public = client.get(format!("{base}/metrics")).send().await.unwrap();
    let scraped = client.get(format!("http://{metrics_addr}/metrics")).send().await.unwrap();
    let status = scraped.status();
    let text = scraped.text().await.unwrap();
    stopped(child);
    assert_ne!(public.status(), 200, "the public listener has no /metrics");
    assert_eq!(status, 200);
    // name{labels} value, as Prometheus reads it.
    let value = |series: &str| -> f64 {
        text.lines()
            .find_map(|l| l.strip_prefix(series).and_then(|rest| rest.trim().parse().ok()))
            .unwrap_or_else(|| panic!("no {series} in:\n{text}"))
    };
    assert_eq!(value(r#"gatehouse_logins_total{result="success"}"#), 1.0);
    assert_eq!(value(r#"gatehouse_logins_total{result="failure"}"#), 2.0);
    assert_eq!(value(r#"gatehouse_logins_total{result="throttled"}"#), 1.0);
    assert_eq!(value("gatehouse_registrations_total"), 1.0);
    assert_eq!(value(r#"gatehouse_token_refreshes_total{result="success"}"#), 1.0);
    assert_eq!(value(r#"gatehouse_token_refreshes_total{result="replay"}"#), 1.0);
    assert!(value(r#"http_requests_total{method="POST",route="/api/v1/auth/token",status="200"}"#) >= 2.0);
    assert_eq!(value(r#"http_requests_total{method="GET",route="/api/v1/users/{id}",status="401"}"#), 1.0);
    assert!(value("gatehouse_password_hash_duration_seconds_count") >= 4.0);
    assert!(value(r#"gatehouse_db_pool_connections{state="idle"}"#) >= 0.0);
    assert!(value(r#"gatehouse_db_pool_connections{state="in_use"}"#) >= 0.0);
    assert_eq!(value(&format!(r#"gatehouse_build_info{{version="{}"}}"#, env!("CARGO_PKG_VERSION"))), 1.0);
    assert!(value("gatehouse_users") >= 0.0);
    assert!(text.contains("http_request_duration_seconds_bucket"), "a histogram, not a summary");
    assert!(!text.contains(id) && !text.contains("counted"), "no label carries an id or a username");
}
