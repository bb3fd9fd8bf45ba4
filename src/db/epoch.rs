//! The auth epoch: a number that changes whenever what authentication reads may have changed
//! (a login ended or deleted; a user's name, email, role, status or second factor changed; a
//! user deleted). The per-request cache of `auth::cache` trusts an entry only while the epoch
//! it was filled under is current.
//!
//! **The one mechanism.** Database triggers, installed by [`install_triggers`] at every
//! migration, bump the durable row `auth_epoch` in the same transaction as the change: no
//! writer can forget it (a new code path, the `sqlite3` shell, a restored backup, an older
//! binary during a rollout), and a change is never committed without its bump.
//!
//! - **SQLite** (one host): a 4 KiB file beside the database, `<file>-epoch`, mapped by every
//!   process ([`SharedEpoch`]); a request reads it with one atomic load. Each connection
//!   notices, through SQLite's update hook, that its transaction touched `auth_epoch`, and its
//!   WAL hook, which SQLite calls on the connection's own thread after the commit is visible
//!   and before the result goes back to the caller, bumps the shared counter. Nothing async
//!   stands between commit and bump, so no dropped request can separate them. A process also
//!   polls the row about once a second ([`POLL_EVERY`]): a writer outside Gatehouse, or a
//!   process that died between commit and bump, is caught within that second.
//! - **PostgreSQL** (many hosts, no shared page): [`EpochReader`] coalesces `SELECT epoch`
//!   reads; a request waits for one read *sent after it arrived*, and one query in flight
//!   serves every request waiting for it.

use super::Db;
use sqlx::{PgPool, sqlite::SqliteConnection};
use std::{
    path::{Path, PathBuf},
    sync::{
        Arc, Mutex,
        atomic::{AtomicU64, Ordering},
    },
    time::Duration,
};

/// How often each process reads the durable row, to catch writes made without its hooks.
pub const POLL_EVERY: Duration = Duration::from_secs(1);

/// The columns of `users` that authentication returns (`users::repository::user_columns!`
/// reads them all, plus `password_hash`, which authentication does not hand out). A test
/// checks that the two lists agree.
pub const USER_COLUMNS_WATCHED: [&str; 8] =
    ["id", "username", "email", "full_name", "role", "disabled", "created_at", "totp_secret"];

/// The triggers on SQLite, replaced at every migration (DROP then CREATE, in one transaction).
/// A login counts as changed when it ends or is deleted while live, or when its id or user
/// changes (no Gatehouse code does that; a hand-made change might).
const SQLITE_TRIGGERS: &str = "
DROP TRIGGER IF EXISTS auth_epoch_login_ended;
DROP TRIGGER IF EXISTS auth_epoch_login_deleted;
DROP TRIGGER IF EXISTS auth_epoch_user_changed;
DROP TRIGGER IF EXISTS auth_epoch_user_deleted;
CREATE TRIGGER auth_epoch_login_ended AFTER UPDATE OF id, user_id, ended_at ON logins
    WHEN OLD.ended_at IS NULL
      AND (NEW.ended_at IS NOT NULL OR NEW.id IS NOT OLD.id OR NEW.user_id IS NOT OLD.user_id)
    BEGIN UPDATE auth_epoch SET epoch = epoch + 1 WHERE id = 1; END;
CREATE TRIGGER auth_epoch_login_deleted AFTER DELETE ON logins
    WHEN OLD.ended_at IS NULL
    BEGIN UPDATE auth_epoch SET epoch = epoch + 1 WHERE id = 1; END;
CREATE TRIGGER auth_epoch_user_changed
    AFTER UPDATE OF id, username, email, full_name, role, disabled, created_at, totp_secret ON users
    WHEN OLD.id IS NOT NEW.id OR OLD.username IS NOT NEW.username OR OLD.email IS NOT NEW.email
      OR OLD.full_name IS NOT NEW.full_name OR OLD.role IS NOT NEW.role OR OLD.disabled IS NOT NEW.disabled
      OR OLD.created_at IS NOT NEW.created_at OR (OLD.totp_secret IS NULL) IS NOT (NEW.totp_secret IS NULL)
    BEGIN UPDATE auth_epoch SET epoch = epoch + 1 WHERE id = 1; END;
CREATE TRIGGER auth_epoch_user_deleted AFTER DELETE ON users
    BEGIN UPDATE auth_epoch SET epoch = epoch + 1 WHERE id = 1; END;
";

