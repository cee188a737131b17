//! The app's static bundle (`--static-dir`, trunk's `dist/` after `scripts/postbuild.mjs`):
//! precompressed files, cache rules and the security headers that `docs/deploy.md` gives for
//! other hosts.
//!
//! * A request for a file gets its `.br` or `.gz` sibling when the client accepts that
//!   encoding (the post-build step writes them), with `Vary: Accept-Encoding`.
//! * A path whose last segment has no dot (`/`, `/sync`) is an app route and gets
//!   `index.html`; a missing file (`/old-0123456789abcdef.wasm`) is a plain 404, so nothing
//!   ever caches HTML under a script's name.
//! * File names with trunk's content hash (`name-<12–16 hex>.ext`: trunk drops leading zeros) are cached for a year;
//!   everything else (`index.html`, `sw.js`, the manifest) is revalidated on each use.
//! * Every response of the bundle carries [`security_headers`]: the Content-Security-Policy
//!   allows scripts from this origin, WebAssembly compilation, and the inline loader trunk
//!   writes into `index.html` by its SHA-256 (read from the served `index.html` at start);
//!   the app may connect only to this origin, the public URL and the blob endpoints.
//!   API responses keep their own headers.

use std::io;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use axum::body::Body;
use axum::extract::Request;
use axum::http::{header, HeaderName, HeaderValue, Method, StatusCode};
use axum::response::{IntoResponse, Response};
use base64::Engine;
use sha2::{Digest, Sha256};
use tower_http::services::fs::ServeFileSystemResponseBody;
use tower_http::services::{ServeDir, ServeFile};

use crate::Config;

/// `Cache-Control` of files whose name carries a content hash.
pub const CACHE_IMMUTABLE: &str = "public, max-age=31536000, immutable";
/// `Cache-Control` of everything else (`index.html`, `sw.js`, the manifest, icons).
pub const CACHE_REVALIDATE: &str = "no-cache";
/// Powerful features the app never uses, switched off for it and anything it could embed.
pub const PERMISSIONS_POLICY: &str =
    "accelerometer=(), camera=(), geolocation=(), gyroscope=(), magnetometer=(), microphone=(), payment=(), usb=()";

/// The bundle in a folder and the headers it is served with.
pub struct StaticBundle {
    dir: PathBuf,
    index: PathBuf,
    headers: Vec<(HeaderName, HeaderValue)>,
}

impl StaticBundle {
    /// Reads `dir/index.html` once to hash its inline scripts. A missing or unreadable
    /// `index.html` is logged; the policy then allows no inline script at all.
    pub fn new(dir: &Path, config: &Config) -> StaticBundle {
        let index = dir.join("index.html");
        let hashes = match std::fs::read_to_string(&index) {
            Ok(html) => inline_script_hashes(&html),
            Err(e) => {
                tracing::warn!(
                    "{}: {e}; the app's page is missing, its loader script cannot run",
                    index.display()
                );
                Vec::new()
            }
        };
        let csp = content_security_policy(&hashes, &connect_sources(config));
        tracing::info!("static bundle {} with CSP: {csp}", dir.display());
        let headers = security_headers(&csp)
            .into_iter()
            .filter_map(|(name, value)| {
                Some((
                    HeaderName::from_static(name),
                    HeaderValue::from_str(&value).ok()?,
                ))
            })
            .collect();
        StaticBundle {
            dir: dir.to_path_buf(),
            index,
            headers,
        }
    }

    /// The value of one of the headers every bundle response carries.
    pub fn header(&self, name: &str) -> Option<&HeaderValue> {
        self.headers
            .iter()
            .find(|(n, _)| n.as_str().eq_ignore_ascii_case(name))
            .map(|(_, v)| v)
    }

    /// Serves one request for the bundle.
    pub async fn serve(self: Arc<Self>, req: Request) -> Response {
        let path = req.uri().path().to_owned();
        let method = req.method().clone();
        let headers = req.headers().clone();
        let mut resp = to_response(
            ServeDir::new(&self.dir)
                .precompressed_br()
                .precompressed_gzip()
                .try_call(req)
                .await,
        );
        let is_index = resp.status() == StatusCode::NOT_FOUND
            && (method == Method::GET || method == Method::HEAD)
            && is_app_route(&path);
        if is_index {
            let mut index_req = Request::new(Body::empty());
            *index_req.method_mut() = method;
            *index_req.headers_mut() = headers;
            resp = to_response(
                ServeFile::new(&self.index)
                    .precompressed_br()
                    .precompressed_gzip()
                    .try_call(index_req)
                    .await,
            );
        }
        self.decorate(&path, is_index, &mut resp);
        resp
    }

