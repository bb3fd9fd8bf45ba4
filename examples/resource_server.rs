//! A service of your own that accepts Gatehouse access tokens on its own, holding no secret:
//! it fetches Gatehouse's public keys (`/.well-known/jwks.json`), keeps them, fetches them
//! again when a token names a key it does not know (a rotation), never more often than a
//! floor allows, and checks the signature, the algorithm, `iss`, `aud` and `exp`.
//!
//! ```sh
//! cargo run --example resource_server --features ssr
//! # GATEHOUSE_URL=http://127.0.0.1:3000 (default), ISSUER=gatehouse, AUDIENCE=gatehouse,
//! # LISTEN=127.0.0.1:4000
//! curl -H "Authorization: Bearer $ACCESS_TOKEN" http://127.0.0.1:4000/hello
//! ```
//!
//! What it cannot know: that the person logged out or was disabled since the token was
//! issued. The token stays valid here until it expires, so keep the access-token lifetime
//! short (GATEHOUSE_ACCESS_TOKEN_TTL), or ask Gatehouse (`GET /api/v1/users/me` with the
//! token) for the few actions where a minute of lag matters.

use axum::{
    Json, Router,
    extract::State,
    http::{HeaderMap, StatusCode, header},
    response::{IntoResponse, Response},
    routing::get,
};
use jsonwebtoken::{Algorithm, DecodingKey, Validation, jwk::JwkSet};
use serde::Deserialize;
use serde_json::json;
use std::{
    collections::HashMap,
    sync::{
        Arc, Mutex, RwLock,
        atomic::{AtomicU64, Ordering},
    },
    time::{Duration, Instant},
};

/// The claims this service reads from a Gatehouse access token.
#[derive(Debug, Deserialize)]
pub struct Claims {
    /// The user's id.
    pub sub: String,
    pub exp: u64,
}

/// How long a fetched key set is used before it is fetched again (Gatehouse's JWKS
/// `max-age`, and its default delay between publishing a key and signing with it).
const MAX_AGE: Duration = Duration::from_secs(300);

/// Verifies Gatehouse access tokens with its published keys.
pub struct Verifier {
    jwks_url: String,
    issuer: String,
    audience: String,
    /// At most one fetch per this interval, however many unknown `kid`s arrive.
    refetch_floor: Duration,
    client: reqwest::Client,
    keys: RwLock<HashMap<String, (Algorithm, DecodingKey)>>,
    last_fetch: Mutex<Option<Instant>>,
    fetches: AtomicU64,
}

/// Why a request was refused.
#[derive(Debug, PartialEq, Eq)]
pub enum Refused {
    /// No bearer token.
    Missing,
    /// A token that is not acceptable (whatever the reason: the caller learns no more).
    Invalid,
}

impl Verifier {
    pub fn new(gatehouse_url: &str, issuer: &str, audience: &str, refetch_floor: Duration) -> Self {
        Self {
            jwks_url: format!("{}/.well-known/jwks.json", gatehouse_url.trim_end_matches('/')),
            issuer: issuer.to_owned(),
            audience: audience.to_owned(),
            refetch_floor,
            client: reqwest::Client::builder().timeout(Duration::from_secs(5)).build().expect("an HTTP client"),
            keys: RwLock::new(HashMap::new()),
            last_fetch: Mutex::new(None),
            fetches: AtomicU64::new(0),
        }
    }

    /// How many times the key set was fetched.
    pub fn fetches(&self) -> u64 {
        self.fetches.load(Ordering::Relaxed)
    }

