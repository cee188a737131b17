//! The Blob REST calls the page makes to a research group's storage account (issue 8): one
//! List Blobs page, and a `Range` GET of a few bytes of one blob. Nothing else is sent there
//! and no whole blob is ever downloaded; the server copies the images itself.
//!
//! The request URLs carry the connection's SAS (Azure takes no other place for it); they are
//! never logged or shown: every error names the container or blob and what to do, built by
//! [`finsync_core::blob_list::explain_status`], never the URL.

use finsync_core::blob_list::{
    cors_rule_text, explain_status, parse_error, parse_list_page, BlobOp, ListPage,
};
use finsync_core::cloud::StorageConnection;
use gloo_net::http::Request;

/// Why a call to the storage account failed; the text is for the person.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum AzureError {
    /// No answer the page may read: a missing CORS rule (most often), the account's firewall,
    /// a wrong endpoint, or no network.
    #[error("{what}: the storage account did not answer this page (a fetch TypeError: no network, a wrong blob endpoint, no CORS rule for this site, or this site's Content-Security-Policy does not list the account). {rule}")]
    Unreachable { what: String, rule: String },
    /// The storage service answered with an error status.
    #[error("{0}")]
    Refused(String),
    /// The answer was not what the Blob service sends.
    #[error("{what}: {why}")]
    BadAnswer { what: String, why: String },
    /// The connection cannot make a URL (bad connection string, empty token).
    #[error("{0}")]
    Credentials(String),
}

/// The page's origin, for the CORS rule the account needs.
pub fn page_origin() -> String {
    web_sys::window()
        .and_then(|w| w.location().origin().ok())
        .unwrap_or_else(|| "<this site's address>".into())
}

/// Now, in whole Unix seconds (what SAS times and token checks take).
pub fn now_unix() -> i64 {
    (js_sys::Date::now() / 1000.0) as i64
}

fn unreachable(what: String) -> AzureError {
    AzureError::Unreachable {
        what,
        rule: cors_rule_text(&page_origin()),
    }
}

async fn refused(op: BlobOp, target: &str, resp: gloo_net::http::Response) -> AzureError {
    let status = resp.status();
    let body = resp.text().await.unwrap_or_default();
    let (code, _message) = parse_error(&body);
    AzureError::Refused(explain_status(op, status, code.as_deref(), target))
}

/// One page of the listing of `container` (names starting with `prefix`), from `marker`, at
/// most `max_results` names.
pub async fn list_page(
    conn: &StorageConnection,
    container: &str,
    prefix: &str,
    marker: Option<&str>,
    max_results: u32,
) -> Result<ListPage, AzureError> {
    let url = conn
        .list_url(container, prefix, marker, max_results, now_unix())
        .map_err(|e| AzureError::Credentials(e.to_string()))?;
    let what = format!("Listing the container “{container}” of “{}”", conn.name);
    let resp = Request::get(&url)
        .header("x-ms-version", finsync_core::sas::SAS_VERSION)
        .send()
        .await
        .map_err(|_| unreachable(what.clone()))?;
    if !(200..300).contains(&resp.status()) {
        return Err(refused(BlobOp::List, container, resp).await);
    }
    let body = resp.text().await.map_err(|_| unreachable(what.clone()))?;
    parse_list_page(&body).map_err(|e| AzureError::BadAnswer {
        what,
        why: e.to_string(),
    })
}

/// Whether the page may reach the account at all, asked **without** credentials: the same
/// List Blobs request (same headers, so the same CORS preflight) with no SAS. Any HTTP answer
/// (the service refuses it: 403/404) means reachable. When the browser blocks the request (no
/// CORS rule, the page's CSP, no network) it logs the URL in the console — which is why this
/// request, not one carrying the SAS, finds that out.
pub async fn probe(conn: &StorageConnection, container: &str) -> Result<(), AzureError> {
    let what = format!("Listing the container “{container}” of “{}”", conn.name);
    let endpoint = conn
        .blob_endpoint()
        .map_err(|e| AzureError::Credentials(e.to_string()))?;
    let url = format!(
        "{endpoint}/{}?restype=container&comp=list&maxresults=1",
        finsync_core::sas::encode_query(container)
    );
    Request::get(&url)
        .header("x-ms-version", finsync_core::sas::SAS_VERSION)
        .send()
        .await
        .map(|_| ())
        .map_err(|_| unreachable(what))
}

/// The live check of a connection: the account is reachable ([`probe`]), then one name of
/// `container` is listed with the credentials.
pub async fn check_container(conn: &StorageConnection, container: &str) -> Result<(), AzureError> {
    probe(conn, container).await?;
    list_page(conn, container, "", None, 1).await.map(|_| ())
}

/// Bytes `[start, end)` of one blob with a `Range` GET (the service answers 206). `end` is
/// at most the blob's size as listed.
pub async fn read_range(
    conn: &StorageConnection,
    container: &str,
    blob: &str,
    start: u64,
    end: u64,
) -> Result<Vec<u8>, AzureError> {
    if end <= start {
        return Ok(Vec::new());
    }
    let url = conn
        .read_url(container, blob, now_unix())
        .map_err(|e| AzureError::Credentials(e.to_string()))?;
    let what = format!("Reading “{blob}” in “{container}”");
    let resp = Request::get(&url)
        .header("x-ms-version", finsync_core::sas::SAS_VERSION)
        .header("Range", &format!("bytes={start}-{}", end - 1))
        .send()
        .await
        .map_err(|_| unreachable(what.clone()))?;
    let status = resp.status();
    if !(200..300).contains(&status) {
        return Err(refused(BlobOp::Read, blob, resp).await);
    }
    let bytes = resp.binary().await.map_err(|_| unreachable(what.clone()))?;
    // A 200 would be the whole blob (a service ignoring Range): never keep more than asked.
    if bytes.len() as u64 != end - start {
        return Err(AzureError::BadAnswer {
            what,
            why: format!(
                "asked for {} bytes, got {} (HTTP {status}); the blob changed since the listing — scan the container again",
                end - start,
                bytes.len()
            ),
        });
    }
    Ok(bytes)
}
