//! The second factor (issue 13) over real HTTP: setting TOTP up and turning it off, the
//! `mfa-otp` grant with TOTP and recovery codes, replays, wrong codes, the login throttle,
//! concurrent uses of one code, an admin's removal, and what is stored and recorded.
//!
//! The codes are made by the test's own RFC 6238 implementation (checked against the RFC's
//! vectors below), not by the server's.

use crate::helpers::{TestApp, expect_error, retry_after};
use data_encoding::BASE32_NOPAD;
use hmac::{Hmac, Mac};
use reqwest::Response;
use serde_json::{Value, json};
use std::{
    collections::HashSet,
    time::{Duration, SystemTime, UNIX_EPOCH},
};

pub(crate) const PASSWORD: &str = "a long passphrase";
const NEW_PASSWORD: &str = "a brand new passphrase";
const MFA_GRANT: &str = "urn:gatehouse:grant-type:mfa-otp";
const TOTP_PATH: &str = "/api/v1/users/me/mfa/totp";
const CONFIRM_PATH: &str = "/api/v1/users/me/mfa/totp/confirm";
const RECOVERY_CODES_PATH: &str = "/api/v1/users/me/mfa/recovery-codes";

/// Seconds in a TOTP step.
const STEP_SECONDS: u64 = 30;
/// Digits of the server's codes.
const DIGITS: u32 = 6;
/// A code is computed only when at least this long is left in its step, so that the server
/// checks it in the step it was computed for.
const STEP_MARGIN: Duration = Duration::from_secs(4);

// ---------------------------------------------------------------------------------------
// The test's own TOTP (RFC 6238 over RFC 4226 HOTP, HMAC-SHA1).

/// RFC 4226 §5.3: HMAC-SHA1 of the big-endian counter, dynamically truncated, `digits` long.
fn hotp(key: &[u8], counter: u64, digits: u32) -> String {
    let mut mac = Hmac::<sha1::Sha1>::new_from_slice(key).unwrap();
    mac.update(&counter.to_be_bytes());
    let digest = mac.finalize().into_bytes();
    let offset = usize::from(digest[digest.len() - 1] & 0x0f);
    let binary = (u32::from(digest[offset] & 0x7f) << 24)
        | (u32::from(digest[offset + 1]) << 16)
        | (u32::from(digest[offset + 2]) << 8)
        | u32::from(digest[offset + 3]);
    format!("{:0width$}", binary % 10u32.pow(digits), width = digits as usize)
}

/// RFC 6238: the code at `unix_time` (T0 = 0, X = 30 s).
fn totp_at(key: &[u8], unix_time: u64, digits: u32) -> String {
    hotp(key, unix_time / STEP_SECONDS, digits)
}

fn now() -> Duration {
    SystemTime::now().duration_since(UNIX_EPOCH).unwrap()
}

/// The current step, once at least [`STEP_MARGIN`] of it is left: near the end of a step,
/// this waits for the next one to start.
async fn settled_step() -> u64 {
    let step = Duration::from_secs(STEP_SECONDS);
    let into = Duration::from_nanos((now().as_nanos() % step.as_nanos()) as u64);
    if step - into < STEP_MARGIN {
        tokio::time::sleep(step - into + Duration::from_millis(100)).await;
    }
    now().as_secs() / STEP_SECONDS
}

/// An account's TOTP secret as the authenticator app holds it.
pub(crate) struct Totp {
    key: Vec<u8>,
}

impl Totp {
    fn from_base32(secret: &str) -> Self {
        let key = BASE32_NOPAD.decode(secret.as_bytes()).unwrap_or_else(|e| panic!("{secret:?} is not base32: {e}"));
        Self { key }
    }

    /// The 6-digit code of `step`.
    pub(crate) fn code(&self, step: u64) -> String {
        hotp(&self.key, step, DIGITS)
    }

    /// The code of the step `offset` steps from now (safely inside the current step).
    pub(crate) async fn code_from_now(&self, offset: i64) -> String {
        let step = settled_step().await;
        self.code(step.checked_add_signed(offset).unwrap())
    }

    /// A 6-digit code that is no code of any step from three before now to three after.
    pub(crate) fn wrong_code(&self) -> String {
        let step = now().as_secs() / STEP_SECONDS;
        let near: HashSet<String> = (step - 3..=step + 3).map(|s| self.code(s)).collect();
        (0..).map(|n| format!("{:06}", (n * 7919 + 123_457) % 1_000_000)).find(|c| !near.contains(c)).unwrap()
    }
}

#[test]
fn the_tests_totp_matches_the_rfc_6238_sha1_vectors() {
    // RFC 6238 Appendix B, SHA-1 rows: the ASCII seed "12345678901234567890", 8 digits.
    let seed = b"12345678901234567890";
    for (time, expected) in [
        (59, "94287082"),
        (1_111_111_109, "07081804"),
        (1_111_111_111, "14050471"),
        (1_234_567_890, "89005924"),
        (2_000_000_000, "69279037"),
        (20_000_000_000, "65353130"),
    ] {
        assert_eq!(totp_at(seed, time, 8), expected, "T = {time}");
    }
    // RFC 4226 Appendix D: the 6-digit HOTP values of the same seed.
    for (counter, expected) in [(0, "755224"), (1, "287082"), (9, "520489")] {
        assert_eq!(hotp(seed, counter, 6), expected, "counter {counter}");
    }
    // The base32 form authenticator apps are given decodes to the seed.
    assert_eq!(Totp::from_base32("GEZDGNBVGY3TQOJQGEZDGNBVGY3TQOJQ").key, seed);
}

// ---------------------------------------------------------------------------------------
// Helpers.

/// An account with TOTP on, and what its person holds.
pub(crate) struct Enrolled {
    pub(crate) id: String,
    /// A login made before TOTP was turned on (it goes on).
    pub(crate) access: String,
    secret: String,
    pub(crate) totp: Totp,
    recovery_codes: Vec<String>,
}

fn strings(value: &Value) -> Vec<String> {
    value
        .as_array()
        .unwrap_or_else(|| panic!("an array, not {value}"))
        .iter()
        .map(|v| v.as_str().unwrap_or_else(|| panic!("a string, not {v}")).to_owned())
        .collect()
}

async fn start_totp(app: &TestApp, access: &str, password: &str) -> Response {
    app.post_json(TOTP_PATH, access, json!({ "password": password })).await
}

