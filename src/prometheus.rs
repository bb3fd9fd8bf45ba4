//! Prometheus metrics (`shared/spec/operations.md`), served on a listener of their own when
//! `GATEHOUSE_METRICS_ADDR` is set; the public listener has no `/metrics`. The counters are
//! recorded where things happen (the request span, the services, the hashing threads)
//! through the `metrics` facade, which costs nothing while no recorder is installed. No
//! label carries a username, an address or a token: routes are matched patterns.

use crate::db::{Db, with_pool};
use axum::{Router, extract::State, http::header, response::IntoResponse, routing::get};
use metrics_exporter_prometheus::{PrometheusBuilder, PrometheusHandle};
use std::sync::OnceLock;

/// Buckets of both duration histograms, in seconds: request latencies and argon2 times.
const BUCKETS: [f64; 14] = [0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0];

static HANDLE: OnceLock<PrometheusHandle> = OnceLock::new();

/// Installs the process's recorder (once) and returns its handle.
fn handle() -> PrometheusHandle {
    HANDLE
        .get_or_init(|| {
            let builder = PrometheusBuilder::new().set_buckets(&BUCKETS).unwrap_or_else(|_| PrometheusBuilder::new());
            let recorder = builder.build_recorder();
            let handle = recorder.handle();
            if metrics::set_global_recorder(recorder).is_err() {
                tracing::warn!("another metrics recorder is installed; /metrics stays empty");
            }
            metrics::gauge!("gatehouse_build_info", "version" => env!("CARGO_PKG_VERSION")).set(1.0);
            handle
        })
        .clone()
}

/// How often the histograms' recorded samples are folded into their buckets. Without it they
/// pile up in memory until a scrape: a server nobody scrapes would grow without end.
const UPKEEP_EVERY: std::time::Duration = std::time::Duration::from_secs(5);

/// Installs the recorder now, so that nothing counted from here on is lost. Call it before
/// serving requests: [`serve`] runs as a task of its own and may start after the first one.
pub fn install() {
    let _ = handle();
}

/// Serves `/metrics` on `listener` for as long as the process runs.
pub async fn serve(listener: tokio::net::TcpListener, db: Db) -> std::io::Result<()> {
    let upkeep = handle();
    tokio::spawn(async move {
        let mut every = tokio::time::interval(UPKEEP_EVERY);
        loop {
            every.tick().await;
            upkeep.run_upkeep();
        }
    });
    let app = Router::new().route("/metrics", get(scrape)).with_state((handle(), db));
    axum::serve(listener, app).await
}

async fn scrape(State((handle, db)): State<(PrometheusHandle, Db)>) -> impl IntoResponse {
    let (size, idle) = with_pool!(&db, pool => (pool.size(), pool.num_idle()));
    let idle = u32::try_from(idle).unwrap_or(u32::MAX).min(size);
    metrics::gauge!("gatehouse_db_pool_connections", "state" => "idle").set(f64::from(idle));
    metrics::gauge!("gatehouse_db_pool_connections", "state" => "in_use").set(f64::from(size - idle));
    handle.run_upkeep();
    ([(header::CONTENT_TYPE, "text/plain; version=0.0.4")], handle.render())
}
