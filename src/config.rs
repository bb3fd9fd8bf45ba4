//! Typed configuration, read once from the environment at start-up. A bad value stops
//! start-up with one line naming the variable; secrets are never echoed back.

use crate::http::{client_address::TrustedProxies, cors::CorsOrigins};
use std::{
    fmt,
    path::{Path, PathBuf},
};

pub const MIN_SECRET_BYTES: usize = 32;

/// An operator mistake, printed as one line.
#[derive(Debug, PartialEq, Eq)]
pub struct ConfigError(pub String);

impl fmt::Display for ConfigError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::error::Error for ConfigError {}

/// Where a secret came from (the server warns when it had to make one up).
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum SecretSource {
    Environment,
    File {
        path: PathBuf,
        created: bool,
    },
    /// Not needed by this configuration (the HS256 secret under an asymmetric algorithm).
    Unused,
}

/// The algorithm access tokens are signed with.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum JwtAlgorithm {
    EdDSA,
    ES256,
    HS256,
}

#[derive(Clone)]
pub struct AdminBootstrap {
    pub username: String,
    pub password: String,
}

#[derive(Clone)]
pub struct Config {
    pub database_url: String,
    pub database_pool_size: u32,
    pub jwt_algorithm: JwtAlgorithm,
    /// Empty unless the algorithm is HS256.
    pub jwt_secret: Vec<u8>,
    pub secret_source: SecretSource,
    /// Seals private signing keys at rest (empty under HS256, which stores none).
    pub master_key: Vec<u8>,
    pub master_key_source: SecretSource,
    /// Seconds between publishing a new signing key and signing with it.
    pub key_rotation_delay: u64,
    pub access_token_ttl: u64,
    pub refresh_token_ttl: u64,
    pub jwt_issuer: String,
    pub jwt_audience: String,
    pub admin: Option<AdminBootstrap>,
    /// How many argon2 hashes may run at once (the hashing thread count).
    pub hash_concurrency: usize,
    /// The public HTTPS origin, when served over HTTPS (`GATEHOUSE_PUBLIC_URL`): it makes the
    /// refresh cookie `Secure` and `__Host-` prefixed.
    pub public_url: Option<String>,
    /// argon2id parameters for new hashes; weaker stored hashes are rehashed at login.
    pub argon2: Argon2Settings,
    /// Login and registration throttling (`GATEHOUSE_LIMIT_*`).
    pub limits: LimitSettings,
    /// Proxies whose `X-Forwarded-For` is believed (`GATEHOUSE_TRUSTED_PROXIES`).
    pub trusted_proxies: TrustedProxies,
    /// Origins whose browsers may call `/api/v1` (`GATEHOUSE_CORS_ORIGINS`); empty: no CORS.
    pub cors_origins: CorsOrigins,
    /// Where `/metrics` is served (`GATEHOUSE_METRICS_ADDR`); `None`: no metrics.
    pub metrics_addr: Option<std::net::SocketAddr>,
    /// Seconds during which a just-rotated refresh token may be retried once
    /// (`GATEHOUSE_REFRESH_REUSE_GRACE`, default 0: every reuse is a replay).
    pub refresh_reuse_grace: u64,
    /// Seconds a password reset link works.
    pub password_reset_ttl: u64,
    /// Days the audit log keeps an event.
    pub audit_retention_days: u64,
    /// The issuer name authenticator apps show beside the account (`GATEHOUSE_MFA_ISSUER`).
    pub mfa_issuer: String,
    /// Logins whose authentication is kept in memory (`GATEHOUSE_AUTH_CACHE_SIZE`, 0: none).
    pub auth_cache_size: usize,
}

/// argon2id cost parameters.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Argon2Settings {
    pub memory_kib: u32,
    pub iterations: u32,
    pub parallelism: u32,
}

/// NIST SP 800-63B: no more than 100 consecutive failed attempts on one account (the lock of
/// the per-account throttle, and the highest per-account limit one may configure).
pub const MAX_CONSECUTIVE_ACCOUNT_FAILURES: u32 = 100;

