//! What authentication read for a login, kept in memory while the auth epoch (`db::epoch`)
//! says nothing it depends on has changed since.
//!
//! The rule kept: a change committed and answered on any instance is seen by the next request
//! on every instance. A request reads the epoch *first*; a cache filled under another epoch is
//! emptied before it is read; and a looked-up answer is stored only if the epoch read before
//! its lookup is still the current one. (Without that last guard, a lookup that read the old
//! state just before a revocation committed could store it just after the bump, under the
//! new epoch, and serve it until the next bump.)
//!
//! Memory is bounded: two generations of at most half the capacity each; when the young one
//! is full it becomes the old one and the old one is dropped; a hit in the old generation
//! moves to the young one (an approximation of least-recently-used, with O(1) work). The
//! logins of one user share one copy of the user.

use crate::{
    db::{
        Db,
        epoch::{EpochReader, SharedEpoch},
    },
    users::User,
};
use std::{
    collections::HashMap,
    sync::{Arc, Mutex},
};
use uuid::Uuid;

/// Where a request reads the epoch.
enum Source {
    /// SQLite: the page every process on the host maps.
    Shared(Arc<SharedEpoch>),
    /// PostgreSQL: a coalesced read of the row.
    Postgres(Arc<EpochReader>),
}

pub struct AuthCache {
    source: Source,
    /// Entries per generation (half the configured capacity).
    generation_size: usize,
    state: Mutex<State>,
    /// Debug builds only: store without the guard, for the test that shows the race test can
    /// tell (`GATEHOUSE_TEST_UNGUARDED_AUTH_CACHE=1`). Always false in release builds.
    unguarded: bool,
}

#[derive(Default)]
struct Generation {
    logins: HashMap<Uuid, (Uuid, Arc<User>)>,
    users: HashMap<Uuid, Arc<User>>,
}

impl Generation {
    fn user(&self, user_id: &Uuid) -> Option<&Arc<User>> {
        self.users.get(user_id)
    }
}

#[derive(Default)]
struct State {
    epoch: u64,
    young: Generation,
    old: Generation,
}

/// The epoch a request read before looking anything up.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Epoch(u64);

impl AuthCache {
    /// A cache for `db` holding up to `capacity` logins; `None` when `capacity` is 0 or the
    /// database has no shared epoch (SQLite in memory). On PostgreSQL each request then waits
    /// for a coalesced read of the epoch instead of making its own lookup: measured faster.
    pub fn new(db: &Db, capacity: usize) -> Option<Self> {
        if capacity == 0 {
            return None;
        }
        let source = match db {
            Db::Sqlite(_, Some(shared)) => Source::Shared(Arc::clone(shared)),
            Db::Sqlite(_, None) => return None,
            Db::Postgres(pool) => Source::Postgres(EpochReader::new(pool.clone())),
        };
        let unguarded = cfg!(debug_assertions) && std::env::var_os("GATEHOUSE_TEST_UNGUARDED_AUTH_CACHE").is_some();
        if unguarded {
            tracing::warn!("the auth cache's insert guard is off (a test of the race test)");
        }
        Some(Self { source, generation_size: capacity.div_ceil(2), state: Mutex::new(State::default()), unguarded })
    }

    /// Reads the epoch, the first thing a request does; `None` when it cannot be read (the
    /// request then looks up as if there were no cache).
    pub async fn epoch(&self) -> Option<Epoch> {
        match &self.source {
            Source::Shared(shared) => Some(Epoch(shared.load())),
            Source::Postgres(reader) => reader.read().await.map(Epoch),
        }
    }

