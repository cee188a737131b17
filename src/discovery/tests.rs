//! Discovery's browser tests (headless Chromium, real IndexedDB and OPFS): the IndexedDB layer,
//! a scan over a real directory handle (batches, bad files, cancel, resume, re-scan diff), the
//! shared fingerprint helper, and the Sync page's contract [`super::approved_manifests`].

use std::cell::Cell;
use std::collections::{BTreeMap, HashMap};
use std::rc::Rc;

use finsync_core::api::Gps;
use finsync_core::fingerprint::{idempotency_key, Fingerprint};
use finsync_core::grouping::Strategy;
use finsync_core::manifest::{
    materialize, License, Manifest, ManifestEdits, ManifestHistory, PhotographerAssignment,
    PhotographerResolution, ReviewStatus,
};
use finsync_core::metadata::ParseOptions;
use finsync_core::normalize::encounter_identity;
use finsync_core::rules::{FieldRules, Source};
use wasm_bindgen::{JsCast, JsValue};
use wasm_bindgen_futures::JsFuture;
use wasm_bindgen_test::*;
use web_sys::{File, FileSystemDirectoryHandle};

use super::model::*;
use super::walk::FolderSource;
use super::*;
use crate::store::Store;

wasm_bindgen_test_configure!(run_in_browser);

async fn fresh(name: &str) -> Store {
    if let Ok(req) = indexed_db_futures::database::Database::delete_by_name(name) {
        let _ = req.await;
    }
    Store::open(name).await.unwrap()
}

fn file(name: &str, bytes: &[u8]) -> File {
    let parts = js_sys::Array::of1(&js_sys::Uint8Array::from(bytes));
    File::new_with_u8_array_sequence(&parts, name).unwrap()
}

/// A minimal valid JPEG (SOI, SOF0 of `w`×`h`, SOS, EOI), padded with APP15 segments to at
/// least `pad` bytes.
fn jpeg(w: u16, h: u16, pad: usize, seed: u8) -> Vec<u8> {
    let mut b = vec![0xFF, 0xD8];
    let mut x = seed as u32 | 1;
    while b.len() < pad {
        let n = (pad - b.len()).clamp(16, 60000);
        b.extend_from_slice(&[0xFF, 0xEF]);
        b.extend_from_slice(&((n + 2) as u16).to_be_bytes());
        for _ in 0..n {
            x ^= x << 13;
            x ^= x >> 17;
            x ^= x << 5;
            b.push(x as u8);
        }
    }
    b.extend_from_slice(&[0xFF, 0xC0, 0, 11, 8]);
    b.extend_from_slice(&h.to_be_bytes());
    b.extend_from_slice(&w.to_be_bytes());
    b.extend_from_slice(&[1, 1, 0x11, 0]);
    b.extend_from_slice(&[0xFF, 0xDA, 0, 8, 1, 1, 0, 0, 0x3F, 0]);
    b.extend_from_slice(&[0x12, 0x34, 0xFF, 0xD9]);
    b
}

/// [`jpeg`] followed by `trailing` more bytes after its end, as cameras append previews: the
/// metadata is at the start, the file goes on.
fn jpeg_with_trailer(pad: usize, seed: u8, trailing: usize) -> Vec<u8> {
    let mut b = jpeg(640, 480, pad, seed);
    b.extend((0..trailing).map(|i| (i as u8) ^ seed));
    b
}

fn scan_file(job: &str, path: &str, fp: Option<&str>, error: Option<&str>) -> ScanFile {
    ScanFile {
        job_id: job.into(),
        relative_path: path.into(),
        size: 10,
        last_modified: 1.0,
        content_type: "image/jpeg".into(),
        meta: None,
        fingerprint: fp.map(Into::into),
        warnings: vec![],
        error: error.map(Into::into),
        source: Default::default(),
    }
}

fn job(id: &str, folder: &str) -> ScanJob {
    ScanJob {
        id: id.into(),
        name: format!("{folder} — scan"),
        folder: folder.into(),
        access: AccessKind::Handle,
        started_at: now_iso(),
        ended_at: None,
        started_ms: js_sys::Date::now(),
        ended_ms: None,
        state: ScanState::Running,
        counts: ScanCounts::default(),
        diff: None,
        error: None,
        origin: Default::default(),
        fingerprints_ended_ms: None,
    }
}

#[wasm_bindgen_test]
async fn scan_files_are_per_job_and_deleted_with_their_job() {
    let st = fresh("finsync-test-disc-files").await;
    let a = job("scan-a", "F");
    let b = job("scan-b", "F");
    let files_a: Vec<ScanFile> = (0..450)
        .map(|i| scan_file("scan-a", &format!("F/d/{i:04}.jpg"), Some("1-aa"), None))
        .collect();
    // In batches, as the scan writes them.
    for chunk in files_a.chunks(scan::BATCH) {
        db::put_files(&st, &a, chunk).await.unwrap();
    }
    db::put_files(
        &st,
        &b,
        &[scan_file("scan-b", "F/x.jpg", None, Some("bad"))],
    )
    .await
    .unwrap();
    let got = db::job_files(&st, "scan-a").await.unwrap();
    assert_eq!(got.len(), 450);
    assert_eq!(got[0], files_a[0]);
    assert_eq!(db::job_files(&st, "scan-b").await.unwrap().len(), 1);
    assert_eq!(db::jobs(&st).await.unwrap().len(), 2);
    db::delete_job(&st, "scan-a").await.unwrap();
    assert!(db::job_files(&st, "scan-a").await.unwrap().is_empty());
    assert_eq!(db::job_files(&st, "scan-b").await.unwrap().len(), 1);
    assert_eq!(db::job(&st, "scan-a").await.unwrap(), None);
    assert!(db::job(&st, "scan-b").await.unwrap().is_some());
}