/// The abuse limits (`GATEHOUSE_LIMIT_*`): attempts before the first delay; 0 is off.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct LimitSettings {
    /// Consecutive failed logins of one account name.
    pub login_per_account: u32,
    /// Failed logins from one client address an hour.
    pub login_per_address: u32,
    /// Accounts created from one client address an hour.
    pub register_per_address: u32,
    /// Refreshes of one login an hour.
    pub refresh_per_login: u32,
}

/// OWASP's equivalent argon2id configurations (memory KiB, passes), all with one lane. A
/// configuration must be at least as strong as one of them in both memory and passes.
pub const OWASP_ARGON2_MINIMUMS: [(u32, u32); 5] = [(47_104, 1), (19_456, 2), (12_288, 3), (9_216, 4), (7_168, 5)];

impl Argon2Settings {
    /// The default: OWASP's recommended argon2id parameters (19 MiB, 2 passes, 1 lane).
    pub const OWASP: Self = Self { memory_kib: 19_456, iterations: 2, parallelism: 1 };

    pub fn meets_owasp_minimum(&self) -> bool {
        OWASP_ARGON2_MINIMUMS.iter().any(|&(m, t)| self.memory_kib >= m && self.iterations >= t)
    }
}

/// Secrets copied from tutorials and examples, refused at start-up whatever their length.
const PLACEHOLDER_SECRETS: [&str; 6] = [
    // The FastAPI JWT tutorial's SECRET_KEY.
    "09d25e094faa6ca2556c818166b7a9563b93f7099f6f0f4caa6cf63b88e8d3e7",
    "your-256-bit-secret",
    "your-secret-key",
    "secret-key-change-in-production",
    "supersecretkeysupersecretkeysupersecretkey",
    "0123456789abcdef0123456789abcdef",
];

/// Words that mark a value as an example to be replaced.
const PLACEHOLDER_WORDS: [&str; 8] =
    ["changeme", "change-me", "change_me", "changethis", "replace-me", "replaceme", "placeholder", "your-secret"];

/// Why a secret is unfit, if it is: too short, a known placeholder, or too repetitive.
pub fn secret_problem(secret: &[u8]) -> Option<String> {
    if secret.len() < MIN_SECRET_BYTES {
        return Some(format!("must be at least {MIN_SECRET_BYTES} bytes (got {})", secret.len()));
    }
    let lower = String::from_utf8_lossy(secret).to_lowercase();
    if PLACEHOLDER_SECRETS.contains(&lower.as_str()) || PLACEHOLDER_WORDS.iter().any(|w| lower.contains(w)) {
        return Some("is a well-known placeholder; generate one, e.g. `openssl rand -base64 48`".into());
    }
    let mut distinct = secret.to_vec();
    distinct.sort_unstable();
    distinct.dedup();
    if distinct.len() < 10 {
        return Some("is too repetitive to be random; generate one, e.g. `openssl rand -base64 48`".into());
    }
    None
}

impl Config {
    pub fn https(&self) -> bool {
        self.public_url.as_deref().is_some_and(|u| u.starts_with("https://"))
    }
}

impl fmt::Debug for Config {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Config")
            .field("database_url", &redact_url(&self.database_url))
            .field("database_pool_size", &self.database_pool_size)
            .field("jwt_algorithm", &self.jwt_algorithm)
            .field("jwt_secret", &"<redacted>")
            .field("secret_source", &self.secret_source)
            .field("master_key", &"<redacted>")
            .field("master_key_source", &self.master_key_source)
            .field("key_rotation_delay", &self.key_rotation_delay)
            .field("access_token_ttl", &self.access_token_ttl)
            .field("refresh_token_ttl", &self.refresh_token_ttl)
            .field("jwt_issuer", &self.jwt_issuer)
            .field("jwt_audience", &self.jwt_audience)
            .field("admin", &self.admin.as_ref().map(|a| &a.username))
            .field("hash_concurrency", &self.hash_concurrency)
            .field("public_url", &self.public_url)
            .field("argon2", &self.argon2)
            .field("limits", &self.limits)
            .field("trusted_proxies", &self.trusted_proxies)
            .field("cors_origins", &self.cors_origins)
            .field("metrics_addr", &self.metrics_addr)
            .field("refresh_reuse_grace", &self.refresh_reuse_grace)
            .field("password_reset_ttl", &self.password_reset_ttl)
            .field("audit_retention_days", &self.audit_retention_days)
            .field("mfa_issuer", &self.mfa_issuer)
            .field("auth_cache_size", &self.auth_cache_size)
            .finish()
    }
}

