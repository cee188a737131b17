//! The Azure Blob REST calls the server makes, authorised with account SAS signed by
//! [`finsync_core::sas`]: create the containers, set the service's CORS rules, read blob
//! properties, download (hashing as it streams), put, delete and copy blobs, and mint
//! write-only upload URLs and read-only URLs. Works unchanged against Azurite and Azure.
//!
//! No method here touches the database: callers read in one transaction, do blob I/O, and
//! write in another, so the database mutex is never held across a network call.

use finsync_core::sas::{self, Account, Resource, SasError};
use reqwest::StatusCode;

use crate::config::Config;

#[derive(Debug, thiserror::Error)]
pub enum BlobError {
    #[error("invalid storage connection string: {0}")]
    Config(#[from] SasError),
    #[error("cannot reach blob storage at {endpoint}: {source}")]
    Unreachable {
        endpoint: String,
        source: reqwest::Error,
    },
    #[error("blob storage answered {status} to {operation}: {body}")]
    Status {
        operation: &'static str,
        status: StatusCode,
        body: String,
    },
}

pub struct BlobStore {
    account: Account,
    /// Endpoint for upload URLs given to clients (`--public-blob-endpoint`).
    public_endpoint: Option<String>,
    container: String,
    variants: String,
    http: reqwest::Client,
    /// Requests sent to the storage service since start ([`BlobStore::calls`]).
    calls: std::sync::atomic::AtomicU64,
}

/// What a HEAD of a blob tells.
#[derive(Debug, Clone, Default)]
pub struct BlobProps {
    pub size: u64,
    /// Base64 `Content-MD5`, when the service has one.
    pub content_md5: Option<String>,
    /// `x-ms-copy-status` of the last copy into this blob (`pending`, `success`, `failed`, `aborted`).
    pub copy_status: Option<String>,
    pub copy_status_description: Option<String>,
}

/// The first bytes of a blob (or snapshot) with the whole blob's properties, from one ranged
/// Get Blob ([`BlobStore::read_head`]).
#[derive(Debug, Clone, Default)]
pub struct Head {
    pub props: BlobProps,
    pub bytes: Vec<u8>,
}

/// A downloaded blob: its MD5 and, when it was not larger than the caller's limit, its bytes.
pub struct Downloaded {
    pub size: u64,
    pub md5: [u8; 16],
    pub bytes: Option<Vec<u8>>,
}

/// How the service answered the start of a copy.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum CopyStart {
    /// The copy finished (Put Blob From URL, or a Copy Blob that completed synchronously).
    Done,
    /// Copy Blob accepted; poll the destination's `x-ms-copy-status`.
    Pending,
    /// A 4xx: the service refused (e.g. `CannotVerifyCopySource`); never retried as is.
    Refused {
        status: u16,
        code: String,
        message: String,
    },
}

/// How Acquire Lease answered.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LeaseAcquire {
    /// The server holds the lease (newly, or again: acquiring with the lease ID already held
    /// succeeds).
    Held,
    /// No such blob.
    Missing,
    /// Someone else holds a lease on it (409 `LeaseAlreadyPresent`).
    HeldByOther,
}

/// The `<Message>` of an Azure Storage XML error body (or the body's start).
pub fn azure_message(body: &str) -> String {
    let inner = body
        .split_once("<Message>")
        .and_then(|(_, rest)| rest.split_once("</Message>"))
        .map(|(m, _)| m.to_string())
        .unwrap_or_else(|| body.chars().take(300).collect());
    redact_sigs(inner.lines().next().unwrap_or_default().trim())
}

/// Replaces every `sig=...` value in a text with `REDACTED`, so that a message echoing a SAS
/// URL can be logged or returned.
pub fn redact_sigs(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    let mut rest = text;
    while let Some(i) = rest.to_ascii_lowercase().find("sig=") {
        out.push_str(&rest[..i + 4]);
        out.push_str("REDACTED");
        let after = &rest[i + 4..];
        let end = after
            .find(|c: char| c == '&' || c == '"' || c == '<' || c == '\'' || c.is_whitespace())
            .unwrap_or(after.len());
        rest = &after[end..];
    }
    out.push_str(rest);
    out
}

