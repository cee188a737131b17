//! Commit verification and variants, server-side copy from a research group's storage,
//! extended encounters, individuals, jobs, population isolation, test-mode faults and the
//! fault proxy — against the real server and Azurite.

mod common;

use common::{jpeg, list_blobs, md5_b64, png, put_blob, read_blob, Stack, RESEARCH_ACCOUNT};
use finsync_core::fingerprint::{idempotency_key, Fingerprint};
use finsync_core::sas::{iso8601_utc, Account, Resource};
use finsync_server::variants;
use serde_json::json;
use std::time::{Duration, Instant};

fn key_for(n: u8) -> String {
    idempotency_key(
        1,
        "2024-07-15\u{1f}haro\u{1f}jane",
        &Fingerprint::new(n as u64, &[n], &[n]),
    )
}

/// Creates sessions for `items` (as [`sessions`]), PUTs each one's bytes, commits them all
/// in one request and returns the commit's answer.
async fn upload_and_commit(
    s: &Stack,
    key: &str,
    enc: i64,
    items: &[(String, &str, &[u8], Option<String>)],
) -> serde_json::Value {
    let urls = sessions(s, key, enc, items).await;
    for (url, (_, _, bytes, _)) in urls.iter().zip(items) {
        assert_eq!(put_blob(&s.http, url, bytes.to_vec()).await, 201);
    }
    let keys: Vec<String> = items.iter().map(|i| i.0.clone()).collect();
    let (st, res) = s
        .post(
            key,
            "/api/v1/upload-sessions/commit",
            json!({"idempotencyKeys": keys}),
        )
        .await;
    assert_eq!(st, 200, "{res}");
    res
}

async fn new_encounter(s: &Stack, key: &str) -> i64 {
    let (st, enc) = s
        .post(
            key,
            "/api/v1/encounters/find-or-create",
            json!({"date": "2024-07-15", "locationName": "Haro", "photographer": "Jane"}),
        )
        .await;
    assert_eq!(st, 200, "{enc}");
    enc["id"].as_i64().unwrap()
}

/// Creates sessions for `(key, name, bytes, md5)` and returns their upload URLs.
async fn sessions(
    s: &Stack,
    key: &str,
    enc: i64,
    items: &[(String, &str, &[u8], Option<String>)],
) -> Vec<String> {
    let items: Vec<_> = items
        .iter()
        .map(|(k, name, bytes, md5)| {
            let mut v = json!({"idempotencyKey": k, "fileName": name, "size": bytes.len(), "contentType": "image/jpeg"});
            if let Some(m) = md5 {
                v["contentMd5"] = json!(m);
            }
            v
        })
        .collect();
    let (st, body) = s
        .post(
            key,
            "/api/v1/upload-sessions",
            json!({"encounterId": enc, "items": items}),
        )
        .await;
    assert_eq!(st, 200, "{body}");
    body["sessions"]
        .as_array()
        .unwrap()
        .iter()
        .map(|x| x["uploadUrl"].as_str().unwrap_or_default().to_string())
        .collect()
}

#[tokio::test]
async fn commit_checks_md5_and_decoding_and_stores_variants() {
    let s = Stack::start().await;
    let (_, key) = s.population("P", true);
    let enc = new_encounter(&s, &key).await;
    let big = jpeg(600, 300, 1);
    let small_png = png(40, 20, 2);
    let corrupt: Vec<u8> = (0..5000u32).map(|i| (i * 7 % 251) as u8).collect();
    let lying = jpeg(30, 30, 4);
    let items = [
        (key_for(1), "big.jpg", big.as_slice(), Some(md5_b64(&big))),
        (key_for(2), "small.png", small_png.as_slice(), None),
        (key_for(3), "corrupt.jpg", corrupt.as_slice(), None),
        (
            key_for(4),
            "lying.jpg",
            lying.as_slice(),
            Some(md5_b64(b"something else")),
        ),
    ];
    let res = upload_and_commit(&s, &key, enc, &items).await;
    let r = res["results"].as_array().unwrap();
    assert_eq!(
        (r[0]["status"].as_str(), r[1]["status"].as_str()),
        (Some("complete"), Some("complete")),
        "{res}"
    );
    assert_eq!(r[2]["error"]["code"], "undecodable");
    assert!(r[2]["error"]["message"]
        .as_str()
        .unwrap()
        .contains("corrupt.jpg"));
    assert_eq!(r[3]["error"]["code"], "md5Mismatch");

    // Variants are made by the background queue, into Azurite's variants container, and fit
    // 256 / 1024 px.
    s.variants_settled().await;
    let account = s.azurite.account();
    let variants = format!("{}-variants", s.container);
    let mut names = list_blobs(&s.http, &account, &variants).await;
    names.sort();
    assert_eq!(names.len(), 4, "{names:?}");
    let thumb = read_blob(
        &s.http,
        &account,
        &variants,
        &format!("encounters/{enc}/{}/thumbnail.jpg", key_for(1)),
    )
    .await
    .unwrap();
    let t = image::load_from_memory(&thumb).unwrap();
    assert_eq!((t.width(), t.height()), (256, 128));
    let preview = read_blob(
        &s.http,
        &account,
        &variants,
        &format!("encounters/{enc}/{}/preview.jpg", key_for(1)),
    )
    .await
    .unwrap();
    assert_eq!(
        image::load_from_memory(&preview).unwrap().width(),
        600,
        "never upscaled"
    );
    // Originals live under their final names (uploaded in place); nothing under tmp/. The
    // corrupt one is there too, but it has no file item (checked above), so it is no image.
    let originals = list_blobs(&s.http, &account, &s.container).await;
    assert!(
        originals.contains(&format!("encounters/{enc}/{}/big.jpg", key_for(1))),
        "{originals:?}"
    );
    assert!(
        originals.contains(&format!("encounters/{enc}/{}/corrupt.jpg", key_for(3))),
        "{originals:?}"
    );
    assert!(
        !originals.iter().any(|n| n.starts_with("tmp/")),
        "{originals:?}"
    );

    // One queued ML job per committed image, and no more after committing again.
    let (_, res2) = s
        .post(
            &key,
            "/api/v1/upload-sessions/commit",
            json!({"idempotencyKeys": [key_for(1), key_for(2)]}),
        )
        .await;
    assert_eq!(res2["results"][0]["fileItemId"], r[0]["fileItemId"]);
    let (st, jobs) = s
        .get(Some(&key), &format!("/api/v1/jobs?encounterId={enc}"))
        .await;
    assert_eq!(st, 200);
    let jobs = jobs["jobs"].as_array().unwrap();
    assert_eq!(jobs.len(), 4, "{jobs:?}");
    let of = |kind: &str, state: &str| {
        jobs.iter()
            .filter(|j| j["kind"] == kind && j["state"] == state)
            .count()
    };
    assert_eq!((of("mlPipeline", "queued"), of("variants", "done")), (2, 2));
    assert_eq!(s.count("SELECT COUNT(*) FROM file_items"), 2);
    let (st, _) = s.get(Some(&key), "/api/v1/jobs").await;
    assert_eq!(st, 400);

    // The encounter detail and page show the thumbnails, served through the server.
    let (_, detail) = s
        .get(Some(&key), &format!("/api/v1/encounters/{enc}"))
        .await;
    let img = detail["images"]
        .as_array()
        .unwrap()
        .iter()
        .find(|i| i["fileName"] == "big.jpg")
        .unwrap();
    assert_eq!(
        (img["width"].as_u64(), img["height"].as_u64()),
        (Some(600), Some(300))
    );
    let thumb_url = img["thumbnailUrl"].as_str().unwrap();
    let resp = s.http.get(s.url(thumb_url)).send().await.unwrap();
    assert_eq!(resp.status().as_u16(), 200);
    assert_eq!(resp.headers()["content-type"], "image/jpeg");
    assert_eq!(resp.bytes().await.unwrap().as_ref(), thumb.as_slice());
    let page = s
        .http
        .get(s.url(&format!("/encounters/{enc}")))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(
        page.contains(&format!("<img src=\"{thumb_url}\"")),
        "{page}"
    );
    let (st, _) = s
        .get(None, &format!("/encounters/{enc}/images/999/thumbnail"))
        .await;
    assert_eq!(st, 404);

    // A fixed re-upload of the corrupt file commits.
    let good = jpeg(20, 20, 9);
    let fixed_key = key_for(5);
    let url = sessions(
        &s,
        &key,
        enc,
        &[(
            fixed_key.clone(),
            "fixed.jpg",
            good.as_slice(),
            Some(md5_b64(&good)),
        )],
    )
    .await;
    assert_eq!(put_blob(&s.http, &url[0], good).await, 201);
    let (_, res3) = s
        .post(
            &key,
            "/api/v1/upload-sessions/commit",
            json!({"idempotencyKeys": [fixed_key]}),
        )
        .await;
    assert_eq!(res3["results"][0]["status"], "complete");
    // A malformed contentMd5 is refused before anything is written.
    let (st, err) = s.post(&key, "/api/v1/upload-sessions", json!({"encounterId": enc, "items": [
        {"idempotencyKey": key_for(6), "fileName": "x.jpg", "size": 3, "contentType": "image/jpeg", "contentMd5": "bm90IDE2IGJ5dGVz"}
    ]})).await;
    assert_eq!((st, err["code"].as_str()), (400, Some("invalidMd5")));
    assert_eq!(s.count("SELECT COUNT(*) FROM upload_sessions"), 5);
}

