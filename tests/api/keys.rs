//! Signing keys and discovery (`shared/spec/http-api.md` part 2): the JWKS, `kid` in every
//! token, verification among our own keys only, rotation across instances, RFC 8414.

use crate::helpers::{ADMIN, MASTER_KEY, SECRET, TestApp, expect_error};
use base64::{Engine as _, engine::general_purpose::URL_SAFE_NO_PAD};
use jsonwebtoken::{Algorithm, DecodingKey, EncodingKey, Header, Validation, jwk::JwkSet};
use serde_json::{Value, json};
use std::time::{Duration, Instant};

const PASSWORD: &str = "a long passphrase";

async fn jwks(app: &crate::helpers::Api) -> (JwkSet, Value, String) {
    let response = app.client.get(app.url("/.well-known/jwks.json")).send().await.unwrap();
    assert_eq!(response.status(), 200);
    let cache = response.headers()["cache-control"].to_str().unwrap().to_owned();
    let raw: Value = response.json().await.unwrap();
    (serde_json::from_value(raw.clone()).unwrap(), raw, cache)
}

fn kid_of(token: &str) -> String {
    jsonwebtoken::decode_header(token).unwrap().kid.expect("every token names its key")
}

/// The claims of `token`, verified with the published key its `kid` names, as another service
/// would.
async fn verify_as_a_service(app: &crate::helpers::Api, token: &str, alg: Algorithm) -> Value {
    let header = jsonwebtoken::decode_header(token).unwrap();
    assert_eq!(header.alg, alg);
    let (set, _, _) = jwks(app).await;
    let jwk = set.find(header.kid.as_deref().unwrap()).expect("the token's key is published");
    let mut validation = Validation::new(alg);
    validation.set_audience(&["gatehouse"]);
    jsonwebtoken::decode::<Value>(token, &DecodingKey::from_jwk(jwk).unwrap(), &validation).unwrap().claims
}

#[tokio::test]
async fn the_jwks_publishes_public_keys_only_and_tokens_verify_with_it_for_eddsa_and_es256() {
    for (alg, kty, crv, members) in
        [(Algorithm::EdDSA, "OKP", "Ed25519", &["x"][..]), (Algorithm::ES256, "EC", "P-256", &["x", "y"][..])]
    {
        let name = format!("{alg:?}");
        let app = TestApp::spawn_with(&[("GATEHOUSE_JWT_ALGORITHM", name.as_str())]).await;
        let (_, raw, cache) = jwks(&app).await;
        assert_eq!(cache, "public, max-age=300");
        let keys = raw["keys"].as_array().unwrap();
        assert_eq!(keys.len(), 1, "{raw}");
        let key = &keys[0];
        assert_eq!((key["kty"].as_str(), key["crv"].as_str()), (Some(kty), Some(crv)), "{key}");
        assert_eq!((key["alg"].as_str(), key["use"].as_str()), (Some(name.as_str()), Some("sig")));
        for member in members {
            assert!(key[member].as_str().is_some_and(|v| !v.is_empty()), "{member} in {key}");
        }
        for private in ["d", "p", "q", "k"] {
            assert!(key.get(private).is_none(), "no private member {private} in {key}");
        }
        let admin = app.admin_tokens().await;
        assert_eq!(kid_of(&admin.access), key["kid"].as_str().unwrap());
        let claims = verify_as_a_service(&app, &admin.access, alg).await;
        assert_eq!(claims["iss"], "gatehouse");
        assert_eq!(app.me(&admin.access).await.status(), 200);
        // The database holds the private part sealed, never in the clear.
        let sealed = app.sql_string("SELECT private_key FROM signing_keys").await;
        assert!(sealed.starts_with("v1."), "{sealed}");
        assert!(!app.sql_string("SELECT public_jwk FROM signing_keys").await.contains("\"d\""));
    }
}

#[tokio::test]
async fn under_hs256_the_jwks_is_empty_and_rotation_is_refused_with_409() {
    let app = TestApp::spawn_with(&[("GATEHOUSE_JWT_SECRET", SECRET)]).await;
    let (_, raw, _) = jwks(&app).await;
    assert_eq!(raw, json!({ "keys": [] }));
    let admin = app.admin_tokens().await;
    assert_eq!(jsonwebtoken::decode_header(&admin.access).unwrap().alg, Algorithm::HS256);
    let rotated = app.post("/api/v1/admin/keys/rotate", &admin.access).await;
    expect_error(rotated, 409, "conflict").await;
}