/// How long the server's own account SAS lives (minted per call).
const SERVER_SAS_SECS: i64 = 15 * 60;

impl BlobStore {
    pub fn new(config: &Config) -> Result<Self, BlobError> {
        let account = Account::from_connection_string(&config.blob_connection_string)?;
        let http = reqwest::Client::builder()
            .timeout(std::time::Duration::from_secs(60))
            .build()
            .map_err(|e| BlobError::Unreachable {
                endpoint: account.blob_endpoint.clone(),
                source: e,
            })?;
        Ok(BlobStore {
            public_endpoint: config
                .public_blob_endpoint
                .as_ref()
                .map(|e| e.trim_end_matches('/').to_string()),
            account,
            container: config.container.clone(),
            variants: config.variants_container(),
            http,
            calls: Default::default(),
        })
    }

    /// The upload container (originals).
    pub fn container(&self) -> &str {
        &self.container
    }

    /// The container of thumbnails and previews.
    pub fn variants_container(&self) -> &str {
        &self.variants
    }

    pub fn account(&self) -> &Account {
        &self.account
    }

    /// How many requests this store has sent to the storage service (tests and the load
    /// bench count the calls a commit makes).
    pub fn calls(&self) -> u64 {
        self.calls.load(std::sync::atomic::Ordering::Relaxed)
    }

    fn server_sas(&self, resource_types: &str) -> String {
        let expiry = sas::iso8601_utc(crate::now_unix() + SERVER_SAS_SECS);
        self.account.account_sas("rwdlac", resource_types, &expiry)
    }

    async fn send(
        &self,
        operation: &'static str,
        req: reqwest::RequestBuilder,
    ) -> Result<reqwest::Response, BlobError> {
        self.calls
            .fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        req.header("x-ms-version", sas::SAS_VERSION)
            .send()
            .await
            .map_err(|e| BlobError::Unreachable {
                endpoint: self.account.blob_endpoint.clone(),
                source: e.without_url(),
            })
            .inspect(|r| tracing::debug!(operation, status = %r.status(), "blob call"))
    }

    async fn fail(operation: &'static str, resp: reqwest::Response) -> BlobError {
        let status = resp.status();
        let body = resp.text().await.unwrap_or_default();
        BlobError::Status {
            operation,
            status,
            body: redact_sigs(&body.chars().take(500).collect::<String>()),
        }
    }

    /// Creates the upload and variants containers if they do not exist.
    pub async fn ensure_container(&self) -> Result<(), BlobError> {
        for container in [&self.container, &self.variants] {
            let url = format!(
                "{}?restype=container&{}",
                self.account.url(container, Resource::Container),
                self.server_sas("c")
            );
            let resp = self.send("create container", self.http.put(url)).await?;
            match resp.status() {
                s if s.is_success() || s == StatusCode::CONFLICT => {}
                _ => return Err(Self::fail("create container", resp).await),
            }
        }
        Ok(())
    }

    fn blob_url(&self, container: &str, blob: &str) -> String {
        self.blob_url_at(container, blob, None)
    }

    /// The URL of a blob, or of one of its snapshots.
    fn blob_url_at(&self, container: &str, blob: &str, snapshot: Option<&str>) -> String {
        let snapshot = snapshot
            .map(|t| format!("snapshot={}&", sas::encode_query(t)))
            .unwrap_or_default();
        format!(
            "{}?{snapshot}{}",
            self.account.url(container, Resource::Blob(blob)),
            self.server_sas("o")
        )
    }

    /// The ID of the lease the server holds on a committed blob ([`Account::lease_id`]).
    pub fn lease_id(&self, container: &str, blob: &str) -> String {
        self.account.lease_id(container, blob)
    }