/// Creates `container` in the research group's account (standing in for its own storage) and
/// puts `photo` there as `blob`.
async fn research_photo(s: &Stack, research: &Account, container: &str, blob: &str, photo: &[u8]) {
    let admin = research.account_sas(
        "rwdlac",
        "sco",
        &iso8601_utc(finsync_server::now_unix() + 600),
    );
    let resp = s
        .http
        .put(format!(
            "{}?restype=container&{admin}",
            research.url(container, Resource::Container)
        ))
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status().as_u16(), 201);
    let put = research_url(research, container, blob, "cw", 600);
    assert_eq!(put_blob(&s.http, &put, photo.to_vec()).await, 201);
}

fn research_url(
    account: &Account,
    container: &str,
    blob: &str,
    perms: &str,
    expiry_offset: i64,
) -> String {
    let expiry = iso8601_utc(finsync_server::now_unix() + expiry_offset);
    format!(
        "{}?{}",
        account.url(container, Resource::Blob(blob)),
        account.service_sas(container, Resource::Blob(blob), perms, None, &expiry)
    )
}

#[tokio::test]
async fn copies_from_a_research_groups_storage_and_explains_refusals() {
    let s = Stack::start().await;
    let (_, key) = s.population("P", true);
    let enc = new_encounter(&s, &key).await;
    // The research group's own account and container, holding a photo.
    let research = s.azurite.research_account();
    assert!(research.blob_endpoint.contains(RESEARCH_ACCOUNT));
    let photo = jpeg(120, 80, 7);
    research_photo(&s, &research, "survey", "2024/07/IMG_1.jpg", &photo).await;

    let items: Vec<(String, &str, &[u8], Option<String>)> = (1..=5)
        .map(|n| {
            (
                key_for(n),
                "IMG_1.jpg",
                photo.as_slice(),
                Some(md5_b64(&photo)),
            )
        })
        .collect();
    sessions(&s, &key, enc, &items).await;
    let good = research_url(&research, "survey", "2024/07/IMG_1.jpg", "r", 600);
    let expired = research_url(&research, "survey", "2024/07/IMG_1.jpg", "r", -60);
    let no_read = research_url(&research, "survey", "2024/07/IMG_1.jpg", "w", 600);
    let missing = research_url(&research, "survey", "2024/07/nope.jpg", "r", 600);
    let (st, res) = s
        .post(
            &key,
            "/api/v1/upload-sessions/copy",
            json!({"items": [
                {"idempotencyKey": key_for(1), "sourceUrl": good},
                {"idempotencyKey": key_for(2), "sourceUrl": expired},
                {"idempotencyKey": key_for(3), "sourceUrl": no_read},
                {"idempotencyKey": key_for(4), "sourceUrl": missing},
                {"idempotencyKey": key_for(9), "sourceUrl": good},
            ]}),
        )
        .await;
    assert_eq!(st, 200, "{res}");
    let r = res["results"].as_array().unwrap();
    assert_eq!(r[0]["status"], "copied", "{res}");
    assert_eq!(r[1]["error"]["code"], "copySourceDenied", "{res}");
    let msg = r[1]["error"]["message"].as_str().unwrap();
    assert!(
        msg.contains("expired") && msg.contains("Read") && msg.contains("IP"),
        "{msg}"
    );
    assert_eq!(r[2]["error"]["code"], "copySourceDenied");
    assert_eq!(r[3]["error"]["code"], "copySourceNotFound");
    assert_eq!(r[4]["error"]["code"], "unknownSession");
    assert!(!res.to_string().contains("sig="), "no SAS in answers");

    // The copied session commits like an upload (MD5 and decoding checked); a refused one
    // has no blob.
    let (_, com) = s
        .post(
            &key,
            "/api/v1/upload-sessions/commit",
            json!({"idempotencyKeys": [key_for(1), key_for(2)]}),
        )
        .await;
    assert_eq!(com["results"][0]["status"], "complete", "{com}");
    assert_eq!(com["results"][1]["error"]["code"], "blobMissing");
    let stored = read_blob(
        &s.http,
        &s.azurite.account(),
        &s.container,
        &format!("encounters/{enc}/{}/IMG_1.jpg", key_for(1)),
    )
    .await;
    assert_eq!(stored, Some(photo.clone()));
    // Copy after commit → complete, nothing copied; a fresh SAS fixes the refused one.
    let fresh = research_url(&research, "survey", "2024/07/IMG_1.jpg", "r", 600);
    let (_, again) = s
        .post(
            &key,
            "/api/v1/upload-sessions/copy",
            json!({"items": [
                {"idempotencyKey": key_for(1), "sourceUrl": fresh},
                {"idempotencyKey": key_for(2), "sourceUrl": fresh},
            ]}),
        )
        .await;
    assert_eq!(
        (
            again["results"][0]["status"].as_str(),
            again["results"][1]["status"].as_str()
        ),
        (Some("complete"), Some("copied"))
    );

    // Bad input: 400, nothing copied.
    for (url, code) in [
        ("ftp://host/a/b", "invalidSourceUrl"),
        ("not a url", "invalidSourceUrl"),
        ("http://user:pw@host/a/b", "invalidSourceUrl"),
    ] {
        let (st, err) = s
            .post(
                &key,
                "/api/v1/upload-sessions/copy",
                json!({"items": [{"idempotencyKey": key_for(5), "sourceUrl": url}]}),
            )
            .await;
        assert_eq!((st, err["code"].as_str()), (400, Some(code)));
    }
    let (st, _) = s
        .post(&key, "/api/v1/upload-sessions/copy", json!({"items": []}))
        .await;
    assert_eq!(st, 400);
    // Another population's key cannot copy into these sessions.
    let (_, other) = s.population("Q", true);
    let (_, res) = s
        .post(
            &other,
            "/api/v1/upload-sessions/copy",
            json!({"items": [{"idempotencyKey": key_for(5), "sourceUrl": fresh}]}),
        )
        .await;
    assert_eq!(res["results"][0]["error"]["code"], "unknownSession");
}

/// The app's storage connections (`finsync_core::cloud`) make the source URLs: a connection
/// string signs a per-blob read SAS, a SAS-token connection appends its token. Checked against
/// the research group's account on Azurite, through the copy endpoint, and with the app's
/// reading of each answer (`cloud::copy_error`).
#[tokio::test]
async fn storage_connections_mint_source_urls_the_storage_service_accepts() {
    use common::RESEARCH_KEY;
    use finsync_core::cloud::{copy_error, ConnectionAuth, CopyErrorAction, StorageConnection};

    let s = Stack::start().await;
    let (_, key) = s.population("P", true);
    let enc = new_encounter(&s, &key).await;
    let research = s.azurite.research_account();
    let photo = jpeg(64, 48, 3);
    research_photo(&s, &research, "source", "2024/07/a b.jpg", &photo).await;

    let connection = |id: &str, auth: ConnectionAuth| StorageConnection {
        id: id.into(),
        name: id.into(),
        account: RESEARCH_ACCOUNT.into(),
        auth,
        created_at: "2026-11-26T12:00:00Z".into(),
    };
    let endpoint = research.blob_endpoint.clone();
    let now = finsync_server::now_unix();
    let token = |perms: &str, offset: i64| ConnectionAuth::SasToken {
        blob_endpoint: endpoint.clone(),
        token: format!(
            "?{}",
            research.account_sas(perms, "sco", &iso8601_utc(now + offset))
        ),
    };
    let by_key = connection(
        "key",
        ConnectionAuth::ConnectionString {
            value: format!(
                "DefaultEndpointsProtocol=http;AccountName={RESEARCH_ACCOUNT};AccountKey={RESEARCH_KEY};BlobEndpoint={endpoint}"
            ),
        },
    );
    let good_token = connection("good", token("rl", 600));
    let expired_token = connection("expired", token("rl", -60));
    let list_only = connection("list", token("l", 600));
    let cases = [
        (&by_key, "2024/07/a b.jpg"),
        (&good_token, "2024/07/a b.jpg"),
        (&expired_token, "2024/07/a b.jpg"),
        (&list_only, "2024/07/a b.jpg"),
        (&by_key, "2024/07/gone.jpg"),
    ];
    let items: Vec<(String, &str, &[u8], Option<String>)> = (1..=cases.len() as u8)
        .map(|n| {
            (
                key_for(n),
                "a b.jpg",
                photo.as_slice(),
                Some(md5_b64(&photo)),
            )
        })
        .collect();
    sessions(&s, &key, enc, &items).await;
    let body: Vec<_> = cases
        .iter()
        .enumerate()
        .map(|(i, (c, blob))| {
            json!({
                "idempotencyKey": key_for(i as u8 + 1),
                "sourceUrl": c.read_url("source", blob, now).unwrap(),
            })
        })
        .collect();
    let (st, res) = s
        .post(
            &key,
            "/api/v1/upload-sessions/copy",
            json!({ "items": body }),
        )
        .await;
    assert_eq!(st, 200, "{res}");
    let r = res["results"].as_array().unwrap();
    let statuses: Vec<_> = r
        .iter()
        .map(|x| {
            (
                x["status"].as_str().unwrap().to_string(),
                x["error"]["code"].as_str().unwrap_or("").to_string(),
            )
        })
        .collect();
    assert_eq!(
        statuses,
        [
            ("copied".into(), "".into()),
            ("copied".into(), "".into()),
            ("error".into(), "copySourceDenied".into()),
            ("error".into(), "copySourceDenied".into()),
            ("error".into(), "copySourceNotFound".into()),
        ],
        "{res}"
    );
    // The Azure error code reaches the app, and the app turns it into the fix.
    let denied = r[2]["error"]["message"].as_str().unwrap();
    assert!(denied.contains("403 CannotVerifyCopySource"), "{denied}");
    let CopyErrorAction::Fail(explained) = copy_error("copySourceDenied", denied) else {
        panic!()
    };
    assert!(
        explained.contains("Settings → Azure storage connections")
            && explained.contains("Read + List, srt=sco")
            && !explained.contains("probably expired"),
        "the service's words, the app's fix, not the server's advice twice: {explained}"
    );
    assert!(matches!(
        copy_error(
            "copySourceNotFound",
            r[4]["error"]["message"].as_str().unwrap()
        ),
        CopyErrorAction::SourceMissing(_)
    ));
    assert!(
        !res.to_string().contains("sig="),
        "no SAS in answers: {res}"
    );
    // Both copies commit like uploads, with the source's bytes.
    let (_, com) = s
        .post(
            &key,
            "/api/v1/upload-sessions/commit",
            json!({"idempotencyKeys": [key_for(1), key_for(2)]}),
        )
        .await;
    assert_eq!(com["results"][0]["status"], "complete", "{com}");
    assert_eq!(com["results"][1]["status"], "complete", "{com}");
    for n in [1, 2] {
        let stored = read_blob(
            &s.http,
            &s.azurite.account(),
            &s.container,
            &format!("encounters/{enc}/{}/a b.jpg", key_for(n)),
        )
        .await;
        assert_eq!(stored.as_deref(), Some(photo.as_slice()));
    }
    // A copy sent again after its commit answers complete and copies nothing.
    let again = by_key.read_url("source", "2024/07/a b.jpg", now).unwrap();
    let (_, res) = s
        .post(
            &key,
            "/api/v1/upload-sessions/copy",
            json!({"items": [{"idempotencyKey": key_for(1), "sourceUrl": again}]}),
        )
        .await;
    assert_eq!(res["results"][0]["status"], "complete", "{res}");
    // Nothing secret in the audit log or the sessions' stored errors.
    let leaked = s.count(
        "SELECT COUNT(*) FROM audit_log WHERE detail LIKE '%sig=%' OR detail LIKE '%AccountKey%'",
    ) + s.count("SELECT COUNT(*) FROM upload_sessions WHERE error LIKE '%sig=%'");
    assert_eq!(leaked, 0);
}