/// A URL with any password replaced, fit for a log line.
pub fn redact_url(url: &str) -> String {
    // The user-info ends at the last `@` (a raw `?` or `/` in a password must not end it
    // early); an `@` in the query then hides a little more than needed, never less.
    let mut out = match (url.find("://"), url.rfind('@')) {
        (Some(scheme), Some(at)) if at > scheme => {
            let userinfo = &url[scheme + 3..at];
            match userinfo.find(':') {
                Some(colon) => format!("{}{}:***{}", &url[..scheme + 3], &userinfo[..colon], &url[at..]),
                None => url.to_owned(),
            }
        }
        _ => url.to_owned(),
    };
    // libpq also takes `password=` (and `sslpassword=`) in the query; keys may be encoded. A
    // raw `&` may sit inside the value, so everything after such a key goes.
    if let Some(start) = out.find('?') {
        let query = out.split_off(start + 1);
        let mut kept = Vec::new();
        for pair in query.split('&') {
            let key = form_urlencoded::parse(pair.as_bytes()).next().map(|(k, _)| k.to_ascii_lowercase());
            if key.is_some_and(|k| k.contains("pass")) {
                kept.push(format!("{}=***", pair.split('=').next().unwrap_or_default()));
                break;
            }
            kept.push(pair.to_owned());
        }
        out.push_str(&kept.join("&"));
    }
    out
}

impl Config {
    /// Reads the process environment; keeps generated state under `data_dir`.
    pub fn from_env(data_dir: &Path) -> Result<Self, ConfigError> {
        Self::from_lookup(|key| std::env::var(key).ok(), data_dir)
    }

