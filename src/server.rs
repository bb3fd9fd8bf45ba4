//! The composition root: builds the state from the configuration and the router from the
//! state. The only module that knows every layer.

use crate::{
    api,
    app::{App, shell},
    auth::{
        keys::{KeyAlgorithm, SIGNING_KEYS, Sealer},
        password::{self, PasswordHasher},
        service::{AuthService, Policies},
        tokens::{KeySource, RELOAD_EVERY, TokenKeys, TokenSettings},
        totp::MfaKeys,
    },
    config::{Config, JwtAlgorithm, SecretSource, redact_url},
    db::{Db, PoolSettings},
    http::{
        body,
        cookie::{PrivateCookie, RefreshCookie},
        cors, owner, private, security, trace,
    },
    state::{AppState, Shared},
    users::service::UserService,
};
use axum::{Router, middleware};
use leptos::prelude::*;
use leptos_axum::{LeptosRoutes, generate_route_list};
use std::{future::Future, net::SocketAddr, path::Path, sync::Arc};

/// Connects and migrates the database, starts the hashing threads, prepares the keys and
/// creates the configured admin. Errors are one line for the operator.
pub async fn build_state(config: &Config, leptos_options: LeptosOptions) -> Result<AppState, String> {
    let settings = PoolSettings { max_connections: config.database_pool_size, ..PoolSettings::default() };
    let db = Db::connect(&config.database_url, settings)
        .await
        .map_err(|e| format!("GATEHOUSE_DATABASE_URL: cannot open {}: {e}", redact_url(&config.database_url)))?;
    db.migrate().await.map_err(|e| format!("GATEHOUSE_DATABASE_URL: migrating the database failed: {e}"))?;
    let a = config.argon2;
    let params = password::params(a.memory_kib, a.iterations, a.parallelism)
        .map_err(|e| format!("GATEHOUSE_ARGON2_MEMORY_KIB/ITERATIONS/PARALLELISM: {e}"))?;
    let hasher = PasswordHasher::start(params, config.hash_concurrency)
        .map_err(|e| format!("cannot start the password hashing threads: {e}"))?;
    let settings = TokenSettings {
        issuer: config.jwt_issuer.clone(),
        audience: config.jwt_audience.clone(),
        access_ttl_seconds: config.access_token_ttl,
    };
    let source = match config.jwt_algorithm {
        JwtAlgorithm::HS256 => KeySource::Secret(config.jwt_secret.clone()),
        JwtAlgorithm::EdDSA | JwtAlgorithm::ES256 => KeySource::Database {
            alg: if config.jwt_algorithm == JwtAlgorithm::ES256 { KeyAlgorithm::ES256 } else { KeyAlgorithm::EdDSA },
            sealer: Sealer::new(&config.master_key, SIGNING_KEYS),
            rotation_delay_seconds: config.key_rotation_delay,
        },
    };
    let keys = TokenKeys::load(&db, source, settings).await?;
    let policies = Policies {
        refresh_ttl_seconds: config.refresh_token_ttl,
        refresh_reuse_grace_seconds: config.refresh_reuse_grace,
        reset_ttl_seconds: config.password_reset_ttl,
        audit_retention_days: config.audit_retention_days,
        limits: config.limits.into(),
        auth_cache_size: config.auth_cache_size,
    };
    let mfa = MfaKeys::new(&config.master_key, &config.mfa_issuer);
    let auth = Arc::new(AuthService::new(db.clone(), hasher, keys, mfa, policies));
    auth.check_master_key().await?;
    if let Some(admin) = &config.admin {
        auth.ensure_admin(&admin.username, &admin.password).await?;
    }
    Ok(AppState::new(Shared {
        leptos_options,
        users: Arc::new(UserService::new(db.clone(), Arc::clone(&auth))),
        db,
        auth,
        refresh_cookie: RefreshCookie::new(config.https(), config.refresh_token_ttl),
        mfa_cookie: PrivateCookie::mfa(config.https(), MFA_COOKIE_SECONDS),
        public_url: config.public_url.as_deref().map(Arc::from),
        trusted_proxies: Arc::new(config.trusted_proxies.clone()),
        cors_origins: Arc::new(config.cors_origins.clone()),
        security: Arc::new(security::SecurityHeaders::new(config.https())),
    }))
}

