//! Access tokens (JWTs, RFC 8725) and opaque refresh tokens.
//!
//! Access tokens are signed with the key set in force: one HS256 secret, or the asymmetric
//! keys of the database ([`super::keys`]), of which the newest whose `signing_from` has come
//! signs. Every token names its key (`kid`); verification takes the key by `kid` among our
//! own keys only, and the algorithm from that key, never from the token.

use super::keys::{self, KeyAlgorithm, KeyMaterial, KeyRow, OpenError, Sealer};
use crate::{
    audit::{EventType, repository::NewEvent},
    db::{Db, now_micros},
    error::AppError,
};
use base64::{Engine as _, engine::general_purpose::URL_SAFE_NO_PAD};
use bytes::Bytes;
use jsonwebtoken::{Algorithm, DecodingKey, EncodingKey, Header, Validation};
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};
use sha2::{Digest as _, Sha256};
use std::{
    collections::HashMap,
    sync::{Arc, Mutex, RwLock},
    time::{Duration, Instant},
};
use uuid::Uuid;

/// Clock skew tolerated on `exp` and `nbf`, in seconds.
pub const LEEWAY_SECONDS: u64 = 5;

/// How long an instance may take to see a key another instance made (it reloads the key set
/// every [`RELOAD_EVERY`], and at once on an unknown `kid`). A key keeps verifying this much
/// longer after its last token expired, for tokens signed by an instance that had not yet
/// seen its successor.
pub const FOLLOW_WITHIN: Duration = Duration::from_secs(10);

/// How often each instance re-reads the key set.
pub const RELOAD_EVERY: Duration = Duration::from_secs(5);

/// At most one re-read per this interval is caused by tokens with an unknown `kid` (anyone can
/// send those).
const UNKNOWN_KID_RELOAD_FLOOR: Duration = Duration::from_millis(250);

#[derive(Debug, Serialize, Deserialize)]
struct Claims {
    sub: String,
    sid: String,
    exp: u64,
    iat: u64,
    jti: String,
    iss: String,
    aud: String,
}

/// What a verified access token says: whose it is and which login issued it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct AccessClaims {
    pub user_id: Uuid,
    pub login_id: Uuid,
}

/// Why a token did not verify.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Unverified {
    /// Bad in itself: its holder learns nothing more than `invalid_token`.
    Invalid,
    /// Well formed, but signed (if at all) by a key this instance does not know: perhaps one
    /// another instance made a moment ago.
    UnknownKid,
}

/// Issuer, audience and lifetime of access tokens.
#[derive(Clone, Debug)]
pub struct TokenSettings {
    pub issuer: String,
    pub audience: String,
    pub access_ttl_seconds: u64,
}

/// Where the keys come from.
pub enum KeySource {
    /// One shared secret (HS256): nothing is stored, nothing is published.
    Secret(Vec<u8>),
    /// Asymmetric keys of `alg` in the database, sealed by `sealer`; a rotation publishes the
    /// new key `rotation_delay_seconds` before it signs.
    Database { alg: KeyAlgorithm, sealer: Sealer, rotation_delay_seconds: u64 },
}

/// A key as the [`TokenKeys`] hold it.
struct Entry {
    kid: String,
    alg: Algorithm,
    encoding: EncodingKey,
    decoding: DecodingKey,
    validation: Validation,
    /// The public JWK (none for HS256).
    jwk: Option<Value>,
    created_at: i64,
    signing_from: i64,
}

/// The keys in force at one moment, oldest signer first, and the JWKS document of them.
struct KeySet {
    entries: Vec<Entry>,
    jwks: Bytes,
}

/// A key as an admin sees it (`GET /api/v1/admin/keys`): never a private part.
#[derive(Clone, Debug, Serialize, Deserialize, PartialEq, Eq, utoipa::ToSchema)]
pub struct KeyInfo {
    pub kid: String,
    pub alg: String,
    /// Microseconds since the Unix epoch, as every stored time.
    pub created_at: i64,
    pub signing_from: i64,
    /// When a newer key took over (or will): this key signs nothing after it.
    pub retired_at: Option<i64>,
    /// When it leaves the published set: its last token has expired.
    pub leaves_at: Option<i64>,
    /// `next` (published, not signing yet), `current` (signing) or `retiring`.
    pub state: String,
}

