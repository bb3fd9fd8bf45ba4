//! The benchmark's yardstick: a bare axum hello-world (`{"ok":true}`) on the address given as
//! the first argument. `scripts/bench` compares Gatehouse with it in the same run.

use axum::{Json, Router, routing::get};

#[tokio::main]
async fn main() {
    let addr = std::env::args().nth(1).unwrap_or_else(|| "127.0.0.1:3999".into());
    let app = Router::new().route("/", get(|| async { Json(serde_json::json!({"ok": true})) }));
    let listener = tokio::net::TcpListener::bind(&addr).await.expect("bind");
    axum::serve(listener, app).await.expect("serve");
}
