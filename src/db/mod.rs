//! The database: SQLite (embedded default) or PostgreSQL (several instances), chosen by URL.
//!
//! Every query is written once, as portable SQL with `$n` placeholders (SQLite accepts them
//! too), and run on whichever pool is configured through [`with_pool!`], which compiles the
//! same body against both drivers. No `Any` driver: each backend keeps its native types and
//! its native speed on the per-request path.

use sqlx::{
    PgPool, SqlitePool,
    postgres::PgPoolOptions,
    sqlite::{SqliteConnectOptions, SqliteJournalMode, SqlitePoolOptions, SqliteSynchronous},
};
use std::{str::FromStr, sync::Arc, time::Duration};

pub mod epoch;

#[derive(Clone, Debug)]
pub enum Db {
    /// With the shared epoch of its file (none for a database in memory).
    Sqlite(SqlitePool, Option<Arc<epoch::SharedEpoch>>),
    Postgres(PgPool),
}

/// Runs `$body` with `$pool` bound to the configured pool, whichever backend it is.
macro_rules! with_pool {
    ($db:expr, $pool:ident => $body:expr) => {
        match $db {
            $crate::db::Db::Sqlite($pool, _) => $body,
            $crate::db::Db::Postgres($pool) => $body,
        }
    };
}
pub(crate) use with_pool;

/// Pool sizes and timeouts.
#[derive(Clone, Copy, Debug)]
pub struct PoolSettings {
    pub max_connections: u32,
    pub acquire_timeout: Duration,
}

impl Default for PoolSettings {
    /// A request that cannot get a connection within a second answers 503 at once: while
    /// the database is unreachable, clients and proxies must not pile up behind it.
    fn default() -> Self {
        Self { max_connections: 16, acquire_timeout: Duration::from_secs(1) }
    }
}

impl Db {
    /// Opens the pool for `url` (`sqlite:...` or `postgres:...`) and checks that it answers.
    pub async fn connect(url: &str, settings: PoolSettings) -> Result<Self, sqlx::Error> {
        if url.starts_with("sqlite:") {
            // WAL lets readers run beside the one writer; the busy timeout makes a writer wait
            // for the lock instead of failing with SQLITE_BUSY under concurrent writes.
            let options = SqliteConnectOptions::from_str(url)?
                .create_if_missing(true)
                .journal_mode(SqliteJournalMode::Wal)
                .synchronous(SqliteSynchronous::Normal)
                .busy_timeout(Duration::from_secs(10))
                .foreign_keys(true);
            let shared = if url.contains(":memory:") || url.contains("mode=memory") {
                None
            } else {
                let path = epoch::shared_file(options.get_filename());
                let shared = epoch::SharedEpoch::open(&path).map_err(|e| {
                    sqlx::Error::Configuration(format!("the auth epoch file {}: {e}", path.display()).into())
                })?;
                Some(Arc::new(shared))
            };
            let hooked = shared.clone();
            let pool = SqlitePoolOptions::new()
                .max_connections(settings.max_connections)
                .acquire_timeout(settings.acquire_timeout)
                // Each sqlx SQLite connection lives on a worker thread of its own, so a ping
                // is a round trip between threads; a local file cannot drop a connection.
                .test_before_acquire(false)
                .after_connect(move |connection, _| {
                    let shared = hooked.clone();
                    Box::pin(async move {
                        match shared {
                            Some(shared) => epoch::hook_connection(connection, shared).await,
                            None => Ok(()),
                        }
                    })
                })
                .connect_lazy_with(options);
            first_connection(&pool).await?;
            Ok(Db::Sqlite(pool, shared))
        } else if url.starts_with("postgres:") || url.starts_with("postgresql:") {
            // One connection of our own first: a refused connection or a wrong password
            // fails at once with its cause (the pool would only say it timed out).
            let options = sqlx::postgres::PgConnectOptions::from_str(url)?;
            match tokio::time::timeout(FIRST_CONNECTION_PATIENCE, sqlx::ConnectOptions::connect(&options)).await {
                Ok(connection) => sqlx::Connection::close(connection?).await?,
                Err(_) => return Err(sqlx::Error::PoolTimedOut),
            }
            let pool = PgPoolOptions::new()
                .max_connections(settings.max_connections)
                .acquire_timeout(settings.acquire_timeout)
                .connect_lazy_with(options);
            first_connection(&pool).await?;
            Ok(Db::Postgres(pool))
        } else {
            Err(sqlx::Error::Configuration("the URL must start with sqlite: or postgres:".into()))
        }
    }

    /// Applies the migrations in `migrations/` (embedded at build time).
    pub async fn migrate(&self) -> Result<(), sqlx::migrate::MigrateError> {
        let migrator = sqlx::migrate!("./migrations");
        with_pool!(self, pool => migrator.run(pool).await)?;
        epoch::install_triggers(self).await.map_err(sqlx::migrate::MigrateError::Execute)
    }

    /// True when the database answers a trivial query.
    pub async fn ping(&self) -> bool {
        with_pool!(self, pool => sqlx::query("SELECT 1").execute(pool).await.is_ok())
    }

    pub fn backend(&self) -> &'static str {
        match self {
            Db::Sqlite(..) => "sqlite",
            Db::Postgres(_) => "postgres",
        }
    }

    pub async fn close(&self) {
        with_pool!(self, pool => pool.close().await)
    }
}

/// How long start-up waits for the first connection. A request waits for a connection only
/// [`PoolSettings::acquire_timeout`]; the first one may take longer on a loaded machine (or
/// while a database server is starting), and start-up had better wait than fail.
const FIRST_CONNECTION_PATIENCE: Duration = Duration::from_secs(15);

/// Opens one connection of `pool`, retrying timeouts for [`FIRST_CONNECTION_PATIENCE`]; any
/// other error (a wrong password, a missing file) fails at once.
async fn first_connection<DB: sqlx::Database>(pool: &sqlx::Pool<DB>) -> Result<(), sqlx::Error> {
    let deadline = std::time::Instant::now() + FIRST_CONNECTION_PATIENCE;
    loop {
        match pool.acquire().await {
            Ok(_) => return Ok(()),
            Err(sqlx::Error::PoolTimedOut) if std::time::Instant::now() < deadline => continue,
            Err(e) => return Err(e),
        }
    }
}

/// Microseconds since the Unix epoch, the unit every stored time uses.
pub fn now_micros() -> i64 {
    let now = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap_or_default();
    i64::try_from(now.as_micros()).unwrap_or(i64::MAX)
}

/// True when `err` is a unique-constraint violation (a race lost to another insert).
pub fn is_unique_violation(err: &sqlx::Error) -> bool {
    matches!(err, sqlx::Error::Database(db) if db.is_unique_violation())
}

/// A row refers to one that is gone (deleted by a concurrent transaction).
pub fn is_foreign_key_violation(err: &sqlx::Error) -> bool {
    matches!(err, sqlx::Error::Database(db) if db.is_foreign_key_violation())
}

/// Microseconds since the epoch → RFC 3339 in UTC.
pub fn rfc3339(micros: i64) -> String {
    let nanos = i128::from(micros) * 1_000;
    time::OffsetDateTime::from_unix_timestamp_nanos(nanos)
        .ok()
        .and_then(|t| t.format(&time::format_description::well_known::Rfc3339).ok())
        .unwrap_or_default()
}
