//! The browser app's server functions over real HTTP: statuses, the refresh cookie, and
//! that every protected one checks its own caller.

use crate::helpers::{ADMIN, ADMIN_PASSWORD, TestApp, www_authenticate};
use reqwest::Response;
use serde_json::Value;

const PASSWORD: &str = "a long passphrase";

async fn call(app: &TestApp, endpoint: &str, form: &[(&str, &str)], headers: &[(&str, &str)]) -> Response {
    let mut request =
        app.client.post(app.url(&format!("/fn/{endpoint}"))).form(form).header("accept", "application/json");
    for (k, v) in headers {
        request = request.header(*k, *v);
    }
    request.send().await.unwrap()
}

/// The refresh cookie set by a response: (the `name=value` pair, the whole header).
fn refresh_cookie(response: &Response) -> Option<(String, String)> {
    set_cookie(response, "gatehouse_refresh")
}

/// The cookie `name` set by a response: (the `name=value` pair, the whole header).
fn set_cookie(response: &Response, name: &str) -> Option<(String, String)> {
    let prefix = format!("{name}=");
    response
        .headers()
        .get_all("set-cookie")
        .iter()
        .filter_map(|v| v.to_str().ok())
        .find(|v| v.starts_with(&prefix))
        .map(|v| (v.split(';').next().unwrap().to_owned(), v.to_owned()))
}

async fn logged_in(app: &TestApp, username: &str, password: &str) -> (String, String) {
    let response = call(app, "login", &[("username", username), ("password", password)], &[]).await;
    assert_eq!(response.status(), 200);
    let (cookie, _) = refresh_cookie(&response).expect("refresh cookie");
    let body: Value = response.json().await.unwrap();
    (body["SignedIn"]["access_token"].as_str().unwrap().to_owned(), cookie)
}

#[tokio::test]
async fn login_sets_an_http_only_lax_refresh_cookie_and_returns_the_person_and_an_access_token() {
    let app = TestApp::spawn().await;
    app.create_user("alice", PASSWORD).await;
    let response = call(&app, "login", &[("username", "alice"), ("password", PASSWORD)], &[]).await;
    assert_eq!(response.status(), 200);
    assert_eq!(response.headers()["cache-control"], "no-store");
    let (pair, header) = refresh_cookie(&response).unwrap();
    assert!(pair.len() > "gatehouse_refresh=".len() + 40);
    for attribute in ["HttpOnly", "SameSite=Lax", "Path=/"] {
        assert!(header.contains(attribute), "{header}");
    }
    assert!(!header.contains("Secure"), "plain HTTP on loopback");
    let body: Value = response.json().await.unwrap();
    let body = &body["SignedIn"];
    assert_eq!(body["user"]["username"], "alice");
    assert!(body["access_token"].as_str().unwrap().split('.').count() == 3);
    assert!(body.get("refresh_token").is_none(), "the refresh token stays in the cookie");
}

/// The second-factor cookie set by a response: (the `name=value` pair, the whole header).
fn mfa_cookie(response: &Response) -> Option<(String, String)> {
    set_cookie(response, "gatehouse_mfa")
}

#[tokio::test]
async fn a_login_waiting_for_its_code_keeps_its_token_in_an_http_only_strict_cookie_and_verify_login_ends_it() {
    let app = TestApp::spawn().await;
    let person = crate::mfa::enrolled(&app, "alice").await;
    let response = call(&app, "login", &[("username", "alice"), ("password", crate::mfa::PASSWORD)], &[]).await;
    assert_eq!(response.status(), 200);
    assert!(refresh_cookie(&response).is_none(), "not signed in yet");
    let (pair, header) = mfa_cookie(&response).expect("the second-factor cookie");
    for attribute in ["HttpOnly", "SameSite=Strict", "Path=/", "Max-Age=300"] {
        assert!(header.contains(attribute), "{header}");
    }
    let token = pair.trim_start_matches("gatehouse_mfa=").to_owned();
    assert!(token.len() > 40, "{pair}");
    let text = response.text().await.unwrap();
    assert_eq!(text, "\"CodeNeeded\"");

    // No cookie, or a wrong code: one `invalid_grant`; the cookie stays for the next try.
    let code = person.totp.code_from_now(0).await;
    let without = call(&app, "verify-login", &[("code", &code)], &[]).await;
    assert_eq!(without.status(), 400);
    let wrong = call(&app, "verify-login", &[("code", &person.totp.wrong_code())], &[("cookie", &pair)]).await;
    assert_eq!(wrong.status(), 400);
    assert!(mfa_cookie(&wrong).is_none(), "a wrong code keeps the login waiting");

    let signed_in = call(&app, "verify-login", &[("code", &code)], &[("cookie", &pair)]).await;
    assert_eq!(signed_in.status(), 200);
    assert!(refresh_cookie(&signed_in).is_some(), "signed in: the refresh cookie");
    let (cleared, _) = mfa_cookie(&signed_in).expect("the second-factor cookie is removed");
    assert_eq!(cleared, "gatehouse_mfa=");
    let body: Value = signed_in.json().await.unwrap();
    assert_eq!(body["user"]["username"], "alice");
    assert_eq!(body["user"]["mfa_enabled"], true);
    // The token served its one success.
    let again =
        call(&app, "verify-login", &[("code", &person.totp.code_from_now(1).await)], &[("cookie", &pair)]).await;
    assert_eq!(again.status(), 400);
}

