//! Typed configuration, read once from the environment at start-up. A bad value stops
//! start-up with one line naming the variable; secrets are never echoed back.

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

/// Where the JWT secret came from (the server warns when it had to make one up).
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum SecretSource {
    Environment,
    File { path: PathBuf, created: bool },
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
    pub jwt_secret: Vec<u8>,
    pub secret_source: SecretSource,
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
            .field("jwt_secret", &"<redacted>")
            .field("secret_source", &self.secret_source)
            .field("access_token_ttl", &self.access_token_ttl)
            .field("refresh_token_ttl", &self.refresh_token_ttl)
            .field("jwt_issuer", &self.jwt_issuer)
            .field("jwt_audience", &self.jwt_audience)
            .field("admin", &self.admin.as_ref().map(|a| &a.username))
            .field("hash_concurrency", &self.hash_concurrency)
            .field("public_url", &self.public_url)
            .finish()
    }
}

/// A URL with any password replaced, fit for a log line.
pub fn redact_url(url: &str) -> String {
    match (url.find("://"), url.rfind('@')) {
        (Some(scheme), Some(at)) if at > scheme => {
            let userinfo = &url[scheme + 3..at];
            match userinfo.find(':') {
                Some(colon) => format!("{}{}:***{}", &url[..scheme + 3], &userinfo[..colon], &url[at..]),
                None => url.to_owned(),
            }
        }
        _ => url.to_owned(),
    }
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
        let (jwt_secret, secret_source) = match get("GATEHOUSE_JWT_SECRET") {
            Some(secret) if secret.len() < MIN_SECRET_BYTES => {
                return Err(ConfigError(format!(
                    "GATEHOUSE_JWT_SECRET: must be at least {MIN_SECRET_BYTES} bytes (got {})",
                    secret.len()
                )));
            }
            Some(secret) => (secret.into_bytes(), SecretSource::Environment),
            None => load_or_create_secret(data_dir)?,
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
        Ok(Self {
            database_url,
            database_pool_size: number_or(&get, "GATEHOUSE_DATABASE_POOL_SIZE", 16, 1..=1000)? as u32,
            jwt_secret,
            secret_source,
            access_token_ttl: number_or(&get, "GATEHOUSE_ACCESS_TOKEN_TTL", 900, 1..=u64::from(u32::MAX))?,
            refresh_token_ttl: number_or(&get, "GATEHOUSE_REFRESH_TOKEN_TTL", 604_800, 1..=u64::from(u32::MAX))?,
            jwt_issuer: get("GATEHOUSE_JWT_ISSUER").unwrap_or_else(|| "gatehouse".into()),
            jwt_audience: get("GATEHOUSE_JWT_AUDIENCE").unwrap_or_else(|| "gatehouse".into()),
            admin,
            hash_concurrency: number_or(&get, "GATEHOUSE_HASH_CONCURRENCY", cores as u64, 1..=64)? as usize,
            public_url,
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

/// The secret kept in `data_dir/jwt-secret` (mode 0600), made on first run.
fn load_or_create_secret(data_dir: &Path) -> Result<(Vec<u8>, SecretSource), ConfigError> {
    let path = data_dir.join("jwt-secret");
    match std::fs::read(&path) {
        Ok(bytes) if bytes.len() >= MIN_SECRET_BYTES => {
            return Ok((bytes, SecretSource::File { path, created: false }));
        }
        Ok(_) => {
            return Err(ConfigError(format!(
                "GATEHOUSE_JWT_SECRET: unset, and {} holds fewer than {MIN_SECRET_BYTES} bytes",
                path.display()
            )));
        }
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
        Err(e) => {
            return Err(ConfigError(format!("GATEHOUSE_JWT_SECRET: unset, and {} is unreadable: {e}", path.display())));
        }
    }
    create_dir(data_dir)?;
    let secret = {
        use base64::Engine as _;
        use rand::Rng as _;
        let bytes: [u8; 48] = rand::rng().random();
        base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(bytes).into_bytes()
    };
    write_private(&path, &secret).map_err(|e| {
        ConfigError(format!("GATEHOUSE_JWT_SECRET: unset, and {} cannot be written: {e}", path.display()))
    })?;
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

    fn temp_dir(name: &str) -> PathBuf {
        let dir = std::env::temp_dir().join(format!("gatehouse-config-{name}-{}", uuid::Uuid::new_v4()));
        std::fs::create_dir_all(&dir).unwrap();
        dir
    }

    const SECRET: &str = "0123456789abcdef0123456789abcdef";

    #[test]
    fn defaults_make_an_sqlite_file_and_a_private_secret_once() {
        let dir = temp_dir("defaults");
        let first = with(&[], &dir).unwrap();
        assert!(first.database_url.starts_with("sqlite://") && first.database_url.ends_with("gatehouse.db"));
        assert_eq!((first.access_token_ttl, first.refresh_token_ttl), (900, 604_800));
        assert_eq!(first.jwt_issuer, "gatehouse");
        let path = dir.join("jwt-secret");
        assert_eq!(first.secret_source, SecretSource::File { path: path.clone(), created: true });
        use std::os::unix::fs::PermissionsExt as _;
        assert_eq!(std::fs::metadata(&path).unwrap().permissions().mode() & 0o777, 0o600);
        let second = with(&[], &dir).unwrap();
        assert_eq!(second.jwt_secret, first.jwt_secret);
        assert_eq!(second.secret_source, SecretSource::File { path, created: false });
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
        for (key, value) in [
            ("GATEHOUSE_ACCESS_TOKEN_TTL", "15m"),
            ("GATEHOUSE_ACCESS_TOKEN_TTL", "0"),
            ("GATEHOUSE_REFRESH_TOKEN_TTL", "-1"),
        ] {
            let err = with(&[("GATEHOUSE_JWT_SECRET", SECRET), (key, value)], &dir).unwrap_err();
            assert!(err.0.starts_with(key), "{err}");
        }
        let ok = with(&[("GATEHOUSE_JWT_SECRET", SECRET), ("GATEHOUSE_ACCESS_TOKEN_TTL", "3")], &dir).unwrap();
        assert_eq!(ok.access_token_ttl, 3);
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
    fn urls_in_logs_hide_passwords() {
        assert_eq!(redact_url("postgres://app:s3cret@db:5432/x"), "postgres://app:***@db:5432/x");
        assert_eq!(redact_url("postgres://postgres@127.0.0.1/test"), "postgres://postgres@127.0.0.1/test");
    }
}
