//! Password hashing: argon2id on a small fixed pool of threads, never on the async runtime.
//!
//! The pool size bounds how many hashes run at once (a flood of logins queues here instead of
//! starving every other request). The threads run at a lower scheduling priority than the
//! async runtime (nice 10 on Linux): they take all the CPU nobody else wants, but a request
//! that needs no hash (`/users/me`, a page) is not made to wait behind a login flood.
//!
//! Each thread keeps its argon2 memory (19 MiB at the OWASP parameters) while logins keep
//! coming and gives it back to the operating system after [`IDLE_RELEASE`] without one.

use crate::error::AppError;
use argon2::{
    Algorithm, Argon2, Block, Params, PasswordHash, Version,
    password_hash::{self, Output, ParamsString, Salt, SaltString},
};
use std::{
    sync::{
        Arc,
        atomic::{AtomicU64, AtomicUsize, Ordering},
    },
    time::{Duration, Instant},
};
use tokio::sync::oneshot;
use unicode_normalization::UnicodeNormalization;

/// A hashing thread that has had no job for this long frees its argon2 memory.
pub const IDLE_RELEASE: Duration = Duration::from_secs(3);

/// How many hashes may wait for a thread before `hash`/`verify` callers wait to queue.
const QUEUE: usize = 1024;

/// The nice value of the hashing threads (0 is the default, 19 the lowest priority).
#[cfg(target_os = "linux")]
const HASH_NICE: libc::c_int = 10;

enum Job {
    Hash {
        password: String,
        reply: oneshot::Sender<Result<String, argon2::password_hash::Error>>,
    },
    /// Answers with the outcome and the time argon2 took (queueing not included).
    Verify {
        password: String,
        phc: String,
        reply: oneshot::Sender<(Verified, Duration)>,
    },
}

/// The outcome of checking a password against a stored hash.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Verified {
    pub matches: bool,
    /// The stored hash is weaker than the configured parameters (or not argon2id v1.3): a
    /// login that matched should store a fresh hash.
    pub outdated: bool,
    /// The stored hash is argon2id v1.3 at exactly the configured parameters: its time is
    /// what an unknown name's dummy check costs.
    pub configured: bool,
}

/// Handle to the hashing threads. Cloning shares the same threads.
#[derive(Clone)]
pub struct PasswordHasher {
    jobs: flume::Sender<Job>,
    /// Bytes of argon2 memory the threads hold right now.
    held: Arc<AtomicUsize>,
    /// A real hash of a random password: unknown usernames are checked against it, so that
    /// "no such user" costs the same time as "wrong password".
    dummy_phc: Arc<str>,
    /// How long one verification at the configured parameters takes (a moving average, in
    /// microseconds): a cheaper stored hash is answered no sooner than this.
    typical_micros: Arc<AtomicU64>,
}

impl PasswordHasher {
    /// Starts `workers` hashing threads using `params` for new hashes.
    pub fn start(params: Params, workers: usize) -> std::io::Result<Self> {
        Self::start_with_idle(params, workers, IDLE_RELEASE)
    }

    /// [`Self::start`], with threads that free their memory after `idle` without a job.
    pub fn start_with_idle(params: Params, workers: usize, idle: Duration) -> std::io::Result<Self> {
        map_large_blocks();
        let held = Arc::new(AtomicUsize::new(0));
        let (tx, rx) = flume::bounded::<Job>(QUEUE);
        for i in 0..workers.max(1) {
            let rx = rx.clone();
            let params = params.clone();
            let scratch = Scratch::new(Arc::clone(&held));
            std::thread::Builder::new()
                .name(format!("argon2-{i}"))
                .spawn(move || worker(&rx, &params, scratch, idle))?;
        }
        let started = Instant::now();
        let dummy_phc = hash_now(&params, &mut Scratch::new(Arc::default()), &random_dummy_password())
            .map_err(|e| std::io::Error::other(format!("argon2 self-test failed: {e}")))?;
        let typical_micros = Arc::new(AtomicU64::new(micros(started.elapsed())));
        Ok(Self { jobs: tx, held, dummy_phc: dummy_phc.into(), typical_micros })
    }