    /// The epoch as this process last knew it, for the guard.
    fn current(&self) -> Option<u64> {
        match &self.source {
            Source::Shared(shared) => Some(shared.load()),
            Source::Postgres(reader) => reader.latest(),
        }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    /// The user stored for `login` of `user_id` under `epoch`.
    pub fn get(&self, epoch: Epoch, login: &Uuid, user_id: &Uuid) -> Option<User> {
        let mut state = self.lock();
        if state.epoch != epoch.0 {
            if self.current() == Some(state.epoch) {
                // This request read the epoch before another moved the cache on: it may not
                // read what was stored under the newer one, nor empty it.
                return None;
            }
            let stale = std::mem::take(&mut *state);
            state.epoch = epoch.0;
            drop(state);
            // The old entries are freed outside the lock.
            drop(stale);
            return None;
        }
        if let Some((owner, user)) = state.young.logins.get(login) {
            return (owner == user_id).then(|| User::clone(user));
        }
        let (owner, user) = state.old.logins.remove(login)?;
        if owner != *user_id {
            return None;
        }
        let found = User::clone(&user);
        let evicted = Self::store(&mut state, self.generation_size, *login, owner, user);
        drop(state);
        drop(evicted);
        Some(found)
    }

    /// Stores what a lookup begun under `epoch` found, if `epoch` is still current.
    pub fn insert(&self, epoch: Epoch, login: Uuid, user_id: Uuid, user: &User) {
        let mut state = self.lock();
        if !self.unguarded && (state.epoch != epoch.0 || self.current() != Some(epoch.0)) {
            return;
        }
        let shared = match state.young.user(&user_id).or_else(|| state.old.user(&user_id)) {
            Some(known) if **known == *user => Arc::clone(known),
            _ => Arc::new(user.clone()),
        };
        let evicted = Self::store(&mut state, self.generation_size, login, user_id, shared);
        drop(state);
        drop(evicted);
    }

    /// Stores an entry in the young generation; when that is full it becomes the old one, and
    /// the old one is returned, for the caller to free outside the lock.
    #[must_use]
    fn store(state: &mut State, generation_size: usize, login: Uuid, user_id: Uuid, user: Arc<User>) -> Generation {
        let mut evicted = Generation::default();
        if state.young.logins.len() >= generation_size {
            evicted = std::mem::replace(&mut state.old, std::mem::take(&mut state.young));
        }
        state.young.users.insert(user_id, Arc::clone(&user));
        state.young.logins.insert(login, (user_id, user));
        evicted
    }

    /// Logins stored now (both generations).
    pub fn len(&self) -> usize {
        let state = self.lock();
        state.young.logins.len() + state.old.logins.len()
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// SQLite: bumps the shared epoch when the durable row moved without it (a writer outside
    /// Gatehouse, a process that died between commit and bump). Runs for as long as the
    /// process does, every [`POLL_EVERY`](crate::db::epoch::POLL_EVERY).
    pub async fn follow_row(self: Arc<Self>, db: Db) {
        let Source::Shared(shared) = &self.source else {
            return;
        };
        let mut seen: Option<i64> = None;
        let mut tick = tokio::time::interval(crate::db::epoch::POLL_EVERY);
        loop {
            tick.tick().await;
            match crate::db::epoch::read_row(&db).await {
                Ok(row) => {
                    if seen.is_some_and(|seen| seen != row) {
                        shared.bump();
                    }
                    seen = Some(row);
                }
                Err(e) => tracing::warn!(error = %e, "reading the auth epoch failed"),
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::Role;

    fn cache(capacity: usize) -> (AuthCache, Arc<SharedEpoch>, std::path::PathBuf) {
        let dir = std::env::temp_dir().join(format!("gatehouse-cache-{}", Uuid::new_v4().simple()));
        std::fs::create_dir_all(&dir).unwrap();
        let shared = Arc::new(SharedEpoch::open(&dir.join("epoch")).unwrap());
        let cache = AuthCache {
            source: Source::Shared(Arc::clone(&shared)),
            generation_size: capacity.div_ceil(2),
            state: Mutex::new(State::default()),
            unguarded: false,
        };
        (cache, shared, dir)
    }

    fn user(name: &str) -> User {
        User {
            id: Uuid::new_v4().to_string(),
            username: name.into(),
            email: None,
            full_name: None,
            role: Role::User,
            disabled: false,
            created_at: "2026-12-01T00:00:00Z".into(),
            mfa_enabled: false,
        }
    }

    async fn epoch(cache: &AuthCache) -> Epoch {
        cache.epoch().await.unwrap()
    }

    #[tokio::test]
    async fn an_entry_is_served_until_the_epoch_moves_and_a_late_lookup_is_not_stored() {
        let (cache, shared, dir) = cache(100);
        let (login, owner, alice) = (Uuid::new_v4(), Uuid::new_v4(), user("alice"));
        let before = epoch(&cache).await;
        assert_eq!(cache.get(before, &login, &owner), None, "nothing stored yet");
        cache.insert(before, login, owner, &alice);
        assert_eq!(cache.get(epoch(&cache).await, &login, &owner), Some(alice.clone()));
        assert_eq!(cache.get(epoch(&cache).await, &login, &Uuid::new_v4()), None, "another user's token");

        // A revocation commits and bumps: the next request empties the cache.
        shared.bump();
        let after = epoch(&cache).await;
        assert_eq!(cache.get(after, &login, &owner), None);
        assert!(cache.is_empty());
        // A lookup begun before the bump finishes now: the guard refuses to store it.
        cache.insert(before, login, owner, &alice);
        assert!(cache.is_empty(), "stored under an epoch that is no longer current");
        // A request that read the old epoch neither reads nor empties the new one's entries.
        cache.insert(after, login, owner, &alice);
        assert_eq!(cache.get(before, &login, &owner), None);
        assert_eq!(cache.get(after, &login, &owner), Some(alice));
        let _ = std::fs::remove_dir_all(dir);
    }

    #[tokio::test]
    async fn the_cache_keeps_two_generations_and_a_user_once() {
        let (cache, _shared, dir) = cache(4);
        let now = epoch(&cache).await;
        let (owner, alice) = (Uuid::new_v4(), user("alice"));
        let logins: Vec<Uuid> = (0..10).map(|_| Uuid::new_v4()).collect();
        for login in &logins {
            cache.insert(now, *login, owner, &alice);
            assert!(cache.len() <= 4, "{} entries with a capacity of 4", cache.len());
        }
        // The newest are kept; the oldest went with their generation.
        assert_eq!(cache.get(now, &logins[9], &owner), Some(alice.clone()));
        assert_eq!(cache.get(now, &logins[0], &owner), None);
        // A hit in the old generation moves up: it outlives the next turnover.
        assert_eq!(cache.get(now, &logins[7], &owner), Some(alice.clone()));
        for _ in 0..2 {
            cache.insert(now, Uuid::new_v4(), owner, &alice);
        }
        assert_eq!(cache.get(now, &logins[7], &owner), Some(alice.clone()));
        // The logins of one user share one copy of it.
        let state = cache.lock();
        let copies: Vec<&Arc<User>> = state.young.logins.values().map(|(_, user)| user).collect();
        assert!(copies.windows(2).all(|pair| Arc::ptr_eq(pair[0], pair[1])), "one copy of alice");
        drop(state);
        let _ = std::fs::remove_dir_all(dir);
    }
}