/// A row is stored without its empty fields (fewer bytes for IndexedDB per image) and reads
/// back the same, the filled fields included.
#[wasm_bindgen_test]
async fn scan_rows_are_stored_without_empty_fields_and_read_back_whole() {
    use indexed_db_futures::prelude::*;
    let st = fresh("finsync-test-disc-slim-rows").await;
    let j = job("scan-s", "F");
    let opts = ParseOptions::default();
    let bytes = jpeg(640, 480, 0, 1);
    let mut plain = scan::scan_prefix(
        "scan-s",
        "F/a.jpg".into(),
        "a.jpg",
        99_999,
        2.0,
        &bytes,
        &opts,
    );
    assert!(plain.meta.is_some() && plain.fingerprint.is_none() && plain.warnings.is_empty());
    let mut full = plain.clone();
    full.relative_path = "F/b.jpg".into();
    full.fingerprint = Some("1-ab".into());
    full.warnings = vec!["EXIF: a tag is damaged".into()];
    if let Some(m) = full.meta.as_mut() {
        m.gps = Some(Gps {
            lat: 48.5,
            lon: -123.1,
        });
        m.keywords = vec!["orca".into()];
        m.has_exif = true;
        m.photographers = vec![finsync_core::metadata::PhotographerCandidate {
            name: "Jane Smith".into(),
            source: finsync_core::metadata::PhotographerSource::ExifArtist,
        }];
    }
    let failed = scan_file("scan-s", "F/c.jpg", None, Some("the file is empty"));
    plain.last_modified = 4.0;
    db::put_files(&st, &j, &[plain.clone(), full.clone(), failed.clone()])
        .await
        .unwrap();
    assert_eq!(
        db::job_files(&st, "scan-s").await.unwrap(),
        vec![plain, full, failed]
    );
    // As stored: the empty fields are not there at all.
    let tx = st
        .database()
        .transaction(crate::store::SCAN_FILES)
        .build()
        .unwrap();
    let key = js_sys::Array::of2(&"scan-s".into(), &"F/a.jpg".into());
    let raw: Option<JsValue> = tx
        .object_store(crate::store::SCAN_FILES)
        .unwrap()
        .get(JsValue::from(key))
        .primitive()
        .unwrap()
        .await
        .unwrap();
    let raw = raw.unwrap();
    let has = |o: &JsValue, k: &str| js_sys::Reflect::has(o, &k.into()).unwrap();
    for k in ["fingerprint", "warnings", "error"] {
        assert!(!has(&raw, k), "{k} is stored");
    }
    let meta = js_sys::Reflect::get(&raw, &"meta".into()).unwrap();
    assert!(has(&meta, "width") && has(&meta, "format"));
    for k in [
        "taken",
        "gps",
        "keywords",
        "photographers",
        "hasIptc",
        "warnings",
    ] {
        assert!(!has(&meta, k), "meta.{k} is stored");
    }
}

fn history(id: &str, job: &str) -> ManifestHistory {
    let mut rules = FieldRules::default();
    rules.location_name.push(Source::FolderName {
        depth: 1,
        regex: Some(r"^\d{4}-\d{2}-\d{2}_(.+)$".into()),
        date_format: None,
    });
    rules.date.push(Source::FolderName {
        depth: 1,
        regex: None,
        date_format: Some(finsync_core::rules::DateFormat::YYYY_MM_DD),
    });
    rules.gps.push(Source::Manual {
        value: "48.5, -123.1".into(),
    });
    rules.photographer.push(Source::Manual {
        value: "Jane Smith".into(),
    });
    ManifestHistory::new(
        Manifest::new(id, 7, job, rules, Strategy::Folder { depth: 1 }, "t0").unwrap(),
    )
}

fn stored(h: ManifestHistory, job: &str) -> StoredManifest {
    StoredManifest {
        id: h.latest().id.clone(),
        name: "M".into(),
        population_id: 7,
        population_name: "Orcas".into(),
        scan_job_id: job.into(),
        folder: "F".into(),
        created_at: now_iso(),
        history: h,
        materialized_version: None,
        materialized_job_id: None,
        materialized_at: None,
    }
}

