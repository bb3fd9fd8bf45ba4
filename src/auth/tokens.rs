//! Access tokens (HS256 JWTs, RFC 8725) and opaque refresh tokens.

use crate::error::AppError;
use base64::{Engine as _, engine::general_purpose::URL_SAFE_NO_PAD};
use jsonwebtoken::{Algorithm, DecodingKey, EncodingKey, Header, Validation};
use serde::{Deserialize, Serialize};
use sha2::{Digest as _, Sha256};
use uuid::Uuid;

/// Clock skew tolerated on `exp` and `nbf`, in seconds.
pub const LEEWAY_SECONDS: u64 = 5;

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

/// Signs and verifies access tokens. The algorithm is fixed here, never read from a token.
pub struct TokenKeys {
    encoding: EncodingKey,
    decoding: DecodingKey,
    validation: Validation,
    issuer: String,
    audience: String,
    access_ttl_seconds: u64,
}

impl TokenKeys {
    pub fn new(secret: &[u8], issuer: &str, audience: &str, access_ttl_seconds: u64) -> Self {
        let mut validation = Validation::new(Algorithm::HS256);
        validation.algorithms = vec![Algorithm::HS256];
        validation.set_issuer(&[issuer]);
        validation.set_audience(&[audience]);
        validation.set_required_spec_claims(&["exp", "iss", "aud", "sub"]);
        validation.leeway = LEEWAY_SECONDS;
        validation.validate_exp = true;
        validation.validate_nbf = true;
        Self {
            encoding: EncodingKey::from_secret(secret),
            decoding: DecodingKey::from_secret(secret),
            validation,
            issuer: issuer.to_owned(),
            audience: audience.to_owned(),
            access_ttl_seconds,
        }
    }

    pub fn access_ttl_seconds(&self) -> u64 {
        self.access_ttl_seconds
    }

    /// A fresh access token for `user_id`, tied to the login `login_id`.
    pub fn issue(&self, user_id: Uuid, login_id: Uuid) -> Result<String, AppError> {
        let now = jsonwebtoken::get_current_timestamp();
        let claims = Claims {
            sub: user_id.to_string(),
            sid: login_id.to_string(),
            exp: now + self.access_ttl_seconds,
            iat: now,
            jti: Uuid::new_v4().to_string(),
            iss: self.issuer.clone(),
            aud: self.audience.clone(),
        };
        jsonwebtoken::encode(&Header::new(Algorithm::HS256), &claims, &self.encoding).map_err(|e| {
            tracing::error!(error = %e, "signing an access token failed");
            AppError::Internal
        })
    }

    /// Checks signature, algorithm, `iss`, `aud`, `exp`, `nbf` and the claim shapes.
    /// Every failure is the same `InvalidToken`: the caller learns nothing more.
    pub fn verify(&self, token: &str) -> Result<AccessClaims, AppError> {
        let data = jsonwebtoken::decode::<Claims>(token, &self.decoding, &self.validation)
            .map_err(|_| AppError::InvalidToken)?;
        let user_id = Uuid::parse_str(&data.claims.sub).map_err(|_| AppError::InvalidToken)?;
        let login_id = Uuid::parse_str(&data.claims.sid).map_err(|_| AppError::InvalidToken)?;
        Ok(AccessClaims { user_id, login_id })
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

    fn keys() -> TokenKeys {
        TokenKeys::new(SECRET, "gatehouse", "gatehouse", 900)
    }

    #[test]
    fn an_issued_token_verifies_to_its_user_and_login() {
        let (user, login) = (Uuid::new_v4(), Uuid::new_v4());
        let token = keys().issue(user, login).unwrap();
        assert_eq!(keys().verify(&token).unwrap(), AccessClaims { user_id: user, login_id: login });
    }

    #[test]
    fn a_token_signed_with_another_key_is_refused() {
        let other = TokenKeys::new(b"another-secret-another-secret-xx", "gatehouse", "gatehouse", 900);
        let token = other.issue(Uuid::new_v4(), Uuid::new_v4()).unwrap();
        assert_eq!(keys().verify(&token), Err(AppError::InvalidToken));
    }

    #[test]
    fn a_token_for_another_audience_or_issuer_is_refused() {
        let token =
            TokenKeys::new(SECRET, "gatehouse", "elsewhere", 900).issue(Uuid::new_v4(), Uuid::new_v4()).unwrap();
        assert_eq!(keys().verify(&token), Err(AppError::InvalidToken));
        let token = TokenKeys::new(SECRET, "mallory", "gatehouse", 900).issue(Uuid::new_v4(), Uuid::new_v4()).unwrap();
        assert_eq!(keys().verify(&token), Err(AppError::InvalidToken));
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
