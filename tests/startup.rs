//! The real binary: a bad configuration stops start-up with one clear line and a non-zero
//! exit; a good one serves.
#![cfg(feature = "ssr")]

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
    fails_naming(
        &[("GATEHOUSE_ADMIN_USERNAME", "boss"), ("GATEHOUSE_ADMIN_PASSWORD", "password")],
        "GATEHOUSE_ADMIN_PASSWORD",
    );
    fails_naming(&[("LEPTOS_SITE_ADDR", "not-an-address")], "LEPTOS");
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
    let mode = std::fs::metadata(dir.join("data/jwt-secret")).unwrap().permissions().mode();
    assert_eq!(mode & 0o777, 0o600);
}