async fn confirm_totp(app: &TestApp, access: &str, code: &str) -> Response {
    app.post_json(CONFIRM_PATH, access, json!({ "code": code })).await
}

/// Starts setting TOTP up, asserting 200; returns the answer.
async fn setup(app: &TestApp, access: &str) -> Value {
    let response = start_totp(app, access, PASSWORD).await;
    assert_eq!(response.status(), 200, "starting TOTP");
    response.json().await.unwrap()
}

/// Registers `username` and turns TOTP on. It is confirmed with the PREVIOUS step's code (one
/// step either side is accepted), so that the current step's code and the next one's are
/// still unused.
pub(crate) async fn enrolled(app: &TestApp, username: &str) -> Enrolled {
    let user = app.create_user(username, PASSWORD).await;
    let access = app.tokens(username, PASSWORD).await.access;
    let secret = setup(app, &access).await["secret"].as_str().unwrap().to_owned();
    let totp = Totp::from_base32(&secret);
    let response = confirm_totp(app, &access, &totp.code_from_now(-1).await).await;
    assert_eq!(response.status(), 200, "confirming TOTP of {username}");
    let body: Value = response.json().await.unwrap();
    Enrolled {
        id: user["id"].as_str().unwrap().to_owned(),
        access,
        secret,
        totp,
        recovery_codes: strings(&body["recovery_codes"]),
    }
}

/// The password step of a login on an account with TOTP: asserts 403 `mfa_required` with an
/// `mfa_token` and no tokens; returns the `mfa_token`.
async fn password_step(app: &TestApp, username: &str, password: &str) -> String {
    let body = expect_error(app.login(username, password).await, 403, "mfa_required").await;
    assert!(body.get("access_token").is_none() && body.get("refresh_token").is_none(), "no tokens in {body}");
    let token = body["mfa_token"].as_str().unwrap_or_else(|| panic!("mfa_token in {body}"));
    assert!(token.len() >= 32, "an unguessable mfa_token: {body}");
    token.to_owned()
}

async fn with_otp(app: &TestApp, mfa_token: &str, otp: &str) -> Response {
    app.token(&[("grant_type", MFA_GRANT), ("mfa_token", mfa_token), ("otp", otp)]).await
}

async fn with_recovery_code(app: &TestApp, mfa_token: &str, code: &str) -> Response {
    app.token(&[("grant_type", MFA_GRANT), ("mfa_token", mfa_token), ("recovery_code", code)]).await
}

/// A token response: asserts 200 and that its access token works; returns the access token.
async fn expect_tokens(app: &TestApp, response: Response, username: &str) -> String {
    assert_eq!(response.status(), 200, "a token response for {username}");
    let body: Value = response.json().await.unwrap();
    assert_eq!(body["token_type"], "bearer", "{body}");
    assert!(body["refresh_token"].as_str().is_some_and(|t| !t.is_empty()), "{body}");
    let access = body["access_token"].as_str().unwrap_or_else(|| panic!("access_token in {body}")).to_owned();
    let me = app.me(&access).await;
    assert_eq!(me.status(), 200, "the new access token works");
    let me: Value = me.json().await.unwrap();
    assert_eq!(me["username"], username);
    access
}

/// Asserts a 422 naming `field`.
async fn expect_field(response: Response, field: &str) -> Value {
    let body = expect_error(response, 422, "invalid_request").await;
    assert!(body["fields"][field].as_str().is_some_and(|m| !m.is_empty()), "{field} in {body}");
    body
}

async fn own_events(app: &TestApp, access: &str) -> Vec<Value> {
    let response = app.get("/api/v1/users/me/events?limit=200", access).await;
    assert_eq!(response.status(), 200);
    let body: Value = response.json().await.unwrap();
    body["items"].as_array().unwrap_or_else(|| panic!("items in {body}")).clone()
}

fn of_type<'a>(events: &'a [Value], kind: &str) -> Vec<&'a Value> {
    events.iter().filter(|e| e["type"] == kind).collect()
}

async fn mfa_enabled(app: &TestApp, access: &str) -> Value {
    let response = app.me(access).await;
    assert_eq!(response.status(), 200);
    let me: Value = response.json().await.unwrap();
    me["mfa_enabled"].clone()
}

async fn expect_throttled(response: Response) {
    assert!(retry_after(&response) >= 1);
    expect_error(response, 429, "too_many_requests").await;
}

// ---------------------------------------------------------------------------------------
// 1. Setting up.

