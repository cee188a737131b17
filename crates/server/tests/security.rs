//! Security checks as tests (issue 10), against the real server and Azurite:
//!
//! * every route of the router is classified here (a new route fails the test until it is),
//!   and every key route refuses a missing, unknown, revoked or session credential (401), a
//!   denied key (403 `accessDenied`), and another population's key on this population's
//!   things (403 `notInPopulation`, the same answer as for a thing that does not exist at all —
//!   documented: a key never learns what another population has — or an answer about its own
//!   population only), without changing anything;
//! * no API key, session token, password, account key or SAS signature reaches the audit log,
//!   the server's log or an error message;
//! * the upload SAS URLs the server hands out are write-only for one blob, and expire;
//! * CORS answers only the configured origin; oversized bodies get `413`, readable by the app.

mod common;

use std::collections::{BTreeMap, BTreeSet};
use std::io::Write;
use std::sync::{Mutex, Once};
use std::time::Duration;

use common::{jpeg, md5_b64, put_blob, Stack, ORIGIN, RESEARCH_KEY};
use finsync_core::api::{OrganisationRole, PopulationRole};
use finsync_core::fingerprint::{idempotency_key, Fingerprint};
use finsync_core::sas::{iso8601_utc, Resource, AZURITE_KEY};
use finsync_server::routes::route_paths;
use reqwest::Method;
use serde_json::{json, Value};

const PW: &str = "correct horse battery staple";
const EVIL: &str = "http://evil.example";

// ---------------------------------------------------------------------------------------
// The server's log, captured for the whole test binary.

static LOG: Mutex<Vec<u8>> = Mutex::new(Vec::new());

struct LogWriter;

