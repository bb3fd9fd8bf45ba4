//! The database of a benchmark example: a fresh SQLite file, or a fresh database on the
//! PostgreSQL server named by `GATEHOUSE_BENCH_POSTGRES_URL` (created here and dropped by
//! [`BenchDb::finish`]), migrated. Shared by the examples through `#[path]`.

use gatehouse::db::{Db, PoolSettings};
use std::path::PathBuf;

pub struct BenchDb {
    pub db: Db,
    dir: PathBuf,
    postgres: Option<(sqlx::PgPool, String)>,
}

impl BenchDb {
    /// A fresh, migrated database; `name` tells the benchmark's files and database apart.
    pub async fn fresh(name: &str) -> Self {
        let dir = std::env::temp_dir().join(format!("gatehouse-bench-{name}-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let (url, postgres) = match std::env::var("GATEHOUSE_BENCH_POSTGRES_URL") {
            Ok(admin) => {
                let database = format!("gatehouse_bench_{name}_{}", std::process::id());
                let pool = sqlx::PgPool::connect(&admin).await.unwrap();
                sqlx::query(sqlx::AssertSqlSafe(format!("CREATE DATABASE {database}"))).execute(&pool).await.unwrap();
                let base = admin.rsplit_once('/').map_or(admin.as_str(), |(b, _)| b).to_owned();
                (format!("{base}/{database}"), Some((pool, database)))
            }
            Err(_) => (format!("sqlite://{}", dir.join("bench.db").display()), None),
        };
        let db = Db::connect(&url, PoolSettings::default()).await.unwrap();
        db.migrate().await.unwrap();
        Self { db, dir, postgres }
    }

    /// Runs one statement of the benchmark's set-up.
    pub async fn execute(&self, sql: String) {
        match &self.db {
            Db::Sqlite(pool, _) => sqlx::query(sqlx::AssertSqlSafe(sql)).execute(pool).await.map(|_| ()),
            Db::Postgres(pool) => sqlx::query(sqlx::AssertSqlSafe(sql)).execute(pool).await.map(|_| ()),
        }
        .unwrap();
    }

    /// Closes the pool and removes the database.
    pub async fn finish(self) {
        self.db.close().await;
        if let Some((pool, database)) = self.postgres {
            let sql = format!("DROP DATABASE IF EXISTS {database} WITH (FORCE)");
            let _ = sqlx::query(sqlx::AssertSqlSafe(sql)).execute(&pool).await;
        }
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}