#[tokio::test]
async fn encounters_carry_license_organisations_and_attested_individuals() {
    let s = Stack::start().await;
    let (p, key) = s.population("P", true);
    let org = s.organisation_of(p);
    let body = json!({
        "date": "2024-07-15", "time": "10:12:00", "locationName": "Haro", "photographer": "Jane",
        "gps": {"lat": 48.5, "lon": -123.1}, "notes": "calm sea",
        "license": "privateOrganisation", "organisations": [org, org],
        "knownIndividuals": ["T002B", " t002b ", "J047"]
    });
    let (st, enc) = s
        .post(&key, "/api/v1/encounters/find-or-create", body)
        .await;
    assert_eq!(st, 200, "{enc}");
    assert_eq!(enc["created"], true);
    let links = enc["individuals"].as_array().unwrap();
    assert_eq!(links.len(), 2, "{enc}");
    assert!(links
        .iter()
        .all(|l| l["evidenceTier"] == "attested" && l["created"] == true));
    let id = enc["id"].as_i64().unwrap();
    // A matching request reuses it (dedup unchanged) and links a further animal.
    let (_, again) = s.post(&key, "/api/v1/encounters/find-or-create", json!({
        "date": "2024-07-15", "locationName": "haro", "photographer": "jane", "knownIndividuals": ["J047", "L87"]
    })).await;
    assert_eq!(
        (again["id"].as_i64(), &again["created"]),
        (Some(id), &json!(false))
    );
    assert_eq!(again["individuals"][0]["created"], false);
    let (_, detail) = s.get(Some(&key), &format!("/api/v1/encounters/{id}")).await;
    assert_eq!(detail["license"], "privateOrganisation");
    assert_eq!(detail["organisations"].as_array().unwrap().len(), 1);
    assert_eq!(detail["notes"], "calm sea");
    assert_eq!(detail["time"], "10:12:00");
    let ids: Vec<&str> = detail["individuals"]
        .as_array()
        .unwrap()
        .iter()
        .map(|i| i["identifier"].as_str().unwrap())
        .collect();
    assert_eq!(ids, ["J047", "L87", "T002B"]);
    // The public page of a private encounter shows no pictures and no notes.
    let page = s
        .http
        .get(s.url(&format!("/encounters/{id}")))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(
        page.contains("privateOrganisation") && !page.contains("calm sea"),
        "{page}"
    );
    // Its thumbnails: not on the public route, but through a short-lived SAS for key holders.
    let img = jpeg(64, 48, 5);
    let url = sessions(&s, &key, id, &[(key_for(1), "p.jpg", img.as_slice(), None)]).await;
    assert_eq!(put_blob(&s.http, &url[0], img).await, 201);
    let (_, res) = s
        .post(
            &key,
            "/api/v1/upload-sessions/commit",
            json!({"idempotencyKeys": [key_for(1)]}),
        )
        .await;
    let fid = res["results"][0]["fileItemId"].as_i64().unwrap();
    s.variants_settled().await;
    let (st, _) = s
        .get(None, &format!("/encounters/{id}/images/{fid}/thumbnail"))
        .await;
    assert_eq!(st, 404);
    let (_, detail) = s.get(Some(&key), &format!("/api/v1/encounters/{id}")).await;
    let sas = detail["images"][0]["thumbnailUrl"].as_str().unwrap();
    assert!(
        sas.starts_with(&s.azurite.endpoint) && sas.contains("sp=r&sig="),
        "{sas}"
    );
    assert_eq!(s.http.get(sas).send().await.unwrap().status().as_u16(), 200);

    // Bad input: 400 and no encounter written.
    let before = s.count("SELECT COUNT(*) FROM encounters");
    for (extra, code) in [
        (json!({"organisations": [99999]}), "invalidOrganisation"),
        (json!({"knownIndividuals": ["a,b"]}), "invalidIdentifier"),
        (json!({"license": "cc0"}), "invalidJson"),
        (json!({"time": "25:00"}), "invalidTime"),
    ] {
        let mut b = json!({"date": "2024-08-01", "locationName": "X", "photographer": "Y"});
        for (k, v) in extra.as_object().unwrap() {
            b[k] = v.clone();
        }
        let (st, err) = s.post(&key, "/api/v1/encounters/find-or-create", b).await;
        assert_eq!((st, err["code"].as_str()), (400, Some(code)), "{extra}");
    }
    assert_eq!(s.count("SELECT COUNT(*) FROM encounters"), before);
    assert_eq!(s.count("SELECT COUNT(*) FROM individuals"), 3);
}

#[tokio::test]
async fn ensure_individuals_is_idempotent_and_validates() {
    let s = Stack::start().await;
    let (_, key) = s.population("P", true);
    let (_, other) = s.population("Q", true);
    let ids = json!({"ids": ["HW-001", "Nebula", "hw-001", "a;b", "T002B"]});
    let (st, res) = s
        .post(&key, "/api/v1/individuals/ensure", ids.clone())
        .await;
    assert_eq!(st, 200, "{res}");
    assert_eq!(
        res["counts"],
        json!({"found": 4, "existed": 0, "created": 3, "failed": 1})
    );
    assert_eq!(res["results"][2]["status"], "failed");
    assert_eq!(res["results"][2]["error"]["code"], "invalidIdentifier");
    let (_, again) = s
        .post(&key, "/api/v1/individuals/ensure", ids.clone())
        .await;
    assert_eq!(
        again["counts"],
        json!({"found": 4, "existed": 3, "created": 0, "failed": 1})
    );
    assert_eq!(
        again["results"][0]["individualId"],
        res["results"][0]["individualId"]
    );
    // Catalogues are per population.
    let (_, theirs) = s
        .post(
            &other,
            "/api/v1/individuals/ensure",
            json!({"ids": ["HW-001"]}),
        )
        .await;
    assert_eq!(theirs["counts"]["created"], 1);
    for body in [
        json!({"ids": []}),
        json!({"ids": "HW-001"}),
        json!({"ids": vec!["x"; 501]}),
    ] {
        let (st, _) = s.post(&key, "/api/v1/individuals/ensure", body).await;
        assert_eq!(st, 400);
    }
    assert_eq!(s.count("SELECT COUNT(*) FROM individuals"), 4);
}