#[tokio::test]
async fn tokens_naming_keys_that_are_not_ours_or_carrying_their_own_are_refused() {
    let app = TestApp::spawn().await;
    app.create_user("alice", PASSWORD).await;
    let real = app.tokens("alice", PASSWORD).await;
    let claims = verify_as_a_service(&app, &real.access, Algorithm::EdDSA).await;
    let kid = kid_of(&real.access);
    let (set, raw, _) = jwks(&app).await;
    assert!(set.find(&kid).is_some());
    let x = raw["keys"][0]["x"].as_str().unwrap().to_owned();

    // Another Ed25519 key, under our kid, and with its own key attached in every way a
    // header can carry one.
    let mallory = ed25519_der();
    let signed = |header: Header| jsonwebtoken::encode(&header, &claims, &EncodingKey::from_ed_der(&mallory)).unwrap();
    let with_kid = |mut header: Header| {
        header.kid = Some(kid.clone());
        header
    };
    let mut jku = with_kid(Header::new(Algorithm::EdDSA));
    jku.jku = Some("https://mallory.example/jwks.json".into());
    let mut x5u = with_kid(Header::new(Algorithm::EdDSA));
    x5u.x5u = Some("https://mallory.example/cert.pem".into());
    let mut embedded = with_kid(Header::new(Algorithm::EdDSA));
    embedded.jwk = serde_json::from_value(raw["keys"][0].clone()).ok();
    let mut unknown = Header::new(Algorithm::EdDSA);
    unknown.kid = Some("not-a-key-of-ours".into());
    // The classic confusion: HS256 with the public key's bytes as the secret.
    let public_bytes = URL_SAFE_NO_PAD.decode(&x).unwrap();
    let confused = {
        let header = with_kid(Header::new(Algorithm::HS256));
        jsonwebtoken::encode(&header, &claims, &EncodingKey::from_secret(&public_bytes)).unwrap()
    };
    let confused_text = jsonwebtoken::encode(
        &with_kid(Header::new(Algorithm::HS256)),
        &claims,
        &EncodingKey::from_secret(x.as_bytes()),
    )
    .unwrap();
    let real_parts: Vec<&str> = real.access.split('.').collect();
    let none = format!("{}.{}.", URL_SAFE_NO_PAD.encode(format!(r#"{{"alg":"none","kid":"{kid}"}}"#)), real_parts[1]);
    for (what, token) in [
        ("another key under our kid", signed(with_kid(Header::new(Algorithm::EdDSA)))),
        ("jku", signed(jku)),
        ("x5u", signed(x5u)),
        ("embedded jwk", signed(embedded)),
        ("unknown kid", signed(unknown)),
        ("HS256 with the public key's bytes", confused),
        ("HS256 with the public key's text", confused_text),
        ("alg none", none),
    ] {
        let response = app.me(&token).await;
        expect_error(response, 401, "invalid_token").await;
        let _ = what;
    }
    assert_eq!(app.me(&real.access).await.status(), 200, "the real token still works");
}

fn ed25519_der() -> Vec<u8> {
    use ed25519_dalek::pkcs8::EncodePrivateKey as _;
    let key = ed25519_dalek::SigningKey::from_bytes(&rand::random::<[u8; 32]>());
    key.to_pkcs8_der().unwrap().as_bytes().to_vec()
}

#[tokio::test]
async fn a_wrong_master_key_stops_start_up_with_one_line() {
    let app = TestApp::spawn().await;
    let line = app
        .try_spawn_sharing(&[("GATEHOUSE_MASTER_KEY", "another-master-key-of-at-least-32-bytes!")])
        .await
        .err()
        .expect("start-up refused");
    assert!(line.starts_with("GATEHOUSE_MASTER_KEY"), "{line}");
    assert!(!line.contains(MASTER_KEY) && !line.contains('\n'), "{line}");
}

#[tokio::test]
async fn a_damaged_or_undecryptable_key_row_stops_start_up_with_one_line_naming_it() {
    let app = TestApp::spawn().await;
    let kid = app.sql_string("SELECT kid FROM signing_keys").await;
    let public = app.sql_string("SELECT public_jwk FROM signing_keys").await;
    let sealed = app.sql_string("SELECT private_key FROM signing_keys").await;
    for (column, value, expected) in [
        ("public_jwk", r#"{"kty":"OKP","crv":"Ed25519","x":"AAAA"}"#, "GATEHOUSE_DATABASE_URL"),
        ("alg", "RS256", "GATEHOUSE_DATABASE_URL"),
        ("private_key", "v1.AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA", "GATEHOUSE_MASTER_KEY"),
    ] {
        app.sql_execute(&format!("UPDATE signing_keys SET {column} = '{value}'")).await;
        let line = app.try_spawn_sharing(&[]).await.err().expect("start-up refused");
        assert!(line.starts_with(expected) && line.contains(&kid) && !line.contains('\n'), "{column}: {line}");
        // Put the row back for the next case.
        app.sql_execute(&format!(
            "UPDATE signing_keys SET public_jwk = '{public}', alg = 'EdDSA', private_key = '{sealed}'"
        ))
        .await;
    }
    assert!(app.try_spawn_sharing(&[]).await.is_ok(), "the restored row opens");
}

#[tokio::test]
async fn discovery_answers_odd_methods_with_the_error_json() {
    let app = TestApp::spawn().await;
    for path in ["/.well-known/jwks.json", "/.well-known/oauth-authorization-server"] {
        let posted = app.client.post(app.url(path)).body("{}").send().await.unwrap();
        expect_error(posted, 405, "method_not_allowed").await;
        let deleted = app.client.delete(app.url(path)).send().await.unwrap();
        expect_error(deleted, 405, "method_not_allowed").await;
        // A body on a GET is ignored.
        let with_body = app.client.get(app.url(path)).body("ignored").send().await.unwrap();
        assert_eq!(with_body.status(), 200, "{path}");
    }
    let missing = app.client.get(app.url("/.well-known/nothing-here")).send().await.unwrap();
    expect_error(missing, 404, "not_found").await;
}

#[tokio::test]
async fn only_admins_see_and_rotate_keys() {
    let app = TestApp::spawn().await;
    app.create_user("alice", PASSWORD).await;
    let alice = app.tokens("alice", PASSWORD).await;
    let rotate = |token: Option<String>| {
        let request = app.client.post(app.url("/api/v1/admin/keys/rotate"));
        async move { if let Some(t) = token { request.bearer_auth(t) } else { request }.send().await.unwrap() }
    };
    expect_error(rotate(None).await, 401, "unauthorized").await;
    expect_error(rotate(Some(alice.access.clone())).await, 403, "insufficient_scope").await;
    expect_error(app.get("/api/v1/admin/keys", &alice.access).await, 403, "insufficient_scope").await;
    assert_eq!(app.sql_i64("SELECT COUNT(*) FROM signing_keys").await, 1, "nothing rotated");
}

/// A whole rotation on two instances with a one-second publish delay and two-second tokens:
/// the new key is published at once on both, signs after the delay, and the old one keeps
/// verifying until its last token has expired, then leaves the set. No token is refused at
/// any moment on either instance.
#[tokio::test]
async fn a_rotation_on_two_instances_refuses_no_token_and_retires_the_old_key() {
    let vars = [("GATEHOUSE_KEY_ROTATION_DELAY", "1"), ("GATEHOUSE_ACCESS_TOKEN_TTL", "2")];
    let a = TestApp::spawn_with(&vars).await;
    let b = a.spawn_sharing(&vars).await;
    let admin = a.admin_tokens().await;
    let old = kid_of(&admin.access);

    let rotated = a.post("/api/v1/admin/keys/rotate", &admin.access).await;
    assert_eq!(rotated.status(), 200);
    let rotated: Value = rotated.json().await.unwrap();
    let new = rotated["kid"].as_str().unwrap().to_owned();
    assert_ne!(new, old);
    assert_eq!(rotated["state"], "next");
    let (set, _, _) = jwks(&a).await;
    assert!(set.find(&new).is_some() && set.find(&old).is_some(), "published at once, beside the old key");
    let listed: Value = a.get("/api/v1/admin/keys", &admin.access).await.json().await.unwrap();
    let states: Vec<(&str, &str)> = listed["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|k| (k["kid"].as_str().unwrap(), k["state"].as_str().unwrap()))
        .collect();
    assert_eq!(states, [(old.as_str(), "current"), (new.as_str(), "next")]);
    assert!(!listed.to_string().contains("private"), "{listed}");

    // Both instances log people in and check every token they have issued, the whole time.
    let started = Instant::now();
    let mut live: Vec<(Instant, String)> = Vec::new();
    let (mut saw_new_on_a, mut saw_new_on_b, mut old_left) = (false, false, false);
    while started.elapsed() < Duration::from_secs(40) {
        for (name, app) in [("a", &a), ("b", &b)] {
            let tokens = app.tokens(ADMIN, crate::helpers::ADMIN_PASSWORD).await;
            let kid = kid_of(&tokens.access);
            assert!(kid == old || kid == new, "{kid}");
            if kid == new {
                assert!(started.elapsed() >= Duration::from_millis(900), "signing before the delay");
                if name == "a" { saw_new_on_a = true } else { saw_new_on_b = true }
            }
            live.push((Instant::now(), tokens.access));
        }
        live.retain(|(issued, _)| issued.elapsed() < Duration::from_millis(1_500));
        for (_, token) in &live {
            for app in [&a, &b] {
                assert_eq!(app.me(token).await.status(), 200, "a live token was refused at {:?}", started.elapsed());
            }
        }
        let (set_a, _, _) = jwks(&a).await;
        let (set_b, _, _) = jwks(&b).await;
        if started.elapsed() > Duration::from_secs(10) {
            assert!(set_b.find(&new).is_some(), "the other instance publishes the new key within 10 s");
        }
        if set_a.find(&old).is_none() && set_b.find(&old).is_none() {
            old_left = true;
            break;
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    assert!(saw_new_on_a && saw_new_on_b, "both instances sign with the new key");
    assert!(old_left, "the old key left the set after its last token expired");
    // It left no earlier than its last token could expire: the switch + TTL + leeway.
    assert!(started.elapsed() >= Duration::from_secs(1 + 2 + 5), "left after {:?}", started.elapsed());
    let listed: Value = a.get("/api/v1/admin/keys", &a.admin_tokens().await.access).await.json().await.unwrap();
    assert_eq!(listed["items"].as_array().unwrap().len(), 1, "{listed}");
    assert_eq!(listed["items"][0]["state"], "current");
}

/// With no publish delay, a token signed by a key made a moment ago on another instance is
/// accepted here at once: an unknown kid makes the instance read the key set again.
#[tokio::test]
async fn a_key_made_on_another_instance_verifies_at_once() {
    let a = TestApp::spawn_with(&[("GATEHOUSE_KEY_ROTATION_DELAY", "0")]).await;
    let b = a.spawn_sharing(&[("GATEHOUSE_KEY_ROTATION_DELAY", "0")]).await;
    let admin = a.admin_tokens().await;
    assert_eq!(b.me(&admin.access).await.status(), 200);
    let rotated: Value = a.post("/api/v1/admin/keys/rotate", &admin.access).await.json().await.unwrap();
    assert_eq!(rotated["state"], "current");
    let fresh = a.admin_tokens().await;
    assert_eq!(kid_of(&fresh.access), rotated["kid"].as_str().unwrap());
    assert_eq!(b.me(&fresh.access).await.status(), 200, "b had not seen the key yet");
    assert_eq!(b.me(&admin.access).await.status(), 200, "the old key still verifies");
}

#[tokio::test]
async fn the_authorization_server_metadata_follows_rfc_8414() {
    let app = TestApp::spawn().await;
    let response = app.client.get(app.url("/.well-known/oauth-authorization-server")).send().await.unwrap();
    assert_eq!(response.status(), 200);
    let meta: Value = response.json().await.unwrap();
    let base = &app.base;
    assert_eq!(meta["issuer"], "gatehouse");
    assert_eq!(meta["token_endpoint"], format!("{base}/api/v1/auth/token"));
    assert_eq!(meta["revocation_endpoint"], format!("{base}/api/v1/auth/revoke"));
    assert_eq!(meta["jwks_uri"], format!("{base}/.well-known/jwks.json"));
    assert_eq!(meta["grant_types_supported"], json!(["password", "refresh_token", "urn:gatehouse:grant-type:mfa-otp"]));
    assert_eq!(meta["token_endpoint_auth_methods_supported"], json!(["none"]));
    assert_eq!(meta["service_documentation"], format!("{base}/api/docs"));
    // Every URL it names answers.
    let jwks = app.client.get(meta["jwks_uri"].as_str().unwrap()).send().await.unwrap();
    assert_eq!(jwks.status(), 200);

    // With a public URL, the issuer and every endpoint are on it.
    let public = TestApp::spawn_with(&[("GATEHOUSE_PUBLIC_URL", "https://auth.example.com")]).await;
    let meta: Value = public
        .client
        .get(public.url("/.well-known/oauth-authorization-server"))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(meta["issuer"], "https://auth.example.com");
    assert_eq!(meta["token_endpoint"], "https://auth.example.com/api/v1/auth/token");
    assert_eq!(meta["jwks_uri"], "https://auth.example.com/.well-known/jwks.json");
    let token = public.admin_tokens().await.access;
    let claims = verify_as_a_service(&public, &token, Algorithm::EdDSA).await;
    assert_eq!(claims["iss"], "https://auth.example.com", "tokens name the same issuer");
}
