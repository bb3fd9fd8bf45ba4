//! `examples/resource_server.rs` against a real Gatehouse: it accepts Gatehouse's access
//! tokens with the published keys alone, through a rotation, and refuses everything else.

#[allow(dead_code)]
#[path = "../../examples/resource_server.rs"]
mod example;

use crate::helpers::{SECRET, TestApp};
use example::{Refused, Verifier};
use serde_json::Value;
use std::{sync::Arc, time::Duration};

const PASSWORD: &str = "a long passphrase";

/// The example service on an ephemeral port, trusting `app`; answers its base URL.
async fn serve(verifier: Arc<Verifier>) -> String {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move { axum::serve(listener, example::router(verifier)).await.unwrap() });
    format!("http://{addr}")
}

#[tokio::test]
async fn the_example_service_accepts_gatehouse_tokens_through_a_rotation() {
    let app = TestApp::spawn_with(&[("GATEHOUSE_KEY_ROTATION_DELAY", "0")]).await;
    let alice = app.create_user("alice", PASSWORD).await;
    let verifier = Arc::new(Verifier::new(&app.base, "gatehouse", "gatehouse", Duration::from_millis(200)));
    let service = serve(Arc::clone(&verifier)).await;
    let hello = |token: Option<String>| {
        let request = app.client.get(format!("{service}/hello"));
        async move { if let Some(t) = token { request.bearer_auth(t) } else { request }.send().await.unwrap() }
    };

    let tokens = app.tokens("alice", PASSWORD).await;
    let response = hello(Some(tokens.access.clone())).await;
    assert_eq!(response.status(), 200);
    let body: Value = response.json().await.unwrap();
    assert_eq!(body["hello"], alice["id"]);
    assert_eq!(verifier.fetches(), 1, "the keys were fetched once");
    assert_eq!(hello(None).await.status(), 401);

    // A rotation: the next token names a key the service has not seen; it fetches the set
    // again and accepts it, and the old token still works.
    let admin = app.admin_tokens().await;
    let rotated = app.post("/api/v1/admin/keys/rotate", &admin.access).await;
    assert_eq!(rotated.status(), 200);
    let fresh = app.tokens("alice", PASSWORD).await;
    assert_ne!(
        jsonwebtoken::decode_header(&fresh.access).unwrap().kid,
        jsonwebtoken::decode_header(&tokens.access).unwrap().kid
    );
    tokio::time::sleep(Duration::from_millis(250)).await; // past the example's fetch floor
    assert_eq!(hello(Some(fresh.access.clone())).await.status(), 200);
    assert_eq!(hello(Some(tokens.access.clone())).await.status(), 200);
    assert_eq!(verifier.fetches(), 2);

    // Tokens naming unknown keys, in a flood, cost at most one fetch per floor.
    let mut header = jsonwebtoken::Header::new(jsonwebtoken::Algorithm::EdDSA);
    header.kid = Some("unknown".into());
    let claims = serde_json::json!({ "sub": "x", "exp": u32::MAX, "iss": "gatehouse", "aud": "gatehouse" });
    let key = {
        use ed25519_dalek::pkcs8::EncodePrivateKey as _;
        let key = ed25519_dalek::SigningKey::from_bytes(&rand::random::<[u8; 32]>());
        jsonwebtoken::EncodingKey::from_ed_der(key.to_pkcs8_der().unwrap().as_bytes())
    };
    let forged = jsonwebtoken::encode(&header, &claims, &key).unwrap();
    for _ in 0..50 {
        assert_eq!(verifier.verify(&forged).await.unwrap_err(), Refused::Invalid);
    }
    assert!(verifier.fetches() <= 3, "{} fetches", verifier.fetches());
}

#[tokio::test]
async fn the_example_service_refuses_other_issuers_audiences_and_shared_secret_tokens() {
    let app = TestApp::spawn().await;
    app.create_user("alice", PASSWORD).await;
    let token = app.tokens("alice", PASSWORD).await.access;
    for (issuer, audience) in [("mallory", "gatehouse"), ("gatehouse", "another-service")] {
        let verifier = Verifier::new(&app.base, issuer, audience, Duration::ZERO);
        assert_eq!(verifier.verify(&token).await.unwrap_err(), Refused::Invalid, "{issuer} {audience}");
    }
    // An HS256 Gatehouse publishes no key: its tokens are not accepted.
    let hs256 = TestApp::spawn_with(&[("GATEHOUSE_JWT_SECRET", SECRET)]).await;
    hs256.create_user("alice", PASSWORD).await;
    let token = hs256.tokens("alice", PASSWORD).await.access;
    let verifier = Verifier::new(&hs256.base, "gatehouse", "gatehouse", Duration::ZERO);
    assert_eq!(verifier.verify(&token).await.unwrap_err(), Refused::Invalid);
    // The right service accepts the right token.
    let verifier = Verifier::new(&app.base, "gatehouse", "gatehouse", Duration::ZERO);
    let token = app.tokens("alice", PASSWORD).await.access;
    assert!(verifier.verify(&token).await.is_ok());
}