#[tokio::test]
async fn wrong_credentials_are_400_and_missing_arguments_400_never_500() {
    let app = TestApp::spawn().await;
    app.create_user("alice", PASSWORD).await;
    let response = call(&app, "login", &[("username", "alice"), ("password", "wrong passphrase")], &[]).await;
    assert_eq!(response.status(), 400);
    assert!(refresh_cookie(&response).is_none());
    assert_eq!(response.json::<Value>().await.unwrap(), "InvalidGrant");
    let response = call(&app, "login", &[("username", "alice")], &[]).await;
    assert_eq!(response.status(), 400);
    let response = call(&app, "list-users", &[("q", "x"), ("offset", "not-a-number")], &[]).await;
    assert_eq!(response.status(), 400);
}

#[tokio::test]
async fn signup_answers_422_with_fields_and_409_for_a_taken_name() {
    let app = TestApp::spawn().await;
    app.create_user("alice", PASSWORD).await;
    let response =
        call(&app, "signup", &[("username", "a b"), ("password", "short"), ("email", ""), ("full_name", "")], &[])
            .await;
    assert_eq!(response.status(), 422);
    let body: Value = response.json().await.unwrap();
    assert!(body["Validation"]["username"].is_string() && body["Validation"]["password"].is_string(), "{body}");
    let response =
        call(&app, "signup", &[("username", "ALICE"), ("password", PASSWORD), ("email", ""), ("full_name", "")], &[])
            .await;
    assert_eq!(response.status(), 409);
    let response =
        call(&app, "signup", &[("username", "bob"), ("password", PASSWORD), ("email", ""), ("full_name", "")], &[])
            .await;
    assert_eq!(response.status(), 200);
    assert!(refresh_cookie(&response).is_some());
}

#[tokio::test]
async fn protected_functions_need_the_bearer_token_and_a_cookie_alone_is_not_enough() {
    let app = TestApp::spawn().await;
    app.create_user("alice", PASSWORD).await;
    let (access, cookie) = logged_in(&app, "alice", PASSWORD).await;
    let response = call(&app, "me", &[], &[]).await;
    assert_eq!(response.status(), 401);
    assert_eq!(www_authenticate(&response), "Bearer");
    let response = call(&app, "me", &[], &[("cookie", &cookie)]).await;
    assert_eq!(response.status(), 401, "the refresh cookie never authorizes a call");
    let response = call(&app, "sign-out-everywhere", &[], &[("cookie", &cookie)]).await;
    assert_eq!(response.status(), 401);
    let response = call(&app, "me", &[], &[("authorization", &format!("Bearer {access}"))]).await;
    assert_eq!(response.status(), 200);
    assert_eq!(response.json::<Value>().await.unwrap()["username"], "alice");
    let response = call(&app, "me", &[], &[("authorization", "Bearer not-a-token")]).await;
    assert_eq!(response.status(), 401);
    assert_eq!(www_authenticate(&response), "Bearer error=\"invalid_token\"");
}