    /// A `PUT ?comp=<comp>` with no body (lease and snapshot calls).
    fn put_comp(&self, container: &str, blob: &str, comp: &str) -> reqwest::RequestBuilder {
        let url = format!(
            "{}?comp={comp}&{}",
            self.account.url(container, Resource::Blob(blob)),
            self.server_sas("o")
        );
        self.http
            .put(url)
            .header(reqwest::header::CONTENT_LENGTH, "0")
    }

    /// Acquires an infinite lease with ID `lease_id` (Lease Blob, `acquire`, duration -1).
    /// While it is held, every write of the blob without the ID fails at the storage service
    /// (412 `LeaseIdMissing`), whatever SAS the writer holds.
    pub async fn acquire_lease(
        &self,
        container: &str,
        blob: &str,
        lease_id: &str,
    ) -> Result<LeaseAcquire, BlobError> {
        let resp = self
            .send(
                "acquire blob lease",
                self.put_comp(container, blob, "lease")
                    .header("x-ms-lease-action", "acquire")
                    .header("x-ms-lease-duration", "-1")
                    .header("x-ms-proposed-lease-id", lease_id),
            )
            .await?;
        match resp.status() {
            s if s.is_success() => Ok(LeaseAcquire::Held),
            StatusCode::NOT_FOUND => Ok(LeaseAcquire::Missing),
            StatusCode::CONFLICT => Ok(LeaseAcquire::HeldByOther),
            _ => Err(Self::fail("acquire blob lease", resp).await),
        }
    }

    /// Releases the lease `lease_id`; a blob that is gone, not leased or leased by someone else
    /// is not an error (there is nothing of ours to release).
    pub async fn release_lease(
        &self,
        container: &str,
        blob: &str,
        lease_id: &str,
    ) -> Result<(), BlobError> {
        self.end_lease(
            "release blob lease",
            self.put_comp(container, blob, "lease")
                .header("x-ms-lease-action", "release")
                .header("x-ms-lease-id", lease_id),
        )
        .await
    }

    /// Breaks whatever lease a blob has, at once (break period 0). No lease, or no blob, is
    /// not an error.
    pub async fn break_lease(&self, container: &str, blob: &str) -> Result<(), BlobError> {
        self.end_lease(
            "break blob lease",
            self.put_comp(container, blob, "lease")
                .header("x-ms-lease-action", "break")
                .header("x-ms-lease-break-period", "0"),
        )
        .await
    }

    /// Sends a release or break of a lease: no blob (404) or no lease of ours to end (409) is
    /// not an error.
    async fn end_lease(
        &self,
        operation: &'static str,
        request: reqwest::RequestBuilder,
    ) -> Result<(), BlobError> {
        let resp = self.send(operation, request).await?;
        match resp.status() {
            s if s.is_success() || s == StatusCode::NOT_FOUND || s == StatusCode::CONFLICT => {
                Ok(())
            }
            _ => Err(Self::fail(operation, resp).await),
        }
    }

    /// Takes a snapshot of a blob (read-only forever; only a delete with the `d` permission
    /// removes it) and returns its `x-ms-snapshot` time, or `None` if the blob does not exist.
    pub async fn snapshot(&self, container: &str, blob: &str) -> Result<Option<String>, BlobError> {
        let resp = self
            .send("snapshot blob", self.put_comp(container, blob, "snapshot"))
            .await?;
        match resp.status() {
            StatusCode::NOT_FOUND => Ok(None),
            s if s.is_success() => match resp
                .headers()
                .get("x-ms-snapshot")
                .and_then(|v| v.to_str().ok())
            {
                Some(t) => Ok(Some(t.to_string())),
                None => Err(BlobError::Status {
                    operation: "snapshot blob",
                    status: s,
                    body: "the answer has no x-ms-snapshot header".into(),
                }),
            },
            _ => Err(Self::fail("snapshot blob", resp).await),
        }
    }