/// Signs and verifies access tokens with the key set in force.
pub struct TokenKeys {
    source: KeySource,
    settings: TokenSettings,
    set: RwLock<Arc<KeySet>>,
    last_unknown_kid_reload: Mutex<Option<Instant>>,
    verified: VerifiedCache,
}

impl TokenKeys {
    /// HS256 keys: the secret signs and verifies, under a `kid` derived from it.
    pub fn with_secret(secret: &[u8], settings: TokenSettings) -> Self {
        let kid = {
            let digest = Sha256::digest([b"gatehouse hs256 kid\0".as_slice(), secret].concat());
            format!("hs256-{}", &URL_SAFE_NO_PAD.encode(digest)[..16])
        };
        let entry = Entry {
            kid,
            alg: Algorithm::HS256,
            encoding: EncodingKey::from_secret(secret),
            decoding: DecodingKey::from_secret(secret),
            validation: validation(Algorithm::HS256, &settings),
            jwk: None,
            created_at: 0,
            signing_from: 0,
        };
        let set = KeySet { entries: vec![entry], jwks: Bytes::from_static(br#"{"keys":[]}"#) };
        Self {
            source: KeySource::Secret(secret.to_vec()),
            settings,
            set: RwLock::new(Arc::new(set)),
            last_unknown_kid_reload: Mutex::new(None),
            verified: VerifiedCache::default(),
        }
    }

    /// The keys of `source`: for the database, the stored keys, with a first key made when
    /// there is none of `alg` (signing at once when nothing signs yet, else after the rotation
    /// delay). Errors are one line for the operator.
    pub async fn load(db: &Db, source: KeySource, settings: TokenSettings) -> Result<Self, String> {
        let (alg, delay) = match &source {
            KeySource::Secret(secret) => return Ok(Self::with_secret(secret, settings)),
            KeySource::Database { alg, rotation_delay_seconds, .. } => (*alg, *rotation_delay_seconds),
        };
        let keys = Self {
            source,
            settings,
            set: RwLock::new(Arc::new(KeySet { entries: Vec::new(), jwks: Bytes::new() })),
            last_unknown_kid_reload: Mutex::new(None),
            verified: VerifiedCache::default(),
        };
        keys.reload(db).await.map_err(|e| match e {
            LoadError::WrongMasterKey(kid) => format!(
                "GATEHOUSE_MASTER_KEY: the signing key {kid} in the database does not open with this master key \
                 (it must be the one the keys were made with; or the row was altered)"
            ),
            LoadError::Damaged(kid, what) => {
                format!("GATEHOUSE_DATABASE_URL: the signing key {kid} in the database is damaged: {what}")
            }
            LoadError::Database(e) => format!("GATEHOUSE_DATABASE_URL: cannot read the signing keys: {e}"),
        })?;
        let newest_alg = keys.set().entries.last().map(|e| e.alg);
        if newest_alg != Some(alg.jwt()) {
            // Nothing signs yet: the first key signs at once. Another algorithm signs now
            // (the configuration changed): the new key is published first, as a rotation.
            let delay = if newest_alg.is_none() { 0 } else { delay };
            let event =
                newest_alg.is_some().then(|| NewEvent::new(EventType::KeyRotated).detail("by", "configuration"));
            let info = keys
                .add_key(db, delay, event)
                .await
                .map_err(|e| format!("GATEHOUSE_DATABASE_URL: cannot store a new signing key: {e}"))?;
            tracing::info!(kid = %info.kid, alg = %info.alg, "made a signing key");
        }
        Ok(keys)
    }

    pub fn access_ttl_seconds(&self) -> u64 {
        self.settings.access_ttl_seconds
    }

    pub fn issuer(&self) -> &str {
        &self.settings.issuer
    }

    /// Whether the keys are asymmetric (published in the JWKS, rotated in the database).
    pub fn is_asymmetric(&self) -> bool {
        matches!(self.source, KeySource::Database { .. })
    }

    fn set(&self) -> Arc<KeySet> {
        Arc::clone(&self.set.read().unwrap_or_else(|poisoned| poisoned.into_inner()))
    }

    /// The JWKS document (RFC 7517) of the published keys.
    pub fn jwks(&self) -> Bytes {
        self.set().jwks.clone()
    }

    /// A fresh access token for `user_id`, tied to the login `login_id`, signed by the key in
    /// force now.
    pub fn issue(&self, user_id: Uuid, login_id: Uuid) -> Result<String, AppError> {
        let set = self.set();
        let now = now_micros();
        let Some(key) = set.entries.iter().rev().find(|e| e.signing_from <= now).or(set.entries.first()) else {
            tracing::error!("no signing key is loaded");
            return Err(AppError::Internal);
        };
        let seconds = jsonwebtoken::get_current_timestamp();
        let claims = Claims {
            sub: user_id.to_string(),
            sid: login_id.to_string(),
            exp: seconds + self.settings.access_ttl_seconds,
            iat: seconds,
            jti: Uuid::new_v4().to_string(),
            iss: self.settings.issuer.clone(),
            aud: self.settings.audience.clone(),
        };
        let mut header = Header::new(key.alg);
        header.kid = Some(key.kid.clone());
        jsonwebtoken::encode(&header, &claims, &key.encoding).map_err(|e| {
            tracing::error!(error = %e, kid = %key.kid, "signing an access token failed");
            AppError::Internal
        })
    }

    /// Checks the header (a known `kid`, its key's `alg`, no key of its own such as `jku`,
    /// `jwk`, `x5u`, `x5c`), the signature, `iss`, `aud`, `exp`, `nbf` and the claim shapes.
    /// A signature verified before is not verified again (asymmetric checks cost tens of
    /// microseconds); the caller still checks the login and the account.
    pub fn verify(&self, token: &str) -> Result<AccessClaims, Unverified> {
        let set = self.set();
        let cache_key = self.is_asymmetric().then(|| VerifiedCache::key(token));
        let now = jsonwebtoken::get_current_timestamp();
        if let Some(claims) = cache_key.as_ref().and_then(|key| self.verified.get(key, now)) {
            return Ok(claims);
        }
        let header = jsonwebtoken::decode_header(token).map_err(|_| Unverified::Invalid)?;
        if header.jku.is_some() || header.jwk.is_some() || header.x5u.is_some() || header.x5c.is_some() {
            return Err(Unverified::Invalid);
        }
        let kid = header.kid.ok_or(Unverified::Invalid)?;
        let key = set.entries.iter().find(|e| e.kid == kid).ok_or(Unverified::UnknownKid)?;
        if header.alg != key.alg {
            return Err(Unverified::Invalid);
        }
        let data =
            jsonwebtoken::decode::<Claims>(token, &key.decoding, &key.validation).map_err(|_| Unverified::Invalid)?;
        let user_id = Uuid::parse_str(&data.claims.sub).map_err(|_| Unverified::Invalid)?;
        let login_id = Uuid::parse_str(&data.claims.sid).map_err(|_| Unverified::Invalid)?;
        let claims = AccessClaims { user_id, login_id };
        if let Some(key) = cache_key {
            self.verified.insert(key, claims, data.claims.exp, now);
        }
        Ok(claims)
    }

    /// Whether an unknown `kid` may cause a re-read of the key set now (at most one per
    /// quarter second: anyone can send unknown `kid`s).
    pub fn may_reload_for_unknown_kid(&self) -> bool {
        if !self.is_asymmetric() {
            return false;
        }
        let mut last = self.last_unknown_kid_reload.lock().unwrap_or_else(|p| p.into_inner());
        let now = Instant::now();
        if last.is_some_and(|at| now.duration_since(at) < UNKNOWN_KID_RELOAD_FLOOR) {
            return false;
        }
        *last = Some(now);
        true
    }

    /// Re-reads the key set from the database (nothing to do for HS256). Keys whose every
    /// token has expired are left out.
    pub async fn reload(&self, db: &Db) -> Result<(), LoadError> {
        let KeySource::Database { sealer, .. } = &self.source else {
            return Ok(());
        };
        let rows = keys::all(db).await.map_err(LoadError::Database)?;
        let now = now_micros();
        let mut entries = Vec::with_capacity(rows.len());
        for (row, _) in self.live(&rows, now) {
            let material = keys::open(row, sealer).map_err(|e| match e {
                OpenError::WrongMasterKey => LoadError::WrongMasterKey(row.kid.clone()),
                OpenError::Damaged(what) => LoadError::Damaged(row.kid.clone(), what),
            })?;
            entries.push(self.entry(material));
        }
        let jwks =
            serde_json::to_vec(&json!({ "keys": entries.iter().filter_map(|e| e.jwk.clone()).collect::<Vec<_>>() }))
                .expect("JSON values serialize");
        let set = Arc::new(KeySet { entries, jwks: Bytes::from(jwks) });
        let mut slot = self.set.write().unwrap_or_else(|p| p.into_inner());
        let same_kids = slot.entries.iter().map(|e| &e.kid).eq(set.entries.iter().map(|e| &e.kid));
        *slot = set;
        drop(slot);
        if !same_kids {
            // A key that left takes its verified tokens with it.
            self.verified.clear();
        }
        Ok(())
    }

    /// The rows still in force at `now`, each with when it leaves the set (if a successor
    /// has taken over).
    fn live<'a>(&self, rows: &'a [KeyRow], now: i64) -> Vec<(&'a KeyRow, Option<i64>)> {
        rows.iter()
            .enumerate()
            .map(|(i, row)| (row, rows.get(i + 1).map(|next| self.leaves_at(next.signing_from))))
            .filter(|(_, leaves_at)| leaves_at.is_none_or(|at| now < at))
            .collect()
    }

    /// When a key whose successor signs from `retired_at` leaves the set: its last token's
    /// expiry, plus the leeway and the time other instances take to follow.
    fn leaves_at(&self, retired_at: i64) -> i64 {
        let seconds = self.settings.access_ttl_seconds + LEEWAY_SECONDS + FOLLOW_WITHIN.as_secs();
        retired_at.saturating_add(i64::try_from(seconds).unwrap_or(i64::MAX).saturating_mul(1_000_000))
    }

    fn entry(&self, material: KeyMaterial) -> Entry {
        let alg = material.alg.jwt();
        Entry {
            kid: material.kid,
            alg,
            encoding: material.encoding,
            decoding: material.decoding,
            validation: validation(alg, &self.settings),
            jwk: Some(material.jwk),
            created_at: material.created_at,
            signing_from: material.signing_from,
        }
    }

    /// The keys in force, oldest first, as an admin sees them.
    pub fn list(&self) -> Vec<KeyInfo> {
        let set = self.set();
        let now = now_micros();
        let current = set.entries.iter().rposition(|e| e.signing_from <= now).unwrap_or(0);
        set.entries
            .iter()
            .enumerate()
            .map(|(i, e)| {
                let retired_at = set.entries.get(i + 1).map(|next| next.signing_from);
                KeyInfo {
                    kid: e.kid.clone(),
                    alg: format!("{:?}", e.alg),
                    created_at: e.created_at,
                    signing_from: e.signing_from,
                    retired_at,
                    leaves_at: retired_at.map(|at| self.leaves_at(at)),
                    state: match i.cmp(&current) {
                        std::cmp::Ordering::Less => "retiring",
                        std::cmp::Ordering::Equal => "current",
                        std::cmp::Ordering::Greater => "next",
                    }
                    .to_owned(),
                }
            })
            .collect()
    }

    /// Makes a new key, published at once, signing after the rotation delay; `None` with
    /// HS256 (its one secret is rotated by the operator).
    pub async fn rotate(&self, db: &Db, event: NewEvent) -> Result<Option<KeyInfo>, AppError> {
        let KeySource::Database { rotation_delay_seconds, .. } = &self.source else {
            return Ok(None);
        };
        let info = self.add_key(db, *rotation_delay_seconds, Some(event)).await?;
        tracing::info!(kid = %info.kid, signing_from = info.signing_from, "signing key rotated");
        Ok(Some(info))
    }

    async fn add_key(&self, db: &Db, delay_seconds: u64, event: Option<NewEvent>) -> Result<KeyInfo, AppError> {
        let KeySource::Database { alg, sealer, .. } = &self.source else {
            return Err(AppError::Internal);
        };
        let now = now_micros();
        let delay = i64::try_from(delay_seconds).unwrap_or(i64::MAX).saturating_mul(1_000_000);
        // Keys sign in the order they were made: never before a key made earlier.
        let newest = keys::all(db).await?.iter().map(|r| r.signing_from).max();
        let signing_from = now.saturating_add(delay).max(newest.map_or(i64::MIN, |at| at + 1));
        let (row, _) = keys::generate(*alg, sealer, now, signing_from);
        let event = event.map(|e| e.detail("kid", row.kid.as_str()).detail("alg", row.alg.as_str()));
        keys::insert(db, &row, event.as_ref()).await?;
        self.reload(db).await.map_err(|e| {
            tracing::error!(error = ?e, "re-reading the signing keys failed");
            AppError::Internal
        })?;
        self.list().into_iter().find(|k| k.kid == row.kid).ok_or(AppError::Internal)
    }

    /// Deletes the stored keys whose every token has expired; answers how many.
    pub async fn purge(&self, db: &Db) -> Result<u64, AppError> {
        if !self.is_asymmetric() {
            return Ok(0);
        }
        let rows = keys::all(db).await?;
        let live: Vec<&str> = self.live(&rows, now_micros()).iter().map(|(row, _)| row.kid.as_str()).collect();
        let gone: Vec<String> =
            rows.iter().filter(|r| !live.contains(&r.kid.as_str())).map(|r| r.kid.clone()).collect();
        Ok(keys::delete(db, &gone).await?)
    }
}

/// Why the key set could not be read.
#[derive(Debug)]
pub enum LoadError {
    /// The key of this kid does not open.
    WrongMasterKey(String),
    /// The key of this kid is damaged, this way.
    Damaged(String, &'static str),
    Database(sqlx::Error),
}

fn validation(alg: Algorithm, settings: &TokenSettings) -> Validation {
    let mut validation = Validation::new(alg);
    validation.algorithms = vec![alg];
    validation.set_issuer(&[&settings.issuer]);
    validation.set_audience(&[&settings.audience]);
    validation.set_required_spec_claims(&["exp", "iss", "aud", "sub"]);
    validation.leeway = LEEWAY_SECONDS;
    validation.validate_exp = true;
    validation.validate_nbf = true;
    validation
}

/// Tokens whose signature and claims were verified, by the SHA-256 of the whole token, until
/// they expire. Bounded: a full shard first drops its expired entries, then everything.
#[derive(Default)]
struct VerifiedCache {
    shards: [Mutex<Verified>; 8],
}

/// Token digest → its claims and `exp`.
type Verified = HashMap<[u8; 32], (AccessClaims, u64)>;

const VERIFIED_PER_SHARD: usize = 4096;

impl VerifiedCache {
    fn key(token: &str) -> [u8; 32] {
        Sha256::digest(token.as_bytes()).into()
    }