/// The same on PostgreSQL, as constraint triggers deferred to commit: the epoch row is locked
/// only while its transaction commits, after every other lock it takes (a row trigger
/// bumping at once would hold it from the first change on, and two revocations taking their
/// rows in opposite orders, a disable and the user's own logout, say, could deadlock).
/// `TRUNCATE` fires no row trigger: statement triggers catch it.
const POSTGRES_TRIGGERS: &str = "
CREATE OR REPLACE FUNCTION gatehouse_bump_auth_epoch() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    UPDATE auth_epoch SET epoch = epoch + 1 WHERE id = 1;
    RETURN NULL;
END $$;
DROP TRIGGER IF EXISTS auth_epoch_login_ended ON logins;
DROP TRIGGER IF EXISTS auth_epoch_login_deleted ON logins;
DROP TRIGGER IF EXISTS auth_epoch_logins_truncated ON logins;
DROP TRIGGER IF EXISTS auth_epoch_user_changed ON users;
DROP TRIGGER IF EXISTS auth_epoch_user_deleted ON users;
DROP TRIGGER IF EXISTS auth_epoch_users_truncated ON users;
CREATE CONSTRAINT TRIGGER auth_epoch_login_ended AFTER UPDATE OF id, user_id, ended_at ON logins
    DEFERRABLE INITIALLY DEFERRED FOR EACH ROW
    WHEN (OLD.ended_at IS NULL AND (NEW.ended_at IS NOT NULL OR NEW.id IS DISTINCT FROM OLD.id
      OR NEW.user_id IS DISTINCT FROM OLD.user_id))
    EXECUTE FUNCTION gatehouse_bump_auth_epoch();
CREATE CONSTRAINT TRIGGER auth_epoch_login_deleted AFTER DELETE ON logins
    DEFERRABLE INITIALLY DEFERRED FOR EACH ROW
    WHEN (OLD.ended_at IS NULL)
    EXECUTE FUNCTION gatehouse_bump_auth_epoch();
CREATE TRIGGER auth_epoch_logins_truncated AFTER TRUNCATE ON logins
    FOR EACH STATEMENT EXECUTE FUNCTION gatehouse_bump_auth_epoch();
CREATE CONSTRAINT TRIGGER auth_epoch_user_changed
    AFTER UPDATE OF id, username, email, full_name, role, disabled, created_at, totp_secret ON users
    DEFERRABLE INITIALLY DEFERRED FOR EACH ROW
    WHEN (OLD.id IS DISTINCT FROM NEW.id OR OLD.username IS DISTINCT FROM NEW.username
      OR OLD.email IS DISTINCT FROM NEW.email OR OLD.full_name IS DISTINCT FROM NEW.full_name
      OR OLD.role IS DISTINCT FROM NEW.role OR OLD.disabled IS DISTINCT FROM NEW.disabled
      OR OLD.created_at IS DISTINCT FROM NEW.created_at
      OR (OLD.totp_secret IS NULL) IS DISTINCT FROM (NEW.totp_secret IS NULL))
    EXECUTE FUNCTION gatehouse_bump_auth_epoch();
CREATE CONSTRAINT TRIGGER auth_epoch_user_deleted AFTER DELETE ON users
    DEFERRABLE INITIALLY DEFERRED FOR EACH ROW
    EXECUTE FUNCTION gatehouse_bump_auth_epoch();
CREATE TRIGGER auth_epoch_users_truncated AFTER TRUNCATE ON users
    FOR EACH STATEMENT EXECUTE FUNCTION gatehouse_bump_auth_epoch();
";

/// Triggers [`POSTGRES_TRIGGERS`] makes.
const POSTGRES_TRIGGER_COUNT: i64 = 6;