    /// Deletes one snapshot of a blob; a missing one is not an error.
    pub async fn delete_snapshot(
        &self,
        container: &str,
        blob: &str,
        snapshot: &str,
    ) -> Result<(), BlobError> {
        let resp = self
            .send(
                "delete blob snapshot",
                self.http
                    .delete(self.blob_url_at(container, blob, Some(snapshot))),
            )
            .await?;
        match resp.status() {
            s if s.is_success() || s == StatusCode::NOT_FOUND => Ok(()),
            _ => Err(Self::fail("delete blob snapshot", resp).await),
        }
    }

    /// A blob's properties, or `None` if it does not exist.
    pub async fn props(&self, container: &str, blob: &str) -> Result<Option<BlobProps>, BlobError> {
        self.props_at(container, blob, None).await
    }

    /// The properties of a blob or of one of its snapshots; `None` if it does not exist.
    pub async fn props_at(
        &self,
        container: &str,
        blob: &str,
        snapshot: Option<&str>,
    ) -> Result<Option<BlobProps>, BlobError> {
        let resp = self
            .send(
                "read blob properties",
                self.http.head(self.blob_url_at(container, blob, snapshot)),
            )
            .await?;
        match resp.status() {
            StatusCode::NOT_FOUND => Ok(None),
            s if s.is_success() => {
                let h = resp.headers();
                let text = |name: &str| {
                    h.get(name)
                        .and_then(|v| v.to_str().ok())
                        .map(str::to_string)
                };
                Ok(Some(BlobProps {
                    size: text("content-length")
                        .and_then(|v| v.parse().ok())
                        .unwrap_or(0),
                    content_md5: text("content-md5").filter(|v| !v.is_empty()),
                    copy_status: text("x-ms-copy-status"),
                    copy_status_description: text("x-ms-copy-status-description")
                        .map(|d| redact_sigs(&d)),
                }))
            }
            _ => Err(Self::fail("read blob properties", resp).await),
        }
    }

    /// Downloads a blob (or one of its snapshots), hashing it with MD5 as it streams; keeps the
    /// bytes only when the blob is at most `keep_up_to` bytes. `None` if it does not exist.
    pub async fn download(
        &self,
        container: &str,
        blob: &str,
        snapshot: Option<&str>,
        keep_up_to: u64,
    ) -> Result<Option<Downloaded>, BlobError> {
        use md5::{Digest, Md5};
        let mut resp = self
            .send(
                "download blob",
                self.http.get(self.blob_url_at(container, blob, snapshot)),
            )
            .await?;
        match resp.status() {
            StatusCode::NOT_FOUND => return Ok(None),
            s if s.is_success() => {}
            _ => return Err(Self::fail("download blob", resp).await),
        }
        let declared = resp.content_length().unwrap_or(0);
        let keep = declared <= keep_up_to;
        let mut bytes = Vec::with_capacity(if keep { declared as usize } else { 0 });
        let mut hasher = Md5::new();
        let mut size = 0u64;
        loop {
            let chunk = resp.chunk().await.map_err(|e| BlobError::Unreachable {
                endpoint: self.account.blob_endpoint.clone(),
                source: e.without_url(),
            })?;
            let Some(chunk) = chunk else { break };
            size += chunk.len() as u64;
            hasher.update(&chunk);
            if keep && size <= keep_up_to {
                bytes.extend_from_slice(&chunk);
            }
        }
        Ok(Some(Downloaded {
            size,
            md5: hasher.finalize().into(),
            bytes: (keep && size <= keep_up_to).then_some(bytes),
        }))
    }

