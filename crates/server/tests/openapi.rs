//! docs/openapi.json is the current output of `finsync-server openapi`, and it describes
//! exactly the paths and methods the router serves (with `--test-mode` and `--demo`): a route
//! added without an operation, or an operation left behind, fails here.

mod common;

use std::collections::{BTreeMap, BTreeSet};

use common::Stack;
use finsync_server::routes::{openapi, route_paths};

#[test]
fn docs_openapi_json_is_current() {
    let path = concat!(env!("CARGO_MANIFEST_DIR"), "/../../docs/openapi.json");
    let stored = std::fs::read_to_string(path).unwrap_or_default();
    assert!(
        stored == openapi::document_text(),
        "docs/openapi.json is stale: run `cargo run -p finsync-server -- openapi > docs/openapi.json`"
    );
}

/// The router's path for a document path (`{fileItemId}` is `{file_item_id}` there).
fn router_path(doc_path: &str) -> String {
    doc_path.replace("{fileItemId}", "{file_item_id}")
}

#[tokio::test]
async fn the_document_lists_every_route_and_method_the_router_serves() {
    let s = Stack::start_with(|c| {
        c.test_mode = true;
        c.demo = true;
    })
    .await;
    let doc = openapi::document();
    let documented: BTreeMap<String, BTreeSet<String>> = doc["paths"]
        .as_object()
        .unwrap()
        .iter()
        .map(|(p, ops)| {
            let methods = ops
                .as_object()
                .unwrap()
                .keys()
                .map(|m| m.to_uppercase())
                .collect();
            (router_path(p), methods)
        })
        .collect();
    let mut served = BTreeMap::new();
    for path in route_paths(true, true) {
        // A method no route serves: the answer's Allow header lists the route's methods.
        let url = path
            .split('/')
            .map(|seg| if seg.starts_with('{') { "1" } else { seg })
            .collect::<Vec<_>>()
            .join("/");
        let resp = s
            .http
            .request(reqwest::Method::PATCH, s.url(&url))
            .send()
            .await
            .unwrap();
        assert_eq!(resp.status().as_u16(), 405, "PATCH {url}");
        let methods: BTreeSet<String> = resp
            .headers()
            .get("allow")
            .and_then(|v| v.to_str().ok())
            .unwrap_or_default()
            .split(',')
            .map(|m| m.trim().to_string())
            .filter(|m| !m.is_empty() && m != "HEAD")
            .collect();
        served.insert(path.to_string(), methods);
    }
    assert_eq!(
        documented, served,
        "routes/openapi.rs and the router differ: describe the new route (then regenerate docs/openapi.json)"
    );
}
