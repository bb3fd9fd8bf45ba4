//! The audit page's queries on a log of 1,000,000 events (1,000 users, every event type):
//! the newest page, one user's page, one type's page, and a page far back (`before`), each
//! as the admin page asks for it (51 rows: a page and one more to know whether older ones
//! exist). Prints `key=value` lines: the median and the slowest of 50 runs of each, in
//! milliseconds. The database is a fresh SQLite file, or the PostgreSQL server named by
//! `GATEHOUSE_BENCH_POSTGRES_URL` (a database is created and dropped).

#[path = "support/bench_db.rs"]
mod bench_db;

use bench_db::BenchDb;
use gatehouse::audit::{
    EventType,
    repository::{self as audit, Filter},
};
use std::time::Instant;

const EVENTS: i64 = 1_000_000;
const USERS: i64 = 1_000;
const RUNS: usize = 50;

#[tokio::main]
async fn main() {
    let bench = BenchDb::fresh("audit").await;
    let db = bench.db.clone();

    let fill = Instant::now();
    let types: Vec<String> = EventType::ALL.iter().map(|t| format!("'{}'", t.as_str())).collect();
    let kinds = types.len();
    // Event n: about user n % USERS, of type n % kinds, one second apart.
    let sql = format!(
        "WITH RECURSIVE seq(n) AS (SELECT 1 UNION ALL SELECT n + 1 FROM seq WHERE n < {EVENTS}) \
         INSERT INTO audit_events (id, at, type, user_id, actor_id, ip, user_agent, detail) \
         SELECT 'event-' || n, 1700000000000000 + CAST(n AS BIGINT) * 1000000, \
                (ARRAY_OR_CASE), 'user-' || (n % {USERS}), 'user-' || (n % {USERS}), '127.0.0.1', \
                'Mozilla/5.0 (X11; Linux x86_64) Chrome/131.0', '{{}}' FROM seq"
    );
    let case =
        (0..kinds).fold(format!("CASE n % {kinds}"), |acc, i| format!("{acc} WHEN {i} THEN {}", types[i])) + " END";
    bench.execute(sql.replace("(ARRAY_OR_CASE)", &case)).await;
    bench.execute("ANALYZE".to_owned()).await;
    println!("events={EVENTS}");
    println!("fill_s={:.1}", fill.elapsed().as_secs_f64());

    let far_back = audit::position(&db, &format!("event-{}", EVENTS / 2)).await.unwrap();
    assert!(far_back.is_some(), "the middle event exists");
    let cases = [
        ("newest", Filter::default()),
        ("by_user", Filter { user_id: Some("user-7".into()), ..Filter::default() }),
        ("by_type", Filter { kind: Some(EventType::PasswordChanged), ..Filter::default() }),
        (
            "by_user_and_type",
            Filter { user_id: Some("user-7".into()), kind: Some(EventType::LoginFailed), ..Filter::default() },
        ),
        ("far_back", Filter { before: far_back, ..Filter::default() }),
    ];
    for (name, filter) in cases {
        let mut times = Vec::with_capacity(RUNS);
        let mut rows = 0;
        for _ in 0..RUNS {
            let start = Instant::now();
            rows = audit::list(&db, &filter, 51).await.unwrap().len();
            times.push(start.elapsed().as_secs_f64() * 1000.0);
        }
        times.sort_by(f64::total_cmp);
        println!("{name}_rows={rows}");
        println!("{name}_median_ms={:.2}", times[RUNS / 2]);
        println!("{name}_max_ms={:.2}", times[RUNS - 1]);
    }

    bench.finish().await;
}