/// (Re)installs the triggers that bump `auth_epoch`, in one transaction. On PostgreSQL, only
/// when they differ from these (replacing them locks `users` and `logins` against every
/// reader for a moment, which instances starting one after another need not do): the
/// function's comment holds the SHA-256 of the SQL that made them.
pub async fn install_triggers(db: &Db) -> Result<(), sqlx::Error> {
    match db {
        Db::Sqlite(pool, _) => {
            let mut tx = pool.begin().await?;
            sqlx::raw_sql(SQLITE_TRIGGERS).execute(&mut *tx).await?;
            tx.commit().await
        }
        Db::Postgres(pool) => {
            use sha2::Digest as _;
            let version = data_encoding::HEXLOWER.encode(&sha2::Sha256::digest(POSTGRES_TRIGGERS));
            let mut tx = pool.begin().await?;
            // Several instances may start at once: one replaces the triggers at a time.
            sqlx::query("SELECT pg_advisory_xact_lock(7245190016)").execute(&mut *tx).await?;
            let (installed, count): (Option<String>, i64) = sqlx::query_as(
                "SELECT obj_description(to_regprocedure('gatehouse_bump_auth_epoch()'), 'pg_proc'), \
                        (SELECT COUNT(*) FROM pg_trigger WHERE tgname LIKE 'auth\\_epoch\\_%' AND NOT tgisinternal)",
            )
            .fetch_one(&mut *tx)
            .await?;
            if installed.as_deref() == Some(version.as_str()) && count == POSTGRES_TRIGGER_COUNT {
                return tx.commit().await;
            }
            sqlx::query("SET LOCAL lock_timeout = '10s'").execute(&mut *tx).await?;
            sqlx::raw_sql(POSTGRES_TRIGGERS).execute(&mut *tx).await?;
            let comment = format!("COMMENT ON FUNCTION gatehouse_bump_auth_epoch() IS '{version}'");
            sqlx::raw_sql(sqlx::AssertSqlSafe(comment)).execute(&mut *tx).await?;
            tx.commit().await
        }
    }
}

/// Reads the durable epoch.
const SELECT_EPOCH: &str = "SELECT epoch FROM auth_epoch WHERE id = 1";

/// The durable epoch, as stored now.
pub async fn read_row(db: &Db) -> Result<i64, sqlx::Error> {
    super::with_pool!(db, pool => sqlx::query_scalar(SELECT_EPOCH).fetch_one(pool).await)
}

/// The file beside SQLite database `database` that holds its shared epoch. Symbolic links
/// are resolved first, as SQLite does for its own `-wal` and `-shm` files: every process
/// reaching one database, by whatever path, maps one counter.
pub fn shared_file(database: &Path) -> PathBuf {
    let resolved =
        std::fs::canonicalize(database).unwrap_or_else(|_| match (database.parent(), database.file_name()) {
            (Some(dir), Some(name)) => {
                let dir = if dir.as_os_str().is_empty() { Path::new(".") } else { dir };
                std::fs::canonicalize(dir).map_or_else(|_| database.to_path_buf(), |dir| dir.join(name))
            }
            _ => database.to_path_buf(),
        });
    let mut name = resolved.into_os_string();
    name.push("-epoch");
    PathBuf::from(name)
}

/// The size of the mapping: one page; the counter is its first 8 bytes.
const MAPPED: usize = 4096;

/// A 64-bit counter in a file mapped by every process on the host (`MAP_SHARED`): a bump by
/// one process is seen by the next atomic load of any other.
pub struct SharedEpoch {
    counter: std::ptr::NonNull<AtomicU64>,
}

// SAFETY: the mapping is only ever accessed through the `AtomicU64` at its start, which is
// made for access from any thread (and, the page being shared, from any process).
unsafe impl Send for SharedEpoch {}
// SAFETY: as above: every access is an atomic operation.
unsafe impl Sync for SharedEpoch {}

impl std::fmt::Debug for SharedEpoch {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SharedEpoch").field("epoch", &self.load()).finish()
    }
}

impl SharedEpoch {
    /// Maps `path`, creating it (mode 0600, zero) when it does not exist.
    pub fn open(path: &Path) -> std::io::Result<Self> {
        use std::os::unix::fs::OpenOptionsExt;
        use std::os::unix::io::AsRawFd;
        let file =
            std::fs::OpenOptions::new().read(true).write(true).create(true).truncate(false).mode(0o600).open(path)?;
        if file.metadata()?.len() < MAPPED as u64 {
            // Growing by `set_len` fills with zeros, and never shrinks a file another process
            // made (they all ask for the same size).
            file.set_len(MAPPED as u64)?;
        }
        // SAFETY: a fresh shared mapping of an open file at least `MAPPED` bytes long; the
        // file may be closed afterwards (the mapping keeps it). Page alignment satisfies the
        // alignment of `AtomicU64`.
        let address = unsafe {
            libc::mmap(
                std::ptr::null_mut(),
                MAPPED,
                libc::PROT_READ | libc::PROT_WRITE,
                libc::MAP_SHARED,
                file.as_raw_fd(),
                0,
            )
        };
        if address == libc::MAP_FAILED {
            return Err(std::io::Error::last_os_error());
        }
        let counter = std::ptr::NonNull::new(address.cast::<AtomicU64>()).ok_or_else(std::io::Error::last_os_error)?;
        Ok(Self { counter })
    }