/// How long the browser keeps a login's `mfa_token`: as long as it lives.
const MFA_COOKIE_SECONDS: u64 = 300;

/// The whole HTTP surface: the JSON API, the pages, their server functions, static files.
pub fn build_router(state: AppState) -> Router {
    let routes = generate_route_list(App);
    let context_state = state.clone();
    let options = state.leptos_options.clone();
    let api::Api { v1: mut api, well_known, document } = api::api();
    if !state.cors_origins.is_empty() {
        let routes = api::methods_by_path(&document, "/api/v1");
        let methods = cors::RouteMethods::new(routes.iter().map(|(path, methods)| (path.as_str(), methods.clone())));
        let policy = cors::Cors { origins: (*state.cors_origins).clone(), methods };
        api = api.layer(middleware::from_fn_with_state(Arc::new(policy), cors::cors));
    }
    // What Leptos serves (pages, server functions, static files) runs with no stray reactive
    // owner on its thread; the JSON API never touches one and skips that layer.
    let leptos = Router::new()
        .leptos_routes_with_context(
            &state,
            routes,
            move || provide_context(context_state.clone()),
            move || shell(options.clone()),
        )
        .fallback(leptos_axum::file_and_error_handler::<AppState, _>(shell))
        .layer(middleware::from_fn(owner::without_stray_owner));
    Router::new()
        .nest("/api/v1", api)
        .nest("/.well-known", well_known)
        .merge(api::doc::swagger_ui())
        .merge(leptos)
        .layer(middleware::from_fn(private::private_answers))
        .layer(middleware::from_fn(body::limit_body))
        .layer(middleware::from_fn_with_state(Arc::clone(&state.security), security::security_headers))
        .layer(middleware::from_fn(trace::request_span))
        .with_state(state)
}

/// Serves the application on `listener` until `shutdown` completes, then lets requests in
/// flight finish. `main` and the integration tests both start Gatehouse through here.
pub async fn serve(
    listener: tokio::net::TcpListener,
    state: AppState,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> Result<(), String> {
    let following = tokio::spawn(follow_keys(Arc::clone(&state.auth)));
    let auth = Arc::clone(&state.auth);
    let epoch = tokio::spawn(async move { auth.follow_auth_epoch().await });
    let served = axum::serve(listener, build_router(state).into_make_service_with_connect_info::<SocketAddr>())
        .with_graceful_shutdown(shutdown)
        .await
        .map_err(|e| format!("server error: {e}"));
    following.abort();
    epoch.abort();
    served
}

/// Re-reads the signing keys every few seconds: a rotation made on any instance (or by the
/// command line) is followed here within [`crate::auth::tokens::FOLLOW_WITHIN`].
async fn follow_keys(auth: Arc<AuthService>) {
    let mut ticks = tokio::time::interval(RELOAD_EVERY);
    ticks.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        ticks.tick().await;
        // A failure is logged where it happens; the keys in hand stay in force meanwhile.
        let _ = auth.reload_keys().await;
    }
}

/// Reads the site options from `Leptos.toml` when present (environment variables such as
/// `LEPTOS_SITE_ADDR` override it), else from the environment alone.
pub fn leptos_options() -> Result<LeptosOptions, String> {
    let file = Path::new("Leptos.toml").exists().then_some("Leptos.toml");
    get_configuration(file).map(|conf| conf.leptos_options).map_err(|e| format!("Leptos.toml / LEPTOS_*: {e}"))
}