#[tokio::test]
async fn setting_up_totp_needs_the_password_and_a_code_of_the_latest_secret_and_keeps_no_secret_in_clear() {
    let app = TestApp::spawn().await;
    let user = app.create_user("alice", PASSWORD).await;
    let id = user["id"].as_str().unwrap();
    assert_eq!(user["mfa_enabled"], false, "{user}");
    let access = app.tokens("alice", PASSWORD).await.access;
    assert_eq!(mfa_enabled(&app, &access).await, false);

    expect_field(start_totp(&app, &access, "a wrong passphrase").await, "password").await;
    // Nothing pending yet: nothing to confirm.
    expect_error(confirm_totp(&app, &access, "123456").await, 409, "conflict").await;

    let first = setup(&app, &access).await;
    let first_secret = first["secret"].as_str().unwrap().to_owned();
    let second = setup(&app, &access).await;
    let secret = second["secret"].as_str().unwrap().to_owned();
    assert_ne!(first_secret, secret, "a new call makes a new secret");
    for body in [&first, &second] {
        let secret = body["secret"].as_str().unwrap();
        assert!(secret.bytes().all(|b| b.is_ascii_uppercase() || (b'2'..=b'7').contains(&b)), "base32: {secret}");
        assert!(Totp::from_base32(secret).key.len() >= 16, "at least 128 bits: {secret}");
        let url = body["otpauth_url"].as_str().unwrap();
        let prefix = format!("otpauth://totp/Gatehouse:alice?secret={secret}&issuer=Gatehouse");
        assert!(url.starts_with(&prefix), "{url} starts with {prefix}");
        for parameter in ["digits=6", "period=30", "algorithm=SHA1"] {
            assert!(url.contains(parameter), "{parameter} in {url}");
        }
        let svg = body["qr_svg"].as_str().unwrap();
        assert!(svg.starts_with("<svg"), "{}", &svg[..svg.len().min(80)]);
        let tag = &svg[..svg.find('>').unwrap()];
        assert!(tag.contains("role=\"img\"") && tag.contains("aria-label=\""), "{tag}");
    }
    // The pending secret is sealed too.
    let pending = app.sql_string(&format!("SELECT secret FROM totp_enrolments WHERE user_id = '{id}'")).await;
    assert!(!pending.contains(&secret) && !pending.contains(&secret.to_lowercase()), "{pending}");

    // The first secret was replaced: its code confirms nothing.
    let old = Totp::from_base32(&first_secret);
    expect_field(confirm_totp(&app, &access, &old.code_from_now(0).await).await, "code").await;
    let totp = Totp::from_base32(&secret);
    expect_field(confirm_totp(&app, &access, &totp.wrong_code()).await, "code").await;
    assert_eq!(mfa_enabled(&app, &access).await, false, "still off");

    let confirming_code = totp.code_from_now(0).await;
    let response = confirm_totp(&app, &access, &confirming_code).await;
    assert_eq!(response.status(), 200);
    let body: Value = response.json().await.unwrap();
    let codes = strings(&body["recovery_codes"]);
    assert_eq!(codes.len(), 10, "{body}");
    assert_eq!(codes.iter().collect::<HashSet<_>>().len(), 10, "distinct: {codes:?}");
    for code in &codes {
        let chars = code.chars().filter(char::is_ascii_alphanumeric).count();
        assert!(chars >= 10, "10 characters or more: {code}");
        assert!(!code.contains(['0', 'o', 'O', '1', 'l', 'I', 'i']), "an unambiguous alphabet: {code}");
    }
    assert_eq!(mfa_enabled(&app, &access).await, true);
    expect_error(start_totp(&app, &access, PASSWORD).await, 409, "conflict").await;
    expect_error(confirm_totp(&app, &access, &totp.code_from_now(1).await).await, 409, "conflict").await;

    // At rest: the secret sealed, the recovery codes hashed.
    let stored = app.sql_string(&format!("SELECT totp_secret FROM users WHERE id = '{id}'")).await;
    assert!(!stored.is_empty());
    assert!(!stored.contains(&secret) && !stored.contains(&secret.to_lowercase()), "{stored}");
    assert_eq!(app.sql_i64(&format!("SELECT COUNT(*) FROM recovery_codes WHERE user_id = '{id}'")).await, 10);
    assert_eq!(app.sql_i64(&format!("SELECT COUNT(*) FROM totp_enrolments WHERE user_id = '{id}'")).await, 0);
    for code in &codes {
        let plain = code.replace('-', "");
        let sql = format!(
            "SELECT COUNT(*) FROM recovery_codes WHERE code_hash LIKE '%{plain}%' OR code_hash LIKE '%{code}%' \
             OR code_hash LIKE '%{}%'",
            plain.to_uppercase()
        );
        assert_eq!(app.sql_i64(&sql).await, 0, "{code} is not stored as such");
    }

    // The confirming code was spent: it does not log in.
    let mfa_token = password_step(&app, "alice", PASSWORD).await;
    expect_error(with_otp(&app, &mfa_token, &confirming_code).await, 400, "invalid_grant").await;
    assert_eq!(of_type(&own_events(&app, &access).await, "mfa.enabled").len(), 1);
}

// ---------------------------------------------------------------------------------------
// 2. and 3. Logging in with a TOTP code.

#[tokio::test]
async fn a_login_with_totp_on_takes_a_code_once_and_the_mfa_token_once() {
    let app = TestApp::spawn().await;
    let alice = enrolled(&app, "alice").await;

    let mfa_token = password_step(&app, "alice", PASSWORD).await;
    // A wrong password is still the usual failure, with no mfa_token.
    let body = expect_error(app.login("alice", "a wrong passphrase").await, 400, "invalid_grant").await;
    assert!(body.get("mfa_token").is_none(), "{body}");

    let code = alice.totp.code_from_now(0).await;
    expect_tokens(&app, with_otp(&app, &mfa_token, &code).await, "alice").await;

    // The mfa_token served its one success: even an unused right code is refused with it.
    let next = alice.totp.code_from_now(1).await;
    expect_error(with_otp(&app, &mfa_token, &next).await, 400, "invalid_grant").await;

    // The code was spent: a new login cannot use it again (replay)...
    let second = password_step(&app, "alice", PASSWORD).await;
    expect_error(with_otp(&app, &second, &code).await, 400, "invalid_grant").await;
    // ...but the next step's code works (one step either side is accepted), and it was not
    // spent by the dead token above.
    let next = alice.totp.code_from_now(1).await;
    expect_tokens(&app, with_otp(&app, &second, &next).await, "alice").await;

    let events = own_events(&app, &alice.access).await;
    assert_eq!(of_type(&events, "login.succeeded").len(), 3, "two TOTP logins and the one before TOTP");
}

#[tokio::test]
async fn codes_one_step_either_side_are_accepted_and_two_steps_away_refused() {
    let app = TestApp::spawn().await;
    let alice = enrolled(&app, "alice").await;
    // As if no code had been used for a while (enrolment spent the step before now).
    assert_eq!(app.sql_execute(&format!("UPDATE users SET totp_last_step = 0 WHERE id = '{}'", alice.id)).await, 1);

    let mfa_token = password_step(&app, "alice", PASSWORD).await;
    for offset in [-2, 2] {
        let code = alice.totp.code_from_now(offset).await;
        expect_error(with_otp(&app, &mfa_token, &code).await, 400, "invalid_grant").await;
    }
    let code = alice.totp.code_from_now(-1).await;
    expect_tokens(&app, with_otp(&app, &mfa_token, &code).await, "alice").await;

    let mfa_token = password_step(&app, "alice", PASSWORD).await;
    let code = alice.totp.code_from_now(1).await;
    expect_tokens(&app, with_otp(&app, &mfa_token, &code).await, "alice").await;

    // Only a step later than the last one used is taken: now's code is earlier.
    let mfa_token = password_step(&app, "alice", PASSWORD).await;
    let code = alice.totp.code_from_now(0).await;
    expect_error(with_otp(&app, &mfa_token, &code).await, 400, "invalid_grant").await;
}

// ---------------------------------------------------------------------------------------
// 4. Recovery codes at login, and the grant's parameters.

