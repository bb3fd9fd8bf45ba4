//! The benchmark's other yardstick: the time of one argon2id hash at the configured
//! parameters (`GATEHOUSE_ARGON2_*`, OWASP by default) on one thread, and how many hashes per
//! second `GATEHOUSE_HASH_CONCURRENCY` threads manage together. Prints `key=value` lines.

use argon2::{Algorithm, Argon2, Params, PasswordHasher as _, Version, password_hash::SaltString};
use std::time::Instant;

fn env(key: &str, default: u32) -> u32 {
    std::env::var(key).ok().and_then(|v| v.parse().ok()).unwrap_or(default)
}

fn hash_once(params: &Params) {
    let salt = SaltString::generate(&mut argon2::password_hash::rand_core::OsRng);
    let argon = Argon2::new(Algorithm::Argon2id, Version::V0x13, params.clone());
    argon.hash_password(b"benchmark passphrase", &salt).expect("hash");
}

fn main() {
    let params = Params::new(
        env("GATEHOUSE_ARGON2_MEMORY_KIB", 19_456),
        env("GATEHOUSE_ARGON2_ITERATIONS", 2),
        env("GATEHOUSE_ARGON2_PARALLELISM", 1),
        None,
    )
    .expect("argon2 parameters");
    let cores = std::thread::available_parallelism().map_or(2, usize::from);
    let threads = env("GATEHOUSE_HASH_CONCURRENCY", cores as u32) as usize;

    hash_once(&params);
    let mut times: Vec<f64> = (0..30)
        .map(|_| {
            let start = Instant::now();
            hash_once(&params);
            start.elapsed().as_secs_f64() * 1000.0
        })
        .collect();
    times.sort_by(f64::total_cmp);
    println!("single_hash_ms={:.2}", times[times.len() / 2]);

    let per_thread = 40;
    let start = Instant::now();
    std::thread::scope(|s| {
        for _ in 0..threads {
            s.spawn(|| (0..per_thread).for_each(|_| hash_once(&params)));
        }
    });
    let rate = (threads * per_thread) as f64 / start.elapsed().as_secs_f64();
    println!("parallel_hashes_per_s={rate:.1}");
    println!("hash_threads={threads}");
    println!("cores={cores}");
}
