//! finsync's reference sync server.
//!
//! The finwave server is not public; this one implements the same contract (see
//! `docs/api.md`) on SQLite and Azure Blob Storage (Azurite locally). Layout:
//!
//! * [`config`] — flags and environment.
//! * [`db`] — SQLite schema, migrations and every query; one connection behind a mutex, so
//!   each request's writes are one serialised transaction.
//! * [`blob`] — the few Azure Blob REST calls the server makes (container, CORS, properties),
//!   authorised with account SAS from [`finsync_core::sas`].
//! * [`auth`] — API keys: generation, hashing, lookup.
//! * [`routes`] — the HTTP API and the encounter pages.
//! * [`error`] — the JSON error body every failure turns into.

pub mod auth;
pub mod blob;
pub mod config;
pub mod db;
pub mod demo;
pub mod error;
pub mod routes;

use std::sync::Arc;

pub use config::Config;

/// Everything a request handler needs.
#[derive(Clone)]
pub struct AppState {
    pub db: db::Db,
    pub blob: Arc<blob::BlobStore>,
    pub config: Arc<Config>,
}

/// Opens the database, prepares the blob container (and its CORS rules), and builds the app.
pub async fn build(config: Config) -> Result<(axum::Router, AppState), error::StartError> {
    let db = db::Db::open(&config.database)?;
    let blob = blob::BlobStore::new(&config)?;
    blob.ensure_container().await?;
    if config.configure_blob_cors {
        blob.set_cors(&config.allowed_origins).await?;
    }
    let state = AppState {
        db,
        blob: Arc::new(blob),
        config: Arc::new(config),
    };
    Ok((routes::router(state.clone()), state))
}

/// Serves `router` on `listener` until `shutdown` resolves.
pub async fn serve(
    listener: tokio::net::TcpListener,
    router: axum::Router,
    shutdown: impl std::future::Future<Output = ()> + Send + 'static,
) -> std::io::Result<()> {
    axum::serve(listener, router)
        .with_graceful_shutdown(shutdown)
        .await
}

/// Seconds since the Unix epoch (the server's one clock).
pub fn now_unix() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_secs() as i64)
        .unwrap_or(0)
}