impl Write for LogWriter {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        if let Ok(mut l) = LOG.lock() {
            l.extend_from_slice(buf);
        }
        Ok(buf.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

/// Routes the server's tracing output (everything of finsync and tower-http, debug and up —
/// more than a deployment logs) into [`LOG`].
fn capture_logs() {
    static ONCE: Once = Once::new();
    ONCE.call_once(|| {
        let _ = tracing_subscriber::fmt()
            .with_env_filter("finsync_server=debug,tower_http=debug")
            .with_ansi(false)
            .with_writer(|| LogWriter)
            .try_init();
    });
}

fn log_text() -> String {
    String::from_utf8_lossy(&LOG.lock().map(|l| l.clone()).unwrap_or_default()).into_owned()
}

// ---------------------------------------------------------------------------------------
// The route table.

/// The credential a route takes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Auth {
    /// None: public pages.
    Public,
    /// Optional key; answers about it (`status`).
    KeyOptional,
    /// Email and password in the body.
    SignIn,
    /// An API key of a population.
    Key,
    /// A session token.
    Session,
    /// A key or a session token (`populations`).
    KeyOrSession,
    /// Test-mode helpers (`--test-mode` only; not in a deployment).
    TestMode,
}

/// Every route the router serves, with its credential and whether its POST takes a JSON body.
/// `route_table_covers_every_route` fails when the router gains a route missing here.
const ROUTES: &[(&str, Auth, bool)] = &[
    ("/api/v1/status", Auth::KeyOptional, false),
    ("/api/v1/auth/sign-in", Auth::SignIn, true),
    ("/api/v1/auth/sign-out", Auth::Session, false),
    ("/api/v1/auth/me", Auth::Session, false),
    ("/api/v1/keys/provision", Auth::Session, true),
    ("/api/v1/keys", Auth::Session, false),
    ("/api/v1/keys/{id}/revoke", Auth::Session, false),
    ("/api/v1/users", Auth::Key, true),
    ("/api/v1/populations", Auth::KeyOrSession, false),
    ("/api/v1/encounters/find-or-create", Auth::Key, true),
    ("/api/v1/encounters/{id}", Auth::Key, false),
    ("/api/v1/individuals/ensure", Auth::Key, true),
    ("/api/v1/upload-sessions", Auth::Key, true),
    ("/api/v1/upload-sessions/commit", Auth::Key, true),
    ("/api/v1/upload-sessions/copy", Auth::Key, true),
    ("/api/v1/jobs", Auth::Key, false),
    ("/api/v1/audit", Auth::Key, false),
    ("/api/v1/test/faults", Auth::TestMode, true),
    ("/api/v1/test/key-status", Auth::TestMode, true),
    ("/encounters/{id}", Auth::Public, false),
    (
        "/encounters/{id}/images/{file_item_id}/{variant}",
        Auth::Public,
        false,
    ),
    ("/demo-config.json", Auth::Public, false),
];

fn auth_of(path: &str) -> Auth {
    ROUTES
        .iter()
        .find(|r| r.0 == path)
        .map(|r| r.1)
        .unwrap_or_else(|| panic!("route {path} is not in tests/security.rs's ROUTES: classify it"))
}

fn key_for(n: u8) -> String {
    idempotency_key(
        1,
        "2024-07-15\u{1f}haro\u{1f}jane",
        &Fingerprint::new(n as u64, &[n], &[n]),
    )
}

/// Population A's things that the requests below point at.
struct Target {
    population: i64,
    encounter: i64,
    key_id: i64,
    file_item: i64,
    idempotency_key: String,
}

/// A request on `path` by `method` that names A's things; `None` when the route has no such
/// method's request to make here.
fn request_for(path: &str, method: &Method, t: &Target) -> (String, Option<Value>) {
    let enc = t.encounter;
    let url = path
        .replace("{id}", &enc.to_string())
        .replace("{file_item_id}", &t.file_item.to_string())
        .replace("{variant}", "thumbnail");
    let body = |v: Value| Some(v);
    match (path, method.as_str()) {
        ("/api/v1/users", "GET") => ("/api/v1/users?query=".into(), None),
        ("/api/v1/users", "POST") => (
            url,
            body(json!({"firstName": "Eve", "lastName": "Intruder"})),
        ),
        ("/api/v1/encounters/find-or-create", _) => (
            url,
            body(json!({"date": "2024-07-15", "locationName": "Haro", "photographer": "Jane"})),
        ),
        ("/api/v1/individuals/ensure", _) => (url, body(json!({"ids": ["T049A"]}))),
        ("/api/v1/upload-sessions", _) => (
            url,
            body(
                json!({"encounterId": enc, "items": [{"idempotencyKey": key_for(9),
                "fileName": "intruder.jpg", "size": 10, "contentType": "image/jpeg"}]}),
            ),
        ),
        ("/api/v1/upload-sessions/commit", _) => {
            (url, body(json!({"idempotencyKeys": [t.idempotency_key]})))
        }
        ("/api/v1/upload-sessions/copy", _) => (
            url,
            body(json!({"items": [{"idempotencyKey": t.idempotency_key,
                "sourceUrl": "http://127.0.0.1:9/acct/c/x.jpg?sv=1"}]})),
        ),
        ("/api/v1/jobs", _) => (format!("/api/v1/jobs?encounterId={enc}"), None),
        ("/api/v1/keys", _) => (format!("/api/v1/keys?populationId={}", t.population), None),
        ("/api/v1/keys/{id}/revoke", _) => (format!("/api/v1/keys/{}/revoke", t.key_id), None),
        ("/api/v1/keys/provision", _) => (url, body(json!({"populationId": t.population}))),
        ("/api/v1/auth/sign-in", _) => {
            (url, body(json!({"email": "a@example.org", "password": PW})))
        }
        ("/api/v1/test/key-status", _) => (url, body(json!({"status": "ready"}))),
        ("/api/v1/test/faults", "POST") => (
            url,
            body(json!({"routes": [], "rate": 0, "kinds": [], "seed": 0})),
        ),
        (_, "POST") => (url, body(json!({}))),
        _ => (url, None),
    }
}

async fn send(
    s: &Stack,
    method: &Method,
    url: &str,
    body: &Option<Value>,
    credential: Option<&str>,
    origin: Option<&str>,
) -> reqwest::Response {
    let mut req = s.http.request(method.clone(), s.url(url));
    if let Some(b) = body {
        req = req.json(b);
    }
    if let Some(c) = credential {
        req = req.bearer_auth(c);
    }
    if let Some(o) = origin {
        req = req.header("Origin", o);
    }
    req.send().await.expect("request")
}

async fn call(
    s: &Stack,
    method: &Method,
    url: &str,
    body: &Option<Value>,
    credential: Option<&str>,
) -> (u16, Value) {
    let resp = send(s, method, url, body, credential, None).await;
    let status = resp.status().as_u16();
    (status, resp.json().await.unwrap_or(Value::Null))
}

/// The methods a route serves, from the `Allow` header of a `405` to a method none serves.
async fn methods_of(s: &Stack, path: &str, t: &Target) -> Vec<Method> {
    let (url, _) = request_for(path, &Method::GET, t);
    let resp = s
        .http
        .request(Method::PATCH, s.url(&url))
        .send()
        .await
        .expect("PATCH");
    assert_eq!(resp.status().as_u16(), 405, "PATCH {url}");
    let allow = resp
        .headers()
        .get("allow")
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default()
        .to_string();
    let methods: Vec<Method> = allow
        .split(',')
        .map(str::trim)
        .filter(|m| !m.is_empty() && *m != "HEAD")
        .filter_map(|m| m.parse().ok())
        .collect();
    assert!(!methods.is_empty(), "{path}: no Allow header on 405");
    methods
}

/// What population A has, so a test can see nothing changed.
fn snapshot(s: &Stack, pop: i64) -> BTreeMap<&'static str, i64> {
    let mut out = BTreeMap::new();
    for (name, sql) in [
        ("encounters", "SELECT COUNT(*) FROM encounters WHERE population_id = ?1"),
        ("sessions", "SELECT COUNT(*) FROM upload_sessions WHERE population_id = ?1"),
        (
            "sessionStates",
            "SELECT COALESCE(SUM(updated_at), 0) FROM upload_sessions WHERE population_id = ?1",
        ),
        (
            "fileItems",
            "SELECT COUNT(*) FROM file_items f JOIN encounters e ON e.id = f.encounter_id WHERE e.population_id = ?1",
        ),
        ("individuals", "SELECT COUNT(*) FROM individuals WHERE population_id = ?1"),
        ("audit", "SELECT COUNT(*) FROM audit_log WHERE population_id = ?1"),
        (
            "revokedKeys",
            "SELECT COUNT(*) FROM api_keys WHERE population_id = ?1 AND (revoked_at IS NOT NULL OR denied)",
        ),
    ] {
        let n = s
            .db
            .tx_blocking(move |tx| Ok(tx.query_row(sql, [pop], |r| r.get::<_, i64>(0))?))
            .expect("snapshot");
        out.insert(name, n);
    }
    out
}