    fn decorate(&self, path: &str, is_index: bool, resp: &mut Response) {
        let ok = resp.status().is_success() || resp.status() == StatusCode::NOT_MODIFIED;
        let h = resp.headers_mut();
        for (name, value) in &self.headers {
            h.insert(name.clone(), value.clone());
        }
        h.append(header::VARY, HeaderValue::from_static("accept-encoding"));
        let cache = if ok && !is_index && is_hashed(path) {
            CACHE_IMMUTABLE
        } else {
            CACHE_REVALIDATE
        };
        h.insert(header::CACHE_CONTROL, HeaderValue::from_static(cache));
    }
}

fn to_response(
    r: Result<axum::http::Response<ServeFileSystemResponseBody>, io::Error>,
) -> Response {
    match r {
        Ok(resp) => resp.map(Body::new),
        Err(e) => {
            tracing::error!("serving the static bundle: {e}");
            StatusCode::INTERNAL_SERVER_ERROR.into_response()
        }
    }
}

/// `/`, `/sync`, `/finsync/`: paths whose last segment has no dot are the app's pages.
fn is_app_route(path: &str) -> bool {
    !path.rsplit('/').next().unwrap_or_default().contains('.')
}

/// trunk's hashed names: `finsync-0123456789abcdef.js`, `…_bg.wasm`, `main-….css`.
pub fn is_hashed(path: &str) -> bool {
    let name = path.rsplit('/').next().unwrap_or_default();
    let stem = name.split('.').next().unwrap_or_default();
    let stem = stem.strip_suffix("_bg").unwrap_or(stem);
    // Trunk writes its 64-bit hash as hex without leading zeros: 16 digits, sometimes fewer
    // (1 build in 16 has 15). 12–16 covers all but 1 in 65,536 (served `no-cache` then: only
    // less caching), and never matches our own short suffixes such as `icon-192`.
    stem.rsplit_once('-').is_some_and(|(_, h)| {
        (12..=16).contains(&h.len())
            && h.bytes()
                .all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b))
    })
}

/// `'sha256-…'` sources for every inline `<script>` (one without `src`) of an HTML page,
/// hashed over its exact text as browsers do.
pub fn inline_script_hashes(html: &str) -> Vec<String> {
    let lower = html.to_ascii_lowercase();
    let mut out = Vec::new();
    let mut at = 0;
    while let Some(start) = lower[at..].find("<script").map(|i| at + i) {
        let Some(tag_end) = lower[start..].find('>').map(|i| start + i) else {
            break;
        };
        let Some(close) = lower[tag_end..].find("</script").map(|i| tag_end + i) else {
            break;
        };
        let tag = &lower[start..tag_end];
        let external = tag
            .split(|c: char| c.is_ascii_whitespace())
            .any(|attr| attr.starts_with("src="));
        if !external {
            let body = &html[tag_end + 1..close];
            let digest = Sha256::digest(body.as_bytes());
            out.push(format!(
                "'sha256-{}'",
                base64::engine::general_purpose::STANDARD.encode(digest)
            ));
        }
        at = close;
    }
    out
}

/// `scheme://host[:port]` of a URL, lower-cased; `None` for anything else.
pub fn origin_of(url: &str) -> Option<String> {
    let (scheme, rest) = url.trim().split_once("://")?;
    let host = rest.split(['/', '?', '#']).next()?;
    let scheme_ok = scheme.eq_ignore_ascii_case("http") || scheme.eq_ignore_ascii_case("https");
    if !scheme_ok || host.is_empty() || host.contains(['@', ' ', '\'', ';', ',']) {
        return None;
    }
    Some(format!("{scheme}://{host}").to_ascii_lowercase())
}

/// Where the app may connect besides its own origin: the server's public URL, the blob
/// endpoint(s) browsers upload to (the connection string's, and `public_blob_endpoint`), and
/// the storage accounts cloud discovery lists (`source_blob_origins`).
pub fn connect_sources(config: &Config) -> Vec<String> {
    let blob = finsync_core::sas::Account::from_connection_string(&config.blob_connection_string)
        .map(|a| a.blob_endpoint)
        .ok();
    let mut out: Vec<String> = Vec::new();
    let candidates = [
        Some(config.public_url.as_str()),
        blob.as_deref(),
        config.public_blob_endpoint.as_deref(),
    ];
    let sources = config.source_blob_origins.iter().map(String::as_str);
    for origin in candidates
        .into_iter()
        .flatten()
        .chain(sources)
        .filter_map(origin_of)
    {
        if !out.contains(&origin) {
            out.push(origin);
        }
    }
    out
}