    /// Reads configuration through `get`, so tests need not touch the process environment.
    pub fn from_lookup(get: impl Fn(&str) -> Option<String>, data_dir: &Path) -> Result<Self, ConfigError> {
        let get = |key: &str| get(key).filter(|v| !v.is_empty());
        let database_url = match get("GATEHOUSE_DATABASE_URL") {
            Some(url)
                if url.starts_with("sqlite:") || url.starts_with("postgres:") || url.starts_with("postgresql:") =>
            {
                url
            }
            Some(_) => {
                return Err(ConfigError("GATEHOUSE_DATABASE_URL: must start with sqlite: or postgres:".into()));
            }
            None => {
                create_dir(data_dir)?;
                format!("sqlite://{}", data_dir.join("gatehouse.db").display())
            }
        };
        let secret = get("GATEHOUSE_JWT_SECRET");
        let jwt_algorithm = match get("GATEHOUSE_JWT_ALGORITHM").as_deref() {
            Some("EdDSA") => JwtAlgorithm::EdDSA,
            Some("ES256") => JwtAlgorithm::ES256,
            Some("HS256") => JwtAlgorithm::HS256,
            Some(_) => return Err(ConfigError("GATEHOUSE_JWT_ALGORITHM: must be EdDSA, ES256 or HS256".into())),
            // Installations that share the secret with their services keep working.
            None if secret.is_some() => JwtAlgorithm::HS256,
            None => JwtAlgorithm::EdDSA,
        };
        let (jwt_secret, secret_source) = match secret {
            Some(secret) => match secret_problem(secret.as_bytes()) {
                Some(problem) => return Err(ConfigError(format!("GATEHOUSE_JWT_SECRET: {problem}"))),
                None if jwt_algorithm == JwtAlgorithm::HS256 => (secret.into_bytes(), SecretSource::Environment),
                None => (Vec::new(), SecretSource::Unused),
            },
            None if jwt_algorithm == JwtAlgorithm::HS256 => {
                load_or_create_secret(data_dir, "jwt-secret", "GATEHOUSE_JWT_SECRET")?
            }
            None => (Vec::new(), SecretSource::Unused),
        };
        let (master_key, master_key_source) = match get("GATEHOUSE_MASTER_KEY") {
            Some(key) => match secret_problem(key.as_bytes()) {
                Some(problem) => return Err(ConfigError(format!("GATEHOUSE_MASTER_KEY: {problem}"))),
                None => (key.into_bytes(), SecretSource::Environment),
            },
            // Second-factor secrets are sealed under it whatever signs the tokens.
            None => load_or_create_secret(data_dir, "master-key", "GATEHOUSE_MASTER_KEY")?,
        };
        let mfa_issuer = match get("GATEHOUSE_MFA_ISSUER") {
            None => "Gatehouse".to_owned(),
            Some(issuer) if !issuer.trim().is_empty() && issuer.chars().count() <= 64 && !issuer.contains(':') => {
                issuer
            }
            Some(_) => {
                return Err(ConfigError(
                    "GATEHOUSE_MFA_ISSUER: 1 to 64 characters, without a colon (authenticator apps split on it)".into(),
                ));
            }
        };
        let admin = match (get("GATEHOUSE_ADMIN_USERNAME"), get("GATEHOUSE_ADMIN_PASSWORD")) {
            (Some(username), Some(password)) => Some(AdminBootstrap { username, password }),
            (None, None) => None,
            (Some(_), None) => {
                return Err(ConfigError(
                    "GATEHOUSE_ADMIN_PASSWORD: required when GATEHOUSE_ADMIN_USERNAME is set".into(),
                ));
            }
            (None, Some(_)) => {
                return Err(ConfigError(
                    "GATEHOUSE_ADMIN_USERNAME: required when GATEHOUSE_ADMIN_PASSWORD is set".into(),
                ));
            }
        };
        let public_url = match get("GATEHOUSE_PUBLIC_URL") {
            Some(url) if url.starts_with("https://") || url.starts_with("http://") => {
                Some(url.trim_end_matches('/').to_owned())
            }
            Some(_) => {
                return Err(ConfigError("GATEHOUSE_PUBLIC_URL: must start with https:// or http://".into()));
            }
            None => None,
        };
        let cores = std::thread::available_parallelism().map_or(2, usize::from);
        let default = Argon2Settings::OWASP;
        let argon2 = Argon2Settings {
            memory_kib: number_or(&get, "GATEHOUSE_ARGON2_MEMORY_KIB", default.memory_kib.into(), 1..=4 * 1024 * 1024)?
                as u32,
            iterations: number_or(&get, "GATEHOUSE_ARGON2_ITERATIONS", default.iterations.into(), 1..=100)? as u32,
            parallelism: number_or(&get, "GATEHOUSE_ARGON2_PARALLELISM", default.parallelism.into(), 1..=16)? as u32,
        };
        if !argon2.meets_owasp_minimum() {
            return Err(ConfigError(format!(
                "GATEHOUSE_ARGON2_MEMORY_KIB/GATEHOUSE_ARGON2_ITERATIONS: m={} KiB, t={} is below the OWASP \
                 minimum (one of m>=47104 t>=1, m>=19456 t>=2, m>=12288 t>=3, m>=9216 t>=4, m>=7168 t>=5)",
                argon2.memory_kib, argon2.iterations
            )));
        }
        let access_token_ttl = number_or(&get, "GATEHOUSE_ACCESS_TOKEN_TTL", 900, 1..=u64::from(u32::MAX))?;
        let limit = |key: &str, default: u64, max: u64| number_or(&get, key, default, 0..=max).map(|n| n as u32);
        let limits = LimitSettings {
            login_per_account: limit(
                "GATEHOUSE_LIMIT_LOGIN_PER_ACCOUNT",
                5,
                u64::from(MAX_CONSECUTIVE_ACCOUNT_FAILURES),
            )?,
            login_per_address: limit("GATEHOUSE_LIMIT_LOGIN_PER_ADDRESS", 30, 1_000_000)?,
            register_per_address: limit("GATEHOUSE_LIMIT_REGISTER_PER_ADDRESS", 10, 1_000_000)?,
            // A browser refreshes once per access-token lifetime: twice that rate always fits.
            refresh_per_login: limit(
                "GATEHOUSE_LIMIT_REFRESH_PER_LOGIN",
                (7200 / access_token_ttl).max(120),
                1_000_000,
            )?,
        };
        let trusted_proxies = TrustedProxies::parse(&get("GATEHOUSE_TRUSTED_PROXIES").unwrap_or_default())
            .map_err(|e| ConfigError(format!("GATEHOUSE_TRUSTED_PROXIES: {e}")))?;
        let cors_origins = CorsOrigins::parse(&get("GATEHOUSE_CORS_ORIGINS").unwrap_or_default())
            .map_err(|e| ConfigError(format!("GATEHOUSE_CORS_ORIGINS: {e}")))?;
        let metrics_addr = get("GATEHOUSE_METRICS_ADDR")
            .map(|addr| {
                addr.parse().map_err(|_| {
                    ConfigError(format!("GATEHOUSE_METRICS_ADDR: {addr:?} is not an address like 127.0.0.1:9464"))
                })
            })
            .transpose()?;
        Ok(Self {
            database_url,
            database_pool_size: number_or(&get, "GATEHOUSE_DATABASE_POOL_SIZE", 16, 1..=1000)? as u32,
            jwt_algorithm,
            jwt_secret,
            secret_source,
            master_key,
            master_key_source,
            key_rotation_delay: number_or(&get, "GATEHOUSE_KEY_ROTATION_DELAY", 300, 0..=30 * 86_400)?,
            access_token_ttl,
            refresh_token_ttl: number_or(&get, "GATEHOUSE_REFRESH_TOKEN_TTL", 604_800, 1..=u64::from(u32::MAX))?,
            // RFC 8414 clients compare the issuer with the origin they asked.
            jwt_issuer: get("GATEHOUSE_JWT_ISSUER")
                .or_else(|| public_url.clone())
                .unwrap_or_else(|| "gatehouse".into()),
            jwt_audience: get("GATEHOUSE_JWT_AUDIENCE").unwrap_or_else(|| "gatehouse".into()),
            admin,
            hash_concurrency: number_or(&get, "GATEHOUSE_HASH_CONCURRENCY", cores as u64, 1..=64)? as usize,
            public_url,
            argon2,
            limits,
            trusted_proxies,
            cors_origins,
            metrics_addr,
            refresh_reuse_grace: number_or(&get, "GATEHOUSE_REFRESH_REUSE_GRACE", 0, 0..=300)?,
            password_reset_ttl: number_or(&get, "GATEHOUSE_PASSWORD_RESET_TTL", 3600, 1..=30 * 86_400)?,
            audit_retention_days: number_or(&get, "GATEHOUSE_AUDIT_RETENTION_DAYS", 90, 1..=36_500)?,
            mfa_issuer,
            auth_cache_size: number_or(&get, "GATEHOUSE_AUTH_CACHE_SIZE", 100_000, 0..=10_000_000)? as usize,
        })
    }
}