#[tokio::test]
async fn admin_functions_check_the_role_and_answer_403_404_409() {
    let app = TestApp::spawn().await;
    let alice = app.create_user("alice", PASSWORD).await;
    let (user_access, _) = logged_in(&app, "alice", PASSWORD).await;
    let (admin_access, _) = logged_in(&app, ADMIN, ADMIN_PASSWORD).await;
    let as_user = format!("Bearer {user_access}");
    let as_admin = format!("Bearer {admin_access}");
    let response = call(&app, "list-users", &[("q", ""), ("offset", "0")], &[("authorization", &as_user)]).await;
    assert_eq!(response.status(), 403);
    let response = call(
        &app,
        "update-user",
        &[("id", alice["id"].as_str().unwrap()), ("role", "admin")],
        &[("authorization", &as_user)],
    )
    .await;
    assert_eq!(response.status(), 403);
    let response = call(&app, "list-users", &[("q", "ali"), ("offset", "0")], &[("authorization", &as_admin)]).await;
    assert_eq!(response.status(), 200);
    let page: Value = response.json().await.unwrap();
    assert_eq!(page["total"], 1);
    assert_eq!(page["limit"], 50);
    let response = call(
        &app,
        "update-user",
        &[("id", &uuid::Uuid::new_v4().to_string()), ("disabled", "true")],
        &[("authorization", &as_admin)],
    )
    .await;
    assert_eq!(response.status(), 404);
    let admin_id = app.get("/api/v1/users/me", &admin_access).await.json::<Value>().await.unwrap()["id"]
        .as_str()
        .unwrap()
        .to_owned();
    let response =
        call(&app, "update-user", &[("id", &admin_id), ("role", "user")], &[("authorization", &as_admin)]).await;
    assert_eq!(response.status(), 409);
    let response = call(
        &app,
        "update-user",
        &[("id", alice["id"].as_str().unwrap()), ("disabled", "true")],
        &[("authorization", &as_admin)],
    )
    .await;
    assert_eq!(response.status(), 200);
    let response = call(&app, "me", &[], &[("authorization", &as_user)]).await;
    assert_eq!(response.status(), 403, "a disabled account's token is refused at once");
}

#[tokio::test]
async fn refresh_rotates_the_cookie_and_a_replayed_cookie_ends_the_login() {
    let app = TestApp::spawn().await;
    app.create_user("alice", PASSWORD).await;
    let (_, first) = logged_in(&app, "alice", PASSWORD).await;
    let response = call(&app, "refresh", &[], &[("cookie", &first)]).await;
    assert_eq!(response.status(), 200);
    let (second, _) = refresh_cookie(&response).unwrap();
    assert_ne!(first, second);
    let body: Value = response.json().await.unwrap();
    assert_eq!(body["user"]["username"], "alice");
    let response = call(&app, "refresh", &[], &[("cookie", &first)]).await;
    assert_eq!(response.status(), 400);
    let (_, cleared) = refresh_cookie(&response).unwrap();
    assert!(cleared.contains("Max-Age=0"), "{cleared}");
    let response = call(&app, "refresh", &[], &[("cookie", &second)]).await;
    assert_eq!(response.status(), 400, "the replay ended the whole login");
}

#[tokio::test]
async fn a_disabled_account_is_named_when_its_cookie_refreshes_and_the_cookie_goes() {
    let app = TestApp::spawn().await;
    let alice = app.create_user("alice", PASSWORD).await;
    let (_, cookie) = logged_in(&app, "alice", PASSWORD).await;
    let api_tokens = app.tokens("alice", PASSWORD).await;
    let admin = app.admin_tokens().await;
    let path = format!("/api/v1/users/{}", alice["id"].as_str().unwrap());
    assert_eq!(app.patch(&path, &admin.access, serde_json::json!({"disabled": true})).await.status(), 200);
    // The browser learns why it is signed out (pages.md: "Your account has been disabled"),
    // on a page it reloads as at its next refresh...
    let page = app.client.get(app.url("/login")).header("cookie", &cookie).send().await.unwrap();
    assert!(page.text().await.unwrap().contains("Your account has been disabled"));
    let viewer = call(&app, "viewer", &[], &[("cookie", &cookie)]).await;
    assert_eq!(viewer.status(), 403);
    let response = call(&app, "refresh", &[], &[("cookie", &cookie)]).await;
    assert_eq!(response.status(), 403);
    let (_, cleared) = refresh_cookie(&response).expect("the cookie is removed");
    assert!(cleared.contains("Max-Age=0"), "{cleared}");
    let body: Value = response.json().await.unwrap();
    assert!(body.to_string().contains("AccountDisabled"), "{body}");
    // ...while the token endpoint keeps RFC 6749's one answer for any unusable grant.
    crate::helpers::expect_error(app.refresh(&api_tokens.refresh).await, 400, "invalid_grant").await;
}