#[tokio::test]
async fn other_populations_get_403_everywhere_like_missing_ones() {
    let s = Stack::start().await;
    let (_, a) = s.population("A", true);
    let (_, b) = s.population("B", true);
    let enc = new_encounter(&s, &a).await;
    let img = jpeg(16, 16, 1);
    let url = sessions(&s, &a, enc, &[(key_for(1), "a.jpg", img.as_slice(), None)]).await;
    assert_eq!(put_blob(&s.http, &url[0], img).await, 201);
    // A's encounter and one that exists nowhere get the same answer from B's key.
    let missing = enc + 1000;
    for (id, other) in [(enc, missing), (missing, enc)] {
        for path in [
            format!("/api/v1/encounters/{id}"),
            format!("/api/v1/jobs?encounterId={id}"),
        ] {
            let (st, err) = s.get(Some(&b), &path).await;
            assert_eq!(
                (st, err["code"].as_str()),
                (403, Some("notInPopulation")),
                "{path}"
            );
            let message = err["message"].as_str().unwrap_or_default();
            assert_eq!(
                message.replace(&id.to_string(), "N"),
                "this encounter N is not in your key's population, or does not exist",
                "{path} (vs {other})"
            );
        }
    }
    let (st, err) = s.get(Some(&b), "/api/v1/encounters/abc").await;
    assert_eq!((st, err["code"].as_str()), (400, Some("invalidPath")));
    for id in [enc, missing] {
        let (st, err) = s.post(&b, "/api/v1/upload-sessions", json!({"encounterId": id, "items": [
            {"idempotencyKey": key_for(2), "fileName": "b.jpg", "size": 1, "contentType": "image/jpeg"}]})).await;
        assert_eq!((st, err["code"].as_str()), (403, Some("notInPopulation")));
    }
    let (_, res) = s
        .post(
            &b,
            "/api/v1/upload-sessions/commit",
            json!({"idempotencyKeys": [key_for(1)]}),
        )
        .await;
    assert_eq!(res["results"][0]["error"]["code"], "unknownSession");
    assert_eq!(s.count("SELECT COUNT(*) FROM file_items"), 0);
    let (_, res) = s
        .post(
            &a,
            "/api/v1/upload-sessions/commit",
            json!({"idempotencyKeys": [key_for(1)]}),
        )
        .await;
    assert_eq!(res["results"][0]["status"], "complete");
}

#[tokio::test]
async fn test_mode_injects_faults_deterministically_and_switches_key_status() {
    let s = Stack::start_with(|c| c.test_mode = true).await;
    let (_, key) = s.population("P", true);
    let faults = |routes: &[&str], rate: f64, kinds: &[&str], seed: u64| json!({"routes": routes, "rate": rate, "kinds": kinds, "seed": seed, "hangMs": 300});
    let (st, _) = s
        .post(
            "",
            "/api/v1/test/faults",
            faults(&["/api/v1/status"], 1.0, &["503"], 1),
        )
        .await;
    assert_eq!(st, 200);
    let (st, err) = s.get(Some(&key), "/api/v1/status").await;
    assert_eq!((st, err["code"].as_str()), (503, Some("faultInjected")));
    // Other routes are untouched.
    let (st, _) = s
        .post(&key, "/api/v1/individuals/ensure", json!({"ids": ["A1"]}))
        .await;
    assert_eq!(st, 200);
    // Reset: no response at all; hang: no response after the hang.
    s.post(
        "",
        "/api/v1/test/faults",
        faults(&["/api/v1/status"], 1.0, &["reset"], 1),
    )
    .await;
    assert!(s.http.get(s.url("/api/v1/status")).send().await.is_err());
    s.post(
        "",
        "/api/v1/test/faults",
        faults(&["/api/v1/st*"], 1.0, &["hang"], 1),
    )
    .await;
    let t = std::time::Instant::now();
    assert!(s.http.get(s.url("/api/v1/status")).send().await.is_err());
    assert!(t.elapsed() >= std::time::Duration::from_millis(300));
    // The same seed gives the same sequence.
    let mut runs = Vec::new();
    for _ in 0..2 {
        s.post(
            "",
            "/api/v1/test/faults",
            faults(&["/api/v1/status"], 0.5, &["502", "503"], 42),
        )
        .await;
        let mut seq = Vec::new();
        for _ in 0..16 {
            seq.push(s.get(None, "/api/v1/status").await.0);
        }
        runs.push(seq);
    }
    assert_eq!(runs[0], runs[1]);
    assert!(
        runs[0].contains(&200) && runs[0].iter().any(|c| *c >= 502),
        "{:?}",
        runs[0]
    );
    let (_, state) = s.get(None, "/api/v1/test/faults").await;
    assert_eq!(state["matched"], 16);
    // Bad configurations are refused; empty routes turn faults off.
    let (st, err) = s
        .post("", "/api/v1/test/faults", faults(&["/x"], 2.0, &["502"], 1))
        .await;
    assert_eq!((st, err["code"].as_str()), (400, Some("invalidFaults")));
    s.post("", "/api/v1/test/faults", faults(&[], 0.0, &[], 0))
        .await;

    // The key-status switch walks a key through every status the server can produce.
    for (want, sync_status) in [("accessDenied", 403), ("invalid", 401), ("ready", 200)] {
        let (st, body) = s
            .post(&key, "/api/v1/test/key-status", json!({"status": want}))
            .await;
        assert_eq!((st, body["keyStatus"].as_str()), (200, Some(want)));
        let (_, status) = s.get(Some(&key), "/api/v1/status").await;
        assert_eq!(status["keyStatus"], want);
        let (st, _) = s
            .post(&key, "/api/v1/individuals/ensure", json!({"ids": ["A1"]}))
            .await;
        assert_eq!(st, sync_status, "{want}");
    }
    let (st, _) = s
        .post(
            &key,
            "/api/v1/test/key-status",
            json!({"status": "provisioning"}),
        )
        .await;
    assert_eq!(st, 400);
}

#[tokio::test]
async fn test_endpoints_do_not_exist_without_test_mode() {
    let s = Stack::start().await;
    let (_, key) = s.population("P", true);
    let (st, _) = s
        .post(
            "",
            "/api/v1/test/faults",
            json!({"routes": ["*"], "rate": 1.0, "kinds": ["502"], "seed": 1}),
        )
        .await;
    assert_eq!(st, 404);
    let (st, _) = s
        .post(
            &key,
            "/api/v1/test/key-status",
            json!({"status": "invalid"}),
        )
        .await;
    assert_eq!(st, 404);
    let (_, status) = s.get(Some(&key), "/api/v1/status").await;
    assert_eq!(status["keyStatus"], "ready");
}

struct Proxy(std::process::Child, String);

impl Drop for Proxy {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

fn start_proxy(target: &str, args: &[&str]) -> Proxy {
    let port = common::free_port();
    let child = std::process::Command::new(env!("CARGO_BIN_EXE_finsync-fault-proxy"))
        .args(["--listen", &format!("127.0.0.1:{port}"), "--target", target])
        .args(args)
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .spawn()
        .expect("start the fault proxy");
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(10);
    while std::net::TcpStream::connect(("127.0.0.1", port)).is_err() {
        assert!(std::time::Instant::now() < deadline, "proxy did not start");
        std::thread::sleep(std::time::Duration::from_millis(50));
    }
    Proxy(child, format!("127.0.0.1:{port}"))
}

#[tokio::test]
async fn fault_proxy_faults_blob_puts_and_passes_preflights() {
    let s = Stack::start().await;
    let (_, key) = s.population("P", true);
    let enc = new_encounter(&s, &key).await;
    let img = jpeg(16, 16, 3);
    let urls = sessions(
        &s,
        &key,
        enc,
        &[(key_for(1), "a.jpg", img.as_slice(), None)],
    )
    .await;
    let azurite = s
        .azurite
        .endpoint
        .trim_end_matches("/devstoreaccount1")
        .to_string();
    let host = azurite.trim_start_matches("http://").to_string();
    let faulty = start_proxy(
        &azurite,
        &[
            "--rate",
            "1",
            "--kinds",
            "503",
            "--routes",
            "/devstoreaccount1/finsync-test/encounters/*",
        ],
    );
    let via = urls[0].replace(&host, &faulty.1);
    // Faulted PUT: a 503 shaped like the blob service's, visible to the app's origin.
    let resp = s
        .http
        .put(&via)
        .header("x-ms-blob-type", "BlockBlob")
        .header("origin", common::ORIGIN)
        .body(img.clone())
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status().as_u16(), 503);
    assert_eq!(resp.headers()["x-ms-error-code"], "FaultInjected");
    assert_eq!(
        resp.headers()["access-control-allow-origin"],
        common::ORIGIN
    );
    // Preflights pass through untouched (Azurite answers them).
    let pre = s
        .http
        .request(reqwest::Method::OPTIONS, &via)
        .header("origin", common::ORIGIN)
        .header("access-control-request-method", "PUT")
        .send()
        .await
        .unwrap();
    assert_eq!(pre.status().as_u16(), 200);
    assert_eq!(pre.headers()["access-control-allow-origin"], common::ORIGIN);
    // Rate 0: everything is forwarded byte-exact (streamed both ways), and commit sees it.
    let clean = start_proxy(&azurite, &["--rate", "0"]);
    assert_eq!(
        put_blob(&s.http, &urls[0].replace(&host, &clean.1), img.clone()).await,
        201
    );
    let (_, res) = s
        .post(
            &key,
            "/api/v1/upload-sessions/commit",
            json!({"idempotencyKeys": [key_for(1)]}),
        )
        .await;
    assert_eq!(res["results"][0]["status"], "complete", "{res}");
    // Reset: the connection drops without an answer.
    let reset = start_proxy(&azurite, &["--rate", "1", "--kinds", "reset"]);
    assert!(s
        .http
        .get(format!(
            "http://{}/devstoreaccount1/finsync-test?restype=container",
            reset.1
        ))
        .send()
        .await
        .is_err());
}