    /// Bytes of argon2 memory the hashing threads hold now: threads × m KiB while logins
    /// come in, 0 once they have been idle for the release time.
    pub fn held_bytes(&self) -> usize {
        self.held.load(Ordering::Relaxed)
    }

    /// Hashes a password (NFKC-normalised first) into a PHC string.
    pub async fn hash(&self, password: &str) -> Result<String, AppError> {
        let (reply, answer) = oneshot::channel();
        self.submit(Job::Hash { password: password.to_owned(), reply }).await?;
        match answer.await {
            Ok(Ok(phc)) => Ok(phc),
            Ok(Err(e)) => {
                tracing::error!(error = %e, "argon2 hashing failed");
                Err(AppError::Internal)
            }
            Err(_) => Err(pool_gone()),
        }
    }

    /// Whether `password` (NFKC-normalised) matches the stored PHC string, and whether that
    /// hash is due for an upgrade. A malformed stored hash is a mismatch, logged.
    ///
    /// A hash stored with cheaper parameters (before they were raised), or a malformed one,
    /// verifies faster than the dummy hash of unknown names; until its owner logs in again and
    /// it is upgraded, the answer waits out the difference, so its time tells nothing about
    /// the account. Only hashes at the configured parameters feed the average it waits for.
    pub async fn verify(&self, password: &str, phc: &str) -> Result<Verified, AppError> {
        let (reply, answer) = oneshot::channel();
        self.submit(Job::Verify { password: password.to_owned(), phc: phc.to_owned(), reply }).await?;
        let (verified, spent) = answer.await.map_err(|_| pool_gone())?;
        let typical = &self.typical_micros;
        if !verified.configured {
            let rest = Duration::from_micros(typical.load(Ordering::Relaxed)).saturating_sub(spent);
            tokio::time::sleep(rest).await;
        } else {
            // An average over the last few verifications follows the machine's load.
            let old = typical.load(Ordering::Relaxed);
            typical.store(old - old / 8 + micros(spent) / 8, Ordering::Relaxed);
        }
        Ok(verified)
    }

    /// Spends the time of one verification and always fails: for unknown usernames.
    pub async fn verify_dummy(&self, password: &str) -> Result<(), AppError> {
        let phc = Arc::clone(&self.dummy_phc);
        self.verify(password, &phc).await.map(|_| ())
    }

    async fn submit(&self, job: Job) -> Result<(), AppError> {
        self.jobs.send_async(job).await.map_err(|_| pool_gone())?;
        metrics::gauge!("gatehouse_password_hash_queue").set(self.jobs.len() as f64);
        Ok(())
    }
}

fn pool_gone() -> AppError {
    tracing::error!("the password hashing threads have stopped");
    AppError::Internal
}

fn worker(rx: &flume::Receiver<Job>, params: &Params, mut scratch: Scratch, idle: Duration) {
    lower_priority();
    loop {
        let job = match rx.recv_timeout(idle) {
            Ok(job) => job,
            Err(flume::RecvTimeoutError::Timeout) => {
                scratch.release();
                match rx.recv() {
                    Ok(job) => job,
                    Err(flume::RecvError::Disconnected) => return,
                }
            }
            // Every handle is gone: the server is shutting down.
            Err(flume::RecvTimeoutError::Disconnected) => return,
        };
        match job {
            Job::Hash { password, reply } => {
                let started = Instant::now();
                let hashed = hash_now(params, &mut scratch, &password);
                metrics::histogram!("gatehouse_password_hash_duration_seconds").record(started.elapsed().as_secs_f64());
                let _ = reply.send(hashed);
            }
            Job::Verify { password, phc, reply } => {
                let started = Instant::now();
                let verified = verify_now(params, &mut scratch, &password, &phc);
                let spent = started.elapsed();
                metrics::histogram!("gatehouse_password_hash_duration_seconds").record(spent.as_secs_f64());
                let _ = reply.send((verified, spent));
            }
        }
    }
}

/// Puts the calling thread below the async runtime's threads in the scheduler's eyes.
#[cfg(target_os = "linux")]
fn lower_priority() {
    // SAFETY: gettid and setpriority take plain integers and touch no memory of ours; on
    // Linux, PRIO_PROCESS with a thread id sets that one thread's nice value.
    let rc = unsafe { libc::setpriority(libc::PRIO_PROCESS, libc::gettid() as libc::id_t, HASH_NICE) };
    if rc != 0 {
        tracing::warn!(error = %std::io::Error::last_os_error(), "cannot lower the hashing threads' priority");
    }
}

