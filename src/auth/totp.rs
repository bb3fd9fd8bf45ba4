//! The second factor's arithmetic: RFC 6238 time-based codes (HMAC-SHA1, 6 digits, 30 s
//! steps, one step either side), the `otpauth://` URL and QR code authenticator apps read,
//! recovery codes, and the keys that keep both secret at rest. No I/O: `auth::mfa` stores
//! what this makes.

use super::keys::Sealer;
use crate::domain::percent_encode;
use hmac::{Hmac, Mac};
use rand::Rng as _;
use sha2::Sha256;

/// Seconds in a step.
pub const STEP_SECONDS: i64 = 30;
/// Digits in a code.
pub const DIGITS: u32 = 6;
/// Steps either side of now whose code is accepted (clock drift, a code typed as it turns).
pub const SKEW_STEPS: i64 = 1;
/// Recovery codes handed out at once.
pub const RECOVERY_CODES: usize = 10;
/// The recovery codes' alphabet: lowercase letters and digits that cannot be read as one
/// another (no 0/o, 1/l/i).
const RECOVERY_ALPHABET: &[u8] = b"23456789abcdefghjkmnpqrstuvwxyz";
/// Characters of a recovery code (31^12, about 2^59 codes), shown in groups of four.
const RECOVERY_CHARS: usize = 12;

/// The HKDF `info` of the TOTP secrets' sealer.
const TOTP_SECRETS: &str = "totp secrets v1";
/// The HKDF `info` of the recovery codes' hashing key.
const RECOVERY_CODE_KEY: &str = "recovery codes v1";

/// A TOTP shared secret: 160 random bits, the size RFC 4226 recommends for HMAC-SHA1.
pub struct Secret([u8; 20]);

impl std::fmt::Debug for Secret {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Secret(<redacted>)")
    }
}

impl Secret {
    pub fn generate() -> Self {
        Self(rand::rng().random())
    }

    /// The secret as people and authenticator apps type it: RFC 4648 base32, no padding.
    pub fn base32(&self) -> String {
        data_encoding::BASE32_NOPAD.encode(&self.0)
    }

    /// The code of `step` (RFC 4226 HOTP with the step as the counter), `digits` long.
    pub fn code(&self, step: i64, digits: u32) -> String {
        hotp(&self.0, step, digits)
    }

    /// The step of a code accepted at `now` (seconds): the latest step within one either side
    /// of now whose code is `code` and that is later than `after` (the step of the last code
    /// accepted for the account, so a code works once). `None` for a wrong or spent code.
    pub fn accepts(&self, code: &str, now: i64, after: i64) -> Option<i64> {
        let code = normalise_code(code)?;
        let current = now.div_euclid(STEP_SECONDS);
        // Every candidate is computed and compared, whichever matches, so the time taken
        // does not say which step (if any) was right.
        let mut accepted = None;
        for step in current - SKEW_STEPS..=current + SKEW_STEPS {
            let matches = constant_time_eq(self.code(step, DIGITS).as_bytes(), code.as_bytes());
            if matches && step > after {
                accepted = Some(step);
            }
        }
        accepted
    }

    /// The `otpauth://` URL authenticator apps read (Key Uri Format), for `account` at
    /// `issuer`.
    pub fn otpauth_url(&self, issuer: &str, account: &str) -> String {
        format!(
            "otpauth://totp/{}:{}?secret={}&issuer={}&algorithm=SHA1&digits={DIGITS}&period={STEP_SECONDS}",
            percent_encode(issuer),
            percent_encode(account),
            self.base32(),
            percent_encode(issuer),
        )
    }
}

/// RFC 4226 §5.3: HMAC-SHA1 of the counter, dynamically truncated, modulo 10^digits.
fn hotp(key: &[u8], counter: i64, digits: u32) -> String {
    let mut mac = Hmac::<sha1::Sha1>::new_from_slice(key).expect("HMAC takes a key of any length");
    mac.update(&counter.to_be_bytes());
    let digest = mac.finalize().into_bytes();
    let offset = usize::from(digest[19] & 0x0f);
    let binary =
        u32::from_be_bytes([digest[offset] & 0x7f, digest[offset + 1], digest[offset + 2], digest[offset + 3]]);
    let width = digits as usize;
    format!("{:0width$}", binary % 10u32.pow(digits))
}

/// A code as typed, without the spaces people put in it ("123 456"): six digits, or `None`.
fn normalise_code(code: &str) -> Option<String> {
    let code: String = code.chars().filter(|c| !c.is_whitespace()).collect();
    (code.len() == DIGITS as usize && code.bytes().all(|b| b.is_ascii_digit())).then_some(code)
}

fn constant_time_eq(a: &[u8], b: &[u8]) -> bool {
    a.len() == b.len() && a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}