/// The policy for the app's page. `connect` is added to `connect-src` (after `'self'`); the
/// first entry, the server, may also serve images (encounter thumbnails).
pub fn content_security_policy(script_hashes: &[String], connect: &[String]) -> String {
    let join = |items: &[String]| items.iter().map(|s| format!(" {s}")).collect::<String>();
    let images = connect.first().map(|s| format!(" {s}")).unwrap_or_default();
    format!(
        "default-src 'self'; script-src 'self' 'wasm-unsafe-eval'{}; style-src 'self'; \
         img-src 'self' blob: data:{images}; connect-src 'self'{}; worker-src 'self'; \
         manifest-src 'self'; object-src 'none'; base-uri 'self'; form-action 'self'; \
         frame-ancestors 'none'",
        join(script_hashes),
        join(connect),
    )
}

/// Every header the bundle is served with, `csp` included.
pub fn security_headers(csp: &str) -> Vec<(&'static str, String)> {
    vec![
        ("content-security-policy", csp.to_string()),
        ("x-content-type-options", "nosniff".into()),
        ("referrer-policy", "no-referrer".into()),
        ("x-frame-options", "DENY".into()),
        ("permissions-policy", PERMISSIONS_POLICY.into()),
        ("cross-origin-opener-policy", "same-origin".into()),
    ]
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hashes_only_inline_scripts_over_their_exact_text() {
        let html = "<html><head><script type=\"module\">\nimport init from '/a.js';\n</script>\
                    <SCRIPT src=\"/b.js\"></SCRIPT><script>x()</script></head></html>";
        let hashes = inline_script_hashes(html);
        assert_eq!(hashes.len(), 2);
        let expected = base64::engine::general_purpose::STANDARD
            .encode(Sha256::digest(b"\nimport init from '/a.js';\n"));
        assert_eq!(hashes[0], format!("'sha256-{expected}'"));
        // `echo -n 'x()' | openssl sha256 -binary | base64`
        assert_eq!(
            hashes[1],
            "'sha256-".to_string()
                + &base64::engine::general_purpose::STANDARD.encode(Sha256::digest(b"x()"))
                + "'"
        );
    }

    #[test]
    fn origins_and_hashed_names() {
        assert_eq!(
            origin_of("http://127.0.0.1:10000/devstoreaccount1").as_deref(),
            Some("http://127.0.0.1:10000")
        );
        assert_eq!(
            origin_of("https://Acme.blob.core.windows.net").as_deref(),
            Some("https://acme.blob.core.windows.net")
        );
        assert_eq!(origin_of("javascript:alert(1)"), None);
        assert_eq!(origin_of("https://a'; script-src *"), None);
        assert!(is_hashed("/finsync-5ac0b785cafa295d_bg.wasm"));
        assert!(is_hashed("/finsync/main-2883a8b40dd9f10d.css"));
        // A hash whose top digit was zero (seen in CI).
        assert!(is_hashed("/finsync-32604d27f8ea710_bg.wasm"));
        assert!(!is_hashed("/icon-192.png"));
        assert!(!is_hashed("/sw.js"));
        assert!(!is_hashed("/index.html"));
        assert!(!is_hashed("/icon-192.png"));
        assert!(is_app_route("/"));
        assert!(is_app_route("/finsync/"));
        assert!(!is_app_route("/favicon.ico"));
    }

    #[test]
    fn policy_names_the_hashes_and_hosts() {
        let csp = content_security_policy(
            &["'sha256-abc='".into()],
            &[
                "https://sync.example.org".into(),
                "https://a.blob.core.windows.net".into(),
            ],
        );
        assert!(csp.contains("script-src 'self' 'wasm-unsafe-eval' 'sha256-abc=';"));
        assert!(csp.contains(
            "connect-src 'self' https://sync.example.org https://a.blob.core.windows.net;"
        ));
        assert!(csp.contains("img-src 'self' blob: data: https://sync.example.org;"));
        assert!(csp.ends_with("frame-ancestors 'none'"));
        assert!(!csp.contains("unsafe-inline"));
    }
}