#[wasm_bindgen_test]
async fn manifests_and_review_records_round_trip() {
    let st = fresh("finsync-test-disc-manifests").await;
    let mut h = history("m1", "scan-a");
    h.save(
        1,
        ManifestEdits {
            photographers: BTreeMap::from([(
                "Jane Smith".to_string(),
                PhotographerResolution::Resolved {
                    user_id: "42".into(),
                    display: "Jane Smith".into(),
                },
            )]),
            ..ManifestEdits::default()
        },
        "t1",
    )
    .unwrap();
    let m = stored(h, "scan-a");
    db::put_manifest(&st, &m).await.unwrap();
    assert_eq!(db::manifest(&st, "m1").await.unwrap(), Some(m.clone()));
    let other = stored(history("m2", "scan-b"), "scan-b");
    db::put_manifest(&st, &other).await.unwrap();
    assert_eq!(db::manifests(&st).await.unwrap().len(), 2);

    // Records: replacing m1's leaves m2's alone.
    let images: Vec<_> = ["F/2024-07-15_Haro/a.jpg", "F/2024-07-16_Sooke/b.jpg"]
        .iter()
        .map(|p| scan_file("scan-a", p, Some("1-aa"), None).scanned_image())
        .collect();
    let mut v = m.history.latest().clone();
    v.status = finsync_core::manifest::ManifestStatus::Approved {
        by: "t".into(),
        at: "t".into(),
    };
    let recs = materialize(&v, &images).unwrap();
    assert_eq!(recs.len(), 2);
    let rows: Vec<ReviewRow> = recs.into_iter().map(ReviewRow::new).collect();
    assert_eq!(rows[0].local_id, "folder:F/2024-07-15_Haro");
    db::replace_records(&st, &m, &rows).await.unwrap();
    let mut other_rows = rows.clone();
    for r in &mut other_rows {
        r.manifest_id = "m2".into();
    }
    db::put_records(&st, &other_rows).await.unwrap();
    db::replace_records(&st, &m, &rows[..1]).await.unwrap();
    assert_eq!(db::records(&st, "m1").await.unwrap(), rows[..1].to_vec());
    assert_eq!(db::records(&st, "m2").await.unwrap().len(), 2);
}

#[wasm_bindgen_test]
async fn approved_manifests_plans_approved_records_like_sync_plan() {
    let st = fresh("finsync-test-disc-contract").await;
    let fp_a = Fingerprint::new(10, b"head a", b"tail a");
    let fp_b = Fingerprint::new(10, b"head b", b"tail b");
    let j = ScanJob {
        state: ScanState::Done,
        ..job("scan-a", "F")
    };
    // This image is a blob of a scanned container: its source goes through the manifest
    // into the planned image, so the sync copies it instead of uploading it.
    let blob = finsync_core::cloud::ImageSource::Azure(finsync_core::cloud::BlobRef {
        connection_id: "conn-1".into(),
        container: "F".into(),
        blob: "2024-07-15_Haro/a.jpg".into(),
    });
    db::put_files(
        &st,
        &j,
        &[
            ScanFile {
                source: blob.clone(),
                ..scan_file(
                    "scan-a",
                    "F/2024-07-15_Haro/a.jpg",
                    Some(&fp_a.to_hex()),
                    None,
                )
            },
            scan_file(
                "scan-a",
                "F/2024-07-16_Sooke/b.jpg",
                Some(&fp_b.to_hex()),
                None,
            ),
        ],
    )
    .await
    .unwrap();
    let images: Vec<_> = db::job_files(&st, "scan-a")
        .await
        .unwrap()
        .iter()
        .map(|f| f.scanned_image())
        .collect();
    let mut h = history("m1", "scan-a");
    assert!(
        h.approve(1, "t", "t", &images).is_err(),
        "Jane Smith is unresolved"
    );
    h.save(
        1,
        ManifestEdits {
            photographers: BTreeMap::from([(
                "Jane Smith".to_string(),
                PhotographerResolution::Resolved {
                    user_id: "42".into(),
                    display: "Jane Smith".into(),
                },
            )]),
            ..ManifestEdits::default()
        },
        "t1",
    )
    .unwrap();
    h.approve(2, "t", "t", &images).unwrap();
    let mut recs = materialize(h.get(2).unwrap(), &images).unwrap();
    assert!(recs.iter().all(|r| r.review == ReviewStatus::Pending));
    recs[0].license = Some(License::Public);
    recs[0].known_individuals = vec!["T049A".into()];
    recs[0].notes = "from the ferry".into();
    recs[0].organisations = vec![4];
    recs[0].approve().unwrap();
    let mut m = stored(h, "scan-a");
    m.materialized_version = Some(2);
    m.materialized_job_id = Some("scan-a".into());
    let rows: Vec<ReviewRow> = recs.into_iter().map(ReviewRow::new).collect();
    db::replace_records(&st, &m, &rows).await.unwrap();

    let got = approved_manifests(&st).await.unwrap();
    assert_eq!(got.len(), 1);
    let a = &got[0];
    assert_eq!(
        (
            a.manifest_id.as_str(),
            a.version,
            a.population_id,
            a.folder.as_str()
        ),
        ("m1", 2, 7, "F")
    );
    assert_eq!(a.scan_job_name, "F — scan");
    assert_eq!(a.encounters.len(), 1, "only the approved record");
    assert_eq!(a.image_count, 1);
    assert_eq!(a.individual_ids, ["T049A"]);
    let e = &a.encounters[0];
    assert_eq!(e.local_id, "m1/folder:F/2024-07-15_Haro");
    assert_eq!(e.plan.local_id, e.local_id);
    assert_eq!(e.population_id, 7);
    let f = &e.plan.fields;
    assert_eq!(
        (
            f.date.as_str(),
            f.location_name.as_str(),
            f.photographer.as_str()
        ),
        ("2024-07-15", "Haro", "Jane Smith")
    );
    assert_eq!(
        f.gps,
        Some(Gps {
            lat: 48.5,
            lon: -123.1
        })
    );
    assert_eq!(f.notes.as_deref(), Some("from the ferry"));
    // What review decided goes to find-or-create as the server's full request.
    assert_eq!(f.license, Some(License::Public));
    assert_eq!(f.known_individuals, ["T049A"]);
    assert_eq!(f.organisations, [4]);
    assert_eq!(f.photographer_user_id, Some(42), "the resolved user");
    assert_eq!(e.plan.create_photographer, None);
    let key = idempotency_key(
        7,
        &encounter_identity("2024-07-15", "Haro", "Jane Smith"),
        &fp_a,
    );
    let img = &e.plan.images[0];
    assert_eq!(img.idempotency_key, key);
    assert_eq!(
        img.local_id,
        format!("F/2024-07-15_Haro/a.jpg#{}", &key[3..15])
    );
    assert_eq!((img.file_name.as_str(), img.size), ("a.jpg", 10));
    assert_eq!(img.content_type, "image/jpeg");
    assert_eq!(img.source, blob);
    assert_eq!(e.sources[0].relative_path, "F/2024-07-15_Haro/a.jpg");
    assert_eq!(e.sources[0].last_modified, 1.0);

    // "Create on sync": the user to create goes with the encounter; the name is the typed one.
    let mut new_person = rows[0].record.clone();
    new_person.photographer = PhotographerAssignment::CreateOnSync {
        first_name: "Bo".into(),
        last_name: "Ek".into(),
        email: None,
    };
    let fps = HashMap::from([("F/2024-07-15_Haro/a.jpg".to_string(), fp_a.to_hex())]);
    let (planned, problems) = crate::discovery::plan::plan_record(&new_person, &fps);
    assert!(problems.is_empty(), "{problems:?}");
    let planned = planned.expect("planned");
    let user = planned.plan.create_photographer.expect("a user to create");
    assert_eq!(
        (
            user.key.as_str(),
            user.request.first_name.as_str(),
            user.request.last_name.as_str()
        ),
        (
            format!("new:{}:bo ek", new_person.population_id).as_str(),
            "Bo",
            "Ek"
        )
    );
    assert_eq!(
        (
            planned.plan.fields.photographer.as_str(),
            planned.plan.fields.photographer_user_id
        ),
        ("Bo Ek", None)
    );

    // A version taken back to draft contributes nothing.
    m.history.to_draft(2).unwrap();
    db::put_manifest(&st, &m).await.unwrap();
    assert!(approved_manifests(&st).await.unwrap().is_empty());
}