/// A whole number in `range`, or `default` when unset.
fn number_or(
    get: &impl Fn(&str) -> Option<String>,
    key: &str,
    default: u64,
    range: std::ops::RangeInclusive<u64>,
) -> Result<u64, ConfigError> {
    let Some(raw) = get(key) else { return Ok(default) };
    match raw.trim().parse::<u64>() {
        Ok(n) if range.contains(&n) => Ok(n),
        _ => Err(ConfigError(format!(
            "{key}: expected a whole number from {} to {}, got {raw:?}",
            range.start(),
            range.end()
        ))),
    }
}

fn create_dir(dir: &Path) -> Result<(), ConfigError> {
    std::fs::create_dir_all(dir)
        .map_err(|e| ConfigError(format!("cannot create the data directory {}: {e}", dir.display())))
}

/// The secret kept in `data_dir/name` (mode 0600), made on first run, for when `variable`
/// is unset.
fn load_or_create_secret(data_dir: &Path, name: &str, variable: &str) -> Result<(Vec<u8>, SecretSource), ConfigError> {
    let path = data_dir.join(name);
    match std::fs::read(&path) {
        Ok(bytes) if bytes.len() >= MIN_SECRET_BYTES => {
            return Ok((bytes, SecretSource::File { path, created: false }));
        }
        Ok(_) => {
            return Err(ConfigError(format!(
                "{variable}: unset, and {} holds fewer than {MIN_SECRET_BYTES} bytes",
                path.display()
            )));
        }
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
        Err(e) => {
            return Err(ConfigError(format!("{variable}: unset, and {} is unreadable: {e}", path.display())));
        }
    }
    create_dir(data_dir)?;
    let secret = {
        use base64::Engine as _;
        use rand::Rng as _;
        let bytes: [u8; 48] = rand::rng().random();
        base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(bytes).into_bytes()
    };
    write_private(&path, &secret)
        .map_err(|e| ConfigError(format!("{variable}: unset, and {} cannot be written: {e}", path.display())))?;
    Ok((secret, SecretSource::File { path, created: true }))
}