    /// Reads the first `n` bytes of a blob or snapshot (fewer if it is shorter) together with
    /// the *whole* blob's properties, in one ranged Get Blob: its size from `Content-Range`
    /// (`bytes 0-x/<size>`), its stored MD5 from `x-ms-blob-content-md5` (a ranged answer's
    /// `Content-MD5`, if any, is the range's), and `x-ms-copy-status`. Saves the HEAD a
    /// commit made before. An empty blob answers 416 (no range fits it): size 0. `None` if it
    /// does not exist.
    pub async fn read_head(
        &self,
        container: &str,
        blob: &str,
        snapshot: Option<&str>,
        n: u64,
    ) -> Result<Option<Head>, BlobError> {
        let resp = self
            .send(
                "read blob header",
                self.http
                    .get(self.blob_url_at(container, blob, snapshot))
                    .header("x-ms-range", format!("bytes=0-{}", n.max(1) - 1)),
            )
            .await?;
        let status = resp.status();
        let h = resp.headers();
        let text = |name: &str| {
            h.get(name)
                .and_then(|v| v.to_str().ok())
                .map(str::to_string)
                .filter(|v| !v.is_empty())
        };
        let mut props = BlobProps {
            size: 0,
            content_md5: None,
            copy_status: text("x-ms-copy-status"),
            copy_status_description: text("x-ms-copy-status-description").map(|d| redact_sigs(&d)),
        };
        match status {
            StatusCode::NOT_FOUND => return Ok(None),
            StatusCode::RANGE_NOT_SATISFIABLE => {
                return Ok(Some(Head {
                    props,
                    bytes: Vec::new(),
                }))
            }
            StatusCode::PARTIAL_CONTENT => {
                let total = text("content-range")
                    .and_then(|r| r.rsplit_once('/').and_then(|(_, t)| t.trim().parse().ok()));
                let Some(total) = total else {
                    return Err(BlobError::Status {
                        operation: "read blob header",
                        status,
                        body: "the ranged answer has no Content-Range with the blob's size".into(),
                    });
                };
                props.size = total;
                props.content_md5 = text("x-ms-blob-content-md5");
            }
            s if s.is_success() => {
                // The whole blob (a service that ignored the range).
                props.size = resp.content_length().unwrap_or(0);
                props.content_md5 = text("content-md5");
            }
            _ => return Err(Self::fail("read blob header", resp).await),
        }
        let bytes = resp.bytes().await.map_err(|e| BlobError::Unreachable {
            endpoint: self.account.blob_endpoint.clone(),
            source: e.without_url(),
        })?;
        let mut bytes = bytes.to_vec();
        bytes.truncate(n as usize);
        Ok(Some(Head { props, bytes }))
    }

    /// Reads a (small) blob whole: its bytes and content type. `None` if it does not exist.
    pub async fn read(
        &self,
        container: &str,
        blob: &str,
    ) -> Result<Option<(Vec<u8>, String)>, BlobError> {
        let resp = self
            .send("read blob", self.http.get(self.blob_url(container, blob)))
            .await?;
        match resp.status() {
            StatusCode::NOT_FOUND => Ok(None),
            s if s.is_success() => {
                let ct = resp
                    .headers()
                    .get(reqwest::header::CONTENT_TYPE)
                    .and_then(|v| v.to_str().ok())
                    .unwrap_or("application/octet-stream")
                    .to_string();
                let bytes = resp.bytes().await.map_err(|e| BlobError::Unreachable {
                    endpoint: self.account.blob_endpoint.clone(),
                    source: e.without_url(),
                })?;
                Ok(Some((bytes.to_vec(), ct)))
            }
            _ => Err(Self::fail("read blob", resp).await),
        }
    }

    /// Uploads a block blob in one request.
    pub async fn put(
        &self,
        container: &str,
        blob: &str,
        bytes: Vec<u8>,
        content_type: &str,
    ) -> Result<(), BlobError> {
        let resp = self
            .send(
                "put blob",
                self.http
                    .put(self.blob_url(container, blob))
                    .header("x-ms-blob-type", "BlockBlob")
                    .header("x-ms-blob-content-type", content_type)
                    .body(bytes),
            )
            .await?;
        if resp.status().is_success() {
            Ok(())
        } else {
            Err(Self::fail("put blob", resp).await)
        }
    }