/// The QR code of `text` as an SVG element to put inline in a page (no XML prolog), with
/// `label` as its text alternative. `None` when the text is too long for a QR code.
pub fn qr_svg(text: &str, label: &str) -> Option<String> {
    use qrcode::render::svg;
    let code = qrcode::QrCode::with_error_correction_level(text.as_bytes(), qrcode::EcLevel::M).ok()?;
    let svg = code
        .render::<svg::Color<'_>>()
        .min_dimensions(200, 200)
        .dark_color(svg::Color("#000000"))
        .light_color(svg::Color("#ffffff"))
        .build();
    let start = svg.find("<svg")?;
    let label = label.replace('&', "&amp;").replace('"', "&quot;").replace('<', "&lt;");
    Some(svg[start..].replacen("<svg", &format!("<svg role=\"img\" aria-label=\"{label}\""), 1))
}

/// Ten new recovery codes, as shown to their person ("abcd-efgh-jkmn").
pub fn new_recovery_codes() -> Vec<String> {
    let mut rng = rand::rng();
    (0..RECOVERY_CODES)
        .map(|_| {
            let chars: Vec<u8> =
                (0..RECOVERY_CHARS).map(|_| RECOVERY_ALPHABET[rng.random_range(0..RECOVERY_ALPHABET.len())]).collect();
            chars.chunks(4).map(|group| String::from_utf8_lossy(group).into_owned()).collect::<Vec<_>>().join("-")
        })
        .collect()
}

/// A recovery code as typed, in the form that is hashed: lowercase, without the dashes and
/// spaces of its grouping. `None` when it cannot be a recovery code.
pub fn normalise_recovery_code(code: &str) -> Option<String> {
    let code: String =
        code.chars().filter(|c| !c.is_whitespace() && *c != '-').map(|c| c.to_ascii_lowercase()).collect();
    (code.len() == RECOVERY_CHARS && code.bytes().all(|b| RECOVERY_ALPHABET.contains(&b))).then_some(code)
}

/// The keys of the second factor, both derived from the master key: one seals TOTP secrets,
/// the other hashes recovery codes (a keyed hash: a copy of the database alone does not let
/// anyone try codes offline). Also the issuer name apps show.
pub struct MfaKeys {
    sealer: Sealer,
    code_key: [u8; 32],
    issuer: String,
}

impl MfaKeys {
    pub fn new(master_key: &[u8], issuer: &str) -> Self {
        let mut code_key = [0u8; 32];
        hkdf::Hkdf::<Sha256>::new(Some(b"gatehouse master key"), master_key)
            .expand(RECOVERY_CODE_KEY.as_bytes(), &mut code_key)
            .expect("32 bytes is a valid HKDF-SHA256 output length");
        Self { sealer: Sealer::new(master_key, TOTP_SECRETS), code_key, issuer: issuer.to_owned() }
    }

    pub fn issuer(&self) -> &str {
        &self.issuer
    }

    /// `secret` sealed for storage, bound to its user (it opens for no other account).
    pub fn seal(&self, secret: &Secret, user_id: &str) -> String {
        self.sealer.seal(&secret.0, user_id)
    }

    /// The secret of `user_id` from its stored form; `None` when it does not open (another
    /// master key, a damaged or moved value).
    pub fn open(&self, sealed: &str, user_id: &str) -> Option<Secret> {
        let bytes = self.sealer.open(sealed, user_id)?;
        Some(Secret(bytes.try_into().ok()?))
    }

