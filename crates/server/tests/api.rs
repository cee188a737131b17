//! The reference server's API against a real Azurite: keys, encounter dedup, upload sessions,
//! SAS scope, commits, idempotency and bad input.

mod common;

use common::{jpeg, list_blobs, read_blob, Stack, ORIGIN};
use finsync_core::fingerprint::{idempotency_key, Fingerprint};
use finsync_core::sas::{iso8601_utc, Resource};
use serde_json::json;

fn key_for(n: u8) -> String {
    idempotency_key(
        1,
        "2024-07-15\u{1f}haro\u{1f}jane",
        &Fingerprint::new(n as u64, &[n], &[n]),
    )
}

fn encounter(date: &str, location: &str, who: &str) -> serde_json::Value {
    json!({"date": date, "locationName": location, "photographer": who, "gps": {"lat": 48.5, "lon": -123.1}})
}

async fn put_blob(stack: &Stack, url: &str, bytes: Vec<u8>) -> u16 {
    common::put_blob(&stack.http, url, bytes).await
}

#[tokio::test]
async fn key_statuses() {
    let s = Stack::start().await;
    let (_, ready) = s.population("Ready pop", true);
    let (_, denied) = s.population("Denied pop", false);
    let cases = [
        (None, "notProvisioned"),
        (Some("fsk_nope"), "invalid"),
        (Some(denied.as_str()), "accessDenied"),
        (Some(ready.as_str()), "ready"),
    ];
    for (key, want) in cases {
        let (status, body) = s.get(key, "/api/v1/status").await;
        assert_eq!(status, 200);
        assert_eq!(body["keyStatus"], want, "{key:?}");
    }
    // Revoked keys are invalid; sync calls answer 401 with a JSON error.
    s.db.tx_blocking(|tx| finsync_server::auth::revoke_key(tx, &ready))
        .unwrap();
    let (_, body) = s.get(Some(&ready), "/api/v1/status").await;
    assert_eq!(body["keyStatus"], "invalid");
    let (status, body) = s
        .post(
            &ready,
            "/api/v1/encounters/find-or-create",
            encounter("2024-07-15", "Haro", "Jane"),
        )
        .await;
    assert_eq!(status, 401);
    assert_eq!(body["code"], "invalidKey");
    let (status, body) = s
        .post(
            &denied,
            "/api/v1/encounters/find-or-create",
            encounter("2024-07-15", "Haro", "Jane"),
        )
        .await;
    assert_eq!(status, 403);
    assert_eq!(body["code"], "accessDenied");
}

#[tokio::test]
async fn encounter_dedup_follows_decision_6() {
    let s = Stack::start().await;
    let (_, key) = s.population("P", true);
    let (st, a) = s
        .post(
            &key,
            "/api/v1/encounters/find-or-create",
            encounter("2024-07-15", "Haro Strait", "Jane Smith"),
        )
        .await;
    assert_eq!(st, 200);
    assert_eq!(a["created"], true);
    // Same day and photographer, name differs only in case/spacing → same encounter.
    let (_, b) = s
        .post(
            &key,
            "/api/v1/encounters/find-or-create",
            encounter("2024-07-15", " haro  STRAIT", "jane smith"),
        )
        .await;
    assert_eq!(
        (b["id"].clone(), b["created"].clone()),
        (a["id"].clone(), json!(false))
    );
    // Other name but GPS within 1 km → same encounter.
    let (_, c) = s.post(&key, "/api/v1/encounters/find-or-create", json!({"date": "2024-07-15", "locationName": "Lime Kiln", "photographer": "Jane Smith", "gps": {"lat": 48.505, "lon": -123.1}})).await;
    assert_eq!(c["id"], a["id"]);
    // Another day, or another photographer → new encounters.
    let (_, d) = s
        .post(
            &key,
            "/api/v1/encounters/find-or-create",
            encounter("2024-07-16", "Haro Strait", "Jane Smith"),
        )
        .await;
    let (_, e) = s
        .post(
            &key,
            "/api/v1/encounters/find-or-create",
            encounter("2024-07-15", "Haro Strait", "Ann Wu"),
        )
        .await;
    assert_ne!(d["id"], a["id"]);
    assert_ne!(e["id"], a["id"]);
    assert_ne!(d["id"], e["id"]);
}