/// The two ways a scan reads files: through the scan worker (`public/scan-reader.js`, here from
/// a `blob:` URL of the same script) and in the page (no worker).
fn readers() -> [(&'static str, reader::FileReader); 2] {
    let worker = reader::FileReader::new(&reader::worker_url());
    assert!(worker.uses_worker());
    [
        ("worker", worker),
        ("in page", reader::FileReader::in_page()),
    ]
}

#[wasm_bindgen_test]
async fn read_image_gives_per_file_reasons_and_the_sync_fingerprint() {
    let opts = ParseOptions::default();
    for (how, r) in readers() {
        let read = |path: &'static str, f: File| {
            let r = r.clone();
            async move {
                scan::read_image(&r, "j", path.into(), &reader::ImageRef::File(f), &opts).await
            }
        };
        let empty = read("F/e.jpg", file("e.jpg", &[])).await;
        assert!(
            empty.error.as_deref().unwrap().contains("empty"),
            "{how}: {empty:?}"
        );
        let html = read("F/h.jpg", file("h.jpg", b"<html>not a photo</html>")).await;
        assert!(
            html.error.as_deref().unwrap().contains("not an image"),
            "{how}: {html:?}"
        );
        assert!(!html.usable());
        // A file read whole (no larger than the first read) gets the fingerprint sync uses at
        // once; a larger one (its SOF beyond the first 64 KiB, so more is read) gets it in the
        // fingerprint phase, the same.
        for size in [5_000, 300_000] {
            let bytes = jpeg_with_trailer(3_000, 3, size - 3_000);
            let f = file("ü 🐋.jpg", &bytes);
            let s = read("F/ü 🐋.jpg", f.clone()).await;
            assert!(s.usable(), "{how}: {s:?}");
            assert_eq!(
                (s.size, s.last_modified),
                (bytes.len() as u64, f.last_modified())
            );
            let meta = s.meta.as_ref().unwrap();
            assert_eq!((meta.width, meta.height), (Some(640), Some(480)), "{how}");
            let expected = crate::sync::plan::fingerprint(&f).await.unwrap();
            if size < 65_536 {
                assert_eq!(s.fingerprint, Some(expected.to_hex()), "{how}");
            } else {
                // The phase computes it with the same `sync::plan::fingerprint` (tested below).
                assert_eq!(s.fingerprint, None, "{how}: left to the fingerprint phase");
            }
        }
        // Its SOF at ~150 KB: the reader is asked for more after the head, in 64 KiB steps up
        // to it, and the row is the one the bytes give.
        let far = jpeg_with_trailer(150_000, 3, 200_000);
        let f = file("far.jpg", &far);
        let s = read("F/far.jpg", f.clone()).await;
        assert_eq!(
            s.meta.as_ref().map(|m| (m.width, m.height)),
            Some((Some(640), Some(480))),
            "{how}: {s:?}"
        );
        let whole = scan::scan_prefix(
            "j",
            "F/far.jpg".into(),
            "far.jpg",
            far.len() as u64,
            f.last_modified(),
            &far,
            &opts,
        );
        assert_eq!(s.meta, whole.meta, "{how}");
        // Truncated in the middle of a segment: usable, with a warning naming the structure.
        let cut = jpeg(64, 48, 5_000, 4);
        let t = read("F/t.jpg", file("t.jpg", &cut[..1000])).await;
        assert!(t.usable(), "{how}: {t:?}");
        assert!(
            t.warnings.iter().any(|w| w.starts_with("file structure")),
            "{how}: {t:?}"
        );
    }
    // The per-file function a non-local source (Range GETs) uses: bytes in, the same row out.
    // Its SOF at ~150 KB: read in 64 KiB steps up to it, not to the end.
    let bytes = jpeg_with_trailer(150_000, 3, 200_000);
    let prefix = scan::read_prefix(bytes.len() as u64, |a, b| {
        let part = bytes[a as usize..b as usize].to_vec();
        async move { Ok(part) }
    })
    .await
    .unwrap();
    assert!(prefix.len() < bytes.len(), "only a prefix is read");
    let row = scan::scan_prefix(
        "j",
        "F/x.jpg".into(),
        "x.jpg",
        bytes.len() as u64,
        1.0,
        &prefix,
        &opts,
    );
    assert_eq!(
        row.meta.as_ref().map(|m| (m.width, m.height)),
        Some((Some(640), Some(480)))
    );
}

