//! Asymmetric signing keys: made here, kept in the database (shared by every instance on
//! it) with their private parts sealed under the master key, and opened into the keys
//! `jsonwebtoken` signs and verifies with.
//!
//! Sealing: XChaCha20-Poly1305 (random 192-bit nonces never repeat in practice) under a key
//! derived from `GATEHOUSE_MASTER_KEY` with HKDF-SHA256, the kid as associated data (a sealed
//! key copied onto another row does not open). A copy of the database alone signs nothing.

use crate::{
    audit::repository::{NewEvent, record},
    db::{Db, with_pool},
};
use base64::{Engine as _, engine::general_purpose::URL_SAFE_NO_PAD};
use chacha20poly1305::{
    XChaCha20Poly1305, XNonce,
    aead::{Aead as _, KeyInit as _, Payload},
};
use jsonwebtoken::{Algorithm, DecodingKey, EncodingKey};
use serde_json::{Value, json};
use sha2::{Digest as _, Sha256};

/// The asymmetric algorithms Gatehouse signs with (no RSA: RUSTSEC-2023-0071).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum KeyAlgorithm {
    EdDSA,
    ES256,
}

impl KeyAlgorithm {
    pub fn name(self) -> &'static str {
        match self {
            KeyAlgorithm::EdDSA => "EdDSA",
            KeyAlgorithm::ES256 => "ES256",
        }
    }

    pub fn parse(name: &str) -> Option<Self> {
        match name {
            "EdDSA" => Some(KeyAlgorithm::EdDSA),
            "ES256" => Some(KeyAlgorithm::ES256),
            _ => None,
        }
    }

    pub fn jwt(self) -> Algorithm {
        match self {
            KeyAlgorithm::EdDSA => Algorithm::EdDSA,
            KeyAlgorithm::ES256 => Algorithm::ES256,
        }
    }
}

/// Seals and opens secrets under the master key. One per purpose (`info` separates the
/// derived keys, so a sealed signing key never opens as anything else).
pub struct Sealer {
    cipher: XChaCha20Poly1305,
}

/// The stored form's version prefix.
const SEALED_PREFIX: &str = "v1.";

impl Sealer {
    pub fn new(master_key: &[u8], info: &str) -> Self {
        let mut key = [0u8; 32];
        hkdf::Hkdf::<Sha256>::new(Some(b"gatehouse master key"), master_key)
            .expand(info.as_bytes(), &mut key)
            .expect("32 bytes is a valid HKDF-SHA256 output length");
        Self { cipher: XChaCha20Poly1305::new(&key.into()) }
    }

    /// `plaintext` sealed, bound to `context` (which must be given again to open it).
    pub fn seal(&self, plaintext: &[u8], context: &str) -> String {
        use rand::Rng as _;
        let nonce: [u8; 24] = rand::rng().random();
        let sealed = self
            .cipher
            .encrypt(&XNonce::from(nonce), Payload { msg: plaintext, aad: context.as_bytes() })
            .expect("XChaCha20-Poly1305 encrypts any message this size");
        let mut bytes = nonce.to_vec();
        bytes.extend_from_slice(&sealed);
        format!("{SEALED_PREFIX}{}", URL_SAFE_NO_PAD.encode(bytes))
    }

    /// The plaintext, or `None` when `sealed` was not made by this key for `context` (a
    /// wrong master key, a damaged or moved value).
    pub fn open(&self, sealed: &str, context: &str) -> Option<Vec<u8>> {
        let bytes = URL_SAFE_NO_PAD.decode(sealed.strip_prefix(SEALED_PREFIX)?).ok()?;
        let (nonce, ciphertext) = bytes.split_at_checked(24)?;
        let nonce: [u8; 24] = nonce.try_into().ok()?;
        self.cipher.decrypt(&XNonce::from(nonce), Payload { msg: ciphertext, aad: context.as_bytes() }).ok()
    }
}

/// The HKDF `info` of the signing keys' sealer.
pub const SIGNING_KEYS: &str = "signing keys v1";

/// A key as stored.
#[derive(Clone, Debug, sqlx::FromRow)]
pub struct KeyRow {
    pub kid: String,
    pub alg: String,
    pub public_jwk: String,
    pub private_key: String,
    pub created_at: i64,
    pub signing_from: i64,
}