/// Population A with an encounter, a committed image (a file item) and one pending session.
async fn population_a(s: &Stack) -> (i64, String, Target) {
    let (pop, key) = s.population("A", true);
    let (st, enc) = s
        .post(
            &key,
            "/api/v1/encounters/find-or-create",
            json!({"date": "2024-07-15", "locationName": "Haro", "photographer": "Jane",
                "license": "privateOrganisation"}),
        )
        .await;
    assert_eq!(st, 200, "{enc}");
    let enc = enc["id"].as_i64().expect("id");
    let img = jpeg(64, 48, 3);
    let (st, body) = s
        .post(
            &key,
            "/api/v1/upload-sessions",
            json!({"encounterId": enc, "items": [
                {"idempotencyKey": key_for(1), "fileName": "a.jpg", "size": img.len(),
                 "contentType": "image/jpeg", "contentMd5": md5_b64(&img)},
                {"idempotencyKey": key_for(2), "fileName": "b.jpg", "size": 10,
                 "contentType": "image/jpeg"}]}),
        )
        .await;
    assert_eq!(st, 200, "{body}");
    let url = body["sessions"][0]["uploadUrl"].as_str().expect("url");
    assert_eq!(put_blob(&s.http, url, img).await, 201);
    let (_, res) = s
        .post(
            &key,
            "/api/v1/upload-sessions/commit",
            json!({"idempotencyKeys": [key_for(1)]}),
        )
        .await;
    assert_eq!(res["results"][0]["status"], "complete", "{res}");
    let file_item = res["results"][0]["fileItemId"].as_i64().expect("file item");
    let key_id =
        s.db.tx_blocking(move |tx| {
            Ok(tx.query_row(
                "SELECT id FROM api_keys WHERE population_id = ?1",
                [pop],
                |r| r.get::<_, i64>(0),
            )?)
        })
        .expect("key id");
    (
        pop,
        key,
        Target {
            population: pop,
            encounter: enc,
            key_id,
            file_item,
            idempotency_key: key_for(2),
        },
    )
}

#[tokio::test]
async fn route_table_covers_every_route() {
    let served: BTreeSet<&str> = route_paths(true, true).into_iter().collect();
    let listed: BTreeSet<&str> = ROUTES.iter().map(|r| r.0).collect();
    assert_eq!(
        served, listed,
        "the router and tests/security.rs's ROUTES differ: classify the new route"
    );
    // Without test mode the test routes do not exist; without demo, no demo config.
    let plain = route_paths(false, false);
    assert!(plain
        .iter()
        .all(|p| !p.starts_with("/api/v1/test/") && *p != "/demo-config.json"));
}