    /// Deletes a blob; a missing blob is not an error.
    pub async fn delete(&self, container: &str, blob: &str) -> Result<(), BlobError> {
        let resp = self
            .send(
                "delete blob",
                self.http.delete(self.blob_url(container, blob)),
            )
            .await?;
        match resp.status() {
            s if s.is_success() || s == StatusCode::NOT_FOUND => Ok(()),
            _ => Err(Self::fail("delete blob", resp).await),
        }
    }

    /// A read-only SAS URL for one blob, valid until `expiry_unix`.
    pub fn read_url(&self, container: &str, blob: &str, expiry_unix: i64) -> String {
        let query = self.account.service_sas(
            container,
            Resource::Blob(blob),
            "r",
            None,
            &sas::iso8601_utc(expiry_unix),
        );
        format!(
            "{}?{query}",
            self.account.url(container, Resource::Blob(blob))
        )
    }

    /// Starts a copy of `source_url` into `dest`: Copy Blob (`x-ms-copy-source`, may be
    /// asynchronous) or, with `put_from_url`, Put Blob From URL (synchronous).
    pub async fn start_copy(
        &self,
        container: &str,
        dest: &str,
        source_url: &str,
        put_from_url: bool,
    ) -> Result<CopyStart, BlobError> {
        let mut req = self
            .http
            .put(self.blob_url(container, dest))
            .header("x-ms-copy-source", source_url);
        if put_from_url {
            req = req
                .header("x-ms-blob-type", "BlockBlob")
                .header(reqwest::header::CONTENT_LENGTH, "0");
        }
        let resp = self.send("copy blob", req).await?;
        let status = resp.status();
        if status.is_success() {
            let copy_status = resp
                .headers()
                .get("x-ms-copy-status")
                .and_then(|v| v.to_str().ok())
                .unwrap_or("success")
                .to_string();
            return Ok(if put_from_url || copy_status == "success" {
                CopyStart::Done
            } else {
                CopyStart::Pending
            });
        }
        if status.is_client_error() {
            let code = resp
                .headers()
                .get("x-ms-error-code")
                .and_then(|v| v.to_str().ok())
                .unwrap_or("")
                .to_string();
            let body = resp.text().await.unwrap_or_default();
            return Ok(CopyStart::Refused {
                status: status.as_u16(),
                code,
                message: azure_message(&body),
            });
        }
        Err(Self::fail("copy blob", resp).await)
    }

    /// Replaces the blob service's CORS rules so browsers at `origins` can PUT, GET and HEAD.
    pub async fn set_cors(&self, origins: &[String]) -> Result<(), BlobError> {
        let origins = if origins.is_empty() {
            "*".to_string()
        } else {
            origins.join(",")
        };
        let body = format!(
            "<?xml version=\"1.0\" encoding=\"utf-8\"?><StorageServiceProperties><Cors><CorsRule>\
             <AllowedOrigins>{origins}</AllowedOrigins><AllowedMethods>GET,PUT,HEAD,OPTIONS</AllowedMethods>\
             <MaxAgeInSeconds>3600</MaxAgeInSeconds><ExposedHeaders>*</ExposedHeaders>\
             <AllowedHeaders>*</AllowedHeaders></CorsRule></Cors></StorageServiceProperties>"
        );
        let url = format!(
            "{}/?restype=service&comp=properties&{}",
            self.account.blob_endpoint,
            self.server_sas("s")
        );
        let resp = self
            .send(
                "set CORS rules",
                self.http
                    .put(url)
                    .header("content-type", "application/xml")
                    .body(body),
            )
            .await?;
        if resp.status().is_success() {
            Ok(())
        } else {
            Err(Self::fail("set CORS rules", resp).await)
        }
    }

    /// The size of a blob in the upload container, or `None` if it does not exist.
    pub async fn blob_size(&self, blob: &str) -> Result<Option<u64>, BlobError> {
        Ok(self.props(&self.container, blob).await?.map(|p| p.size))
    }

