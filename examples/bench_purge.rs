//! The purge of a long refresh chain: one login refreshed 200,000 times, every token expired,
//! purged while another task keeps writing the way logins do (a throttle charge, one short
//! transaction, every 5 ms). Prints `key=value` lines: the purge's time, and the longest any
//! of those writes waited. The database is a fresh SQLite file, or the PostgreSQL server named
//! by `GATEHOUSE_BENCH_POSTGRES_URL` (a database is created and dropped).

#[path = "support/bench_db.rs"]
mod bench_db;

use bench_db::BenchDb;
use gatehouse::{
    auth::{logins, throttle},
    db::now_micros,
};
use std::{
    sync::{
        Arc,
        atomic::{AtomicU64, Ordering},
    },
    time::{Duration, Instant},
};

const CHAIN: i64 = 200_000;

#[tokio::main]
async fn main() {
    let bench = BenchDb::fresh("purge").await;
    let db = bench.db.clone();
    let setup = [
        "INSERT INTO users (id, username, email, email_key, full_name, password_hash, role, disabled, created_at) \
         VALUES ('u', 'chained', NULL, NULL, NULL, 'x', 'user', FALSE, 0)"
            .to_owned(),
        "INSERT INTO logins (id, user_id, created_at) VALUES ('chain', 'u', 0)".to_owned(),
        format!(
            "WITH RECURSIVE seq(n) AS (SELECT 1 UNION ALL SELECT n + 1 FROM seq WHERE n < {CHAIN}) \
             INSERT INTO refresh_tokens (id, login_id, parent_id, token_hash, created_at, expires_at, used_at) \
             SELECT 'chain-' || n, 'chain', CASE WHEN n = 1 THEN NULL ELSE 'chain-' || (n - 1) END, \
                    'hash-' || n, 0, 1, 1 FROM seq"
        ),
    ];
    for sql in setup {
        bench.execute(sql).await;
    }

    let longest_wait_us = Arc::new(AtomicU64::new(0));
    let writes = Arc::new(AtomicU64::new(0));
    let writer = tokio::spawn({
        let (db, longest_wait_us, writes) = (db.clone(), Arc::clone(&longest_wait_us), Arc::clone(&writes));
        async move {
            let policy = throttle::Policy::login_per_address(u32::MAX);
            loop {
                let started = Instant::now();
                throttle::charge(&db, "login-address:bench", &policy).await.unwrap().unwrap();
                let waited = u64::try_from(started.elapsed().as_micros()).unwrap_or(u64::MAX);
                longest_wait_us.fetch_max(waited, Ordering::Relaxed);
                writes.fetch_add(1, Ordering::Relaxed);
                tokio::time::sleep(Duration::from_millis(5)).await;
            }
        }
    });
    let started = Instant::now();
    let (logins, tokens) = logins::purge(&db, now_micros()).await.unwrap();
    let purge = started.elapsed();
    writer.abort();
    let _ = writer.await;
    println!("backend={}", db.backend());
    println!("chain={CHAIN}");
    println!("purge_ms={}", purge.as_millis());
    println!("purged_logins={logins} purged_tokens={tokens}");
    println!("writes_during_purge={}", writes.load(Ordering::Relaxed));
    println!("longest_write_wait_ms={:.1}", longest_wait_us.load(Ordering::Relaxed) as f64 / 1000.0);
    bench.finish().await;
}
