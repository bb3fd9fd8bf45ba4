//! Password hashing: argon2id on a small fixed pool of threads, never on the async runtime.
//!
//! The pool size bounds how many hashes run at once (a flood of logins queues here instead of
//! starving every other request), and because the threads are fixed, the allocator keeps a
//! bounded number of per-thread arenas for the 19 MiB argon2 blocks.

use crate::error::AppError;
use argon2::{
    Algorithm, Argon2, Block, Params, PasswordHash, Version,
    password_hash::{self, Output, ParamsString, Salt, SaltString},
};
use std::sync::{Arc, Mutex};
use tokio::sync::{mpsc, oneshot};
use unicode_normalization::UnicodeNormalization;

/// OWASP's recommended argon2id parameters: 19 MiB, 2 passes, 1 lane.
pub const OWASP_MEMORY_KIB: u32 = 19_456;
pub const OWASP_ITERATIONS: u32 = 2;
pub const OWASP_PARALLELISM: u32 = 1;

enum Job {
    Hash { password: String, reply: oneshot::Sender<Result<String, argon2::password_hash::Error>> },
    Verify { password: String, phc: String, reply: oneshot::Sender<Verified> },
}

/// The outcome of checking a password against a stored hash.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Verified {
    pub matches: bool,
    /// The stored hash is weaker than the configured parameters (or not argon2id v1.3): a
    /// login that matched should store a fresh hash.
    pub outdated: bool,
}

/// Handle to the hashing threads. Cloning shares the same threads.
#[derive(Clone)]
pub struct PasswordHasher {
    jobs: mpsc::Sender<Job>,
    /// A real hash of a random password: unknown usernames are checked against it, so that
    /// "no such user" costs the same time as "wrong password".
    dummy_phc: Arc<str>,
}

impl PasswordHasher {
    /// Starts `workers` hashing threads using `params` for new hashes.
    pub fn start(params: Params, workers: usize) -> std::io::Result<Self> {
        let workers = workers.max(1);
        let (tx, rx) = mpsc::channel::<Job>(1024);
        let rx = Arc::new(Mutex::new(rx));
        for i in 0..workers {
            let rx = Arc::clone(&rx);
            let params = params.clone();
            std::thread::Builder::new().name(format!("argon2-{i}")).spawn(move || worker(&rx, &params))?;
        }
        let dummy_phc = hash_now(&params, &mut Scratch::default(), &random_dummy_password())
            .map_err(|e| std::io::Error::other(format!("argon2 self-test failed: {e}")))?;
        Ok(Self { jobs: tx, dummy_phc: dummy_phc.into() })
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
    pub async fn verify(&self, password: &str, phc: &str) -> Result<Verified, AppError> {
        let (reply, answer) = oneshot::channel();
        self.submit(Job::Verify { password: password.to_owned(), phc: phc.to_owned(), reply }).await?;
        answer.await.map_err(|_| pool_gone())
    }

    /// Spends the time of one verification and always fails: for unknown usernames.
    pub async fn verify_dummy(&self, password: &str) -> Result<(), AppError> {
        let phc = Arc::clone(&self.dummy_phc);
        self.verify(password, &phc).await.map(|_| ())
    }

    async fn submit(&self, job: Job) -> Result<(), AppError> {
        self.jobs.send(job).await.map_err(|_| pool_gone())
    }
}

fn pool_gone() -> AppError {
    tracing::error!("the password hashing threads have stopped");
    AppError::Internal
}

fn worker(rx: &Mutex<mpsc::Receiver<Job>>, params: &Params) {
    let mut scratch = Scratch::default();
    loop {
        // Holding the lock while waiting is fine: whoever holds it takes the next job.
        let job = match rx.lock() {
            Ok(mut guard) => guard.blocking_recv(),
            Err(_) => return,
        };
        match job {
            Some(Job::Hash { password, reply }) => {
                let _ = reply.send(hash_now(params, &mut scratch, &password));
            }
            Some(Job::Verify { password, phc, reply }) => {
                let _ = reply.send(verify_now(params, &mut scratch, &password, &phc));
            }
            None => return,
        }
    }
}

fn normalise(password: &str) -> String {
    password.nfkc().collect()
}

/// One hashing thread's argon2 memory, allocated at its first hash and reused for every
/// later one: no 19 MiB allocation (and page faults) per hash, and the process holds exactly
/// threads × m KiB for hashing however many logins it serves.
#[derive(Default)]
struct Scratch(Vec<Block>);

impl Scratch {
    fn blocks(&mut self, count: usize) -> &mut [Block] {
        if self.0.len() < count {
            self.0.resize(count, Block::default());
        }
        &mut self.0[..count]
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
        },
        Err(e) => {
            tracing::error!(error = %e, "a stored password hash is malformed");
            Verified { matches: false, outdated: false }
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

fn random_dummy_password() -> String {
    use rand::Rng as _;
    let bytes: [u8; 16] = rand::rng().random();
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

/// The OWASP parameters as `argon2::Params`.
pub fn owasp_params() -> Params {
    Params::new(OWASP_MEMORY_KIB, OWASP_ITERATIONS, OWASP_PARALLELISM, None)
        .expect("the OWASP argon2 parameters are valid")
}

/// Configured parameters as `argon2::Params`.
pub fn params(memory_kib: u32, iterations: u32, parallelism: u32) -> Result<Params, String> {
    Params::new(memory_kib, iterations, parallelism, None).map_err(|e| format!("invalid argon2 parameters: {e}"))
}

#[cfg(test)]
mod tests {
    use super::*;
    use argon2::{PasswordHasher as _, PasswordVerifier as _};

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
            Verified { matches: true, outdated: false }
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
        assert_eq!(h.verify("correct horse battery", &phc).await.unwrap(), Verified { matches: true, outdated: false });
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
    async fn hashes_weaker_than_the_configuration_are_outdated() {
        let weak = PasswordHasher::start(params(7168, 5, 1).unwrap(), 1).unwrap();
        let phc = weak.hash("correct horse battery").await.unwrap();
        // Fewer KiB than configured: due for a rehash, though it still verifies.
        assert_eq!(
            hasher().verify("correct horse battery", &phc).await.unwrap(),
            Verified { matches: true, outdated: true }
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
