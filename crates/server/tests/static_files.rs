//! The app's static bundle as the reference server serves it (`--static-dir`): security
//! headers with the hash of the inline loader, precompressed bodies, cache rules, app routes
//! and plain 404s, and API responses left without the page's headers.

mod common;

use base64::Engine;
use common::Stack;
use sha2::{Digest, Sha256};

const LOADER: &str = "\nimport init from '/app-0123456789abcdef.js';\nawait init();\n";
const JS: &[u8] = b"export default function init() {}\n";

/// A small dist/ as trunk + scripts/postbuild.mjs leave it. The `.br` and `.gz` siblings hold
/// marker bytes: the server must pass them through untouched, not decode or re-encode them.
fn bundle() -> tempfile::TempDir {
    let dir = tempfile::tempdir().expect("temp dir");
    let index = format!(
        "<!doctype html><html><head><script type=\"module\">{LOADER}</script>\
         <link rel=\"manifest\" href=\"manifest.webmanifest\"></head><body></body></html>"
    );
    let files: [(&str, &[u8]); 8] = [
        ("index.html", index.as_bytes()),
        ("index.html.br", b"BROTLI-INDEX"),
        ("index.html.gz", b"GZIP-INDEX"),
        ("app-0123456789abcdef.js", JS),
        ("app-0123456789abcdef.js.br", b"BROTLI-JS"),
        ("app-0123456789abcdef.js.gz", b"GZIP-JS"),
        ("sw.js", b"// service worker\n"),
        ("manifest.webmanifest", b"{\"name\":\"finsync\"}"),
    ];
    for (name, bytes) in files {
        std::fs::write(dir.path().join(name), bytes).expect("write bundle file");
    }
    dir
}

async fn start(dir: &tempfile::TempDir, public_blob_endpoint: Option<&str>) -> Stack {
    let path = dir.path().to_path_buf();
    let blob = public_blob_endpoint.map(str::to_string);
    Stack::start_with(move |c| {
        c.static_dir = Some(path);
        c.public_url = "https://sync.example.org".into();
        c.public_blob_endpoint = blob;
    })
    .await
}

async fn get(stack: &Stack, path: &str, encoding: Option<&str>) -> reqwest::Response {
    let mut req = stack.http.get(stack.url(path));
    if let Some(e) = encoding {
        req = req.header("accept-encoding", e);
    }
    req.send().await.expect("request")
}

fn header(resp: &reqwest::Response, name: &str) -> String {
    resp.headers()
        .get(name)
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default()
        .to_string()
}

fn assert_security_headers(resp: &reqwest::Response) {
    let csp = header(resp, "content-security-policy");
    let hash = base64::engine::general_purpose::STANDARD.encode(Sha256::digest(LOADER));
    assert!(
        csp.contains(&format!(
            "script-src 'self' 'wasm-unsafe-eval' 'sha256-{hash}';"
        )),
        "{csp}"
    );
    assert!(csp.contains("frame-ancestors 'none'"), "{csp}");
    assert!(csp.contains("object-src 'none'"), "{csp}");
    assert!(!csp.contains("unsafe-inline"), "{csp}");
    assert_eq!(header(resp, "x-content-type-options"), "nosniff");
    assert_eq!(header(resp, "referrer-policy"), "no-referrer");
    assert_eq!(header(resp, "x-frame-options"), "DENY");
    assert!(header(resp, "permissions-policy").contains("camera=()"));
}

#[tokio::test]
async fn the_page_carries_the_policy_and_comes_precompressed() {
    let dir = bundle();
    let stack = start(&dir, Some("https://cdn.example.net/account/")).await;

    let resp = get(&stack, "/", Some("br, gzip")).await;
    assert_eq!(resp.status(), 200);
    assert_security_headers(&resp);
    let csp = header(&resp, "content-security-policy");
    // This origin, the public URL, the connection string's blob endpoint (Azurite here),
    // the public blob endpoint and the storage accounts cloud discovery may list (default:
    // Azure's blob hosts): nothing else.
    let azurite = stack
        .azurite
        .endpoint
        .split("/devstoreaccount1")
        .next()
        .unwrap_or_default();
    assert!(
        csp.contains(&format!(
            "connect-src 'self' https://sync.example.org {azurite} https://cdn.example.net https://*.blob.core.windows.net;"
        )),
        "{csp}"
    );
    assert_eq!(header(&resp, "content-encoding"), "br");
    assert!(header(&resp, "content-type").starts_with("text/html"));
    assert_eq!(header(&resp, "cache-control"), "no-cache");
    assert!(header(&resp, "vary").contains("accept-encoding"));
    assert_eq!(resp.bytes().await.expect("body").as_ref(), b"BROTLI-INDEX");

    // gzip only → the .gz sibling; a hashed name → cached for a year.
    let resp = get(&stack, "/app-0123456789abcdef.js", Some("gzip")).await;
    assert_eq!(resp.status(), 200);
    assert_security_headers(&resp);
    assert_eq!(header(&resp, "content-encoding"), "gzip");
    assert!(header(&resp, "content-type").contains("javascript"));
    assert_eq!(
        header(&resp, "cache-control"),
        "public, max-age=31536000, immutable"
    );
    assert_eq!(resp.bytes().await.expect("body").as_ref(), b"GZIP-JS");

    // No accepted encoding → the file itself.
    let resp = get(&stack, "/app-0123456789abcdef.js", None).await;
    assert_eq!(header(&resp, "content-encoding"), "");
    assert_eq!(resp.bytes().await.expect("body").as_ref(), JS);

    // Unhashed files are revalidated (sw.js must be, or a deploy would go unnoticed).
    let resp = get(&stack, "/sw.js", Some("br")).await;
    assert_eq!(resp.status(), 200);
    assert_eq!(header(&resp, "cache-control"), "no-cache");
    let resp = get(&stack, "/manifest.webmanifest", None).await;
    assert_eq!(header(&resp, "content-type"), "application/manifest+json");
}

#[tokio::test]
async fn app_routes_get_the_page_and_missing_files_a_plain_404() {
    let dir = bundle();
    let stack = start(&dir, None).await;

    let resp = get(&stack, "/some/page", None).await;
    assert_eq!(resp.status(), 200);
    assert_security_headers(&resp);
    assert!(resp.text().await.expect("body").contains(LOADER));

    // An old hashed name (a previous deploy) must not come back as HTML with 200, or a
    // cache could keep the page under a script's name.
    let resp = get(&stack, "/app-fedcba9876543210.js", Some("gzip")).await;
    assert_eq!(resp.status(), 404);
    assert_eq!(header(&resp, "cache-control"), "no-cache");
    assert_security_headers(&resp);

    // Without a public blob endpoint, connect-src has the public URL and the blob endpoint.
    let resp = get(&stack, "/", None).await;
    let csp = header(&resp, "content-security-policy");
    assert!(
        csp.contains("connect-src 'self' https://sync.example.org http://127.0.0.1:"),
        "{csp}"
    );

    // The API keeps its own headers.
    let resp = get(&stack, "/api/v1/status", None).await;
    assert_eq!(resp.status(), 200);
    assert_eq!(header(&resp, "content-security-policy"), "");
    assert!(header(&resp, "content-type").starts_with("application/json"));
}