#[wasm_bindgen_test]
async fn the_scan_worker_answers_like_the_page_and_the_page_takes_over_when_it_fails() {
    use reader::{FileReader, Head, ImageRef};
    let storage = web_sys::window().unwrap().navigator().storage();
    let root: JsValue = JsFuture::from(storage.get_directory()).await.unwrap();
    let top = dir(&root, "finsync-reader-test").await;
    let bytes = jpeg_with_trailer(3_000, 9, 100_000);
    write(&top, "a.jpg", &bytes).await;
    let handle: web_sys::FileSystemFileHandle = call(&top, "getFileHandle", &["a.jpg".into()])
        .await
        .unchecked_into();
    let src = ImageRef::Handle(handle.clone());
    let f: File = JsFuture::from(handle.get_file())
        .await
        .unwrap()
        .unchecked_into();
    let at = (f.size() as u64, f.last_modified());
    let opts = ParseOptions::default();
    for (how, r) in readers() {
        // The head of a handle's file: its first 64 KiB, size and date.
        let Head::Bytes {
            size,
            last_modified,
            bytes: head,
        } = r.head(&src, None).await
        else {
            panic!("{how}: no bytes");
        };
        assert_eq!((size, last_modified), at, "{how}");
        assert_eq!(head, bytes[..65_536], "{how}");
        // Unchanged since an earlier run: not read.
        assert_eq!(
            r.head(&src, Some(at)).await,
            Head::Kept {
                size: at.0,
                last_modified: at.1
            },
            "{how}"
        );
        assert!(matches!(
            r.head(&src, Some((at.0 + 1, at.1))).await,
            Head::Bytes { .. }
        ));
        // A further range; one asked for after the file changed is refused, naming the change.
        assert_eq!(
            r.range(&src, 65_536, 70_000, at).await.unwrap(),
            bytes[65_536..70_000]
        );
        let changed = r
            .range(&src, 65_536, 70_000, (at.0 - 1, at.1))
            .await
            .unwrap_err();
        assert!(
            changed.contains("changed during the scan"),
            "{how}: {changed}"
        );
        assert_eq!(r.uses_worker(), how == "worker", "{how}: the reader in use");
    }
    // Moved away before it was read: the file's problem names it, the same both ways.
    remove(&top, "a.jpg").await;
    let mut problems = Vec::new();
    for (how, r) in readers() {
        let Head::OpenFailed(m) = r.head(&src, None).await else {
            panic!("{how}: opened a removed file");
        };
        assert!(m.starts_with("NotFoundError"), "{how}: {m}");
        let row = scan::read_image(&r, "j", "F/a.jpg".into(), &src, &opts).await;
        assert_eq!(row.relative_path, "F/a.jpg");
        problems.push(row.error.unwrap());
    }
    assert!(
        problems[0]
            .starts_with("cannot open the file (moved or deleted during the scan?): NotFoundError"),
        "{problems:?}"
    );
    assert_eq!(problems[0], problems[1]);

    // A worker that cannot load: the requests waiting on it, and every later one, are read in
    // the page.
    let broken = FileReader::new("no-such-scan-reader.js");
    assert!(broken.uses_worker());
    let g = file("g.jpg", &bytes);
    let gs = ImageRef::File(g.clone());
    let g_at = (g.size() as u64, g.last_modified());
    let (one, two) = futures::join!(broken.head(&gs, None), broken.range(&gs, 10, 20, g_at));
    assert!(
        matches!(one, Head::Bytes { bytes: ref b, .. } if b[..] == bytes[..65_536]),
        "{one:?}"
    );
    assert_eq!(two.unwrap(), bytes[10..20]);
    assert!(!broken.uses_worker(), "the worker is given up");
    assert!(matches!(
        broken.head(&ImageRef::File(g), None).await,
        Head::Bytes { .. }
    ));
}

/// Calls `obj.method(...args)` and awaits the promise it returns.
async fn call(obj: &JsValue, method: &str, args: &[JsValue]) -> JsValue {
    let f: js_sys::Function = js_sys::Reflect::get(obj, &method.into())
        .unwrap()
        .unchecked_into();
    let a = js_sys::Array::new();
    for x in args {
        a.push(x);
    }
    let p = f.apply(obj, &a).unwrap();
    JsFuture::from(js_sys::Promise::resolve(&p)).await.unwrap()
}

