//! finsync's reference sync server.
//!
//! The finwave server is not public; this one implements the same contract (see
//! `docs/api.md`) on SQLite and Azure Blob Storage (Azurite locally). Layout:
//!
//! * [`config`] — flags and environment.
//! * [`db`] — SQLite schema, migrations and shared queries; one connection behind a mutex, so
//!   each request's writes are one serialised transaction.
//! * [`blob`] — the Azure Blob REST calls (containers, CORS, properties, download, put,
//!   delete, copy), authorised with account SAS from [`finsync_core::sas`].
//! * [`auth`] — API keys, sign-in sessions, password hashing.
//! * [`accounts`] — users, organisation memberships, population roles.
//! * [`ingest`] — commit and server-side copy: blob verification, file items, jobs.
//! * [`variants`] — the cheap image check of commit, and the persisted background queue that
//!   decodes images and encodes thumbnails and previews.
//! * [`ratelimit`] — 429 for addresses that keep failing authentication.
//! * [`faults`], [`net`] — test-mode fault injection (shared with `finsync-fault-proxy`).
//! * [`routes`] — the HTTP API and the encounter pages.
//! * [`error`] — the JSON error body every failure turns into.

pub mod accounts;
pub mod auth;
pub mod blob;
pub mod config;
pub mod db;
pub mod demo;
pub mod error;
pub mod faults;
pub mod ingest;
pub mod net;
pub mod ratelimit;
pub mod routes;
pub mod variants;

use std::sync::Arc;

pub use config::Config;

/// Everything a request handler needs.
#[derive(Clone)]
pub struct AppState {
    pub db: db::Db,
    pub blob: Arc<blob::BlobStore>,
    pub config: Arc<Config>,
    pub limiter: Arc<ratelimit::AuthLimiter>,
    pub faults: Arc<faults::Faults>,
    /// Serialises commits (and copies) of one upload session across requests.
    pub session_locks: Arc<ingest::SessionLocks>,
    /// Bounds concurrent image decodes (CPU and memory).
    pub decode_permits: Arc<tokio::sync::Semaphore>,
    /// Wakes the variant workers.
    pub variants: Arc<variants::Queue>,
}

/// Opens the database, prepares the blob containers (and CORS rules), and builds the app.
pub async fn build(config: Config) -> Result<(axum::Router, AppState), error::StartError> {
    let db = db::Db::open(&config.database)?;
    let blob = blob::BlobStore::new(&config)?;
    blob.ensure_container().await?;
    if config.configure_blob_cors {
        blob.set_cors(&config.allowed_origins).await?;
    }
    let decoders = std::thread::available_parallelism()
        .map(|n| n.get())
        .unwrap_or(2)
        .clamp(1, 4);
    let state = AppState {
        db,
        blob: Arc::new(blob),
        limiter: Arc::new(ratelimit::AuthLimiter::new(
            config.auth_failure_burst,
            config.auth_failure_refill_secs,
        )),
        config: Arc::new(config),
        faults: Arc::new(faults::Faults::default()),
        session_locks: Arc::new(ingest::SessionLocks::default()),
        decode_permits: Arc::new(tokio::sync::Semaphore::new(decoders)),
        variants: Arc::new(variants::Queue::default()),
    };
    variants::start(&state)
        .await
        .map_err(|e| error::StartError::Queue(e.to_string()))?;
    Ok((routes::router(state.clone()), state))
}

/// Serves `router` on `listener` until `shutdown` resolves (with client addresses for rate
/// limiting and resettable connections for fault injection).
pub async fn serve(
    listener: tokio::net::TcpListener,
    router: axum::Router,
    shutdown: impl std::future::Future<Output = ()> + Send + 'static,
) -> std::io::Result<()> {
    net::serve(listener, router, shutdown).await
}

/// Seconds since the Unix epoch (the server's one clock).
pub fn now_unix() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_secs() as i64)
        .unwrap_or(0)
}