#[tokio::test]
async fn a_recovery_code_logs_in_once_as_typed_and_the_grant_takes_exactly_one_code() {
    let app = TestApp::spawn().await;
    let alice = enrolled(&app, "alice").await;
    let codes = &alice.recovery_codes;

    let mfa_token = password_step(&app, "alice", PASSWORD).await;
    expect_tokens(&app, with_recovery_code(&app, &mfa_token, &codes[0].to_uppercase()).await, "alice").await;
    let mfa_token = password_step(&app, "alice", PASSWORD).await;
    expect_error(with_recovery_code(&app, &mfa_token, &codes[0]).await, 400, "invalid_grant").await;
    // Without its dashes it is the same code.
    expect_tokens(&app, with_recovery_code(&app, &mfa_token, &codes[1].replace('-', "")).await, "alice").await;
    let events = own_events(&app, &alice.access).await;
    let used = of_type(&events, "recovery_code.used");
    assert_eq!(used.len(), 2, "{events:?}");
    assert_eq!(used[0]["user_id"], alice.id.as_str());

    // Each field takes its own kind of code.
    let mfa_token = password_step(&app, "alice", PASSWORD).await;
    expect_error(with_otp(&app, &mfa_token, &codes[2]).await, 400, "invalid_grant").await;
    let otp = alice.totp.code_from_now(0).await;
    expect_error(with_recovery_code(&app, &mfa_token, &otp).await, 400, "invalid_grant").await;

    // Exactly one of otp and recovery_code, and an mfa_token.
    let otp = alice.totp.code_from_now(0).await;
    let (mfa_token, otp, spare) = (mfa_token.as_str(), otp.as_str(), codes[2].as_str());
    let both = [("grant_type", MFA_GRANT), ("mfa_token", mfa_token), ("otp", otp), ("recovery_code", spare)];
    expect_error(app.token(&both).await, 400, "invalid_request").await;
    expect_error(app.token(&[("grant_type", MFA_GRANT), ("mfa_token", mfa_token)]).await, 400, "invalid_request").await;
    let empty = [("grant_type", MFA_GRANT), ("mfa_token", mfa_token), ("otp", ""), ("recovery_code", "")];
    expect_error(app.token(&empty).await, 400, "invalid_request").await;
    expect_error(app.token(&[("grant_type", MFA_GRANT), ("otp", otp)]).await, 400, "invalid_request").await;
    let repeated = [("grant_type", MFA_GRANT), ("mfa_token", mfa_token), ("otp", otp), ("otp", otp)];
    expect_error(app.token(&repeated).await, 400, "invalid_request").await;
    let unsupported = [("grant_type", "urn:gatehouse:grant-type:mfa-sms"), ("mfa_token", mfa_token), ("otp", otp)];
    expect_error(app.token(&unsupported).await, 400, "unsupported_grant_type").await;
    // None of those spent anything: the token (2 wrong codes so far) and the code still work.
    expect_tokens(&app, with_otp(&app, mfa_token, otp).await, "alice").await;
    assert_eq!(
        app.sql_i64(&format!("SELECT COUNT(*) FROM recovery_codes WHERE user_id = '{}' AND used_at IS NULL", alice.id))
            .await,
        8
    );
}

#[tokio::test]
async fn the_issuer_apps_show_is_configurable() {
    let app = TestApp::spawn_with(&[("GATEHOUSE_MFA_ISSUER", "Acme & Co")]).await;
    app.create_user("alice", PASSWORD).await;
    let access = app.tokens("alice", PASSWORD).await.access;
    let body = setup(&app, &access).await;
    let (secret, url) = (body["secret"].as_str().unwrap(), body["otpauth_url"].as_str().unwrap());
    let prefix = format!("otpauth://totp/Acme%20%26%20Co:alice?secret={secret}&issuer=Acme%20%26%20Co");
    assert!(url.starts_with(&prefix), "{url} starts with {prefix}");
}

#[tokio::test]
async fn an_mfa_token_is_stored_as_a_hash_and_lives_five_minutes() {
    let app = TestApp::spawn().await;
    let alice = enrolled(&app, "alice").await;
    let before = now().as_micros();
    let mfa_token = password_step(&app, "alice", PASSWORD).await;
    let after = now().as_micros();
    let stored = format!("SELECT COUNT(*) FROM mfa_challenges WHERE user_id = '{}'", alice.id);
    assert_eq!(app.sql_i64(&stored).await, 1);
    let in_clear = format!("SELECT COUNT(*) FROM mfa_challenges WHERE token_hash LIKE '%{mfa_token}%'");
    assert_eq!(app.sql_i64(&in_clear).await, 0, "only a hash of the mfa_token is kept");
    let expires_at =
        app.sql_i64(&format!("SELECT expires_at FROM mfa_challenges WHERE user_id = '{}'", alice.id)).await;
    let five_minutes = 300 * 1_000_000;
    let expires_at = i128::from(expires_at);
    assert!(
        (i128::try_from(before).unwrap() + five_minutes..=i128::try_from(after).unwrap() + five_minutes)
            .contains(&expires_at),
        "expires 5 minutes after the password step: {before} < {expires_at} - 300 s < {after}"
    );
    // Once that time has passed, the token is dead (and its code is not spent).
    let expire = format!("UPDATE mfa_challenges SET expires_at = {} WHERE user_id = '{}'", after - 1, alice.id);
    assert_eq!(app.sql_execute(&expire).await, 1);
    let code = alice.totp.code_from_now(0).await;
    expect_error(with_otp(&app, &mfa_token, &code).await, 400, "invalid_grant").await;
    let mfa_token = password_step(&app, "alice", PASSWORD).await;
    expect_tokens(&app, with_otp(&app, &mfa_token, &code).await, "alice").await;
}

// ---------------------------------------------------------------------------------------
// 5. Wrong codes.