#[tokio::test]
async fn every_route_refuses_foreign_missing_revoked_and_denied_credentials() {
    let s = Stack::start_with(|c| c.test_mode = true).await;
    let (pop_a, key_a, t) = population_a(&s).await;
    let (pop_b, key_b) = s.population("B", true);
    let (_, key_off) = s.population("Sync off", false);
    // A key of A switched to accessDenied, and one revoked.
    let (_, key_denied) = s.population("A2", true);
    let (_, revoked) = s.population("A3", true);
    for (k, status) in [(&key_denied, "accessDenied"), (&revoked, "invalid")] {
        let (st, body) = s
            .post(k, "/api/v1/test/key-status", json!({"status": status}))
            .await;
        assert_eq!(st, 200, "{body}");
    }
    // A user of B's organisation only, signed in.
    s.user(
        "b@example.org",
        PW,
        s.organisation_of(pop_b),
        OrganisationRole::Admin,
        Some((pop_b, PopulationRole::Admin)),
    );
    let token_b = s.sign_in("b@example.org", PW).await;
    let before = snapshot(&s, pop_a);

    let mut checked = 0;
    for path in route_paths(true, false) {
        let auth = auth_of(path);
        for method in methods_of(&s, path, &t).await {
            let (url, body) = request_for(path, &method, &t);
            let what = format!("{method} {url}");
            match auth {
                Auth::Key => {
                    for (cred, label) in [
                        (None, "no key"),
                        (Some("fsk_notakey"), "unknown key"),
                        (Some(revoked.as_str()), "revoked key"),
                        (Some(token_b.as_str()), "session token as key"),
                    ] {
                        let (st, err) = call(&s, &method, &url, &body, cred).await;
                        assert_eq!(
                            (st, err["code"].as_str()),
                            (401, Some("invalidKey")),
                            "{what} with {label}: {err}"
                        );
                    }
                    for cred in [&key_off, &key_denied] {
                        let (st, err) = call(&s, &method, &url, &body, Some(cred)).await;
                        assert_eq!(
                            (st, err["code"].as_str()),
                            (403, Some("accessDenied")),
                            "{what} with a denied key: {err}"
                        );
                    }
                    // Another population's key: 403 for A's things — word for word the answer
                    // for a thing that does not exist — or an answer about B.
                    let (st, res) = call(&s, &method, &url, &body, Some(&key_b)).await;
                    let text = res.to_string();
                    match (path, method.as_str()) {
                        ("/api/v1/encounters/{id}", _)
                        | ("/api/v1/upload-sessions", _)
                        | ("/api/v1/jobs", _) => {
                            assert_eq!(
                                (st, res["code"].as_str()),
                                (403, Some("notInPopulation")),
                                "{what} with B's key: {res}"
                            );
                            let missing = t.encounter + 1_000_000;
                            let (url_m, body_m) = request_for(
                                path,
                                &method,
                                &Target {
                                    encounter: missing,
                                    population: t.population,
                                    key_id: t.key_id,
                                    file_item: t.file_item,
                                    idempotency_key: t.idempotency_key.clone(),
                                },
                            );
                            let (st_m, res_m) =
                                call(&s, &method, &url_m, &body_m, Some(&key_b)).await;
                            let same = |r: &Value| {
                                r["message"].as_str().map(|m| {
                                    m.replace(&missing.to_string(), "N")
                                        .replace(&t.encounter.to_string(), "N")
                                })
                            };
                            assert_eq!(
                                (st_m, res_m["code"].as_str(), same(&res_m)),
                                (st, res["code"].as_str(), same(&res)),
                                "{what}: another population's encounter and a missing one answer differently"
                            );
                        }
                        ("/api/v1/upload-sessions/commit", _)
                        | ("/api/v1/upload-sessions/copy", _) => {
                            assert_eq!(st, 200, "{what}: {res}");
                            assert_eq!(
                                res["results"][0]["error"]["code"], "unknownSession",
                                "{what} with B's key: {res}"
                            );
                        }
                        ("/api/v1/encounters/find-or-create", _) => {
                            assert_eq!(st, 200, "{what}: {res}");
                            assert_ne!(
                                res["id"].as_i64(),
                                Some(t.encounter),
                                "matched A's encounter"
                            );
                        }
                        _ => assert!((200..300).contains(&st), "{what} with B's key: {st} {res}"),
                    }
                    assert!(
                        !text.contains("a.jpg") && !text.contains("\"A\""),
                        "{what}: B's answer shows A's things: {text}"
                    );
                }
                Auth::Session => {
                    for (cred, label) in [
                        (None, "no token"),
                        (Some("fss_notatoken"), "unknown token"),
                        (Some(key_a.as_str()), "API key as token"),
                    ] {
                        let (st, err) = call(&s, &method, &url, &body, cred).await;
                        assert_eq!(
                            (st, err["code"].as_str()),
                            (401, Some("invalidSession")),
                            "{what} with {label}: {err}"
                        );
                    }
                    // B's user acting on A: provision → 403, revoke A's key → 404 (a session's
                    // answer, not a key's), list → none.
                    if path != "/api/v1/auth/sign-out" {
                        let (st, res) = call(&s, &method, &url, &body, Some(&token_b)).await;
                        match path {
                            "/api/v1/keys/provision" => assert_eq!(
                                (st, res["code"].as_str()),
                                (403, Some("forbidden")),
                                "{what}: {res}"
                            ),
                            "/api/v1/keys/{id}/revoke" => assert_eq!(st, 404, "{what}: {res}"),
                            "/api/v1/keys" => assert_eq!(res["keys"], json!([]), "{what}: {res}"),
                            _ => assert_eq!(st, 200, "{what}: {res}"),
                        }
                        assert!(!res.to_string().contains("\"A\""), "{what}: {res}");
                    }
                }
                Auth::KeyOrSession => {
                    for cred in [None, Some("fsk_notakey"), Some(revoked.as_str())] {
                        let (st, _) = call(&s, &method, &url, &body, cred).await;
                        assert_eq!(st, 401, "{what} with {cred:?}");
                    }
                    let (st, _) = call(&s, &method, &url, &body, Some(&key_off)).await;
                    assert_eq!(st, 403, "{what} with a denied key");
                    for cred in [&key_b, &token_b] {
                        let (st, res) = call(&s, &method, &url, &body, Some(cred)).await;
                        assert_eq!(st, 200, "{what}: {res}");
                        let ids: Vec<i64> = res["populations"]
                            .as_array()
                            .expect("populations")
                            .iter()
                            .filter_map(|p| p["id"].as_i64())
                            .collect();
                        assert!(!ids.contains(&pop_a), "{what}: {res}");
                    }
                }
                Auth::KeyOptional => {
                    let (st, res) = call(&s, &method, &url, &body, Some(&key_b)).await;
                    assert_eq!(st, 200);
                    assert_eq!(res["population"]["id"].as_i64(), Some(pop_b));
                    let (_, res) = call(&s, &method, &url, &body, Some(&key_off)).await;
                    assert_eq!(res["keyStatus"], "accessDenied");
                }
                Auth::SignIn => {
                    let (st, res) = call(&s, &method, &url, &body, None).await;
                    assert_eq!(
                        (st, res["code"].as_str()),
                        (401, Some("invalidCredentials"))
                    );
                }
                Auth::TestMode => {
                    // Only with --test-mode (test_endpoints_do_not_exist_without_test_mode in
                    // ingest.rs); key-status acts on the presented key only.
                    if path == "/api/v1/test/key-status" {
                        let (st, _) = call(&s, &method, &url, &body, None).await;
                        assert_eq!(st, 401);
                    }
                }
                Auth::Public => {
                    // A private encounter's page shows no images; its variants are not served.
                    let (st, _) = call(&s, &method, &url, &body, None).await;
                    if path.contains("{variant}") {
                        assert_eq!(st, 404, "{what}");
                    } else {
                        assert_eq!(st, 200, "{what}");
                    }
                }
            }
            checked += 1;
        }
    }
    assert!(checked >= 20, "only {checked} route/method pairs checked");
    assert_eq!(snapshot(&s, pop_a), before, "population A changed");
    // A's key still works.
    let (st, _) = s
        .get(Some(&key_a), &format!("/api/v1/encounters/{}", t.encounter))
        .await;
    assert_eq!(st, 200);
}