fn create() -> JsValue {
    let o = js_sys::Object::new();
    js_sys::Reflect::set(&o, &"create".into(), &true.into()).unwrap();
    o.into()
}

async fn dir(parent: &JsValue, name: &str) -> JsValue {
    call(parent, "getDirectoryHandle", &[name.into(), create()]).await
}

async fn write(parent: &JsValue, name: &str, bytes: &[u8]) {
    let fh = call(parent, "getFileHandle", &[name.into(), create()]).await;
    let w = call(&fh, "createWritable", &[]).await;
    call(&w, "write", &[js_sys::Uint8Array::from(bytes).into()]).await;
    call(&w, "close", &[]).await;
}

async fn remove(parent: &JsValue, name: &str) {
    call(parent, "removeEntry", &[name.into()]).await;
}

/// A fresh OPFS folder `name` with `n` JPEGs in two sub-folders and some bad or skipped files.
async fn survey(name: &str, n: usize) -> FileSystemDirectoryHandle {
    let storage = web_sys::window().unwrap().navigator().storage();
    let root: JsValue = JsFuture::from(storage.get_directory()).await.unwrap();
    let opts = js_sys::Object::new();
    js_sys::Reflect::set(&opts, &"recursive".into(), &true.into()).unwrap();
    let _ = JsFuture::from(js_sys::Promise::resolve(
        &js_sys::Reflect::get(&root, &"removeEntry".into())
            .unwrap()
            .unchecked_into::<js_sys::Function>()
            .call2(&root, &name.into(), &opts)
            .unwrap_or(JsValue::UNDEFINED),
    ))
    .await;
    let top = dir(&root, name).await;
    let a = dir(&top, "2024-07-15_Haro").await;
    let b = dir(&dir(&top, "2024-07-16_Sooke").await, "deep").await;
    for i in 0..n {
        let parent = if i % 2 == 0 { &a } else { &b };
        write(
            parent,
            &format!("IMG_{i:04}.jpg"),
            &jpeg(32, 24, 200 + i, i as u8),
        )
        .await;
    }
    write(&a, "broken.jpg", b"<html></html>").await;
    write(&a, "empty.jpg", &[]).await;
    write(&top, "notes.txt", b"notes").await;
    write(&top, ".DS_Store", b"x").await;
    write(&dir(&top, ".git").await, "x.jpg", b"x").await;
    top.unchecked_into()
}

#[wasm_bindgen_test]
async fn scan_walks_a_folder_in_batches_and_rescan_finds_the_changes() {
    let st = fresh("finsync-test-disc-scan").await;
    let top = survey("finsync-scan-test", 250).await;
    let source = FolderSource::Handle(top.clone());
    let progress = Rc::new(Cell::new(0u32));
    let p = progress.clone();
    let first = scan::run(
        &st,
        job("scan-1", "finsync-scan-test"),
        source.clone(),
        None,
        Rc::new(Cell::new(false)),
        move |_| p.set(p.get() + 1),
    )
    .await
    .unwrap();
    assert_eq!(first.state, ScanState::Done);
    let c = &first.counts;
    assert_eq!(c.files_seen, 250 + 4, "{c:?}");
    assert_eq!((c.images, c.errors), (250, 2), "{c:?}");
    assert_eq!(
        (c.skipped_hidden, c.skipped_other, c.skipped_hidden_dirs),
        (1, 1, 1)
    );
    assert!(progress.get() >= 1);
    assert_eq!(db::job(&st, "scan-1").await.unwrap(), Some(first.clone()));
    let stored = db::job_files(&st, "scan-1").await.unwrap();
    assert_eq!(stored.len(), 252);
    assert_eq!(stored.iter().filter(|f| f.usable()).count(), 250);
    assert!(stored
        .iter()
        .any(|f| f.relative_path == "finsync-scan-test/2024-07-16_Sooke/deep/IMG_0001.jpg"));

    // Change the folder: one file edited, one removed, one added.
    let top_js: JsValue = top.clone().into();
    let a = dir(&top_js, "2024-07-15_Haro").await;
    write(&a, "IMG_0000.jpg", &jpeg(32, 24, 999, 77)).await;
    remove(&a, "IMG_0002.jpg").await;
    write(&a, "NEW.jpg", &jpeg(32, 24, 300, 5)).await;
    let second = scan::run(
        &st,
        job("scan-2", "finsync-scan-test"),
        source.clone(),
        Some(&first),
        Rc::new(Cell::new(false)),
        |_| {},
    )
    .await
    .unwrap();
    let d = second.diff.clone().unwrap();
    assert_eq!((d.new, d.changed, d.removed), (1, 1, 1), "{d:?}");
    assert_eq!(d.unchanged, 250 - 2 + 2, "{d:?}");
    assert_eq!(
        d.removed_paths,
        ["finsync-scan-test/2024-07-15_Haro/IMG_0002.jpg"]
    );

    // Cancel after the first results, then resume: the resumed job ends with every file.
    let cancel = Rc::new(Cell::new(false));
    let c2 = cancel.clone();
    let cancelled = scan::run(
        &st,
        job("scan-3", "finsync-scan-test"),
        source.clone(),
        None,
        cancel,
        move |_| c2.set(true),
    )
    .await
    .unwrap();
    assert_eq!(cancelled.state, ScanState::Cancelled);
    assert!(cancelled.counts.files_seen < 254);
    let resumed = scan::run(
        &st,
        cancelled,
        source,
        None,
        Rc::new(Cell::new(false)),
        |_| {},
    )
    .await
    .unwrap();
    assert_eq!(resumed.state, ScanState::Done);
    assert_eq!(resumed.counts.images, 250);
    assert_eq!(db::job_files(&st, "scan-3").await.unwrap().len(), 252);
}

