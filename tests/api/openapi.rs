//! The OpenAPI document and the interactive documentation (`shared/spec/http-api.md` part 2):
//! the document and the router list the same operations, and Swagger UI is served from
//! Gatehouse itself under a strict policy.

use crate::helpers::TestApp;
use reqwest::Method;
use serde_json::Value;
use std::collections::BTreeSet;

/// Every operation of the contract, as (method, path).
const OPERATIONS: &[(&str, &str)] = &[
    ("POST", "/api/v1/auth/register"),
    ("POST", "/api/v1/auth/token"),
    ("POST", "/api/v1/auth/revoke"),
    ("POST", "/api/v1/auth/password-reset"),
    ("GET", "/api/v1/users/me"),
    ("PATCH", "/api/v1/users/me"),
    ("DELETE", "/api/v1/users/me"),
    ("POST", "/api/v1/users/me/sign-out-everywhere"),
    ("POST", "/api/v1/users/me/password"),
    ("GET", "/api/v1/users/me/logins"),
    ("DELETE", "/api/v1/users/me/logins/{id}"),
    ("GET", "/api/v1/users/me/events"),
    ("POST", "/api/v1/users/me/mfa/totp"),
    ("DELETE", "/api/v1/users/me/mfa/totp"),
    ("POST", "/api/v1/users/me/mfa/totp/confirm"),
    ("POST", "/api/v1/users/me/mfa/recovery-codes"),
    ("GET", "/api/v1/users"),
    ("GET", "/api/v1/users/{id}"),
    ("PATCH", "/api/v1/users/{id}"),
    ("DELETE", "/api/v1/users/{id}"),
    ("POST", "/api/v1/users/{id}/password-reset"),
    ("GET", "/api/v1/users/{id}/logins"),
    ("DELETE", "/api/v1/users/{id}/logins/{login_id}"),
    ("DELETE", "/api/v1/users/{id}/mfa"),
    ("GET", "/api/v1/audit"),
    ("GET", "/api/v1/admin/keys"),
    ("POST", "/api/v1/admin/keys/rotate"),
    ("GET", "/api/v1/health"),
    ("GET", "/api/v1/openapi.json"),
    ("GET", "/.well-known/jwks.json"),
    ("GET", "/.well-known/oauth-authorization-server"),
];

async fn document(app: &TestApp) -> Value {
    let response = app.client.get(app.url("/api/v1/openapi.json")).send().await.unwrap();
    assert_eq!(response.status(), 200);
    assert!(response.headers()["content-type"].to_str().unwrap().starts_with("application/json"));
    response.json().await.unwrap()
}

fn operations(doc: &Value) -> BTreeSet<(String, String)> {
    let mut found = BTreeSet::new();
    for (path, item) in doc["paths"].as_object().unwrap() {
        for method in item.as_object().unwrap().keys() {
            found.insert((method.to_uppercase(), path.clone()));
        }
    }
    found
}

#[tokio::test]
async fn the_document_lists_exactly_the_operations_the_router_serves() {
    let app = TestApp::spawn().await;
    let doc = document(&app).await;
    assert!(doc["openapi"].as_str().unwrap().starts_with("3.1"), "{}", doc["openapi"]);
    let expected: BTreeSet<(String, String)> =
        OPERATIONS.iter().map(|(m, p)| ((*m).to_owned(), (*p).to_owned())).collect();
    assert_eq!(operations(&doc), expected);

    // Each documented operation is served: the router answers it with something other than
    // its "no such route" (404) or "no such method" (405).
    for (method, path) in operations(&doc) {
        let id = uuid::Uuid::new_v4().to_string();
        let url = app.url(&path.replace("{id}", &id).replace("{login_id}", &id));
        let response = app.client.request(Method::from_bytes(method.as_bytes()).unwrap(), url).send().await.unwrap();
        let status = response.status().as_u16();
        assert!(status != 404 && status != 405, "{method} {path} answered {status}");
    }
    // And a method the document does not list on a documented path is 405.
    let response = app.client.put(app.url("/api/v1/users/me")).send().await.unwrap();
    assert_eq!(response.status(), 405);
}