#[tokio::test]
async fn five_wrong_codes_kill_an_mfa_token_and_a_dead_token_is_answered_as_a_wrong_code() {
    let app = TestApp::spawn().await;
    let alice = enrolled(&app, "alice").await;

    let mfa_token = password_step(&app, "alice", PASSWORD).await;
    let mut wrong_answer = None;
    for _ in 0..5 {
        let body = expect_error(with_otp(&app, &mfa_token, &alice.totp.wrong_code()).await, 400, "invalid_grant").await;
        wrong_answer = Some(body);
    }
    let wrong_answer = wrong_answer.unwrap();
    // The sixth answer is a refusal whatever the code, the right one included.
    let code = alice.totp.code_from_now(0).await;
    let dead = expect_error(with_otp(&app, &mfa_token, &code).await, 400, "invalid_grant").await;
    let dead_recovery =
        expect_error(with_recovery_code(&app, &mfa_token, &alice.recovery_codes[0]).await, 400, "invalid_grant").await;
    let unknown =
        expect_error(with_otp(&app, "no-such-mfa-token-0123456789abcdefghijk", &code).await, 400, "invalid_grant")
            .await;
    for body in [&dead, &dead_recovery, &unknown] {
        assert_eq!(
            (&body["error"], &body["error_description"]),
            (&wrong_answer["error"], &wrong_answer["error_description"]),
            "a dead or unknown token is answered as a wrong code: {body} vs {wrong_answer}"
        );
    }
    // The dead token spent nothing: that code and that recovery code work on a new login.
    let mfa_token = password_step(&app, "alice", PASSWORD).await;
    expect_tokens(&app, with_otp(&app, &mfa_token, &code).await, "alice").await;
    let mfa_token = password_step(&app, "alice", PASSWORD).await;
    expect_tokens(&app, with_recovery_code(&app, &mfa_token, &alice.recovery_codes[0]).await, "alice").await;

    let events = own_events(&app, &alice.access).await;
    let failed = of_type(&events, "mfa.failed");
    assert_eq!(failed.len(), 5, "one per wrong code on a live token: {events:?}");
    assert!(failed.iter().all(|e| e["user_id"] == alice.id.as_str()), "{failed:?}");
}

// ---------------------------------------------------------------------------------------
// 6. The login throttle.

#[tokio::test]
async fn wrong_codes_count_toward_the_account_throttle_and_only_a_complete_login_clears_it() {
    let app = TestApp::spawn_with(&[("GATEHOUSE_LIMIT_LOGIN_PER_ACCOUNT", "5")]).await;

    // An attacker holding the password gets no more tries at codes than a guesser gets at
    // passwords: 5 failures, then even the right password waits.
    let alice = enrolled(&app, "alice").await;
    // Computed first: once throttled, the account is blocked for only a second.
    let code = alice.totp.code_from_now(0).await;
    let mut tokens = Vec::new();
    for _ in 0..5 {
        let mfa_token = password_step(&app, "alice", PASSWORD).await;
        expect_error(with_otp(&app, &mfa_token, &alice.totp.wrong_code()).await, 400, "invalid_grant").await;
        tokens.push(mfa_token);
    }
    expect_throttled(app.login("alice", PASSWORD).await).await;
    // A live mfa_token with the right code waits too.
    expect_throttled(with_otp(&app, &tokens[0], &code).await).await;

    // A right password alone does not clear the count.
    let bob = enrolled(&app, "bob").await;
    let mfa_token = password_step(&app, "bob", PASSWORD).await;
    for _ in 0..4 {
        expect_error(with_otp(&app, &mfa_token, &bob.totp.wrong_code()).await, 400, "invalid_grant").await;
    }
    let mfa_token = password_step(&app, "bob", PASSWORD).await;
    expect_error(with_otp(&app, &mfa_token, &bob.totp.wrong_code()).await, 400, "invalid_grant").await;
    expect_throttled(app.login("bob", PASSWORD).await).await;

    // A complete login (password and right code) does.
    let carol = enrolled(&app, "carol").await;
    let mfa_token = password_step(&app, "carol", PASSWORD).await;
    for _ in 0..4 {
        expect_error(with_otp(&app, &mfa_token, &carol.totp.wrong_code()).await, 400, "invalid_grant").await;
    }
    let code = carol.totp.code_from_now(0).await;
    expect_tokens(&app, with_otp(&app, &mfa_token, &code).await, "carol").await;
    let mfa_token = password_step(&app, "carol", PASSWORD).await;
    for _ in 0..4 {
        expect_error(with_otp(&app, &mfa_token, &carol.totp.wrong_code()).await, 400, "invalid_grant").await;
    }
    password_step(&app, "carol", PASSWORD).await;
}

// ---------------------------------------------------------------------------------------
// 7. Concurrency.

/// Two requests sent at once. Every other round, a transaction holding `lock` (a write on
/// what the requests claim) lets both get past their reads first, so that the claim alone
/// decides.
async fn at_once(
    app: &TestApp,
    round: usize,
    lock: &str,
    a: impl Future<Output = Response>,
    b: impl Future<Output = Response>,
) -> (Response, Response) {
    if round.is_multiple_of(2) {
        tokio::join!(a, b)
    } else {
        let ((), pair) = tokio::join!(app.hold_lock(lock, Duration::from_millis(400)), async {
            tokio::time::sleep(Duration::from_millis(50)).await;
            tokio::join!(a, b)
        });
        pair
    }
}