#[tokio::test]
async fn an_outage_during_a_refresh_keeps_the_cookie() {
    let app = TestApp::spawn().await;
    app.create_user("alice", PASSWORD).await;
    let (_, cookie) = logged_in(&app, "alice", PASSWORD).await;
    // The database goes away (the app's own pool, closed under it).
    app.db.close().await;
    let response = call(&app, "refresh", &[], &[("cookie", &cookie)]).await;
    assert_eq!(response.status(), 503);
    assert_eq!(refresh_cookie(&response), None, "a refresh that could not be tried must not sign anyone out");
}

#[tokio::test]
async fn cookie_reaching_functions_refuse_cross_site_requests() {
    let app = TestApp::spawn().await;
    app.create_user("alice", PASSWORD).await;
    let (_, cookie) = logged_in(&app, "alice", PASSWORD).await;
    let hostile = [("cookie", cookie.as_str()), ("origin", "http://evil.example")];
    assert_eq!(call(&app, "refresh", &[], &hostile).await.status(), 403);
    assert_eq!(call(&app, "logout", &[], &hostile).await.status(), 403);
    let cross_site = [("cookie", cookie.as_str()), ("sec-fetch-site", "cross-site")];
    assert_eq!(call(&app, "login", &[("username", "alice"), ("password", PASSWORD)], &cross_site).await.status(), 403);
    // The login survived every refused attempt.
    assert_eq!(call(&app, "refresh", &[], &[("cookie", &cookie)]).await.status(), 200);
}

#[tokio::test]
async fn viewer_reads_the_cookie_without_using_it_and_logout_ends_the_login() {
    let app = TestApp::spawn().await;
    app.create_user("alice", PASSWORD).await;
    let (access, cookie) = logged_in(&app, "alice", PASSWORD).await;
    let response = call(&app, "viewer", &[], &[]).await;
    assert_eq!(response.json::<Value>().await.unwrap(), Value::Null);
    for _ in 0..2 {
        let response = call(&app, "viewer", &[], &[("cookie", &cookie)]).await;
        assert_eq!(response.json::<Value>().await.unwrap()["username"], "alice");
    }
    let response = call(&app, "logout", &[], &[("cookie", &cookie)]).await;
    assert_eq!(response.status(), 200);
    assert!(refresh_cookie(&response).unwrap().1.contains("Max-Age=0"));
    assert_eq!(call(&app, "viewer", &[], &[("cookie", &cookie)]).await.json::<Value>().await.unwrap(), Value::Null);
    assert_eq!(call(&app, "refresh", &[], &[("cookie", &cookie)]).await.status(), 400);
    assert_eq!(app.me(&access).await.status(), 401, "the login's access token died with it");
}

#[tokio::test]
async fn pages_render_the_signed_in_view_from_the_cookie_and_guard_the_admin_page() {
    let app = TestApp::spawn().await;
    app.create_user("alice", PASSWORD).await;
    let (_, cookie) = logged_in(&app, "alice", PASSWORD).await;
    let no_redirects = reqwest::Client::builder().redirect(reqwest::redirect::Policy::none()).build().unwrap();
    let page = |path: &str, cookie: Option<&str>| {
        let mut request = no_redirects.get(app.url(path)).header("accept", "text/html");
        if let Some(cookie) = cookie {
            request = request.header("cookie", cookie);
        }
        request.send()
    };
    let response = page("/me", Some(&cookie)).await.unwrap();
    assert_eq!(response.status(), 200);
    assert_eq!(response.headers()["cache-control"], "no-store");
    let html = response.text().await.unwrap();
    assert!(html.contains("alice") && html.contains("Sign out everywhere"));
    let response = page("/me", None).await.unwrap();
    assert!(response.status().is_redirection());
    assert_eq!(response.headers()["location"], "/login?next=/me");
    let response = page("/admin/users", Some(&cookie)).await.unwrap();
    assert_eq!(response.status(), 403);
    assert!(response.text().await.unwrap().contains("You do not have access to this page"));
    let response = page("/login", Some(&cookie)).await.unwrap();
    assert!(response.status().is_redirection());
    assert_eq!(response.headers()["location"], "/me");
}