/// No route is added beside the documented ones: the JSON API registers routes only through
/// `routes!` (which takes the description from the handler), and the composition root adds
/// none of its own.
#[test]
fn routes_are_registered_only_with_their_descriptions() {
    let root = env!("CARGO_MANIFEST_DIR");
    let api = std::fs::read_to_string(format!("{root}/src/api/mod.rs")).unwrap();
    assert!(!api.contains(".route("), "src/api/mod.rs registers a route without its description");
    let server = std::fs::read_to_string(format!("{root}/src/server.rs")).unwrap();
    assert!(!server.contains(".route("), "src/server.rs registers a route of its own");
}

#[tokio::test]
async fn each_operation_documents_its_errors_and_the_password_flow_secures_the_protected_ones() {
    let app = TestApp::spawn().await;
    let doc = document(&app).await;
    let flow = &doc["components"]["securitySchemes"]["oauth2"]["flows"]["password"];
    assert_eq!(flow["tokenUrl"], "/api/v1/auth/token");
    assert_eq!(flow["refreshUrl"], "/api/v1/auth/token");
    for (path, item) in doc["paths"].as_object().unwrap() {
        for (method, op) in item.as_object().unwrap() {
            let responses = op["responses"].as_object().unwrap();
            let protected = op.get("security").is_some();
            if protected {
                assert!(responses.contains_key("401"), "{method} {path} lists 401");
            }
            for (status, response) in responses {
                if status.starts_with('4') || status.starts_with('5') {
                    let schema = &response["content"]["application/json"]["schema"]["$ref"];
                    assert_eq!(schema, "#/components/schemas/ErrorBody", "{method} {path} {status}");
                }
            }
        }
    }
    let token = &doc["paths"]["/api/v1/auth/token"]["post"]["requestBody"]["content"];
    assert!(token.get("application/x-www-form-urlencoded").is_some(), "{token}");
    let error = &doc["components"]["schemas"]["ErrorBody"]["required"];
    assert_eq!(error, &serde_json::json!(["error", "error_description"]));
}

#[tokio::test]
async fn swagger_ui_is_served_from_here_under_a_policy_without_inline_code() {
    let app = TestApp::spawn().await;
    let client = reqwest::Client::builder().redirect(reqwest::redirect::Policy::none()).build().unwrap();
    let redirect = client.get(app.url("/api/docs")).send().await.unwrap();
    assert!(redirect.status().is_redirection());
    assert_eq!(redirect.headers()["location"], "/api/docs/");
    let page = client.get(app.url("/api/docs/")).send().await.unwrap();
    assert_eq!(page.status(), 200);
    let csp = page.headers()["content-security-policy"].to_str().unwrap().to_owned();
    assert!(csp.contains("script-src 'self';") && csp.contains("connect-src 'self'"), "{csp}");
    assert!(!csp.contains("unsafe-inline") && !csp.contains("unsafe-eval"), "{csp}");
    let html = page.text().await.unwrap();
    assert!(!html.contains("<script>") && !html.contains("style="), "no inline script or style");
    assert!(!html.contains("http://") && !html.contains("https://"), "nothing from elsewhere");
    let init = client.get(app.url("/api/docs/swagger-initializer.js")).send().await.unwrap();
    assert_eq!(init.status(), 200);
    let init: String = init.text().await.unwrap().split_whitespace().collect();
    assert!(init.contains("/api/v1/openapi.json") && init.contains(r#""validatorUrl":"none""#), "{init}");
    for asset in ["swagger-ui-bundle.js", "swagger-ui.css"] {
        assert_eq!(client.get(app.url(&format!("/api/docs/{asset}"))).send().await.unwrap().status(), 200, "{asset}");
    }
}
