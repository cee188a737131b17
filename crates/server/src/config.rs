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
    /// Container for the thumbnail and preview variants (created if missing); default
    /// `<container>-variants`, so the upload container holds exactly the originals.
    #[arg(long, env = "FINSYNC_VARIANTS_CONTAINER")]
    pub variants_container: Option<String>,
    /// Lifetime of a sign-in session token, in seconds.
    #[arg(long, env = "FINSYNC_SESSION_TTL_SECS", default_value_t = 3600)]
    pub session_ttl_secs: i64,
    /// Failed authentications (bad key, session or password) an IP may make in a burst before
    /// it gets 429 …
    #[arg(long, env = "FINSYNC_AUTH_FAILURE_BURST", default_value_t = 20)]
    pub auth_failure_burst: u32,
    /// … and how many seconds it takes to earn one more attempt.
    #[arg(long, env = "FINSYNC_AUTH_FAILURE_REFILL_SECS", default_value_t = 3.0)]
    pub auth_failure_refill_secs: f64,
    /// Take the client IP from the last `X-Forwarded-For` entry (only behind a trusted proxy).
    #[arg(long, env = "FINSYNC_TRUST_FORWARDED_FOR", default_value_t = false, action = clap::ArgAction::Set)]
    pub trust_forwarded_for: bool,
    /// Argon2id memory cost (KiB) for new password hashes.
    #[arg(long, env = "FINSYNC_ARGON2_MEMORY_KIB", default_value_t = 19_456)]
    pub argon2_memory_kib: u32,
    /// Argon2id iterations for new password hashes.
    #[arg(long, env = "FINSYNC_ARGON2_ITERATIONS", default_value_t = 2)]
    pub argon2_iterations: u32,
    /// How long a server-side copy may stay `pending` before the item fails with `copyTimeout`.
    #[arg(long, env = "FINSYNC_COPY_TIMEOUT_SECS", default_value_t = 120)]
    pub copy_timeout_secs: u64,
    /// Copy with Put Blob From URL (synchronous) instead of Copy Blob + polling. Untested
    /// against Azurite, which does not implement it.
    #[arg(long, env = "FINSYNC_COPY_PUT_FROM_URL", default_value_t = false, action = clap::ArgAction::Set)]
    pub copy_put_from_url: bool,
    /// Largest image (bytes) the variants queue downloads and decodes; larger images keep no
    /// variants.
    #[arg(long, env = "FINSYNC_MAX_DECODE_BYTES", default_value_t = 256 * 1024 * 1024)]
    pub max_decode_bytes: u64,
    /// Background workers that make thumbnails and previews after commit (the variants queue;
    /// each decodes one image at a time). 0 leaves the queue to a later start (tests).
    #[arg(long, env = "FINSYNC_VARIANT_WORKERS", default_value_t = 1)]
    pub variant_workers: usize,
    /// The variants queue yields to uploads: it takes no job while an upload-session, commit
    /// or copy request is being answered or was answered in the last this-many milliseconds
    /// (but waits at most 30 s per job), so thumbnails do not compete with a running sync for
    /// the storage service and the CPU. 0 turns this off.
    #[arg(long, env = "FINSYNC_VARIANTS_QUIET_MS", default_value_t = 1_000)]
    pub variants_quiet_ms: u64,
    /// Longest side of the thumbnail variant, in pixels.
    #[arg(long, env = "FINSYNC_THUMBNAIL_PX", default_value_t = 256)]
    pub thumbnail_px: u32,
    /// Longest side of the preview variant, in pixels.
    #[arg(long, env = "FINSYNC_PREVIEW_PX", default_value_t = 1024)]
    pub preview_px: u32,
    /// Enable the `/api/v1/test/...` endpoints (fault injection, key-status switch). Never in
    /// production.
    #[arg(long, env = "FINSYNC_TEST_MODE", default_value_t = false)]
    pub test_mode: bool,
    /// Blob endpoint written into the upload URLs given to browsers, when they reach the
    /// storage account by another address than the server does (a proxy or CDN in front of
    /// it; the fault proxy in tests). The SAS signature does not cover the host, so it stays
    /// valid. Default: the connection string's endpoint.
    #[arg(long, env = "FINSYNC_PUBLIC_BLOB_ENDPOINT")]
    pub public_blob_endpoint: Option<String>,
    /// Origins of research groups' storage accounts the app's page may call for cloud
    /// discovery (List Blobs and Range reads with the person's own SAS), added to the page's
    /// CSP `connect-src` (comma-separated; `*.` wildcards as CSP allows). Empty: none.
    #[arg(
        long,
        env = "FINSYNC_SOURCE_BLOB_ORIGINS",
        value_delimiter = ',',
        default_value = "https://*.blob.core.windows.net"
    )]
    pub source_blob_origins: Vec<String>,
}

impl Config {
    /// The container of thumbnails and previews.
    pub fn variants_container(&self) -> String {
        self.variants_container
            .clone()
            .unwrap_or_else(|| format!("{}-variants", self.container))
    }
}