/// Starts Gatehouse from the environment and serves until Ctrl-C or SIGTERM.
pub async fn run() -> Result<(), String> {
    let config = Config::from_env(Path::new("data")).map_err(|e| e.to_string())?;
    if let SecretSource::File { path, created } = &config.secret_source {
        tracing::warn!(
            path = %path.display(), created,
            "GATEHOUSE_JWT_SECRET is not set; using a secret kept in a local file. \
             Set GATEHOUSE_JWT_SECRET when running several instances or in production."
        );
    }
    if let SecretSource::File { path, created } = &config.master_key_source {
        tracing::warn!(
            path = %path.display(), created,
            "GATEHOUSE_MASTER_KEY is not set; using a master key kept in a local file. Every instance on \
             this database needs the same one: set GATEHOUSE_MASTER_KEY when running several instances."
        );
    }
    if config.jwt_algorithm == JwtAlgorithm::HS256 && config.secret_source == SecretSource::Environment {
        tracing::info!(
            "tokens are signed with HS256 because GATEHOUSE_JWT_SECRET is set: every service that verifies them \
             must hold the secret, which also lets it make tokens. GATEHOUSE_JWT_ALGORITHM=EdDSA lets services \
             verify tokens with the public keys of /.well-known/jwks.json instead."
        );
    }
    let leptos_options = leptos_options()?;
    let addr = leptos_options.site_addr;
    let state = build_state(&config, leptos_options).await?;
    tracing::info!(database = state.db.backend(), "database ready");
    let listener = tokio::net::TcpListener::bind(addr)
        .await
        .map_err(|e| format!("LEPTOS_SITE_ADDR: cannot listen on {addr}: {e}"))?;
    let local = listener.local_addr().map_err(|e| e.to_string())?;
    if !local.ip().is_loopback() && !config.https() {
        tracing::warn!(
            address = %local,
            "SERVING PLAIN HTTP ON A NON-LOOPBACK ADDRESS: passwords and tokens cross the network \
             unencrypted. Put Gatehouse behind HTTPS and set GATEHOUSE_PUBLIC_URL=https://..."
        );
        eprintln!("gatehouse: WARNING: plain HTTP on {local}; serve it over HTTPS and set GATEHOUSE_PUBLIC_URL");
    }
    tracing::info!("Gatehouse is listening on http://{local}");
    // For a person at the terminal; standard output carries only log lines (JSON, if asked).
    eprintln!("Gatehouse is running at http://{local}");
    let db = state.db.clone();
    if let Some(addr) = config.metrics_addr {
        let metrics = tokio::net::TcpListener::bind(addr)
            .await
            .map_err(|e| format!("GATEHOUSE_METRICS_ADDR: cannot listen on {addr}: {e}"))?;
        tracing::info!("metrics at http://{addr}/metrics");
        crate::prometheus::install();
        tokio::spawn(crate::prometheus::serve(metrics, db.clone()));
    }
    tokio::spawn(purge_periodically(Arc::clone(&state.auth)));
    // SIGTERM or Ctrl-C: stop accepting, let requests in flight finish (for at most
    // DRAIN_LIMIT), close the pool, exit 0.
    let signalled = Arc::new(tokio::sync::Notify::new());
    let notify = Arc::clone(&signalled);
    let graceful = serve(listener, state, async move {
        shutdown_signal().await;
        notify.notify_one();
    });
    tokio::select! {
        served = graceful => served?,
        () = async {
            signalled.notified().await;
            tokio::time::sleep(DRAIN_LIMIT).await;
        } => tracing::warn!(seconds = DRAIN_LIMIT.as_secs(), "requests still in flight after the drain limit; stopping"),
    }
    db.close().await;
    tracing::info!("stopped");
    Ok(())
}

/// How long requests in flight may take to finish after SIGTERM.
const DRAIN_LIMIT: std::time::Duration = std::time::Duration::from_secs(10);

/// How often each instance deletes expired logins, refresh tokens and throttle counters
/// (instances may overlap: the deletes are idempotent).
const PURGE_EVERY: std::time::Duration = std::time::Duration::from_secs(600);

async fn purge_periodically(auth: Arc<AuthService>) {
    let mut ticks = tokio::time::interval(PURGE_EVERY);
    loop {
        ticks.tick().await;
        if let Err(e) = auth.purge(crate::db::now_micros()).await {
            tracing::warn!(error = %e, "purging expired records failed; trying again later");
        }
    }
}

async fn shutdown_signal() {
    let ctrl_c = async {
        let _ = tokio::signal::ctrl_c().await;
    };
    let term = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut s) => {
                s.recv().await;
            }
            Err(_) => std::future::pending::<()>().await,
        }
    };
    tokio::select! {
        () = ctrl_c => {},
        () = term => {},
    }
    tracing::info!("shutting down");
}