#[cfg(not(target_os = "linux"))]
fn lower_priority() {}

/// glibc serves a large allocation from an mmap of its own only while it is above a threshold
/// that it raises each time such a block is freed; the next 19 MiB block then comes from the
/// heap and its pages stay with the process when freed. Fixing the threshold at 1 MiB keeps
/// every argon2 block its own mapping, so freeing one returns it to the operating system.
fn map_large_blocks() {
    #[cfg(all(target_os = "linux", target_env = "gnu"))]
    {
        static ONCE: std::sync::Once = std::sync::Once::new();
        ONCE.call_once(|| {
            // SAFETY: mallopt only changes allocator tuning; called once, before any block.
            if unsafe { libc::mallopt(libc::M_MMAP_THRESHOLD, 1 << 20) } != 1 {
                tracing::warn!("mallopt(M_MMAP_THRESHOLD) refused; idle argon2 memory may stay resident");
            }
        });
    }
}

/// NFKC, the form every password is judged and hashed in (full-width `ｐａｓｓ` is `pass`).
pub fn normalise(password: &str) -> String {
    password.nfkc().collect()
}

/// One hashing thread's argon2 memory, allocated at its first hash and reused for every
/// later one while logins keep coming: no 19 MiB allocation (and page faults) per hash, and
/// the process holds at most threads × m KiB for hashing however many logins it serves.
struct Scratch {
    blocks: Vec<Block>,
    /// Shared by the pool's threads: the bytes they hold together.
    held: Arc<AtomicUsize>,
}

impl Scratch {
    fn new(held: Arc<AtomicUsize>) -> Self {
        Self { blocks: Vec::new(), held }
    }

    fn blocks(&mut self, count: usize) -> &mut [Block] {
        if self.blocks.len() < count {
            let before = self.bytes();
            self.blocks.resize(count, Block::default());
            self.held.fetch_add(self.bytes() - before, Ordering::Relaxed);
        }
        &mut self.blocks[..count]
    }

    /// Frees the memory (the next hash allocates it again).
    fn release(&mut self) {
        self.held.fetch_sub(self.bytes(), Ordering::Relaxed);
        self.blocks = Vec::new();
    }

    fn bytes(&self) -> usize {
        self.blocks.capacity() * std::mem::size_of::<Block>()
    }

    /// The raw argon2 output (`len` bytes) of `password`, NFKC-normalised, in this memory.
    fn derive(
        &mut self,
        algorithm: Algorithm,
        version: Version,
        params: &Params,
        password: &str,
        salt: Salt<'_>,
        len: usize,
    ) -> password_hash::Result<Output> {
        let mut salt_buf = [0u8; 64];
        let salt_bytes = salt.decode_b64(&mut salt_buf)?;
        let argon = Argon2::new(algorithm, version, params.clone());
        let blocks = self.blocks(params.block_count());
        Output::init_with(len, |out| {
            argon
                .hash_password_into_with_memory(normalise(password).as_bytes(), salt_bytes, out, &mut *blocks)
                .map_err(password_hash::Error::from)
        })
    }
}

impl Drop for Scratch {
    fn drop(&mut self) {
        self.release();
    }
}

/// argon2id of `password` (NFKC-normalised) with a fresh salt, as a PHC string.
fn hash_now(params: &Params, scratch: &mut Scratch, password: &str) -> Result<String, password_hash::Error> {
    let salt = SaltString::generate(&mut argon2::password_hash::rand_core::OsRng);
    let output = scratch.derive(
        Algorithm::Argon2id,
        Version::V0x13,
        params,
        password,
        salt.as_salt(),
        params.output_len().unwrap_or(Params::DEFAULT_OUTPUT_LEN),
    )?;
    let phc = PasswordHash {
        algorithm: Algorithm::Argon2id.ident(),
        version: Some(Version::V0x13.into()),
        params: ParamsString::try_from(params)?,
        salt: Some(salt.as_salt()),
        hash: Some(output),
    };
    Ok(phc.to_string())
}