    /// The stored form of a normalised recovery code of `user_id`: HMAC-SHA256, hex.
    pub fn recovery_code_hash(&self, user_id: &str, normalised_code: &str) -> String {
        let mut mac = Hmac::<Sha256>::new_from_slice(&self.code_key).expect("HMAC takes a key of any length");
        mac.update(user_id.as_bytes());
        mac.update(&[0]);
        mac.update(normalised_code.as_bytes());
        mac.finalize().into_bytes().iter().map(|b| format!("{b:02x}")).collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// RFC 6238 Appendix B: the SHA-1 rows (8 digits, seed "12345678901234567890").
    #[test]
    fn codes_match_the_rfc_6238_test_vectors() {
        let secret = Secret(*b"12345678901234567890");
        for (time, expected) in [
            (59, "94287082"),
            (1_111_111_109, "07081804"),
            (1_111_111_111, "14050471"),
            (1_234_567_890, "89005924"),
            (2_000_000_000, "69279037"),
            (20_000_000_000, "65353130"),
        ] {
            assert_eq!(secret.code(time / STEP_SECONDS, 8), expected, "T = {time}");
        }
        // RFC 4226 Appendix D: the 6-digit HOTP values of the same key.
        assert_eq!(secret.code(0, 6), "755224");
        assert_eq!(secret.code(9, 6), "520489");
    }

    #[test]
    fn a_code_is_accepted_one_step_either_side_and_only_after_the_last_step_used() {
        let secret = Secret::generate();
        let now = 1_800_000_015; // 15 s into a step
        let step = now / STEP_SECONDS;
        let code = |s: i64| secret.code(s, DIGITS);
        assert_eq!(secret.accepts(&code(step), now, 0), Some(step));
        assert_eq!(secret.accepts(&code(step - 1), now, 0), Some(step - 1));
        assert_eq!(secret.accepts(&code(step + 1), now, 0), Some(step + 1));
        assert_eq!(secret.accepts(&code(step - 2), now, 0), None);
        assert_eq!(secret.accepts(&code(step + 2), now, 0), None);
        // Spent: the step was used already (or a later one was).
        assert_eq!(secret.accepts(&code(step), now, step), None);
        assert_eq!(secret.accepts(&code(step - 1), now, step - 1), None);
        assert_eq!(secret.accepts(&code(step + 1), now, step), Some(step + 1));
        // As typed by people; garbage is simply wrong.
        let spaced = format!("{} {}", &code(step)[..3], &code(step)[3..]);
        assert_eq!(secret.accepts(&spaced, now, 0), Some(step));
        for junk in ["", "12345", "1234567", "abcdef", "１２３４５６"] {
            assert_eq!(secret.accepts(junk, now, 0), None, "{junk:?}");
        }
    }

    #[test]
    fn the_otpauth_url_names_issuer_account_and_parameters() {
        let secret = Secret(*b"12345678901234567890");
        assert_eq!(secret.base32(), "GEZDGNBVGY3TQOJQGEZDGNBVGY3TQOJQ");
        assert_eq!(
            secret.otpauth_url("Gatehouse & Co", "alice"),
            "otpauth://totp/Gatehouse%20%26%20Co:alice?secret=GEZDGNBVGY3TQOJQGEZDGNBVGY3TQOJQ\
             &issuer=Gatehouse%20%26%20Co&algorithm=SHA1&digits=6&period=30"
        );
        let svg = qr_svg(&secret.otpauth_url("Gatehouse", "alice"), "QR \"code\"").unwrap();
        assert!(svg.starts_with("<svg role=\"img\" aria-label=\"QR &quot;code&quot;\""), "{}", &svg[..80]);
        assert!(svg.trim_end().ends_with("</svg>"));
    }

    #[test]
    fn recovery_codes_are_distinct_readable_and_hashed_per_user_under_the_key() {
        let codes = new_recovery_codes();
        assert_eq!(codes.len(), RECOVERY_CODES);
        assert_eq!(codes.iter().collect::<std::collections::HashSet<_>>().len(), RECOVERY_CODES);
        for code in &codes {
            assert_eq!(code.len(), 14, "{code}");
            assert_eq!(code.matches('-').count(), 2, "{code}");
            assert_eq!(normalise_recovery_code(code).map(|c| c.len()), Some(12));
        }
        assert_eq!(normalise_recovery_code(" ABCD-EFGH-JKMN "), Some("abcdefghjkmn".into()));
        assert_eq!(normalise_recovery_code("abcd-efgh-jkm0"), None, "0 is not in the alphabet");
        assert_eq!(normalise_recovery_code("abcd-efgh"), None);
        let keys = MfaKeys::new(b"a master key of thirty-two bytes!!", "Gatehouse");
        let other = MfaKeys::new(b"another master key, also 32 bytes", "Gatehouse");
        let hash = keys.recovery_code_hash("u1", "abcdefghjkmn");
        assert_eq!(hash.len(), 64);
        assert_eq!(hash, keys.recovery_code_hash("u1", "abcdefghjkmn"));
        assert_ne!(hash, keys.recovery_code_hash("u2", "abcdefghjkmn"));
        assert_ne!(hash, other.recovery_code_hash("u1", "abcdefghjkmn"));
    }

    #[test]
    fn a_sealed_secret_opens_only_for_its_user_under_its_master_key() {
        let keys = MfaKeys::new(b"a master key of thirty-two bytes!!", "Gatehouse");
        let secret = Secret::generate();
        let sealed = keys.seal(&secret, "u1");
        assert!(!sealed.contains(&secret.base32()));
        assert_eq!(keys.open(&sealed, "u1").map(|s| s.base32()), Some(secret.base32()));
        assert!(keys.open(&sealed, "u2").is_none());
        assert!(MfaKeys::new(b"another master key, also 32 bytes", "G").open(&sealed, "u1").is_none());
        assert_eq!(format!("{secret:?}"), "Secret(<redacted>)");
    }
}