/// A fresh OPFS folder `parent/name` holding `files` (name, JPEG seed).
async fn folder_at(parent: &str, name: &str, files: &[(&str, u8)]) -> FileSystemDirectoryHandle {
    let storage = web_sys::window().unwrap().navigator().storage();
    let root: JsValue = JsFuture::from(storage.get_directory()).await.unwrap();
    let opts = js_sys::Object::new();
    js_sys::Reflect::set(&opts, &"recursive".into(), &true.into()).unwrap();
    let _ = JsFuture::from(js_sys::Promise::resolve(
        &js_sys::Reflect::get(&root, &"removeEntry".into())
            .unwrap()
            .unchecked_into::<js_sys::Function>()
            .call2(&root, &parent.into(), &opts)
            .unwrap_or(JsValue::UNDEFINED),
    ))
    .await;
    let top = dir(&dir(&root, parent).await, name).await;
    let sub = dir(&top, "100CANON").await;
    for (file, seed) in files {
        write(&sub, file, &jpeg(32, 24, 200 + *seed as usize, *seed)).await;
    }
    top.unchecked_into()
}

#[wasm_bindgen_test]
async fn a_folder_elsewhere_with_the_same_name_is_not_a_rescan() {
    let st = fresh("finsync-test-disc-same-name").await;
    // Two cards, both "DCIM", with the same file names but other photos.
    let card_a = folder_at(
        "finsync-card-a",
        "DCIM",
        &[("IMG_0001.JPG", 1), ("IMG_0002.JPG", 2)],
    )
    .await;
    let first = scan::run(
        &st,
        job("scan-a", "DCIM"),
        FolderSource::Handle(card_a.clone()),
        None,
        Rc::new(Cell::new(false)),
        |_| {},
    )
    .await
    .unwrap();
    let card_b = folder_at(
        "finsync-card-b",
        "DCIM",
        &[("IMG_0001.JPG", 7), ("IMG_0003.JPG", 8)],
    )
    .await;
    let other = scan::run(
        &st,
        job("scan-b", "DCIM"),
        FolderSource::Handle(card_b),
        Some(&first),
        Rc::new(Cell::new(false)),
        |_| {},
    )
    .await
    .unwrap();
    assert_eq!(other.state, ScanState::Done);
    assert_eq!(other.counts.images, 2);
    assert_eq!(other.diff, None, "card B is not a re-scan of card A");
    // Both scans keep their own files under the same relative paths.
    let a = db::job_files(&st, "scan-a").await.unwrap();
    let b = db::job_files(&st, "scan-b").await.unwrap();
    let fp = |files: &[ScanFile], p: &str| {
        files
            .iter()
            .find(|f| f.relative_path == p)
            .and_then(|f| f.fingerprint.clone())
    };
    assert!(fp(&a, "DCIM/100CANON/IMG_0001.JPG").is_some());
    assert_ne!(
        fp(&a, "DCIM/100CANON/IMG_0001.JPG"),
        fp(&b, "DCIM/100CANON/IMG_0001.JPG")
    );
    // The same card again is a re-scan, with its diff.
    let again = scan::run(
        &st,
        job("scan-a2", "DCIM"),
        FolderSource::Handle(card_a),
        Some(&first),
        Rc::new(Cell::new(false)),
        |_| {},
    )
    .await
    .unwrap();
    let d = again.diff.expect("a re-scan of card A");
    assert_eq!((d.new, d.changed, d.removed, d.unchanged), (0, 0, 0, 2));
}