fn verify_now(params: &Params, scratch: &mut Scratch, password: &str, phc: &str) -> Verified {
    match PasswordHash::new(phc) {
        // The stored string carries its own algorithm and parameters.
        Ok(parsed) => Verified {
            matches: recompute_matches(&parsed, scratch, password).unwrap_or_else(|e| {
                tracing::error!(error = %e, "a stored password hash cannot be checked");
                false
            }),
            outdated: is_weaker(&parsed, params),
            configured: is_configured(&parsed, params),
        },
        Err(e) => {
            tracing::error!(error = %e, "a stored password hash is malformed");
            Verified { matches: false, outdated: false, configured: false }
        }
    }
}

/// Hashes `password` again with the stored hash's algorithm, parameters and salt, and
/// compares in constant time (`Output`'s equality).
fn recompute_matches(stored: &PasswordHash<'_>, scratch: &mut Scratch, password: &str) -> password_hash::Result<bool> {
    let algorithm = Algorithm::try_from(stored.algorithm)?;
    let version = stored.version.map(Version::try_from).transpose()?.unwrap_or_default();
    let params = Params::try_from(stored)?;
    let (Some(salt), Some(expected)) = (stored.salt, stored.hash) else {
        return Err(password_hash::Error::PhcStringField);
    };
    let actual = scratch.derive(algorithm, version, &params, password, salt, expected.len())?;
    Ok(actual == expected)
}

/// True when `stored` costs less than `params` would (less memory, fewer passes or lanes), or
/// is not argon2id v1.3 at all.
fn is_weaker(stored: &PasswordHash<'_>, params: &Params) -> bool {
    if stored.algorithm != Algorithm::Argon2id.ident() || stored.version != Some(Version::V0x13.into()) {
        return true;
    }
    match Params::try_from(stored) {
        Ok(p) => p.m_cost() < params.m_cost() || p.t_cost() < params.t_cost() || p.p_cost() < params.p_cost(),
        Err(_) => true,
    }
}

fn is_configured(stored: &PasswordHash<'_>, params: &Params) -> bool {
    stored.algorithm == Algorithm::Argon2id.ident()
        && stored.version == Some(Version::V0x13.into())
        && Params::try_from(stored)
            .is_ok_and(|p| (p.m_cost(), p.t_cost(), p.p_cost()) == (params.m_cost(), params.t_cost(), params.p_cost()))
}

fn micros(d: Duration) -> u64 {
    u64::try_from(d.as_micros()).unwrap_or(u64::MAX)
}