/// A key opened for use: its private part for signing, its public part for verifying and
/// publishing.
pub struct KeyMaterial {
    pub kid: String,
    pub alg: KeyAlgorithm,
    pub encoding: EncodingKey,
    pub decoding: DecodingKey,
    /// The public JWK as published (RFC 7517), with `kid`, `alg` and `use`.
    pub jwk: Value,
    pub created_at: i64,
    pub signing_from: i64,
}

/// Why a stored key could not be opened.
#[derive(Debug, PartialEq, Eq)]
pub enum OpenError {
    /// The sealed part does not open under this master key.
    WrongMasterKey,
    /// The row is damaged (unknown algorithm, unreadable key, parts that do not match).
    Damaged(&'static str),
}

/// A new key of `alg` that signs from `signing_from`, as a row to store (sealed) and opened.
pub fn generate(alg: KeyAlgorithm, sealer: &Sealer, created_at: i64, signing_from: i64) -> (KeyRow, KeyMaterial) {
    let (der, public) = match alg {
        KeyAlgorithm::EdDSA => new_ed25519(),
        KeyAlgorithm::ES256 => new_p256(),
    };
    let kid = thumbprint(&public);
    let row = KeyRow {
        kid: kid.clone(),
        alg: alg.name().to_owned(),
        public_jwk: public.to_string(),
        private_key: sealer.seal(&der, &kid),
        created_at,
        signing_from,
    };
    let material = material(alg, kid, &der, public, created_at, signing_from)
        .expect("a key made just now has a well-formed public part");
    (row, material)
}

/// Opens a stored key with `sealer`.
pub fn open(row: &KeyRow, sealer: &Sealer) -> Result<KeyMaterial, OpenError> {
    let alg = KeyAlgorithm::parse(&row.alg).ok_or(OpenError::Damaged("its algorithm is unknown"))?;
    let der = sealer.open(&row.private_key, &row.kid).ok_or(OpenError::WrongMasterKey)?;
    let public: Value =
        serde_json::from_str(&row.public_jwk).map_err(|_| OpenError::Damaged("its public key is not JSON"))?;
    if public_of(alg, &der).as_ref() != Some(&public) {
        return Err(OpenError::Damaged("its private key does not match its public key"));
    }
    if thumbprint(&public) != row.kid {
        return Err(OpenError::Damaged("its kid is not its public key's thumbprint"));
    }
    material(alg, row.kid.clone(), &der, public, row.created_at, row.signing_from)
        .ok_or(OpenError::Damaged("its public key is malformed"))
}

/// The public JWK members of a PKCS#8 private key, if it is one of `alg`.
fn public_of(alg: KeyAlgorithm, der: &[u8]) -> Option<Value> {
    match alg {
        KeyAlgorithm::EdDSA => {
            use ed25519_dalek::pkcs8::DecodePrivateKey as _;
            let key = ed25519_dalek::SigningKey::from_pkcs8_der(der).ok()?;
            Some(json!({ "kty": "OKP", "crv": "Ed25519", "x": URL_SAFE_NO_PAD.encode(key.verifying_key().to_bytes()) }))
        }
        KeyAlgorithm::ES256 => {
            use p256::{elliptic_curve::sec1::ToEncodedPoint as _, pkcs8::DecodePrivateKey as _};
            let point = p256::SecretKey::from_pkcs8_der(der).ok()?.public_key().to_encoded_point(false);
            Some(json!({
                "kty": "EC", "crv": "P-256",
                "x": URL_SAFE_NO_PAD.encode(point.x()?), "y": URL_SAFE_NO_PAD.encode(point.y()?),
            }))
        }
    }
}

fn material(
    alg: KeyAlgorithm,
    kid: String,
    der: &[u8],
    public: Value,
    created_at: i64,
    signing_from: i64,
) -> Option<KeyMaterial> {
    let (encoding, decoding) = match alg {
        KeyAlgorithm::EdDSA => {
            let x = public["x"].as_str()?;
            // jsonwebtoken slices the first 32 bytes: refuse anything shorter before it does.
            if URL_SAFE_NO_PAD.decode(x).ok()?.len() != 32 {
                return None;
            }
            (EncodingKey::from_ed_der(der), DecodingKey::from_ed_components(x).ok()?)
        }
        KeyAlgorithm::ES256 => (
            EncodingKey::from_ec_der(der),
            DecodingKey::from_ec_components(public["x"].as_str()?, public["y"].as_str()?).ok()?,
        ),
    };
    let mut jwk = public;
    jwk["kid"] = json!(kid);
    jwk["alg"] = json!(alg.name());
    jwk["use"] = json!("sig");
    Some(KeyMaterial { kid, alg, encoding, decoding, jwk, created_at, signing_from })
}

/// A fresh Ed25519 key: its PKCS#8 DER and its public JWK members.
fn new_ed25519() -> (Vec<u8>, Value) {
    use ed25519_dalek::pkcs8::EncodePrivateKey as _;
    use rand::Rng as _;
    let seed: [u8; 32] = rand::rng().random();
    let key = ed25519_dalek::SigningKey::from_bytes(&seed);
    let der = key.to_pkcs8_der().expect("an Ed25519 key encodes as PKCS#8").as_bytes().to_vec();
    let x = URL_SAFE_NO_PAD.encode(key.verifying_key().to_bytes());
    (der, json!({ "kty": "OKP", "crv": "Ed25519", "x": x }))
}

/// A fresh P-256 key: its PKCS#8 DER and its public JWK members.
fn new_p256() -> (Vec<u8>, Value) {
    use p256::{elliptic_curve::sec1::ToEncodedPoint as _, pkcs8::EncodePrivateKey as _};
    use rand::Rng as _;
    let key = loop {
        // Out-of-range scalars (about 2^-32 of draws) are drawn again.
        let bytes: [u8; 32] = rand::rng().random();
        if let Ok(key) = p256::SecretKey::from_bytes(&bytes.into()) {
            break key;
        }
    };
    let der = key.to_pkcs8_der().expect("a P-256 key encodes as PKCS#8").as_bytes().to_vec();
    let point = key.public_key().to_encoded_point(false);
    let (x, y) = (point.x().expect("uncompressed"), point.y().expect("uncompressed"));
    (der, json!({ "kty": "EC", "crv": "P-256", "x": URL_SAFE_NO_PAD.encode(x), "y": URL_SAFE_NO_PAD.encode(y) }))
}

/// The RFC 7638 thumbprint of a public JWK: SHA-256 over its required members in
/// lexicographic order, without whitespace. Used as the `kid`.
pub fn thumbprint(public: &Value) -> String {
    let canonical = match public["kty"].as_str() {
        Some("OKP") => format!(r#"{{"crv":"{}","kty":"OKP","x":"{}"}}"#, str_of(public, "crv"), str_of(public, "x")),
        _ => format!(
            r#"{{"crv":"{}","kty":"EC","x":"{}","y":"{}"}}"#,
            str_of(public, "crv"),
            str_of(public, "x"),
            str_of(public, "y")
        ),
    };
    URL_SAFE_NO_PAD.encode(Sha256::digest(canonical.as_bytes()))
}

fn str_of<'a>(value: &'a Value, name: &str) -> &'a str {
    value[name].as_str().unwrap_or_default()
}