#[tokio::test]
async fn no_secret_reaches_the_audit_log_the_server_log_or_an_error() {
    capture_logs();
    let s = Stack::start().await;
    let (pop, cli_key) = s.population("P", true);
    s.user(
        "u@example.org",
        PW,
        s.organisation_of(pop),
        OrganisationRole::Admin,
        Some((pop, PopulationRole::Admin)),
    );
    let (st, _) = s
        .post(
            "",
            "/api/v1/auth/sign-in",
            json!({"email": "u@example.org", "password": "wrong password 123"}),
        )
        .await;
    assert_eq!(st, 401);
    let token = s.sign_in("u@example.org", PW).await;
    let (_, prov) = s
        .post(
            &token,
            "/api/v1/keys/provision",
            json!({"populationId": pop}),
        )
        .await;
    let key = prov["apiKey"].as_str().expect("key").to_string();
    let (_, enc) = s
        .post(
            &key,
            "/api/v1/encounters/find-or-create",
            json!({"date": "2024-07-15", "locationName": "Haro", "photographer": "Jane"}),
        )
        .await;
    let enc = enc["id"].as_i64().expect("id");
    let img = jpeg(40, 30, 5);
    let (_, body) = s
        .post(
            &key,
            "/api/v1/upload-sessions",
            json!({"encounterId": enc, "items": [
                {"idempotencyKey": key_for(1), "fileName": "a.jpg", "size": img.len(), "contentType": "image/jpeg"},
                {"idempotencyKey": key_for(2), "fileName": "b.jpg", "size": img.len(), "contentType": "image/jpeg"},
                {"idempotencyKey": key_for(3), "fileName": "c.jpg", "size": 5, "contentType": "image/jpeg"}]}),
        )
        .await;
    let urls: Vec<String> = body["sessions"]
        .as_array()
        .expect("sessions")
        .iter()
        .map(|x| x["uploadUrl"].as_str().expect("url").to_string())
        .collect();
    assert_eq!(put_blob(&s.http, &urls[0], img.clone()).await, 201);
    // c.jpg: 3 bytes for a 5-byte session → a per-item error that names the blob.
    assert_eq!(put_blob(&s.http, &urls[2], b"abc".to_vec()).await, 201);
    // A copy whose source SAS is forged: the refusal must not echo the signature.
    let research = s.azurite.research_account();
    research_container(&s, &research).await;
    let forged_sig = "c2lnbmF0dXJlLXRoYXQtaXMtd3Jvbmc%3D";
    let source = format!(
        "{}?sv=2021-08-06&sr=b&sp=r&se=2099-01-01T00%3A00%3A00Z&sig={forged_sig}",
        research.url("photos", Resource::Blob("x.jpg"))
    );
    let (st, copy) = s
        .post(
            &key,
            "/api/v1/upload-sessions/copy",
            json!({"items": [{"idempotencyKey": key_for(2), "sourceUrl": source}]}),
        )
        .await;
    assert_eq!(st, 200, "{copy}");
    assert_eq!(copy["results"][0]["status"], "error", "{copy}");
    let (_, commit) = s
        .post(
            &key,
            "/api/v1/upload-sessions/commit",
            json!({"idempotencyKeys": [key_for(1), key_for(3)]}),
        )
        .await;
    assert_eq!(commit["results"][0]["status"], "complete", "{commit}");
    assert_eq!(commit["results"][1]["status"], "error", "{commit}");
    let (_, keys) = s.get(None, "/api/v1/keys").await;
    assert_eq!(keys["code"], "invalidSession");
    let key_id = prov["keyId"].as_i64().expect("key id");
    let (st, _) = s
        .post(&token, &format!("/api/v1/keys/{key_id}/revoke"), json!({}))
        .await;
    assert_eq!(st, 200);
    let (st, _) = s.post(&token, "/api/v1/auth/sign-out", json!({})).await;
    assert_eq!(st, 204);

    let sigs: Vec<String> = urls
        .iter()
        .map(|u| {
            reqwest::Url::parse(u)
                .expect("url")
                .query_pairs()
                .find(|(k, _)| k == "sig")
                .map(|(_, v)| v.into_owned())
                .expect("sig")
        })
        .collect();
    let mut secrets: Vec<(&str, String)> = vec![
        ("the API key", key.clone()),
        ("the CLI key", cli_key.clone()),
        ("the session token", token.clone()),
        ("the password", PW.into()),
        ("the wrong password", "wrong password 123".into()),
        ("the account key", AZURITE_KEY.into()),
        ("the research key", RESEARCH_KEY.into()),
        ("a forged signature", forged_sig.into()),
        ("a sig= parameter", "sig=".into()),
        ("a key prefix", "fsk_".into()),
        ("a token prefix", "fss_".into()),
    ];
    for sig in &sigs {
        secrets.push(("an upload SAS signature", sig.clone()));
        secrets.push((
            "an upload SAS signature (URL-encoded)",
            finsync_core::sas::encode_query(sig),
        ));
    }
    let audit: String =
        s.db.tx_blocking(|tx| {
            let mut st =
                tx.prepare("SELECT actor || ' ' || action || ' ' || detail FROM audit_log")?;
            let rows = st
                .query_map([], |r| r.get::<_, String>(0))?
                .collect::<Result<Vec<_>, _>>()?;
            Ok(rows.join("\n"))
        })
        .expect("audit");
    assert!(audit.contains("session.error"), "{audit}");
    let errors = format!("{copy}\n{commit}");
    // Give the log writer a moment for the last lines.
    tokio::time::sleep(Duration::from_millis(100)).await;
    let log = log_text();
    assert!(
        log.contains("blob call"),
        "the server's log was captured:\n{log}"
    );
    for (what, secret) in &secrets {
        assert!(
            !audit.contains(secret.as_str()),
            "{what} in the audit log:\n{audit}"
        );
        assert!(
            !errors.contains(secret.as_str()),
            "{what} in an error answer:\n{errors}"
        );
        assert!(
            !log.contains(secret.as_str()),
            "{what} in the server log:\n{log}"
        );
    }
}