#[tokio::test]
async fn concurrent_creates_make_one_encounter() {
    let s = Stack::start().await;
    let (_, key) = s.population("P", true);
    let mut handles = Vec::new();
    for _ in 0..16 {
        let http = s.http.clone();
        let url = s.url("/api/v1/encounters/find-or-create");
        let key = key.clone();
        handles.push(tokio::spawn(async move {
            let r: serde_json::Value = http
                .post(url)
                .bearer_auth(key)
                .json(&encounter("2024-07-15", "Haro", "Jane"))
                .send()
                .await
                .unwrap()
                .json()
                .await
                .unwrap();
            (r["id"].as_i64().unwrap(), r["created"].as_bool().unwrap())
        }));
    }
    let mut ids = Vec::new();
    for h in handles {
        ids.push(h.await.unwrap());
    }
    assert!(ids.iter().all(|(id, _)| *id == ids[0].0), "{ids:?}");
    assert_eq!(ids.iter().filter(|(_, created)| *created).count(), 1);
}

#[tokio::test]
async fn upload_commit_and_idempotency() {
    let s = Stack::start().await;
    let (_, key) = s.population("P", true);
    let (_, enc) = s
        .post(
            &key,
            "/api/v1/encounters/find-or-create",
            encounter("2024-07-15", "Haro", "Jane"),
        )
        .await;
    let enc_id = enc["id"].as_i64().unwrap();
    let (img1, img2, img3) = (jpeg(40, 30, 1), jpeg(50, 20, 2), jpeg(10, 10, 3));
    let items = json!([
        {"idempotencyKey": key_for(1), "fileName": "IMG 1 ü.jpg", "size": img1.len(), "contentType": "image/jpeg"},
        {"idempotencyKey": key_for(2), "fileName": "IMG_2.jpg", "size": img2.len(), "contentType": "image/jpeg"},
        {"idempotencyKey": key_for(3), "fileName": "IMG_3.jpg", "size": img3.len(), "contentType": "image/jpeg"},
    ]);
    let (st, sessions) = s
        .post(
            &key,
            "/api/v1/upload-sessions",
            json!({"encounterId": enc_id, "items": items}),
        )
        .await;
    assert_eq!(st, 200, "{sessions}");
    let urls: Vec<String> = sessions["sessions"]
        .as_array()
        .unwrap()
        .iter()
        .map(|x| {
            assert_eq!(x["status"], "pending");
            x["uploadUrl"].as_str().unwrap().to_string()
        })
        .collect();
    // Same key again while open → the same session.
    let (_, again) = s
        .post(
            &key,
            "/api/v1/upload-sessions",
            json!({"encounterId": enc_id, "items": [items[0].clone()]}),
        )
        .await;
    assert_eq!(
        again["sessions"][0]["sessionId"],
        sessions["sessions"][0]["sessionId"]
    );

    assert_eq!(put_blob(&s, &urls[0], img1.clone()).await, 201);
    // Short: half the bytes.
    assert_eq!(
        put_blob(&s, &urls[1], img2[..img2.len() / 2].to_vec()).await,
        201
    );
    // urls[2] is never uploaded.

    // The SAS URL is for one blob only, and cannot read.
    let other = urls[0].replace("IMG%201%20%C3%BC.jpg", "other.jpg");
    assert_eq!(put_blob(&s, &other, b"x".to_vec()).await, 403);
    assert_eq!(
        s.http.get(&urls[0]).send().await.unwrap().status().as_u16(),
        403
    );

    let keys = json!({"idempotencyKeys": [key_for(1), key_for(2), key_for(3), key_for(9)]});
    let (st, res) = s
        .post(&key, "/api/v1/upload-sessions/commit", keys.clone())
        .await;
    assert_eq!(st, 200, "{res}");
    let r = res["results"].as_array().unwrap();
    assert_eq!(r[0]["status"], "complete", "{res}");
    let item = r[0]["fileItemId"].as_i64().unwrap();
    assert_eq!(
        (r[1]["status"].as_str(), r[1]["error"]["code"].as_str()),
        (Some("error"), Some("sizeMismatch"))
    );
    assert!(r[1]["error"]["message"]
        .as_str()
        .unwrap()
        .contains("IMG_2.jpg"));
    assert_eq!(r[2]["error"]["code"], "blobMissing");
    assert_eq!(r[3]["error"]["code"], "unknownSession");

    // Committing again changes nothing and makes no second file item (nor job).
    let (_, res2) = s
        .post(
            &key,
            "/api/v1/upload-sessions/commit",
            json!({"idempotencyKeys": [key_for(1), key_for(1)]}),
        )
        .await;
    assert_eq!(res2["results"][0]["fileItemId"].as_i64(), Some(item));
    assert_eq!(res2["results"][1]["fileItemId"].as_i64(), Some(item));
    assert_eq!(s.count("SELECT COUNT(*) FROM file_items"), 1);
    // One variants job and one mlPipeline job.
    assert_eq!(s.count("SELECT COUNT(*) FROM jobs"), 2);
    // A session for a committed key comes back Complete with no URL.
    let (_, done) = s
        .post(
            &key,
            "/api/v1/upload-sessions",
            json!({"encounterId": enc_id, "items": [items[0].clone()]}),
        )
        .await;
    assert_eq!(done["sessions"][0]["status"], "complete");
    assert!(done["sessions"][0]["uploadUrl"].is_null());
    // A failed session resumes (decision 8): fix the blob, commit again.
    let (_, retry) = s
        .post(
            &key,
            "/api/v1/upload-sessions",
            json!({"encounterId": enc_id, "items": [items[1].clone()]}),
        )
        .await;
    let url = retry["sessions"][0]["uploadUrl"].as_str().unwrap();
    assert_eq!(put_blob(&s, url, img2.clone()).await, 201);
    let (_, fixed) = s
        .post(
            &key,
            "/api/v1/upload-sessions/commit",
            json!({"idempotencyKeys": [key_for(2)]}),
        )
        .await;
    assert_eq!(fixed["results"][0]["status"], "complete");

    // The container holds the two originals under their final names, byte-exact; the
    // temporary names are gone.
    let account = s.azurite.account();
    let mut names = list_blobs(&s.http, &account, &s.container).await;
    names.sort();
    let first = format!("encounters/{enc_id}/{}/IMG 1 ü.jpg", key_for(1));
    let mut want = vec![
        first.clone(),
        format!("encounters/{enc_id}/{}/IMG_2.jpg", key_for(2)),
    ];
    want.sort();
    assert_eq!(names, want);
    assert_eq!(
        read_blob(&s.http, &account, &s.container, &first).await,
        Some(img1)
    );

    let (st, detail) = s
        .get(Some(&key), &format!("/api/v1/encounters/{enc_id}"))
        .await;
    assert_eq!(st, 200);
    assert_eq!(detail["images"].as_array().unwrap().len(), 2);
    let page = s
        .http
        .get(s.url(&format!("/encounters/{enc_id}")))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(
        page.contains("IMG 1 ü.jpg") && page.contains("2 images"),
        "{page}"
    );
}