    fn counter(&self) -> &AtomicU64 {
        // SAFETY: the mapping lives as long as `self` (unmapped only in `drop`).
        unsafe { self.counter.as_ref() }
    }

    /// The epoch now.
    pub fn load(&self) -> u64 {
        self.counter().load(Ordering::SeqCst)
    }

    /// Moves the epoch on: every process's cache is stale from its next load.
    pub fn bump(&self) {
        self.counter().fetch_add(1, Ordering::SeqCst);
    }
}

impl Drop for SharedEpoch {
    fn drop(&mut self) {
        // SAFETY: unmaps exactly the mapping made in `open`, once; nothing borrows it anymore.
        unsafe {
            libc::munmap(self.counter.as_ptr().cast(), MAPPED);
        }
    }
}

thread_local! {
    /// The epoch to bump when this thread's connection commits its current transaction: set by
    /// the update hook when the transaction touches `auth_epoch`. Each sqlx SQLite connection
    /// runs on a thread of its own, so this is per connection.
    static PENDING: std::cell::RefCell<Option<Arc<SharedEpoch>>> = const { std::cell::RefCell::new(None) };
}

/// Frames in the write-ahead log after which a commit checkpoints it: SQLite's own default,
/// which its automatic checkpoint (itself a WAL hook, replaced by ours) would have used.
const CHECKPOINT_FRAMES: std::ffi::c_int = 1000;

/// Called by SQLite on the committing connection's thread once a commit is in the log and the
/// write lock is released: the change is visible to every reader before the epoch moves.
extern "C" fn wal_committed(
    _: *mut std::ffi::c_void,
    db: *mut libsqlite3_sys::sqlite3,
    schema: *const std::ffi::c_char,
    frames: std::ffi::c_int,
) -> std::ffi::c_int {
    // `try_with`: never a panic across the FFI boundary, even while the thread is ending.
    if let Ok(Some(epoch)) = PENDING.try_with(|pending| pending.borrow_mut().take()) {
        epoch.bump();
    }
    if frames >= CHECKPOINT_FRAMES {
        // SAFETY: SQLite passes its own live handle and schema name; a passive checkpoint from
        // a WAL hook is what its automatic checkpoint does. Its failure only delays the next.
        unsafe {
            libsqlite3_sys::sqlite3_wal_checkpoint(db, schema);
        }
    }
    libsqlite3_sys::SQLITE_OK
}

/// Installs, on a new SQLite connection, the hooks that bump `epoch` after each commit that
/// changed `auth_epoch`. (SQLite calls the WAL hook when a statement's last step finishes: a
/// revoking statement outside a transaction must run to its end, not stop at its first row
/// as `fetch_one` of an `UPDATE ... RETURNING` would, or its bump waits for the connection's
/// next statement. No such statement touches `users` or `logins`.)
pub async fn hook_connection(connection: &mut SqliteConnection, epoch: Arc<SharedEpoch>) -> Result<(), sqlx::Error> {
    // Debug builds only: no hooks, for the test that shows the race test misses nothing
    // without them.
    if cfg!(debug_assertions) && std::env::var_os("GATEHOUSE_TEST_NO_EPOCH_HOOKS").is_some() {
        return Ok(());
    }
    let mut handle = connection.lock_handle().await?;
    handle.set_update_hook(move |change| {
        if change.table == "auth_epoch" {
            PENDING.with(|pending| *pending.borrow_mut() = Some(Arc::clone(&epoch)));
        }
    });
    handle.set_rollback_hook(|| PENDING.with(|pending| *pending.borrow_mut() = None));
    // SAFETY: a valid handle, locked for our use; the callback keeps no pointer and needs no
    // user data.
    unsafe {
        libsqlite3_sys::sqlite3_wal_hook(handle.as_raw_handle().as_ptr(), Some(wal_committed), std::ptr::null_mut());
    }
    Ok(())
}

/// One `SELECT epoch` in flight at a time, shared by every request that arrived before it was
/// sent (PostgreSQL).
pub struct EpochReader {
    pool: PgPool,
    rounds: Mutex<Rounds>,
    /// The latest finished read: its round and what it returned.
    published: tokio::sync::watch::Sender<Published>,
}