/// A container on the research account (a copy source).
async fn research_container(s: &Stack, research: &finsync_core::sas::Account) {
    let expiry = iso8601_utc(finsync_server::now_unix() + 600);
    let url = format!(
        "{}?restype=container&{}",
        research.url("photos", Resource::Container),
        research.account_sas("rwdlac", "sco", &expiry)
    );
    let st = s.http.put(url).send().await.expect("create").status();
    assert!(st.is_success() || st.as_u16() == 409, "{st}");
}

fn query(url: &str) -> BTreeMap<String, String> {
    reqwest::Url::parse(url)
        .expect("url")
        .query_pairs()
        .map(|(k, v)| (k.into_owned(), v.into_owned()))
        .collect()
}

#[tokio::test]
async fn upload_sas_is_write_only_for_one_blob_and_expires() {
    let s = Stack::start().await;
    let (_, key) = s.population("P", true);
    let (_, enc) = s
        .post(
            &key,
            "/api/v1/encounters/find-or-create",
            json!({"date": "2024-07-15", "locationName": "Haro", "photographer": "Jane",
                "license": "privateOrganisation"}),
        )
        .await;
    let enc = enc["id"].as_i64().expect("id");
    let img = jpeg(48, 32, 7);
    let t0 = finsync_server::now_unix();
    let (_, body) = s
        .post(
            &key,
            "/api/v1/upload-sessions",
            json!({"encounterId": enc, "items": [{"idempotencyKey": key_for(1), "fileName": "a.jpg",
                "size": img.len(), "contentType": "image/jpeg"}]}),
        )
        .await;
    let t1 = finsync_server::now_unix();
    let url = body["sessions"][0]["uploadUrl"]
        .as_str()
        .expect("url")
        .to_string();
    let q = query(&url);
    assert_eq!(q.get("sp").map(String::as_str), Some("cw"), "{url}");
    assert_eq!(q.get("sr").map(String::as_str), Some("b"), "{url}");
    // Expiry: 10 minutes (+ 10 s per MB: 0 here) from the request, and what the answer says.
    let se = q.get("se").expect("se").clone();
    assert!(
        iso8601_utc(t0 + 600) <= se && se <= iso8601_utc(t1 + 600),
        "se {se} is not 10 minutes after {t0}"
    );
    assert_eq!(body["sessions"][0]["expiresAt"].as_str(), Some(se.as_str()));

    let status = |m: Method, u: String| {
        let req = s.http.request(m, u);
        async move { req.send().await.expect("request").status().as_u16() }
    };
    assert_eq!(put_blob(&s.http, &url, img.clone()).await, 201);
    let (path, qs) = url.split_once('?').expect("query");
    assert_eq!(
        status(Method::GET, url.clone()).await,
        403,
        "read with the upload SAS"
    );
    assert_eq!(
        status(Method::HEAD, url.clone()).await,
        403,
        "properties with the upload SAS"
    );
    assert_eq!(
        status(Method::DELETE, url.clone()).await,
        403,
        "delete with the upload SAS"
    );
    let container = format!("{}/{}", s.azurite.endpoint, s.container);
    assert_eq!(
        status(
            Method::GET,
            format!("{container}?restype=container&comp=list&{qs}")
        )
        .await,
        403,
        "list with the upload SAS"
    );
    let other = format!("{}/other.jpg?{qs}", path.rsplit_once('/').expect("/").0);
    assert_eq!(
        put_blob(&s.http, &other, img.clone()).await,
        403,
        "another blob name"
    );
    let other_container = url.replacen(&format!("/{}/", s.container), "/elsewhere/", 1);
    assert_eq!(
        put_blob(&s.http, &other_container, img.clone()).await,
        403,
        "another container"
    );
    // The blob holds the bytes, not anything the refused calls did.
    let account = s.azurite.account();
    let blob_name = format!("encounters/{enc}/{}/a.jpg", key_for(1));
    assert_eq!(
        common::read_blob(&s.http, &account, &s.container, &blob_name).await,
        Some(img.clone())
    );

    // The read-only variant URLs of a private encounter: read, never write.
    let (_, res) = s
        .post(
            &key,
            "/api/v1/upload-sessions/commit",
            json!({"idempotencyKeys": [key_for(1)]}),
        )
        .await;
    assert_eq!(res["results"][0]["status"], "complete", "{res}");
    // Variants are made by the server's background queue after commit.
    s.variants_settled().await;
    let (_, detail) = s
        .get(Some(&key), &format!("/api/v1/encounters/{enc}"))
        .await;
    let thumb = detail["images"][0]["thumbnailUrl"]
        .as_str()
        .expect("thumbnail")
        .to_string();
    let tq = query(&thumb);
    assert_eq!(tq.get("sp").map(String::as_str), Some("r"), "{thumb}");
    assert_eq!(status(Method::GET, thumb.clone()).await, 200);
    assert_eq!(
        put_blob(&s.http, &thumb, b"x".to_vec()).await,
        403,
        "write with a read SAS"
    );
    assert_eq!(
        status(Method::DELETE, thumb.clone()).await,
        403,
        "delete with a read SAS"
    );

    // Expiry: the same signer with a 2-second lifetime works, then is refused.
    let blob = Resource::Blob("encounters/short/x.jpg");
    let short = format!(
        "{}?{}",
        account.url(&s.container, blob),
        account.service_sas(
            &s.container,
            blob,
            "cw",
            None,
            &iso8601_utc(finsync_server::now_unix() + 2)
        )
    );
    assert_eq!(put_blob(&s.http, &short, b"x".to_vec()).await, 201);
    tokio::time::sleep(Duration::from_secs(4)).await;
    let resp = s
        .http
        .put(&short)
        .header("x-ms-blob-type", "BlockBlob")
        .body(b"y".to_vec())
        .send()
        .await
        .expect("PUT");
    assert_eq!(resp.status().as_u16(), 403, "an expired SAS is refused");
    let code = resp
        .headers()
        .get("x-ms-error-code")
        .and_then(|v| v.to_str().ok())
        .map(str::to_string);
    let text = resp.text().await.unwrap_or_default();
    // Azure answers `AuthenticationFailed` ("Signature not valid in the specified time
    // frame"); Azurite `AuthorizationFailure`.
    assert!(
        matches!(
            code.as_deref(),
            Some("AuthenticationFailed" | "AuthorizationFailure")
        ),
        "{code:?} {text}"
    );
}

