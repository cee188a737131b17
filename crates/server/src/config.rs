//! Server configuration: flags with environment fallbacks (`FINSYNC_*`).

use std::path::PathBuf;

use clap::Args;

/// Azurite's development connection string on its default port.
pub const AZURITE_CONNECTION_STRING: &str = "DefaultEndpointsProtocol=http;AccountName=devstoreaccount1;AccountKey=Eby8vdM02xNOcqFlqUwJPLlmEtlCDXJ1OUzFT50uSRZ6IFsuFq2UVErCz4I6tq/K1SZFPTOtr/KBHBeksoGMGw==;BlobEndpoint=http://127.0.0.1:10000/devstoreaccount1;";

#[derive(Debug, Clone, Args)]
pub struct Config {
    /// Address to listen on.
    #[arg(long, env = "FINSYNC_LISTEN", default_value = "127.0.0.1:8080")]
    pub listen: String,
    /// SQLite database file (created if missing).
    #[arg(long, env = "FINSYNC_DATABASE", default_value = ".data/server.db")]
    pub database: PathBuf,
    /// Azure Storage connection string of the account that receives uploads.
    #[arg(long, env = "FINSYNC_BLOB_CONNECTION_STRING", default_value = AZURITE_CONNECTION_STRING, hide_default_value = true)]
    pub blob_connection_string: String,
    /// Container that receives uploads (created if missing).
    #[arg(long, env = "FINSYNC_CONTAINER", default_value = "finsync")]
    pub container: String,
    /// Origins allowed to call the API and to PUT to the blob service (comma-separated).
    #[arg(
        long,
        env = "FINSYNC_ALLOWED_ORIGINS",
        value_delimiter = ',',
        default_value = "http://127.0.0.1:8080,http://localhost:8080"
    )]
    pub allowed_origins: Vec<String>,
    /// Set the blob service's CORS rules to `allowed_origins` at start. Turn off for a storage
    /// account whose CORS rules are managed elsewhere.
    #[arg(long, env = "FINSYNC_CONFIGURE_BLOB_CORS", default_value_t = true, action = clap::ArgAction::Set)]
    pub configure_blob_cors: bool,
    /// Serve the app's static bundle (trunk's dist/) from this folder at `/`.
    #[arg(long, env = "FINSYNC_STATIC_DIR")]
    pub static_dir: Option<PathBuf>,
    /// Create a demo organisation, population and API key on first start, print them, and
    /// serve them at /demo-config.json so the app pre-fills its settings. Development only.
    #[arg(long, env = "FINSYNC_DEMO", default_value_t = false)]
    pub demo: bool,
    /// URL at which browsers reach this server (used in demo config and encounter links).
    #[arg(
        long,
        env = "FINSYNC_PUBLIC_URL",
        default_value = "http://127.0.0.1:8080"
    )]
    pub public_url: String,
}