#[tokio::test]
async fn other_population_cannot_touch_an_encounter() {
    let s = Stack::start().await;
    let (_, a) = s.population("A", true);
    let (_, b) = s.population("B", true);
    let (_, enc) = s
        .post(
            &a,
            "/api/v1/encounters/find-or-create",
            encounter("2024-07-15", "Haro", "Jane"),
        )
        .await;
    let body = json!({"encounterId": enc["id"], "items": [{"idempotencyKey": key_for(1), "fileName": "a.jpg", "size": 1, "contentType": "image/jpeg"}]});
    let (st, err) = s.post(&b, "/api/v1/upload-sessions", body).await;
    assert_eq!((st, err["code"].as_str()), (403, Some("notInPopulation")));
    let (st, _) = s
        .get(Some(&b), &format!("/api/v1/encounters/{}", enc["id"]))
        .await;
    assert_eq!(st, 403);
}

#[tokio::test]
async fn bad_input_gets_clear_4xx_and_writes_nothing() {
    let s = Stack::start().await;
    let (_, key) = s.population("P", true);
    let (_, enc) = s
        .post(
            &key,
            "/api/v1/encounters/find-or-create",
            encounter("2024-07-15", "Haro", "Jane"),
        )
        .await;
    let item = |name: &str, size: i64, k: String| json!({"idempotencyKey": k, "fileName": name, "size": size, "contentType": "image/jpeg"});
    let cases = [
        (
            json!({"encounterId": enc["id"], "items": [item("../../etc/passwd", 1, key_for(1))]}),
            "invalidFileName",
        ),
        (
            json!({"encounterId": enc["id"], "items": [item(&"a".repeat(300), 1, key_for(1))]}),
            "invalidFileName",
        ),
        (
            json!({"encounterId": enc["id"], "items": [item("a.jpg", 0, key_for(1))]}),
            "invalidSize",
        ),
        (
            json!({"encounterId": enc["id"], "items": [item("a.jpg", 6_000_000_000_000, key_for(1))]}),
            "invalidSize",
        ),
        (
            json!({"encounterId": enc["id"], "items": [item("a.jpg", -5, key_for(1))]}),
            "invalidJson",
        ),
        (
            json!({"encounterId": enc["id"], "items": [item("a.jpg", 1, "not-a-key".into())]}),
            "invalidKey",
        ),
        (
            json!({"encounterId": enc["id"], "items": [], }),
            "invalidBatch",
        ),
        (
            json!({"encounterId": enc["id"], "items": [item("a.jpg", 1, key_for(1))], "surprise": true}),
            "invalidJson",
        ),
    ];
    for (body, code) in cases {
        let (st, err) = s.post(&key, "/api/v1/upload-sessions", body.clone()).await;
        assert_eq!((st, err["code"].as_str()), (400, Some(code)), "{body}");
        assert!(!err["message"].as_str().unwrap_or_default().is_empty());
    }
    let (st, err) = s
        .post(
            &key,
            "/api/v1/encounters/find-or-create",
            encounter("15/07/2024", "Haro", "Jane"),
        )
        .await;
    assert_eq!((st, err["code"].as_str()), (400, Some("invalidDate")));
    let (st, err) = s.post(&key, "/api/v1/encounters/find-or-create", json!({"date": "2024-07-15", "locationName": "x", "photographer": "y", "gps": {"lat": 91, "lon": 0}})).await;
    assert_eq!((st, err["code"].as_str()), (400, Some("invalidGps")));
    // Not JSON at all.
    let resp = s
        .http
        .post(s.url("/api/v1/upload-sessions"))
        .bearer_auth(&key)
        .header("content-type", "application/json")
        .body("{nope")
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status().as_u16(), 400);
    // Oversized body.
    let resp = s
        .http
        .post(s.url("/api/v1/upload-sessions"))
        .bearer_auth(&key)
        .header("content-type", "application/json")
        .body(vec![b' '; 2 * 1024 * 1024])
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status().as_u16(), 413);
    // Nothing was written.
    let sessions: i64 =
        s.db.tx_blocking(|tx| {
            Ok(tx.query_row("SELECT COUNT(*) FROM upload_sessions", [], |r| r.get(0))?)
        })
        .unwrap();
    assert_eq!(sessions, 0);
}