async fn put_as_blocks(s: &Stack, url: &str, bytes: &[u8]) {
    use base64::Engine;
    let id = base64::engine::general_purpose::STANDARD.encode("block-000001");
    let enc_id = finsync_core::sas::encode_query(&id);
    let r = s
        .http
        .put(format!("{url}&comp=block&blockid={enc_id}"))
        .body(bytes.to_vec())
        .send()
        .await
        .unwrap();
    assert_eq!(r.status().as_u16(), 201);
    let list = format!(
        "<?xml version=\"1.0\" encoding=\"utf-8\"?><BlockList><Latest>{id}</Latest></BlockList>"
    );
    let r = s
        .http
        .put(format!("{url}&comp=blocklist"))
        .body(list)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status().as_u16(), 201);
}

#[tokio::test]
async fn images_beyond_the_decode_limit_commit_after_size_and_md5_checks() {
    let s = Stack::start_with(|c| c.max_decode_bytes = 100).await;
    let (_, key) = s.population("P", true);
    let enc = new_encounter(&s, &key).await;
    let img = jpeg(64, 64, 1);
    let items = [
        (key_for(1), "whole.jpg", img.as_slice(), Some(md5_b64(&img))),
        (
            key_for(2),
            "blocks.jpg",
            img.as_slice(),
            Some(md5_b64(&img)),
        ),
        (
            key_for(3),
            "wrong.jpg",
            img.as_slice(),
            Some(md5_b64(b"other")),
        ),
    ];
    let urls = sessions(&s, &key, enc, &items).await;
    assert_eq!(put_blob(&s.http, &urls[0], img.clone()).await, 201);
    // Block uploads get no Content-MD5, so the server hashes the bytes itself.
    put_as_blocks(&s, &urls[1], &img).await;
    put_as_blocks(&s, &urls[2], &img).await;
    let keys: Vec<String> = items.iter().map(|i| i.0.clone()).collect();
    let (_, res) = s
        .post(
            &key,
            "/api/v1/upload-sessions/commit",
            json!({"idempotencyKeys": keys}),
        )
        .await;
    let r = res["results"].as_array().unwrap();
    assert_eq!(
        (r[0]["status"].as_str(), r[1]["status"].as_str()),
        (Some("complete"), Some("complete")),
        "{res}"
    );
    assert_eq!(r[2]["error"]["code"], "md5Mismatch");
    let (_, detail) = s
        .get(Some(&key), &format!("/api/v1/encounters/{enc}"))
        .await;
    assert!(detail["images"]
        .as_array()
        .unwrap()
        .iter()
        .all(|i| i["thumbnailUrl"].is_null() && i["width"].is_null()));
    assert!(list_blobs(
        &s.http,
        &s.azurite.account(),
        &format!("{}-variants", s.container)
    )
    .await
    .is_empty());
}

#[tokio::test]
async fn commit_answers_before_variants_and_a_restart_finishes_them() {
    // No variant workers: commit must not depend on the queue.
    let s = Stack::start_with(|c| c.variant_workers = 0).await;
    let (pop, key) = s.population("P", true);
    let enc = new_encounter(&s, &key).await;
    let good = jpeg(300, 200, 3);
    // A PNG cut short: its first bytes say PNG, so commit takes it; it cannot be decoded.
    let mut cut = png(300, 200, 5);
    cut.truncate(cut.len() / 2);
    let gif = b"GIF89a\x01\x00\x01\x00\x00\x00\x00;".to_vec();
    let items = [
        (key_for(1), "good.jpg", good.as_slice(), None),
        (key_for(2), "cut.jpg", cut.as_slice(), None),
        (key_for(3), "anim.jpg", gif.as_slice(), None),
    ];
    let res = upload_and_commit(&s, &key, enc, &items).await;
    let r = res["results"].as_array().unwrap();
    assert_eq!(
        (r[0]["status"].as_str(), r[1]["status"].as_str()),
        (Some("complete"), Some("complete")),
        "{res}"
    );
    assert_eq!(r[2]["error"]["code"], "undecodable", "{res}");
    assert!(r[2]["error"]["message"]
        .as_str()
        .unwrap()
        .contains("anim.jpg"));

    // Committed, variants pending: the detail says so and the page shows placeholders.
    let (_, detail) = s
        .get(Some(&key), &format!("/api/v1/encounters/{enc}"))
        .await;
    let images = detail["images"].as_array().unwrap();
    assert_eq!(images.len(), 2);
    assert!(images
        .iter()
        .all(|i| i["thumbnailUrl"].is_null() && i["variants"] == "queued"));
    let page_of = || async {
        s.http
            .get(s.url(&format!("/encounters/{enc}")))
            .send()
            .await
            .unwrap()
            .text()
            .await
            .unwrap()
    };
    let page = page_of().await;
    assert_eq!(page.matches("data-state=pending").count(), 2, "{page}");
    assert!(!page.contains("<img"), "{page}");
    let variants = format!("{}-variants", s.container);
    assert!(list_blobs(&s.http, &s.azurite.account(), &variants)
        .await
        .is_empty());

    // The server stopped in the middle of a job; a new one on the same database (and
    // storage) finishes the queue.
    s.db.tx_blocking(|tx| {
        tx.execute(
            "UPDATE jobs SET state = 'running' WHERE id = (SELECT MIN(id) FROM jobs WHERE kind = 'variants')",
            [],
        )?;
        Ok(())
    })
    .unwrap();
    let mut config = s.config.clone();
    config.variant_workers = 1;
    let (_router, _state) = finsync_server::build(config).await.unwrap();
    s.variants_settled().await;
    let state_of = |name: &str| {
        s.count(&format!(
            "SELECT CASE j.state WHEN 'done' THEN 1 WHEN 'failed' THEN 2 ELSE 0 END
             FROM jobs j JOIN file_items f ON f.id = j.file_item_id
             WHERE j.kind = 'variants' AND f.file_name = '{name}'"
        ))
    };
    assert_eq!((state_of("good.jpg"), state_of("cut.jpg")), (1, 2));
    let (_, detail) = s
        .get(Some(&key), &format!("/api/v1/encounters/{enc}"))
        .await;
    let by_name = |name: &str| {
        detail["images"]
            .as_array()
            .unwrap()
            .iter()
            .find(|i| i["fileName"] == name)
            .unwrap()
            .clone()
    };
    let good_img = by_name("good.jpg");
    assert_eq!(
        (good_img["width"].as_u64(), good_img["height"].as_u64()),
        (Some(300), Some(200))
    );
    assert_eq!(good_img["variants"], "done");
    let thumb_url = good_img["thumbnailUrl"].as_str().unwrap();
    let resp = s.http.get(s.url(thumb_url)).send().await.unwrap();
    assert_eq!(resp.status().as_u16(), 200);
    let t = image::load_from_memory(&resp.bytes().await.unwrap()).unwrap();
    assert_eq!((t.width(), t.height()), (256, 171));
    let cut_img = by_name("cut.jpg");
    assert_eq!(cut_img["variants"], "failed");
    assert!(cut_img["thumbnailUrl"].is_null());
    let page = page_of().await;
    assert_eq!(page.matches("<img").count(), 1, "{page}");
    assert!(!page.contains("data-state=pending"), "{page}");
    // The failure is in the population's audit log, naming the file.
    let note = s
        .db
        .tx_blocking(move |tx| {
            Ok(tx.query_row(
                "SELECT detail FROM audit_log WHERE population_id = ?1 AND action = 'variants.failed'",
                [pop],
                |r| r.get::<_, String>(0),
            )?)
        })
        .unwrap();
    assert!(note.contains("cut.jpg"), "{note}");
    // Still one file item and one job of each kind per image.
    assert_eq!(s.count("SELECT COUNT(*) FROM file_items"), 2);
    assert_eq!(s.count("SELECT COUNT(*) FROM jobs"), 4);
}

/// What the app sends: Put Block with the block's `Content-MD5`, deterministic block IDs.
/// Returns the status and, for a refusal, the error code and message.
async fn put_block(s: &Stack, url: &str, index: u32, body: &[u8], md5: &str) -> (u16, String) {
    use base64::Engine;
    let id = base64::engine::general_purpose::STANDARD.encode(format!("finsync-block-{index:06}"));
    let r = s
        .http
        .put(format!(
            "{url}&comp=block&blockid={}",
            finsync_core::sas::encode_query(&id)
        ))
        .header("Content-MD5", md5)
        .body(body.to_vec())
        .send()
        .await
        .unwrap();
    let status = r.status().as_u16();
    if status == 201 {
        return (status, String::new());
    }
    let code = r
        .headers()
        .get("x-ms-error-code")
        .map(|v| v.to_str().unwrap().to_string())
        .unwrap_or_default();
    (status, format!("{code}: {}", r.text().await.unwrap()))
}