/// The scan's fingerprint phase: a scan leaves the fingerprints of files it did not read
/// whole to it; an approved manifest plans those images only once they have one (never
/// dropped, never keyed otherwise); the phase resumes after a closed tab where it stopped; the
/// on-demand run before a sync completes it; the keys are those `sync::plan` derives from the
/// files; a file changed since the scan is named and left without a key.
#[wasm_bindgen_test]
async fn fingerprints_come_after_the_scan_resume_and_key_the_sync_like_sync_plan() {
    let st = fresh("finsync-test-disc-fingerprints").await;
    let top = folder_at("finsync-fp-test", "FP", &[]).await;
    let top_js: JsValue = top.clone().into();
    let day = dir(&top_js, "2024-07-15_Haro").await;
    // 230 images of ~70 KB (only their start is read by the scan), 3 small ones (read whole).
    for i in 0..230usize {
        write(
            &day,
            &format!("IMG_{i:04}.jpg"),
            &jpeg_with_trailer(2_000, i as u8, 70_000 + 13 * i),
        )
        .await;
    }
    for i in 0..3u8 {
        write(
            &day,
            &format!("small_{i}.jpg"),
            &jpeg(32, 24, 3_000, 200 + i),
        )
        .await;
    }
    let source = FolderSource::Handle(top.clone());
    let scanned = scan::run(
        &st,
        job("scan-fp", "FP"),
        source.clone(),
        None,
        Rc::new(Cell::new(false)),
        |_| {},
    )
    .await
    .unwrap();
    assert_eq!(scanned.state, ScanState::Done);
    assert_eq!(scanned.counts.images, 233);
    assert_eq!(
        scanned.counts.fingerprinted,
        Some(3),
        "the small ones, read whole"
    );
    assert_eq!(scanned.counts.fingerprints_left(), 230);
    let rows = db::job_files(&st, "scan-fp").await.unwrap();
    assert!(
        rows.iter().all(|f| f.usable()),
        "usable before their fingerprint"
    );

    // Reviewed and approved on the metadata alone.
    let images: Vec<_> = rows.iter().map(|f| f.scanned_image()).collect();
    let mut h = history("m-fp", "scan-fp");
    h.save(
        1,
        ManifestEdits {
            photographers: BTreeMap::from([(
                "Jane Smith".to_string(),
                PhotographerResolution::Resolved {
                    user_id: "42".into(),
                    display: "Jane Smith".into(),
                },
            )]),
            ..ManifestEdits::default()
        },
        "t1",
    )
    .unwrap();
    h.approve(2, "t", "t", &images).unwrap();
    let mut recs = materialize(h.get(2).unwrap(), &images).unwrap();
    assert_eq!(recs.len(), 1);
    assert_eq!(recs[0].images.len(), 233);
    recs[0].license = Some(License::Public);
    recs[0].approve().unwrap();
    let mut m = stored(h, "scan-fp");
    m.folder = "FP".into();
    m.materialized_version = Some(2);
    m.materialized_job_id = Some("scan-fp".into());
    let rows: Vec<ReviewRow> = recs.into_iter().map(ReviewRow::new).collect();
    db::replace_records(&st, &m, &rows).await.unwrap();
    let before = approved_manifests(&st).await.unwrap();
    assert_eq!(before.len(), 1);
    assert_eq!(before[0].image_count, 233, "no image dropped");
    assert_eq!(before[0].encounter_count, 1);
    assert_eq!(before[0].unfingerprinted.len(), 230);
    assert_eq!(before[0].encounters[0].plan.images.len(), 3);

    // A file rewritten after the scan, before its fingerprint.
    let changed = "FP/2024-07-15_Haro/IMG_0005.jpg";
    write(&day, "IMG_0005.jpg", &jpeg_with_trailer(2_000, 99, 90_000)).await;

    // The phase runs until its first batch is stored, then the tab "closes" (the future is
    // dropped).
    let folder = access::register(source);
    let (tx, rx) = futures::channel::oneshot::channel::<u64>();
    let tx = std::cell::RefCell::new(Some(tx));
    {
        use futures::FutureExt;
        let run = fingerprints::complete(&st, "scan-fp", &folder, |j| {
            if let Some(tx) = tx.borrow_mut().take() {
                let _ = tx.send(j.counts.fingerprinted.unwrap_or(0));
            }
        })
        .fuse();
        let mut run = std::pin::pin!(run);
        let mut rx = rx.fuse();
        futures::select! {
            _ = run => panic!("the phase should not finish before the first batch is reported"),
            n = rx => assert_eq!(n.unwrap(), 3 + 199, "first page: 200 rows, one of them changed"),
        }
    }
    let interrupted = db::job(&st, "scan-fp").await.unwrap().unwrap();
    assert_eq!(interrupted.counts.fingerprinted, Some(202));
    assert_eq!(interrupted.fingerprints_ended_ms, None);

    // The sync's on-demand run finishes it (resuming: only the rest is fingerprinted).
    let progress = Rc::new(Cell::new(0u64));
    let p = progress.clone();
    let (after, problems) = complete_fingerprints(&st, &before[0], move |j| {
        p.set(j.counts.fingerprinted.unwrap_or(0))
    })
    .await
    .unwrap();
    assert_eq!(progress.get(), 232);
    assert_eq!(after.image_count, 233);
    assert_eq!(after.unfingerprinted, [changed], "the changed file only");
    assert_eq!(problems.len(), 1);
    assert!(
        problems[0].contains("IMG_0005.jpg changed since the scan"),
        "{problems:?}"
    );
    let job_now = db::job(&st, "scan-fp").await.unwrap().unwrap();
    assert_eq!(
        (
            job_now.counts.fingerprinted,
            job_now.counts.fingerprint_failed
        ),
        (Some(232), 1)
    );
    assert!(job_now.fingerprints_ended_ms.is_some());

    // Every planned key is the one sync::plan derives from the file itself.
    let e = &after.encounters[0];
    assert_eq!(e.plan.images.len(), 232);
    let identity = encounter_identity("2024-07-15", "Haro", "Jane Smith");
    for (img, src) in e.plan.images.iter().zip(&e.sources) {
        let f = folder.file(&src.relative_path).await.unwrap();
        let fp = crate::sync::plan::fingerprint(&f).await.unwrap();
        let key = idempotency_key(7, &identity, &fp);
        assert_eq!(img.idempotency_key, key, "{}", src.relative_path);
        assert_eq!(
            img.local_id,
            format!("{}#{}", src.relative_path, &key[3..15])
        );
    }
    // A second run has nothing left but the changed file.
    let again = fingerprints::complete(&st, "scan-fp", &folder, |_| {})
        .await
        .unwrap()
        .unwrap();
    assert_eq!(again.fingerprinted, 0);
    assert_eq!(again.job.counts.fingerprint_failed, 1);
}