fn random_dummy_password() -> String {
    use rand::Rng as _;
    let bytes: [u8; 16] = rand::rng().random();
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

/// Configured parameters as `argon2::Params`.
pub fn params(memory_kib: u32, iterations: u32, parallelism: u32) -> Result<Params, String> {
    Params::new(memory_kib, iterations, parallelism, None).map_err(|e| format!("invalid argon2 parameters: {e}"))
}

#[cfg(test)]
mod tests {
    use super::*;
    use argon2::{PasswordHasher as _, PasswordVerifier as _};

    /// OWASP's recommended argon2id parameters (the default configuration): 19 MiB, 2 passes.
    const OWASP_MEMORY_KIB: u32 = 19_456;

    fn owasp_params() -> Params {
        Params::new(OWASP_MEMORY_KIB, 2, 1, None).unwrap()
    }

    #[tokio::test]
    async fn hashes_agree_with_the_reference_implementation_both_ways() {
        let h = hasher();
        // Ours, checked by the argon2 crate's own verifier.
        let ours = h.hash("correct horse battery").await.unwrap();
        let parsed = PasswordHash::new(&ours).unwrap();
        assert!(Argon2::default().verify_password(b"correct horse battery", &parsed).is_ok());
        assert!(Argon2::default().verify_password(b"correct horse batterY", &parsed).is_err());
        // The crate's (how earlier versions stored them), checked by ours.
        let salt = SaltString::generate(&mut argon2::password_hash::rand_core::OsRng);
        let theirs = Argon2::new(Algorithm::Argon2id, Version::V0x13, owasp_params())
            .hash_password(b"correct horse battery", &salt)
            .unwrap()
            .to_string();
        assert_eq!(
            h.verify("correct horse battery", &theirs).await.unwrap(),
            Verified { matches: true, outdated: false, configured: true }
        );
        assert!(!h.verify("correct horse batterY", &theirs).await.unwrap().matches);
    }

    fn hasher() -> PasswordHasher {
        PasswordHasher::start(owasp_params(), 2).unwrap()
    }

    #[tokio::test]
    async fn a_hash_verifies_its_password_and_nothing_else() {
        let h = hasher();
        let phc = h.hash("correct horse battery").await.unwrap();
        assert!(phc.starts_with("$argon2id$v=19$m=19456,t=2,p=1$"), "{phc}");
        assert_eq!(
            h.verify("correct horse battery", &phc).await.unwrap(),
            Verified { matches: true, outdated: false, configured: true }
        );
        assert!(!h.verify("correct horse batterY", &phc).await.unwrap().matches);
    }

    #[tokio::test]
    async fn compatibility_forms_verify_the_same_after_nfkc() {
        let h = hasher();
        // U+FB01 (the "fi" ligature) normalises to "fi" under NFKC.
        let phc = h.hash("\u{FB01}refly-wings").await.unwrap();
        assert!(h.verify("firefly-wings", &phc).await.unwrap().matches);
    }

    #[tokio::test]
    async fn a_malformed_stored_hash_is_a_mismatch_not_a_panic() {
        let h = hasher();
        assert!(!h.verify("whatever-password", "not-a-phc-string").await.unwrap().matches);
        h.verify_dummy("whatever-password").await.unwrap();
    }

    #[tokio::test]
    async fn idle_threads_give_their_memory_back() {
        let h = PasswordHasher::start_with_idle(owasp_params(), 2, Duration::from_millis(300)).unwrap();
        assert_eq!(h.held_bytes(), 0, "no memory before the first hash");
        let phc = h.hash("correct horse battery").await.unwrap();
        let one_block = OWASP_MEMORY_KIB as usize * 1024;
        assert_eq!(h.held_bytes(), one_block, "one thread hashed");
        // Busy: both threads hold their memory, and reuse it (never more than two blocks).
        let checks = (0..6).map(|_| h.verify("correct horse battery", &phc));
        assert!(futures::future::join_all(checks).await.into_iter().all(|v| v.unwrap().matches));
        assert!(h.held_bytes() <= 2 * one_block, "{}", h.held_bytes());
        // Idle: all of it is freed, and hashing still works afterwards.
        let deadline = std::time::Instant::now() + Duration::from_secs(5);
        while h.held_bytes() > 0 && std::time::Instant::now() < deadline {
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        assert_eq!(h.held_bytes(), 0, "idle threads still hold memory");
        assert!(h.verify("correct horse battery", &phc).await.unwrap().matches);
    }

    #[cfg(target_os = "linux")]
    #[test]
    fn hashing_threads_yield_to_the_runtime() {
        // What every hashing thread does first, in a thread of its own.
        let nice = std::thread::spawn(|| {
            lower_priority();
            let stat = std::fs::read_to_string("/proc/thread-self/stat").unwrap();
            // After the parenthesised name: state is field 3 of stat(5), nice field 19.
            let fields = &stat[stat.rfind(')').unwrap() + 2..];
            fields.split(' ').nth(16).unwrap().parse::<i32>().unwrap()
        })
        .join()
        .unwrap();
        assert_eq!(nice, HASH_NICE);
    }

    #[tokio::test]
    async fn hashes_weaker_than_the_configuration_are_outdated() {
        let weak = PasswordHasher::start(params(7168, 5, 1).unwrap(), 1).unwrap();
        let phc = weak.hash("correct horse battery").await.unwrap();
        // Fewer KiB than configured: due for a rehash, though it still verifies.
        assert_eq!(
            hasher().verify("correct horse battery", &phc).await.unwrap(),
            Verified { matches: true, outdated: true, configured: false }
        );
        // argon2i is not argon2id.
        let argon2i = Argon2::new(Algorithm::Argon2i, Version::V0x13, owasp_params())
            .hash_password(
                b"correct horse battery",
                &SaltString::generate(&mut argon2::password_hash::rand_core::OsRng),
            )
            .unwrap()
            .to_string();
        assert!(hasher().verify("correct horse battery", &argon2i).await.unwrap().outdated);
    }
}