async fn put_block_list(s: &Stack, url: &str, count: u32) -> u16 {
    use base64::Engine;
    let mut xml = String::from("<?xml version=\"1.0\" encoding=\"utf-8\"?><BlockList>");
    for i in 0..count {
        let id = base64::engine::general_purpose::STANDARD.encode(format!("finsync-block-{i:06}"));
        xml.push_str(&format!("<Latest>{id}</Latest>"));
    }
    xml.push_str("</BlockList>");
    s.http
        .put(format!("{url}&comp=blocklist"))
        .body(xml)
        .send()
        .await
        .unwrap()
        .status()
        .as_u16()
}

#[tokio::test]
async fn the_storage_service_refuses_a_block_whose_md5_is_wrong() {
    let s = Stack::start().await;
    let (_, key) = s.population("P", true);
    let enc = new_encounter(&s, &key).await;
    let img = jpeg(200, 200, 7);
    let (a, b) = img.split_at(img.len() / 2);
    let urls = sessions(
        &s,
        &key,
        enc,
        &[(
            key_for(1),
            "blocks.jpg",
            img.as_slice(),
            Some(md5_b64(&img)),
        )],
    )
    .await;
    let url = &urls[0];
    assert_eq!(
        put_block(&s, url, 0, a, &md5_b64(a)).await,
        (201, String::new())
    );
    // Block 1 changed on the way (one byte flipped): its MD5 no longer matches.
    let mut corrupted = b.to_vec();
    corrupted[10] ^= 0x55;
    // Azure answers `Md5Mismatch`, Azurite `InvalidOperation` "Provided contentMD5 doesn't
    // match."; the app sends the block again on either.
    let (status, error) = put_block(&s, url, 1, &corrupted, &md5_b64(b)).await;
    assert_eq!(status, 400, "{error}");
    assert!(
        (error.starts_with("Md5Mismatch:") || error.starts_with("InvalidOperation:"))
            && error.to_lowercase().contains("md5"),
        "{error}"
    );
    // The refused block was not staged: the list cannot be committed yet.
    assert_eq!(put_block_list(&s, url, 2).await, 400);
    // Sent again intact, it is taken, and the blob commits.
    assert_eq!(
        put_block(&s, url, 1, b, &md5_b64(b)).await,
        (201, String::new())
    );
    assert_eq!(put_block_list(&s, url, 2).await, 201);
    let (_, res) = s
        .post(
            &key,
            "/api/v1/upload-sessions/commit",
            json!({"idempotencyKeys": [key_for(1)]}),
        )
        .await;
    assert_eq!(res["results"][0]["status"], "complete", "{res}");
    let stored = read_blob(
        &s.http,
        &s.azurite.account(),
        &s.container,
        &format!("encounters/{enc}/{}/blocks.jpg", key_for(1)),
    )
    .await
    .unwrap();
    assert_eq!(stored, img);
}

/// Sends a lease request (`action`: acquire or break) for a blob with a fresh write SAS;
/// returns the status.
async fn lease(s: &Stack, container: &str, blob: &str, action: &str) -> u16 {
    let account = s.azurite.account();
    let expiry = iso8601_utc(finsync_server::now_unix() + 600);
    let url = format!(
        "{}?comp=lease&{}",
        account.url(container, Resource::Blob(blob)),
        account.service_sas(container, Resource::Blob(blob), "rw", None, &expiry)
    );
    let mut req = s.http.put(url).header("x-ms-lease-action", action);
    req = match action {
        "acquire" => req.header("x-ms-lease-duration", "-1"),
        _ => req.header("x-ms-lease-break-period", "0"),
    };
    req.send().await.expect("lease").status().as_u16()
}