/// Creates `path` readable and writable by its owner only.
fn write_private(path: &Path, contents: &[u8]) -> std::io::Result<()> {
    use std::io::Write as _;
    use std::os::unix::fs::OpenOptionsExt as _;
    let mut file = std::fs::OpenOptions::new().write(true).create_new(true).mode(0o600).open(path)?;
    file.write_all(contents)?;
    file.sync_all()
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashMap;

    fn with(vars: &[(&str, &str)], dir: &Path) -> Result<Config, ConfigError> {
        let map: HashMap<String, String> = vars.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect();
        Config::from_lookup(|k| map.get(k).cloned(), dir)
    }

    /// Each (variable, value) alone, beside a good secret, stops start-up with a line naming it.
    fn refused_naming_the_variable(cases: &[(&str, &str)], dir: &Path) {
        for &(key, value) in cases {
            let err = with(&[("GATEHOUSE_JWT_SECRET", SECRET), (key, value)], dir).unwrap_err();
            assert!(err.0.starts_with(key), "{err}");
        }
    }

    fn temp_dir(name: &str) -> PathBuf {
        let dir = std::env::temp_dir().join(format!("gatehouse-config-{name}-{}", uuid::Uuid::new_v4()));
        std::fs::create_dir_all(&dir).unwrap();
        dir
    }

    const SECRET: &str = "unit-test-secret-Kq3v9ZpX7wL2mN8r";

    #[test]
    fn defaults_make_an_sqlite_file_and_a_private_master_key_once() {
        let dir = temp_dir("defaults");
        let first = with(&[], &dir).unwrap();
        assert!(first.database_url.starts_with("sqlite://") && first.database_url.ends_with("gatehouse.db"));
        assert_eq!((first.access_token_ttl, first.refresh_token_ttl), (900, 604_800));
        assert_eq!(first.jwt_issuer, "gatehouse");
        assert_eq!((first.jwt_algorithm, first.key_rotation_delay), (JwtAlgorithm::EdDSA, 300));
        assert_eq!(first.secret_source, SecretSource::Unused);
        assert!(!dir.join("jwt-secret").exists(), "EdDSA needs no shared secret");
        let path = dir.join("master-key");
        assert_eq!(first.master_key_source, SecretSource::File { path: path.clone(), created: true });
        use std::os::unix::fs::PermissionsExt as _;
        assert_eq!(std::fs::metadata(&path).unwrap().permissions().mode() & 0o777, 0o600);
        let second = with(&[], &dir).unwrap();
        assert_eq!(second.master_key, first.master_key);
        assert_eq!(second.master_key_source, SecretSource::File { path, created: false });
        let _ = std::fs::remove_dir_all(&dir);
    }

    #[test]
    fn a_secret_alone_keeps_hs256_and_the_issuer_follows_the_public_url() {
        let dir = temp_dir("hs256");
        let config = with(&[("GATEHOUSE_JWT_SECRET", SECRET)], &dir).unwrap();
        assert_eq!(config.jwt_algorithm, JwtAlgorithm::HS256);
        assert_eq!(config.jwt_secret, SECRET.as_bytes());
        // The master key seals second-factor secrets too: it exists under HS256 as well.
        assert!(config.master_key.len() >= 32 && dir.join("master-key").exists());
        let config = with(&[("GATEHOUSE_JWT_SECRET", SECRET), ("GATEHOUSE_JWT_ALGORITHM", "ES256")], &dir).unwrap();
        assert_eq!((config.jwt_algorithm, config.secret_source), (JwtAlgorithm::ES256, SecretSource::Unused));
        let config = with(&[("GATEHOUSE_PUBLIC_URL", "https://auth.example.com/")], &dir).unwrap();
        assert_eq!(config.jwt_issuer, "https://auth.example.com");
        let config =
            with(&[("GATEHOUSE_PUBLIC_URL", "https://auth.example.com"), ("GATEHOUSE_JWT_ISSUER", "custom")], &dir)
                .unwrap();
        assert_eq!(config.jwt_issuer, "custom");
        refused_naming_the_variable(
            &[
                ("GATEHOUSE_JWT_ALGORITHM", "RS256"),
                ("GATEHOUSE_JWT_ALGORITHM", "none"),
                ("GATEHOUSE_MASTER_KEY", "short"),
                ("GATEHOUSE_KEY_ROTATION_DELAY", "-1"),
            ],
            &dir,
        );
        let _ = std::fs::remove_dir_all(&dir);
    }

    #[test]
    fn a_short_secret_is_refused_without_echoing_it() {
        let err = with(&[("GATEHOUSE_JWT_SECRET", "short-secret")], &temp_dir("short")).unwrap_err();
        assert!(err.0.starts_with("GATEHOUSE_JWT_SECRET:"), "{err}");
        assert!(!err.0.contains("short-secret"));
    }

    #[test]
    fn unparsable_ttls_name_their_variable() {
        let dir = temp_dir("ttl");
        refused_naming_the_variable(
            &[
                ("GATEHOUSE_ACCESS_TOKEN_TTL", "15m"),
                ("GATEHOUSE_ACCESS_TOKEN_TTL", "0"),
                ("GATEHOUSE_REFRESH_TOKEN_TTL", "-1"),
            ],
            &dir,
        );
        let ok = with(&[("GATEHOUSE_JWT_SECRET", SECRET), ("GATEHOUSE_ACCESS_TOKEN_TTL", "3")], &dir).unwrap();
        assert_eq!(ok.access_token_ttl, 3);
        assert_eq!(ok.limits.refresh_per_login, 2400, "twice the refreshes 3-second tokens need");
        let defaults = with(&[("GATEHOUSE_JWT_SECRET", SECRET)], &dir).unwrap();
        assert_eq!(defaults.limits.refresh_per_login, 120);
    }

    #[test]
    fn a_database_url_of_another_kind_is_refused() {
        let err = with(&[("GATEHOUSE_DATABASE_URL", "mysql://x")], &temp_dir("db")).unwrap_err();
        assert!(err.0.starts_with("GATEHOUSE_DATABASE_URL:"));
    }

    #[test]
    fn half_an_admin_is_refused() {
        let err = with(&[("GATEHOUSE_JWT_SECRET", SECRET), ("GATEHOUSE_ADMIN_USERNAME", "root")], &temp_dir("admin"))
            .unwrap_err();
        assert!(err.0.starts_with("GATEHOUSE_ADMIN_PASSWORD:"));
    }

    #[test]
    fn placeholder_and_repetitive_secrets_are_refused() {
        let dir = temp_dir("placeholder");
        for secret in [
            "09d25e094faa6ca2556c818166b7a9563b93f7099f6f0f4caa6cf63b88e8d3e7",
            "please-CHANGEME-before-going-to-production",
            "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa",
            "abababababababababababababababababab",
        ] {
            let err = with(&[("GATEHOUSE_JWT_SECRET", secret)], &dir).unwrap_err();
            assert!(err.0.starts_with("GATEHOUSE_JWT_SECRET:"), "{err}");
            assert!(!err.0.contains(secret), "the secret is not echoed: {err}");
        }
        assert!(with(&[("GATEHOUSE_JWT_SECRET", SECRET)], &dir).is_ok());
    }

    #[test]
    fn argon2_parameters_below_the_owasp_minimum_are_refused() {
        let dir = temp_dir("argon2");
        let err = with(&[("GATEHOUSE_JWT_SECRET", SECRET), ("GATEHOUSE_ARGON2_MEMORY_KIB", "8192")], &dir).unwrap_err();
        assert!(err.0.starts_with("GATEHOUSE_ARGON2_MEMORY_KIB"), "{err}");
        let ok = with(
            &[
                ("GATEHOUSE_JWT_SECRET", SECRET),
                ("GATEHOUSE_ARGON2_MEMORY_KIB", "7168"),
                ("GATEHOUSE_ARGON2_ITERATIONS", "5"),
            ],
            &dir,
        )
        .unwrap();
        assert_eq!(ok.argon2, Argon2Settings { memory_kib: 7168, iterations: 5, parallelism: 1 });
        assert_eq!(with(&[("GATEHOUSE_JWT_SECRET", SECRET)], &dir).unwrap().argon2, Argon2Settings::OWASP);
    }

    #[test]
    fn limits_proxies_and_grace_are_read_and_checked() {
        let dir = temp_dir("limits");
        let c = with(
            &[
                ("GATEHOUSE_JWT_SECRET", SECRET),
                ("GATEHOUSE_LIMIT_LOGIN_PER_ACCOUNT", "0"),
                ("GATEHOUSE_LIMIT_REGISTER_PER_ADDRESS", "3"),
                ("GATEHOUSE_TRUSTED_PROXIES", "127.0.0.1, 10.0.0.0/8"),
                ("GATEHOUSE_REFRESH_REUSE_GRACE", "5"),
            ],
            &dir,
        )
        .unwrap();
        assert_eq!(c.limits.login_per_account, 0);
        assert_eq!(c.limits.login_per_address, 30);
        assert_eq!(c.limits.register_per_address, 3);
        assert!(c.trusted_proxies.contains("10.9.8.7".parse().unwrap()));
        assert_eq!(c.refresh_reuse_grace, 5);
        refused_naming_the_variable(
            &[
                ("GATEHOUSE_LIMIT_LOGIN_PER_ACCOUNT", "101"),
                ("GATEHOUSE_TRUSTED_PROXIES", "10.0.0.0/40"),
                ("GATEHOUSE_REFRESH_REUSE_GRACE", "soon"),
            ],
            &dir,
        );
    }

    #[test]
    fn urls_in_logs_hide_passwords() {
        assert_eq!(redact_url("postgres://app:s3cret@db:5432/x"), "postgres://app:***@db:5432/x");
        assert_eq!(redact_url("postgres://postgres@127.0.0.1/test"), "postgres://postgres@127.0.0.1/test");
        assert_eq!(
            redact_url("postgres://db/x?user=app&password=s3cret&sslmode=require"),
            "postgres://db/x?user=app&password=***"
        );
        assert_eq!(redact_url("postgres://db/x?%70assword=s3cret&sslpassword=k3y"), "postgres://db/x?%70assword=***");
        // Raw `?`, `@` or `&` inside a password do not let any of it through.
        assert_eq!(redact_url("postgres://app:pa?ss@db/x"), "postgres://app:***@db/x");
        assert!(!redact_url("postgres://db/x?password=a@bcd").contains("bcd"));
        assert_eq!(redact_url("postgres://db/x?password=ab&cd&sslmode=require"), "postgres://db/x?password=***");
    }
}