/// Every stored key, oldest signer first.
pub async fn all(db: &Db) -> Result<Vec<KeyRow>, sqlx::Error> {
    with_pool!(db, pool => {
        sqlx::query_as::<_, KeyRow>(
            "SELECT kid, alg, public_jwk, private_key, created_at, signing_from FROM signing_keys \
             ORDER BY signing_from, kid",
        )
        .fetch_all(pool)
        .await
    })
}

/// Stores a new key.
/// Stores a key, recording `event` (`key.rotated`) with it when there is one.
pub async fn insert(db: &Db, row: &KeyRow, event: Option<&NewEvent>) -> Result<(), sqlx::Error> {
    with_pool!(db, pool => {
        let mut tx = pool.begin().await?;
        sqlx::query(
            "INSERT INTO signing_keys (kid, alg, public_jwk, private_key, created_at, signing_from) \
             VALUES ($1, $2, $3, $4, $5, $6)",
        )
        .bind(&row.kid)
        .bind(&row.alg)
        .bind(&row.public_jwk)
        .bind(&row.private_key)
        .bind(row.created_at)
        .bind(row.signing_from)
        .execute(&mut *tx)
        .await?;
        if let Some(event) = event {
            record!(&mut *tx, event)?;
        }
        tx.commit().await
    })
}