    fn shard(&self, key: &[u8; 32]) -> std::sync::MutexGuard<'_, Verified> {
        self.shards[usize::from(key[0]) % self.shards.len()].lock().unwrap_or_else(|p| p.into_inner())
    }

    fn get(&self, key: &[u8; 32], now: u64) -> Option<AccessClaims> {
        match self.shard(key).get(key) {
            Some((claims, exp)) if now < exp + LEEWAY_SECONDS => Some(*claims),
            _ => None,
        }
    }

    fn insert(&self, key: [u8; 32], claims: AccessClaims, exp: u64, now: u64) {
        let mut shard = self.shard(&key);
        if shard.len() >= VERIFIED_PER_SHARD {
            shard.retain(|_, (_, exp)| now < *exp + LEEWAY_SECONDS);
            if shard.len() >= VERIFIED_PER_SHARD {
                shard.clear();
            }
        }
        shard.insert(key, (claims, exp));
    }

    fn clear(&self) {
        for shard in &self.shards {
            shard.lock().unwrap_or_else(|p| p.into_inner()).clear();
        }
    }
}

/// A new refresh token: 256 random bits, URL-safe base64. Only its hash is stored.
pub fn new_refresh_token() -> String {
    use rand::Rng as _;
    let bytes: [u8; 32] = rand::rng().random();
    URL_SAFE_NO_PAD.encode(bytes)
}

/// The stored form of a refresh token. A fast hash suffices: the token has 256 bits of
/// entropy, so there is nothing to brute-force, and lookups stay one indexed equality.
pub fn refresh_token_hash(token: &str) -> String {
    let digest = Sha256::digest(token.as_bytes());
    digest.iter().map(|b| format!("{b:02x}")).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    const SECRET: &[u8] = b"0123456789abcdef0123456789abcdef";

    fn settings(issuer: &str, audience: &str) -> TokenSettings {
        TokenSettings { issuer: issuer.into(), audience: audience.into(), access_ttl_seconds: 900 }
    }

    fn keys() -> TokenKeys {
        TokenKeys::with_secret(SECRET, settings("gatehouse", "gatehouse"))
    }

    #[test]
    fn an_issued_token_verifies_to_its_user_and_login_and_names_its_key() {
        let (user, login) = (Uuid::new_v4(), Uuid::new_v4());
        let token = keys().issue(user, login).unwrap();
        assert_eq!(keys().verify(&token).unwrap(), AccessClaims { user_id: user, login_id: login });
        let header = jsonwebtoken::decode_header(&token).unwrap();
        assert!(header.kid.is_some_and(|kid| kid.starts_with("hs256-")));
    }

    #[test]
    fn a_token_signed_with_another_key_is_refused() {
        let other = TokenKeys::with_secret(b"another-secret-another-secret-xx", settings("gatehouse", "gatehouse"));
        let token = other.issue(Uuid::new_v4(), Uuid::new_v4()).unwrap();
        // Another secret is another kid: not one of ours.
        assert_eq!(keys().verify(&token), Err(Unverified::UnknownKid));
    }

    #[test]
    fn a_token_for_another_audience_or_issuer_is_refused() {
        let token = TokenKeys::with_secret(SECRET, settings("gatehouse", "elsewhere"))
            .issue(Uuid::new_v4(), Uuid::new_v4())
            .unwrap();
        assert_eq!(keys().verify(&token), Err(Unverified::Invalid));
        let token = TokenKeys::with_secret(SECRET, settings("mallory", "gatehouse"))
            .issue(Uuid::new_v4(), Uuid::new_v4())
            .unwrap();
        assert_eq!(keys().verify(&token), Err(Unverified::Invalid));
    }

    #[test]
    fn the_verified_cache_forgets_expired_tokens_and_stays_bounded() {
        let cache = VerifiedCache::default();
        let claims = AccessClaims { user_id: Uuid::new_v4(), login_id: Uuid::new_v4() };
        let key = VerifiedCache::key("a token");
        cache.insert(key, claims, 1_000, 900);
        assert_eq!(cache.get(&key, 900), Some(claims));
        assert_eq!(cache.get(&key, 1_000 + LEEWAY_SECONDS), None, "expired");
        for i in 0..(VERIFIED_PER_SHARD * 8 * 3) {
            cache.insert(VerifiedCache::key(&i.to_string()), claims, 2_000, 900);
        }
        let total: usize = cache.shards.iter().map(|s| s.lock().unwrap().len()).sum();
        assert!(total <= VERIFIED_PER_SHARD * 8, "{total} entries");
    }

    #[test]
    fn refresh_tokens_carry_256_bits_and_hash_deterministically() {
        let a = new_refresh_token();
        assert_eq!(URL_SAFE_NO_PAD.decode(&a).unwrap().len(), 32);
        assert_ne!(a, new_refresh_token());
        assert_eq!(refresh_token_hash(&a), refresh_token_hash(&a));
        assert_eq!(refresh_token_hash(&a).len(), 64);
    }
}