#[tokio::test]
async fn expired_sas_is_rejected_by_the_blob_service() {
    let s = Stack::start().await;
    let account = s.azurite.account();
    let blob = Resource::Blob("encounters/1/x.jpg");
    let past = iso8601_utc(finsync_server::now_unix() - 60);
    let future = iso8601_utc(finsync_server::now_unix() + 600);
    let base = account.url(&s.container, blob);
    let expired = format!(
        "{base}?{}",
        account.service_sas(&s.container, blob, "cw", None, &past)
    );
    let valid = format!(
        "{base}?{}",
        account.service_sas(&s.container, blob, "cw", None, &future)
    );
    assert_eq!(put_blob(&s, &expired, b"x".to_vec()).await, 403);
    assert_eq!(put_blob(&s, &valid, b"x".to_vec()).await, 201);
    // A read SAS made by core's signer reads it back.
    let read = format!(
        "{base}?{}",
        account.service_sas(&s.container, blob, "r", None, &future)
    );
    assert_eq!(
        s.http
            .get(&read)
            .send()
            .await
            .unwrap()
            .bytes()
            .await
            .unwrap()
            .as_ref(),
        b"x"
    );
}

#[tokio::test]
async fn blob_cors_allows_the_app_origin_only() {
    let s = Stack::start().await;
    let url = format!("{}/{}/a.jpg", s.azurite.endpoint, s.container);
    let preflight = |origin: &'static str| {
        s.http
            .request(reqwest::Method::OPTIONS, &url)
            .header("Origin", origin)
            .header("Access-Control-Request-Method", "PUT")
            .header("Access-Control-Request-Headers", "x-ms-blob-type")
            .send()
    };
    let ok = preflight(ORIGIN).await.unwrap();
    assert_eq!(
        ok.headers()
            .get("access-control-allow-origin")
            .and_then(|v| v.to_str().ok()),
        Some(ORIGIN)
    );
    let other = preflight("http://evil.example").await.unwrap();
    assert!(other.headers().get("access-control-allow-origin").is_none());
    // The API answers CORS for the app origin and not for others.
    let api = |origin: &'static str| {
        s.http
            .request(reqwest::Method::OPTIONS, s.url("/api/v1/status"))
            .header("Origin", origin)
            .header("Access-Control-Request-Method", "GET")
            .send()
    };
    assert_eq!(
        api(ORIGIN)
            .await
            .unwrap()
            .headers()
            .get("access-control-allow-origin")
            .and_then(|v| v.to_str().ok()),
        Some(ORIGIN)
    );
    assert!(api("http://evil.example")
        .await
        .unwrap()
        .headers()
        .get("access-control-allow-origin")
        .is_none());
}