#[tokio::test]
async fn cors_answers_the_app_origin_only_on_every_api_route() {
    let s = Stack::start_with(|c| c.test_mode = true).await;
    let (_, key, t) = population_a(&s).await;
    for path in route_paths(true, false) {
        if !path.starts_with("/api/") {
            continue;
        }
        for method in methods_of(&s, path, &t).await {
            let (url, body) = request_for(path, &method, &t);
            let preflight = |origin: &'static str| {
                s.http
                    .request(Method::OPTIONS, s.url(&url))
                    .header("Origin", origin)
                    .header("Access-Control-Request-Method", method.as_str())
                    .header(
                        "Access-Control-Request-Headers",
                        "authorization,content-type",
                    )
                    .send()
            };
            let acao = |r: &reqwest::Response| {
                r.headers()
                    .get("access-control-allow-origin")
                    .and_then(|v| v.to_str().ok())
                    .map(str::to_string)
            };
            let ok = preflight(ORIGIN).await.expect("preflight");
            assert_eq!(acao(&ok).as_deref(), Some(ORIGIN), "{method} {url}");
            let evil = preflight(EVIL).await.expect("preflight");
            assert_eq!(acao(&evil), None, "preflight from {EVIL} on {method} {url}");
            let resp = send(&s, &method, &url, &body, Some(&key), Some(EVIL)).await;
            assert_eq!(acao(&resp), None, "{method} {url} from {EVIL}");
            let resp = send(&s, &method, &url, &body, Some(&key), Some(ORIGIN)).await;
            assert_eq!(acao(&resp).as_deref(), Some(ORIGIN), "{method} {url}");
        }
    }
}