    /// The claims of a valid token. The algorithm comes from our copy of the key the token
    /// names, never from the token; only asymmetric algorithms are accepted.
    pub async fn verify(&self, token: &str) -> Result<Claims, Refused> {
        let header = jsonwebtoken::decode_header(token).map_err(|_| Refused::Invalid)?;
        let kid = header.kid.ok_or(Refused::Invalid)?;
        if self.is_stale() {
            // Gatehouse publishes a new key this long before signing with it (the JWKS cache
            // time): a copy no older than that knows every key before its first token.
            self.refetch().await;
        }
        let known = self.keys.read().unwrap().get(&kid).map(|(alg, key)| (*alg, key.clone()));
        let (alg, key) = match known {
            Some(found) => found,
            None => {
                // Perhaps a key published since our last fetch: fetch again, within the floor.
                self.refetch().await;
                let keys = self.keys.read().unwrap();
                keys.get(&kid).map(|(alg, key)| (*alg, key.clone())).ok_or(Refused::Invalid)?
            }
        };
        if header.alg != alg {
            return Err(Refused::Invalid);
        }
        let mut validation = Validation::new(alg);
        validation.algorithms = vec![alg];
        validation.set_issuer(&[&self.issuer]);
        validation.set_audience(&[&self.audience]);
        validation.set_required_spec_claims(&["exp", "iss", "aud", "sub"]);
        validation.leeway = 5;
        jsonwebtoken::decode::<Claims>(token, &key, &validation).map(|data| data.claims).map_err(|_| Refused::Invalid)
    }

    fn is_stale(&self) -> bool {
        self.last_fetch.lock().unwrap().is_none_or(|at| at.elapsed() >= MAX_AGE)
    }

    /// Fetches the key set unless the last fetch was less than the floor ago.
    async fn refetch(&self) {
        {
            let mut last = self.last_fetch.lock().unwrap();
            if last.is_some_and(|at| at.elapsed() < self.refetch_floor) {
                return;
            }
            *last = Some(Instant::now());
        }
        self.fetches.fetch_add(1, Ordering::Relaxed);
        let set = match self.client.get(&self.jwks_url).send().await {
            Ok(response) if response.status().is_success() => response.json::<JwkSet>().await,
            Ok(response) => {
                eprintln!("resource server: {} answered {}", self.jwks_url, response.status());
                return;
            }
            Err(e) => Err(e),
        };
        let Ok(set) = set else {
            eprintln!("resource server: cannot read {}", self.jwks_url);
            return;
        };
        let mut keys = HashMap::new();
        for jwk in &set.keys {
            let alg = match jwk.common.key_algorithm.map(|a| a.to_string()).as_deref() {
                Some("EdDSA") => Algorithm::EdDSA,
                Some("ES256") => Algorithm::ES256,
                _ => continue, // nothing else is accepted, whatever the set says
            };
            if let (Some(kid), Ok(key)) = (jwk.common.key_id.clone(), DecodingKey::from_jwk(jwk)) {
                keys.insert(kid, (alg, key));
            }
        }
        *self.keys.write().unwrap() = keys;
    }
}

/// `GET /hello`: who is calling, for a valid Gatehouse access token.
async fn hello(State(verifier): State<Arc<Verifier>>, headers: HeaderMap) -> Response {
    let token = headers
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("Bearer "))
        .ok_or(Refused::Missing);
    match async { verifier.verify(token?).await }.await {
        Ok(claims) => Json(json!({ "hello": claims.sub, "expires": claims.exp })).into_response(),
        Err(Refused::Missing) => (StatusCode::UNAUTHORIZED, [(header::WWW_AUTHENTICATE, "Bearer")]).into_response(),
        Err(Refused::Invalid) => {
            (StatusCode::UNAUTHORIZED, [(header::WWW_AUTHENTICATE, "Bearer error=\"invalid_token\"")]).into_response()
        }
    }
}

/// The service's routes.
pub fn router(verifier: Arc<Verifier>) -> Router {
    Router::new().route("/hello", get(hello)).with_state(verifier)
}

#[tokio::main]
async fn main() {
    let var = |name: &str, default: &str| std::env::var(name).unwrap_or_else(|_| default.to_owned());
    let verifier = Verifier::new(
        &var("GATEHOUSE_URL", "http://127.0.0.1:3000"),
        &var("ISSUER", "gatehouse"),
        &var("AUDIENCE", "gatehouse"),
        Duration::from_secs(10),
    );
    let listen = var("LISTEN", "127.0.0.1:4000");
    let listener = tokio::net::TcpListener::bind(&listen).await.expect("the LISTEN address");
    eprintln!("resource server on http://{listen}/hello");
    axum::serve(listener, router(Arc::new(verifier))).await.expect("serving");
}