/// The upload SAS lives 10 minutes + 10 s per MB (`expiresAt` and the URL's `se` agree), and a
/// session asked for again with another size is a `409 conflict` that changes nothing.
#[tokio::test]
async fn upload_sas_expiry_grows_with_size_and_a_resized_session_conflicts() {
    let s = Stack::start().await;
    let (_, key) = s.population("P", true);
    let (_, enc) = s
        .post(
            &key,
            "/api/v1/encounters/find-or-create",
            encounter("2024-07-15", "Haro", "Jane"),
        )
        .await;
    let item = |k: String, size: u64| json!({"idempotencyKey": k, "fileName": "a.jpg", "size": size, "contentType": "image/jpeg"});
    let sizes = [1u64, 100_000_000, finsync_core::api::MAX_IMAGE_BYTES];
    let items: Vec<_> = sizes
        .iter()
        .enumerate()
        .map(|(i, &size)| item(key_for(i as u8 + 1), size))
        .collect();
    let t0 = finsync_server::now_unix();
    let (st, body) = s
        .post(
            &key,
            "/api/v1/upload-sessions",
            json!({"encounterId": enc["id"], "items": items}),
        )
        .await;
    assert_eq!(st, 200, "{body}");
    let t1 = finsync_server::now_unix();
    for (session, lifetime) in body["sessions"]
        .as_array()
        .unwrap()
        .iter()
        .zip([600, 1_600, 54_280])
    {
        let expires = session["expiresAt"].as_str().unwrap();
        let url = session["uploadUrl"].as_str().unwrap();
        let se = url
            .split(['?', '&'])
            .find_map(|p| p.strip_prefix("se="))
            .unwrap()
            .replace("%3A", ":");
        assert_eq!(se, expires, "{url}");
        let ok: Vec<String> = (t0..=t1).map(|t| iso8601_utc(t + lifetime)).collect();
        assert!(ok.contains(&expires.to_string()), "{expires} not in {ok:?}");
    }
    let before = s.db_snapshot();
    let (st, err) = s
        .post(
            &key,
            "/api/v1/upload-sessions",
            json!({"encounterId": enc["id"], "items": [item(key_for(2), 100_000_001)]}),
        )
        .await;
    assert_eq!((st, err["code"].as_str()), (409, Some("conflict")), "{err}");
    assert!(
        err["message"]
            .as_str()
            .unwrap()
            .contains("100000000 bytes, not 100000001"),
        "{err}"
    );
    assert_eq!(s.db_snapshot(), before, "a refused resize writes nothing");
    // The same size again is the same session.
    let (st, again) = s
        .post(
            &key,
            "/api/v1/upload-sessions",
            json!({"encounterId": enc["id"], "items": [item(key_for(2), 100_000_000)]}),
        )
        .await;
    assert_eq!(st, 200, "{again}");
    assert_eq!(
        again["sessions"][0]["sessionId"],
        body["sessions"][1]["sessionId"]
    );
}