#[tokio::test]
async fn oversized_bodies_get_413_that_the_app_can_read() {
    let s = Stack::start_with(|c| c.test_mode = true).await;
    let (_, key) = s.population("P", true);
    let mut checked = 0;
    for &(path, _, json_body) in ROUTES.iter().filter(|r| r.2) {
        let url = s.url(path);
        // With a Content-Length: refused before the handler runs.
        let resp = s
            .http
            .post(&url)
            .bearer_auth(&key)
            .header("Origin", ORIGIN)
            .header("content-type", "application/json")
            .body(vec![b' '; 2 * 1024 * 1024])
            .send()
            .await
            .expect("POST");
        assert_eq!(resp.status().as_u16(), 413, "{path}");
        assert_eq!(
            resp.headers()
                .get("access-control-allow-origin")
                .and_then(|v| v.to_str().ok()),
            Some(ORIGIN),
            "{path}: a 413 without CORS headers is a network error to the app"
        );
        // Without a length (chunked): refused while reading, still a 413.
        assert!(json_body);
        let (status, answer) = post_chunked(&s.base, path, &key, 40 * 64 * 1024).await;
        assert_eq!(status, 413, "{path} (chunked)");
        assert!(
            answer.contains("\"code\":\"tooLarge\""),
            "{path} (chunked): {answer}"
        );
        checked += 1;
    }
    assert!(checked >= 8, "{checked}");
    assert_eq!(s.count("SELECT COUNT(*) FROM encounters"), 0);
}

/// POSTs `total` bytes of spaces with `Transfer-Encoding: chunked` (no length) over a raw
/// connection; returns the answer's status and its text (head and as much of the body as
/// came within a second).
async fn post_chunked(base: &str, path: &str, key: &str, total: usize) -> (u16, String) {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let addr = base.trim_start_matches("http://");
    let mut conn = tokio::net::TcpStream::connect(addr).await.expect("connect");
    let head = format!(
        "POST {path} HTTP/1.1\r\nHost: {addr}\r\nAuthorization: Bearer {key}\r\n\
         Content-Type: application/json\r\nTransfer-Encoding: chunked\r\nConnection: close\r\n\r\n"
    );
    conn.write_all(head.as_bytes()).await.expect("head");
    let chunk = vec![b' '; 64 * 1024];
    let mut sent = 0;
    while sent < total {
        let mut frame = format!("{:x}\r\n", chunk.len()).into_bytes();
        frame.extend_from_slice(&chunk);
        frame.extend_from_slice(b"\r\n");
        // The server may answer and stop reading before the end: that is the point.
        if conn.write_all(&frame).await.is_err() {
            break;
        }
        sent += chunk.len();
    }
    let _ = conn.write_all(b"0\r\n\r\n").await;
    let mut answer = Vec::new();
    let mut buf = [0u8; 4096];
    let deadline = tokio::time::Instant::now() + std::time::Duration::from_secs(1);
    while let Ok(Ok(n)) = tokio::time::timeout_at(deadline, conn.read(&mut buf)).await {
        if n == 0 {
            break;
        }
        answer.extend_from_slice(&buf[..n]);
    }
    let text = String::from_utf8_lossy(&answer).into_owned();
    let status = text
        .split_whitespace()
        .nth(1)
        .and_then(|c| c.parse().ok())
        .unwrap_or_else(|| panic!("no HTTP answer to the chunked POST on {path}: {text:?}"));
    (status, text)
}