    /// A write-only (create + write) SAS URL for one blob, valid until `expiry_unix`.
    pub fn upload_url(&self, blob: &str, expiry_unix: i64) -> String {
        let query = self.account.service_sas(
            &self.container,
            Resource::Blob(blob),
            "cw",
            None,
            &sas::iso8601_utc(expiry_unix),
        );
        let url = self.account.url(&self.container, Resource::Blob(blob));
        let url = match &self.public_endpoint {
            Some(public) => url.replacen(&self.account.blob_endpoint, public, 1),
            None => url,
        };
        format!("{url}?{query}")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Put Blob From URL (`--copy-put-from-url`) does not exist in Azurite, so the request the
    /// server sends is checked against a stand-in blob endpoint that records it and answers
    /// from a script; `tests/azure.rs` runs it against a real account.
    mod put_from_url {
        use std::sync::{Arc, Mutex};

        use axum::http::{HeaderMap, Method, StatusCode, Uri};
        use clap::Parser;

        use super::super::{BlobStore, CopyStart};
        use crate::config::Config;

        #[derive(Parser)]
        struct Cli {
            #[command(flatten)]
            config: Config,
        }

        /// One recorded request: method, path and query, headers.
        type Seen = (Method, Uri, HeaderMap);

        /// A blob endpoint that records every request and answers `status` with `headers`
        /// and `body`.
        async fn storage(
            status: StatusCode,
            headers: &'static [(&'static str, &'static str)],
            body: &'static str,
        ) -> (BlobStore, Arc<Mutex<Vec<Seen>>>) {
            let seen = Arc::new(Mutex::new(Vec::new()));
            let log = seen.clone();
            let app =
                axum::Router::new().fallback(move |method: Method, uri: Uri, h: HeaderMap| {
                    log.lock().unwrap().push((method, uri, h));
                    let mut out = HeaderMap::new();
                    for (k, v) in headers {
                        out.insert(*k, v.parse().unwrap());
                    }
                    async move { (status, out, body) }
                });
            let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
            let port = listener.local_addr().unwrap().port();
            tokio::spawn(async move { axum::serve(listener, app).await });
            let conn = format!(
                "DefaultEndpointsProtocol=http;AccountName=acct;AccountKey={};BlobEndpoint=http://127.0.0.1:{port}/acct",
                "Eby8vdM02xNOcqFlqUwJPLlmEtlCDXJ1OUzFT50uSRZ6IFsuFq2UVErCz4I6tq/K1SZFPTOtr/KBHBeksoGMGw=="
            );
            let cli = Cli::parse_from(["finsync-server", "--blob-connection-string", &conn]);
            (BlobStore::new(&cli.config).unwrap(), seen)
        }

        const SOURCE: &str =
            "https://research.blob.core.windows.net/photos/2024/a.jpg?sv=2022-11-02&sr=b&sp=r&se=2030-01-01T00%3A00%3A00Z&sig=SOURCESECRET%3D";

        /// Captures everything the server logs (every level) while `f` runs.
        async fn logged<F: std::future::Future>(f: F) -> (F::Output, String) {
            #[derive(Clone, Default)]
            struct Buf(Arc<Mutex<Vec<u8>>>);
            impl std::io::Write for Buf {
                fn write(&mut self, b: &[u8]) -> std::io::Result<usize> {
                    self.0.lock().unwrap().extend_from_slice(b);
                    Ok(b.len())
                }
                fn flush(&mut self) -> std::io::Result<()> {
                    Ok(())
                }
            }
            let buf = Buf::default();
            let writer = buf.clone();
            let subscriber = tracing_subscriber::fmt()
                .with_max_level(tracing::Level::TRACE)
                .with_writer(move || writer.clone())
                .finish();
            // The test runtime is single-threaded: the default covers every poll of `f`.
            let _guard = tracing::subscriber::set_default(subscriber);
            let out = f.await;
            let text = String::from_utf8_lossy(&buf.0.lock().unwrap()).into_owned();
            (out, text)
        }

        #[tokio::test]
        async fn the_switch_sends_put_blob_from_url() {
            let (store, seen) = storage(StatusCode::CREATED, &[], "").await;
            let (start, log) =
                logged(store.start_copy("uploads", "encounters/1/k/a.jpg", SOURCE, true)).await;
            assert_eq!(start.unwrap(), CopyStart::Done);
            let seen = seen.lock().unwrap();
            assert_eq!(seen.len(), 1, "one request");
            let (method, uri, h) = &seen[0];
            assert_eq!(method, Method::PUT);
            assert_eq!(uri.path(), "/acct/uploads/encounters/1/k/a.jpg");
            let query = uri.query().unwrap_or_default();
            assert!(
                !query.contains("comp="),
                "Put Blob, not another operation: {query}"
            );
            let header = |n: &str| h.get(n).and_then(|v| v.to_str().ok()).unwrap_or_default();
            assert_eq!(header("x-ms-blob-type"), "BlockBlob");
            assert_eq!(header("x-ms-copy-source"), SOURCE);
            assert_eq!(header("content-length"), "0");
            assert_eq!(header("x-ms-version"), finsync_core::sas::SAS_VERSION);
            assert!(log.contains("copy blob"), "the call is logged: {log}");
            assert!(
                !log.contains("SOURCESECRET") && !log.contains("sig="),
                "{log}"
            );
        }

        #[tokio::test]
        async fn without_the_switch_it_is_copy_blob() {
            let (store, seen) =
                storage(StatusCode::ACCEPTED, &[("x-ms-copy-status", "pending")], "").await;
            let start = store.start_copy("uploads", "a.jpg", SOURCE, false).await;
            assert_eq!(start.unwrap(), CopyStart::Pending);
            let seen = seen.lock().unwrap();
            let (method, _, h) = &seen[0];
            assert_eq!(method, Method::PUT);
            assert!(
                h.get("x-ms-blob-type").is_none(),
                "Copy Blob has no blob type"
            );
            assert_eq!(h.get("x-ms-copy-source").unwrap(), SOURCE);
        }

        #[tokio::test]
        async fn a_refusal_is_an_item_error_without_the_source_signature() {
            let (store, _) = storage(
                StatusCode::FORBIDDEN,
                &[("x-ms-error-code", "CannotVerifyCopySource")],
                "<?xml version=\"1.0\"?><Error><Code>CannotVerifyCopySource</Code><Message>Server failed to authenticate the request for https://research.blob.core.windows.net/photos/2024/a.jpg?sv=2022-11-02&amp;sig=SOURCESECRET%3D\nRequestId:1</Message></Error>",
            )
            .await;
            let (start, log) = logged(store.start_copy("uploads", "a.jpg", SOURCE, true)).await;
            match start.unwrap() {
                CopyStart::Refused {
                    status,
                    code,
                    message,
                } => {
                    assert_eq!((status, code.as_str()), (403, "CannotVerifyCopySource"));
                    assert!(
                        message.starts_with("Server failed to authenticate"),
                        "{message}"
                    );
                    assert!(!message.contains("SOURCESECRET"), "{message}");
                }
                other => panic!("{other:?}"),
            }
            assert!(!log.contains("SOURCESECRET"), "{log}");
        }
    }

    #[test]
    fn signatures_are_redacted_from_messages() {
        assert_eq!(
            redact_sigs("copy of http://h/c/b?sv=1&sig=abc%2B&se=x failed"),
            "copy of http://h/c/b?sv=1&sig=REDACTED&se=x failed"
        );
        assert_eq!(redact_sigs("SIG=x y"), "SIG=REDACTED y");
        assert_eq!(redact_sigs("nothing"), "nothing");
        assert_eq!(
            azure_message(
                "<?xml?><Error><Code>X</Code><Message>Bad thing.\nRequestId:1</Message></Error>"
            ),
            "Bad thing."
        );
    }
}