/// Bad input on the write routes besides upload sessions (see
/// `bad_input_gets_clear_4xx_and_writes_nothing`): each case is a clear 4xx with a JSON code,
/// and the whole database is unchanged afterwards.
#[tokio::test]
async fn bad_input_on_every_write_route_is_refused_and_writes_nothing() {
    let s = Stack::start().await;
    let (pop, key) = s.population("P", true);
    let (_, enc) = s
        .post(
            &key,
            "/api/v1/encounters/find-or-create",
            encounter("2024-07-15", "Haro", "Jane"),
        )
        .await;
    let enc = enc["id"].as_i64().unwrap();
    // A committed image and an open session, so there is something a bad request could touch.
    let img = jpeg(32, 32, 1);
    let (_, sessions) = s
        .post(
            &key,
            "/api/v1/upload-sessions",
            json!({"encounterId": enc, "items": [
                {"idempotencyKey": key_for(1), "fileName": "a.jpg", "size": img.len(), "contentType": "image/jpeg"},
                {"idempotencyKey": key_for(2), "fileName": "b.jpg", "size": 10, "contentType": "image/jpeg"}]}),
        )
        .await;
    let url = sessions["sessions"][0]["uploadUrl"].as_str().unwrap();
    assert_eq!(put_blob(&s, url, img).await, 201);
    let (_, done) = s
        .post(
            &key,
            "/api/v1/upload-sessions/commit",
            json!({"idempotencyKeys": [key_for(1)]}),
        )
        .await;
    assert_eq!(done["results"][0]["status"], "complete", "{done}");
    let other_org = s.organisation_of(pop);
    s.variants_settled().await;

    let long = "x".repeat(100_000);
    let traversal = "../../../etc/passwd";
    let many_keys: Vec<String> = (0..101).map(|i| key_for(i as u8)).collect();
    let many_ids: Vec<String> = (0..501).map(|i| format!("ID{i}")).collect();
    let commit = "/api/v1/upload-sessions/commit";
    let copy = "/api/v1/upload-sessions/copy";
    let ensure = "/api/v1/individuals/ensure";
    let users = "/api/v1/users";
    let foc = "/api/v1/encounters/find-or-create";
    let source = "https://research.blob.core.windows.net/c/a.jpg?sv=1&sig=x";
    let fields = |extra: serde_json::Value| {
        let mut v = encounter("2024-07-16", "Lime Kiln", "Ann");
        for (k, x) in extra.as_object().unwrap() {
            v[k] = x.clone();
        }
        v
    };
    let cases: Vec<(&str, serde_json::Value, u16, &str)> = vec![
        // commit
        (
            commit,
            json!({"idempotencyKeys": [key_for(2)], "force": true}),
            400,
            "invalidJson",
        ),
        (
            commit,
            json!({"idempotencyKeys": key_for(2)}),
            400,
            "invalidJson",
        ),
        (commit, json!({"idempotencyKeys": []}), 400, "invalidBatch"),
        (
            commit,
            json!({"idempotencyKeys": many_keys}),
            400,
            "invalidBatch",
        ),
        (
            commit,
            json!({"idempotencyKeys": [traversal]}),
            400,
            "invalidKey",
        ),
        (
            commit,
            json!({"idempotencyKeys": [long]}),
            400,
            "invalidKey",
        ),
        // copy
        (
            copy,
            json!({"items": [{"idempotencyKey": key_for(2), "sourceUrl": source, "size": 10}]}),
            400,
            "invalidJson",
        ),
        (
            copy,
            json!({"items": [{"idempotencyKey": key_for(2)}]}),
            400,
            "invalidJson",
        ),
        (copy, json!({"items": []}), 400, "invalidBatch"),
        (
            copy,
            json!({"items": [{"idempotencyKey": traversal, "sourceUrl": source}]}),
            400,
            "invalidKey",
        ),
        (
            copy,
            json!({"items": [{"idempotencyKey": key_for(2), "sourceUrl": "file:///etc/passwd"}]}),
            400,
            "invalidSourceUrl",
        ),
        (
            copy,
            json!({"items": [{"idempotencyKey": key_for(2), "sourceUrl": format!("{source}{long}")}]}),
            400,
            "invalidSourceUrl",
        ),
        (
            copy,
            json!({"items": [{"idempotencyKey": key_for(2), "sourceUrl": "https://user:pw@h/c/a.jpg"}]}),
            400,
            "invalidSourceUrl",
        ),
        // ensure individuals
        (
            ensure,
            json!({"ids": ["J35"], "populationId": 1}),
            400,
            "invalidJson",
        ),
        (ensure, json!({"ids": "J35"}), 400, "invalidJson"),
        (ensure, json!({"ids": []}), 400, "invalidBatch"),
        (ensure, json!({"ids": many_ids}), 400, "invalidBatch"),
        // users
        (
            users,
            json!({"firstName": "A", "lastName": "B", "role": "admin"}),
            400,
            "invalidJson",
        ),
        (users, json!({"firstName": "A"}), 400, "invalidJson"),
        (
            users,
            json!({"firstName": long, "lastName": "B"}),
            400,
            "invalidName",
        ),
        (
            users,
            json!({"firstName": "A\u{0}", "lastName": "B"}),
            400,
            "invalidName",
        ),
        (
            users,
            json!({"firstName": "  ", "lastName": "B"}),
            400,
            "invalidName",
        ),
        (
            users,
            json!({"firstName": "A", "lastName": "B", "email": traversal}),
            400,
            "invalidEmail",
        ),
        // find-or-create
        (foc, fields(json!({"weather": "fog"})), 400, "invalidJson"),
        (
            foc,
            fields(json!({"gps": {"lat": "north", "lon": 1}})),
            400,
            "invalidJson",
        ),
        (
            foc,
            fields(json!({"locationName": long})),
            400,
            "invalidLocation",
        ),
        (
            foc,
            fields(json!({"locationName": ""})),
            400,
            "invalidLocation",
        ),
        (
            foc,
            fields(json!({"photographer": long})),
            400,
            "invalidPhotographer",
        ),
        (foc, fields(json!({"notes": long})), 400, "invalidNotes"),
        (
            foc,
            fields(json!({"date": "2024-02-30"})),
            400,
            "invalidDate",
        ),
        (foc, fields(json!({"time": "25:61"})), 400, "invalidTime"),
        (
            foc,
            fields(json!({"gps": {"lat": -91, "lon": 0}})),
            400,
            "invalidGps",
        ),
        (
            foc,
            fields(json!({"organisations": [-1]})),
            400,
            "invalidOrganisation",
        ),
        (
            foc,
            fields(json!({"organisations": [other_org + 1]})),
            400,
            "invalidOrganisation",
        ),
        (
            foc,
            fields(json!({"photographerUserId": -5})),
            400,
            "invalidPhotographerUser",
        ),
        (
            foc,
            fields(json!({"knownIndividuals": [traversal]})),
            400,
            "invalidIdentifier",
        ),
        (
            foc,
            fields(json!({"knownIndividuals": [long]})),
            400,
            "invalidIdentifier",
        ),
    ];
    let before = s.db_snapshot();
    for (path, body, status, code) in &cases {
        let (st, err) = s.post(&key, path, body.clone()).await;
        let shown: String = body.to_string().chars().take(160).collect();
        assert_eq!(
            (st, err["code"].as_str()),
            (*status, Some(*code)),
            "{path} {shown}: {err}"
        );
        let message = err["message"].as_str().unwrap_or_default();
        assert!(
            !message.is_empty() && message.len() < 2_000,
            "{path} {shown}: {message}"
        );
        assert_eq!(s.db_snapshot(), before, "{path} {shown} wrote something");
    }
    // Ensure answers bad identifiers per item (200), and writes nothing for them.
    let (st, res) = s
        .post(&key, ensure, json!({"ids": [traversal, long]}))
        .await;
    assert_eq!(st, 200);
    for r in res["results"].as_array().unwrap() {
        assert_eq!(r["status"], "failed");
        assert_eq!(r["error"]["code"], "invalidIdentifier");
        assert!(r["error"]["message"].as_str().unwrap().len() < 200);
    }
    assert_eq!(res["counts"]["created"], 0);
    assert_eq!(
        s.db_snapshot(),
        before,
        "ensure of bad identifiers wrote something"
    );
    // Not JSON, and bodies over 1 MiB, on each route.
    for path in [commit, copy, ensure, users, foc] {
        let resp = s
            .http
            .post(s.url(path))
            .bearer_auth(&key)
            .header("content-type", "application/json")
            .body("{\"ids\": [")
            .send()
            .await
            .unwrap();
        assert_eq!(resp.status().as_u16(), 400, "{path}");
        let err: serde_json::Value = resp.json().await.unwrap();
        assert_eq!(err["code"], "invalidJson", "{path}");
        let resp = s
            .http
            .post(s.url(path))
            .bearer_auth(&key)
            .header("content-type", "application/json")
            .body(format!("{{\"ids\": [\"{}\"]}}", "x".repeat(1_100_000)))
            .send()
            .await
            .unwrap();
        assert_eq!(resp.status().as_u16(), 413, "{path}");
    }
    assert_eq!(s.db_snapshot(), before);
}