#[derive(Default)]
struct Rounds {
    /// Reads sent so far (the one in flight included).
    sent: u64,
    in_flight: bool,
    /// A request arrived while a read was in flight: send another when it returns.
    wanted: bool,
}

#[derive(Clone, Copy, Default)]
struct Published {
    round: u64,
    epoch: Option<u64>,
}

impl EpochReader {
    pub fn new(pool: PgPool) -> Arc<Self> {
        Arc::new(Self {
            pool,
            rounds: Mutex::new(Rounds::default()),
            published: tokio::sync::watch::Sender::new(Published::default()),
        })
    }

    /// The epoch as read by a query sent after this call began; `None` when it failed.
    pub async fn read(self: &Arc<Self>) -> Option<u64> {
        let mut published = self.published.subscribe();
        let (round, send) = {
            let mut rounds = self.rounds.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
            if rounds.in_flight {
                rounds.wanted = true;
                (rounds.sent + 1, false)
            } else {
                rounds.in_flight = true;
                rounds.sent += 1;
                (rounds.sent, true)
            }
        };
        if send {
            // A task of its own: a request dropped meanwhile cannot leave a read half-sent
            // and every later request waiting for it.
            tokio::spawn(Arc::clone(self).send_rounds(round));
        }
        loop {
            let now = *published.borrow_and_update();
            if now.round >= round {
                return now.epoch;
            }
            if published.changed().await.is_err() {
                return None;
            }
        }
    }

    /// Sends read `round`, then one more for as long as requests arrived during the last.
    async fn send_rounds(self: Arc<Self>, mut round: u64) {
        loop {
            let epoch: Option<u64> =
                sqlx::query_scalar::<_, i64>(SELECT_EPOCH).fetch_one(&self.pool).await.ok().map(|e| e as u64);
            self.published.send_replace(Published { round, epoch });
            let mut rounds = self.rounds.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
            if !rounds.wanted {
                rounds.in_flight = false;
                return;
            }
            rounds.wanted = false;
            rounds.sent += 1;
            round = rounds.sent;
        }
    }

    /// The epoch the latest finished read returned.
    pub fn latest(&self) -> Option<u64> {
        self.published.borrow().epoch
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn both_databases_triggers_watch_every_column_authentication_returns() {
        let columns = format!("AFTER UPDATE OF {} ON users", USER_COLUMNS_WATCHED.join(", "));
        for (name, sql) in [("SQLite", SQLITE_TRIGGERS), ("PostgreSQL", POSTGRES_TRIGGERS)] {
            assert!(sql.contains(&columns), "{name}: {columns}");
            assert!(sql.contains("AFTER UPDATE OF id, user_id, ended_at ON logins"), "{name}");
            for column in USER_COLUMNS_WATCHED {
                assert!(sql.contains(&format!("OLD.{column}")), "{name}: a change of {column} is not compared");
            }
        }
        assert_eq!(SQLITE_TRIGGERS.matches("CREATE TRIGGER").count(), 4);
        let made = POSTGRES_TRIGGERS.matches("CREATE TRIGGER").count()
            + POSTGRES_TRIGGERS.matches("CREATE CONSTRAINT").count();
        assert_eq!(made as i64, POSTGRES_TRIGGER_COUNT);
        assert_eq!(POSTGRES_TRIGGERS.matches("CREATE CONSTRAINT TRIGGER").count(), 4, "the row triggers are deferred");
    }

    #[test]
    fn two_mappings_of_one_file_see_each_others_bumps() {
        let dir = std::env::temp_dir().join(format!("gatehouse-epoch-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let path = shared_file(&dir.join("g.db"));
        assert!(path.ends_with("g.db-epoch"));
        // A database reached through a symbolic link shares the counter of its file.
        std::os::unix::fs::symlink(dir.join("g.db"), dir.join("link.db")).unwrap();
        std::fs::write(dir.join("g.db"), b"").unwrap();
        assert_eq!(shared_file(&dir.join("link.db")), shared_file(&dir.join("g.db")));
        let (a, b) = (SharedEpoch::open(&path).unwrap(), SharedEpoch::open(&path).unwrap());
        let before = b.load();
        a.bump();
        a.bump();
        assert_eq!(b.load(), before + 2);
        drop(a);
        b.bump();
        assert_eq!(SharedEpoch::open(&path).unwrap().load(), before + 3);
        let _ = std::fs::remove_dir_all(&dir);
    }
}