#[tokio::test]
async fn a_variants_job_that_fails_backs_off_without_holding_the_worker() {
    let s = Stack::start().await;
    let (_pop, key) = s.population("P", true);
    let enc = new_encounter(&s, &key).await;
    // A real storage failure for one job only: its thumbnail's name in the variants
    // container holds a blob under an infinite lease, so writing it is refused (412).
    let variants = format!("{}-variants", s.container);
    let stuck_key = key_for(1);
    let thumb = finsync_server::ingest::variant_blob_name(enc, &stuck_key, "thumbnail");
    let account = s.azurite.account();
    let expiry = iso8601_utc(finsync_server::now_unix() + 600);
    let create = format!(
        "{}?{}",
        account.url(&variants, Resource::Blob(&thumb)),
        account.service_sas(&variants, Resource::Blob(&thumb), "cw", None, &expiry)
    );
    assert_eq!(
        put_blob(&s.http, &create, b"placeholder".to_vec()).await,
        201
    );
    assert_eq!(lease(&s, &variants, &thumb, "acquire").await, 201);

    let (a, b) = (jpeg(120, 80, 1), jpeg(120, 80, 2));
    let job_of = |name: &str| {
        format!(
            "SELECT {{}} FROM jobs j JOIN file_items f ON f.id = j.file_item_id
             WHERE j.kind = 'variants' AND f.file_name = '{name}'"
        )
    };
    let stuck_state = || {
        s.count(&job_of("stuck.jpg").replace(
            "{}",
            "CASE j.state WHEN 'queued' THEN 0 WHEN 'running' THEN 1 WHEN 'done' THEN 2 ELSE 3 END",
        ))
    };
    // The stuck image is committed (and queued) first, so the worker takes it first.
    let res = upload_and_commit(
        &s,
        &key,
        enc,
        &[(stuck_key.clone(), "stuck.jpg", a.as_slice(), None)],
    )
    .await;
    assert_eq!(res["results"][0]["status"], "complete", "{res}");
    let res = upload_and_commit(
        &s,
        &key,
        enc,
        &[(key_for(2), "fine.jpg", b.as_slice(), None)],
    )
    .await;
    assert_eq!(res["results"][0]["status"], "complete", "{res}");
    // It fails; the worker goes on to the other job at once instead of sleeping through the
    // stuck one's retries: that one is done well within the first backoff (2 s).
    let committed = Instant::now();
    while s.count(&job_of("fine.jpg").replace("{}", "j.state = 'done'")) != 1 {
        assert!(
            committed.elapsed() < Duration::from_millis(1_800),
            "fine.jpg waited behind the failing job"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    while s.count(&job_of("stuck.jpg").replace("{}", "j.attempts")) == 0 {
        assert!(
            committed.elapsed() < Duration::from_secs(10),
            "stuck.jpg never tried"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    // It is back in the queue (not failed), due again after its backoff, not now.
    let attempts = s.count(&job_of("stuck.jpg").replace("{}", "j.attempts"));
    assert!((1..=2).contains(&attempts), "{attempts}");
    assert!(matches!(stuck_state(), 0 | 1), "queued again, not failed");
    let not_before = s.count(&job_of("stuck.jpg").replace("{}", "j.not_before"));
    let now = finsync_server::now_unix();
    assert!(
        not_before <= now + variants::backoff_secs(attempts),
        "due within its backoff: {not_before} vs now {now}"
    );
    // The storage recovers (the lease is broken): the job's next attempt after its backoff
    // makes the variants.
    assert_eq!(lease(&s, &variants, &thumb, "break").await, 202);
    let deadline = Instant::now() + Duration::from_secs(30);
    while stuck_state() != 2 {
        assert!(Instant::now() < deadline, "stuck.jpg never done");
        assert_ne!(stuck_state(), 3, "failed instead of retried");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let attempts = s.count(&job_of("stuck.jpg").replace("{}", "j.attempts"));
    assert!((1..=3).contains(&attempts), "{attempts}");
    let thumb_bytes = read_blob(&s.http, &account, &variants, &thumb)
        .await
        .unwrap();
    let t = image::load_from_memory(&thumb_bytes).expect("a real thumbnail now");
    assert_eq!((t.width(), t.height()), (120, 80));
}

#[tokio::test]
async fn the_variants_queue_yields_while_uploads_go_on() {
    let s = Stack::start_with(|c| c.variants_quiet_ms = 3_000).await;
    let (_pop, key) = s.population("P", true);
    let enc = new_encounter(&s, &key).await;
    let img = jpeg(120, 80, 9);
    let res = upload_and_commit(
        &s,
        &key,
        enc,
        &[(key_for(9), "a.jpg", img.as_slice(), None)],
    )
    .await;
    assert_eq!(res["results"][0]["status"], "complete", "{res}");
    let committed = Instant::now();
    let done = || s.count("SELECT COUNT(*) FROM jobs WHERE kind = 'variants' AND state = 'done'");
    // Right after the commit (an upload request) the queue waits for 3 s of quiet, though
    // the job takes milliseconds.
    tokio::time::sleep(Duration::from_millis(1_000)).await;
    assert_eq!(done(), 0, "the job ran while uploads were going on");
    // Then it runs.
    while done() != 1 {
        assert!(committed.elapsed() < Duration::from_secs(20), "never done");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    assert!(committed.elapsed() >= Duration::from_millis(2_500));
}

/// The snapshots of one blob (List Blobs with `include=snapshots`), oldest first.
async fn snapshots_of(s: &Stack, blob: &str) -> Vec<String> {
    let account = s.azurite.account();
    let expiry = iso8601_utc(finsync_server::now_unix() + 600);
    let url = format!(
        "{}?restype=container&comp=list&include=snapshots&prefix={}&{}",
        account.url(&s.container, Resource::Container),
        finsync_core::sas::encode_query(blob),
        account.account_sas("rl", "co", &expiry)
    );
    let xml = s.http.get(url).send().await.unwrap().text().await.unwrap();
    xml.split("<Snapshot>")
        .skip(1)
        .filter_map(|p| p.split_once("</Snapshot>").map(|(t, _)| t.to_string()))
        .collect()
}

/// Reads a snapshot of a blob with the account key's SAS.
async fn read_snapshot(s: &Stack, blob: &str, snapshot: &str) -> Vec<u8> {
    let account = s.azurite.account();
    let expiry = iso8601_utc(finsync_server::now_unix() + 600);
    let url = format!(
        "{}?snapshot={}&{}",
        account.url(&s.container, Resource::Blob(blob)),
        finsync_core::sas::encode_query(snapshot),
        account.account_sas("r", "o", &expiry)
    );
    let r = s.http.get(url).send().await.unwrap();
    assert_eq!(r.status(), 200, "snapshot {snapshot} of {blob}");
    r.bytes().await.unwrap().to_vec()
}

/// Status and `x-ms-error-code` of a request the holder of an upload URL sends.
async fn sas_write(req: reqwest::RequestBuilder) -> (u16, String) {
    let r = req.send().await.unwrap();
    let code = r
        .headers()
        .get("x-ms-error-code")
        .map(|v| v.to_str().unwrap().to_string())
        .unwrap_or_default();
    (r.status().as_u16(), code)
}

/// Issue 4 audit: the upload SAS names the original's final blob and outlives the commit. The
/// commit's lease makes the storage service refuse every write through it afterwards, and the
/// snapshot commit verified keeps the committed bytes even from someone who breaks the lease
/// (a Write SAS may) — the variants queue reads the snapshot.
#[tokio::test]
async fn a_committed_original_cannot_be_overwritten_through_its_upload_sas() {
    // The variants queue waits 3 s after the last upload request, so its job runs after the
    // overwrite below.
    let s = Stack::start_with(|c| c.variants_quiet_ms = 3000).await;
    let (_, key) = s.population("P", true);
    let enc = new_encounter(&s, &key).await;
    let img = jpeg(120, 80, 9);
    let evil = jpeg(50, 200, 3);
    let k = key_for(1);
    let urls = sessions(&s, &key, enc, &[(k.clone(), "a.jpg", &img, None)]).await;
    let url = &urls[0];
    assert_eq!(put_blob(&s.http, url, img.clone()).await, 201);
    let commit = json!({"idempotencyKeys": [k]});
    let (st, res) = s
        .post(&key, "/api/v1/upload-sessions/commit", commit.clone())
        .await;
    assert_eq!(st, 200, "{res}");
    assert_eq!(res["results"][0]["status"], "complete", "{res}");
    let item = res["results"][0]["fileItemId"].as_i64().unwrap();
    let blob = format!("encounters/{enc}/{k}/a.jpg");

    // Put Blob, Put Block and Put Block List through the session's still valid SAS.
    let put = s
        .http
        .put(url)
        .header("x-ms-blob-type", "BlockBlob")
        .body(evil.clone());
    assert_eq!(sas_write(put).await, (412, "LeaseIdMissing".into()));
    // Azure refuses the Put Block itself (412 LeaseIdMissing). Azurite 3.35 checks a staged
    // block against the first record of that name, which is the snapshot once one exists, and
    // stages it; either way the Put Block List that would make it the blob's content is
    // refused, so the staged block can never become the original.
    let (st, err) = put_block(&s, url, 0, &evil, &md5_b64(&evil)).await;
    assert!(
        (st == 412 && err.starts_with("LeaseIdMissing:")) || (st, err.as_str()) == (201, ""),
        "{st} {err}"
    );
    assert_eq!(put_block_list(&s, url, 1).await, 412);
    let stored = read_blob(&s.http, &s.azurite.account(), &s.container, &blob).await;
    assert_eq!(stored.as_deref(), Some(img.as_slice()), "bytes unchanged");

    // Committing again (a retry) finds its own lease: same answer, one file item.
    let (st, again) = s
        .post(&key, "/api/v1/upload-sessions/commit", commit.clone())
        .await;
    assert_eq!(st, 200, "{again}");
    assert_eq!(again["results"][0]["fileItemId"], item, "{again}");
    assert_eq!(s.count("SELECT COUNT(*) FROM file_items"), 1);

    // The SAS holder may break the lease (Write permits it) and then overwrite the base
    // blob, but not the snapshot the commit verified and recorded.
    let brk = s
        .http
        .put(format!("{url}&comp=lease"))
        .header("x-ms-lease-action", "break")
        .header("x-ms-lease-break-period", "0")
        .header("content-length", "0");
    assert_eq!(sas_write(brk).await.0, 202);
    assert_eq!(put_blob(&s.http, url, evil.clone()).await, 201);
    let snaps = snapshots_of(&s, &blob).await;
    assert_eq!(snaps.len(), 1, "{snaps:?}");
    let (_, detail) = s
        .get(Some(&key), &format!("/api/v1/encounters/{enc}"))
        .await;
    assert_eq!(detail["images"][0]["blobSnapshot"], snaps[0], "{detail}");
    assert_eq!(read_snapshot(&s, &blob, &snaps[0]).await, img);
    let del = s.http.delete(format!(
        "{url}&snapshot={}",
        finsync_core::sas::encode_query(&snaps[0])
    ));
    assert_eq!(sas_write(del).await.0, 403, "no SAS of a client deletes it");
    assert_eq!(read_snapshot(&s, &blob, &snaps[0]).await, img);

    // The variants were made from the committed bytes (120×80), not the overwrite (50×200).
    s.variants_settled().await;
    let dims = s.db.tx_blocking(move |tx| {
        Ok(tx.query_row(
            "SELECT width, height FROM file_items WHERE id = ?1",
            [item],
            |r| Ok((r.get::<_, i64>(0)?, r.get::<_, i64>(1)?)),
        )?)
    });
    assert_eq!(dims.unwrap(), (120, 80));
    let page = s
        .http
        .get(s.url(&format!("/encounters/{enc}/images/{item}/thumbnail")))
        .send()
        .await
        .unwrap();
    assert_eq!(page.status(), 200);
}

/// A commit that refuses the bytes lets go of the blob (lease released, snapshot deleted), so
/// the client uploads again under the same session; a lease someone else put on an
/// uncommitted blob does not block the commit.
#[tokio::test]
async fn a_refused_commit_releases_the_blob_for_another_upload() {
    let s = Stack::start().await;
    let (_, key) = s.population("P", true);
    let enc = new_encounter(&s, &key).await;
    let img = jpeg(64, 64, 5);
    let k = key_for(2);
    let md5 = md5_b64(&img);
    let urls = sessions(&s, &key, enc, &[(k.clone(), "b.jpg", &img, Some(md5))]).await;
    let url = &urls[0];
    let blob = format!("encounters/{enc}/{k}/b.jpg");
    let commit = json!({"idempotencyKeys": [k]});
    // Bytes of the right size but another MD5.
    let mut wrong = img.clone();
    let last = wrong.len() - 3;
    wrong[last] ^= 0xFF;
    assert_eq!(put_blob(&s.http, url, wrong).await, 201);
    let (_, res) = s
        .post(&key, "/api/v1/upload-sessions/commit", commit.clone())
        .await;
    assert_eq!(res["results"][0]["error"]["code"], "md5Mismatch", "{res}");
    assert!(snapshots_of(&s, &blob).await.is_empty(), "snapshot deleted");
    // The same URL writes again, and a stranger's lease on it (an interrupted client) is
    // taken back by the commit.
    assert_eq!(put_blob(&s.http, url, img.clone()).await, 201);
    assert_eq!(lease(&s, &s.container, &blob, "acquire").await, 201);
    let (_, res) = s.post(&key, "/api/v1/upload-sessions/commit", commit).await;
    assert_eq!(res["results"][0]["status"], "complete", "{res}");
    let snaps = snapshots_of(&s, &blob).await;
    assert_eq!(snaps.len(), 1, "{snaps:?}");
    assert_eq!(read_snapshot(&s, &blob, &snaps[0]).await, img);
    assert_eq!(put_blob(&s.http, url, b"x".to_vec()).await, 412);
}

/// Eight clients commit the same key at once (separate requests): every answer is the same
/// complete file item, and the server made one file item, one job of each kind, one snapshot
/// and one audit entry.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn concurrent_commits_of_one_key_make_one_file_item_and_one_job() {
    let s = Stack::start().await;
    let (_, key) = s.population("P", true);
    let enc = new_encounter(&s, &key).await;
    let img = jpeg(80, 60, 6);
    let k = key_for(3);
    let urls = sessions(
        &s,
        &key,
        enc,
        &[(k.clone(), "c.jpg", &img, Some(md5_b64(&img)))],
    )
    .await;
    assert_eq!(put_blob(&s.http, &urls[0], img.clone()).await, 201);
    let mut handles = Vec::new();
    for _ in 0..8 {
        let req = s
            .http
            .post(s.url("/api/v1/upload-sessions/commit"))
            .bearer_auth(&key)
            .json(&json!({"idempotencyKeys": [k]}));
        handles.push(tokio::spawn(async move {
            let resp = req.send().await.unwrap();
            let st = resp.status().as_u16();
            (st, resp.json::<serde_json::Value>().await.unwrap())
        }));
    }
    let mut answers = Vec::new();
    for h in handles {
        answers.push(h.await.unwrap());
    }
    let mut ids = std::collections::BTreeSet::new();
    for (st, res) in &answers {
        assert_eq!(*st, 200, "{res}");
        assert_eq!(res["results"][0]["status"], "complete", "{res}");
        ids.insert(res["results"][0]["fileItemId"].as_i64().unwrap());
    }
    assert_eq!(ids.len(), 1, "{answers:?}");
    assert_eq!(s.count("SELECT COUNT(*) FROM file_items"), 1);
    assert_eq!(
        s.count("SELECT COUNT(*) FROM jobs WHERE kind = 'mlPipeline'"),
        1
    );
    assert_eq!(
        s.count("SELECT COUNT(*) FROM jobs WHERE kind = 'variants'"),
        1
    );
    assert_eq!(
        s.count("SELECT COUNT(*) FROM audit_log WHERE action = 'fileItem.create'"),
        1
    );
    let blob = format!("encounters/{enc}/{k}/c.jpg");
    assert_eq!(snapshots_of(&s, &blob).await.len(), 1);
}

/// A lease left on an uncommitted blob (a commit interrupted after its lease, or a client that
/// leased the blob with its upload URL) does not block a server-side copy into it: the copy
/// breaks it, copies, and the commit then locks the copied bytes. After the commit a copy
/// changes nothing.
#[tokio::test]
async fn a_copy_breaks_a_stale_lease_on_an_uncommitted_blob() {
    let s = Stack::start().await;
    let (_, key) = s.population("P", true);
    let enc = new_encounter(&s, &key).await;
    let research = s.azurite.research_account();
    let photo = jpeg(90, 70, 8);
    research_photo(&s, &research, "survey", "IMG_2.jpg", &photo).await;
    let k = key_for(4);
    let urls = sessions(&s, &key, enc, &[(k.clone(), "IMG_2.jpg", &photo, None)]).await;
    let blob = format!("encounters/{enc}/{k}/IMG_2.jpg");
    // An earlier, partial attempt left bytes and a lease behind.
    assert_eq!(put_blob(&s.http, &urls[0], b"partial".to_vec()).await, 201);
    assert_eq!(lease(&s, &s.container, &blob, "acquire").await, 201);
    let source = research_url(&research, "survey", "IMG_2.jpg", "r", 600);
    let copy = json!({"items": [{"idempotencyKey": k, "sourceUrl": source}]});
    let (st, res) = s
        .post(&key, "/api/v1/upload-sessions/copy", copy.clone())
        .await;
    assert_eq!(st, 200, "{res}");
    assert_eq!(res["results"][0]["status"], "copied", "{res}");
    let (_, res) = s
        .post(
            &key,
            "/api/v1/upload-sessions/commit",
            json!({"idempotencyKeys": [k]}),
        )
        .await;
    assert_eq!(res["results"][0]["status"], "complete", "{res}");
    let snaps = snapshots_of(&s, &blob).await;
    assert_eq!(snaps.len(), 1, "{snaps:?}");
    assert_eq!(read_snapshot(&s, &blob, &snaps[0]).await, photo);
    // Committed: a copy answers complete and starts nothing (the lease would refuse it).
    let (_, res) = s.post(&key, "/api/v1/upload-sessions/copy", copy).await;
    assert_eq!(res["results"][0]["status"], "complete", "{res}");
    let stored = read_blob(&s.http, &s.azurite.account(), &s.container, &blob).await;
    assert_eq!(stored.as_deref(), Some(photo.as_slice()));
}

/// Review of the lease: a refused commit whose Release Lease failed (a 503, a timeout) leaves
/// the uncommitted blob leased with the server's own ID, so every PUT through the upload URL is
/// refused with 412 LeaseIdMissing. Asking for the session again (the app's Retry, and its
/// answer to that 412) breaks the lease and hands out a URL that uploads; the commit locks the
/// new bytes.
#[tokio::test]
async fn asking_for_a_session_again_frees_a_blob_a_failed_release_left_leased() {
    let s = Stack::start().await;
    let (_, key) = s.population("P", true);
    let enc = new_encounter(&s, &key).await;
    let img = jpeg(70, 50, 4);
    let k = key_for(5);
    let items = [(k.clone(), "e.jpg", img.as_slice(), Some(md5_b64(&img)))];
    let urls = sessions(&s, &key, enc, &items).await;
    let blob = format!("encounters/{enc}/{k}/e.jpg");
    let commit = json!({"idempotencyKeys": [k]});
    let mut wrong = img.clone();
    let last = wrong.len() - 3;
    wrong[last] ^= 0xFF;
    assert_eq!(put_blob(&s.http, &urls[0], wrong).await, 201);
    let (_, res) = s
        .post(&key, "/api/v1/upload-sessions/commit", commit.clone())
        .await;
    assert_eq!(res["results"][0]["error"]["code"], "md5Mismatch", "{res}");
    // The release failed: the lease the commit took (its ID derived from the account key) is
    // still held.
    let lease_id = s.azurite.account().lease_id(&s.container, &blob);
    let expiry = iso8601_utc(finsync_server::now_unix() + 600);
    let account = s.azurite.account();
    let acquire = s
        .http
        .put(format!(
            "{}?comp=lease&{}",
            account.url(&s.container, Resource::Blob(&blob)),
            account.account_sas("w", "o", &expiry)
        ))
        .header("x-ms-lease-action", "acquire")
        .header("x-ms-lease-duration", "-1")
        .header("x-ms-proposed-lease-id", &lease_id)
        .header("content-length", "0");
    assert_eq!(sas_write(acquire).await.0, 201);
    let put = s
        .http
        .put(&urls[0])
        .header("x-ms-blob-type", "BlockBlob")
        .body(img.clone());
    assert_eq!(sas_write(put).await, (412, "LeaseIdMissing".into()));
    // The app asks for the session again: a fresh URL that uploads.
    let again = sessions(&s, &key, enc, &items).await;
    assert_eq!(put_blob(&s.http, &again[0], img.clone()).await, 201);
    let (_, res) = s.post(&key, "/api/v1/upload-sessions/commit", commit).await;
    assert_eq!(res["results"][0]["status"], "complete", "{res}");
    let snaps = snapshots_of(&s, &blob).await;
    assert_eq!(snaps.len(), 1, "{snaps:?}");
    assert_eq!(read_snapshot(&s, &blob, &snaps[0]).await, img);
    // Committed: asking again hands out no URL and leaves the lock alone.
    let after = sessions(&s, &key, enc, &items).await;
    assert_eq!(after[0], "", "a complete session has no upload URL");
    assert_eq!(put_blob(&s.http, &urls[0], b"x".to_vec()).await, 412);
}

/// Commit makes three storage calls per image uploaded in one Put Blob: Acquire Lease,
/// Snapshot Blob and one ranged Get Blob of the snapshot (size, MD5 and copy status from its
/// headers); a retry of a committed key makes none. A blob that was never uploaded costs one.
#[tokio::test]
async fn commit_makes_three_storage_calls_per_image() {
    // The variants queue (which reads and writes blobs) waits out the test.
    let s = Stack::start_with(|c| c.variants_quiet_ms = 60_000).await;
    let (_, key) = s.population("P", true);
    let enc = new_encounter(&s, &key).await;
    let a = jpeg(60, 40, 1);
    let b = png(30, 20, 1);
    let items = [
        (key_for(6), "f.jpg", a.as_slice(), Some(md5_b64(&a))),
        (key_for(7), "g.png", b.as_slice(), None),
    ];
    let urls = sessions(&s, &key, enc, &items).await;
    for (url, item) in urls.iter().zip(&items) {
        assert_eq!(put_blob(&s.http, url, item.2.to_vec()).await, 201);
    }
    let commit = json!({"idempotencyKeys": [key_for(6), key_for(7)]});
    let before = s.blob.calls();
    let (_, res) = s
        .post(&key, "/api/v1/upload-sessions/commit", commit.clone())
        .await;
    assert_eq!(res["results"][0]["status"], "complete", "{res}");
    assert_eq!(res["results"][1]["status"], "complete", "{res}");
    assert_eq!(s.blob.calls() - before, 6);
    // The service's MD5 came from the ranged read's x-ms-blob-content-md5.
    let md5 = s.db.tx_blocking(|tx| {
        Ok(tx.query_row(
            "SELECT content_md5 FROM file_items WHERE file_name = 'f.jpg'",
            [],
            |r| r.get::<_, Option<String>>(0),
        )?)
    });
    assert_eq!(md5.unwrap(), Some(md5_b64(&a)));
    let before = s.blob.calls();
    let (_, res) = s.post(&key, "/api/v1/upload-sessions/commit", commit).await;
    assert_eq!(res["results"][1]["status"], "complete", "{res}");
    assert_eq!(s.blob.calls() - before, 0);
    // Never uploaded: Acquire Lease's 404 says so.
    let c = jpeg(10, 10, 2);
    sessions(&s, &key, enc, &[(key_for(8), "h.jpg", c.as_slice(), None)]).await;
    let before = s.blob.calls();
    let (_, res) = s
        .post(
            &key,
            "/api/v1/upload-sessions/commit",
            json!({"idempotencyKeys": [key_for(8)]}),
        )
        .await;
    assert_eq!(res["results"][0]["error"]["code"], "blobMissing", "{res}");
    assert_eq!(s.blob.calls() - before, 1);
}