/// Deletes the keys of `kids` (retired: every token they signed has expired).
pub async fn delete(db: &Db, kids: &[String]) -> Result<u64, sqlx::Error> {
    let mut deleted = 0;
    for kid in kids {
        deleted += with_pool!(db, pool => {
            sqlx::query("DELETE FROM signing_keys WHERE kid = $1").bind(kid).execute(pool).await?.rows_affected()
        });
    }
    Ok(deleted)
}

#[cfg(test)]
mod tests {
    use super::*;

    const MASTER: &[u8] = b"a master key of at least 32 bytes, for tests";

    #[test]
    fn sealed_keys_open_only_under_their_master_key_and_kid() {
        let sealer = Sealer::new(MASTER, SIGNING_KEYS);
        let sealed = sealer.seal(b"private", "kid-1");
        assert!(!sealed.contains("private"));
        assert_eq!(sealer.open(&sealed, "kid-1").as_deref(), Some(&b"private"[..]));
        assert_eq!(sealer.open(&sealed, "kid-2"), None, "bound to its kid");
        assert_eq!(Sealer::new(b"another master key of 32 bytes or more", SIGNING_KEYS).open(&sealed, "kid-1"), None);
        assert_eq!(Sealer::new(MASTER, "another purpose").open(&sealed, "kid-1"), None);
        assert_ne!(sealer.seal(b"private", "kid-1"), sealed, "a fresh nonce each time");
    }

    #[test]
    fn generated_keys_round_trip_through_their_stored_form() {
        let sealer = Sealer::new(MASTER, SIGNING_KEYS);
        for alg in [KeyAlgorithm::EdDSA, KeyAlgorithm::ES256] {
            let (row, made) = generate(alg, &sealer, 1, 2);
            let opened = open(&row, &sealer).unwrap();
            assert_eq!(opened.kid, made.kid);
            assert_eq!(opened.jwk, made.jwk);
            assert_eq!(opened.jwk["use"], "sig");
            assert!(opened.jwk.get("d").is_none(), "no private member in the JWK");
            assert_eq!(thumbprint(&opened.jwk), opened.kid, "the kid is the RFC 7638 thumbprint");
            let token = jsonwebtoken::encode(
                &jsonwebtoken::Header::new(alg.jwt()),
                &json!({ "sub": "x", "exp": u32::MAX }),
                &opened.encoding,
            )
            .unwrap();
            let mut validation = jsonwebtoken::Validation::new(alg.jwt());
            validation.required_spec_claims.clear();
            validation.validate_aud = false;
            jsonwebtoken::decode::<Value>(&token, &made.decoding, &validation).unwrap();
            assert_eq!(
                open(&row, &Sealer::new(b"the wrong master key, 32 bytes long", SIGNING_KEYS)).err(),
                Some(OpenError::WrongMasterKey)
            );
        }
    }

    #[test]
    fn a_row_whose_parts_do_not_match_is_damaged() {
        let sealer = Sealer::new(MASTER, SIGNING_KEYS);
        let (row, _) = generate(KeyAlgorithm::EdDSA, &sealer, 1, 2);
        let (other, _) = generate(KeyAlgorithm::EdDSA, &sealer, 1, 2);
        let swapped = KeyRow { public_jwk: other.public_jwk.clone(), ..row.clone() };
        assert!(matches!(open(&swapped, &sealer), Err(OpenError::Damaged(_))));
        let renamed = KeyRow { alg: "RS256".into(), ..row.clone() };
        assert!(matches!(open(&renamed, &sealer), Err(OpenError::Damaged(_))));
        let not_json = KeyRow { public_jwk: "x".into(), ..row.clone() };
        assert!(matches!(open(&not_json, &sealer), Err(OpenError::Damaged(_))));
        // Another row's sealed key does not open under this kid.
        let moved = KeyRow { private_key: other.private_key.clone(), ..row };
        assert_eq!(open(&moved, &sealer).err(), Some(OpenError::WrongMasterKey));
    }

    #[test]
    fn thumbprints_follow_rfc_7638() {
        // RFC 8037 appendix A.3: the thumbprint of its Ed25519 example key.
        let jwk = json!({ "kty": "OKP", "crv": "Ed25519", "x": "11qYAYKxCrfVS_7TyWQHOg7hcvPapiMlrwIaaPcHURo" });
        assert_eq!(thumbprint(&jwk), "kPrK_qmxVWaYVA9wwBF6Iuo3vVzz7TxHCTwXBygrS4k");
    }
}