async fn one_wins(a: Response, b: Response, what: &str) {
    let statuses = [a.status().as_u16(), b.status().as_u16()];
    let mut sorted = statuses;
    sorted.sort_unstable();
    assert_eq!(sorted, [200, 400], "{what}: exactly one wins: {statuses:?}");
    let loser = if statuses[0] == 400 { a } else { b };
    expect_error(loser, 400, "invalid_grant").await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn one_totp_code_sent_by_two_logins_at_once_logs_in_once() {
    let app = TestApp::spawn().await;
    for round in 0..5 {
        let name = format!("user{round}");
        let user = enrolled(&app, &name).await;
        let first = password_step(&app, &name, PASSWORD).await;
        let second = password_step(&app, &name, PASSWORD).await;
        let code = user.totp.code_from_now(0).await;
        let lock = format!("UPDATE users SET totp_last_step = totp_last_step WHERE id = '{}'", user.id);
        let (a, b) = at_once(&app, round, &lock, with_otp(&app, &first, &code), with_otp(&app, &second, &code)).await;
        one_wins(a, b, &format!("round {round}")).await;
        let logins = app.sql_i64(&format!("SELECT COUNT(*) FROM logins WHERE user_id = '{}'", user.id)).await;
        assert_eq!(logins, 2, "round {round}: the login before TOTP and one TOTP login");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn one_recovery_code_sent_by_two_logins_at_once_logs_in_once() {
    let app = TestApp::spawn().await;
    let alice = enrolled(&app, "alice").await;
    let lock = format!("UPDATE recovery_codes SET used_at = used_at WHERE user_id = '{}'", alice.id);
    for round in 0..5 {
        let first = password_step(&app, "alice", PASSWORD).await;
        let second = password_step(&app, "alice", PASSWORD).await;
        let code = &alice.recovery_codes[round];
        let (a, b) = at_once(
            &app,
            round,
            &lock,
            with_recovery_code(&app, &first, code),
            with_recovery_code(&app, &second, code),
        )
        .await;
        one_wins(a, b, &format!("round {round}")).await;
        let used =
            format!("SELECT COUNT(*) FROM recovery_codes WHERE user_id = '{}' AND used_at IS NOT NULL", alice.id);
        assert_eq!(app.sql_i64(&used).await, i64::try_from(round).unwrap() + 1, "round {round}");
    }
    let events = own_events(&app, &alice.access).await;
    assert_eq!(of_type(&events, "recovery_code.used").len(), 5, "one event per code used");
    assert_eq!(of_type(&events, "login.succeeded").len(), 6, "the login before TOTP and one per round");
}

// ---------------------------------------------------------------------------------------
// 8. Turning it off, new recovery codes.

#[tokio::test]
async fn turning_totp_off_needs_the_password_and_a_code() {
    let app = TestApp::spawn().await;
    let alice = enrolled(&app, "alice").await;
    let off = |password: &str, code: &str| {
        app.delete_json(TOTP_PATH, &alice.access, json!({ "password": password, "code": code }))
    };

    let code = alice.totp.code_from_now(0).await;
    expect_field(off("a wrong passphrase", &code).await, "password").await;
    expect_field(off(PASSWORD, &alice.totp.wrong_code()).await, "code").await;
    expect_field(off(PASSWORD, "abcd-efgh-jkmn").await, "code").await;
    expect_field(app.delete_json(TOTP_PATH, &alice.access, json!({ "password": PASSWORD })).await, "code").await;
    assert_eq!(mfa_enabled(&app, &alice.access).await, true, "still on");

    let response = off(PASSWORD, &alice.recovery_codes[3]).await;
    assert_eq!(response.status(), 204);
    assert_eq!(mfa_enabled(&app, &alice.access).await, false);
    let access = app.tokens("alice", PASSWORD).await.access;
    assert_eq!(mfa_enabled(&app, &access).await, false);
    expect_error(off(PASSWORD, &alice.totp.code_from_now(1).await).await, 409, "conflict").await;
    let gone = format!(
        "SELECT COUNT(*) FROM users WHERE id = '{}' AND totp_secret IS NULL \
         AND NOT EXISTS (SELECT 1 FROM recovery_codes WHERE user_id = '{}')",
        alice.id, alice.id
    );
    assert_eq!(app.sql_i64(&gone).await, 1, "the secret and the recovery codes are deleted");

    let events = own_events(&app, &access).await;
    assert_eq!(of_type(&events, "mfa.disabled").len(), 1);
    assert_eq!(of_type(&events, "mfa.failed").len(), 2, "the two wrong codes: {events:?}");
    // It can be set up again, with a new secret.
    let again = setup(&app, &access).await;
    assert_ne!(again["secret"], alice.secret.as_str());
}

#[tokio::test]
async fn new_recovery_codes_need_a_code_and_replace_the_old_ones() {
    let app = TestApp::spawn().await;
    let alice = enrolled(&app, "alice").await;
    let replace = |code: &str| app.post_json(RECOVERY_CODES_PATH, &alice.access, json!({ "code": code }));

    expect_field(replace(&alice.totp.wrong_code()).await, "code").await;
    let code = alice.totp.code_from_now(0).await;
    let response = replace(&code).await;
    assert_eq!(response.status(), 200);
    let body: Value = response.json().await.unwrap();
    let new_codes = strings(&body["recovery_codes"]);
    assert_eq!(new_codes.len(), 10);
    assert_eq!(new_codes.iter().collect::<HashSet<_>>().len(), 10);
    assert!(new_codes.iter().all(|c| !alice.recovery_codes.contains(c)), "{new_codes:?}");
    assert_eq!(app.sql_i64(&format!("SELECT COUNT(*) FROM recovery_codes WHERE user_id = '{}'", alice.id)).await, 10);

    let mfa_token = password_step(&app, "alice", PASSWORD).await;
    // The TOTP code that asked for them was spent.
    expect_error(with_otp(&app, &mfa_token, &code).await, 400, "invalid_grant").await;
    for old in &alice.recovery_codes[..2] {
        expect_error(with_recovery_code(&app, &mfa_token, old).await, 400, "invalid_grant").await;
    }
    expect_tokens(&app, with_recovery_code(&app, &mfa_token, &new_codes[0]).await, "alice").await;

    // No TOTP needed: a (new) recovery code proves the factor too, and it is spent by it.
    let response = replace(&new_codes[1]).await;
    assert_eq!(response.status(), 200);
    let newest = strings(&response.json::<Value>().await.unwrap()["recovery_codes"]);
    expect_field(replace(&new_codes[2]).await, "code").await;
    let events = own_events(&app, &alice.access).await;
    assert_eq!(of_type(&events, "recovery_codes.replaced").len(), 2, "{events:?}");
    let mfa_token = password_step(&app, "alice", PASSWORD).await;
    expect_tokens(&app, with_recovery_code(&app, &mfa_token, &newest[9]).await, "alice").await;
}

// ---------------------------------------------------------------------------------------
// 9. and 10. An admin's removal; a pending login dies with a password reset or change.

#[tokio::test]
async fn an_admin_removes_a_second_factor_and_logins_waiting_for_a_code_die() {
    let app = TestApp::spawn().await;
    let admin = app.admin_tokens().await;
    let admin_me: Value = app.me(&admin.access).await.json().await.unwrap();
    let alice = enrolled(&app, "alice").await;
    app.create_user("bob", PASSWORD).await;
    let bob = app.tokens("bob", PASSWORD).await;
    let path = format!("/api/v1/users/{}/mfa", alice.id);

    let waiting = password_step(&app, "alice", PASSWORD).await;
    expect_error(app.delete(&path, &bob.access).await, 403, "insufficient_scope").await;
    expect_error(app.delete(&path, &alice.access).await, 403, "insufficient_scope").await;
    let unknown = format!("/api/v1/users/{}/mfa", uuid::Uuid::new_v4());
    expect_error(app.delete(&unknown, &admin.access).await, 404, "not_found").await;
    expect_error(app.delete("/api/v1/users/not-a-uuid/mfa", &admin.access).await, 404, "not_found").await;
    assert_eq!(mfa_enabled(&app, &alice.access).await, true, "still on");

    assert_eq!(app.delete(&path, &admin.access).await.status(), 204);
    expect_error(app.delete(&path, &admin.access).await, 409, "conflict").await;
    // The login that waited for a code is dead, even with a right one.
    let code = alice.totp.code_from_now(0).await;
    expect_error(with_otp(&app, &waiting, &code).await, 400, "invalid_grant").await;
    let access = app.tokens("alice", PASSWORD).await.access;
    assert_eq!(mfa_enabled(&app, &access).await, false);
    let recovery = format!("SELECT COUNT(*) FROM recovery_codes WHERE user_id = '{}'", alice.id);
    assert_eq!(app.sql_i64(&recovery).await, 0);

    let events = app.audit(&admin.access, &format!("user_id={}&type=mfa.disabled", alice.id)).await;
    assert_eq!(events.len(), 1, "{events:?}");
    assert_eq!(events[0]["user_id"], alice.id.as_str());
    assert_eq!(events[0]["actor_id"], admin_me["id"], "{:?}", events[0]);
}

#[tokio::test]
async fn a_login_waiting_for_a_code_dies_with_a_password_reset_or_change() {
    let app = TestApp::spawn().await;
    let admin = app.admin_tokens().await;
    let alice = enrolled(&app, "alice").await;

    let waiting = password_step(&app, "alice", PASSWORD).await;
    let (_, reset_token) = app.reset_link(&admin.access, &alice.id).await;
    assert_eq!(app.reset_password(&reset_token, NEW_PASSWORD).await.status(), 204);
    let code = alice.totp.code_from_now(0).await;
    expect_error(with_otp(&app, &waiting, &code).await, 400, "invalid_grant").await;
    // The reset did not turn TOTP off, and the dead login spent no code.
    let mfa_token = password_step(&app, "alice", NEW_PASSWORD).await;
    let access = expect_tokens(&app, with_otp(&app, &mfa_token, &code).await, "alice").await;

    let waiting = password_step(&app, "alice", NEW_PASSWORD).await;
    let change = json!({ "current_password": NEW_PASSWORD, "new_password": PASSWORD });
    assert_eq!(app.post_json("/api/v1/users/me/password", &access, change).await.status(), 204);
    expect_error(with_recovery_code(&app, &waiting, &alice.recovery_codes[0]).await, 400, "invalid_grant").await;
    let mfa_token = password_step(&app, "alice", PASSWORD).await;
    expect_tokens(&app, with_recovery_code(&app, &mfa_token, &alice.recovery_codes[0]).await, "alice").await;
}

// ---------------------------------------------------------------------------------------
// 11. Metadata, and what events say.

#[tokio::test]
async fn the_metadata_lists_the_mfa_grant() {
    let app = TestApp::spawn().await;
    let response = app.client.get(app.url("/.well-known/oauth-authorization-server")).send().await.unwrap();
    assert_eq!(response.status(), 200);
    let metadata: Value = response.json().await.unwrap();
    let grants = strings(&metadata["grant_types_supported"]);
    for grant in ["password", "refresh_token", MFA_GRANT] {
        assert!(grants.iter().any(|g| g == grant), "{grant} in {grants:?}");
    }
}

#[tokio::test]
async fn no_event_names_the_secret_or_a_code() {
    let app = TestApp::spawn().await;
    let admin = app.admin_tokens().await;
    let user = app.create_user("alice", PASSWORD).await;
    let id = user["id"].as_str().unwrap();
    let access = app.tokens("alice", PASSWORD).await.access;

    // A first secret, replaced, and the one confirmed.
    let abandoned = setup(&app, &access).await["secret"].as_str().unwrap().to_owned();
    let secret = setup(&app, &access).await["secret"].as_str().unwrap().to_owned();
    let totp = Totp::from_base32(&secret);
    let mut totp_codes = vec![totp.code_from_now(-1).await];
    let response = confirm_totp(&app, &access, &totp_codes[0]).await;
    assert_eq!(response.status(), 200);
    let mut recovery_codes = strings(&response.json::<Value>().await.unwrap()["recovery_codes"]);

    // A login with a wrong code, then a right one; one with a recovery code.
    let mfa_token = password_step(&app, "alice", PASSWORD).await;
    let wrong = totp.wrong_code();
    expect_error(with_otp(&app, &mfa_token, &wrong).await, 400, "invalid_grant").await;
    totp_codes.push(totp.code_from_now(0).await);
    expect_tokens(&app, with_otp(&app, &mfa_token, &totp_codes[1]).await, "alice").await;
    let mfa_token = password_step(&app, "alice", PASSWORD).await;
    expect_error(with_recovery_code(&app, &mfa_token, "zzzz-zzzz-zzzz").await, 400, "invalid_grant").await;
    expect_tokens(&app, with_recovery_code(&app, &mfa_token, &recovery_codes[0]).await, "alice").await;
    // New recovery codes, then off with one of them.
    totp_codes.push(totp.code_from_now(1).await);
    let response = app.post_json(RECOVERY_CODES_PATH, &access, json!({ "code": totp_codes[2] })).await;
    assert_eq!(response.status(), 200);
    let new_codes = strings(&response.json::<Value>().await.unwrap()["recovery_codes"]);
    expect_field(app.post_json(RECOVERY_CODES_PATH, &access, json!({ "code": wrong })).await, "code").await;
    let off = json!({ "password": PASSWORD, "code": new_codes[0] });
    assert_eq!(app.delete_json(TOTP_PATH, &access, off).await.status(), 204);
    recovery_codes.extend(new_codes);

    let own = own_events(&app, &access).await;
    let audit = app.audit(&admin.access, &format!("user_id={id}&limit=200")).await;
    let kinds: HashSet<&str> = own.iter().map(|e| e["type"].as_str().unwrap()).collect();
    for kind in ["mfa.enabled", "mfa.failed", "recovery_code.used", "recovery_codes.replaced", "mfa.disabled"] {
        assert!(kinds.contains(kind), "{kind} in {kinds:?}");
    }
    let text = serde_json::to_string(&(&own, &audit)).unwrap();
    let lower = text.to_lowercase();
    for secret in [&secret, &abandoned] {
        assert!(!lower.contains(&secret.to_lowercase()), "a secret in {text}");
    }
    for code in recovery_codes.iter().chain(["zzzz-zzzz-zzzz".to_owned()].iter()) {
        assert!(!lower.contains(code) && !lower.contains(&code.replace('-', "")), "{code} in {text}");
    }
    // TOTP codes are six digits: look for them where they could be written (a timestamp's
    // microseconds may hold any six digits).
    let details = serde_json::to_string(&own.iter().chain(&audit).map(|e| &e["detail"]).collect::<Vec<_>>()).unwrap();
    for code in totp_codes.iter().chain([&wrong]) {
        assert!(!details.contains(code.as_str()), "{code} in {details}");
    }
}

// ---------------------------------------------------------------------------------------
// Review follow-ups: an atomic attempt limit, an admin's own factor, the master key, the
// housekeeping.

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn codes_sent_at_once_on_one_mfa_token_never_outnumber_its_limit() {
    // Without the account throttle (an operator may turn it off), only the token's own limit
    // holds guesses back, and it must hold against a burst too.
    let app = TestApp::spawn_with(&[("GATEHOUSE_LIMIT_LOGIN_PER_ACCOUNT", "0")]).await;
    let alice = enrolled(&app, "alice").await;
    let mfa_token = password_step(&app, "alice", PASSWORD).await;
    let wrong = alice.totp.wrong_code();
    let burst = (0..12).map(|_| with_otp(&app, &mfa_token, &wrong));
    let answers = futures_util::future::join_all(burst).await;
    assert!(answers.iter().all(|r| r.status() == 400), "every wrong code is refused");
    let tried = app.sql_i64("SELECT COUNT(*) FROM audit_events WHERE type = 'mfa.failed'").await;
    assert!(tried <= 5, "at most 5 codes were checked against one token, not {tried}");
    let right = alice.totp.code_from_now(0).await;
    expect_error(with_otp(&app, &mfa_token, &right).await, 400, "invalid_grant").await;
}

#[tokio::test]
async fn an_admin_cannot_strip_their_own_second_factor_with_a_token_alone() {
    let app = TestApp::spawn().await;
    let admin = app.admin_tokens().await;
    let me: Value = app.me(&admin.access).await.json().await.unwrap();
    let started = start_totp(&app, &admin.access, crate::helpers::ADMIN_PASSWORD).await;
    assert_eq!(started.status(), 200);
    let setup: Value = started.json().await.unwrap();
    let totp = Totp::from_base32(setup["secret"].as_str().unwrap());
    assert_eq!(confirm_totp(&app, &admin.access, &totp.code_from_now(-1).await).await.status(), 200);

    let path = format!("/api/v1/users/{}/mfa", me["id"].as_str().unwrap());
    expect_error(app.delete(&path, &admin.access).await, 409, "conflict").await;
    assert_eq!(mfa_enabled(&app, &admin.access).await, json!(true), "still on");
}

#[tokio::test]
async fn an_instance_whose_master_key_does_not_open_the_stored_secrets_does_not_start() {
    // HS256 signs with the shared secret: no signing key would catch a wrong master key.
    let app = TestApp::spawn_with(&[("GATEHOUSE_JWT_ALGORITHM", "HS256")]).await;
    enrolled(&app, "alice").await;
    let line = app
        .try_spawn_sharing(&[
            ("GATEHOUSE_JWT_ALGORITHM", "HS256"),
            ("GATEHOUSE_MASTER_KEY", "another-master-key-of-at-least-32-bytes!"),
        ])
        .await
        .err()
        .expect("start-up refused");
    assert!(line.starts_with("GATEHOUSE_MASTER_KEY") && !line.contains('\n'), "{line}");
    assert!(app.try_spawn_sharing(&[("GATEHOUSE_JWT_ALGORITHM", "HS256")]).await.is_ok(), "the right key starts");
}

#[tokio::test]
async fn the_housekeeping_keeps_a_set_up_in_progress_and_drops_it_after_15_minutes() {
    let app = TestApp::spawn().await;
    app.create_user("alice", PASSWORD).await;
    let access = app.tokens("alice", PASSWORD).await.access;
    let secret = setup(&app, &access).await["secret"].as_str().unwrap().to_owned();
    let now = SystemTime::now().duration_since(UNIX_EPOCH).unwrap().as_micros() as i64;
    app.auth.purge(now).await.unwrap();
    assert_eq!(app.sql_i64("SELECT COUNT(*) FROM totp_enrolments").await, 1, "a set-up in progress survives");
    app.auth.purge(now + 16 * 60 * 1_000_000).await.unwrap();
    assert_eq!(app.sql_i64("SELECT COUNT(*) FROM totp_enrolments").await, 0, "an abandoned one goes");
    let code = Totp::from_base32(&secret).code_from_now(0).await;
    expect_error(confirm_totp(&app, &access, &code).await, 409, "conflict").await;
}

#[tokio::test]
async fn a_code_step_records_its_login_with_how_it_was_proven_and_a_failed_one_starts_none() {
    let app = TestApp::spawn().await;
    let alice = enrolled(&app, "alice").await;
    let logins_before = app.sql_i64(&format!("SELECT COUNT(*) FROM logins WHERE user_id = '{}'", alice.id)).await;

    let mfa_token = password_step(&app, "alice", PASSWORD).await;
    expect_error(with_otp(&app, &mfa_token, &alice.totp.wrong_code()).await, 400, "invalid_grant").await;
    let after_wrong = app.sql_i64(&format!("SELECT COUNT(*) FROM logins WHERE user_id = '{}'", alice.id)).await;
    assert_eq!(after_wrong, logins_before, "a wrong code starts no login");

    let access =
        expect_tokens(&app, with_recovery_code(&app, &mfa_token, &alice.recovery_codes[3]).await, "alice").await;
    let logins: Value = app.get("/api/v1/users/me/logins", &access).await.json().await.unwrap();
    let current =
        logins["items"].as_array().unwrap().iter().find(|l| l["current"] == true).expect("this login").clone();
    let events = own_events(&app, &alice.access).await;
    let succeeded = of_type(&events, "login.succeeded");
    let this = succeeded.iter().find(|e| e["detail"]["login_id"] == current["id"]).expect("the login's own event");
    assert_eq!(this["detail"]["second_factor"], "recovery_code", "{this}");
    assert_eq!(of_type(&events, "recovery_code.used").len(), 1);
}
